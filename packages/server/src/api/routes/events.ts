import type { ServerResponse } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Services } from '../../core/services.js';
import type { EventSubscription } from '../../core/events/event-subscription.js';
import type { StreamEvent } from '../../core/events/stream-event.js';
import { ctxOf } from '../context.js';
import { ErrorResponses } from '../schemas.js';

/** Comment lines keep proxies and load balancers from closing an idle stream. */
export const HEARTBEAT_MS = 15_000;
/** How long an EventSource waits before reconnecting (it then sends Last-Event-ID). */
const RETRY_MS = 3_000;
/** At shutdown, how long a stream's last bytes may take before its connection is cut. */
const SHUTDOWN_FLUSH_MS = 1_000;

/**
 * `GET /api/v1/events/stream`: Server-Sent Events (WHATWG HTML §9.2) of the caller's tenant.
 * Filters are checked by the service before the response starts, so a bad one is a 400.
 */
export function eventRoutes(app: FastifyInstance, services: Services): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  // Open streams never finish on their own: end them before Fastify waits for responses to finish.
  app.addHook('preClose', (done) => {
    services.events.close();
    done();
  });

  r.get(
    '/api/v1/events/stream',
    {
      schema: {
        operationId: 'streamEvents',
        tags: ['events'],
        summary: 'Live domain events (Server-Sent Events)',
        description:
          'Each event is `id: <n>` + `data: {id, type, tenant, deviceId?, at, data}`. Reconnect with the `Last-Event-ID` header (or `lastEventId`) to resume; ' +
          'if the server no longer holds the events after that id, it first sends `event: reset`. Browsers authenticate with the session cookie.',
        querystring: Type.Object(
          {
            types: Type.Optional(Type.String({ maxLength: 2048, description: 'comma-separated event types or prefixes: `device.connected,alert.*`' })),
            device: Type.Optional(Type.String({ maxLength: 256, description: 'only events of this device' })),
            q: Type.Optional(Type.String({ maxLength: 4096, description: 'fleet query: only events of devices matching it' })),
            lastEventId: Type.Optional(Type.String({ maxLength: 32, description: 'resume after this event id (for clients that cannot send Last-Event-ID)' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.String({ description: 'text/event-stream' }), ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const header = req.headers['last-event-id'];
      const sub = services.events.subscribe(ctxOf(req), {
        types: req.query.types,
        deviceId: req.query.device,
        query: req.query.q,
        lastEventId: (Array.isArray(header) ? header[0] : header) ?? req.query.lastEventId,
        sessionId: req.sessionId,
      });
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no', // nginx: do not buffer the stream
      });
      res.write(`retry: ${RETRY_MS}\n: connected\n\n`);
      void pump(sub, res).catch((err: unknown) => {
        req.log.warn({ err }, 'event stream failed');
        sub.end('error');
        res.destroy();
      });
      return reply;
    },
  );
}

async function pump(sub: EventSubscription, res: ServerResponse): Promise<void> {
  res.on('close', () => sub.end('closed'));
  // A client that stops reading leaves pump waiting for 'drain' that never comes: the end of
  // the subscription (overflow, shutdown) must wake it, or the socket lingers until TCP gives up.
  let wake: (() => void) | undefined;
  sub.onEnded(() => wake?.());
  const heartbeat = setInterval(() => {
    if (!res.writableNeedDrain) res.write(': ping\n\n');
  }, HEARTBEAT_MS);
  try {
    for (;;) {
      const item = await sub.next();
      if (item.kind === 'end') {
        if (item.reason === 'overflow' || (item.reason === 'shutdown' && res.writableNeedDrain)) {
          // The client cannot keep up and its socket is full: a goodbye would never get through.
          res.destroy();
        } else if (item.reason === 'revoked') {
          // The client's next request (an EventSource reconnect) gets the 401 that says why.
          res.end(`event: revoked\ndata: ${JSON.stringify({ reason: 'the API key, user or session of this stream no longer grants access' })}\n\n`, () => res.socket?.destroy());
        } else if (item.reason === 'error') {
          res.end(`event: error\ndata: ${JSON.stringify({ reason: 'the stream’s query filter could not be evaluated; reconnect to resume' })}\n\n`);
        } else if (item.reason === 'shutdown') {
          // Close the connection too, so the server's close does not wait on a keep-alive socket;
          // and do not wait for a client that stops reading just now to take the last bytes.
          const force = setTimeout(() => res.destroy(), SHUTDOWN_FLUSH_MS);
          res.end(() => {
            clearTimeout(force);
            res.socket?.destroy();
          });
        } else if (!res.writableEnded) {
          res.end();
        }
        return;
      }
      const chunk =
        item.kind === 'reset'
          ? `id: ${item.latestId}\nevent: reset\ndata: ${JSON.stringify({ reason: 'events after the given Last-Event-ID are no longer held; reload state and continue from here', oldestId: item.oldestId, resumeFrom: item.latestId })}\n\n`
          : item.events.map(frame).join('');
      if (!res.write(chunk)) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (sub.endReason !== undefined) resolve();
          else void drained(res).then(resolve);
        });
        wake = undefined;
      }
    }
  } finally {
    clearInterval(heartbeat);
  }
}

function frame(e: StreamEvent): string {
  return `id: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`;
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
