import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Encoder } from 'cbor-x';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceAuthenticator } from '../../core/identity/device-authenticator.js';
import { coapClient, startCoapHarness, writeDesired, type CoapHarness } from './coap-fixture.js';
import { twinUplink } from './device-ports.js';
import type { TwinService } from '../../core/twin/twin-service.js';

/**
 * The CoAP device API against libcoap's coap-client (a real, independent peer): it changes the
 * token for every block of a block-wise transfer, which is the case the server must handle.
 */

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('CoAP device API with coap-client-notls', () => {
  let h: CoapHarness;
  let dev: { id: string; token: string; credentialId: string };
  let scratch: string;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'hangar-coap-'));
    h = await startCoapHarness();
    dev = await h.device('coap-dev');
  });
  afterAll(async () => {
    await h?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  describe('telemetry', () => {
    it('accepts JSON telemetry and answers 2.04 once ingested', async () => {
      const before = h.ingest.received.length;
      const run = await coapClient(['-m', 'post', '-t', '50', '-e', '{"temp":1}', h.url('telemetry', dev.id, dev.token)]);
      expect(run.stderr).toBe('');
      expect(h.ingest.received.slice(before)).toEqual([{ device: expect.objectContaining({ tenantId: 'default', deviceId: dev.id, credentialId: dev.credentialId }), payload: Buffer.from('{"temp":1}'), format: 'json' }]);
      expect(h.presence.touches).toContainEqual({ deviceId: dev.id, protocol: 'coap', remoteAddress: '127.0.0.1' });
    });

    it('takes JSON without a Content-Format, SenML JSON (110) and SenML CBOR (112)', async () => {
      const before = h.ingest.received.length;
      await coapClient(['-m', 'post', '-e', '{"hum":40}', h.url('telemetry', dev.id, dev.token)]);
      await coapClient(['-m', 'post', '-t', '110', '-e', '[{"n":"temp","v":21.5}]', h.url('telemetry', dev.id, dev.token)]);
      const cbor = new Encoder({ useRecords: false, mapsAsObjects: false, variableMapSize: true }).encode([{ n: 'temp', v: 22 }]);
      const run = await coapClient(['-m', 'post', '-t', '112', '-f', '-', h.url('telemetry', dev.id, dev.token)], { input: cbor });
      expect(run.stderr).toBe('');
      expect(h.ingest.received.slice(before).map((r) => r.format)).toEqual(['json', 'senml+json', 'senml+cbor']);
      expect(h.ingest.received.at(-1)!.payload.equals(Buffer.from(cbor))).toBe(true);
    });

    it('reassembles a block-wise upload although libcoap changes the token per block', async () => {
      const body = JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ n: `sensor-${i}`, v: i * 1.5, t: i })));
      expect(body.length).toBeGreaterThan(10_000);
      const before = h.ingest.received.length;
      const run = await coapClient(['-m', 'post', '-t', '110', '-b', '64', '-f', '-', h.url('telemetry', dev.id, dev.token)], { input: Buffer.from(body) });
      expect(run.stderr).toBe('');
      expect(h.ingest.received.slice(before).map((r) => r.payload.toString())).toEqual([body]);
      expect(h.endpoint.pendingUploads).toBe(0);
    });

    it('refuses a body over 256 KiB with 4.13 and stores nothing', async () => {
      const calls = h.ingest.calls;
      // From a file: libcoap reads at most 20000 bytes from standard input.
      const file = join(scratch, 'big.json');
      writeFileSync(file, JSON.stringify({ blob: 'x'.repeat(300 * 1024) }));
      const run = await coapClient(['-m', 'post', '-t', '50', '-b', '1024', '-f', file, h.url('telemetry', dev.id, dev.token)]);
      expect(run.stderr).toMatch(/^4\.13 /);
      expect(h.ingest.calls).toBe(calls);
      expect(h.endpoint.pendingUploads).toBe(0);
    });

    it('answers 4.00 with the reason for a body that is not JSON', async () => {
      const run = await coapClient(['-m', 'post', '-t', '50', '-e', '{"temp":', h.url('telemetry', dev.id, dev.token)]);
      expect(run.stderr).toMatch(/^4\.00 telemetry is not valid json/);
    });

    it('answers 4.00 for SenML that is not an array of records', async () => {
      const run = await coapClient(['-m', 'post', '-t', '110', '-e', '{"n":"temp","v":1}', h.url('telemetry', dev.id, dev.token)]);
      expect(run.stderr).toMatch(/^4\.00 SenML is an array of records/);
    });

    it('answers 4.15 for a content format telemetry does not come in', async () => {
      const run = await coapClient(['-m', 'post', '-t', '0', '-e', 'temp=1', h.url('telemetry', dev.id, dev.token)]);
      expect(run.stderr).toMatch(/^4\.15 /);
    });
  });

  describe('authentication', () => {
    it('answers 4.01 for a wrong token and for missing credentials', async () => {
      const wrong = await coapClient(['-m', 'post', '-t', '50', '-e', '{"temp":1}', h.url('telemetry', dev.id, 'dt_not-the-token')]);
      expect(wrong.stderr).toMatch(/^4\.01 /);
      const none = await coapClient(['-m', 'post', '-t', '50', '-e', '{"temp":1}', `coap://127.0.0.1:${h.port}/device/v1/telemetry`]);
      expect(none.stderr).toMatch(/^4\.01 credentials missing/);
    });

    it('answers 4.03 once the token is revoked, even right after it was accepted', async () => {
      const d = await h.device('coap-revoked');
      expect((await coapClient(['-m', 'post', '-e', '{"a":1}', h.url('telemetry', d.id, d.token)])).stderr).toBe('');
      const revoked = await h.t.call('DELETE', `/api/v1/devices/${d.id}/credentials/${d.credentialId}`);
      expect(revoked.status).toBeLessThan(300);
      // The revocation event reaches the endpoint's cache on the next tick.
      await new Promise((resolve) => setTimeout(resolve, 20));
      const run = await coapClient(['-m', 'post', '-e', '{"a":1}', h.url('telemetry', d.id, d.token)]);
      expect(run.stderr).toMatch(/^4\.03 /);
    });

    it('answers 4.03 for a decommissioned device', async () => {
      const d = await h.device('coap-decom');
      const res = await h.t.call('POST', `/api/v1/devices/${d.id}/decommission`, { body: { purgeData: false } });
      expect(res.status).toBe(200);
      const run = await coapClient(['-m', 'get', h.url('commands', d.id, d.token)]);
      expect(run.stderr).toMatch(/^4\.0[13] /);
    });
  });

  describe('routing', () => {
    it('answers 4.04 for an unknown path and 4.05 for a wrong method', async () => {
      expect((await coapClient(['-m', 'get', h.url('nothing', dev.id, dev.token)])).stderr).toMatch(/^4\.04 /);
      expect((await coapClient(['-m', 'get', `coap://127.0.0.1:${h.port}/api/v1/devices`])).stderr).toMatch(/^4\.04 /);
      expect((await coapClient(['-m', 'get', h.url('telemetry', dev.id, dev.token)])).stderr).toMatch(/^4\.05 /);
      expect((await coapClient(['-m', 'delete', h.url('twin/desired', dev.id, dev.token)])).stderr).toMatch(/^4\.05 /);
    });
  });

  describe('twin', () => {
    it('hands a reported-state patch to the uplink and answers 2.04', async () => {
      const run = await coapClient(['-m', 'patch', '-t', '50', '-e', '{"fw":"1.2.0"}', h.url('twin/reported', dev.id, dev.token)]);
      expect(run.stderr).toBe('');
      expect(h.uplink.reported).toContainEqual({ deviceId: dev.id, patch: { fw: '1.2.0' } });
      const bad = await coapClient(['-m', 'patch', '-t', '50', '-e', '[1,2]', h.url('twin/reported', dev.id, dev.token)]);
      expect(bad.stderr).toMatch(/^4\.00 /);
    });

    it('reads the desired twin as {"$version", …}', async () => {
      const d = await h.device('coap-twin-read');
      expect((await coapClient(['-m', 'get', h.url('twin/desired', d.id, d.token)])).stdout.trim()).toBe('{"$version":0}');
      const version = await writeDesired(h.t.hangar.store.db, 'default', d.id, { interval: 30 });
      expect(JSON.parse((await coapClient(['-m', 'get', h.url('twin/desired', d.id, d.token)])).stdout)).toEqual({ $version: version, interval: 30 });
    });

    it('downloads a large desired twin block-wise (Block2), at the block size the client asks and by default', async () => {
      const d = await h.device('coap-twin-big');
      const desired = { config: Array.from({ length: 300 }, (_, i) => ({ key: `k${i}`, value: 'v'.repeat(i % 17) })) };
      await writeDesired(h.t.hangar.store.db, 'default', d.id, desired);
      for (const args of [['-b', '64'], ['-b', '256'], []]) {
        const run = await coapClient(['-m', 'get', ...args, h.url('twin/desired', d.id, d.token)]);
        expect(run.stderr).toBe('');
        expect(JSON.parse(run.stdout)).toEqual({ $version: 1, ...desired });
      }
    });

    it('notifies an observer (coap-client -s) when twin.desired.changed arrives', async () => {
      const d = await h.device('coap-observer');
      await writeDesired(h.t.hangar.store.db, 'default', d.id, { mode: 'eco' });
      const running = coapClient(['-m', 'get', '-s', '3', h.url('twin/desired', d.id, d.token)]);
      await waitFor(() => h.endpoint.observerCount > 0, 'the observation');
      const version = await writeDesired(h.t.hangar.store.db, 'default', d.id, { mode: 'turbo' });
      h.t.hangar.bus.publish({ type: 'twin.desired.changed', tenantId: 'default', deviceId: d.id, version });
      const run = await running;
      expect(run.stderr).toBe('');
      expect(run.stdout).toContain('{"$version":1,"mode":"eco"}');
      expect(run.stdout).toContain('{"$version":2,"mode":"turbo"}');
    });

    it('sends a large notification block-wise and the observer fetches the rest', async () => {
      const d = await h.device('coap-observer-big');
      await writeDesired(h.t.hangar.store.db, 'default', d.id, { a: 1 });
      const running = coapClient(['-m', 'get', '-s', '3', '-b', '64', h.url('twin/desired', d.id, d.token)]);
      await waitFor(() => h.endpoint.observerCount > 0, 'the observation');
      const big = { blob: 'q'.repeat(700) };
      const version = await writeDesired(h.t.hangar.store.db, 'default', d.id, big);
      h.t.hangar.bus.publish({ type: 'twin.desired.changed', tenantId: 'default', deviceId: d.id, version });
      const run = await running;
      expect(run.stdout).toContain(JSON.stringify({ $version: version, ...big }));
    });
  });

  describe('commands', () => {
    it('answers an empty list when no command waits', async () => {
      const run = await coapClient(['-m', 'get', h.url('commands', dev.id, dev.token)]);
      expect(run.stderr).toBe('');
      expect(JSON.parse(run.stdout)).toEqual({ items: [] });
    });
  });
});

describe('CoAP device API optional parts', () => {
  let h: CoapHarness;
  beforeAll(async () => {
    h = await startCoapHarness({ twinReader: undefined, uplink: undefined });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers 5.01 for twin resources nothing serves yet instead of accepting data', async () => {
    const d = await h.device('coap-bare');
    expect((await coapClient(['-m', 'get', h.url('twin/desired', d.id, d.token)])).stderr).toMatch(/^5\.01 /);
    expect((await coapClient(['-m', 'patch', '-e', '{"a":1}', h.url('twin/reported', d.id, d.token)])).stderr).toMatch(/^5\.01 /);
  });

  it('answers 4.29 once a source has failed to authenticate too often', async () => {
    const d = await h.device('coap-guess');
    let last = '';
    for (let i = 0; i < 12; i++) last = (await coapClient(['-m', 'post', '-e', '{"a":1}', h.url('telemetry', d.id, `dt_guess-${i}`)])).stderr;
    expect(last).toMatch(/^4\.29 /);
  });
});

describe('CoAP authentication racing a revocation', () => {
  /**
   * Lets a test act between the store read of an authentication and its answer: the window in
   * which a revocation's event can land while the (now stale) success is on its way to the cache.
   */
  class PausingAuthenticator {
    inner: DeviceAuthenticator | undefined;
    midway: (() => Promise<void>) | undefined;

    async authenticateToken(deviceId: string, token: string, source: string): ReturnType<DeviceAuthenticator['authenticateToken']> {
      const result = await this.inner!.authenticateToken(deviceId, token, source);
      const hook = this.midway;
      this.midway = undefined;
      if (hook) await hook();
      return result;
    }
  }

  let h: CoapHarness;
  const auth = new PausingAuthenticator();
  beforeAll(async () => {
    h = await startCoapHarness({ authenticator: auth });
    auth.inner = new DeviceAuthenticator(h.t.hangar.stores);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('does not cache a success whose credential was revoked while it was being checked', async () => {
    const d = await h.device('coap-revoke-race');
    auth.midway = async () => {
      const delivered = new Promise<void>((resolve) => {
        const off = h.t.hangar.bus.subscribe('credential.revoked', () => {
          off();
          resolve();
        });
      });
      const revoked = await h.t.call('DELETE', `/api/v1/devices/${d.id}/credentials/${d.credentialId}`);
      expect(revoked.status).toBeLessThan(300);
      // The endpoint subscribed first, so its handler has run by the time this one does.
      await delivered;
    };
    // The request whose check read the store before the revocation is still answered…
    expect((await coapClient(['-m', 'post', '-e', '{"a":1}', h.url('telemetry', d.id, d.token)])).stderr).toBe('');
    expect(auth.midway).toBeUndefined();
    // …but the next one is checked again and refused, not served from the cache for 30 s.
    expect((await coapClient(['-m', 'post', '-e', '{"a":2}', h.url('telemetry', d.id, d.token)])).stderr).toMatch(/^4\.03 /);
  });
});

describe('CoAP reported twin into the twin service', () => {
  let h: CoapHarness;
  let twins: TwinService | undefined;
  beforeAll(async () => {
    // The service exists only once the harness's Hangar does; the uplink looks it up per call.
    h = await startCoapHarness({ uplink: { twinReported: (device, patch) => twinUplink(twins!).twinReported(device, patch) } });
    twins = h.t.hangar.services.twins;
  });
  afterAll(async () => {
    await h?.close();
  });

  it('merges a reported patch (2.04) and refuses $-names with 4.00, nothing stored changes', async () => {
    const dev = await h.device('coap-twin-rep');
    expect((await coapClient(['-m', 'patch', '-t', '50', '-e', '{"fw":"1.2.0","net":{"ip":"10.0.0.9"}}', h.url('twin/reported', dev.id, dev.token)])).stderr).toBe('');
    expect((await coapClient(['-m', 'patch', '-t', '50', '-e', '{"net":{"ip":null}}', h.url('twin/reported', dev.id, dev.token)])).stderr).toBe('');
    const twin = await h.t.call('GET', `/api/v1/devices/${dev.id}/twin`);
    expect(twin.body.reported).toMatchObject({ fw: '1.2.0', net: {}, $version: 2 });
    expect((await coapClient(['-m', 'patch', '-t', '50', '-e', '{"$version":7}', h.url('twin/reported', dev.id, dev.token)])).stderr).toMatch(/^4\.00 /);
    expect((await h.t.call('GET', `/api/v1/devices/${dev.id}/twin`)).body).toEqual(twin.body);
  });
});
