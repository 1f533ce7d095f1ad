import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dtls } from 'node-dtls-client';
import {
  eventually,
  makePki,
  opensslCertArgs,
  opensslPskArgs,
  PSK_IDENTITY,
  PSK_KEY,
  runClient,
  startHarness,
  UdpProxy,
  verifyBySubject,
  type Harness,
  type Pki,
} from './dtls-fixture.js';

// Third-party clients against the DTLS server over loopback UDP (docs/dtls.md, "Interoperability").

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('PSK (TLS_PSK_WITH_AES_128_CCM_8)', () => {
  it('completes a handshake with openssl s_client, extended master secret included, and carries data both ways', async () => {
    harness = await startHarness();
    const result = await runClient('openssl', opensslPskArgs(harness.port), { input: 'hello\n', until: /echo:hello/ });
    expect(result.output).toContain('Cipher is PSK-AES128-CCM8');
    expect(result.output).toContain('Extended master secret: yes');
    expect(result.output).toContain('echo:hello');
    expect(harness.received[0]).toMatchObject({ principal: PSK_IDENTITY });
    expect(harness.received[0]!.key).toMatch(/^dtls:[0-9a-f]{64}$/);
  });

  it('completes a handshake with node-dtls-client 2.0.3', async () => {
    harness = await startHarness();
    const socket = dtls.createSocket({
      type: 'udp4',
      address: '127.0.0.1',
      port: harness.port,
      psk: { [PSK_IDENTITY]: PSK_KEY },
      timeout: 10_000,
      ciphers: ['TLS_PSK_WITH_AES_128_CCM_8'],
    });
    const answer = await new Promise<Buffer>((resolve, reject) => {
      socket.on('connected', () => socket.send(Buffer.from('from node-dtls-client')));
      socket.on('message', (msg: Buffer) => resolve(msg));
      socket.on('error', reject);
    });
    expect(answer.toString()).toBe('echo:from node-dtls-client');
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.close();
    await closed;
    // node-dtls-client sends close_notify on close: the session ends on the server.
    await eventually(() => harness!.server.stats().sessions === 0);
  });

  for (const client of ['coap-client-openssl', 'coap-client-gnutls']) {
    it(`answers a CoAP GET from libcoap's ${client}`, async () => {
      harness = await startHarness();
      const result = await runClient(client, ['-u', PSK_IDENTITY, '-k', PSK_KEY.toString('ascii'), '-m', 'get', `coaps://127.0.0.1:${harness.port}/device/v1/ping`]);
      // coap-client exits 0 even when the handshake fails: the answer's payload is the proof.
      expect(result.output).toContain(`hello ${PSK_IDENTITY}`);
    });
  }

  it('refuses an unknown PSK identity with the unknown_psk_identity alert', async () => {
    harness = await startHarness();
    const args = opensslPskArgs(harness.port).map((a) => (a === PSK_IDENTITY ? 'nobody' : a));
    const result = await runClient('openssl', args, { input: 'hello\n' });
    expect(result.output).toMatch(/alert number 115|unknown psk identity/i);
    expect(harness.failures).toEqual([expect.objectContaining({ reason: 'unknown_psk_identity', pskIdentity: 'nobody' })]);
    expect(harness.server.stats()).toEqual({ sessions: 0, handshakes: 0 });
  });

  it('fails a handshake with the wrong key at Finished, and keeps no session', async () => {
    harness = await startHarness();
    const args = opensslPskArgs(harness.port).map((a) => (a === PSK_KEY.toString('hex') ? 'ffeeddccbbaa99887766554433221100' : a));
    const result = await runClient('openssl', args, { input: 'hello\n' });
    expect(result.output).not.toContain('echo:hello');
    expect(harness.failures).toEqual([expect.objectContaining({ reason: expect.stringMatching(/^(bad_record_mac|decrypt_error)$/), pskIdentity: PSK_IDENTITY })]);
    expect(harness.server.stats()).toEqual({ sessions: 0, handshakes: 0 });
  });

  it('resends its flight when a datagram is lost (UDP proxy drops the first ServerHello flight)', async () => {
    harness = await startHarness({ limits: { retransmitInitialMs: 200 } });
    const proxy = new UdpProxy(harness.port);
    const port = await proxy.start();
    // Datagram 0 to the client is the HelloVerifyRequest, 1 the ServerHello flight: lose it once.
    proxy.dropToClient = (_d, index) => index === 1;
    try {
      const result = await runClient('openssl', opensslPskArgs(port), { input: 'hello\n', until: /echo:hello/ });
      expect(result.output).toContain('echo:hello');
      expect(proxy.toClient).toBeGreaterThan(2);
    } finally {
      proxy.close();
    }
  });

  it('resumes a session by session id (abbreviated handshake) with openssl -sess_out/-sess_in', async () => {
    harness = await startHarness();
    const dir = mkdtempSync(join(tmpdir(), 'hangar-dtls-sess-'));
    try {
      const first = await runClient('openssl', opensslPskArgs(harness.port, ['-sess_out', join(dir, 's.pem')]), { input: 'one\n', until: /echo:one/ });
      expect(first.output).toContain('New, TLSv1.2');
      const second = await runClient('openssl', opensslPskArgs(harness.port, ['-sess_in', join(dir, 's.pem')]), { input: 'two\n', until: /echo:two/ });
      expect(second.output).toContain('Reused, TLSv1.2');
      expect(second.output).toContain('echo:two');
      const keys = harness.received.map((r) => r.key);
      expect(keys[0]).toBe(keys[1]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not resume a session closed by closeSessions (a revoked credential must not resume)', async () => {
    harness = await startHarness();
    const dir = mkdtempSync(join(tmpdir(), 'hangar-dtls-sess-'));
    try {
      await runClient('openssl', opensslPskArgs(harness.port, ['-sess_out', join(dir, 's.pem')]), { input: 'one\n', until: /echo:one/ });
      harness.server.closeSessions((p) => p === PSK_IDENTITY);
      const second = await runClient('openssl', opensslPskArgs(harness.port, ['-sess_in', join(dir, 's.pem')]), { input: 'two\n', until: /echo:two/ });
      expect(second.output).toContain('New, TLSv1.2');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ECDHE_ECDSA (TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8) with a required client certificate', () => {
  let pki: Pki;
  beforeAll(() => {
    pki = makePki();
  });
  afterAll(() => pki.cleanup());

  const certificateOptions = (refuse?: Parameters<typeof verifyBySubject>[1]): Parameters<typeof startHarness>[0] => ({
    certificate: { chainPem: pki.serverChainPem, keyPem: pki.serverKeyPem, verifyClient: verifyBySubject(pki, refuse) },
  });

  it('completes with openssl s_client and hands the principal from verifyClient', async () => {
    harness = await startHarness(certificateOptions());
    const result = await runClient('openssl', opensslCertArgs(harness.port, pki.clientCert, pki.clientKey), { input: 'hello\n', until: /echo:hello/ });
    expect(result.output).toContain('Cipher is ECDHE-ECDSA-AES128-CCM8');
    expect(result.output).toContain('echo:hello');
    expect(harness.received[0]!.principal).toBe('CN=client');
  });

  it('fragments its own flight to a small maxDatagramBytes and reassembles a client chain larger than a datagram', async () => {
    harness = await startHarness({ ...certificateOptions(), limits: { maxDatagramBytes: 300 } });
    const result = await runClient('openssl', opensslCertArgs(harness.port, pki.bigClientCert, pki.bigClientKey, ['-cert_chain', pki.bigClientIntermediate, '-mtu', '300']), { input: 'hello\n', until: /echo:hello/ });
    expect(result.output).toContain('echo:hello');
    expect(harness.received[0]!.principal).toBe('CN=bigclient');
    expect(result.output).toMatch(/SSL handshake has read \d+ bytes and written (\d{4,}) bytes/);
  });

  for (const client of ['coap-client-openssl', 'coap-client-gnutls']) {
    it(`answers libcoap's ${client} with a client certificate`, async () => {
      harness = await startHarness(certificateOptions());
      const result = await runClient(client, ['-c', pki.clientCert, '-j', pki.clientKey, '-n', '-m', 'get', `coaps://127.0.0.1:${harness.port}/x`]);
      expect(result.output).toContain('hello CN=client');
    });
  }

  for (const [alert, text] of [
    ['certificate_revoked', /certificate revoked/i],
    ['certificate_expired', /certificate expired/i],
    ['unknown_ca', /unknown ca/i],
  ] as const) {
    it(`sends the ${alert} alert when verifyClient refuses the certificate with it`, async () => {
      harness = await startHarness(certificateOptions({ ok: false, alert, detail: `refused in the test: ${alert}` }));
      const result = await runClient('openssl', opensslCertArgs(harness.port, pki.clientCert, pki.clientKey), { input: 'hello\n' });
      expect(result.output).toMatch(text);
      expect(harness.failures).toEqual([expect.objectContaining({ reason: 'certificate', detail: `refused in the test: ${alert}` })]);
      expect(harness.server.stats()).toEqual({ sessions: 0, handshakes: 0 });
    });
  }

  it('refuses a client without a certificate', async () => {
    harness = await startHarness(certificateOptions());
    const result = await runClient('openssl', ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${harness.port}`, '-cipher', 'ECDHE-ECDSA-AES128-CCM8@SECLEVEL=0'], { input: 'hello\n' });
    expect(result.output).not.toContain('echo:hello');
    expect(harness.failures).toEqual([expect.objectContaining({ reason: 'certificate' })]);
  });

  it('resumes a certificate session with openssl -sess_in', async () => {
    harness = await startHarness(certificateOptions());
    const dir = mkdtempSync(join(tmpdir(), 'hangar-dtls-sess-'));
    try {
      await runClient('openssl', opensslCertArgs(harness.port, pki.clientCert, pki.clientKey, ['-sess_out', join(dir, 's.pem')]), { input: 'one\n', until: /echo:one/ });
      const second = await runClient('openssl', opensslCertArgs(harness.port, pki.clientCert, pki.clientKey, ['-sess_in', join(dir, 's.pem')]), { input: 'two\n', until: /echo:two/ });
      expect(second.output).toContain('Reused, TLSv1.2');
      expect(harness.received[1]!.principal).toBe('CN=client');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
