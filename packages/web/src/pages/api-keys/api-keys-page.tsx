import { useState, type FormEvent, type ReactElement } from 'react';
import { api, type ApiKey, type CreatedApiKey, type Role } from '../../api.ts';
import { ConfirmButton } from '../../components/confirm-button.tsx';
import { ErrorMessage } from '../../components/error-message.tsx';
import { Pager, useCursorStack } from '../../components/pager.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { NewTokenPanel } from './new-token-panel.tsx';
import { useAction } from '../../components/use-action.ts';

const ROLES: Role[] = ['viewer', 'operator', 'admin'];

/** `#/api-keys` (admin) */
export function ApiKeysPage(): ReactElement {
  const pager = useCursorStack('api-keys');
  const keys = useAsync(() => api.listApiKeys({ limit: 100, cursor: pager.cursor }), [pager.cursor]);
  const [created, setCreated] = useState<CreatedApiKey | undefined>(undefined);

  return (
    <section>
      <div className="page-head">
        <h1>API keys</h1>
      </div>
      {created ? <NewTokenPanel apiKey={created} onDismiss={() => setCreated(undefined)} /> : null}
      <NewApiKeyForm
        onCreated={(key) => {
          setCreated(key);
          keys.reload();
        }}
      />
      <ErrorMessage error={keys.error} />
      {keys.data ? <ApiKeyTable keys={keys.data.items} onRevoked={keys.reload} /> : null}
      {pager.page > 1 || keys.data?.nextCursor ? (
        <Pager pager={pager} nextCursor={keys.data?.nextCursor} loading={keys.loading} />
      ) : null}
    </section>
  );
}

function NewApiKeyForm({ onCreated }: { onCreated(key: CreatedApiKey): void }): ReactElement {
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const { busy, error, run } = useAction();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    await run(async () => {
      onCreated(await api.createApiKey({ name: name.trim(), role }));
      setName('');
    });
  };
  return (
    <form className="card" onSubmit={submit} data-testid="new-api-key-form">
      <h2>New API key</h2>
      <div className="row">
        <label className="inline">
          Name{' '}
          <input data-testid="new-api-key-name" value={name} onChange={(e) => setName(e.target.value)} required />
        </label>
        <label className="inline">
          Role{' '}
          <select data-testid="new-api-key-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary" data-testid="new-api-key-submit" disabled={busy}>
          Create key
        </button>
      </div>
      <ErrorMessage error={error} />
    </form>
  );
}

function ApiKeyTable({ keys, onRevoked }: { keys: ApiKey[]; onRevoked(): void }): ReactElement {
  if (keys.length === 0) return <p className="empty">No API keys.</p>;
  return (
    <table className="table" data-testid="api-keys-table">
      <thead>
        <tr>
          <th>Name</th>
          <th>Role</th>
          <th>Prefix</th>
          <th>Created</th>
          <th>Created by</th>
          <th>Last used</th>
          <th>Status</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {keys.map((k) => (
          <tr key={k.id} data-testid="api-key-row" data-api-key-name={k.name} className={k.revokedAt ? 'revoked' : ''}>
            <td>{k.name}</td>
            <td>{k.role}</td>
            <td>
              <code>{k.prefix}…</code>
            </td>
            <td className="nowrap">{formatTime(k.createdAt)}</td>
            <td>{k.createdBy ?? '—'}</td>
            <td className="nowrap">{formatTime(k.lastUsedAt)}</td>
            <td>{k.revokedAt ? `revoked ${formatTime(k.revokedAt)}` : 'active'}</td>
            <td className="actions">
              {k.revokedAt ? null : (
                <ConfirmButton
                  testId={`revoke-${k.id}`}
                  label="Revoke"
                  question={`Revoke "${k.name}"? Clients using it stop working at once.`}
                  confirmLabel="Revoke"
                  onConfirm={async () => {
                    await api.revokeApiKey(k.id);
                    onRevoked();
                  }}
                />
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
