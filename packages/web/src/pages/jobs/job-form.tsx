import { useEffect, useState, type FormEvent, type ReactElement } from 'react';
import { api, isApiError, type ApiError, type Job, type NewJob } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { isQueryError, QueryError } from '../../components/query-error.tsx';
import { parseJsonObject } from '../../format.ts';
import { BUILT_IN_COMMANDS } from '../devices/commands/command-form.tsx';

/** How long typing pauses before the match count is asked for. */
const COUNT_DELAY_MS = 300;

type Match = { query: string; count: number } | { query: string; error: ApiError } | undefined;

/** Devices the query matches now, as the job will see them (decommissioned ones are left out). */
function useMatchCount(query: string): Match {
  const [match, setMatch] = useState<Match>(undefined);
  useEffect(() => {
    const q = query.trim();
    if (!q) {
      setMatch(undefined);
      return;
    }
    let stale = false;
    const timer = setTimeout(() => {
      api.fleetStats({ q, firmwareTop: 1 }).then(
        (stats) => {
          if (!stale) setMatch({ query: q, count: stats.total - (stats.byStatus['decommissioned'] ?? 0) });
        },
        (err: unknown) => {
          if (!stale && isApiError(err)) setMatch({ query: q, error: err });
        },
      );
    }, COUNT_DELAY_MS);
    return () => {
      stale = true;
      clearTimeout(timer);
    };
  }, [query]);
  return match;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** An optional whole number in [min, max]; '' = the server's default. */
function optionalInt(text: string, what: string, min: number, max: number): Parsed<number | undefined> {
  if (!text.trim()) return { ok: true, value: undefined };
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) return { ok: false, error: `${what} must be a whole number from ${min} to ${max}` };
  return { ok: true, value: n };
}

function optionalPercent(text: string): Parsed<number | undefined> {
  if (!text.trim()) return { ok: true, value: undefined };
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || n > 100) return { ok: false, error: 'Abort failed % must be a number above 0 and at most 100' };
  return { ok: true, value: n };
}

/**
 * A new bulk job: the fleet query (with a live count of the devices it matches now, and the
 * parser's message under it), the command, and the pacing and abort settings.
 */
export function JobForm({ onCreated, onCancel }: { onCreated(job: Job): void; onCancel(): void }): ReactElement {
  const [query, setQuery] = useState('');
  const [name, setName] = useState('ping');
  const [params, setParams] = useState('');
  const [timeout, setTimeoutText] = useState('');
  const [ttl, setTtl] = useState('');
  const [rate, setRate] = useState('');
  const [concurrency, setConcurrency] = useState('');
  const [failedCount, setFailedCount] = useState('');
  const [failedPercent, setFailedPercent] = useState('');
  const [minCompleted, setMinCompleted] = useState('');
  const [formError, setFormError] = useState<string | undefined>(undefined);
  const [apiError, setApiError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const match = useMatchCount(query);
  const queryError = match && 'error' in match && isQueryError(match.error) ? match.error : undefined;

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setApiError(undefined);
    if (!query.trim()) return setFormError('Give a fleet query (id ~ "*" selects every device)');
    if (!name.trim()) return setFormError('Name the command to send');
    const parsedParams = parseJsonObject(params, 'Params');
    if (!parsedParams.ok) return setFormError(parsedParams.error);
    const fields = [
      ['timeoutSec', optionalInt(timeout, 'Timeout', 1, 86_400)],
      ['ttlSec', optionalInt(ttl, 'TTL', 1, 30 * 86_400)],
      ['ratePerMinute', optionalInt(rate, 'Rate per minute', 1, 60_000)],
      ['maxConcurrency', optionalInt(concurrency, 'Max concurrency', 1, 10_000)],
      ['failedCount', optionalInt(failedCount, 'Abort failed count', 1, 100_000)],
      ['failedPercent', optionalPercent(failedPercent)],
      ['minCompleted', optionalInt(minCompleted, 'Abort min completed', 1, 100_000)],
    ] as const;
    const values: Record<string, number | undefined> = {};
    for (const [key, parsed] of fields) {
      if (!parsed.ok) return setFormError(parsed.error);
      values[key] = parsed.value;
    }
    setFormError(undefined);
    const body: NewJob = { query: query.trim(), command: { name: name.trim(), params: parsedParams.value } };
    if (values['timeoutSec'] !== undefined) body.command.timeoutSec = values['timeoutSec'];
    if (values['ttlSec'] !== undefined) body.command.ttlSec = values['ttlSec'];
    if (values['ratePerMinute'] !== undefined) body.ratePerMinute = values['ratePerMinute'];
    if (values['maxConcurrency'] !== undefined) body.maxConcurrency = values['maxConcurrency'];
    const abort = Object.fromEntries(['failedCount', 'failedPercent', 'minCompleted'].filter((k) => values[k] !== undefined).map((k) => [k, values[k]]));
    if (Object.keys(abort).length > 0) body.abortThreshold = abort;
    setBusy(true);
    try {
      onCreated(await api.createJob(body));
    } catch (err) {
      setApiError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card form" data-testid="job-form" onSubmit={(e) => void submit(e)}>
      <h2>New bulk job</h2>
      <label>
        Fleet query (evaluated once, when the job is created)
        <input
          data-testid="job-query"
          className={queryError ? 'invalid wide' : 'wide'}
          placeholder='tags.site = "berlin" AND online = true'
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          spellCheck={false}
        />
      </label>
      {match && 'count' in match && match.query === query.trim() ? (
        <p className="muted" data-testid="job-match-count" data-count={match.count}>
          Matches {match.count} device{match.count === 1 ? '' : 's'} now.
        </p>
      ) : null}
      {queryError && match?.query === query.trim() ? <QueryError query={match.query} error={queryError} /> : null}
      <div className="form-grid">
        <label>
          Command
          <input data-testid="job-command" list="job-built-in-commands" value={name} onChange={(e) => setName(e.target.value)} spellCheck={false} />
          <datalist id="job-built-in-commands">
            {BUILT_IN_COMMANDS.map((c) => (
              <option key={c} value={c} />
            ))}
          </datalist>
        </label>
        <label>
          Timeout (s)
          <input data-testid="job-timeout" inputMode="numeric" placeholder="30" value={timeout} onChange={(e) => setTimeoutText(e.target.value)} />
        </label>
        <label>
          TTL (s)
          <input data-testid="job-ttl" inputMode="numeric" placeholder="86400" value={ttl} onChange={(e) => setTtl(e.target.value)} />
        </label>
        <label>
          Rate per minute
          <input data-testid="job-rate" inputMode="numeric" placeholder="60" value={rate} onChange={(e) => setRate(e.target.value)} />
        </label>
        <label>
          Max concurrency
          <input data-testid="job-concurrency" inputMode="numeric" placeholder="10" value={concurrency} onChange={(e) => setConcurrency(e.target.value)} />
        </label>
      </div>
      <label>
        Params (JSON object)
        <textarea data-testid="job-params" className="code-input" rows={2} placeholder="{}" value={params} onChange={(e) => setParams(e.target.value)} spellCheck={false} />
      </label>
      <fieldset>
        <legend>Abort when failures (failed, timed out, expired) reach</legend>
        <div className="form-grid">
          <label>
            a count
            <input data-testid="job-abort-count" inputMode="numeric" placeholder="never" value={failedCount} onChange={(e) => setFailedCount(e.target.value)} />
          </label>
          <label>
            a % of finished
            <input data-testid="job-abort-percent" inputMode="decimal" placeholder="never" value={failedPercent} onChange={(e) => setFailedPercent(e.target.value)} />
          </label>
          <label>
            judged from finished
            <input data-testid="job-abort-min" inputMode="numeric" placeholder="10" value={minCompleted} onChange={(e) => setMinCompleted(e.target.value)} />
          </label>
        </div>
      </fieldset>
      {formError ? (
        <div className="error" role="alert" data-testid="job-form-error">
          {formError}
        </div>
      ) : null}
      {isQueryError(apiError) ? queryError ? null : <QueryError query={query.trim()} error={apiError} /> : <ErrorMessage error={apiError} testId="job-create-error" />}
      <div className="row">
        <button type="submit" className="primary" data-testid="job-create" disabled={busy}>
          {busy ? 'Starting…' : 'Start job'}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
