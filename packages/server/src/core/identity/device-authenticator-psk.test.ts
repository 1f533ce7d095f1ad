import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { STORE_KINDS } from '../../testing/test-store.js';
import { DeviceAuthenticator } from './device-authenticator.js';
import { MasterKey } from './master-key.js';

const KEY = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';

describe.each(STORE_KINDS)('PSK resolution by the device authenticator on %s', (kind) => {
  let t: TestHangar;
  let auth: DeviceAuthenticator;
  /** The authenticator's clock: the real one unless a test moves it. */
  let clock: number | undefined;
  const masterKey = MasterKey.forTests();
  const newPsk = async (deviceId: string, body: Record<string, unknown> = {}): Promise<{ id: string; identity: string; key: string }> => {
    const res = await t.call('POST', `/api/v1/devices/${deviceId}/credentials`, { body: { type: 'psk', ...body } });
    expect(res.status).toBe(201);
    return res.body;
  };

  beforeAll(async () => {
    t = await startTestHangar(kind, { masterKey });
    // A generous throttle and a clock of its own: these tests fail on purpose and move time.
    auth = new DeviceAuthenticator(t.hangar.stores, () => clock ?? Date.now(), { perIdentity: 1000, perSource: 1000 }, undefined, masterKey);
    for (const id of ['psk-1', 'psk-2', 'psk-3', 'psk-4', 'psk-5']) expect((await t.call('POST', '/api/v1/devices', { body: { id } })).status).toBe(201);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('resolves an active identity to its key and the device identity', async () => {
    const cred = await newPsk('psk-1', { identity: 'id-psk-1', key: KEY });
    const resolved = await auth.resolvePsk('id-psk-1', '192.0.2.1');
    expect(resolved).toEqual({ key: Buffer.from(KEY, 'hex'), identity: { tenantId: 'default', deviceId: 'psk-1', credentialId: cred.id } });
  });

  it('resolves nothing for an unknown identity, nor for one that differs by case or spacing', async () => {
    expect(await auth.resolvePsk('nobody', '192.0.2.1')).toBeUndefined();
    expect(await auth.resolvePsk('ID-PSK-1', '192.0.2.1')).toBeUndefined();
    expect(await auth.resolvePsk('id-psk-1 ', '192.0.2.1')).toBeUndefined();
    expect(await auth.resolvePsk('', '192.0.2.1')).toBeUndefined();
  });

  it('resolves nothing for a revoked identity', async () => {
    const cred = await newPsk('psk-2');
    expect(await auth.resolvePsk('psk-2', '192.0.2.1')).toBeDefined();
    expect((await t.call('DELETE', `/api/v1/devices/psk-2/credentials/${cred.id}`)).status).toBe(204);
    expect(await auth.resolvePsk('psk-2', '192.0.2.1')).toBeUndefined();
  });

  it('resolves nothing for an expired identity', async () => {
    await newPsk('psk-3', { validityDays: 1 });
    expect(await auth.resolvePsk('psk-3', '192.0.2.1')).toBeDefined();
    clock = Date.now() + 86_400_000 + 60_000;
    try {
      expect(await auth.resolvePsk('psk-3', '192.0.2.1')).toBeUndefined();
    } finally {
      clock = undefined;
    }
  });

  it('resolves nothing while the device is suspended, and again once it is active', async () => {
    await newPsk('psk-4');
    expect((await t.call('PATCH', '/api/v1/devices/psk-4', { body: { status: 'suspended' } })).status).toBe(200);
    expect(await auth.resolvePsk('psk-4', '192.0.2.1')).toBeUndefined();
    expect((await t.call('PATCH', '/api/v1/devices/psk-4', { body: { status: 'active' } })).status).toBe(200);
    expect(await auth.resolvePsk('psk-4', '192.0.2.1')).toBeDefined();
  });

  it('resolves nothing once the device is decommissioned', async () => {
    await newPsk('psk-5');
    expect((await t.call('POST', '/api/v1/devices/psk-5/decommission', { body: { purgeData: false } })).status).toBe(200);
    expect(await auth.resolvePsk('psk-5', '192.0.2.1')).toBeUndefined();
  });

  it('throttles a source that keeps naming unknown identities, not its neighbours', async () => {
    const strict = new DeviceAuthenticator(t.hangar.stores, Date.now, { perIdentity: 3, perSource: 6 }, undefined, masterKey);
    await newPsk('psk-1', { identity: 'throttled-1' });
    // A few failures for one identity from one source: then even the good identity waits there…
    for (let i = 0; i < 3; i++) expect(await strict.resolvePsk('throttled-1x', '198.51.100.1')).toBeUndefined();
    expect(await strict.resolvePsk('throttled-1x', '198.51.100.1')).toBeUndefined();
    expect(await strict.resolvePsk('throttled-1', '198.51.100.1')).toBeDefined();
    // …while spraying identities hits the source's ceiling, and every lookup from it is refused.
    for (let i = 0; i < 6; i++) await strict.resolvePsk(`spray-${i}`, '198.51.100.1');
    expect(await strict.resolvePsk('throttled-1', '198.51.100.1')).toBeUndefined();
    // Another source is unaffected.
    expect(await strict.resolvePsk('throttled-1', '198.51.100.2')).toBeDefined();
  });

  it('lets a revoked device retry forever without locking out its neighbours behind the same address', async () => {
    const strict = new DeviceAuthenticator(t.hangar.stores, Date.now, { perIdentity: 3, perSource: 6 }, undefined, masterKey);
    const revoked = await newPsk('psk-1', { identity: 'revoked-retrier' });
    expect((await t.call('DELETE', `/api/v1/devices/psk-1/credentials/${revoked.id}`)).status).toBe(204);
    await newPsk('psk-1', { identity: 'healthy-neighbour' });
    for (let i = 0; i < 20; i++) expect(await strict.resolvePsk('revoked-retrier', '198.51.100.9')).toBeUndefined();
    expect(await strict.resolvePsk('healthy-neighbour', '198.51.100.9')).toBeDefined();
  });

  it('counts handshakes that failed on a wrong key against the identity and source', async () => {
    const strict = new DeviceAuthenticator(t.hangar.stores, Date.now, { perIdentity: 3, perSource: 100 }, undefined, masterKey);
    await newPsk('psk-1', { identity: 'guessed' });
    for (let i = 0; i < 3; i++) strict.pskHandshakeFailed('guessed', '203.0.113.7');
    expect(await strict.resolvePsk('guessed', '203.0.113.7')).toBeUndefined();
    expect(await strict.resolvePsk('guessed', '203.0.113.8')).toBeDefined();
  });

  it('cannot resolve without the master key, and says so', async () => {
    const keyless = new DeviceAuthenticator(t.hangar.stores);
    await expect(keyless.resolvePsk('id-psk-1', '192.0.2.1')).rejects.toThrow(/master key/);
  });
});
