import { useState, type ReactElement, type ReactNode } from 'react';
import { formatTime } from '../../../format.ts';
import { href } from '../../../router.ts';
import { lwm2mApi, type DeviceObject, type OperationAnswer, type ResourceModel } from '../../lwm2m/lwm2m-api.ts';
import { displayValue, type ShownValue } from './lwm2m-values.ts';
import { AttributesForm, ExecuteForm, WriteForm } from './resource-forms.tsx';
import { OutcomeLine, type Outcome } from './operation-outcome.tsx';

export type Perform = (path: string, label: string, work: () => Promise<OperationAnswer | void>) => Promise<boolean>;

type Form = { path: string; kind: 'write' | 'execute' | 'attributes' };

interface TreeProps {
  deviceId: string;
  objects: DeviceObject[];
  values: Map<string, ShownValue>;
  observed: Set<string>;
  operator: boolean;
  outcome: Outcome | undefined;
  perform: Perform;
  onObservationsChanged(): void;
}

/**
 * Device (3) and application objects (IPSO sensors, actuators, uploaded models) open at first;
 * the management objects below 3200 (Security, Server, Firmware Update, Connectivity…) hold
 * many settings an operator rarely reads, and stay closed until clicked.
 */
function openAtFirst(objectId: number): boolean {
  return objectId === 3 || objectId >= 3200;
}

/** Objects → instances → resources, as the device announced them and the registry names them. */
export function ObjectTree(props: TreeProps): ReactElement {
  const [form, setForm] = useState<Form | undefined>(undefined);
  if (props.objects.length === 0) return <p className="muted">The registration lists no objects.</p>;
  return (
    <div className="lwm2m-tree" data-testid="lwm2m-tree">
      {props.objects.map((o) => (
        <ObjectNode key={o.id} object={o} tree={props} form={form} setForm={setForm} />
      ))}
    </div>
  );
}

interface NodeProps {
  tree: TreeProps;
  form: Form | undefined;
  setForm(form: Form | undefined): void;
}

function ObjectNode({ object, tree, form, setForm }: NodeProps & { object: DeviceObject }): ReactElement {
  const path = `/${object.id}`;
  return (
    <details className="lwm2m-object" open={openAtFirst(object.id)} data-testid="lwm2m-object" data-object={object.id}>
      <summary>
        <code>{path}</code> <strong>{object.name ?? 'unknown object'}</strong>
        {object.version ? <span className="muted small"> v{object.version}</span> : null}
        <span className="muted small">
          {' '}
          · {object.instances.length} instance{object.instances.length === 1 ? '' : 's'}
        </span>
      </summary>
      <div className="lwm2m-object-body">
        <PathActions path={path} tree={tree} observable />
        <OutcomeLine path={path} outcome={tree.outcome} />
        {object.name === null ? (
          <p className="muted small">
            Not in this tenant’s registry: upload its DDF on the <a href={href('/lwm2m')}>LwM2M page</a> to name its resources.
          </p>
        ) : null}
        {object.instances.map((i) => (
          <InstanceNode key={i} object={object} instanceId={i} tree={tree} form={form} setForm={setForm} />
        ))}
      </div>
    </details>
  );
}

function InstanceNode({ object, instanceId, tree, form, setForm }: NodeProps & { object: DeviceObject; instanceId: number }): ReactElement {
  const path = `/${object.id}/${instanceId}`;
  const known = new Set(object.resources.map((r) => r.id));
  // Values the registry has no model for (an unknown object) still show, by id.
  const extra: ResourceModel[] = [...tree.values.keys()]
    .filter((p) => p.startsWith(`${path}/`))
    .map((p) => Number(p.slice(path.length + 1)))
    .filter((id) => !known.has(id))
    .map((id) => ({ id, name: '—', operations: '', type: '', multiple: false }));
  const resources = [...object.resources, ...extra].sort((a, b) => a.id - b.id);
  return (
    <div className="lwm2m-instance" data-testid="lwm2m-instance" data-path={path}>
      <div className="row">
        <h3>
          <code>{path}</code>
        </h3>
        <PathActions path={path} tree={tree} observable />
      </div>
      <OutcomeLine path={path} outcome={tree.outcome} />
      <div className="table-wrap">
        <table className="table compact lwm2m-resources">
          <thead>
            <tr>
              <th className="num">ID</th>
              <th>Resource</th>
              <th>Ops</th>
              <th>Type</th>
              <th>Value</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {resources.map((r) => (
              <ResourceRow key={r.id} path={`${path}/${r.id}`} resource={r} tree={tree} form={form} setForm={setForm} />
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function ResourceRow({ path, resource, tree, form, setForm }: NodeProps & { path: string; resource: ResourceModel }): ReactElement {
  const shown = tree.values.get(path);
  const ops = resource.operations;
  const open = form?.path === path ? form.kind : undefined;
  const toggle = (kind: Form['kind']): void => setForm(open === kind ? undefined : { path, kind });
  const observed = tree.observed.has(path);
  let below: ReactNode = null;
  if (open === 'write')
    below = (
      <WriteForm
        resource={resource}
        current={shown?.value}
        onCancel={() => setForm(undefined)}
        onSubmit={async (value) => {
          const ok = await tree.perform(path, 'Write', async () => {
            const answer = await lwm2mApi.write(tree.deviceId, path, value);
            // The device took it: show the written value (the reported twin follows).
            return answer.status === 'completed' ? { ...answer, values: answer.values ?? [{ path, type: resource.type, value }] } : answer;
          });
          if (ok) setForm(undefined);
        }}
        outcome={tree.outcome?.path === path ? tree.outcome : undefined}
      />
    );
  else if (open === 'execute')
    below = (
      <ExecuteForm
        onCancel={() => setForm(undefined)}
        onSubmit={async (args) => {
          if (await tree.perform(path, 'Execute', () => lwm2mApi.execute(tree.deviceId, path, args))) setForm(undefined);
        }}
        outcome={tree.outcome?.path === path ? tree.outcome : undefined}
      />
    );
  else if (open === 'attributes')
    below = (
      <AttributesForm
        onCancel={() => setForm(undefined)}
        onSubmit={async (attributes) => {
          if (await tree.perform(path, 'Write-Attributes', () => lwm2mApi.writeAttributes(tree.deviceId, path, attributes))) setForm(undefined);
        }}
        outcome={tree.outcome?.path === path ? tree.outcome : undefined}
      />
    );
  return (
    <>
      <tr data-testid="lwm2m-resource" data-path={path} data-observed={String(observed)}>
        <td className="num">{resource.id}</td>
        <td>
          {resource.name}
          {resource.multiple ? <span className="muted small"> (multiple)</span> : null}
          {observed ? (
            <>
              {' '}
              <span className="badge ok" data-testid="lwm2m-observed">
                observed
              </span>
            </>
          ) : null}
        </td>
        <td>
          <code className="small">{ops || '—'}</code>
        </td>
        <td className="small nowrap">{resource.type || '—'}</td>
        <td data-testid="lwm2m-value" data-value={shown ? displayValue(shown.value) : ''} title={shown ? `as of ${formatTime(new Date(shown.at).toISOString())}` : 'not read yet'}>
          {shown ? (
            <>
              <span className="lwm2m-value">{displayValue(shown.value)}</span>
              {resource.units ? <span className="muted small"> {resource.units}</span> : null}
              {resource.type === 'Time' && typeof shown.value === 'number' ? <span className="muted small"> ({formatTime(new Date(shown.value * 1000).toISOString())})</span> : null}
            </>
          ) : (
            <span className="muted">—</span>
          )}
        </td>
        <td className="nowrap lwm2m-actions">
          {ops.includes('R') ? (
            <button type="button" className="link" data-testid="lwm2m-read" onClick={() => void tree.perform(path, 'Read', () => lwm2mApi.read(tree.deviceId, path))}>
              read
            </button>
          ) : null}
          {tree.operator && ops.includes('W') ? (
            <button type="button" className="link" data-testid="lwm2m-write" onClick={() => toggle('write')}>
              write
            </button>
          ) : null}
          {tree.operator && ops.includes('E') ? (
            <button type="button" className="link" data-testid="lwm2m-execute" onClick={() => toggle('execute')}>
              execute
            </button>
          ) : null}
          {tree.operator && ops.includes('R') ? <ObserveButton path={path} tree={tree} /> : null}
          {tree.operator && ops.includes('R') ? (
            <button type="button" className="link" data-testid="lwm2m-attributes" title="Notification attributes: pmin, pmax, gt, lt, st" onClick={() => toggle('attributes')}>
              attributes
            </button>
          ) : null}
        </td>
      </tr>
      {below ? (
        <tr className="lwm2m-form-row">
          <td colSpan={6}>{below}</td>
        </tr>
      ) : tree.outcome?.path === path ? (
        <tr className="lwm2m-form-row">
          <td colSpan={6}>
            <OutcomeLine path={path} outcome={tree.outcome} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

/** Read, Discover and Observe of an object or an instance. */
function PathActions({ path, tree, observable }: { path: string; tree: TreeProps; observable: boolean }): ReactElement {
  return (
    <span className="row lwm2m-path-actions">
      <button type="button" className="small" data-testid="lwm2m-read" onClick={() => void tree.perform(path, 'Read', () => lwm2mApi.read(tree.deviceId, path))}>
        Read
      </button>
      <button type="button" className="small" data-testid="lwm2m-discover" onClick={() => void tree.perform(path, 'Discover', () => lwm2mApi.discover(tree.deviceId, path))}>
        Discover
      </button>
      {tree.operator && observable ? <ObserveButton path={path} tree={tree} asButton /> : null}
    </span>
  );
}

function ObserveButton({ path, tree, asButton = false }: { path: string; tree: TreeProps; asButton?: boolean }): ReactElement {
  const observed = tree.observed.has(path);
  const className = asButton ? 'small' : 'link';
  if (observed) {
    return (
      <button
        type="button"
        className={className}
        data-testid="lwm2m-cancel-observe"
        onClick={() =>
          void tree.perform(path, 'Cancel observation', async () => {
            await lwm2mApi.cancelObserve(tree.deviceId, path);
            tree.onObservationsChanged();
          })
        }
      >
        {asButton ? 'Cancel observation' : 'stop observing'}
      </button>
    );
  }
  return (
    <button
      type="button"
      className={className}
      data-testid="lwm2m-observe"
      onClick={() =>
        void tree.perform(path, 'Observe', async () => {
          const answer = await lwm2mApi.observe(tree.deviceId, path);
          tree.onObservationsChanged();
          return answer;
        })
      }
    >
      {asButton ? 'Observe' : 'observe'}
    </button>
  );
}
