/**
 * A PSK credential issued over REST, used by a real DTLS client (openssl s_client) against the
 * DTLS server (transports/dtls) with `DeviceAuthenticator.resolvePsk` as its PSK lookup — the
 * wiring the composition root does. Revocation ends the session (on `credential.revoked`) and
 * refuses the next handshake; a wrong key is reported back to the authenticator's throttle.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceIdentity } from '../core/identity/device-authenticator.js';
import { MasterKey } from '../core/identity/master-key.js';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';
import type { HandshakeFailure } from '../transports/dtls/dtls-options.js';
import { DtlsServer } from '../transports/dtls/index.js';
import { eventually, runClient } from '../transports/dtls/dtls-fixture.js';

function opensslPsk(port: number, identity: string, keyHex: string): string[] {
  return ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${port}`, '-psk_identity', identity, '-psk', keyHex, '-cipher', 'PSK-AES128-CCM8@SECLEVEL=0'];
}

describe('PSK credentials in a DTLS handshake', () => {
  let t: TestHangar;
  let server: DtlsServer<DeviceIdentity>;
  let port: number;
  const failures: HandshakeFailure[] = [];
  const principals: DeviceIdentity[] = [];

  beforeAll(async () => {
    t = await startTestHangar('sqlite', { masterKey: MasterKey.forTests() });
    const auth = t.hangar.authenticator;
    server = new DtlsServer<DeviceIdentity>({
      logger: pino({ level: 'silent' }),
      psk: async (identity, source) => {
        const resolved = await auth.resolvePsk(identity, source);
        return resolved && { key: resolved.key, principal: resolved.identity };
      },
      onHandshakeFailure: (f) => {
        failures.push(f);
        if (f.pskIdentity !== undefined && (f.reason === 'bad_record_mac' || f.reason === 'decrypt_error')) auth.pskHandshakeFailed(f.pskIdentity, f.source);
      },
    });
    server.onDatagram((data, peer) => {
      if (peer.secure) principals.push(peer.secure.principal);
      server.send(Buffer.concat([Buffer.from('echo:'), data]), peer);
    });
    t.hangar.bus.subscribe('credential.revoked', (e) => void server.closeSessions((p) => p.credentialId === e.credentialId));
    port = await server.listen(0, '127.0.0.1');
    for (const id of ['dtls-1', 'dtls-2']) expect((await t.call('POST', '/api/v1/devices', { body: { id } })).status).toBe(201);
  });
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  it('completes a handshake with the identity and generated key REST answered, as that device', async () => {
    const cred = (await t.call('POST', '/api/v1/devices/dtls-1/credentials', { body: { type: 'psk' } })).body;
    const result = await runClient('openssl', opensslPsk(port, cred.identity, cred.key), { input: 'hello\n', until: /echo:hello/ });
    expect(result.output).toContain('Cipher is PSK-AES128-CCM8');
    expect(result.output).toContain('echo:hello');
    expect(principals.at(-1)).toEqual({ tenantId: 'default', deviceId: 'dtls-1', credentialId: cred.id });
  });

  it('completes a handshake with a key the operator supplied', async () => {
    const key = 'c0ffee00112233445566778899aabbccddeeff0011223344';
    const cred = (await t.call('POST', '/api/v1/devices/dtls-2/credentials', { body: { type: 'psk', identity: 'dtls-2@factory', key } })).body;
    const result = await runClient('openssl', opensslPsk(port, 'dtls-2@factory', key), { input: 'hi\n', until: /echo:hi/ });
    expect(result.output).toContain('echo:hi');
    expect(principals.at(-1)).toMatchObject({ deviceId: 'dtls-2', credentialId: cred.id });
  });

  it('fails a handshake with a wrong key or an unknown identity, and counts the wrong key', async () => {
    const cred = (await t.call('POST', '/api/v1/devices/dtls-1/credentials', { body: { type: 'psk', identity: 'dtls-1-wrong' } })).body;
    const wrongKey = cred.key.replace(/^./, (c: string) => (c === '0' ? '1' : '0'));
    const before = failures.length;
    const wrong = await runClient('openssl', opensslPsk(port, 'dtls-1-wrong', wrongKey), { input: 'x\n', until: /alert|error|errno/i });
    expect(wrong.output).not.toContain('echo:x');
    await eventually(() => failures.length > before);
    expect(failures.slice(before)).toContainEqual(expect.objectContaining({ pskIdentity: 'dtls-1-wrong', reason: expect.stringMatching(/^(bad_record_mac|decrypt_error)$/) }));
    const unknown = await runClient('openssl', opensslPsk(port, 'nobody-here', cred.key), { input: 'x\n', until: /alert|error|errno/i });
    expect(unknown.output).not.toContain('echo:x');
  });

  it('ends the live session when the PSK is revoked, and refuses the next handshake', async () => {
    const cred = (await t.call('POST', '/api/v1/devices/dtls-2/credentials', { body: { type: 'psk', identity: 'dtls-2-revoked' } })).body;
    // A client that stays connected (stdin left open) until its session is closed from the server.
    const live = runClient('openssl', opensslPsk(port, 'dtls-2-revoked', cred.key), { input: 'first\n', until: /echo:first\n[\s\S]*closed/, timeoutMs: 30_000 });
    await eventually(() => principals.some((p) => p.credentialId === cred.id));
    const sessions = server.stats().sessions;
    expect((await t.call('DELETE', `/api/v1/devices/dtls-2/credentials/${cred.id}`)).status).toBe(204);
    await eventually(() => server.stats().sessions < sessions);
    // openssl prints "closed" when the server's close_notify arrives (its stdin is still open).
    expect((await live).output).toMatch(/echo:first\n[\s\S]*closed/);
    const again = await runClient('openssl', opensslPsk(port, 'dtls-2-revoked', cred.key), { input: 'x\n', until: /alert|error|errno/i });
    expect(again.output).not.toContain('echo:x');
  });
});
