import { useCallback, useEffect, useMemo, useState, type ReactElement, type ReactNode } from 'react';
import { api, isApiError, onUnauthorized, type Principal } from './api.ts';
import { HeaderNav } from './header-nav.tsx';
import { SignInPage } from './pages/sign-in/sign-in-page.tsx';
import { href, navigate, useHashLocation } from './router.ts';
import { DEFAULT_PATH, NAV, resolveRoute } from './routes.tsx';
import { roleAtLeast, SessionContext, type Session } from './session.ts';

type AuthState =
  | { status: 'checking' }
  | { status: 'signed-out'; notice?: string }
  | { status: 'signed-in'; principal: Principal };

export function App(): ReactElement {
  const [auth, setAuth] = useState<AuthState>({ status: 'checking' });

  useEffect(() => {
    api.me().then(
      (principal) => setAuth({ status: 'signed-in', principal }),
      (err: unknown) =>
        setAuth(
          isApiError(err) && err.status === 401
            ? { status: 'signed-out' }
            : { status: 'signed-out', notice: `Could not check the session: ${isApiError(err) ? err.message : String(err)}` },
        ),
    );
  }, []);

  // Any 401 from an authenticated call means the session is gone: back to sign-in, keeping
  // the current hash so the user lands on the same page afterwards.
  useEffect(
    () =>
      onUnauthorized(() =>
        setAuth((prev) =>
          prev.status === 'signed-in' ? { status: 'signed-out', notice: 'Your session has ended. Please sign in again.' } : prev,
        ),
      ),
    [],
  );

  const signOut = useCallback(async (): Promise<void> => {
    try {
      await api.logout();
    } catch {
      // Already ended on the server (expired, or signed out elsewhere): nothing left to end.
    }
    setAuth({ status: 'signed-out' });
    navigate(DEFAULT_PATH);
  }, []);

  const session = useMemo<Session | null>(
    () =>
      auth.status === 'signed-in'
        ? { principal: auth.principal, can: (role) => roleAtLeast(auth.principal.role, role), signOut }
        : null,
    [auth, signOut],
  );

  if (auth.status === 'checking') return <p className="muted center">Loading…</p>;
  if (!session) {
    return (
      <SignInPage
        notice={auth.status === 'signed-out' ? auth.notice : undefined}
        onSignedIn={(principal) => setAuth({ status: 'signed-in', principal })}
      />
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <Shell session={session} />
    </SessionContext.Provider>
  );
}

function Shell({ session }: { session: Session }): ReactElement {
  const location = useHashLocation();
  useEffect(() => {
    if (location.path === '/') navigate(DEFAULT_PATH, { replace: true });
  }, [location.path]);
  const resolved = resolveRoute(location.path);
  const { principal } = session;

  let content: ReactNode;
  if (!resolved) {
    content =
      location.path === '/' ? null : (
        <section data-testid="not-found">
          <h1>Not found</h1>
          <p>
            No page at <code>{location.path}</code>. <a href={href(DEFAULT_PATH)}>Go to the fleet overview</a>.
          </p>
        </section>
      );
  } else if (resolved.route.minRole && !session.can(resolved.route.minRole)) {
    content = (
      <section data-testid="forbidden">
        <h1>Not allowed</h1>
        <p>
          This page needs the <strong>{resolved.route.minRole}</strong> role; you are signed in as{' '}
          <strong>{principal.role}</strong>.
        </p>
      </section>
    );
  } else {
    content = resolved.route.render(resolved.params, location);
  }

  return (
    <div className="shell">
      <header className="header">
        <a className="brand" href={href(DEFAULT_PATH)}>
          Hangar
        </a>
        <HeaderNav items={NAV.filter((item) => !item.minRole || session.can(item.minRole))} location={location} />
        <div className="who" data-testid="whoami">
          <span data-testid="whoami-name" title={principal.name}>{principal.name}</span>{' '}
          <span className={`badge role-${principal.role}`} data-testid="whoami-role">
            {principal.role}
          </span>{' '}
          <span className="muted">
            {principal.type === 'api_key' ? 'API key' : 'user'} · {principal.tenant}
          </span>
          {/* The OpenAPI browser the server serves beside the API (Swagger UI). */}
          <a className="docs-link" href="/docs" target="_blank" rel="noreferrer" data-testid="api-docs-link">
            API docs
          </a>
          <button type="button" data-testid="sign-out" onClick={() => void session.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main className="main">{content}</main>
    </div>
  );
}
