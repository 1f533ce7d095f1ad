import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHangar, type RunningHangar } from './support/hangar-process.js';

function run(cmd: string, args: string[], timeoutMs = 15_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

async function waitFor<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}: last ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * One device's journey through a real `hangar serve` with every listener bound: credentials from
 * the REST API, telemetry over MQTT (mosquitto_pub, token and mutual TLS), MQTT.js, HTTP and
 * CoAP (libcoap), presence, and revocation ending the live session.
 */
describe('device connectivity through hangar serve', () => {
  let h: RunningHangar;
  const dir = mkdtempSync(join(tmpdir(), 'hangar-conn-'));
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${h.url}${path}`, { method, headers: { authorization: `Bearer ${h.adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: res.status === 204 ? undefined : ((await res.json()) as any) };
  };
  const latest = async (id: string) => (await api('GET', `/api/v1/devices/${id}/telemetry/latest`)).body;

  beforeAll(async () => {
    h = await startHangar({ args: ['--mqtt-port', '0', '--mqtts-port', '0', '--https-port', '0', '--coap-port', '0', '--coaps-port', '0'] });
    for (const id of ['conn-token', 'conn-cert']) expect((await api('POST', '/api/v1/devices', { id, type: 'sensor' })).status).toBe(201);
  });
  afterAll(async () => {
    await h?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists every listener in the listening line', () => {
    for (const k of ['http', 'https', 'mqtt', 'mqtts', 'coap', 'coaps']) expect(typeof h.endpoints[k]).toBe('number');
  });

  it('takes QoS 1 telemetry from mosquitto_pub with a token, over MQTT 3.1.1 and 5', async () => {
    const cred = (await api('POST', '/api/v1/devices/conn-token/credentials', { type: 'token' })).body;
    const base = ['-h', '127.0.0.1', '-p', String(h.endpoints.mqtt), '-i', 'conn-token', '-u', 'conn-token', '-P', cred.token, '-q', '1', '-t', 'devices/conn-token/telemetry'];
    expect((await run('mosquitto_pub', [...base, '-m', '{"temp":21.5}'])).code).toBe(0);
    expect((await run('mosquitto_pub', [...base, '-V', 'mqttv5', '-m', '{"hum":40}'])).code).toBe(0);
    const values = await waitFor(() => latest('conn-token'), (v) => JSON.stringify(v).includes('hum'), 'latest values');
    expect(JSON.stringify(values)).toContain('21.5');
    const refused = await run('mosquitto_pub', [...base.slice(0, 8), '-P', 'wrong', '-q', '1', '-t', 'devices/conn-token/telemetry', '-m', '{}']);
    expect(refused.code).not.toBe(0);
  });

  it('takes telemetry over MQTTS with a Hangar-issued client certificate, pinned to /pki/server-ca.pem', async () => {
    const cred = (await api('POST', '/api/v1/devices/conn-cert/credentials', { type: 'x509' })).body;
    writeFileSync(join(dir, 'server-ca.pem'), await (await fetch(`${h.url}/pki/server-ca.pem`)).text());
    writeFileSync(join(dir, 'dev.pem'), cred.certificatePem);
    writeFileSync(join(dir, 'dev.key'), cred.privateKeyPem);
    const res = await run('mosquitto_pub', [
      '-h', 'localhost', '-p', String(h.endpoints.mqtts), '--cafile', join(dir, 'server-ca.pem'), '--cert', join(dir, 'dev.pem'), '--key', join(dir, 'dev.key'),
      '-i', 'conn-cert', '-q', '1', '-V', 'mqttv5', '-t', 'devices/conn-cert/telemetry', '-m', '{"volt":3.3}',
    ]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    await waitFor(() => latest('conn-cert'), (v) => JSON.stringify(v).includes('3.3'), 'mTLS telemetry');
  });

  it('takes telemetry over HTTP and CoAP with the device token', async () => {
    const cred = (await api('POST', '/api/v1/devices/conn-token/credentials', { type: 'token' })).body;
    const http = await fetch(`${h.url}/device/v1/telemetry`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`conn-token:${cred.token}`).toString('base64')}`, 'content-type': 'application/json' },
      body: '{"pressure":1013}',
    });
    expect(http.status).toBe(200);
    const coap = await run('coap-client-notls', ['-m', 'post', '-t', '50', '-e', '{"lux":300}', `coap://127.0.0.1:${h.endpoints.coap}/device/v1/telemetry?device=conn-token&token=${encodeURIComponent(cred.token)}`]);
    expect(coap.code).toBe(0);
    expect(coap.stderr + coap.stdout).not.toMatch(/4\.\d\d|5\.\d\d/);
    await waitFor(() => latest('conn-token'), (v) => JSON.stringify(v).includes('300') && JSON.stringify(v).includes('1013'), 'HTTP and CoAP telemetry');
  });

  it('takes telemetry over CoAP on DTLS (coaps) with a PSK credential, no token in the URI', async () => {
    // libcoap 4.3 takes the key as a string; the operator supplies its bytes in hex.
    const key = 'e2e-coaps-key-01';
    const cred = (await api('POST', '/api/v1/devices/conn-token/credentials', { type: 'psk', identity: 'conn-token-psk', key: Buffer.from(key).toString('hex') })).body;
    expect(cred).toMatchObject({ type: 'psk', identity: 'conn-token-psk' });
    const coaps = await run('coap-client-openssl', ['-u', 'conn-token-psk', '-k', key, '-m', 'post', '-t', '50', '-e', '{"dtls":1}', `coaps://127.0.0.1:${h.endpoints.coaps}/device/v1/telemetry`]);
    expect(coaps.stderr + coaps.stdout).not.toMatch(/4\.\d\d|5\.\d\d|fail/i);
    await waitFor(() => latest('conn-token'), (v) => JSON.stringify(v).includes('"dtls"'), 'DTLS telemetry');
  });

  it('shows a connected MQTT.js device online, and ends its session within a second of revoking its credential', async () => {
    const cred = (await api('POST', '/api/v1/devices/conn-token/credentials', { type: 'token' })).body;
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${h.endpoints.mqtt}`, { clientId: 'conn-token', username: 'conn-token', password: cred.token, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 });
    try {
      await client.publishAsync('devices/conn-token/telemetry', '{"temp":22}', { qos: 1 });
      const presence = await waitFor(() => api('GET', '/api/v1/devices/conn-token/presence'), (r) => r.body?.online === true && r.body?.protocol === 'mqtt', 'online over MQTT');
      expect(presence.body.remoteAddress).toMatch(/127\.0\.0\.1/);
      const closed = new Promise<number>((resolve) => client.once('close', () => resolve(Date.now())));
      const started = Date.now();
      expect((await api('DELETE', `/api/v1/devices/conn-token/credentials/${cred.id}`)).status).toBe(204);
      expect((await closed) - started).toBeLessThan(1000);
    } finally {
      client.end(true);
    }
  });
});
