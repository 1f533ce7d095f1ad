import { createPublicKey, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalManifest, type FirmwareManifest } from '@hangar/protocol';
import { openTestStore, STORE_KINDS, type TestStore } from '../../testing/test-store.js';
import { MasterKey } from '../identity/master-key.js';
import { signManifest, verifyManifest } from './manifest-signer.js';
import { FirmwareSigningKeys } from './signing-keys.js';

const manifest: FirmwareManifest = { v: 1, firmwareId: 'fw_1', version: '1.0.0', deviceTypes: ['b', 'a'], size: 10, sha256: '00'.repeat(32) };

describe.each(STORE_KINDS)('firmware signing keys on %s', (kind) => {
  let ts: TestStore;
  const masterKey = MasterKey.forTests();

  beforeAll(async () => {
    ts = await openTestStore(kind);
    await ts.stores.tenancy.insertTenant({ id: 't1', name: 'T1', createdAt: 1 });
  });
  afterAll(async () => {
    await ts.cleanup();
  });

  it('makes one key for a tenant however many first needs race, sealed with the master key', async () => {
    const keys = new FirmwareSigningKeys(ts.stores, masterKey);
    const signers = await Promise.all(Array.from({ length: 6 }, () => keys.activeSigner('t1')));
    expect(new Set(signers.map((s) => s.keyId)).size).toBe(1);
    const [record] = await ts.stores.signingKeys.list('t1');
    expect(record!.sealedPrivateKey).toMatch(/^v1:/);
    expect(record!.sealedPrivateKey).not.toContain('PRIVATE KEY');
    // Another process with the same master key signs with the same key; one with another key cannot unseal it.
    const restarted = await new FirmwareSigningKeys(ts.stores, masterKey).activeSigner('t1');
    const signature = signManifest(manifest, restarted.privateKey);
    expect(verify(null, Buffer.from(canonicalManifest(manifest)), createPublicKey(record!.publicKeyPem), Buffer.from(signature, 'base64'))).toBe(true);
    await expect(new FirmwareSigningKeys(ts.stores, MasterKey.forTests()).activeSigner('t1')).rejects.toThrow(/master key|HANGAR_MASTER_KEY/i);
  });

  it('verifies only signatures of the exact manifest', async () => {
    const signer = await new FirmwareSigningKeys(ts.stores, masterKey).activeSigner('t1');
    const publicKey = createPublicKey(signer.privateKey);
    const signature = signManifest(manifest, signer.privateKey);
    expect(verifyManifest(manifest, signature, publicKey)).toBe(true);
    // Device types are signed sorted: the order given does not matter.
    expect(verifyManifest({ ...manifest, deviceTypes: ['a', 'b'] }, signature, publicKey)).toBe(true);
    expect(verifyManifest({ ...manifest, size: 11 }, signature, publicKey)).toBe(false);
    expect(verifyManifest(manifest, 'not base64!', publicKey)).toBe(false);
    expect(verifyManifest(manifest, Buffer.alloc(64).toString('base64'), publicKey)).toBe(false);
    expect(verifyManifest(manifest, Buffer.alloc(10).toString('base64'), publicKey)).toBe(false);
  });
});
