/**
 * What makes an image installable: an Ed25519 signature by a known firmware signing key over
 * `canonicalManifest(manifest)` (the exact bytes the server signed), and an image whose size
 * and SHA-256 are the manifest's. Nothing is installed that fails either.
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createReadStream, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalManifest, type FirmwareManifest, type FirmwareSigningKey } from '@hangar/protocol';

export class VerifyError extends Error {}

/** Where the key list is kept between starts (`firmware-keys.json` in the state dir). */
export const FIRMWARE_KEYS_FILE = 'firmware-keys.json';

/**
 * The signing keys the device trusts. Keys learnt from the server (at provisioning, and from
 * `GET /device/v1/firmware/signing-keys` when an offer names an unknown `keyId` — after a key
 * rotation) or, when pinned (`--firmware-keys FILE.pem`), only the pinned ones: a pinned device
 * never takes a key from the network, so a compromised server cannot make it trust a new one.
 */
export class KeyRing {
  private keys = new Map<string, KeyObject>();
  private refreshing: Promise<void> | undefined;

  constructor(
    keys: readonly FirmwareSigningKey[] = [],
    private readonly options: { pinned?: readonly KeyObject[]; save?: (keys: FirmwareSigningKey[]) => void } = {},
  ) {
    this.replace(keys);
  }

  get pinned(): boolean {
    return (this.options.pinned?.length ?? 0) > 0;
  }

  get size(): number {
    return this.pinned ? this.options.pinned!.length : this.keys.size;
  }

  /**
   * The keys that may have signed with `keyId`: pinned keys carry no id, so all of them; else
   * the key of that id, refreshing the list once through `fetch` when it is unknown.
   */
  async candidates(keyId: string, fetch?: () => Promise<FirmwareSigningKey[]>): Promise<KeyObject[]> {
    if (this.pinned) return [...this.options.pinned!];
    if (!this.keys.has(keyId) && fetch) {
      // Concurrent offers (thousands of simulated agents share a ring) refresh once.
      this.refreshing ??= fetch()
        .then((keys) => {
          this.replace(keys);
          this.options.save?.(keys);
        })
        .finally(() => {
          this.refreshing = undefined;
        });
      await this.refreshing;
    }
    const key = this.keys.get(keyId);
    return key ? [key] : [];
  }

  /** Replaces the learnt keys (keys that are not valid Ed25519 SPKI PEM are skipped). */
  replace(keys: readonly FirmwareSigningKey[]): void {
    const next = new Map<string, KeyObject>();
    for (const k of keys) {
      try {
        const key = createPublicKey(k.publicKeyPem);
        if (key.asymmetricKeyType === 'ed25519') next.set(k.keyId, key);
      } catch {
        // not a key: skipped rather than failing every other one
      }
    }
    this.keys = next;
  }
}

/** Checks the offer's signature; throws VerifyError naming what is wrong. */
export async function verifyManifestSignature(
  manifest: FirmwareManifest,
  signatureB64: string,
  keyId: string,
  ring: KeyRing,
  fetchKeys?: () => Promise<FirmwareSigningKey[]>,
): Promise<void> {
  const keys = await ring.candidates(keyId, fetchKeys);
  if (keys.length === 0) throw new VerifyError(`unknown firmware signing key "${keyId}"`);
  const data = Buffer.from(canonicalManifest(manifest), 'utf8');
  const signature = Buffer.from(signatureB64, 'base64');
  // Ed25519 takes no digest algorithm (null): the signature covers the bytes themselves.
  if (!keys.some((key) => verify(null, data, key, signature))) throw new VerifyError(`the manifest signature does not verify with ${ring.pinned ? 'the pinned keys' : `key "${keyId}"`}`);
}

/** Checks a held image against the manifest. */
export function verifyImageDigest(actual: { sha256: string; size: number }, manifest: FirmwareManifest): void {
  if (actual.size !== manifest.size) throw new VerifyError(`the image has ${actual.size} bytes, the manifest says ${manifest.size}`);
  if (actual.sha256 !== manifest.sha256.toLowerCase()) throw new VerifyError(`the image's SHA-256 ${actual.sha256} is not the manifest's ${manifest.sha256}`);
}

/** SHA-256 (lower-case hex) and size of a file, streamed. */
export async function digestFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** Every public key of a PEM file (`--firmware-keys`); throws when it holds none. */
export function readPinnedKeys(file: string): KeyObject[] {
  const text = readFileSync(file, 'utf8');
  const blocks = text.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
  const keys = blocks.map((pem) => createPublicKey(pem)).filter((k) => k.asymmetricKeyType === 'ed25519');
  if (keys.length === 0) throw new Error(`${file} holds no Ed25519 public key (PEM "BEGIN PUBLIC KEY")`);
  return keys;
}

export function loadKeyFile(stateDir: string): FirmwareSigningKey[] {
  try {
    const keys = JSON.parse(readFileSync(join(stateDir, FIRMWARE_KEYS_FILE), 'utf8')) as unknown;
    return Array.isArray(keys) ? keys.filter(isSigningKey) : [];
  } catch {
    return [];
  }
}

export function saveKeyFile(stateDir: string, keys: readonly FirmwareSigningKey[]): void {
  const file = join(stateDir, FIRMWARE_KEYS_FILE);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

export function isSigningKey(k: unknown): k is FirmwareSigningKey {
  return typeof k === 'object' && k !== null && typeof (k as FirmwareSigningKey).keyId === 'string' && typeof (k as FirmwareSigningKey).publicKeyPem === 'string';
}
