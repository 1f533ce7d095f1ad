import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type TSchema } from 'typebox';
import type { Services } from '../../core/services.js';
import type { ConnectionRecord } from '../../core/presence/ports.js';
import type { PresenceView } from '../../core/presence/presence-service.js';
import { ctxOf } from '../context.js';
import { ErrorResponses, IsoTime, PageQuery, pageOf } from '../schemas.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 256 }) });
const Nullable = (t: TSchema): TSchema => Type.Union([t, Type.Null()]);
const Protocol = Type.Union([Type.Literal('mqtt'), Type.Literal('http'), Type.Literal('coap'), Type.Literal('lwm2m')]);
const Kind = Type.Union([Type.Literal('session'), Type.Literal('activity')], {
  description: 'session: a connection the transport holds (MQTT); activity: HTTP/CoAP requests within the activity window',
});

const Presence = Type.Object({
  online: Type.Boolean(),
  lastSeen: Nullable(IsoTime),
  protocol: Nullable(Protocol),
  remoteAddress: Nullable(Type.String()),
  connectedAt: Nullable(IsoTime),
  disconnectedAt: Nullable(IsoTime),
  disconnectReason: Nullable(Type.String()),
  sessionId: Type.Optional(Type.String({ description: 'the current session; absent while offline' })),
  kind: Type.Optional(Kind),
});

const Connection = Type.Object({
  sessionId: Type.String(),
  kind: Kind,
  protocol: Protocol,
  remoteAddress: Nullable(Type.String()),
  connectedAt: IsoTime,
  disconnectedAt: Nullable(IsoTime),
  reason: Nullable(Type.String()),
  node: Type.String(),
});

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function presenceView(p: PresenceView): Record<string, unknown> {
  return {
    online: p.online,
    lastSeen: iso(p.lastSeen),
    protocol: p.protocol,
    remoteAddress: p.remoteAddress,
    connectedAt: iso(p.connectedAt),
    disconnectedAt: iso(p.disconnectedAt),
    disconnectReason: p.disconnectReason,
    ...(p.sessionId !== null ? { sessionId: p.sessionId } : {}),
    ...(p.kind !== null ? { kind: p.kind } : {}),
  };
}

function connectionView(c: ConnectionRecord): Record<string, unknown> {
  return {
    sessionId: c.sessionId,
    kind: c.kind,
    protocol: c.protocol,
    remoteAddress: c.remoteAddress,
    connectedAt: iso(c.connectedAt),
    disconnectedAt: iso(c.disconnectedAt),
    reason: c.reason,
    node: c.nodeId,
  };
}

/** Device presence: the current state and the connection history (any role may read). */
export function presenceRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/api/v1/devices/:id/presence',
    {
      schema: {
        tags: ['devices'],
        summary: 'Whether a device is online, since when and how; when it was last seen',
        params: IdParams,
        response: { 200: Presence, ...ErrorResponses },
      },
    },
    async (req) => presenceView(await services.presence.presence(ctxOf(req), req.params.id)),
  );

  r.get(
    '/api/v1/devices/:id/connections',
    {
      schema: {
        tags: ['devices'],
        summary: 'A device’s connection history, newest first',
        params: IdParams,
        querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }),
        response: { 200: pageOf(Connection), ...ErrorResponses },
      },
    },
    async (req) => {
      const page = await services.presence.connections(ctxOf(req), req.params.id, { cursor: req.query.cursor, limit: req.query.limit ?? 100 });
      return { items: page.items.map(connectionView), nextCursor: page.nextCursor };
    },
  );
}
