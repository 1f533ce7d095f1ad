import { useState, type FormEvent, type ReactElement } from 'react';
import { api, isApiError, type Principal } from '../../api.ts';
import { useAction } from '../../components/use-action.ts';

type Mode = 'password' | 'apiKey';

export function SignInPage({
  onSignedIn,
  notice,
}: {
  onSignedIn(principal: Principal): void;
  /** Why we are here (session expired, server unreachable), if anything. */
  notice?: string | undefined;
}): ReactElement {
  const [mode, setMode] = useState<Mode>('password');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [apiKey, setApiKey] = useState('');
  const { busy, error, run } = useAction();

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    await run(async () => {
      await api.login(mode === 'password' ? { username, password } : { apiKey: apiKey.trim() });
      // Ask who we are through the new session cookie: this also proves the cookie works.
      onSignedIn(await api.me());
    });
  };

  return (
    <div className="sign-in">
      <form className="card" onSubmit={submit} data-testid="sign-in-form">
        <h1>Sign in to Hangar</h1>
        {notice ? <p className="notice" data-testid="sign-in-notice">{notice}</p> : null}
        <div className="tabs" role="tablist">
          <button
            type="button"
            role="tab"
            aria-selected={mode === 'password'}
            className={mode === 'password' ? 'active' : ''}
            data-testid="signin-mode-password"
            onClick={() => setMode('password')}
          >
            Password
          </button>
          <button
            type="button"
            role="tab"
            aria-selected={mode === 'apiKey'}
            className={mode === 'apiKey' ? 'active' : ''}
            data-testid="signin-mode-apikey"
            onClick={() => setMode('apiKey')}
          >
            API key
          </button>
        </div>
        {mode === 'password' ? (
          <>
            <label>
              Username
              <input
                data-testid="signin-username"
                autoComplete="username"
                value={username}
                onChange={(e) => setUsername(e.target.value)}
                required
                autoFocus
              />
            </label>
            <label>
              Password
              <input
                data-testid="signin-password"
                type="password"
                autoComplete="current-password"
                value={password}
                onChange={(e) => setPassword(e.target.value)}
                required
              />
            </label>
          </>
        ) : (
          <label>
            API key
            <input
              data-testid="signin-apikey"
              type="password"
              autoComplete="off"
              value={apiKey}
              onChange={(e) => setApiKey(e.target.value)}
              required
              autoFocus
            />
          </label>
        )}
        {error ? (
          <div className="error" role="alert" data-testid="signin-error">
            {isApiError(error) ? error.message : String(error)}
          </div>
        ) : null}
        <button type="submit" className="primary" data-testid="signin-submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </div>
  );
}
