import { spawn } from 'node:child_process';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceIdentity } from '../../core/identity/device-authenticator.js';
import { DtlsServer } from '../dtls/index.js';
import { startCoapHarness, writeDesired, type CoapHarness } from './coap-fixture.js';
import { routeByFirstSegment } from './coap-router.js';
import { CoapServer } from './coap-server.js';

/**
 * The device API over Hangar's real DTLS server (PSK), with libcoap's coap-client-openssl as the
 * device: the handshake's identity authenticates it, no token in the URI.
 */

const PSK_KEY = 'secretkey0123456';

function coapsClient(args: string[], timeoutMs = 20_000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('coap-client-openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', () => {
      clearTimeout(timer);
      resolve({ stdout, stderr });
    });
  });
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('CoAP device API over DTLS PSK (coap-client-openssl)', () => {
  let h: CoapHarness;
  let server: CoapServer<DeviceIdentity>;
  let port: number;
  const identities = new Map<string, DeviceIdentity>();
  const url = (path: string): string => `coaps://127.0.0.1:${port}/${path}`;
  const as = (identity: string): string[] => ['-u', identity, '-k', PSK_KEY];

  beforeAll(async () => {
    h = await startCoapHarness();
    for (const id of ['psk-dev', 'psk-other']) {
      const d = await h.device(id);
      identities.set(id, { tenantId: 'default', deviceId: d.id, credentialId: d.credentialId });
    }
    // A small record size, so that Block2 must shrink to fit it.
    const channel = new DtlsServer<DeviceIdentity>({
      logger: pino({ level: 'silent' }),
      psk: async (identity) => {
        const principal = identities.get(identity);
        return principal ? { key: Buffer.from(PSK_KEY, 'ascii'), principal } : undefined;
      },
      limits: { maxDatagramBytes: 600 },
    });
    server = new CoapServer<DeviceIdentity>({ channel, handler: routeByFirstSegment<DeviceIdentity>({ device: h.endpoint.handle }), logger: pino({ level: 'silent' }) });
    port = await server.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await server?.close();
    await h?.close();
  });

  it('takes telemetry as the PSK identity, without device or token in the URI', async () => {
    const before = h.ingest.received.length;
    const run = await coapsClient([...as('psk-dev'), '-m', 'post', '-t', '50', '-e', '{"temp":20}', url('device/v1/telemetry')]);
    expect(run.stderr).not.toMatch(/^\d\.\d\d /m);
    await waitFor(() => h.ingest.received.length > before, 'the telemetry');
    expect(h.ingest.received.at(-1)!.device.deviceId).toBe('psk-dev');
  });

  it('refuses a device query naming another device with 4.03', async () => {
    const before = h.ingest.received.length;
    const run = await coapsClient([...as('psk-dev'), '-m', 'post', '-e', '{"temp":20}', `${url('device/v1/telemetry')}?device=psk-other`]);
    expect(run.stderr).toMatch(/4\.03 this DTLS session authenticated device "psk-dev"/);
    expect(h.ingest.received.length).toBe(before);
  });

  it('serves a large desired twin block-wise in blocks one record carries', async () => {
    const big = { blob: 'd'.repeat(4000) };
    const version = await writeDesired(h.t.hangar.store.db, 'default', 'psk-other', big);
    const run = await coapsClient([...as('psk-other'), '-b', '1024', url('device/v1/twin/desired')]);
    expect(JSON.parse(run.stdout)).toEqual({ $version: version, ...big });
  });

  it('notifies an observer over its DTLS session', async () => {
    await writeDesired(h.t.hangar.store.db, 'default', 'psk-dev', { mode: 'eco' });
    const observers = h.endpoint.observerCount;
    const running = coapsClient([...as('psk-dev'), '-s', '4', url('device/v1/twin/desired')]);
    await waitFor(() => h.endpoint.observerCount > observers, 'the observation');
    const version = await writeDesired(h.t.hangar.store.db, 'default', 'psk-dev', { mode: 'turbo' });
    h.t.hangar.bus.publish({ type: 'twin.desired.changed', tenantId: 'default', deviceId: 'psk-dev', version });
    const run = await running;
    expect(run.stdout).toContain('"mode":"eco"');
    expect(run.stdout).toContain('"mode":"turbo"');
  });
});
