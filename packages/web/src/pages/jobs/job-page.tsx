import { useCallback, useEffect, useState, type ReactElement } from 'react';
import { api, type Job, type JobDevice, type Page } from '../../api.ts';
import { ConfirmButton } from '../../components/confirm-button.tsx';
import { ErrorMessage } from '../../components/error-message.tsx';
import { LiveBadge } from '../../components/live-badge.tsx';
import { Pager, useCursorStack } from '../../components/pager.tsx';
import { formatTime } from '../../format.ts';
import { useEventStream, useLiveEvent, usePolling, useThrottled } from '../../live-events.ts';
import { href, segment } from '../../router.ts';
import { useSession } from '../../session.ts';
import { CommandStateBadge, JsonValue } from '../devices/commands/command-state.tsx';
import { JobStateBadge, ProgressBar, ProgressCounts } from './job-progress.tsx';

const DEVICE_PAGE_SIZE = 50;

/**
 * `#/jobs/:id`: a job's settings and live progress (reloaded on each of its `command.*` events,
 * and polled while it runs, since pending devices are issued at the job's rate), its devices
 * with their commands, and cancel.
 */
export function JobPage({ id }: { id: string }): ReactElement {
  const { can } = useSession();
  const [job, setJob] = useState<Job | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const pager = useCursorStack(id);
  const [devices, setDevices] = useState<Page<JobDevice> | undefined>(undefined);
  const stream = useEventStream({ types: ['command.queued', 'command.sent', 'command.completed'] });

  const reload = useCallback(async (): Promise<void> => {
    try {
      const [j, d] = await Promise.all([api.getJob(id), api.listJobDevices(id, { limit: DEVICE_PAGE_SIZE, cursor: pager.cursor })]);
      setJob(j);
      setDevices(d);
      setError(undefined);
    } catch (err) {
      setError(err);
    }
  }, [id, pager.cursor]);
  useEffect(() => {
    void reload();
  }, [reload]);
  const reloadSoon = useThrottled(() => void reload(), 300);
  useLiveEvent(stream, ['command.*'], (e) => {
    // command.completed names its job; queued and sent do not, but are few while a job runs.
    if (e.data['jobId'] === undefined || e.data['jobId'] === id) reloadSoon();
  });
  const running = job?.state === 'running';
  usePolling(() => void reload(), stream.status, { liveMs: running ? 2_000 : 30_000, downMs: 2_000 });

  if (!job) {
    return (
      <section>
        <p>
          <a href={href('/jobs')}>← Jobs</a>
        </p>
        <h1>Job {id}</h1>
        {error ? <ErrorMessage error={error} /> : <p className="muted">Loading…</p>}
      </section>
    );
  }
  const t = job.abortThreshold;
  const abort = [t.failedCount !== null ? `${t.failedCount} failures` : null, t.failedPercent !== null ? `${t.failedPercent}% of finished (from ${t.minCompleted ?? 10} finished)` : null].filter(Boolean);

  return (
    <section data-testid="job-page" data-job-id={job.id}>
      <p>
        <a href={href('/jobs')}>← Jobs</a>
      </p>
      <div className="page-head">
        <h1>
          Job <code>{job.id}</code>
        </h1>
        <JobStateBadge state={job.state} />
        <LiveBadge status={stream.status} />
      </div>
      <ErrorMessage error={error} />
      <div className="card">
        <h2>Progress</h2>
        <ProgressBar progress={job.progress} />
        <ProgressCounts progress={job.progress} />
        {job.reason ? (
          <p className="notice" data-testid="job-reason">
            {job.reason}
          </p>
        ) : null}
        <dl className="props">
          <dt>Command</dt>
          <dd>
            <code>{job.command.name}</code> <code className="muted">{JSON.stringify(job.command.params)}</code> · timeout {job.command.timeoutSec} s · TTL {job.command.ttlSec} s
          </dd>
          <dt>Query</dt>
          <dd>
            <code>{job.query}</code>
          </dd>
          <dt>Pace</dt>
          <dd>
            {job.ratePerMinute} per minute, at most {job.maxConcurrency} at once
          </dd>
          <dt>Abort at</dt>
          <dd>{abort.length ? abort.join(' or ') : 'never'}</dd>
          <dt>Created</dt>
          <dd>
            {formatTime(job.createdAt)} by {job.createdBy}
          </dd>
          <dt>Finished</dt>
          <dd>{formatTime(job.finishedAt)}</dd>
        </dl>
        {can('operator') && running ? (
          <ConfirmButton
            testId="job-cancel"
            label="Cancel job"
            question="Stop issuing commands and cancel the job's unfinished ones? Commands already finished stay as they are."
            confirmLabel="Cancel job"
            onConfirm={async () => {
              setJob(await api.cancelJob(job.id));
              await reload();
            }}
          />
        ) : null}
      </div>
      <div className="card">
        <h2>Devices</h2>
        {devices && devices.items.length > 0 ? (
          <>
            <table className="table compact" data-testid="job-devices">
              <thead>
                <tr>
                  <th>Device</th>
                  <th>Command</th>
                  <th>State</th>
                  <th>Result / error</th>
                </tr>
              </thead>
              <tbody>
                {devices.items.map((d) => (
                  <tr key={d.deviceId} data-testid="job-device-row" data-device-id={d.deviceId} data-state={d.state ?? (d.skipped ? 'skipped' : 'pending')}>
                    <td>
                      <a href={href(`/devices/${segment(d.deviceId)}`)}>{d.deviceId}</a>
                    </td>
                    <td>{d.commandId ? <code className="small">{d.commandId}</code> : <span className="muted">not issued yet</span>}</td>
                    <td>{d.state ? <CommandStateBadge state={d.state} /> : <span className="badge off">{d.skipped ? 'skipped' : 'pending'}</span>}</td>
                    <td>
                      {d.error ? <span className="cmd-error">{d.error}</span> : null}
                      {d.skipped ? <span className="muted">{d.skipped}</span> : null}
                      {d.result !== null && d.result !== undefined ? <JsonValue value={d.result} /> : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <Pager pager={pager} nextCursor={devices.nextCursor} />
          </>
        ) : (
          <p className="muted">No devices.</p>
        )}
      </div>
    </section>
  );
}
