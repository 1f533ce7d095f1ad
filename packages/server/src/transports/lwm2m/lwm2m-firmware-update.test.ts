/**
 * LwM2M devices in rollouts through Object 5 (docs/ota.md, "LwM2M devices (Object 5)"): an in-process
 * Hangar on real UDP sockets, a firmware image uploaded, the agent's LwM2M clients registered
 * over plain CoAP, and rollouts to them. The clients pull the package (CoAP Block2 from the
 * device API) or take it pushed (Block1 write of 5/0/0); injected failures end `failed` with
 * the reason of their Update Result; an abort writes nothing more to a device not yet reached.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Lwm2mClient, type FirmwareFailures } from '../../../../agent/src/lwm2m/index.js';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { waitFor } from './lwm2m-fixture.js';
import type { HangarOptions } from '../../app.js';
import type { Dialect } from '../../core/stores.js';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

/** The image: F's client takes the version it installs from a `version=` marker in the first bytes. */
const IMAGE = Buffer.concat([Buffer.from('version=2.0.0\n'), randomBytes(20 * 1024)]);

interface Installation {
  t: TestHangar;
  port: number;
  clock: { now: number };
  firmwareId: string;
  clients: Lwm2mClient[];
  device(id: string, options?: { failures?: FirmwareFailures; queueMode?: boolean; dtls?: boolean; keepsVersion?: boolean }): Promise<Lwm2mClient>;
  rollout(tag: string, body?: Record<string, unknown>): Promise<any>;
  members(rolloutId: string): Promise<Map<string, any>>;
  close(): Promise<void>;
}

async function installation(lwm2mFirmware: HangarOptions['lwm2mFirmware'], listen: { http?: number; dtls?: boolean; kind?: Dialect } = {}): Promise<Installation> {
  const clock = { now: Date.now() };
  const t = await startTestHangar(listen.kind ?? 'sqlite', { now: () => clock.now, rolloutTickIntervalMs: 0, coapTiming: { ackTimeoutMs: 300, maxRetransmit: 2 }, lwm2mFirmware });
  const port = await t.hangar.coapListeners.plain.listen(0, '127.0.0.1');
  if (listen.dtls) await t.hangar.coapListeners.secure.listen(0, '127.0.0.1');
  if (listen.http !== undefined) await t.hangar.http.listen({ port: listen.http, host: '127.0.0.1' });
  t.hangar.lwm2mLink.setTimeout(5000);
  const uploaded = await t.call('POST', '/api/v1/firmware?version=2.0.0', { payload: IMAGE, headers: { 'content-type': 'application/octet-stream' } });
  expect(uploaded.status, JSON.stringify(uploaded.body)).toBe(201);
  const clients: Lwm2mClient[] = [];
  const inst: Installation = {
    t,
    port,
    clock,
    firmwareId: uploaded.body.id,
    clients,
    async device(id, options = {}) {
      const made = await t.call('POST', '/api/v1/devices', { body: { id, tags: { fleet: id.split('-')[0] } } });
      expect(made.status, JSON.stringify(made.body)).toBe(201);
      let psk: { identity: string; key: Buffer } | undefined;
      if (options.dtls) {
        const cred = await t.call('POST', `/api/v1/devices/${id}/credentials`, { body: { type: 'psk' } });
        expect(cred.status, JSON.stringify(cred.body)).toBe(201);
        psk = { identity: cred.body.identity, key: Buffer.from(cred.body.key, 'hex') };
      }
      const client = new Lwm2mClient({
        endpointName: id,
        serverUri: psk ? `coaps://127.0.0.1:${t.hangar.coapListeners.secure.port}` : `coap://127.0.0.1:${port}`,
        ...(psk ? { psk } : {}),
        lifetimeSec: 3600,
        timing: { ackTimeoutMs: 300 },
        device: { firmwareVersion: '1.0.0' },
        // keepsVersion: the "install" reports success but the device boots its old image again.
        firmware: { ...(options.failures ? { failures: options.failures } : {}), ...(options.keepsVersion ? { versionOf: (_pkg: Buffer, _uri: string | undefined, current: string) => current } : {}) },
        ...(options.queueMode ? { queueMode: true } : {}),
      });
      clients.push(client);
      await client.start();
      // Hangar reads Object 3 on Register: the version the device runs is known before it is targeted.
      await waitFor(async () => (await t.call('GET', `/api/v1/devices/${id}`)).body.firmwareVersion === '1.0.0' || undefined, `${id} on 1.0.0`);
      return client;
    },
    async rollout(tag, body = {}) {
      const r = await t.call('POST', '/api/v1/rollouts', { body: { name: tag, firmwareId: inst.firmwareId, query: `tags.fleet = "${tag}"`, rate: { perMinute: 6000 }, ...body } });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      await t.hangar.rolloutEngine.tick();
      return r.body;
    },
    async members(rolloutId) {
      const r = await t.call('GET', `/api/v1/rollouts/${rolloutId}/devices?limit=1000`);
      expect(r.status).toBe(200);
      return new Map((r.body.items as any[]).map((d) => [d.deviceId, d]));
    },
    async close() {
      for (const c of clients) await c.stop().catch(() => undefined);
      await t.close();
    },
  };
  return inst;
}

/** Reads 5/0/1 through REST once the device answers (it restarts right after a successful update). */
async function readPackageUri(inst: Installation, device: string): Promise<{ status: number; body: unknown }> {
  return waitFor(async () => {
    const r = await inst.t.call('GET', `${device}/lwm2m/5/0/1`);
    return r.status === 200 ? r : undefined;
  }, `${device} answering a read of 5/0/1`, 30_000);
}

async function stateOf(inst: Installation, rolloutId: string, deviceId: string, states: string[]): Promise<any> {
  return waitFor(async () => {
    const m = (await inst.members(rolloutId)).get(deviceId);
    return m && states.includes(m.state) ? m : undefined;
  }, `${deviceId} in ${states.join('/')}`, 30_000);
}

describe.each(['sqlite', 'postgres'] as const)('LwM2M Object 5 pull over CoAP (Block2) on %s', (kind) => {
  let inst: Installation;
  beforeAll(async () => {
    inst = await installation({ host: '127.0.0.1' }, { kind });
  });
  afterAll(async () => {
    await inst?.close();
  });

  it('updates devices through the health gate; an install failure and a corrupt package fail with their reasons', async () => {
    const ok = await inst.device('pull-ok');
    await inst.device('pull-install', { failures: { update: true } });
    await inst.device('pull-corrupt', { failures: { integrity: true } });
    await inst.device('pull-cut', { failures: { download: true } });
    const history: string[] = [];
    inst.t.hangar.bus.subscribe('rollout.device.state', (e) => {
      if (e.deviceId === 'pull-ok') history.push(e.state);
    });
    const r = await inst.rollout('pull', { healthGate: { windowSec: 60, maxDisconnects: 0 } });

    // The success path: downloaded over CoAP Block2, executed, re-registered (no disconnect), verifying.
    const verifying = await stateOf(inst, r.id, 'pull-ok', ['verifying', 'failed', 'rolled_back']);
    expect(verifying.state).toBe('verifying');
    expect(history).toEqual(['offered', 'downloading', 'downloaded', 'installing', 'verifying']);
    expect(ok.firmware.state).toBe(0);
    // It pulled from the CoAP device API's firmware path, with a download token.
    const uri = await readPackageUri(inst, '/api/v1/devices/pull-ok');
    expect(JSON.stringify(uri.body)).toContain(`coap://127.0.0.1:${inst.port}/device/v1/firmware/${inst.firmwareId}/image?t=`);
    const failedInstall = await stateOf(inst, r.id, 'pull-install', ['failed', 'succeeded', 'verifying']);
    expect(failedInstall).toMatchObject({ state: 'failed', reason: 'install' });
    expect(failedInstall.error).toContain('Update Result 8');
    const corrupt = await stateOf(inst, r.id, 'pull-corrupt', ['failed', 'succeeded', 'verifying']);
    expect(corrupt).toMatchObject({ state: 'failed', reason: 'verify' });
    expect(corrupt.error).toContain('Update Result 5');
    const cut = await stateOf(inst, r.id, 'pull-cut', ['failed', 'succeeded', 'verifying']);
    expect(cut).toMatchObject({ state: 'failed', reason: 'download' });

    // The device rebooted and registered again: Hangar read 3/0/3, and the registration did not count as a disconnect.
    await waitFor(async () => (await inst.t.call('GET', '/api/v1/devices/pull-ok')).body.firmwareVersion === '2.0.0' || undefined, 'pull-ok on 2.0.0');
    await waitFor(() => (ok.registered ? true : undefined), 'pull-ok registered again');
    inst.clock.now += 61_000;
    await inst.t.hangar.rolloutEngine.tick();
    const done = await stateOf(inst, r.id, 'pull-ok', ['succeeded', 'failed']);
    expect(done.state).toBe('succeeded');
    const updates = await inst.t.call('GET', '/api/v1/devices/pull-ok/updates');
    expect(updates.status).toBe(200);
    expect(JSON.stringify(updates.body)).toContain('succeeded');

    // The failed install left pull-install Downloaded (E.6): the next rollout resets it first, and it installs (and fails) again.
    const v3 = await inst.t.call('POST', '/api/v1/firmware?version=3.0.0', { payload: Buffer.concat([Buffer.from('version=3.0.0\n'), randomBytes(3000)]), headers: { 'content-type': 'application/octet-stream' } });
    expect(v3.status).toBe(201);
    const again = await inst.rollout('pull-again', { firmwareId: v3.body.id, query: 'id = "pull-install"' });
    const second = await stateOf(inst, again.id, 'pull-install', ['failed', 'succeeded', 'verifying']);
    expect(second, JSON.stringify(second)).toMatchObject({ state: 'failed', reason: 'install' });
  });

  it('a device that reports success but runs its old version is rolled_back', async () => {
    await inst.device('back-a', { keepsVersion: true });
    const r = await inst.rollout('back');
    const m = await stateOf(inst, r.id, 'back-a', ['rolled_back', 'succeeded', 'failed']);
    expect(m.state, JSON.stringify(m)).toBe('rolled_back');
    expect(m.error).toContain('1.0.0');
    expect((await inst.t.call('GET', '/api/v1/devices/back-a')).body.firmwareVersion).toBe('1.0.0');
  });

  it('reaches a queue-mode device when it wakes; an abort before then writes nothing to it', async () => {
    const early = await inst.device('queue-a', { queueMode: true });
    const late = await inst.device('queuelate-a', { queueMode: true });
    // Both asleep as far as Hangar knows (93 s after they last spoke).
    inst.clock.now += 100_000;
    const r = await inst.rollout('queue');
    const rLate = await inst.rollout('queuelate');
    expect((await inst.members(r.id)).get('queue-a').state).toBe('offered');
    await inst.t.hangar.lwm2mFirmware.idle();
    expect(early.firmware.state).toBe(0);
    // It wakes (an Update): the Package URI goes out, and the update runs.
    await early.update();
    const done = await stateOf(inst, r.id, 'queue-a', ['succeeded', 'verifying', 'failed']);
    expect(done.state).toBe('succeeded');

    const aborted = await inst.t.call('POST', `/api/v1/rollouts/${rLate.id}/abort`);
    expect(aborted.status).toBe(200);
    expect((await inst.members(rLate.id)).get('queuelate-a')).toMatchObject({ state: 'cancelled', reason: 'aborted' });
    await late.update();
    await inst.t.hangar.lwm2mFirmware.idle();
    expect(late.firmware.state).toBe(0);
    expect((await inst.t.call('GET', '/api/v1/devices/queuelate-a')).body.firmwareVersion).toBe('1.0.0');
  });
});

describe('LwM2M Object 5 push (Block1 write of 5/0/0)', () => {
  let inst: Installation;
  beforeAll(async () => {
    // No package host configured: Hangar cannot name an address the device can pull from, so it pushes.
    inst = await installation({});
  });
  afterAll(async () => {
    await inst?.close();
  });

  it('pushes the image, executes Update and ends succeeded on the new version', async () => {
    await inst.device('push-ok');
    await inst.device('push-install', { failures: { update: true } });
    const r = await inst.rollout('push');
    const ok = await stateOf(inst, r.id, 'push-ok', ['succeeded', 'failed', 'rolled_back']);
    expect(ok.state, JSON.stringify(ok)).toBe('succeeded');
    await waitFor(async () => (await inst.t.call('GET', '/api/v1/devices/push-ok')).body.firmwareVersion === '2.0.0' || undefined, 'push-ok on 2.0.0');
    // Nothing was pulled: the Package URI stayed empty.
    const uri = await readPackageUri(inst, '/api/v1/devices/push-ok');
    expect(uri.status).toBe(200);
    expect(JSON.stringify(uri.body)).not.toContain('coap://');
    const failed = await stateOf(inst, r.id, 'push-install', ['succeeded', 'failed']);
    expect(failed).toMatchObject({ state: 'failed', reason: 'install' });
  });
});

/** A port free now, for an HTTP base URL Hangar must know before it listens. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('LwM2M Object 5 pull over HTTP, and over CoAPS for a DTLS PSK device', () => {
  let inst: Installation;
  let httpPort: number;
  beforeAll(async () => {
    httpPort = await freePort();
    inst = await installation({ httpBaseUrl: `http://127.0.0.1:${httpPort}` }, { http: httpPort, dtls: true });
  });
  afterAll(async () => {
    await inst?.close();
  });

  it('a device pulls from the configured HTTP base URL', async () => {
    await inst.device('http-ok');
    const r = await inst.rollout('http');
    const ok = await stateOf(inst, r.id, 'http-ok', ['succeeded', 'failed', 'rolled_back']);
    expect(ok.state, JSON.stringify(ok)).toBe('succeeded');
    const uri = await readPackageUri(inst, '/api/v1/devices/http-ok');
    expect(JSON.stringify(uri.body)).toContain(`http://127.0.0.1:${httpPort}/device/v1/firmware/${inst.firmwareId}/image?t=`);
  });
});

describe('LwM2M Object 5 over DTLS PSK', () => {
  let inst: Installation;
  beforeAll(async () => {
    inst = await installation({ host: '127.0.0.1' }, { dtls: true });
  });
  afterAll(async () => {
    await inst?.close();
  });

  it('a device registered over DTLS pulls from coaps:// with its own PSK and updates', async () => {
    await inst.device('dtls-ok', { dtls: true });
    await inst.device('dtls-corrupt', { dtls: true, failures: { integrity: true } });
    const r = await inst.rollout('dtls');
    const ok = await stateOf(inst, r.id, 'dtls-ok', ['succeeded', 'failed', 'rolled_back']);
    expect(ok.state, JSON.stringify(ok)).toBe('succeeded');
    await waitFor(async () => (await inst.t.call('GET', '/api/v1/devices/dtls-ok')).body.firmwareVersion === '2.0.0' || undefined, 'dtls-ok on 2.0.0');
    const uri = await readPackageUri(inst, '/api/v1/devices/dtls-ok');
    expect(JSON.stringify(uri.body)).toContain(`coaps://127.0.0.1:${inst.t.hangar.coapListeners.secure.port}/device/v1/firmware/`);
    expect(await stateOf(inst, r.id, 'dtls-corrupt', ['failed', 'succeeded'])).toMatchObject({ state: 'failed', reason: 'verify' });
  });
});

describe('LwM2M Object 5: an offer withdrawn mid-download', () => {
  let inst: Installation;
  let stall: ReturnType<typeof createServer>;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    // A package server that takes the connection and never answers: the device stays Downloading.
    stall = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => stall.listen(0, '127.0.0.1', resolve));
    inst = await installation({ httpBaseUrl: `http://127.0.0.1:${(stall.address() as AddressInfo).port}` });
  });
  afterAll(async () => {
    await inst?.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => stall?.close(resolve));
  });

  it('a device timed out while downloading is reset with an empty Package URI', async () => {
    const client = await inst.device('stall-a');
    const r = await inst.rollout('stall', { deviceTimeoutSec: 60 });
    await stateOf(inst, r.id, 'stall-a', ['downloading']);
    expect(client.firmware.state).toBe(1);
    inst.clock.now += 61_000;
    await inst.t.hangar.rolloutEngine.tick();
    expect((await inst.members(r.id)).get('stall-a')).toMatchObject({ state: 'timed_out', reason: 'timeout' });
    // Reset (E.6): back to Idle with no result, the download abandoned — not a connection-lost failure.
    await waitFor(() => (client.firmware.state === 0 ? true : undefined), 'stall-a reset to Idle');
    expect(client.firmware.result).toBe(0);
    const uri = await readPackageUri(inst, '/api/v1/devices/stall-a');
    expect(uri.status).toBe(200);
    expect(JSON.stringify(uri.body)).not.toContain('http://');
  });
});
