import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TenancyService } from '../../core/tenancy/tenancy-service.js';
import { SESSION_COOKIE } from '../auth-hook.js';
import type { Metrics } from '../metrics.js';
import { problem, sendProblem } from '../problem.js';

/** Who may read `/metrics`: anyone (`--metrics-public`), or a bearer of the scrape token or of any API key or session. */
export interface MetricsAccess {
  public?: boolean | undefined;
  /** A dedicated scrape token (`--metrics-token`), accepted besides API keys. */
  token?: string | undefined;
}

export function opsRoutes(app: FastifyInstance, deps: { metrics: Metrics; ready: () => Promise<void>; tenancy: TenancyService; access?: MetricsAccess | undefined }): void {
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
  const scrapeToken = deps.access?.token !== undefined ? digest(deps.access.token) : undefined;
  app.get('/metrics', hide, async (req, reply) => {
    // The page names routes, tenants' load and internals: on 0.0.0.0 it is not for everyone.
    if (!deps.access?.public && !(await mayScrape(req, deps.tenancy, scrapeToken))) {
      reply.header('www-authenticate', 'Bearer realm="hangar-metrics"');
      return sendProblem(reply, problem('UNAUTHENTICATED', 'send the scrape token (--metrics-token) or an API key as "Authorization: Bearer <token>", or start the server with --metrics-public'));
    }
    reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}

async function mayScrape(req: FastifyRequest, tenancy: TenancyService, scrapeToken: Buffer | undefined): Promise<boolean> {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
  if (bearer !== undefined) {
    // Compared as digests: equal lengths for timingSafeEqual, and no early exit on a prefix.
    if (scrapeToken && timingSafeEqual(digest(bearer), scrapeToken)) return true;
    return (await tenancy.authenticateApiKey(bearer)) !== undefined;
  }
  const session = req.cookies[SESSION_COOKIE];
  return session !== undefined && (await tenancy.authenticateSession(session)) !== undefined;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
