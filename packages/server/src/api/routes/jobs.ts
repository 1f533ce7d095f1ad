import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { isoTime, isoTimeOrNull } from '@hangar/protocol';
import { JobDevice, JobListQuery, NewJob, pageOf, type Job } from '@hangar/protocol/rest';
import type { JobView } from '../../core/jobs/job-service.js';
import type { Services } from '../../core/services.js';
import { ctxOf } from '../context.js';
import { ErrorResponses } from '../schemas.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 256 }) });

export function jobView(j: JobView): Job {
  return {
    id: j.id,
    query: j.query,
    command: j.command,
    ratePerMinute: j.ratePerMinute,
    maxConcurrency: j.maxConcurrency,
    abortThreshold: j.abort,
    state: j.state,
    reason: j.reason,
    progress: j.progress,
    createdBy: j.createdBy,
    createdAt: isoTime(j.createdAt),
    finishedAt: isoTimeOrNull(j.finishedAt),
  };
}

/** Bulk command jobs (docs/commands.md). */
export function jobRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['jobs'];

  r.post(
    '/api/v1/jobs',
    {
      schema: {
        operationId: 'createJob',
        tags,
        summary: 'Send one command to every device a fleet query matches, at a rate and concurrency; operator role',
        description: 'The query is evaluated once, now. The job stops (aborted) when its abort threshold is crossed and completes when every command finished.',
        body: NewJob,
        response: { 201: Type.Ref('Job'), ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const job = await services.jobs.create(ctxOf(req), req.body);
      return reply.code(201).header('location', `/api/v1/jobs/${job.id}`).send(jobView(job));
    },
  );

  r.get('/api/v1/jobs', { schema: { operationId: 'listJobs', tags, summary: 'Bulk jobs, newest first', querystring: JobListQuery, response: { 200: pageOf(Type.Ref('Job')), ...ErrorResponses } } }, async (req) => {
    const page = await services.jobs.list(ctxOf(req), req.query.cursor, req.query.limit ?? 100);
    return { items: page.items.map(jobView), nextCursor: page.nextCursor };
  });

  r.get('/api/v1/jobs/:id', { schema: { operationId: 'getJob', tags, summary: 'A job with its progress per state', params: IdParams, response: { 200: Type.Ref('Job'), ...ErrorResponses } } }, async (req) =>
    jobView(await services.jobs.get(ctxOf(req), req.params.id)),
  );

  r.get(
    '/api/v1/jobs/:id/devices',
    { schema: { operationId: 'listJobDevices', tags, summary: 'The job’s devices and their commands, by device id', params: IdParams, querystring: JobListQuery, response: { 200: pageOf(JobDevice), ...ErrorResponses } } },
    async (req) => services.jobs.devices(ctxOf(req), req.params.id, req.query.cursor, req.query.limit ?? 100),
  );

  r.post('/api/v1/jobs/:id/cancel', { schema: { operationId: 'cancelJob', tags, summary: 'Stop a running job and cancel its unfinished commands; operator role', params: IdParams, response: { 200: Type.Ref('Job'), ...ErrorResponses } } }, async (req) =>
    jobView(await services.jobs.cancel(ctxOf(req), req.params.id)),
  );
}
