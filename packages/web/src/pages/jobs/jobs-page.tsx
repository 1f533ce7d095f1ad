import { useCallback, useEffect, useState, type ReactElement } from 'react';
import { api, type Job, type Page } from '../../api.ts';
import { ErrorMessage } from '../../components/error-message.tsx';
import { LiveBadge } from '../../components/live-badge.tsx';
import { Pager, useCursorStack } from '../../components/pager.tsx';
import { formatTime } from '../../format.ts';
import { useEventStream, useLiveEvent, usePolling, useThrottled } from '../../live-events.ts';
import { href, navigate, segment } from '../../router.ts';
import { useSession } from '../../session.ts';
import { JobForm } from './job-form.tsx';
import { finished, JobStateBadge, ProgressBar } from './job-progress.tsx';

const PAGE_SIZE = 25;

/** `#/jobs`: bulk command jobs, newest first, with their progress; operators start new ones. */
export function JobsPage(): ReactElement {
  const { can } = useSession();
  const pager = useCursorStack('jobs');
  const [page, setPage] = useState<Page<Job> | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [creating, setCreating] = useState(false);
  // Job progress moves with its commands: one stream of command events keeps the list current.
  const stream = useEventStream({ types: ['command.completed', 'command.sent'] });

  const reload = useCallback(async (): Promise<void> => {
    try {
      setPage(await api.listJobs({ limit: PAGE_SIZE, cursor: pager.cursor }));
      setError(undefined);
    } catch (err) {
      setError(err);
    }
  }, [pager.cursor]);
  useEffect(() => {
    void reload();
  }, [reload]);
  const reloadSoon = useThrottled(() => void reload(), 1_000);
  useLiveEvent(stream, ['command.completed', 'command.sent'], (e) => {
    if (e.data['jobId'] || e.type === 'command.sent') reloadSoon();
  });
  const running = page?.items.some((j) => j.state === 'running') ?? false;
  // A job also moves without command events (pending devices issued at its rate).
  usePolling(() => void reload(), stream.status, { liveMs: running ? 5_000 : 30_000, downMs: 5_000 });

  const items = page?.items ?? [];
  return (
    <section data-testid="jobs-page">
      <div className="page-head">
        <h1>Bulk jobs</h1>
        <LiveBadge status={stream.status} />
        {can('operator') && !creating ? (
          <button type="button" className="primary" data-testid="new-job" onClick={() => setCreating(true)}>
            New job
          </button>
        ) : null}
      </div>
      <p className="muted">One command to every device a fleet query matches, at a rate and concurrency, with an abort threshold on failures.</p>
      {creating ? <JobForm onCreated={(job) => navigate(`/jobs/${segment(job.id)}`)} onCancel={() => setCreating(false)} /> : null}
      <ErrorMessage error={error} testId="jobs-error" />
      {!page ? (
        error ? null : <p className="muted">Loading…</p>
      ) : items.length === 0 && pager.page === 1 ? (
        <p className="muted" data-testid="jobs-empty">
          No jobs yet.
        </p>
      ) : (
        <>
          <table className="table" data-testid="jobs-table">
            <thead>
              <tr>
                <th>Job</th>
                <th>Command</th>
                <th>Query</th>
                <th>State</th>
                <th>Progress</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {items.map((j) => (
                <tr key={j.id} data-testid="job-row" data-job-id={j.id} data-state={j.state}>
                  <td>
                    <a href={href(`/jobs/${segment(j.id)}`)}>
                      <code>{j.id}</code>
                    </a>
                  </td>
                  <td>
                    <code>{j.command.name}</code>
                  </td>
                  <td>
                    <code className="small">{j.query}</code>
                  </td>
                  <td>
                    <JobStateBadge state={j.state} />
                  </td>
                  <td>
                    <ProgressBar progress={j.progress} />
                    <span className="muted small">
                      {finished(j.progress)} / {j.progress.targeted} done · {j.progress.succeeded} succeeded
                    </span>
                  </td>
                  <td className="nowrap">{formatTime(j.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager pager={pager} nextCursor={page.nextCursor} />
        </>
      )}
    </section>
  );
}
