import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMqttListener } from '../transports/mqtt/listeners.js';
import { STORE_KINDS } from '../testing/test-store.js';
import { startListeningHangar, type ListeningHangar } from './events-fixture.js';

const SCRAPE_TOKEN = 'scrape-token-0123456789abcdef';

/** The value of one sample of the Prometheus text page, or undefined when absent. */
function sample(page: string, name: string, labels = ''): number | undefined {
  const line = page.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function eventually(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(STORE_KINDS)('/metrics on %s', (kind) => {
  let t: ListeningHangar;
  // Takes webhook deliveries and never answers: they stay in the outbox (pending).
  let blackHole: Server;
  const held: Socket[] = [];

  beforeAll(async () => {
    blackHole = createServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    t = await startListeningHangar(kind, {
      metrics: { token: SCRAPE_TOKEN },
      // Readings stay in the inbox for the whole test, so its gauge can be checked exactly.
      telemetry: { compactor: { everyMs: 3_600_000, chunk: 1_000_000 } },
      webhooks: { baseDelayMs: 20, maxDelayMs: 60, pollMs: 20, maxAttempts: 1, timeoutMs: 60_000, flushMs: 5 },
    });
  });
  afterAll(async () => {
    for (const s of held) s.destroy();
    await t?.close();
    await new Promise((resolve) => blackHole.close(resolve));
  });

  const scrape = (headers: Record<string, string> = {}): Promise<Response> => fetch(`${t.base}/metrics`, { headers });

  it('answers 401 with a problem document without a token', async () => {
    const res = await scrape();
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await res.json()) as { code: string }).code).toBe('UNAUTHENTICATED');
    expect((await scrape({ authorization: 'Bearer not-a-key' })).status).toBe(401);
  });

  it('answers 200 to the scrape token, to an API key of any role and to a session', async () => {
    expect((await scrape({ authorization: `Bearer ${SCRAPE_TOKEN}` })).status).toBe(200);
    expect((await scrape({ authorization: `Bearer ${t.adminToken}` })).status).toBe(200);
    const viewer = (await t.call('POST', '/api/v1/api-keys', { body: { name: 'scraper', role: 'viewer' } })).body.token as string;
    const res = await scrape({ authorization: `Bearer ${viewer}` });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const login = await fetch(`${t.base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: viewer }) });
    expect((await scrape({ cookie: login.headers.get('set-cookie')!.split(';')[0]! })).status).toBe(200);
  });

  it('reports the fleet gauges operators alert on, with the values of the current state', async () => {
    const auth = { authorization: `Bearer ${SCRAPE_TOKEN}` };
    const page = async (): Promise<string> => (await scrape(auth)).text();
    const before = await page();
    for (const name of ['hangar_devices_online', 'hangar_webhook_deliveries_pending', 'hangar_webhook_deliveries_dead', 'hangar_telemetry_inbox_readings', 'hangar_mqtt_connections', 'hangar_coap_observations']) {
      expect(sample(before, name), name).toBe(0);
    }
    for (const severity of ['critical', 'major', 'minor', 'warning', 'info']) expect(sample(before, 'hangar_alerts_open', `{severity="${severity}"}`)).toBe(0);

    // Two devices: one online over HTTP with three readings, one of which raises a critical alert.
    expect((await t.call('POST', '/api/v1/alert-rules', { body: { name: 'Hot', severity: 'critical', condition: 'telemetry.temp > 80', target: 'type = "sensor"' } })).status).toBe(201);
    for (const id of ['m-1', 'm-2']) expect((await t.call('POST', '/api/v1/devices', { body: { id, type: 'sensor' } })).status).toBe(201);
    const token = (await t.call('POST', '/api/v1/devices/m-1/credentials', { body: { type: 'token' } })).body.token as string;
    const sent = await fetch(`${t.base}/device/v1/telemetry`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"temp":90,"hum":40,"door":"open"}' });
    expect(sent.status).toBe(200);

    // One webhook whose receiver never answers (pending), one whose receiver refuses (dead after its one attempt).
    const pendingHook = await t.call('POST', '/api/v1/webhooks', { body: { url: `http://127.0.0.1:${(blackHole.address() as AddressInfo).port}/hook`, eventTypes: ['device.deleted'] } });
    const deadHook = await t.call('POST', '/api/v1/webhooks', { body: { url: 'http://127.0.0.1:1/hook', eventTypes: ['device.deleted'] } });
    expect((await t.call('POST', `/api/v1/webhooks/${pendingHook.body.id as string}/test`)).status).toBe(202);
    expect((await t.call('POST', `/api/v1/webhooks/${deadHook.body.id as string}/test`)).status).toBe(202);

    // The second device holds an MQTT session.
    const listener = await startMqttListener(t.hangar.mqtt, { port: 0, host: '127.0.0.1' });
    const token2 = (await t.call('POST', '/api/v1/devices/m-2/credentials', { body: { type: 'token' } })).body.token as string;
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${listener.port}`, { clientId: 'm-2', username: 'm-2', password: token2, protocolVersion: 5, reconnectPeriod: 0 });
    let after: string;
    try {
      await eventually('the gauges to show the new state', async () => {
        const p = await page();
        return sample(p, 'hangar_devices_online') === 2 && sample(p, 'hangar_alerts_open', '{severity="critical"}') === 1 && sample(p, 'hangar_webhook_deliveries_dead') === 1;
      });
      after = await page();
    } finally {
      await client.endAsync();
      await listener.close();
    }
    expect(sample(after, 'hangar_devices_online')).toBe(2);
    expect(sample(after, 'hangar_device_sessions', '{protocol="mqtt"}')).toBe(1);
    expect(sample(after, 'hangar_alerts_open', '{severity="critical"}')).toBe(1);
    expect(sample(after, 'hangar_alerts_open', '{severity="major"}')).toBe(0);
    expect(sample(after, 'hangar_webhook_deliveries_pending')).toBe(1);
    expect(sample(after, 'hangar_webhook_deliveries_dead')).toBe(1);
    expect(sample(after, 'hangar_telemetry_inbox_readings')).toBe(3);
    expect(sample(after, 'hangar_device_sessions', '{protocol="http"}')).toBe(1);
    expect(sample(after, 'hangar_mqtt_connections')).toBe(1);
  });
});

describe('/metrics with --metrics-public', () => {
  let t: ListeningHangar;
  beforeAll(async () => {
    t = await startListeningHangar('sqlite', { metrics: { public: true } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers 200 without a token', async () => {
    const res = await fetch(`${t.base}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('hangar_devices_online 0');
  });
});
