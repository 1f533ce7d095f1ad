import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpensslWorkspace } from '../../testing/openssl.js';
import { startMqttTestbed, until, type MqttTestbed } from './gateway-test-fixture.js';

/** Real peers: Debian's mosquitto-clients, over TCP and over TLS with Hangar-issued client certificates. */
let tb: MqttTestbed;
let ws: OpensslWorkspace;

beforeAll(async () => {
  ws = new OpensslWorkspace();
  // A throwaway server certificate for 127.0.0.1, signed by a test CA the clients trust.
  await ws.ca('srvca');
  await ws.ok(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-subj', '/CN=localhost', '-out', 'server.csr']);
  ws.write('san.ext', 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await ws.ok(['x509', '-req', '-in', 'server.csr', '-CA', 'srvca.pem', '-CAkey', 'srvca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.pem']);
  tb = await startMqttTestbed({ tls: { key: readFileSync(ws.path('server.key')), cert: readFileSync(ws.path('server.pem')) } });
});
afterAll(async () => {
  await tb.close();
  ws.cleanup();
});

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 15_000 }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

async function x509Device(id: string): Promise<{ cert: string; key: string; credentialId: string }> {
  expect((await tb.th.call('POST', '/api/v1/devices', { body: { id } })).status).toBe(201);
  const cred = await tb.th.call('POST', `/api/v1/devices/${id}/credentials`, { body: { type: 'x509' } });
  expect(cred.status).toBe(201);
  return { cert: ws.write(`${id}.pem`, cred.body.certificatePem), key: ws.write(`${id}.key`, cred.body.privateKeyPem), credentialId: cred.body.id };
}

describe.each(['mqttv311', 'mqttv5'])('mosquitto clients (%s)', (v) => {
  it('publish telemetry with a token over TCP', async () => {
    const id = `mosq-tcp-${v}`;
    const { token } = await tb.device(id);
    const r = await run('mosquitto_pub', ['-V', v, '-h', '127.0.0.1', '-p', String(tb.port), '-i', id, '-u', id, '-P', token, '-q', '1', '-t', `devices/${id}/telemetry`, '-m', '{"temp":20}']);
    expect(r.code, r.stderr).toBe(0);
    expect(tb.telemetry.calls.find((c) => c.device.deviceId === id)?.payload.toString()).toBe('{"temp":20}');
  });

  it('publish with a Hangar-issued client certificate over TLS', async () => {
    const id = `mosq-tls-${v}`;
    const dev = await x509Device(id);
    const r = await run('mosquitto_pub', ['-V', v, '-h', '127.0.0.1', '-p', String(tb.tlsPort), '--cafile', ws.path('srvca.pem'), '--cert', dev.cert, '--key', dev.key, '-i', id, '-q', '1', '-t', `devices/${id}/telemetry`, '-m', '{"v":1}']);
    expect(r.code, r.stderr).toBe(0);
    const call = tb.telemetry.calls.find((c) => c.device.deviceId === id);
    expect(call?.device.credentialId).toBe(dev.credentialId);
  });

  it('receives a downlink with mosquitto_sub', async () => {
    const id = `mosq-sub-${v}`;
    const { token } = await tb.device(id);
    const sub = spawn('mosquitto_sub', ['-V', v, '-h', '127.0.0.1', '-p', String(tb.port), '-i', id, '-u', id, '-P', token, '-q', '1', '-C', '1', '-t', `devices/${id}/commands/+`]);
    let out = '';
    sub.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => sub.once('exit', resolve));
    try {
      await until(() => tb.subscriptions.some((s) => s.deviceId === id), 'mosquitto_sub subscribed');
      expect(tb.gateway.publishToDevice('default', id, 'commands/c9', '{"name":"blink"}')).toBe('delivered');
      expect(await exited).toBe(0);
      expect(out.trim()).toBe('{"name":"blink"}');
    } finally {
      sub.kill();
    }
  });
});

describe('mosquitto clients refused', () => {
  it('a certificate from a CA Hangar does not trust', async () => {
    const id = 'mosq-rogue';
    await tb.device(id);
    await ws.ca('rogue');
    const rogue = await ws.signedBy('rogue', 'rogue-dev', id);
    const certPath = ws.write('rogue-dev.pem', rogue.certPem);
    const before = tb.gateway.stats().counters.connections_refused;
    const r = await run('mosquitto_pub', ['-V', 'mqttv5', '-h', '127.0.0.1', '-p', String(tb.tlsPort), '--cafile', ws.path('srvca.pem'), '--cert', certPath, '--key', rogue.keyPath, '-i', id, '-q', '1', '-t', `devices/${id}/telemetry`, '-m', '{}']);
    expect(r.code).not.toBe(0);
    expect(tb.gateway.stats().counters.connections_refused).toBe(before + 1);
    expect(tb.telemetry.calls.some((c) => c.device.deviceId === id)).toBe(false);
  });

  it('a token over TLS without a client certificate works; a publish to another device is refused', async () => {
    const id = 'mosq-tls-token';
    const { token } = await tb.device(id);
    const ok = await run('mosquitto_pub', ['-V', 'mqttv5', '-h', '127.0.0.1', '-p', String(tb.tlsPort), '--cafile', ws.path('srvca.pem'), '-i', id, '-u', id, '-P', token, '-q', '1', '-t', `devices/${id}/logs`, '-m', 'hello']);
    expect(ok.code, ok.stderr).toBe(0);
    const before = tb.gateway.stats().counters.publish_refused;
    await run('mosquitto_pub', ['-V', 'mqttv5', '-h', '127.0.0.1', '-p', String(tb.tlsPort), '--cafile', ws.path('srvca.pem'), '-i', id, '-u', id, '-P', token, '-q', '1', '-t', 'devices/other/logs', '-m', 'x']);
    expect(tb.gateway.stats().counters.publish_refused).toBe(before + 1);
  });
});
