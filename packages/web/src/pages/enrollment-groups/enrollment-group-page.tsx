import { useEffect, useState, type FormEvent, type ReactElement } from 'react';
import { api, type EnrollmentGroup } from '../../api.ts';
import { ConfirmButton } from '../../components/confirm-button.tsx';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime, isoToLocalInput, localInputToIso } from '../../format.ts';
import { href, navigate, segment } from '../../router.ts';
import { useSession } from '../../session.ts';
import { TagChips } from '../devices/device-table.tsx';
import { closedReason, enrolledOfLimit, mechanismLabel } from './mechanism.ts';
import { ProvisionExample } from './provision-example.tsx';
import { useAction } from '../../components/use-action.ts';

/** `#/enrollment-groups/:id` */
export function EnrollmentGroupPage({ id }: { id: string }): ReactElement {
  const { can } = useSession();
  const loaded = useAsync(() => api.getEnrollmentGroup(id), [id]);
  // Edits answer with the updated group; keep that instead of refetching.
  const [group, setGroup] = useState<EnrollmentGroup | undefined>(undefined);
  useEffect(() => setGroup(loaded.data), [loaded.data]);
  const { busy, error: toggleError, run } = useAction();

  if (loaded.error) {
    return (
      <section>
        <p>
          <a href={href('/enrollment-groups')}>← Enrollment groups</a>
        </p>
        <h1>Enrollment group {id}</h1>
        <ErrorMessage error={loaded.error} />
      </section>
    );
  }
  if (!group) return <p className="muted">Loading…</p>;
  const operator = can('operator');
  const closed = closedReason(group);

  const toggle = async (): Promise<void> => {
    await run(async () => setGroup(await api.patchEnrollmentGroup(group.id, { enabled: !group.enabled })));
  };

  return (
    <section data-testid="enrollment-group-page" data-enrollment-group-id={group.id}>
      <p>
        <a href={href('/enrollment-groups')}>← Enrollment groups</a>
      </p>
      <div className="page-head">
        <h1>
          Enrollment group <code>{group.name}</code>
        </h1>
        <span className={`badge ${closed ? 'off' : 'ok'}`} data-testid="enrollment-group-state">
          {group.enabled ? (closed ? `enabled, ${closed}` : 'open') : 'disabled'}
        </span>
        <span className="badge">{mechanismLabel(group.mechanism)}</span>
      </div>

      <div className="grid-2">
        <div className="card">
          <h2>Overview</h2>
          <dl className="props">
            <dt>ID</dt>
            <dd>
              <code>{group.id}</code>
            </dd>
            <dt>Mechanism</dt>
            <dd>{mechanismLabel(group.mechanism)}</dd>
            {group.caId ? (
              <>
                <dt>CA</dt>
                <dd>{can('admin') ? <a href={href('/cas')}>{group.caId}</a> : <code>{group.caId}</code>}</dd>
              </>
            ) : null}
            <dt>Enabled</dt>
            <dd data-testid="enrollment-group-enabled">
              {group.enabled ? 'yes' : 'no'}{' '}
              {operator ? (
                <button type="button" className="link" data-testid="toggle-enrollment-group" disabled={busy} onClick={() => void toggle()}>
                  {group.enabled ? 'disable' : 'enable'}
                </button>
              ) : null}
            </dd>
            <dt>Enrolled</dt>
            <dd>
              <span data-testid="enrollment-group-enrolled" data-count={group.enrolledCount}>
                {group.enrolledCount}
              </span>{' '}
              of {group.deviceLimit ?? 'unlimited'}
            </dd>
            <dt>Expires</dt>
            <dd data-testid="enrollment-group-expires">{group.expiresAt ? formatTime(group.expiresAt) : 'never'}</dd>
            <dt>Created</dt>
            <dd>{formatTime(group.createdAt)}</dd>
            <dt>Updated</dt>
            <dd>{formatTime(group.updatedAt)}</dd>
          </dl>
          <ErrorMessage error={toggleError} />
          {operator ? <EditLimits group={group} onSaved={setGroup} /> : null}
        </div>

        <div className="card">
          <h2>What enrolled devices get</h2>
          <dl className="props">
            <dt>Credential</dt>
            <dd>{group.credentialType}</dd>
            <dt>Device type</dt>
            <dd>{group.deviceType || '—'}</dd>
            <dt>Tags</dt>
            <dd>{Object.keys(group.tags).length > 0 ? <TagChips tags={group.tags} /> : '—'}</dd>
            <dt>Groups</dt>
            <dd>
              {group.groups.length === 0 ? (
                '—'
              ) : (
                <ul className="inline-list">
                  {group.groups.map((g) => (
                    <li key={g}>
                      <a href={href(`/groups/${segment(g)}`)}>{g}</a>
                    </li>
                  ))}
                </ul>
              )}
            </dd>
          </dl>
          <h2>Initial desired state</h2>
          <pre className="json" data-testid="enrollment-group-desired">
            {JSON.stringify(group.initialDesired ?? {}, null, 2)}
          </pre>
        </div>
      </div>

      <ProvisionExample group={group} />

      {operator ? (
        <div className="card danger-zone">
          <h2>Delete</h2>
          <ConfirmButton
            testId="delete-enrollment-group"
            label="Delete enrollment group"
            question={`Delete "${group.name}"? Devices can no longer enroll through it; enrolled devices stay.`}
            confirmLabel="Delete"
            onConfirm={async () => {
              await api.deleteEnrollmentGroup(group.id);
              navigate('/enrollment-groups');
            }}
          />
        </div>
      ) : null}
    </section>
  );
}

function EditLimits({ group, onSaved }: { group: EnrollmentGroup; onSaved(group: EnrollmentGroup): void }): ReactElement {
  const [open, setOpen] = useState(false);
  const [limit, setLimit] = useState('');
  const [expires, setExpires] = useState('');
  const { busy, error, setError, run } = useAction();

  if (!open) {
    return (
      <button
        type="button"
        data-testid="edit-enrollment-limits"
        onClick={() => {
          setLimit(group.deviceLimit === null ? '' : String(group.deviceLimit));
          setExpires(isoToLocalInput(group.expiresAt));
          setError(undefined);
          setOpen(true);
        }}
      >
        Edit limit and expiry
      </button>
    );
  }
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    await run(async () => {
      onSaved(
        await api.patchEnrollmentGroup(group.id, {
          // Empty fields clear the limit / the expiry.
          deviceLimit: limit.trim() ? Number(limit) : null,
          expiresAt: localInputToIso(expires),
        }),
      );
      setOpen(false);
    });
  };
  return (
    <form className="form" onSubmit={submit} data-testid="enrollment-limits-form">
      <div className="row">
        <label className="inline">
          Device limit{' '}
          <input
            type="number"
            className="narrow"
            min={1}
            step={1}
            data-testid="enrollment-limit-input"
            value={limit}
            onChange={(e) => setLimit(e.target.value)}
            placeholder="none"
          />
        </label>
        <label className="inline">
          Expires <input type="datetime-local" data-testid="enrollment-expires-input" value={expires} onChange={(e) => setExpires(e.target.value)} />
        </label>
      </div>
      <p className="muted">Leave a field empty for no limit / no expiry. Currently {enrolledOfLimit(group)} enrolled.</p>
      <ErrorMessage error={error} />
      <div className="row">
        <button type="submit" className="primary" data-testid="enrollment-limits-save" disabled={busy}>
          Save
        </button>
        <button type="button" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
