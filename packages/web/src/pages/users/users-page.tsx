import { useState, type FormEvent, type ReactElement } from 'react';
import { api, type Role, type User } from '../../api.ts';
import { ConfirmButton } from '../../components/confirm-button.tsx';
import { Dialog } from '../../components/dialog.tsx';
import { ErrorMessage } from '../../components/error-message.tsx';
import { Pager, useCursorStack } from '../../components/pager.tsx';
import { useAction } from '../../components/use-action.ts';
import { useAsync } from '../../components/use-async.ts';
import { formatTime } from '../../format.ts';
import { useSession } from '../../session.ts';

const ROLES: Role[] = ['viewer', 'operator', 'admin'];

/**
 * `#/users` (admin): the people who sign in to the dashboard with a username and password.
 * API keys (`#/api-keys`) are for programs; users are for people.
 */
export function UsersPage(): ReactElement {
  const pager = useCursorStack('users');
  const users = useAsync(() => api.listUsers({ limit: 100, cursor: pager.cursor }), [pager.cursor]);
  const [created, setCreated] = useState<User | undefined>(undefined);

  return (
    <section data-testid="users-page">
      <div className="page-head">
        <h1>Users</h1>
      </div>
      <p className="muted page-intro">
        People who sign in to the dashboard with a username and password. Changing a user’s role or password ends their
        open sessions; a disabled user can no longer sign in, and stays listed for the audit trail.
      </p>
      <NewUserForm
        onCreated={(user) => {
          setCreated(user);
          users.reload();
        }}
      />
      {created ? (
        <p className="notice" role="status" data-testid="user-created">
          Created user <strong>{created.username}</strong> ({created.role}). They can sign in now with the password you set.
        </p>
      ) : null}
      <ErrorMessage error={users.error} />
      {users.data ? <UserTable users={users.data.items} onChanged={users.reload} /> : users.loading ? <p className="muted">Loading…</p> : null}
      {pager.page > 1 || users.data?.nextCursor ? <Pager pager={pager} nextCursor={users.data?.nextCursor} loading={users.loading} /> : null}
    </section>
  );
}

function NewUserForm({ onCreated }: { onCreated(user: User): void }): ReactElement {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const { busy, error, run } = useAction();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    // The API checks the name and the password's length and says what is wrong with them.
    const ok = await run(async () => onCreated(await api.createUser({ username: username.trim(), password, role })));
    if (ok) {
      setUsername('');
      setPassword('');
    }
  };
  return (
    <form className="card" onSubmit={submit} data-testid="new-user-form" autoComplete="off">
      <h2>New user</h2>
      <div className="row">
        <label className="inline">
          Username <input data-testid="new-user-name" value={username} onChange={(e) => setUsername(e.target.value)} required autoComplete="off" />
        </label>
        <label className="inline">
          Password{' '}
          <input
            type="password"
            data-testid="new-user-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
            autoComplete="new-password"
            aria-describedby="new-user-password-hint"
          />
        </label>
        <label className="inline">
          Role{' '}
          <select data-testid="new-user-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary" data-testid="new-user-submit" disabled={busy}>
          Create user
        </button>
      </div>
      <p className="muted hint-text" id="new-user-password-hint">
        Usernames are letters, digits and <code>. _ @ + -</code>; passwords are at least 8 characters. Tell the person
        their password another way: it is not shown again.
      </p>
      <ErrorMessage error={error} testId="new-user-error" />
    </form>
  );
}

function UserTable({ users, onChanged }: { users: User[]; onChanged(): void }): ReactElement {
  if (users.length === 0) {
    return (
      <p className="empty" data-testid="users-empty">
        No users yet: the dashboard is signed in to with API keys only. Create one above.
      </p>
    );
  }
  return (
    <table className="table" data-testid="users-table">
      <thead>
        <tr>
          <th>Username</th>
          <th>Role</th>
          <th>Created</th>
          <th>Status</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {users.map((u) => (
          // Keyed by role too: a reload that brings another role starts the row's select afresh.
          <UserRow key={`${u.id}:${u.role}`} user={u} onChanged={onChanged} />
        ))}
      </tbody>
    </table>
  );
}

function UserRow({ user, onChanged }: { user: User; onChanged(): void }): ReactElement {
  const { principal } = useSession();
  const you = principal.type === 'user' && principal.id === user.id;
  const disabled = user.disabledAt !== null;
  const [role, setRole] = useState<Role>(user.role);
  const [settingPassword, setSettingPassword] = useState(false);
  const roleChange = useAction();

  const changeRole = async (next: Role): Promise<void> => {
    setRole(next);
    const ok = await roleChange.run(async () => {
      await api.updateUser(user.id, { role: next });
    });
    if (ok) onChanged();
    else setRole(user.role);
  };

  return (
    <tr data-testid="user-row" data-username={user.username} data-user-id={user.id} data-disabled={disabled} className={disabled ? 'revoked' : ''}>
      <td>
        {user.username} {you ? <span className="badge">you</span> : null}
      </td>
      <td>
        {disabled ? (
          user.role
        ) : (
          <select
            aria-label={`Role of ${user.username}`}
            data-testid="user-role"
            value={role}
            disabled={roleChange.busy}
            onChange={(e) => void changeRole(e.target.value as Role)}
          >
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        )}
        <ErrorMessage error={roleChange.error} testId="user-role-error" />
      </td>
      <td className="nowrap">{formatTime(user.createdAt)}</td>
      <td data-testid="user-status">{disabled ? `disabled ${formatTime(user.disabledAt)}` : 'active'}</td>
      <td className="actions">
        {disabled ? null : (
          <>
            <button type="button" data-testid="user-set-password" onClick={() => setSettingPassword(true)}>
              Set password
            </button>{' '}
            <ConfirmButton
              testId="user-disable"
              label="Disable"
              question={`Disable "${user.username}"? They are signed out and can no longer sign in.`}
              confirmLabel="Disable"
              onConfirm={async () => {
                await api.disableUser(user.id);
                onChanged();
              }}
            />
          </>
        )}
        {settingPassword ? <SetPasswordDialog user={user} onClose={() => setSettingPassword(false)} /> : null}
      </td>
    </tr>
  );
}

function SetPasswordDialog({ user, onClose }: { user: User; onClose(): void }): ReactElement {
  const [password, setPassword] = useState('');
  const { busy, error, run } = useAction();
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (await run(async () => void (await api.updateUser(user.id, { password })))) onClose();
  };
  return (
    <Dialog title={`Set the password of ${user.username}`} onClose={onClose} testId="set-password-dialog">
      <form className="form" onSubmit={submit}>
        <label>
          New password (at least 8 characters)
          <input type="password" data-testid="set-password-input" value={password} onChange={(e) => setPassword(e.target.value)} required autoComplete="new-password" />
        </label>
        <p className="muted">Their open sessions end: they sign in again with the new password.</p>
        <ErrorMessage error={error} testId="set-password-error" />
        <div className="row">
          <button type="submit" className="primary" data-testid="set-password-submit" disabled={busy}>
            Set password
          </button>
          <button type="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
