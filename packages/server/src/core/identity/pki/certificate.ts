import { createHash, randomBytes } from 'node:crypto';
import { isValidDeviceId } from '@hangar/protocol';
import { HangarError } from '../../../errors.js';
import { checkAcceptedKey, describePublicKey, spkiOf, type KeyAlgorithm, type SubjectPublicKey } from './keys.js';
import { decodeSinglePem, encodePem, PEM_LABEL } from './pem.js';
import { webcrypto, x509, type CryptoKey } from './x509.js';

export interface ParsedCertificate {
  /** The certificate re-encoded canonically (64-character lines, LF, final newline). */
  pem: string;
  /** RFC 4514-style, in DER order: "CN=device-1". */
  subject: string;
  /** The first CN of the subject (as OpenSSL and Mosquitto read it), or null when there is none. */
  commonName: string | null;
  issuer: string;
  /** Lowercase hex of the serial's magnitude, as `openssl x509 -serial` prints it (modulo case). */
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the DER, lowercase hex without separators. */
  fingerprintSha256: string;
  /** basicConstraints present with cA true. */
  isCa: boolean;
  keyAlgorithm: KeyAlgorithm | 'other';
  /** RSA modulus length in bits. */
  keySize?: number;
}

/** The CA that signs: its certificate and its P-256 private key (from `importPrivateKeyPem`). */
export interface CaKey {
  certificatePem: string;
  privateKey: CryptoKey;
}

export interface IssuedCertificate {
  certificatePem: string;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  fingerprintSha256: string;
}

export interface IssueDeviceCertificateOptions {
  ca: CaKey;
  /** A WebCrypto public key, or the `publicKey` of a parsed CSR. */
  subjectPublicKey: SubjectPublicKey;
  deviceId: string;
  /** Default 365. */
  validityDays?: number;
  now?: Date;
}

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
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] as number) % 0x7f) + 1;
  return bytes.toString('hex');
}

export function sha256Hex(der: ArrayBuffer | Uint8Array): string {
  return createHash('sha256')
    .update(der instanceof Uint8Array ? der : new Uint8Array(der))
    .digest('hex');
}

export interface ReadCertificate {
  cert: x509.X509Certificate;
  parsed: ParsedCertificate;
}

/** Strict PEM → certificate; every parse failure becomes VALIDATION_FAILED naming `what`. */
export function readCertificate(pem: unknown, what = 'certificate'): ReadCertificate {
  const der = decodeSinglePem(pem, { what, labels: [PEM_LABEL.certificate] });
  try {
    const cert = new x509.X509Certificate(der);
    const basic = cert.getExtension(x509.BasicConstraintsExtension);
    const key = describePublicKey(new Uint8Array(cert.publicKey.rawData));
    const parsed: ParsedCertificate = {
      pem: encodePem(der, PEM_LABEL.certificate),
      subject: cert.subject,
      commonName: cert.subjectName.getField('CN')[0] ?? null,
      issuer: cert.issuer,
      serialHex: cert.serialNumber.toLowerCase(),
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
      fingerprintSha256: sha256Hex(der),
      isCa: basic?.ca === true,
      keyAlgorithm: key.keyAlgorithm,
      ...(key.keySize === undefined || key.keyAlgorithm !== 'RSA' ? {} : { keySize: key.keySize }),
    };
    return { cert, parsed };
  } catch (err) {
    if (err instanceof HangarError) throw err;
    throw invalid(`${what}: the PEM block does not hold a valid X.509 certificate (${(err as Error).message})`, err);
  }
}

export async function parseCertificate(pem: string): Promise<ParsedCertificate> {
  return readCertificate(pem).parsed;
}

export interface Issuer {
  cert: x509.X509Certificate;
  privateKey: CryptoKey;
  /** The CA's subject key identifier, hex: the AKI of everything it signs. */
  keyId: string;
}

/**
 * Checks a CA signer before it signs anything: the certificate is a CA, the key is an ECDSA
 * P-256 signing key, and the key is the one the certificate certifies (a trial signature) — so a
 * mismatched pair fails here with a clear message instead of producing unverifiable output.
 */
export function openIssuer(ca: CaKey): Promise<Issuer> {
  if (ca === null || typeof ca !== 'object') return Promise.reject(invalid('ca must be { certificatePem, privateKey }'));
  // The checks cost a parse and a trial signature: once per key and certificate, not per issue.
  const hit = checkedIssuers.get(ca.privateKey);
  if (hit && hit.certificatePem === ca.certificatePem) return hit.issuer;
  const issuer = checkIssuer(ca);
  if (ca.privateKey && typeof ca.privateKey === 'object') {
    checkedIssuers.set(ca.privateKey, { certificatePem: ca.certificatePem, issuer });
    issuer.catch(() => checkedIssuers.delete(ca.privateKey));
  }
  return issuer;
}

const checkedIssuers = new WeakMap<CryptoKey, { certificatePem: string; issuer: Promise<Issuer> }>();

async function checkIssuer(ca: CaKey): Promise<Issuer> {
  if (ca === null || typeof ca !== 'object') throw invalid('ca must be { certificatePem, privateKey }');
  const { cert, parsed } = readCertificate(ca.certificatePem, 'CA certificate');
  if (!parsed.isCa) throw invalid('CA certificate is not a CA certificate (basicConstraints cA is not true)');
  const key = ca.privateKey;
  const algorithm = key?.algorithm as { name?: string; namedCurve?: string } | undefined;
  if (!key || key.type !== 'private' || algorithm?.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256' || !key.usages.includes('sign')) {
    throw invalid('the CA private key must be an ECDSA P-256 signing key (see importPrivateKeyPem)');
  }
  if (!(await keyMatchesCertificate(key, cert))) throw invalid('the CA private key does not belong to the CA certificate');
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const keyId = ski?.keyId ?? (await x509.SubjectKeyIdentifierExtension.create(cert.publicKey)).keyId;
  return { cert, privateKey: key, keyId };
}

async function keyMatchesCertificate(privateKey: CryptoKey, cert: x509.X509Certificate): Promise<boolean> {
  const probe = randomBytes(32);
  try {
    const signature = await webcrypto.subtle.sign(CA_SIGNING_ALGORITHM, privateKey, probe);
    const publicKey = await cert.publicKey.export({ name: 'ECDSA', namedCurve: 'P-256' }, ['verify']);
    return await webcrypto.subtle.verify(CA_SIGNING_ALGORITHM, publicKey, signature, probe);
  } catch {
    return false; // the certificate's key is not P-256 at all
  }
}

/**
 * Signs a device (end-entity) certificate for TLS client authentication: CN=<deviceId>,
 * basicConstraints CA:false, keyUsage digitalSignature (+ keyEncipherment for RSA keys, which
 * TLS 1.2 RSA key exchange needs), extendedKeyUsage clientAuth, SKI and AKI. Valid from
 * CLOCK_SKEW_MS before `now` until `validityDays` after `now`, cut at the CA's own notAfter (path validation
 * checks each certificate's dates on its own, but one that outlives its CA is useless and
 * misleading). Requested CSR extensions are never copied: Hangar decides what it certifies.
 */
export async function issueDeviceCertificate(options: IssueDeviceCertificateOptions): Promise<IssuedCertificate> {
  const now = checkNow(options.now);
  const days = checkValidityDays(options.validityDays, DEFAULT_DEVICE_VALIDITY_DAYS);
  const { deviceId } = options;
  if (typeof deviceId !== 'string' || !isValidDeviceId(deviceId)) {
    throw invalid(`device id ${JSON.stringify(deviceId)} is invalid: use 1–128 characters of A–Z a–z 0–9 . _ : -`);
  }
  const issuer = await openIssuer(options.ca);
  const spki = await spkiOf(options.subjectPublicKey);
  const key = checkAcceptedKey(spki, 'subject public key');

  const caNotAfter = issuer.cert.notAfter.getTime();
  if (caNotAfter <= now.getTime()) throw invalid(`the CA certificate expired on ${issuer.cert.notAfter.toISOString()}`);
  const notBefore = wholeSeconds(Math.max(now.getTime() - CLOCK_SKEW_MS, issuer.cert.notBefore.getTime()));
  // The skew allowance widens the start only: a credential asked for N days lasts N days from now.
  const notAfter = wholeSeconds(Math.min(now.getTime() + days * DAY_MS, caNotAfter));

  const publicKey = new x509.PublicKey(spki);
  const usages = x509.KeyUsageFlags.digitalSignature | (key.keyAlgorithm === 'RSA' ? x509.KeyUsageFlags.keyEncipherment : 0);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    // UTF8String (RFC 5280 §4.1.2.6), and the object form so a value is never read as "#hex".
    subject: new x509.Name([{ CN: [{ utf8String: deviceId }] }]),
    issuer: issuer.cert.subjectName,
    notBefore,
    notAfter,
    publicKey,
    signingKey: issuer.privateKey,
    signingAlgorithm: CA_SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usages, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      new x509.AuthorityKeyIdentifierExtension(issuer.keyId, false),
    ],
  });
  const der = new Uint8Array(cert.rawData);
  return {
    certificatePem: encodePem(der, PEM_LABEL.certificate),
    serialHex: cert.serialNumber.toLowerCase(),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    fingerprintSha256: sha256Hex(der),
  };
}

function within(cert: x509.X509Certificate, now: Date): boolean {
  return cert.notBefore.getTime() <= now.getTime() && now.getTime() <= cert.notAfter.getTime();
}

/**
 * Whether `caPem`'s key signed `certPem`, with both certificates inside their validity at `now`.
 * A wrong key, a corrupted signature or an algorithm WebCrypto cannot check all answer false;
 * only PEM that does not parse throws (VALIDATION_FAILED). Names and extensions are not
 * checked: this is a signature check, not RFC 5280 path validation.
 */
export async function verifySignedBy(certPem: string, caPem: string, now?: Date): Promise<boolean> {
  const at = checkNow(now);
  const { cert } = readCertificate(certPem, 'certificate');
  const { cert: ca } = readCertificate(caPem, 'CA certificate');
  if (!within(cert, at) || !within(ca, at)) return false;
  try {
    return await cert.verify({ publicKey: ca.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

