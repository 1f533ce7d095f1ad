import { randomBytes } from 'node:crypto';
import { HangarError } from '../../errors.js';
import type { MasterKey } from './master-key.js';

/** RFC 7925 §4.2 asks for at least 128 bits of key; 16 random bytes is what Hangar generates. */
export const PSK_MIN_BYTES = 16;
/** Longer keys add nothing to AES-128-CCM-8, and DTLS stacks cap them (libcoap, mbed TLS: 64). */
export const PSK_MAX_BYTES = 64;
/** RFC 4279 §5.3 allows 2^16-1, but devices store it in small fields and LwM2M servers (Leshan) keep it short. */
export const PSK_IDENTITY_MAX_BYTES = 128;

// C0, DEL and C1 controls: an identity is shown in logs, lists and the dashboard.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// A lone surrogate has no UTF-8 encoding: the bytes a device sends could not match it.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function invalid(field: 'identity' | 'key', message: string): HangarError {
  return new HangarError('VALIDATION_FAILED', `${field} ${message}`, { errors: [{ path: `body/${field}`, message }] });
}

/** Checks an operator's PSK identity: 1–128 bytes of UTF-8, no control characters. */
export function checkPskIdentity(identity: string): string {
  if (identity.length === 0) throw invalid('identity', 'must not be empty');
  if (CONTROL.test(identity)) throw invalid('identity', 'must not contain control characters');
  if (LONE_SURROGATE.test(identity)) throw invalid('identity', 'must be valid Unicode text');
  const bytes = Buffer.byteLength(identity, 'utf8');
  if (bytes > PSK_IDENTITY_MAX_BYTES) throw invalid('identity', `must be at most ${PSK_IDENTITY_MAX_BYTES} bytes of UTF-8 (it is ${bytes})`);
  return identity;
}

/** Reads an operator's key: hex digits, an even number of them, 16–64 bytes. */
export function parsePskKey(hex: string): Buffer {
  if (!/^[0-9a-fA-F]*$/.test(hex)) throw invalid('key', 'must be hexadecimal (0-9, a-f), without spaces or a 0x prefix');
  if (hex.length % 2 !== 0) throw invalid('key', 'must have an even number of hex digits (two per byte)');
  const bytes = hex.length / 2;
  if (bytes < PSK_MIN_BYTES) throw invalid('key', `must be at least ${PSK_MIN_BYTES} bytes (${PSK_MIN_BYTES * 2} hex digits); it is ${bytes}`);
  if (bytes > PSK_MAX_BYTES) throw invalid('key', `must be at most ${PSK_MAX_BYTES} bytes (${PSK_MAX_BYTES * 2} hex digits); it is ${bytes}`);
  return Buffer.from(hex, 'hex');
}

export function newPskKey(): Buffer {
  return randomBytes(PSK_MIN_BYTES);
}

/** The key sealed for the credential's row; bound to its id, so it cannot be moved to another row. */
export function sealPsk(masterKey: MasterKey, credentialId: string, key: Buffer): string {
  return masterKey.encrypt(key.toString('hex'), `psk:${credentialId}`);
}

export function unsealPsk(masterKey: MasterKey, credentialId: string, sealed: string): Buffer {
  return Buffer.from(masterKey.decrypt(sealed, `psk:${credentialId}`), 'hex');
}

export function pskIdentityTaken(identity: string): HangarError {
  return new HangarError('CONFLICT', `PSK identity "${identity}" is already used by an active credential in this installation; choose another identity, or revoke the credential that holds it`);
}
