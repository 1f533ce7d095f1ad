import { useState, type ReactElement } from 'react';
import { api } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { DEFAULT_PAGE_SIZE, Pager, PageSizeSelect, parsePageSize, useCursorStack } from '../../components/pager.tsx';
import { isQueryError } from '../../components/query-error.tsx';
import { useAsync } from '../../components/use-async.ts';
import { href, navigate, type HashLocation } from '../../router.ts';
import { useSession } from '../../session.ts';
import { DeviceTable } from './device-table.tsx';
import { FleetQueryBox } from './fleet-query-box.tsx';
import { NewDeviceForm } from './new-device-form.tsx';

/** `#/devices?q=<fleet query>&limit=<page size>`: query and page size live in the URL. */
export function DevicesPage({ location }: { location: HashLocation }): ReactElement {
  const { can } = useSession();
  const q = location.query.get('q') ?? '';
  const limit = parsePageSize(location.query.get('limit'));
  const pager = useCursorStack(`${q}\u0000${limit}`);
  const devices = useAsync(() => api.listDevices({ q: q || undefined, limit, cursor: pager.cursor }), [q, limit, pager.cursor]);
  const [creating, setCreating] = useState(false);

  const go = (next: { q: string; limit: number }): void => {
    if (next.q === q && next.limit === limit) {
      devices.reload();
      return;
    }
    navigate(href('/devices', { q: next.q, limit: next.limit === DEFAULT_PAGE_SIZE ? undefined : next.limit }));
  };
  const queryError = isQueryError(devices.error) ? devices.error : null;

  return (
    <section>
      <div className="page-head">
        <h1>Devices</h1>
        {can('operator') && !creating ? (
          <button type="button" className="primary" data-testid="new-device-button" onClick={() => setCreating(true)}>
            New device
          </button>
        ) : null}
      </div>
      {creating ? <NewDeviceForm onCancel={() => setCreating(false)} /> : null}
      {/* Keyed by the submitted query so the box shows it after back/forward navigation. */}
      <FleetQueryBox key={q} submitted={q} error={queryError} onSubmit={(next) => go({ q: next, limit })} />
      {queryError ? null : <ErrorMessage error={devices.error} />}
      <div className="toolbar">
        <PageSizeSelect value={limit} onChange={(size) => go({ q, limit: size })} />
        <Pager pager={pager} nextCursor={devices.data?.nextCursor} loading={devices.loading} />
      </div>
      {devices.data ? <DeviceTable devices={devices.data.items} /> : devices.loading ? <p className="muted">Loading…</p> : null}
    </section>
  );
}
