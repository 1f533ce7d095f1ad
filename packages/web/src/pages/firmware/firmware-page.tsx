import { useEffect, type ReactElement } from 'react';
import { api, type FirmwareDelta } from '../../api.ts';
import { ConfirmButton } from '../../components/confirm-button.tsx';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatBytes, formatTime } from '../../format.ts';
import { href, navigate, segment } from '../../router.ts';
import { useSession } from '../../session.ts';
import { BuildDeltas } from './build-deltas.tsx';

/** `#/firmware/:id`: one image, its signed manifest, the deltas built to it, and delete. */
export function FirmwarePage({ id }: { id: string }): ReactElement {
  const { can } = useSession();
  const firmware = useAsync(() => api.getFirmware(id), [id]);
  const deltas = useAsync(() => api.listFirmwareDeltas(id), [id]);
  const f = firmware.data;
  // Deltas build in the background, one at a time: look again while one is building.
  const building = deltas.data?.some((d) => d.state === 'building') ?? false;
  useEffect(() => {
    if (!building) return;
    const timer = setInterval(deltas.reload, 2_000);
    return () => clearInterval(timer);
  }, [building, deltas.reload]);

  return (
    <section data-testid="firmware-detail" data-firmware-id={id}>
      <p>
        <a href={href('/firmware')}>← Firmware</a>
      </p>
      <div className="page-head">
        <h1>Firmware {f ? <strong data-testid="firmware-detail-version">{f.version}</strong> : <code>{id}</code>}</h1>
      </div>
      <ErrorMessage error={firmware.error} />
      {!f ? (
        firmware.loading ? <p className="muted">Loading…</p> : null
      ) : (
        <>
          <div className="grid-2">
            <div className="card">
              <h2>Image</h2>
              <dl className="props">
                <dt>Id</dt>
                <dd>
                  <code>{f.id}</code>
                </dd>
                <dt>Device types</dt>
                <dd>{f.deviceTypes.length ? f.deviceTypes.join(', ') : 'any'}</dd>
                <dt>Size</dt>
                <dd>
                  {formatBytes(f.size)} <span className="muted small">({f.size.toLocaleString('en-US')} bytes)</span>
                </dd>
                <dt>SHA-256</dt>
                <dd>
                  <code className="wrap small" data-testid="firmware-sha256">
                    {f.sha256}
                  </code>
                </dd>
                <dt>Uploaded</dt>
                <dd>
                  {formatTime(f.createdAt)} by {f.createdBy}
                </dd>
              </dl>
              <h2>Release notes</h2>
              {f.releaseNotes ? (
                <p className="release-notes" data-testid="firmware-release-notes-text">
                  {f.releaseNotes}
                </p>
              ) : (
                <p className="muted">None.</p>
              )}
            </div>
            <div className="card">
              <h2>Signature</h2>
              <dl className="props">
                <dt>Signed by</dt>
                <dd>{f.signedBy === 'hangar' ? "Hangar (the tenant's key)" : 'an external key'}</dd>
                <dt>Key</dt>
                <dd>
                  <code>{f.keyId}</code>
                </dd>
                <dt>Ed25519</dt>
                <dd>
                  <code className="wrap small" data-testid="firmware-signature">
                    {f.signature}
                  </code>
                </dd>
              </dl>
              <h2>
                Manifest <span className="muted small">signed as its canonical JSON</span>
              </h2>
              <pre className="json" data-testid="firmware-manifest">
                {JSON.stringify(f.manifest, null, 2)}
              </pre>
            </div>
          </div>
          <div className="card">
            <h2>Deltas to this version</h2>
            <ErrorMessage error={deltas.error} />
            {deltas.data ? <DeltaTable deltas={deltas.data} fullSize={f.size} /> : null}
            {can('operator') ? <BuildDeltas firmware={f} onRequested={deltas.reload} /> : null}
          </div>
          {can('operator') ? (
            <div className="card danger-zone">
              <h2>Danger zone</h2>
              <div className="danger-action">
                <div>
                  <strong>Delete</strong>
                  <p className="muted">Removes the image and its deltas. A rollout that still offers it keeps the server from deleting it.</p>
                </div>
                <ConfirmButton
                  testId="firmware-delete"
                  label="Delete firmware"
                  question={`Delete firmware ${f.version} and its deltas? Devices can no longer download it.`}
                  confirmLabel="Delete"
                  onConfirm={async () => {
                    await api.deleteFirmware(f.id);
                    navigate('/firmware');
                  }}
                />
              </div>
            </div>
          ) : null}
        </>
      )}
    </section>
  );
}

/** A delta's size as a share of the full image; a few changed bytes make a delta of well under 0.1 %. */
function sharePercent(size: number, fullSize: number): string {
  const percent = (100 * size) / fullSize;
  return percent < 0.1 ? '< 0.1 %' : `${percent.toFixed(1)} %`;
}

function DeltaTable({ deltas, fullSize }: { deltas: FirmwareDelta[]; fullSize: number }): ReactElement {
  if (deltas.length === 0) {
    return (
      <p className="muted" data-testid="firmware-deltas-empty">
        None yet: a rollout builds them from the versions its devices run.
      </p>
    );
  }
  return (
    <table className="table compact" data-testid="firmware-deltas">
      <thead>
        <tr>
          <th>From version</th>
          <th>Format</th>
          <th>State</th>
          <th className="num">Size</th>
          <th className="num">Of full image</th>
          <th className="num">Build</th>
          <th>Created</th>
        </tr>
      </thead>
      <tbody>
        {deltas.map((d) => (
          <tr key={d.id} data-testid="firmware-delta-row" data-state={d.state}>
            <td>
              <a href={href(`/firmware/${segment(d.baseFirmwareId)}`)}>{d.baseVersion}</a>
            </td>
            <td>
              <code>{d.format}</code>
            </td>
            <td>
              <span className={`badge ${d.state === 'ready' ? 'ok' : d.state === 'failed' ? 'cmd-failed' : 'cmd-sent'}`}>{d.state}</span>
              {d.error ? <div className="cmd-error small">{d.error}</div> : null}
            </td>
            <td className="num">{d.size !== null ? formatBytes(d.size) : '—'}</td>
            <td className="num">{d.size !== null && fullSize > 0 ? sharePercent(d.size, fullSize) : '—'}</td>
            <td className="num">{d.buildMs !== null ? `${d.buildMs} ms` : '—'}</td>
            <td className="nowrap">{formatTime(d.createdAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
