import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FirmwareImage } from '../core/firmware/catalog.js';
import type { SigningKeyRecord } from '../core/firmware/ports.js';
import { semverKey } from '../core/query/semver-key.js';
import { StoreError, type Stores } from '../core/stores.js';
import { openTestStore, STORE_KINDS, type TestStore } from '../testing/test-store.js';

function image(id: string, version: string, fields: Partial<FirmwareImage> = {}): FirmwareImage {
  const deviceTypes = fields.deviceTypes ?? [];
  return {
    id,
    tenantId: 'default',
    version,
    deviceTypes,
    releaseNotes: 'notes',
    size: 3_000_000_000, // past 2^31: bigint columns
    sha256: 'ab'.repeat(32),
    manifest: { v: 1, firmwareId: id, version, deviceTypes, size: 3_000_000_000, sha256: 'ab'.repeat(32) },
    signature: 'c2ln',
    keyId: 'fsk_1',
    signedBy: 'hangar',
    createdBy: 'api_key:k',
    createdAt: 1000,
    ...fields,
  };
}

function key(keyId: string, fields: Partial<SigningKeyRecord> = {}): SigningKeyRecord {
  return { keyId, tenantId: 'default', kind: 'hangar', state: 'active', publicKeyPem: `pem ${keyId}`, sealedPrivateKey: 'v1:sealed', createdAt: 1, retiredAt: null, ...fields };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe.each(STORE_KINDS)('the firmware and signing-key stores on %s', (kind) => {
  let ts: TestStore;
  let stores: Stores;

  beforeAll(async () => {
    ts = await openTestStore(kind);
    stores = ts.stores;
    await stores.tenancy.insertTenant({ id: 'default', name: 'Default', createdAt: 1 });
    await stores.tenancy.insertTenant({ id: 'other', name: 'Other', createdAt: 1 });
  });
  afterAll(async () => {
    await ts.cleanup();
  });

  it('inserts, reads, filters by device type, pages newest first and deletes images', async () => {
    await stores.transaction((tx) => tx.firmware.insert(image('fw-a', '1.0.0', { deviceTypes: ['gw', 'meter'], createdAt: 1000 }), semverKey('1.0.0')!));
    await stores.transaction((tx) => tx.firmware.insert(image('fw-b', '1.1.0', { createdAt: 2000 }), semverKey('1.1.0')!));
    await stores.transaction((tx) => tx.firmware.insert(image('fw-c', '1.2.0', { deviceTypes: ['gw'], createdAt: 2000 }), semverKey('1.2.0')!));
    expect(await stores.firmware.get('default', 'fw-a')).toEqual(image('fw-a', '1.0.0', { deviceTypes: ['gw', 'meter'], createdAt: 1000 }));
    expect(await stores.firmware.get('other', 'fw-a')).toBeUndefined();
    expect((await stores.firmware.getByVersionKey('default', semverKey('v1.1.0+x')!))?.id).toBe('fw-b');
    const ids = async (f: Partial<Parameters<Stores['firmware']['list']>[0]>): Promise<string[]> => (await stores.firmware.list({ tenantId: 'default', limit: 10, ...f })).map((i) => i.id);
    expect(await ids({})).toEqual(['fw-c', 'fw-b', 'fw-a']);
    expect(await ids({ deviceType: 'meter' })).toEqual(['fw-b', 'fw-a']);
    expect(await ids({ deviceType: 'gw' })).toEqual(['fw-c', 'fw-b', 'fw-a']);
    expect(await ids({ deviceType: 'g_' })).toEqual(['fw-b']); // no pattern matching
    expect(await ids({ after: { createdAt: 2000, id: 'fw-c' } })).toEqual(['fw-b', 'fw-a']);
    expect(await ids({ after: { createdAt: 2000, id: 'fw-b' }, limit: 1 })).toEqual(['fw-a']);
    expect(await stores.firmware.list({ tenantId: 'other', limit: 10 })).toEqual([]);
    expect(await stores.firmware.delete('other', 'fw-a')).toBe(false);
    expect(await stores.firmware.delete('default', 'fw-a')).toBe(true);
    expect(await stores.firmware.delete('default', 'fw-a')).toBe(false);
    expect(await ids({ deviceType: 'meter' })).toEqual(['fw-b']);
  });

  it('refuses a second image of a version (by precedence) or id in a tenant, not in another', async () => {
    const dup = await rejection(stores.transaction((tx) => tx.firmware.insert(image('fw-d', 'v1.1.0+build', {}), semverKey('v1.1.0+build')!)));
    expect(dup).toBeInstanceOf(StoreError);
    expect((dup as StoreError).reason).toBe('unique');
    const sameId = await rejection(stores.transaction((tx) => tx.firmware.insert(image('fw-b', '7.0.0', { tenantId: 'other' }), semverKey('7.0.0')!)));
    expect((sameId as StoreError).reason).toBe('unique');
    await stores.transaction((tx) => tx.firmware.insert(image('fw-o', '1.1.0', { tenantId: 'other' }), semverKey('1.1.0')!));
    expect((await stores.firmware.getByVersionKey('other', semverKey('1.1.0')!))?.id).toBe('fw-o');
  });

  it('keeps one active Hangar key per tenant, retires keys and lists them oldest first', async () => {
    await stores.transaction((tx) => tx.signingKeys.insert(key('fsk-1', { createdAt: 1 })));
    const second = await rejection(stores.transaction((tx) => tx.signingKeys.insert(key('fsk-2', { createdAt: 2 }))));
    expect((second as StoreError).reason).toBe('unique');
    await stores.transaction((tx) => tx.signingKeys.insert(key('fsk-x', { kind: 'external', sealedPrivateKey: null, createdAt: 3 })));
    await stores.transaction((tx) => tx.signingKeys.insert(key('fsk-o', { tenantId: 'other', createdAt: 1 })));
    expect((await stores.signingKeys.activeHangarKey('default'))?.keyId).toBe('fsk-1');
    await stores.transaction(async (tx) => {
      expect(await tx.signingKeys.retire('default', 'fsk-1', 50)).toBe(true);
      await tx.signingKeys.insert(key('fsk-2', { createdAt: 50 }));
    });
    expect(await stores.signingKeys.retire('default', 'fsk-1', 60)).toBe(false);
    expect((await stores.signingKeys.activeHangarKey('default'))?.keyId).toBe('fsk-2');
    expect(await stores.signingKeys.get('default', 'fsk-1')).toEqual(key('fsk-1', { state: 'retired', retiredAt: 50, createdAt: 1 }));
    expect(await stores.signingKeys.get('other', 'fsk-1')).toBeUndefined();
    expect((await stores.signingKeys.list('default')).map((k) => k.keyId)).toEqual(['fsk-1', 'fsk-x', 'fsk-2']);
  });
});
