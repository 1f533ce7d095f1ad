import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoapCode, CoapOptionNumber as Opt, decodeBlock, firstOption } from '@hangar/protocol/coap';
import type { DeviceIdentity } from '../../core/identity/device-authenticator.js';
import { MasterKey } from '../../core/identity/master-key.js';
import { TempArtifactStore } from '../../testing/temp-artifact-store.js';
import { TestFirmwareCatalog } from '../../testing/test-firmware-catalog.js';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import type { DatagramChannel, DatagramHandler, DatagramPeer } from '../datagram-channel.js';
import { coapClient, RawPeer, startCoapHarness, writeDesired, type CoapHarness } from './coap-fixture.js';
import { routeByFirstSegment } from './coap-router.js';
import { CoapServer } from './coap-server.js';
import { UdpChannel } from './udp-channel.js';

/**
 * The device API over a channel whose peers carry a DTLS principal, as the DTLS server's do:
 * here a UdpChannel that stamps `secure` on every peer (the handshake itself is the DTLS
 * module's; the lead runs these paths over the real DtlsServer). The API is routed by first
 * path segment on a CoapServer the test owns, as app.ts composes it with LwM2M.
 */
class StampedChannel implements DatagramChannel<DeviceIdentity> {
  private readonly inner: UdpChannel;
  /** Who every peer is, as a handshake would have said. */
  principal: DeviceIdentity | undefined;

  constructor(
    /** What a DTLS record leaves for CoAP: smaller than a UDP datagram, so blocks must shrink. */
    private readonly payloadLimit: number,
  ) {
    this.inner = new UdpChannel(pino({ level: 'silent' }));
  }

  listen(port: number, host?: string): Promise<number> {
    return this.inner.listen(port, host);
  }

  get port(): number | undefined {
    return this.inner.port;
  }

  onDatagram(handler: DatagramHandler<DeviceIdentity>): void {
    this.inner.onDatagram((datagram, peer) => {
      const principal = this.principal;
      handler(datagram, principal ? { ...peer, key: `dtls:${peer.key}`, secure: { method: 'psk', pskIdentity: principal.deviceId, principal } } : peer);
    });
  }

  send(datagram: Buffer, peer: DatagramPeer<DeviceIdentity>): void {
    if (datagram.length > this.payloadLimit) throw new Error(`a ${datagram.length}-byte datagram exceeds the channel's ${this.payloadLimit}`);
    this.inner.send(datagram, peer as DatagramPeer<never>);
  }

  maxPayload(): number {
    return this.payloadLimit;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('CoAP device API authenticated by the DTLS identity', () => {
  let h: CoapHarness;
  let channel: StampedChannel;
  let server: CoapServer<DeviceIdentity>;
  let port: number;
  let dev: { id: string; token: string; credentialId: string };
  const identity = (id: string, credentialId: string): DeviceIdentity => ({ tenantId: 'default', deviceId: id, credentialId });
  const url = (path: string): string => `coap://127.0.0.1:${port}/${path}`;

  beforeAll(async () => {
    h = await startCoapHarness();
    dev = await h.device('dtls-dev');
    channel = new StampedChannel(600);
    channel.principal = identity(dev.id, dev.credentialId);
    server = new CoapServer<DeviceIdentity>({
      channel,
      handler: routeByFirstSegment<DeviceIdentity>({ device: h.endpoint.handle, rd: async () => ({ code: CoapCode.Created }) }),
      logger: pino({ level: 'silent' }),
    });
    port = await server.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await server?.close();
    await h?.close();
  });

  it('takes telemetry with no device or token in the URI, as the session device', async () => {
    const before = h.ingest.received.length;
    const run = await coapClient(['-m', 'post', '-t', '50', '-e', '{"temp":21.5}', url('device/v1/telemetry')]);
    expect(run.stderr).toBe('');
    expect(h.ingest.received.slice(before).map((r) => r.device.deviceId)).toEqual([dev.id]);
    expect(h.presence.touches.at(-1)).toMatchObject({ deviceId: dev.id, protocol: 'coap' });
  });

  it('accepts a device query naming the session device, and refuses another device with 4.03 and a reason', async () => {
    const same = await coapClient(['-m', 'post', '-e', '{"a":1}', `${url('device/v1/telemetry')}?device=${dev.id}`]);
    expect(same.stderr).toBe('');
    const other = await h.device('dtls-other');
    const before = h.ingest.received.length;
    const refused = await coapClient(['-m', 'post', '-e', '{"a":1}', `${url('device/v1/telemetry')}?device=${other.id}&token=${other.token}`]);
    expect(refused.stderr).toMatch(/^4\.03 this DTLS session authenticated device "dtls-dev"/);
    expect(h.ingest.received.length).toBe(before);
  });

  it('routes by first path segment: other APIs beside /device, 4.04 for an unknown one', async () => {
    const rd = await coapClient(['-m', 'post', '-e', '</1/0>', `${url('rd')}?ep=${dev.id}`]);
    expect(rd.stderr).toBe('');
    const unknown = await coapClient(['-m', 'get', url('nothing/here')]);
    expect(unknown.stderr).toMatch(/^4\.04 no resource \/nothing; the paths are \/device, \/rd/);
    const underDevice = await coapClient(['-m', 'get', url('device/v2/x')]);
    expect(underDevice.stderr).toMatch(/^4\.04 /);
  });

  it('serves Observe over the same channel: notifications reach the observer through the server it registered on', async () => {
    await writeDesired(h.t.hangar.store.db, 'default', dev.id, { mode: 'eco' });
    const observers = h.endpoint.observerCount;
    const running = coapClient(['-m', 'get', '-s', '3', url('device/v1/twin/desired')]);
    await waitFor(() => h.endpoint.observerCount > observers, 'the observation');
    const version = await writeDesired(h.t.hangar.store.db, 'default', dev.id, { mode: 'turbo' });
    h.t.hangar.bus.publish({ type: 'twin.desired.changed', tenantId: 'default', deviceId: dev.id, version });
    const run = await running;
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('"mode":"eco"');
    expect(run.stdout).toContain('"mode":"turbo"');
  });

  it('sends Block2 blocks that fit the channel (512 bytes under a 600-byte limit), reassembled by coap-client', async () => {
    const big = { blob: 'z'.repeat(3000) };
    const version = await writeDesired(h.t.hangar.store.db, 'default', dev.id, big);
    const run = await coapClient(['-m', 'get', url('device/v1/twin/desired')]);
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ $version: version, ...big });

    const peer = await RawPeer.open(port);
    try {
      const path = ['device', 'v1', 'twin', 'desired'].map((s) => ({ number: Opt.UriPath, value: Buffer.from(s) }));
      peer.send({ code: CoapCode.GET, messageId: 9001, token: Buffer.from([9]), options: path });
      const first = await peer.next((m) => m.messageId === 9001);
      expect(first.code).toBe(CoapCode.Content);
      expect(decodeBlock(firstOption(first, Opt.Block2)!)).toMatchObject({ num: 0, more: true, szx: 5 });
    } finally {
      await peer.close();
    }
  });

  it('leaves plain UDP as it was: the same request without credentials on the UDP port gets 4.01', async () => {
    const run = await coapClient(['-m', 'post', '-e', '{"a":1}', `coap://127.0.0.1:${h.port}/device/v1/telemetry`]);
    expect(run.stderr).toMatch(/^4\.01 /);
  });
});

describe('firmware Block2 downloads over a DTLS-sized channel', () => {
  let t: TestHangar;
  let artifacts: TempArtifactStore;
  let server: CoapServer<DeviceIdentity>;
  let port: number;
  const dir = mkdtempSync(join(tmpdir(), 'hangar-coap-fw-secure-'));

  beforeAll(async () => {
    artifacts = new TempArtifactStore();
    const catalog = new TestFirmwareCatalog(artifacts);
    t = await startTestHangar('sqlite', { masterKey: MasterKey.forTests(), firmwareDelivery: { artifacts, catalog } });
    const channel = new StampedChannel(400);
    channel.principal = { tenantId: 'default', deviceId: 'dev-fw', credentialId: 'cred-fw' };
    server = new CoapServer<DeviceIdentity>({ channel, handler: routeByFirstSegment<DeviceIdentity>({ device: t.hangar.coap.handle }), logger: pino({ level: 'silent' }) });
    port = await server.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await server?.close();
    await t?.close();
    artifacts.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers the whole image in blocks the channel carries even when the client asks for 1024', async () => {
    const bytes = randomBytes(20_000);
    const catalog = new TestFirmwareCatalog(artifacts);
    const image = await catalog.add('default', '3.0.0', bytes);
    const file = join(dir, 'image.bin');
    const reads = artifacts.reads.length;
    const run = await coapClient(['-b', '1024', '-o', file, `coap://127.0.0.1:${port}${t.hangar.downloadLinks.image('default', 'dev-fw', image.id).url}`], { timeoutMs: 60_000 });
    expect(run.stderr).toBe('');
    expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(image.sha256);
    expect(artifacts.reads.slice(reads).every((r) => r.range !== undefined && r.range.end - r.range.start < 256)).toBe(true);
  });
});
