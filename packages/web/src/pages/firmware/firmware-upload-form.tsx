import { useEffect, useRef, useState, type FormEvent, type ReactElement } from 'react';
import type { Firmware } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { formatBytes } from '../../format.ts';
import { uploadFirmware, type FirmwareUpload, type UploadProgress } from './upload-firmware.ts';

/** Images up to 2 GiB (docs/firmware.md); a bigger file is refused before a byte is sent. */
const MAX_IMAGE_BYTES = 2 * 1024 ** 3;
/** Semantic version 2.0 (semver.org), as the server checks it. */
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/** What is wrong with the form before uploading, or null. */
export function checkUpload(file: File | undefined, version: string): string | null {
  if (!file) return 'Choose the image file to upload';
  if (file.size === 0) return 'The file is empty';
  if (file.size > MAX_IMAGE_BYTES) return `The file is ${formatBytes(file.size)}; images may be at most 2 GiB`;
  if (!SEMVER.test(version.trim())) return 'Version must be a semantic version such as 1.4.0 or 2.0.0-rc.1';
  return null;
}

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
  const [formError, setFormError] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(undefined);
  const [progress, setProgress] = useState<UploadProgress | undefined>(undefined);
  const upload = useRef<FirmwareUpload | undefined>(undefined);
  // Leaving the page while an upload runs stops it rather than leaving it going unseen.
  useEffect(() => () => upload.current?.cancel(), []);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    const problem = checkUpload(file, version);
    setFormError(problem);
    setError(undefined);
    if (problem || !file) return;
    const types = deviceTypes
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean)
      .join(',');
    setProgress({ loaded: 0, total: file.size });
    const started = uploadFirmware(file, { version: version.trim(), deviceTypes: types, releaseNotes }, setProgress);
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
          Image file (at most 2 GiB)
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
