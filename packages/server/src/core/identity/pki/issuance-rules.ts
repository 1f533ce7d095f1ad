/**
 * Rules every certificate Hangar signs follows, shared by the CA, CRL and device-certificate
 * code: validity arithmetic, serial numbers and fingerprints.
 */
import { createHash, randomBytes } from 'node:crypto';
import { HangarError } from '../../../errors.js';

/** Certificates start this long before "now" so that devices whose clocks run behind accept them. */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;
export const DAY_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_DEVICE_VALIDITY_DAYS = 365;
const MAX_VALIDITY_DAYS = 100 * 365;
// Hangar's CAs are P-256, and ECDSA with SHA-256 is the matching hash (RFC 5758 §3.2).
export const CA_SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

function invalid(message: string, cause?: unknown): HangarError {
  return new HangarError('VALIDATION_FAILED', message, {}, cause === undefined ? undefined : { cause });
}

export function checkNow(now: unknown): Date {
  if (now === undefined) return new Date();
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw invalid('now must be a valid Date');
  return now;
}

export function checkValidityDays(days: unknown, fallback: number): number {
  if (days === undefined) return fallback;
  if (typeof days !== 'number' || !Number.isFinite(days) || days <= 0 || days > MAX_VALIDITY_DAYS) {
    throw invalid(`validityDays must be a number of days above 0 and at most ${MAX_VALIDITY_DAYS}`);
  }
  return days;
}

/** X.509 times have whole seconds (RFC 5280 §4.1.2.5); round down so returned dates equal the encoded ones. */
export function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

/**
 * A random positive serial of 16 octets (RFC 5280 §4.1.2.2: positive, at most 20 octets; the
 * CA/B Forum asks for at least 64 random bits). The first octet is 0x01–0x7f, so the DER
 * INTEGER needs no 0x00 sign octet and has no leading zero octet: the hex we return is exactly
 * what OpenSSL prints, always 32 digits.
 */
export function randomSerialHex(): string {
  return randomSerial().toString('hex');
}

/** The octets of `randomSerialHex`: the content of the serial's DER INTEGER as it is. */
export function randomSerial(): Buffer {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] as number) % 0x7f) + 1;
  return bytes;
}

export function sha256Hex(der: ArrayBuffer | Uint8Array): string {
  return createHash('sha256')
    .update(der instanceof Uint8Array ? der : new Uint8Array(der))
    .digest('hex');
}

