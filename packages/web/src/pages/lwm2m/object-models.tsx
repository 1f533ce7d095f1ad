import { useState, type FormEvent, type ReactElement } from 'react';
import type { Lwm2mObjectModelView } from '../../api.ts';
import { ConfirmButton } from '../../components/confirm-button.tsx';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAction } from '../../components/use-action.ts';
import { useAsync } from '../../components/use-async.ts';
import { formatBytes } from '../../format.ts';
import { lwm2mApi } from './lwm2m-api.ts';

/** The server's limit on one DDF upload (docs/lwm2m.md, "REST"). */
const MAX_DDF_BYTES = 512 * 1024;

/** The tenant's object registry: the built-in OMA/IPSO models and uploaded DDF files. */
export function ObjectModels({ operator }: { operator: boolean }): ReactElement {
  const list = useAsync(() => lwm2mApi.listObjects(), []);
  const [filter, setFilter] = useState('');
  const items = (list.data ?? []).filter((m) => matches(m, filter));
  return (
    <div data-testid="object-models">
      <p className="muted">
        Names, types and operations of the objects devices announce: the device page’s object tree and the type checks of every write come from here. Upload an OMA DDF
        (XML) file to add objects Hangar does not ship.
      </p>
      {operator ? <DdfUpload onUploaded={list.reload} /> : null}
      <div className="toolbar">
        <input className="filter" data-testid="object-models-filter" placeholder="Filter by id or name" value={filter} onChange={(e) => setFilter(e.target.value)} />
        <span className="muted small">{list.data ? `${items.length} of ${list.data.length} objects` : ''}</span>
      </div>
      <ErrorMessage error={list.error} testId="object-models-error" />
      {!list.data ? (
        list.loading ? <p className="muted">Loading…</p> : null
      ) : (
        <div className="table-wrap">
          <table className="table" data-testid="object-models-table">
            <thead>
              <tr>
                <th className="num">ID</th>
                <th>Name</th>
                <th>Version</th>
                <th>Source</th>
                <th>Instances</th>
                <th>Resources</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {items.map((m) => (
                <ModelRow key={`${m.id}@${m.version}`} model={m} operator={operator} onDeleted={list.reload} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function matches(m: Lwm2mObjectModelView, filter: string): boolean {
  const f = filter.trim().toLowerCase();
  return f === '' || String(m.id) === f || m.name.toLowerCase().includes(f);
}

function ModelRow({ model: m, operator, onDeleted }: { model: Lwm2mObjectModelView; operator: boolean; onDeleted(): void }): ReactElement {
  return (
    <tr data-testid="object-model-row" data-object-id={m.id} data-version={m.version} data-source={m.source}>
      <td className="num">{m.id}</td>
      <td>
        <strong>{m.name}</strong>
        {m.description ? <div className="muted small object-model-description">{m.description}</div> : null}
      </td>
      <td>{m.version}</td>
      <td>
        <span className={`badge ${m.source === 'uploaded' ? 'role-operator' : ''}`}>{m.source}</span>
      </td>
      <td className="small">
        {m.multiple ? 'multiple' : 'single'}
        {m.mandatory ? ', mandatory' : ''}
      </td>
      <td>
        <details>
          <summary>{m.resources.length} resources</summary>
          <table className="table compact">
            <tbody>
              {m.resources.map((r) => (
                <tr key={r.id}>
                  <td className="num">{r.id}</td>
                  <td>{r.name}</td>
                  <td>
                    <code className="small">{r.operations || '—'}</code>
                  </td>
                  <td className="small nowrap">
                    {r.type}
                    {r.multiple ? ' [ ]' : ''}
                  </td>
                  <td className="small muted">{r.units ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      </td>
      <td>
        {operator && m.source === 'uploaded' ? (
          <ConfirmButton
            testId="object-model-delete"
            label="Remove"
            question={`Remove uploaded object ${m.id} v${m.version}? Devices that announce it lose its names.`}
            confirmLabel="Remove"
            onConfirm={async () => {
              await lwm2mApi.deleteObject(m.id, m.version);
              onDeleted();
            }}
          />
        ) : null}
      </td>
    </tr>
  );
}

/** Upload one DDF file; the server refuses the whole file, naming the fault, if any object in it is malformed. */
function DdfUpload({ onUploaded }: { onUploaded(): void }): ReactElement {
  const [file, setFile] = useState<File | undefined>(undefined);
  const [added, setAdded] = useState<string | undefined>(undefined);
  const { busy, error, setError, run } = useAction();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setAdded(undefined);
    if (!file) {
      setError(new Error('Choose a DDF file (.xml) first.'));
      return;
    }
    if (file.size > MAX_DDF_BYTES) {
      setError(new Error(`${file.name} is ${formatBytes(file.size)}; a DDF upload may be at most ${formatBytes(MAX_DDF_BYTES)}.`));
      return;
    }
    await run(async () => {
      const answer = await lwm2mApi.uploadObjects(await file.text());
      setAdded(`Added ${answer.items.map((o) => `${o.id} ${o.name} v${o.version}`).join(', ')} from ${file.name}.`);
      onUploaded();
    });
  };
  return (
    <form className="card inline-form ddf-upload" data-testid="ddf-upload-form" onSubmit={(e) => void submit(e)}>
      <label>
        DDF file{' '}
        <input
          type="file"
          accept=".xml,application/xml,text/xml"
          data-testid="ddf-file"
          onChange={(e) => {
            setFile(e.target.files?.[0]);
            setAdded(undefined);
            setError(undefined);
          }}
        />
      </label>{' '}
      <button type="submit" className="primary" disabled={busy} data-testid="ddf-upload-submit">
        {busy ? 'Uploading…' : 'Upload'}
      </button>
      {added ? (
        <p className="notice" role="status" data-testid="ddf-uploaded">
          {added}
        </p>
      ) : null}
      <ErrorMessage error={error} testId="ddf-error" />
    </form>
  );
}
