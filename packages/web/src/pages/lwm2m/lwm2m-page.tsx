import type { ReactElement } from 'react';
import { href, navigate, type HashLocation } from '../../router.ts';
import { useSession } from '../../session.ts';
import { BootstrapConfigs } from './bootstrap-configs.tsx';
import { ObjectModels } from './object-models.tsx';

const TABS = [
  { id: 'bootstrap', label: 'Bootstrap configurations' },
  { id: 'objects', label: 'Object models' },
] as const;

/** `#/lwm2m?tab=`: the tenant-wide LwM2M settings (a device's own LwM2M side is on its page). */
export function Lwm2mPage({ location }: { location: HashLocation }): ReactElement {
  const { can } = useSession();
  const tab = location.query.get('tab') === 'objects' ? 'objects' : 'bootstrap';
  return (
    <section data-testid="lwm2m-page" data-tab={tab}>
      <div className="page-head">
        <h1>LwM2M</h1>
      </div>
      <div className="tabs config-tabs" role="tablist">
        {TABS.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            aria-selected={t.id === tab}
            className={t.id === tab ? 'active' : ''}
            data-testid={`lwm2m-tab-${t.id}`}
            onClick={() => navigate(href('/lwm2m', { tab: t.id }))}
          >
            {t.label}
          </button>
        ))}
      </div>
      {tab === 'objects' ? <ObjectModels operator={can('operator')} /> : <BootstrapConfigs operator={can('operator')} />}
    </section>
  );
}
