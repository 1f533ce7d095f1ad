import { useState, type FormEvent, type ReactElement } from 'react';
import { api, type DeviceCommand, type NewCommand } from '../../../api.ts';
import { ErrorMessage } from '../../../components/error-message.tsx';
import { parseJsonObject } from '../../../format.ts';

/** The built-in diagnostics commands (docs/commands.md); any other valid name may be sent too. */
export const BUILT_IN_COMMANDS = ['ping', 'reboot', 'upload-logs', 'get-system-info', 'factory-reset'] as const;

/** Reads an optional whole-seconds field; '' means "the server's default". */
function seconds(text: string, what: string): { ok: true; value: number | undefined } | { ok: false; error: string } {
  if (!text.trim()) return { ok: true, value: undefined };
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) return { ok: false, error: `${what} must be a whole number of seconds, at least 1` };
  return { ok: true, value: n };
}

/**
 * Queues a command for the device. Params, timeout and TTL are checked here first so an obvious
 * typo is explained next to the field instead of as a 400 from the server; whatever the server
 * still refuses (a bad name, a too-large params object) is shown as it answered.
 */
export function CommandForm({ deviceId, onSent }: { deviceId: string; onSent(command: DeviceCommand): void }): ReactElement {
  const [name, setName] = useState('ping');
  const [params, setParams] = useState('');
  const [timeout, setTimeoutText] = useState('');
  const [ttl, setTtl] = useState('');
  const [formError, setFormError] = useState<string | undefined>(undefined);
  const [apiError, setApiError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState<DeviceCommand | undefined>(undefined);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setApiError(undefined);
    setSent(undefined);
    const parsed = parseJsonObject(params, 'Params');
    if (!parsed.ok) return setFormError(parsed.error);
    const timeoutSec = seconds(timeout, 'Timeout');
    if (!timeoutSec.ok) return setFormError(timeoutSec.error);
    const ttlSec = seconds(ttl, 'TTL');
    if (!ttlSec.ok) return setFormError(ttlSec.error);
    if (!name.trim()) return setFormError('Name a command to send');
    setFormError(undefined);
    const body: NewCommand = { name: name.trim(), params: parsed.value };
    if (timeoutSec.value !== undefined) body.timeoutSec = timeoutSec.value;
    if (ttlSec.value !== undefined) body.ttlSec = ttlSec.value;
    setBusy(true);
    try {
      const command = await api.sendCommand(deviceId, body);
      setSent(command);
      onSent(command);
    } catch (err) {
      setApiError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="form command-form" data-testid="command-form" onSubmit={(e) => void submit(e)}>
      <h3>Send a command</h3>
      <div className="form-grid">
        <label>
          Name
          <input data-testid="command-name" list="built-in-commands" value={name} onChange={(e) => setName(e.target.value)} spellCheck={false} required />
          <datalist id="built-in-commands">
            {BUILT_IN_COMMANDS.map((c) => (
              <option key={c} value={c} />
            ))}
          </datalist>
        </label>
        <label>
          Timeout (s)
          <input data-testid="command-timeout" inputMode="numeric" placeholder="30" value={timeout} onChange={(e) => setTimeoutText(e.target.value)} />
        </label>
        <label>
          TTL (s)
          <input data-testid="command-ttl" inputMode="numeric" placeholder="86400" value={ttl} onChange={(e) => setTtl(e.target.value)} />
        </label>
      </div>
      <div className="row built-ins">
        {BUILT_IN_COMMANDS.map((c) => (
          <button key={c} type="button" className="link" data-testid={`command-pick-${c}`} onClick={() => setName(c)}>
            {c}
          </button>
        ))}
      </div>
      <label>
        Params (JSON object)
        <textarea
          data-testid="command-params"
          className={formError?.startsWith('Params') ? 'invalid' : ''}
          rows={3}
          placeholder="{}"
          value={params}
          onChange={(e) => setParams(e.target.value)}
          spellCheck={false}
        />
      </label>
      {formError ? (
        <div className="error" role="alert" data-testid="command-form-error">
          {formError}
        </div>
      ) : null}
      <ErrorMessage error={apiError} testId="command-send-error" />
      <div className="row">
        <button type="submit" className="primary" data-testid="command-send" disabled={busy}>
          {busy ? 'Sending…' : 'Send'}
        </button>
        {sent ? (
          <span className="muted" role="status" data-testid="command-sent">
            Queued <code>{sent.name}</code> as <code>{sent.id}</code>
          </span>
        ) : null}
      </div>
    </form>
  );
}
