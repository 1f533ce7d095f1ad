import { existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import fastifyCookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Services } from '../core/services.js';
import { registerAuth } from './auth-hook.js';
import type { Metrics } from './metrics.js';
import { clientErrorHandler, errorHandler, frameworkErrorHandler, problem, sendProblem } from './problem.js';
import { accessRoutes } from './routes/access.js';
import { alertRoutes } from './routes/alerts.js';
import { deviceRoutes } from './routes/devices.js';
import { fleetRoutes } from './routes/fleet.js';
import { eventRoutes } from './routes/events.js';
import { groupRoutes } from './routes/groups.js';
import { identityRoutes, pkiAndProvisioningRoutes } from './routes/identity.js';
import { opsRoutes, type MetricsAccess } from './routes/ops.js';
import { telemetryRoutes } from './routes/telemetry.js';
import { twinRoutes } from './routes/twin.js';
import { logRoutes } from './routes/logs.js';
import { timelineRoutes } from './routes/timeline.js';
import { presenceRoutes } from './routes/presence.js';
import { webhookRoutes } from './routes/webhooks.js';
import { configurationRoutes } from './routes/configurations.js';
import { commandRoutes } from './routes/commands.js';
import { jobRoutes } from './routes/jobs.js';
import { firmwareRoutes } from './routes/firmware.js';
import { firmwareDeltaRoutes } from './routes/firmware-deltas.js';
import { rolloutRoutes } from './routes/rollouts.js';
import { lwm2mRoutes } from './routes/lwm2m.js';
import { REST_COMPONENTS } from '@hangar/protocol/rest';
import { validatorCompiler } from './validation.js';

export const BODY_LIMIT = 1024 * 1024;

const API_DESCRIPTION = [
  'Self-hosted IoT device management. `/api/v1` is the operator API: the device registry, groups and fleet queries, bulk import, ' +
    'device credentials and certificate authorities, enrollment groups, presence and connection history, telemetry history, ' +
    'alert rules and alerts, fleet statistics, webhooks, live events (Server-Sent Events), API keys, users, tenants and the audit log.',
  'Authenticate with an API key (`Authorization: Bearer <key>`) or the dashboard session cookie; roles are viewer, operator and admin.',
  '`/device/v1` is for devices (provisioning, telemetry over HTTP); `/pki` serves public CA certificates and CRLs.',
  'Lists are paged with `limit` and the `nextCursor` of the previous page. Times are ISO 8601 UTC. ' +
    'Errors are RFC 9457 problem details with a stable `code` (e.g. DEVICE_NOT_FOUND).',
].join('\n\n');

export interface HttpAppOptions {
  services: Services;
  logger: Logger;
  metrics: Metrics;
  ready: () => Promise<void>;
  /** Built dashboard (packages/web/dist); absent means the API runs without it. */
  webRoot?: string | undefined;
  secureCookies?: boolean;
  /** The installation CA of the TLS listeners, for `GET /pki/server-ca.pem` (null: the operator gave the certificate). */
  serverCaPem?: string | null | undefined;
  /** Who may read `/metrics` (default: callers with an API key or session). */
  metricsAccess?: MetricsAccess | undefined;
}

export async function buildHttpApp(options: HttpAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Per-request lines would dominate the log at fleet scale; metrics count requests instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // The caller's x-request-id is kept only when it is short and plain (it lands in logs, audit
    // entries and problem details); anything else gets an id of ours.
    requestIdHeader: false,
    genReqId: (req) => safeRequestId(req.headers['x-request-id']) ?? crypto.randomUUID(),
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    return503OnClosing: true,
    ajv: { customOptions: { strict: false } },
  });
  app.setValidatorCompiler(validatorCompiler());
  app.setErrorHandler(errorHandler(options.logger));
  for (const schema of REST_COMPONENTS) app.addSchema(schema);

  // `Content-Type: application/json` with an empty body (many clients send it on a bare POST)
  // means "no body": routes without one accept it, routes that need one answer a 400 naming it.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '') return done(null, undefined);
    return parseJson(req, body.toString(), done);
  });

  // Bulk import bodies are streams: handed to the route unread, so no body limit applies.
  app.addContentTypeParser(['text/csv', 'application/x-ndjson', 'application/jsonl'], (_req, payload: Readable, done) => done(null, payload));

  await app.register(fastifyCookie);
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Hangar REST API', version: '1', description: API_DESCRIPTION },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, session: { type: 'apiKey', in: 'cookie', name: 'hangar_session' }, deviceBasic: { type: 'http', scheme: 'basic', description: 'device id : device token' }, deviceBearer: { type: 'http', scheme: 'bearer', description: 'device token' } } },
      security: [{ bearer: [] }, { session: [] }],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  options.metrics.instrument(app);
  registerAuth(app, options.services.tenancy);

  app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  opsRoutes(app, { metrics: options.metrics, ready: options.ready, tenancy: options.services.tenancy, access: options.metricsAccess });
  accessRoutes(app, options.services, { secureCookies: options.secureCookies ?? false });
  deviceRoutes(app, options.services);
  telemetryRoutes(app, options.services);
  groupRoutes(app, options.services);
  presenceRoutes(app, options.services);
  twinRoutes(app, options.services);
  alertRoutes(app, options.services);
  fleetRoutes(app, options.services);
  identityRoutes(app, options.services);
  pkiAndProvisioningRoutes(app, options.services);
  eventRoutes(app, options.services);
  webhookRoutes(app, options.services);
  configurationRoutes(app, options.services);
  logRoutes(app, options.services);
  timelineRoutes(app, options.services);
  commandRoutes(app, options.services);
  jobRoutes(app, options.services);
  firmwareRoutes(app, options.services);
  if (options.services.deltas) firmwareDeltaRoutes(app, options.services.deltas);
  rolloutRoutes(app, options.services);
  if (options.services.lwm2m) lwm2mRoutes(app, options.services.lwm2m);
  serverCaRoute(app, options.serverCaPem);

  const webRoot = options.webRoot && existsSync(options.webRoot) ? options.webRoot : undefined;
  // wildcard: files are looked up per request, so a rebuilt dashboard is served without a restart.
  if (webRoot) await app.register(fastifyStatic, { root: webRoot, prefix: '/', wildcard: true, index: ['index.html'] });

  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const isApi = path.startsWith('/api/') || path.startsWith('/device/') || path.startsWith('/pki/');
    // The dashboard routes in the browser; any other GET of a page gets the app shell.
    if (!isApi && webRoot && request.method === 'GET' && !/\.[a-z0-9]+$/i.test(path)) return reply.sendFile('index.html');
    if (!isApi && !webRoot && request.method === 'GET' && path === '/') {
      return reply.type('text/html').send('<!doctype html><title>Hangar</title><p>Hangar is running. The dashboard is not built: run <code>npm run build</code>. API browser: <a href="/docs">/docs</a>.</p>');
    }
    return sendProblem(reply, problem('NOT_FOUND', `no route ${request.method} ${path}`));
  });
  return app;
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** The caller's request id if it is one we may echo, else undefined (a new one is made). */
export function safeRequestId(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && SAFE_REQUEST_ID.test(value) ? value : undefined;
}

function serverCaRoute(app: FastifyInstance, caPem: string | null | undefined): void {
  app.get('/pki/server-ca.pem', { schema: { operationId: 'getServerCaPem', tags: ['pki'], summary: 'The installation CA that signed the TLS certificate of the HTTPS and MQTTS listeners (public)', security: [] } }, async (_req, reply) => {
    if (!caPem) return sendProblem(reply, problem('NOT_FOUND', 'this installation serves an operator-provided TLS certificate (--tls-cert); ask the operator for its CA'));
    return reply.type('application/x-pem-file').send(caPem);
  });
}
