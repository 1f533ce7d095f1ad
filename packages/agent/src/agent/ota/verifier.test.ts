import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { manifestFor, signManifest, testSigner } from '../../testing/firmware-signing.js';
import { digestFile, KeyRing, loadKeyFile, readPinnedKeys, saveKeyFile, verifyImageDigest, verifyManifestSignature, VerifyError } from './verifier.js';

const dir = mkdtempSync(join(tmpdir(), 'hangar-verify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const image = randomBytes(10_000);
const signer = testSigner('k1');
const manifest = manifestFor(image, '2.0.0');

describe('verifier', () => {
  it('accepts a good signature and a matching image', async () => {
    await verifyManifestSignature(manifest, signManifest(manifest, signer), 'k1', new KeyRing([signer.publicKey]));
    writeFileSync(join(dir, 'good'), image);
    const digest = await digestFile(join(dir, 'good'));
    expect(() => verifyImageDigest(digest, manifest)).not.toThrow();
  });

  it('refuses an image whose SHA-256 or size is not the manifest’s', async () => {
    const bad = Buffer.from(image);
    bad[5000] = bad[5000]! ^ 0xff;
    writeFileSync(join(dir, 'bad'), bad);
    expect(() => verifyImageDigest({ sha256: manifest.sha256, size: 9_999 }, manifest)).toThrow(/9999 bytes/);
    const digest = await digestFile(join(dir, 'bad'));
    expect(() => verifyImageDigest(digest, manifest)).toThrow(VerifyError);
  });

  it('refuses a bad signature, and a signature over another manifest', async () => {
    const sig = Buffer.from(signManifest(manifest, signer), 'base64');
    sig[3] = sig[3]! ^ 1;
    await expect(verifyManifestSignature(manifest, sig.toString('base64'), 'k1', new KeyRing([signer.publicKey]))).rejects.toThrow(/does not verify/);
    const other = { ...manifest, version: '9.9.9' };
    await expect(verifyManifestSignature(other, signManifest(manifest, signer), 'k1', new KeyRing([signer.publicKey]))).rejects.toThrow(VerifyError);
  });

  it('refreshes the key list once for an unknown key, then verifies with it (rotation)', async () => {
    const rotated = testSigner('k2');
    const saved: unknown[] = [];
    const ring = new KeyRing([signer.publicKey], { save: (keys) => saved.push(keys) });
    let fetches = 0;
    const fetch = async (): Promise<typeof rotated.publicKey[]> => {
      fetches += 1;
      return [signer.publicKey, rotated.publicKey];
    };
    await verifyManifestSignature(manifest, signManifest(manifest, rotated), 'k2', ring, fetch);
    await verifyManifestSignature(manifest, signManifest(manifest, rotated), 'k2', ring, fetch);
    expect(fetches).toBe(1);
    expect(saved).toHaveLength(1);
  });

  it('refuses a key still unknown after one refresh', async () => {
    const stranger = testSigner('k9');
    let fetches = 0;
    const ring = new KeyRing([signer.publicKey]);
    const err = await verifyManifestSignature(manifest, signManifest(manifest, stranger), 'k9', ring, async () => {
      fetches += 1;
      return [signer.publicKey];
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerifyError);
    expect((err as Error).message).toMatch(/unknown firmware signing key "k9"/);
    expect(fetches).toBe(1);
  });

  it('with pinned keys trusts only them, whatever the keyId, and never fetches', async () => {
    const pem = join(dir, 'pinned.pem');
    writeFileSync(pem, signer.publicKey.publicKeyPem);
    const ring = new KeyRing([], { pinned: readPinnedKeys(pem) });
    let fetched = false;
    const fetch = async (): Promise<never[]> => {
      fetched = true;
      return [];
    };
    await verifyManifestSignature(manifest, signManifest(manifest, signer), 'any-id', ring, fetch);
    await expect(verifyManifestSignature(manifest, signManifest(manifest, testSigner('x')), 'x', ring, fetch)).rejects.toThrow(/pinned/);
    expect(fetched).toBe(false);
    writeFileSync(join(dir, 'empty.pem'), 'nothing here');
    expect(() => readPinnedKeys(join(dir, 'empty.pem'))).toThrow(/no Ed25519 public key/);
  });

  it('keeps the learnt keys in the state dir', () => {
    saveKeyFile(dir, [signer.publicKey]);
    expect(loadKeyFile(dir)).toEqual([signer.publicKey]);
    expect(loadKeyFile(join(dir, 'nowhere'))).toEqual([]);
  });
});
