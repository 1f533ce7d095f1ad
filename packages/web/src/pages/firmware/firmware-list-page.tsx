import { useState, type ReactElement } from 'react';
import { api, type Firmware } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { LiveBadge } from '../../components/live-badge.tsx';
import { Pager, useCursorStack } from '../../components/pager.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatBytes, formatTime, shortHex } from '../../format.ts';
import { useEventStream, useLiveEvent, useThrottled } from '../../live-events.ts';
import { href, segment } from '../../router.ts';
import { useSession } from '../../session.ts';
import { FirmwareUploadForm } from './firmware-upload-form.tsx';
import { SigningKeys } from './signing-keys.tsx';

const PAGE_SIZE = 25;

/** `#/firmware`: the tenant's images, newest first; operators upload new ones. */
export function FirmwareListPage(): ReactElement {
  const { can } = useSession();
  const pager = useCursorStack('firmware');
  const page = useAsync(() => api.listFirmware({ limit: PAGE_SIZE, cursor: pager.cursor }), [pager.cursor]);
  const [uploading, setUploading] = useState(false);
  const [uploaded, setUploaded] = useState<Firmware | undefined>(undefined);
  // Another operator's upload (or the CLI's) shows up without a reload.
  const stream = useEventStream({ types: ['firmware.*'] });
  const reloadSoon = useThrottled(page.reload, 1_000);
  useLiveEvent(stream, ['firmware.*'], reloadSoon);

  const items = page.data?.items ?? [];
  return (
    <section data-testid="firmware-page">
      <div className="page-head">
        <h1>Firmware</h1>
        <LiveBadge status={stream.status} />
        {can('operator') && !uploading ? (
          <button
            type="button"
            className="primary primary-link"
            data-testid="firmware-upload-button"
            onClick={() => {
              setUploaded(undefined);
              setUploading(true);
            }}
          >
            Upload firmware
          </button>
        ) : null}
      </div>
      <p className="muted page-intro">Signed firmware images that rollouts offer to devices. Delta images from earlier versions are built when a rollout needs them.</p>
      {uploaded ? (
        <p className="notice" role="status" data-testid="firmware-uploaded">
          Uploaded <strong>{uploaded.version}</strong> ({formatBytes(uploaded.size)}), signed.{' '}
          <a href={href(`/firmware/${segment(uploaded.id)}`)}>Open it →</a>
        </p>
      ) : null}
      {uploading ? (
        <FirmwareUploadForm
          onCancel={() => setUploading(false)}
          onUploaded={(f) => {
            setUploading(false);
            setUploaded(f);
            page.reload();
          }}
        />
      ) : null}
      <ErrorMessage error={page.error} testId="firmware-list-error" />
      {!page.data ? (
        page.loading ? <p className="muted">Loading…</p> : null
      ) : items.length === 0 && pager.page === 1 ? (
        <p className="muted" data-testid="firmware-empty">
          No firmware uploaded yet.
        </p>
      ) : (
        <>
          <FirmwareTable items={items} />
          <Pager pager={pager} nextCursor={page.data.nextCursor} />
        </>
      )}
      <SigningKeys />
    </section>
  );
}

function FirmwareTable({ items }: { items: Firmware[] }): ReactElement {
  return (
    <div className="table-wrap">
      <table className="table" data-testid="firmware-table">
        <thead>
          <tr>
            <th>Version</th>
            <th>Device types</th>
            <th className="num">Size</th>
            <th>SHA-256</th>
            <th>Signed by</th>
            <th>Uploaded</th>
          </tr>
        </thead>
        <tbody>
          {items.map((f) => (
            <tr key={f.id} data-testid="firmware-row" data-firmware-id={f.id} data-version={f.version}>
              <td>
                <a href={href(`/firmware/${segment(f.id)}`)} data-testid="firmware-link">
                  <strong>{f.version}</strong>
                </a>
              </td>
              <td>{f.deviceTypes.length ? f.deviceTypes.join(', ') : <span className="muted">any</span>}</td>
              <td className="num nowrap">{formatBytes(f.size)}</td>
              <td>
                <code className="small" title={f.sha256}>
                  {shortHex(f.sha256, 12)}
                </code>
              </td>
              <td>
                {f.signedBy === 'hangar' ? 'Hangar' : 'external'} <code className="small muted">{f.keyId}</code>
              </td>
              <td className="nowrap">
                {formatTime(f.createdAt)} <span className="muted small">by {f.createdBy}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
