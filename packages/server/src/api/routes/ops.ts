import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.js';
import { problem, sendProblem } from '../problem.js';

export function opsRoutes(app: FastifyInstance, deps: { metrics: Metrics; ready: () => Promise<void> }): void {
  const hide = { schema: { hide: true } };
  app.get('/healthz', hide, async () => ({ status: 'ok' }));
  app.get('/readyz', hide, async (_req, reply) => {
    try {
      await deps.ready();
      return { status: 'ready' };
    } catch (err) {
      return sendProblem(reply, problem('NOT_READY', `the store does not answer: ${(err as Error).message}`));
    }
  });
  app.get('/metrics', hide, async (_req, reply) => {
    reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
