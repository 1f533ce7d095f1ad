/**
 * The `--coaps-port` listener as `createHangar` wires it (`coap-listeners.ts`): the CoAP device
 * API over DTLS, where the handshake — a PSK credential issued over REST, or an X.509 device
 * certificate — authenticates the device and no token is needed in the URI. Third-party clients
 * only: libcoap's coap-client-openssl and coap-client-gnutls, and node-dtls-client for a session
 * that stays open while its credential is revoked.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dtls } from 'node-dtls-client';
import { CoapCode, encodeMessage, parseMessage } from '@hangar/protocol/coap';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MasterKey } from '../../core/identity/master-key.js';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { eventually, runClient } from '../dtls/dtls-fixture.js';

/** libcoap 4.3 takes the key as a string: the operator supplies that string's bytes as hex. */
const ASCII_KEY = 'libcoap-psk-0001';
const hex = (s: string): string => Buffer.from(s, 'ascii').toString('hex');

describe('CoAP device API over DTLS (--coaps-port)', () => {
  let t: TestHangar;
  let port: number;
  let dir: string;

  beforeAll(async () => {
    t = await startTestHangar('sqlite', { masterKey: MasterKey.forTests() });
    port = await t.hangar.coapListeners.secure.listen(0, '127.0.0.1');
    dir = mkdtempSync(join(tmpdir(), 'hangar-coaps-'));
    for (const id of ['psk-dev', 'cert-dev', 'live-dev', 'other-dev']) expect((await t.call('POST', '/api/v1/devices', { body: { id } })).status).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const latest = async (deviceId: string): Promise<Record<string, { value: unknown }>> => (await t.call('GET', `/api/v1/devices/${deviceId}/telemetry/latest`)).body.values;

  for (const client of ['coap-client-openssl', 'coap-client-gnutls']) {
    it(`takes telemetry from ${client} with a PSK and no token in the URI`, async () => {
      const identity = `psk-dev@${client}`;
      expect((await t.call('POST', '/api/v1/devices/psk-dev/credentials', { body: { type: 'psk', identity, key: hex(ASCII_KEY) } })).status).toBe(201);
      const value = client.length; // differs per client, so each run proves its own write
      const result = await runClient(client, ['-u', identity, '-k', ASCII_KEY, '-m', 'post', '-t', '50', '-e', JSON.stringify({ temp: value }), `coaps://127.0.0.1:${port}/device/v1/telemetry`]);
      expect(result.output).not.toMatch(/4\.0[0-9]|5\.0[0-9]/);
      // Telemetry is acknowledged once durably written: the latest value is there when the client is done.
      expect((await latest('psk-dev')).temp?.value).toBe(value);
    });
  }

  it('serves a Block2 read of the desired twin to a device with an X.509 certificate (ECDHE_ECDSA)', async () => {
    const cred = (await t.call('POST', '/api/v1/devices/cert-dev/credentials', { body: { type: 'x509' } })).body;
    writeFileSync(join(dir, 'cert.pem'), cred.certificatePem);
    writeFileSync(join(dir, 'key.pem'), cred.privateKeyPem);
    const big = 'x'.repeat(3000);
    expect((await t.call('PATCH', '/api/v1/devices/cert-dev/twin', { body: { desired: { big } } })).status).toBe(200);
    const result = await runClient('coap-client-openssl', ['-c', join(dir, 'cert.pem'), '-j', join(dir, 'key.pem'), '-n', '-b', '64', '-m', 'get', `coaps://127.0.0.1:${port}/device/v1/twin/desired`], { until: new RegExp(`${big}"`) });
    expect(result.output).toContain(`"big":"${big}"`);
  });

  it('refuses a revoked device certificate at the handshake', async () => {
    const cred = (await t.call('POST', '/api/v1/devices/cert-dev/credentials', { body: { type: 'x509' } })).body;
    writeFileSync(join(dir, 'revoked.pem'), cred.certificatePem);
    writeFileSync(join(dir, 'revoked.key'), cred.privateKeyPem);
    const args = ['-c', join(dir, 'revoked.pem'), '-j', join(dir, 'revoked.key'), '-n', '-m', 'get', `coaps://127.0.0.1:${port}/device/v1/twin/desired`];
    expect((await runClient('coap-client-openssl', args, { until: /\$version/ })).output).toContain('$version');
    expect((await t.call('DELETE', `/api/v1/devices/cert-dev/credentials/${cred.id}`)).status).toBe(204);
    const refused = await runClient('coap-client-openssl', args);
    expect(refused.output).not.toContain('$version');
    expect(refused.output).toMatch(/certificate revoked|alert/i);
  });

  it('refuses a wrong key and an unknown identity at the handshake', async () => {
    expect((await t.call('POST', '/api/v1/devices/other-dev/credentials', { body: { type: 'psk', identity: 'other-dev-1', key: hex(ASCII_KEY) } })).status).toBe(201);
    for (const [identity, key] of [['other-dev-1', 'not-the-key-0001'], ['nobody-at-all', ASCII_KEY]] as const) {
      const result = await runClient('coap-client-openssl', ['-u', identity, '-k', key, '-m', 'get', `coaps://127.0.0.1:${port}/device/v1/twin/desired`]);
      expect(result.output).not.toContain('$version');
    }
  });

  it('counts wrong keys against the identity: past the limit even the right key is refused for a while', async () => {
    expect((await t.call('POST', '/api/v1/devices/other-dev/credentials', { body: { type: 'psk', identity: 'other-dev-guessed', key: hex(ASCII_KEY) } })).status).toBe(201);
    const get = (key: string) => runClient('coap-client-openssl', ['-u', 'other-dev-guessed', '-k', key, '-m', 'get', `coaps://127.0.0.1:${port}/device/v1/twin/desired`]);
    expect((await get(ASCII_KEY)).output).toContain('$version');
    for (let i = 0; i < 5; i++) expect((await get(`wrong-guess-000${i}`)).output).not.toContain('$version');
    expect((await get(ASCII_KEY)).output).not.toContain('$version');
  });

  it('ends a live session within a second of its PSK being revoked, and refuses it afterwards', async () => {
    const cred = (await t.call('POST', '/api/v1/devices/live-dev/credentials', { body: { type: 'psk' } })).body;
    const socket = dtls.createSocket({ type: 'udp4', address: '127.0.0.1', port, psk: { [cred.identity]: Buffer.from(cred.key, 'hex') }, timeout: 10_000, ciphers: ['TLS_PSK_WITH_AES_128_CCM_8'] });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const answer = await new Promise<Buffer>((resolve, reject) => {
      socket.on('connected', () =>
        socket.send(encodeMessage({ type: 'CON', code: CoapCode.GET, messageId: 7, token: Buffer.from([1, 2]), options: ['device', 'v1', 'twin', 'desired'].map((s) => ({ number: 11, value: Buffer.from(s) })), payload: Buffer.alloc(0) })),
      );
      socket.on('message', (msg: Buffer) => resolve(msg));
      socket.on('error', reject);
    });
    expect(parseMessage(answer).code).toBe(CoapCode.Content);
    expect(t.hangar.coapListeners.dtls.stats().sessions).toBeGreaterThanOrEqual(1);
    const sessions = t.hangar.coapListeners.dtls.stats().sessions;
    expect((await t.call('DELETE', `/api/v1/devices/live-dev/credentials/${cred.id}`)).status).toBe(204);
    // The server's close_notify ends the client's session (node-dtls-client emits 'close'); the
    // revocation's event does it, not an idle timer (minutes).
    await closed;
    await eventually(() => t.hangar.coapListeners.dtls.stats().sessions < sessions);
    const again = await runClient('coap-client-openssl', ['-u', cred.identity, '-k', 'unused-anyway-00', '-m', 'get', `coaps://127.0.0.1:${port}/device/v1/twin/desired`]);
    expect(again.output).not.toContain('$version');
  });
});
