/** Test firmware: a signed manifest as Hangar would make it (Ed25519 over `canonicalManifest`). */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { canonicalManifest, type FirmwareManifest, type FirmwareSigningKey } from '@hangar/protocol';
import { sha256Hex } from './firmware-server.js';

export interface TestSigner {
  keyId: string;
  privateKey: KeyObject;
  publicKey: FirmwareSigningKey;
}

export function testSigner(keyId: string): TestSigner {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { keyId, privateKey, publicKey: { keyId, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() } };
}

export function manifestFor(image: Buffer, version: string, firmwareId = 'fw_test'): FirmwareManifest {
  return { v: 1, firmwareId, version, deviceTypes: [], size: image.length, sha256: sha256Hex(image) };
}

export function signManifest(manifest: FirmwareManifest, signer: TestSigner): string {
  return sign(null, Buffer.from(canonicalManifest(manifest), 'utf8'), signer.privateKey).toString('base64');
}
