import { sign, verify, type KeyObject } from 'node:crypto';
import { canonicalManifest, type FirmwareManifest } from '@hangar/protocol';

/**
 * Ed25519 over the canonical manifest (`canonicalManifest`, UTF-8): the exact bytes the agent
 * verifies before it installs. Ed25519 takes no separate digest (node:crypto's `null`).
 */
export function signManifest(manifest: FirmwareManifest, privateKey: KeyObject): string {
  return sign(null, Buffer.from(canonicalManifest(manifest), 'utf8'), privateKey).toString('base64');
}

/** False for a signature that does not verify, and for one that is not even base64 of 64 bytes. */
export function verifyManifest(manifest: FirmwareManifest, signature: string, publicKey: KeyObject): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return false;
  const bytes = Buffer.from(signature, 'base64');
  if (bytes.length !== 64) return false;
  try {
    return verify(null, Buffer.from(canonicalManifest(manifest), 'utf8'), publicKey, bytes);
  } catch {
    return false;
  }
}
