import pino from 'pino';
import type { Dialect } from '../../core/stores.js';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { CoapServer, routeByFirstSegment } from '../coap/index.js';

/** Test support: a whole Hangar with its LwM2M handlers on a real UDP CoAP server (loopback, ephemeral port), and a settable clock. */
export interface Lwm2mFixture {
  t: TestHangar;
  server: CoapServer;
  port: number;
  clock: { now: number };
  createDevice(id: string): Promise<void>;
  close(): Promise<void>;
}

export async function startLwm2mFixture(kind: Dialect = 'sqlite'): Promise<Lwm2mFixture> {
  const clock = { now: Date.now() };
  const t = await startTestHangar(kind, { now: () => clock.now });
  const server = new CoapServer({ handler: routeByFirstSegment({ ...t.hangar.lwm2m.handlers }), logger: pino({ level: 'silent' }), timing: { ackTimeoutMs: 300, maxRetransmit: 2 } });
  const port = await server.listen(0, '127.0.0.1');
  t.hangar.lwm2mLink.useRequester(server);
  t.hangar.lwm2mLink.setTimeout(5000);
  return {
    t,
    server,
    port,
    clock,
    async createDevice(id) {
      const res = await t.call('POST', '/api/v1/devices', { body: { id } });
      if (res.status !== 201) throw new Error(`device ${id}: ${res.status} ${JSON.stringify(res.body)}`);
    },
    async close() {
      await server.close();
      await t.close();
    },
  };
}

/** Polls until `check` holds (no fixed sleeps for correctness). */
export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
