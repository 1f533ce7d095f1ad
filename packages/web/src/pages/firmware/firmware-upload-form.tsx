import { useEffect, useRef, useState, type FormEvent, type ReactElement } from 'react';
import type { Firmware } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { formatBytes } from '../../format.ts';
import { checkUpload, NO_EXTRAS, type UploadExtras } from './upload-checks.ts';
import { uploadFirmware, type FirmwareUpload, type UploadProgress } from './upload-firmware.ts';

/**
 * Uploads one image: the file (streamed from disk), its version, the device types it may be
 * installed on and release notes, with a progress bar while the bytes go up and the server's
 * problem (a duplicate version, a bad type list) when it refuses.
 */
export function FirmwareUploadForm({ onUploaded, onCancel }: { onUploaded(firmware: Firmware): void; onCancel(): void }): ReactElement {
  const [file, setFile] = useState<File | undefined>(undefined);
  const [version, setVersion] = useState('');
  const [deviceTypes, setDeviceTypes] = useState('');
  const [releaseNotes, setReleaseNotes] = useState('');
  const [extras, setExtras] = useState<UploadExtras>(NO_EXTRAS);
  const [formError, setFormError] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [progress, setProgress] = useState<UploadProgress | undefined>(undefined);
  const upload = useRef<FirmwareUpload | undefined>(undefined);
  // Leaving the page while an upload runs stops it rather than leaving it going unseen.
  useEffect(() => () => upload.current?.cancel(), []);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const problem = checkUpload(file, version, extras);
    setFormError(problem);
    setError(undefined);
    if (problem || !file) return;
    const types = deviceTypes
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean)
      .join(',');
    setProgress({ loaded: 0, total: file.size });
    const started = uploadFirmware(
      file,
      { version: version.trim(), deviceTypes: types, releaseNotes, sha256: extras.sha256.trim(), signature: extras.signature.trim(), keyId: extras.keyId.trim(), id: extras.id.trim() },
      setProgress,
    );
    upload.current = started;
    try {
      onUploaded(await started.done);
    } catch (err) {
      setError(err);
    } finally {
      upload.current = undefined;
      setProgress(undefined);
    }
  };

  const busy = progress !== undefined;
  return (
    <form className="card form" data-testid="firmware-upload-form" onSubmit={(e) => void submit(e)}>
      <h2>Upload firmware</h2>
      <p className="muted hint-text">
        Hangar stores the image, computes its SHA-256 and signs its manifest with the tenant&apos;s signing key; devices check both before installing.
      </p>
      <fieldset disabled={busy}>
        <label>
          Image file
          <input data-testid="firmware-file" type="file" onChange={(e) => setFile(e.target.files?.[0])} />
        </label>
        {file ? <p className="muted hint">{formatBytes(file.size)}</p> : null}
        <div className="form-grid">
          <label>
            Version (semver)
            <input data-testid="firmware-version" placeholder="1.4.0" value={version} onChange={(e) => setVersion(e.target.value)} spellCheck={false} />
          </label>
          <label>
            Device types
            <input data-testid="firmware-device-types" placeholder="any; or: pump, pump-v2" value={deviceTypes} onChange={(e) => setDeviceTypes(e.target.value)} spellCheck={false} />
          </label>
        </div>
        <label>
          Release notes
          <textarea data-testid="firmware-release-notes" rows={3} value={releaseNotes} onChange={(e) => setReleaseNotes(e.target.value)} />
        </label>
        <details>
          <summary>Integrity and your own signature (optional)</summary>
          <label>
            Expected SHA-256 (the upload is refused when the bytes differ)
            <input data-testid="firmware-sha256-input" className="code-input" value={extras.sha256} onChange={(e) => setExtras({ ...extras, sha256: e.target.value })} spellCheck={false} />
          </label>
          <p className="muted hint-text">
            To sign with your own key instead of Hangar&apos;s, register its public key (API: <code>POST /api/v1/firmware/signing-keys/external</code>), sign the canonical manifest and give the signature with the image id it names.
          </p>
          <div className="form-grid">
            <label>
              Image id
              <input data-testid="firmware-id-input" value={extras.id} onChange={(e) => setExtras({ ...extras, id: e.target.value })} spellCheck={false} />
            </label>
            <label>
              Key id (if several)
              <input data-testid="firmware-key-id-input" value={extras.keyId} onChange={(e) => setExtras({ ...extras, keyId: e.target.value })} spellCheck={false} />
            </label>
          </div>
          <label>
            Ed25519 signature (base64)
            <input data-testid="firmware-signature-input" className="code-input" value={extras.signature} onChange={(e) => setExtras({ ...extras, signature: e.target.value })} spellCheck={false} />
          </label>
        </details>
      </fieldset>
      {progress ? <UploadProgressBar progress={progress} /> : null}
      {formError ? (
        <div className="error" role="alert" data-testid="firmware-upload-invalid">
          {formError}
        </div>
      ) : null}
      <ErrorMessage error={error} testId="firmware-upload-error" />
      <div className="row">
        <button type="submit" className="primary" data-testid="firmware-upload-submit" disabled={busy}>
          {busy ? 'Uploading…' : 'Upload'}
        </button>
        {busy ? (
          <button type="button" data-testid="firmware-upload-cancel" onClick={() => upload.current?.cancel()}>
            Stop upload
          </button>
        ) : (
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}

/** Bytes sent of the file; at 100 % the server is still hashing and signing. */
function UploadProgressBar({ progress }: { progress: UploadProgress }): ReactElement {
  const percent = progress.total > 0 ? Math.min(100, Math.floor((100 * progress.loaded) / progress.total)) : 0;
  return (
    <div className="upload-progress" data-testid="firmware-upload-progress" data-percent={percent}>
      <progress max={100} value={percent} aria-label="Upload progress" />
      <span className="muted small">
        {percent < 100 ? `${percent} % · ${formatBytes(progress.loaded)} of ${formatBytes(progress.total)}` : 'Sent; the server is checking and signing the image…'}
      </span>
    </div>
  );
}
