import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The installation's master key encrypts what Hangar must be able to read back but never
 * show: CA private keys and enrollment group keys. It comes from `HANGAR_MASTER_KEY`
 * (32 bytes, base64 or hex) — which every node of a cluster must share — or from
 * `<data-dir>/master.key`, created 0600 on first start.
 */
export class MasterKey {
  private constructor(private readonly key: Buffer) {}

  static fromEnvOrFile(env: string | undefined, dataDir: string): MasterKey {
    if (env !== undefined && env !== '') return new MasterKey(decodeKey(env, 'HANGAR_MASTER_KEY'));
    const file = join(dataDir, 'master.key');
    if (existsSync(file)) {
      const mode = statSync(file).mode & 0o077;
      if (mode !== 0) chmodSync(file, 0o600); // tighten a copy that lost its mode
      return new MasterKey(decodeKey(readFileSync(file, 'utf8').trim(), file));
    }
    const key = randomBytes(32);
    writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    return new MasterKey(key);
  }

  static forTests(): MasterKey {
    return new MasterKey(randomBytes(32));
  }

  /**
   * A 32-byte key for one purpose (e.g. "firmware-download-tokens"), derived with HKDF-SHA256
   * so that no two uses share key material and every node of a cluster derives the same key.
   */
  deriveKey(purpose: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.key, Buffer.alloc(0), `hangar:${purpose}`, 32));
  }

  /** AES-256-GCM; `context` (e.g. "ca:<id>") is bound as additional data so a ciphertext cannot be moved to another row. */
  encrypt(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `v1:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  decrypt(sealed: string, context: string): string {
    if (!sealed.startsWith('v1:')) throw new Error('unknown sealed-secret format');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(raw.subarray(12, 28));
    try {
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch (err) {
      throw new Error('cannot decrypt a stored secret: is HANGAR_MASTER_KEY (or master.key) the one it was sealed with?', { cause: err });
    }
  }
}

function decodeKey(text: string, source: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (key.length !== 32) throw new Error(`${source} must hold 32 bytes, base64 or hex encoded`);
  return key;
}
