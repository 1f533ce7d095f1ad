/**
 * The HTTP fallback against a loopback HTTP peer that speaks the device API of DESIGN §5 the
 * way Hangar does (long-poll of desired state and commands, results, reported patches,
 * telemetry, logs), and the way back to MQTT once a broker listens where MQTT was blocked.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startMosquitto, type RunningMosquitto } from '../testing/mosquitto.js';
import { Agent } from './agent.js';

interface Request {
  method: string;
  path: string;
  auth: string | undefined;
  body: unknown;
}

let http: Server;
let base: string;
const requests: Request[] = [];
let desired: Record<string, unknown> = { $version: 4, interval: 7 };
let queued: unknown[] = [{ id: 'cmd-1', name: 'ping', params: null, expiresAt: null, timeoutSec: 5 }];
const waiters = new Set<() => void>();

function answer(res: ServerResponse, status: number, body?: unknown): void {
  res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  const url = new URL(req.url!, 'http://x');
  requests.push({ method: req.method!, path: url.pathname, auth: req.headers.authorization, body: text ? (JSON.parse(text) as unknown) : undefined });
  if (req.headers.authorization !== `Basic ${Buffer.from('dev-http:dt_secret').toString('base64')}`) return answer(res, 401, { status: 401, code: 'UNAUTHENTICATED', detail: 'bad credentials' });
  const wait = Math.min(Number(url.searchParams.get('wait') ?? 0), 60) * 1000;
  const held = async (ready: () => boolean): Promise<boolean> => {
    if (ready()) return true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      function done(): void {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
    });
    return ready();
  };
  if (req.method === 'GET' && url.pathname === '/device/v1/twin/desired') {
    const known = url.searchParams.get('version');
    return (await held(() => known === null || Number(known) !== desired.$version)) ? answer(res, 200, desired) : answer(res, 204);
  }
  if (req.method === 'GET' && url.pathname === '/device/v1/commands') {
    if (!(await held(() => queued.length > 0))) return answer(res, 200, { items: [] });
    const items = queued;
    queued = [];
    return answer(res, 200, { items });
  }
  if (req.method === 'POST' && /^\/device\/v1\/commands\/[^/]+\/result$/.test(url.pathname)) return answer(res, 200, { ok: true });
  if (req.method === 'PATCH' && url.pathname === '/device/v1/twin/reported') {
    if ((requests.at(-1)!.body as { bad?: unknown }).bad !== undefined) return answer(res, 422, { status: 422, code: 'VALIDATION_FAILED', detail: 'bad is not allowed' });
    return answer(res, 200, { $version: 1 });
  }
  if (req.method === 'POST' && (url.pathname === '/device/v1/telemetry' || url.pathname === '/device/v1/logs')) return answer(res, 200, { accepted: 1 });
  answer(res, 404, { status: 404, detail: 'no such route' });
}

function wake(): void {
  for (const w of [...waiters]) w();
}

beforeAll(async () => {
  http = createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterAll(async () => {
  wake();
  http.closeAllConnections();
  await new Promise((r) => http.close(r));
});

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; requests: ${JSON.stringify(requests.map((r) => `${r.method} ${r.path}`))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('HTTP fallback', () => {
  let broker: RunningMosquitto | undefined;
  afterAll(async () => broker?.stop());

  it('serves the device over HTTP while MQTT is blocked, then returns to MQTT', async () => {
    const mqttPort = await freePort();
    const agent = new Agent({
      deviceId: 'dev-http',
      credential: { kind: 'token', token: 'dt_secret' },
      server: `mqtt://127.0.0.1:${mqttPort}`,
      httpUrl: base,
      backoff: { initialMs: 50, maxMs: 300 },
      httpWaitSec: 2,
      httpIdlePollMs: 100,
      facts: { agentVersion: 't' },
    });
    const applied: unknown[] = [];
    agent.onDesired('interval', (v) => void applied.push(v));
    const transports: string[] = [];
    agent.on('transport', (t) => transports.push(t));
    agent.start();
    try {
      await until('HTTP mode', () => agent.transport === 'http');
      // The desired document and the queued command come through the long-polls.
      await until('the desired document applied', () => applied.includes(7));
      const result = await until('the ping result', () => requests.find((r) => r.path === '/device/v1/commands/cmd-1/result'));
      expect(result.body).toMatchObject({ status: 'succeeded', result: { pong: expect.any(Number) } });
      await until('the reported patch', () => requests.find((r) => r.method === 'PATCH' && (r.body as { interval?: number }).interval === 7));
      expect(requests.find((r) => r.method === 'PATCH' && (r.body as { agentVersion?: string }).agentVersion === 't')).toBeDefined();
      // A change while the poll is held is answered at once.
      desired = { $version: 5, interval: 9 };
      wake();
      await until('the change', () => applied.includes(9));
      agent.sendTelemetry({ temp: 20 });
      await until('telemetry over HTTP', () => requests.find((r) => r.path === '/device/v1/telemetry'));
      // MQTT becomes reachable: the agent goes back to it.
      broker = await startMosquitto({ port: mqttPort });
      await until('MQTT again', () => agent.transport === 'mqtt');
      expect(transports).toEqual(['http', 'mqtt']);
      expect(applied).toEqual([7, 9]);
    } finally {
      await agent.stop();
    }
  });

  it('drops a reported patch the server refuses instead of holding back later ones', async () => {
    const agent = new Agent({ deviceId: 'dev-http', credential: { kind: 'token', token: 'dt_secret' }, server: `mqtt://127.0.0.1:${await freePort()}`, httpUrl: base, backoff: { initialMs: 50, maxMs: 300 }, httpWaitSec: 1, httpIdlePollMs: 100 });
    agent.start();
    try {
      await until('HTTP mode', () => agent.transport === 'http');
      agent.reportProperties({ bad: 1 });
      await until('the refusal', () => agent.log.snapshot().find((r) => r.level === 'error' && r.msg.includes('refused reported state')));
      agent.reportProperties({ good: 2 });
      const sent = await until('the next patch', () => requests.find((r) => r.method === 'PATCH' && (r.body as { good?: number }).good === 2));
      expect(sent.body).toEqual({ good: 2 });
    } finally {
      await agent.stop();
    }
  });
});
