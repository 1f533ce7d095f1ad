import type { FastifyInstance } from 'fastify';
import type { EventBus } from '../../bus/event-bus.js';
import type { OtaDevicePort } from '../../core/ota/ota-device-port.js';
import { HangarError } from '../../errors.js';
import { mediaTypeOf, parseJson } from './device-json.js';
import { DeviceWaiters, waiterKey } from './device-waiters.js';

export interface OtaRouteDeps {
  port: OtaDevicePort;
  /** `ota.offer.changed` wakes the long polls. */
  bus: Pick<EventBus, 'subscribe'>;
}

/** The longest `wait` of the offer's long poll: past a minute, proxies and NATs start cutting idle connections. */
export const MAX_OTA_WAIT_SEC = 60;

/** Offer long polls one device may hold at once (one is normal; more is a bug or abuse). */
const MAX_OTA_POLLS_PER_DEVICE = 4;

/** The longest deployment id a device may echo back (rollout ids are far shorter). */
const MAX_DEPLOYMENT_ID = 128;

/**
 * The OTA resources of the HTTP device API (DESIGN §5, protocol/ota.ts): `GET /device/v1/ota`,
 * the device's current offer — a long poll with `wait` and the `deploymentId` the device
 * already has — and `POST /device/v1/ota/status`, a status report. Thin: the offer and every
 * rule about reports are the core port's.
 */
export function otaRoutes(scope: FastifyInstance, deps: OtaRouteDeps): void {
  const waiters = new DeviceWaiters();
  const off = deps.bus.subscribe('ota.offer.changed', (e) => waiters.wake(waiterKey('ota', e.tenantId, e.deviceId)));
  // Before the server waits for in-flight requests: open long polls answer at once.
  scope.addHook('preClose', (done) => {
    off();
    waiters.close();
    done();
  });

  scope.get<{ Querystring: { wait?: number; deploymentId?: string } }>(
    '/device/v1/ota',
    {
      schema: {
        operationId: 'getDeviceOtaOffer',
        tags: ['device'],
        summary: 'The device’s current OTA offer, or {"deploymentId":null}; a long poll with wait and deploymentId',
        description: `With \`wait\` (seconds, at most ${MAX_OTA_WAIT_SEC}), answers as soon as the offer's deploymentId differs from \`deploymentId\` (the one the device has; none = it has no offer), or 204 when nothing changed within \`wait\`. Without \`wait\`, at once — also the way to fresh download tokens. See docs/ota.md.`,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { wait: { type: 'integer', minimum: 0, maximum: MAX_OTA_WAIT_SEC }, deploymentId: { type: 'string', maxLength: MAX_DEPLOYMENT_ID } },
        },
        security: [{ deviceBasic: [] }, { deviceBearer: [] }],
      },
    },
    async (request, reply) => {
      const { tenantId, deviceId } = request.device!;
      const { wait } = request.query;
      // An empty deploymentId is "none", as its absence is.
      const have = request.query.deploymentId || null;
      if (!wait) return deps.port.currentOffer(tenantId, deviceId);
      const key = waiterKey('ota', tenantId, deviceId);
      if (waiters.waitingOn(key) >= MAX_OTA_POLLS_PER_DEVICE) {
        throw new HangarError('RATE_LIMITED', 'this device already has as many OTA long polls open as it may; poll once at a time', { retryAfterMs: 1000 });
      }
      // The client going away ends the wait (its answer would go nowhere).
      let gone = false;
      reply.raw.once('close', () => {
        gone = true;
        waiters.wake(key);
      });
      const deadline = Date.now() + wait * 1000;
      for (;;) {
        // Armed before the read: a change landing between the read and the wait still wakes it.
        const armed = waiters.arm(key, deadline - Date.now());
        const offer = await deps.port.currentOffer(tenantId, deviceId);
        if (offer.deploymentId !== have) {
          armed.cancel();
          return offer;
        }
        const woken = await armed.promise;
        if (gone || Date.now() >= deadline - 5) return reply.code(204).send();
        // Not woken with time left: the server is closing. The connection goes with this
        // answer, or it would hold the shutdown for its keep-alive time.
        if (!woken) return reply.code(204).header('connection', 'close').send();
      }
    },
  );

  scope.post(
    '/device/v1/ota/status',
    {
      schema: {
        operationId: 'postDeviceOtaStatus',
        tags: ['device'],
        summary: 'A device reports its progress in a deployment; 204 once stored',
        description: 'Body (application/json): {"deploymentId","state","progress"?,"reason"?,"error"?,"version"?,"artifact"?} (protocol/ota.ts OtaStatusReport). Refused, changing nothing, when malformed (400), for a deployment the device is not in (404), or out of order or repeated (409). See docs/ota.md.',
        security: [{ deviceBasic: [] }, { deviceBearer: [] }],
      },
    },
    async (request, reply) => {
      const type = mediaTypeOf(request.headers['content-type']);
      if (type !== 'application/json') throw new HangarError('UNSUPPORTED_MEDIA_TYPE', `send the status report as application/json; not "${type || 'no content type'}"`);
      const { tenantId, deviceId } = request.device!;
      await deps.port.reportStatus(tenantId, deviceId, parseJson(request.body));
      return reply.code(204).send();
    },
  );
}
