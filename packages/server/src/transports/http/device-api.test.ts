import { request as httpsRequest, createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpApp } from '../../api/http-app.js';
import { Metrics } from '../../api/metrics.js';
import type { DeviceIdentity } from '../../core/identity/device-authenticator.js';
import type { PresenceTracker } from '../../core/presence/presence-tracker.js';
import type { TelemetryFormat, TelemetryIngest } from '../../core/telemetry/telemetry-ingest.js';
import { HangarError } from '../../errors.js';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { deviceApiRoutes } from './device-api.js';

/** Stands in for the telemetry service: records what it was handed and refuses non-JSON. */
class RecordingIngest implements TelemetryIngest {
  readonly calls: Array<{ device: DeviceIdentity; body: string; format: TelemetryFormat }> = [];
  async ingest(device: DeviceIdentity, payload: Uint8Array, format: TelemetryFormat): Promise<{ accepted: number }> {
    const body = Buffer.from(payload).toString('utf8');
    if (format === 'json') {
      try {
        JSON.parse(body);
      } catch {
        throw new HangarError('VALIDATION_FAILED', 'telemetry is not valid JSON');
      }
    }
    if (payload.length > 256 * 1024) throw new HangarError('PAYLOAD_TOO_LARGE', 'over 256 KiB');
    this.calls.push({ device, body, format });
    return { accepted: 1 };
  }
}

class RecordingPresence implements PresenceTracker {
  readonly touches: Array<{ deviceId: string; protocol: string }> = [];
  async connected(): Promise<string> {
    return 's';
  }
  async disconnected(): Promise<void> {}
  touched(device: DeviceIdentity, protocol: string): void {
    this.touches.push({ deviceId: device.deviceId, protocol });
  }
  seen(): void {}
}

describe('HTTP device API', () => {
  let t: TestHangar;
  let app: FastifyInstance;
  let https: Server;
  let httpsPort: number;
  const ingest = new RecordingIngest();
  const presence = new RecordingPresence();
  let token: string;
  let cert: { certificatePem: string; privateKeyPem: string; caPem: string };

  beforeAll(async () => {
    t = await startTestHangar('sqlite');
    const h = t.hangar;
    app = await buildHttpApp({ services: h.services, logger: pino({ level: 'silent' }), metrics: new Metrics(), ready: async () => {}, serverCaPem: h.serverTls.caPem });
    await deviceApiRoutes(app, { authenticator: h.authenticator, telemetry: ingest, presence });
    await app.ready();
    https = createHttpsServer({ key: h.serverTls.privateKeyPem, cert: h.serverTls.certificatePem, requestCert: true, rejectUnauthorized: false }, (req, res) => app.routing(req, res));
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
    httpsPort = (https.address() as AddressInfo).port;
    await t.call('POST', '/api/v1/devices', { body: { id: 'http-dev' } });
    token = (await t.call('POST', '/api/v1/devices/http-dev/credentials', { body: { type: 'token' } })).body.token;
    cert = (await t.call('POST', '/api/v1/devices/http-dev/credentials', { body: { type: 'x509' } })).body;
  });
  afterAll(async () => {
    await new Promise<void>((r) => https.close(() => r()));
    await app.close();
    await t?.close();
  });

  const post = (headers: Record<string, string>, payload: string | Buffer) => app.inject({ method: 'POST', url: '/device/v1/telemetry', headers, payload });
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

  it('takes JSON telemetry with Basic id:token or a bearer token, and marks the device active', async () => {
    const before = ingest.calls.length;
    const a = await post({ authorization: basic('http-dev', token), 'content-type': 'application/json' }, '{"temp":21.5}');
    expect(a.statusCode).toBe(200);
    expect(a.json()).toEqual({ accepted: 1 });
    const b = await post({ authorization: `Bearer ${token}`, 'content-type': 'application/senml+json; charset=utf-8' }, '[{"n":"temp","v":1}]');
    expect(b.statusCode).toBe(200);
    expect(ingest.calls.slice(before).map((c) => [c.device.deviceId, c.format])).toEqual([['http-dev', 'json'], ['http-dev', 'senml+json']]);
    expect(presence.touches.filter((x) => x.deviceId === 'http-dev' && x.protocol === 'http').length).toBeGreaterThanOrEqual(2);
  });

  it('refuses missing, malformed and wrong credentials with 401 problems, and a revoked token with 403', async () => {
    const before = ingest.calls.length;
    const none = await post({ 'content-type': 'application/json' }, '{}');
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({ status: 401, detail: expect.stringContaining('Basic') });
    expect((await post({ authorization: 'Basic !!!', 'content-type': 'application/json' }, '{}')).statusCode).toBe(401);
    expect((await post({ authorization: basic('http-dev', 'dt_wrong'), 'content-type': 'application/json' }, '{}')).statusCode).toBe(401);
    expect((await post({ authorization: basic('other-dev', token), 'content-type': 'application/json' }, '{}')).statusCode).toBe(401);
    const extra = (await t.call('POST', '/api/v1/devices/http-dev/credentials', { body: { type: 'token' } })).body;
    await t.call('DELETE', `/api/v1/devices/http-dev/credentials/${extra.id}`);
    const revoked = await post({ authorization: basic('http-dev', extra.token), 'content-type': 'application/json' }, '{}');
    expect(revoked.statusCode).toBe(403);
    expect(revoked.json().detail).toMatch(/revoked/);
    expect(ingest.calls.length).toBe(before);
  });

  it('answers 429 with Retry-After (the throttle\'s real wait) once a source has failed too often', async () => {
    const guess = (i: number) => app.inject({ method: 'POST', url: '/device/v1/telemetry', remoteAddress: '10.9.8.7', headers: { authorization: basic('http-guess', `dt_guess-${i}`), 'content-type': 'application/json' }, payload: '{}' });
    let last = await guess(0);
    for (let i = 1; i < 12 && last.statusCode !== 429; i++) last = await guess(i);
    expect(last.statusCode).toBe(429);
    const retryAfter = Number(last.headers['retry-after']);
    expect(Number.isInteger(retryAfter) && retryAfter >= 1).toBe(true);
    expect(last.json()).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: expect.any(Number) });
    expect(retryAfter).toBe(Math.ceil(last.json().retryAfterMs / 1000));
  });

  it('answers 415 for other media types, 400 for an empty or invalid body, 413 past the limit', async () => {
    const auth = { authorization: basic('http-dev', token) };
    expect((await post({ ...auth, 'content-type': 'text/plain' }, 'temp=1')).statusCode).toBe(415);
    expect((await post({ ...auth, 'content-type': 'application/json' }, '')).statusCode).toBe(400);
    const bad = await post({ ...auth, 'content-type': 'application/json' }, '{"temp":');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().detail).toMatch(/JSON/);
    expect((await post({ ...auth, 'content-type': 'application/json' }, Buffer.alloc(300 * 1024, 0x20))).statusCode).toBe(413);
  });

  it('authenticates a client certificate over HTTPS, pinned to the installation CA', async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port: httpsPort, servername: 'localhost', path: '/device/v1/telemetry', method: 'POST', ca: t.hangar.serverTls.caPem!, cert: cert.certificatePem, key: cert.privateKeyPem, headers: { 'content-type': 'application/json' } },
        (r) => {
          let body = '';
          r.on('data', (c: Buffer) => (body += c.toString()));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end('{"rssi":-70}');
    });
    expect(res).toEqual({ status: 200, body: '{"accepted":1}' });
    expect(ingest.calls.at(-1)).toMatchObject({ device: { deviceId: 'http-dev' }, body: '{"rssi":-70}' });
  });

  it('serves the installation CA publicly', async () => {
    const res = await app.inject({ method: 'GET', url: '/pki/server-ca.pem' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe(t.hangar.serverTls.caPem);
  });
});
