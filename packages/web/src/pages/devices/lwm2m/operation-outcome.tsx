import type { ReactElement } from 'react';
import { ErrorMessage } from '../../../components/error-message.tsx';
import type { OperationAnswer } from '../../lwm2m/lwm2m-api.ts';

/** The last operation the panel started, shown under the row it came from. */
export interface Outcome {
  path: string;
  label: string;
  busy?: boolean;
  answer?: OperationAnswer;
  queued?: string;
  error?: unknown;
}

/** What came of the last operation on `path`: the device's code, the values, links, or why not. */
export function OutcomeLine({ path, outcome }: { path: string; outcome: Outcome | undefined }): ReactElement | null {
  if (!outcome || outcome.path !== path) return null;
  if (outcome.busy) {
    return (
      <p className="muted small" data-testid="lwm2m-outcome" data-state="busy">
        {outcome.label} {path}…
      </p>
    );
  }
  if (outcome.error !== undefined) {
    return (
      <div data-testid="lwm2m-outcome" data-state="failed">
        <ErrorMessage error={outcome.error} testId="lwm2m-error" />
      </div>
    );
  }
  if (outcome.queued) {
    return (
      <p className="notice small" data-testid="lwm2m-outcome" data-state="queued">
        {outcome.label} {path}: queued until the device wakes <span className="muted">(request {outcome.queued})</span>
      </p>
    );
  }
  const answer = outcome.answer;
  const links = answer && answer.status === 'completed' ? answer.links : undefined;
  return (
    <div className="small lwm2m-outcome" data-testid="lwm2m-outcome" data-state="completed">
      {outcome.label} {path}: <strong>{answer && answer.status === 'completed' ? answer.code : 'done'}</strong>
      {answer && answer.status === 'completed' && answer.values && answer.values.length > 0 ? (
        <span className="muted">
          {' '}
          · {answer.values.length} value{answer.values.length === 1 ? '' : 's'}
        </span>
      ) : null}
      {links && links.length > 0 ? (
        <ul className="plain-list lwm2m-links" data-testid="lwm2m-links">
          {links.map((l, i) => (
            <li key={i}>
              <code>
                &lt;{l.target}&gt;
                {Object.entries(l.attributes)
                  .map(([k, v]) => `;${k}${v === true || v === null || v === undefined ? '' : `=${String(v)}`}`)
                  .join('')}
              </code>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
