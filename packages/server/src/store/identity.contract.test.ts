import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceCredential } from '../core/identity/ports.js';
import { StoreError } from '../core/stores.js';
import { STORE_KINDS, openTestStore, type TestStore } from '../testing/test-store.js';

/** The identity store's contract for PSK credentials (migration 017), on both dialects. */
function credential(id: string, over: Partial<DeviceCredential> = {}): DeviceCredential {
  return {
    id,
    tenantId: 't1',
    deviceId: 'dev-1',
    type: 'psk',
    status: 'active',
    tokenHash: null,
    caId: null,
    serialHex: null,
    fingerprintSha256: null,
    certificatePem: null,
    keyAlgorithm: null,
    source: 'api',
    createdAt: 1_700_000_000_000,
    expiresAt: 1_800_000_000_000,
    revokedAt: null,
    revocationReason: null,
    pskIdentity: `identity-of-${id}`,
    encryptedPsk: `v1:sealed-${id}`,
    ...over,
  };
}

describe.each(STORE_KINDS)('identity store contract (PSK) on %s', (kind) => {
  let t: TestStore;

  beforeAll(async () => {
    t = await openTestStore(kind);
    await t.stores.tenancy.insertTenant({ id: 't1', name: 'One', createdAt: 1 });
    await t.stores.tenancy.insertTenant({ id: 't2', name: 'Two', createdAt: 2 });
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('stores a psk credential and reads it back, by id, by device and by its identity', async () => {
    const c = credential('cred-a', { pskIdentity: 'sensor-a·ü' });
    await t.stores.identity.insertCredential(c);
    expect(await t.stores.identity.getCredential('t1', 'cred-a')).toEqual(c);
    expect(await t.stores.identity.listCredentials('t1', 'dev-1')).toEqual([c]);
    expect(await t.stores.identity.findCredentialsByPskIdentity('sensor-a·ü')).toEqual([c]);
    expect(await t.stores.identity.findCredentialsByPskIdentity('sensor-a')).toEqual([]);
  });

  it('refuses a second active credential with the same identity, in any tenant', async () => {
    await t.stores.identity.insertCredential(credential('cred-b', { pskIdentity: 'shared' }));
    const again = t.stores.identity.insertCredential(credential('cred-c', { tenantId: 't2', deviceId: 'dev-9', pskIdentity: 'shared' }));
    await expect(again).rejects.toBeInstanceOf(StoreError);
    await expect(again).rejects.toMatchObject({ reason: 'unique' });
    // Nothing of the refused row was kept, and the first is intact.
    expect(await t.stores.identity.getCredential('t2', 'cred-c')).toBeUndefined();
    expect((await t.stores.identity.findCredentialsByPskIdentity('shared')).map((c) => c.id)).toEqual(['cred-b']);
  });

  it('frees an identity when its credential is revoked, and keeps the revoked row', async () => {
    await t.stores.identity.revokeCredential('t1', 'cred-b', 1_700_000_100_000, 'superseded');
    await t.stores.identity.insertCredential(credential('cred-d', { pskIdentity: 'shared', createdAt: 1_700_000_200_000 }));
    const all = await t.stores.identity.findCredentialsByPskIdentity('shared');
    expect(all.map((c) => [c.id, c.status])).toEqual([
      ['cred-b', 'revoked'],
      ['cred-d', 'active'],
    ]);
    expect(await t.stores.identity.getCredential('t1', 'cred-b')).toMatchObject({ status: 'revoked', pskIdentity: 'shared', revocationReason: 'superseded' });
  });

  it('lets any number of token and certificate credentials go without an identity', async () => {
    for (const id of ['tok-1', 'tok-2']) {
      await t.stores.identity.insertCredential(credential(id, { type: 'token', tokenHash: `hash-${id}`, pskIdentity: null, encryptedPsk: null }));
    }
    expect(await t.stores.identity.getCredential('t1', 'tok-2')).toMatchObject({ type: 'token', pskIdentity: null, encryptedPsk: null });
  });

  it('keeps an enrollment group that hands out PSKs', async () => {
    const g = {
      id: 'eg-psk',
      tenantId: 't1',
      name: 'psk meters',
      mechanism: 'claim_token' as const,
      enabled: true,
      claimTokenHash: 'h',
      encryptedGroupKey: null,
      caId: null,
      credentialType: 'psk' as const,
      deviceType: 'meter',
      tags: {},
      deviceGroups: [],
      initialDesired: {},
      deviceLimit: null,
      enrolledCount: 0,
      expiresAt: null,
      createdAt: 1,
      updatedAt: 1,
    };
    await t.stores.identity.insertEnrollmentGroup(g);
    expect(await t.stores.identity.getEnrollmentGroup('eg-psk')).toEqual(g);
  });
});
