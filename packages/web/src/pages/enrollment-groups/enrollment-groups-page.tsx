import { useState, type ReactElement } from 'react';
import { api, type CreatedEnrollmentGroup } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { href, segment } from '../../router.ts';
import { useSession } from '../../session.ts';
import { EnrollmentSecretPanel } from './enrollment-secret-panel.tsx';
import { closedReason, enrolledOfLimit, mechanismLabel } from './mechanism.ts';
import { NewEnrollmentGroupForm } from './new-enrollment-group-form.tsx';

/** `#/enrollment-groups` */
export function EnrollmentGroupsPage(): ReactElement {
  const { can } = useSession();
  const groups = useAsync(() => api.listEnrollmentGroups(), []);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<CreatedEnrollmentGroup | undefined>(undefined);

  return (
    <section>
      <div className="page-head">
        <h1>Enrollment groups</h1>
        {can('operator') && !creating ? (
          <button type="button" className="primary" data-testid="new-enrollment-group-button" onClick={() => setCreating(true)}>
            New enrollment group
          </button>
        ) : null}
      </div>
      <p className="muted">
        An enrollment group lets devices register themselves (<code>POST /device/v1/provision</code>) and receive their own credential.
      </p>
      {created ? <EnrollmentSecretPanel group={created} onDismiss={() => setCreated(undefined)} /> : null}
      {creating ? (
        <NewEnrollmentGroupForm
          onCancel={() => setCreating(false)}
          onCreated={(g) => {
            setCreating(false);
            setCreated(g);
            groups.reload();
          }}
        />
      ) : null}
      <ErrorMessage error={groups.error} />
      {groups.data ? (
        groups.data.items.length === 0 ? (
          <p className="empty">No enrollment groups yet.</p>
        ) : (
          <table className="table" data-testid="enrollment-groups-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Mechanism</th>
                <th>Enabled</th>
                <th>Credential</th>
                <th className="num">Enrolled / limit</th>
                <th>Expires</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {groups.data.items.map((g) => {
                const closed = closedReason(g);
                return (
                  <tr key={g.id} data-testid="enrollment-group-row" data-enrollment-group-id={g.id} data-name={g.name}>
                    <td>
                      <a href={href(`/enrollment-groups/${segment(g.id)}`)}>{g.name}</a> <span className="muted">{g.id}</span>
                    </td>
                    <td>{mechanismLabel(g.mechanism)}</td>
                    <td>
                      <span className={`badge ${closed ? 'off' : 'ok'}`}>{g.enabled ? (closed ? `enabled (${closed})` : 'enabled') : 'disabled'}</span>
                    </td>
                    <td>{g.credentialType}</td>
                    <td className="num" data-testid="enrollment-group-count">
                      {enrolledOfLimit(g)}
                    </td>
                    <td className="nowrap">{g.expiresAt ? formatTime(g.expiresAt) : 'never'}</td>
                    <td className="nowrap">{formatTime(g.createdAt)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )
      ) : groups.loading ? (
        <p className="muted">Loading…</p>
      ) : null}
    </section>
  );
}
