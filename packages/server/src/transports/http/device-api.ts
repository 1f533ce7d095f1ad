import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { refusalError, type DeviceAuthenticator, type DeviceAuthResult, type DeviceIdentity } from '../../core/identity/device-authenticator.js';
import type { PresenceTracker } from '../../core/presence/presence-tracker.js';
import type { TelemetryFormat, TelemetryIngest } from '../../core/telemetry/telemetry-ingest.js';
import type { TwinService } from '../../core/twin/twin-service.js';
import type { EventBus } from '../../bus/event-bus.js';
import type { CommandService } from '../../core/commands/command-service.js';
import { HangarError } from '../../errors.js';
import type { LogIngest } from '../../core/logs/device-log-service.js';
import { DeviceWaiters, waiterKey } from './device-waiters.js';
import { firmwareKeyRoutes, type FirmwareKeyReader } from './device-firmware-keys.js';
import type { ArtifactDownloads } from '../../core/firmware/artifact-downloads.js';
import { firmwareDownloadRoutes } from './firmware-download.js';
import { parseJson } from './device-json.js';
import { otaRoutes, type OtaRouteDeps } from './ota-routes.js';

export interface DeviceApiDeps {
  authenticator: Pick<DeviceAuthenticator, 'authenticateToken' | 'authenticateBearer' | 'authenticateCertificate'>;
  telemetry: TelemetryIngest;
  presence: PresenceTracker;
  /** Serves the twin resources; without it they are not registered. */
  twins?: Pick<TwinService, 'desiredDocument' | 'patchReported'> | undefined;
  /** Tells the desired twin's long polls (`?wait=`) of each change; without it `wait` answers at once. */
  twinChanges?: Pick<EventBus, 'subscribe'> | undefined;
  /** Takes log uploads (`POST /device/v1/logs`); without it that resource is not registered. */
  logs?: LogIngest | undefined;
  /** Serves the command resources (long-poll needs `bus` for `command.queued`); without it they are not registered. */
  commands?: { service: Pick<CommandService, 'take' | 'complete'>; bus: Pick<EventBus, 'subscribe'> } | undefined;
  /** Serves `GET /device/v1/firmware/signing-keys`; without it that resource is not registered. */
  firmwareKeys?: FirmwareKeyReader | undefined;
  /** Serves firmware and delta downloads (`/device/v1/firmware/…?t=`); without it they are not registered. */
  firmware?: ArtifactDownloads | undefined;
  /** Serves `GET /device/v1/ota` (long poll on `ota.offer.changed`) and `POST /device/v1/ota/status`; without it they are not registered. */
  ota?: OtaRouteDeps | undefined;
}

/** The longest long poll: past a minute, proxies and NATs start cutting idle connections. */
export const MAX_WAIT_SEC = 60;

/** Desired-twin long polls one device may hold at once (one or two is normal; more is a bug or abuse). */
const MAX_DESIRED_POLLS_PER_DEVICE = 4;

/** The longest `wait` of a command long-poll, in seconds. */
export const MAX_COMMAND_WAIT_SEC = 60;

/** The telemetry limit of issue 4; the body limit sits a little above it so the core can say which limit was hit. */
export const TELEMETRY_BODY_LIMIT = 256 * 1024;

const FORMATS: Record<string, TelemetryFormat> = {
  'application/json': 'json',
  'application/senml+json': 'senml+json',
  'application/senml+cbor': 'senml+cbor',
};

declare module 'fastify' {
  interface FastifyRequest {
    device?: DeviceIdentity;
  }
}

/**
 * The HTTP device API (DESIGN §5: `/device/v1/…`), a thin translator into the same core
 * services the MQTT and CoAP endpoints call. A device authenticates per request with its
 * client certificate (HTTPS), `Authorization: Basic base64(deviceId:token)`, or
 * `Authorization: Bearer <token>`. Each authenticated request counts as activity for presence.
 * Registered in its own Fastify context, so its raw-body parsers don't touch the REST API's.
 */
export async function deviceApiRoutes(app: FastifyInstance, deps: DeviceApiDeps): Promise<void> {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser([...Object.keys(FORMATS), MERGE_PATCH], { parseAs: 'buffer', bodyLimit: TELEMETRY_BODY_LIMIT + 1024 }, (_req, body, done) => done(null, body));
    // Log uploads may be plain text; the log service checks size and encoding and says what is wrong.
    scope.addContentTypeParser('text/plain', { parseAs: 'buffer', bodyLimit: TELEMETRY_BODY_LIMIT + 1024 }, (_req, body, done) => done(null, body));

    scope.addHook('onRequest', async (request) => {
      const result = await authenticate(deps, request);
      if (!result.ok) throw refusalError(result);
      request.device = result.identity;
      deps.presence.touched(result.identity, 'http', request.ip);
    });

    scope.post(
      '/device/v1/telemetry',
      {
        schema: {
          operationId: 'reportTelemetry',
          tags: ['device'],
          summary: 'A device reports telemetry; answered once the readings are durable',
          description: 'Body: a JSON object of readings, {"ts","values"}, an array of those (application/json), SenML JSON (application/senml+json) or SenML CBOR (application/senml+cbor). See docs/telemetry.md.',
          security: [{ deviceBasic: [] }, { deviceBearer: [] }],
        },
      },
      async (request, reply) => {
        const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        const format = FORMATS[type];
        if (!format) throw new HangarError('UNSUPPORTED_MEDIA_TYPE', `send telemetry as ${Object.keys(FORMATS).join(', ')}; not "${type || 'no content type'}"`);
        if (!Buffer.isBuffer(request.body) || request.body.length === 0) throw new HangarError('VALIDATION_FAILED', 'the telemetry body is empty');
        const { accepted } = await deps.telemetry.ingest(request.device!, request.body, format);
        return reply.code(200).send({ accepted });
      },
    );

    const twins = deps.twins;
    const desiredWaiters = deps.twinChanges && new DeviceWaiters();
    if (desiredWaiters) {
      const off = deps.twinChanges!.subscribe('twin.desired.changed', (e) => desiredWaiters.wake(waiterKey('desired', e.tenantId, e.deviceId)));
      // Before the server waits for in-flight requests: open long polls answer at once.
      scope.addHook('preClose', (done) => {
        off();
        desiredWaiters.close();
        done();
      });
    }
    if (twins) {
      scope.get<{ Querystring: { version?: number; wait?: number } }>(
        '/device/v1/twin/desired',
        {
          schema: {
            operationId: 'getDeviceDesiredTwin',
            tags: ['device'],
            summary: 'The device’s desired twin document: {"$version": n, …desired}; a long poll with version and wait',
            description: `With \`version\` (the $version the device has) and \`wait\` (seconds, at most ${MAX_WAIT_SEC}), answers as soon as the document's $version differs from it, or 204 when nothing changed within \`wait\`. Without them, at once. See docs/twins.md.`,
            querystring: {
              type: 'object',
              additionalProperties: false,
              properties: { version: { type: 'integer', minimum: 0 }, wait: { type: 'integer', minimum: 0, maximum: MAX_WAIT_SEC } },
            },
            security: [{ deviceBasic: [] }, { deviceBearer: [] }],
          },
        },
        async (request, reply) => {
          const { tenantId, deviceId } = request.device!;
          const { version, wait } = request.query;
          if (version === undefined || !wait || !desiredWaiters) return twins.desiredDocument(tenantId, deviceId);
          const key = waiterKey('desired', tenantId, deviceId);
          if (desiredWaiters.waitingOn(key) >= MAX_DESIRED_POLLS_PER_DEVICE) {
            throw new HangarError('RATE_LIMITED', 'this device already has as many desired-twin long polls open as it may; poll once at a time', { retryAfterMs: 1000 });
          }
          // The client going away ends the wait (its answer would go nowhere).
          let gone = false;
          reply.raw.once('close', () => {
            gone = true;
            desiredWaiters.wake(key);
          });
          const deadline = Date.now() + wait * 1000;
          for (;;) {
            // Armed before the read: a change landing between the read and the wait still wakes it.
            const armed = desiredWaiters.arm(key, deadline - Date.now());
            const document = await twins.desiredDocument(tenantId, deviceId);
            if (document.$version !== version) {
              armed.cancel();
              return document;
            }
            const woken = await armed.promise;
            if (gone || Date.now() >= deadline - 5) return reply.code(204).send();
            // Not woken with time left: the server is closing. The connection goes with this
            // answer, or it would hold the shutdown for its keep-alive time.
            if (!woken) return reply.code(204).header('connection', 'close').send();
          }
        },
      );

      scope.patch(
        '/device/v1/twin/reported',
        {
          schema: {
            operationId: 'patchDeviceReportedTwin',
            tags: ['device'],
            summary: 'A device merges a patch into its reported twin; answers the new reported $version',
            description: 'Body: a JSON merge patch (RFC 7396) object, as application/json or application/merge-patch+json. See docs/twins.md.',
            security: [{ deviceBasic: [] }, { deviceBearer: [] }],
          },
        },
        async (request) => {
          const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
          if (type !== 'application/json' && type !== MERGE_PATCH) throw new HangarError('UNSUPPORTED_MEDIA_TYPE', `send the reported patch as application/json or ${MERGE_PATCH}; not "${type || 'no content type'}"`);
          return twins.patchReported(request.device!.tenantId, request.device!.deviceId, parseJson(request.body));
        },
      );
    }

    const logs = deps.logs;
    if (logs) {
      scope.post(
        '/device/v1/logs',
        {
          schema: {
            operationId: 'uploadDeviceLogs',
            tags: ['device'],
            summary: 'A device uploads log records; answered once they are stored',
            description: 'Body: text/plain (one record per non-empty line, level info), or application/json: a record {"ts","level","msg","fields"} or an array of records. See docs/logs.md.',
            security: [{ deviceBasic: [] }, { deviceBearer: [] }],
          },
        },
        async (request, reply) => {
          const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
          if (type !== 'text/plain' && type !== 'application/json') throw new HangarError('UNSUPPORTED_MEDIA_TYPE', `send logs as text/plain or application/json; not "${type || 'no content type'}"`);
          if (!Buffer.isBuffer(request.body) || request.body.length === 0) throw new HangarError('VALIDATION_FAILED', 'the log upload is empty');
          const { accepted } = await logs.ingest(request.device!, request.body, type === 'text/plain' ? 'text' : 'json');
          return reply.code(200).send({ accepted });
        },
      );
    }
    if (deps.commands) commandRoutes(scope, deps.commands);
    if (deps.firmwareKeys) firmwareKeyRoutes(scope, deps.firmwareKeys);
    if (deps.ota) otaRoutes(scope, deps.ota);
  });
  // Firmware downloads authenticate by their `?t=` token alone: a scope of their own, outside the hook above.
  const firmware = deps.firmware;
  if (firmware) await app.register(async (scope) => firmwareDownloadRoutes(scope, firmware));
}

/**
 * `GET /device/v1/commands?wait=S` (long-poll: answered once a command is queued, or with no
 * items after S seconds) and `POST /device/v1/commands/{cmdId}/result`. See docs/commands.md.
 */
function commandRoutes(scope: FastifyInstance, deps: NonNullable<DeviceApiDeps['commands']>): void {
  const waiters = new DeviceWaiters();
  const off = deps.bus.subscribe('command.queued', (e) => waiters.wake(waiterKey('commands', e.tenantId, e.deviceId)));
  // Before the server waits for in-flight requests: open long-polls answer at once.
  scope.addHook('preClose', (done) => {
    off();
    waiters.close();
    done();
  });

  scope.get(
    '/device/v1/commands',
    {
      schema: {
        operationId: 'pollDeviceCommands',
        tags: ['device'],
        summary: 'Commands waiting for the device, marked sent: {"items":[{id,name,params,expiresAt,timeoutSec}]}',
        description: `?wait=S (0–${MAX_COMMAND_WAIT_SEC}) holds the request until a command is queued or S seconds passed (then items is empty). See docs/commands.md.`,
        security: [{ deviceBasic: [] }, { deviceBearer: [] }],
      },
    },
    async (request, reply) => {
      const device = request.device!;
      const wait = waitSeconds((request.query as Record<string, unknown>).wait);
      const deadline = Date.now() + wait * 1000;
      const key = waiterKey('commands', device.tenantId, device.deviceId);
      // A device that hung up takes nothing: its commands stay queued for the next poll.
      let gone = false;
      // The response closing before it was written means the connection went away.
      reply.raw.once('close', () => {
        gone = true;
        waiters.wake(key);
      });
      for (;;) {
        const armed = waiters.arm(key, deadline - Date.now());
        const items = gone ? [] : await deps.service.take(device.tenantId, device.deviceId);
        if (items.length > 0 || gone || Date.now() >= deadline) {
          armed.cancel();
          return { items };
        }
        if (!(await armed.promise) && Date.now() >= deadline - 5) return { items: [] };
      }
    },
  );

  scope.post<{ Params: { cmdId: string } }>(
    '/device/v1/commands/:cmdId/result',
    {
      schema: {
        operationId: 'postDeviceCommandResult',
        tags: ['device'],
        summary: 'A device answers a command: {"status":"succeeded"|"failed","result":…,"error"?:…}',
        security: [{ deviceBasic: [] }, { deviceBearer: [] }],
      },
    },
    async (request) => {
      const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json') throw new HangarError('UNSUPPORTED_MEDIA_TYPE', `send the result as application/json; not "${type || 'no content type'}"`);
      const device = request.device!;
      const command = await deps.service.complete(device.tenantId, device.deviceId, request.params.cmdId, parseJson(request.body));
      return { id: command.id, state: command.state };
    },
  );
}

function waitSeconds(value: unknown): number {
  if (value === undefined || value === '') return 0;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n > MAX_COMMAND_WAIT_SEC) throw new HangarError('VALIDATION_FAILED', `wait must be a whole number of seconds from 0 to ${MAX_COMMAND_WAIT_SEC}`);
  return n;
}

/** RFC 7396 §4's media type; plain application/json is taken too. */
const MERGE_PATCH = 'application/merge-patch+json';

async function authenticate(deps: DeviceApiDeps, request: FastifyRequest): Promise<DeviceAuthResult> {
  const source = request.ip;
  const socket = request.raw.socket as Partial<TLSSocket>;
  const header = request.headers.authorization;
  if (header === undefined && typeof socket.getPeerCertificate === 'function') {
    const peer = socket.getPeerCertificate(false);
    if (peer && peer.raw) return deps.authenticator.authenticateCertificate(peer.raw, source);
  }
  if (header === undefined) return { ok: false, reason: 'bad_credentials', detail: 'authenticate with a client certificate (HTTPS), "Authorization: Basic base64(deviceId:token)" or "Authorization: Bearer <device token>"' };
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return { ok: false, reason: 'bad_credentials', detail: 'Basic credentials must be base64("deviceId:token")' };
    return deps.authenticator.authenticateToken(decoded.slice(0, colon), decoded.slice(colon + 1), source);
  }
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return deps.authenticator.authenticateBearer(bearer[1]!, source);
  return { ok: false, reason: 'bad_credentials', detail: 'the Authorization header must be "Basic base64(deviceId:token)" or "Bearer <device token>"' };
}
