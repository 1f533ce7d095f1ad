import { KeyObject, randomBytes } from 'node:crypto';
import { HangarError } from '../../../errors.js';
import { describePublicKey, spkiOf, type KeyAlgorithm, type SubjectPublicKey } from './keys.js';
import { createDeviceIssuer, type DeviceCertificateIssuer, type IssuedCertificate } from './fast-issuer.js';
import { CA_SIGNING_ALGORITHM, checkNow, sha256Hex } from './issuance-rules.js';
import { decodeSinglePem, encodePem, PEM_LABEL } from './pem.js';
import { webcrypto, x509, type CryptoKey } from './x509.js';

export {
  CA_SIGNING_ALGORITHM,
  checkNow,
  checkValidityDays,
  CLOCK_SKEW_MS,
  DAY_MS,
  DEFAULT_DEVICE_VALIDITY_DAYS,
  randomSerialHex,
  sha256Hex,
  wholeSeconds,
} from './issuance-rules.js';

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

export type { IssuedCertificate } from './fast-issuer.js';

export interface IssueDeviceCertificateOptions {
  ca: CaKey;
  /** A WebCrypto public key, or the `publicKey` of a parsed CSR. */
  subjectPublicKey: SubjectPublicKey;
  deviceId: string;
  /** Default 365. */
  validityDays?: number;
  now?: Date;
}

function invalid(message: string, cause?: unknown): HangarError {
  return new HangarError('VALIDATION_FAILED', message, {}, cause === undefined ? undefined : { cause });
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
 * Signs a device (end-entity) certificate for TLS client authentication (see `fast-issuer.ts`
 * for what it holds). This form takes the CA key as a WebCrypto CryptoKey and checks the CA on
 * first use per key; services hold a `DeviceCertificateIssuer` instead and skip the lookup.
 * Requested CSR extensions are never copied: Hangar decides what it certifies.
 */
export async function issueDeviceCertificate(options: IssueDeviceCertificateOptions): Promise<IssuedCertificate> {
  const issuer = deviceIssuerFor(options.ca);
  return issuer.issue({ spki: await spkiOf(options.subjectPublicKey), deviceId: options.deviceId, validityDays: options.validityDays, now: options.now });
}

const deviceIssuers = new WeakMap<CryptoKey, { certificatePem: string; issuer: DeviceCertificateIssuer }>();

function deviceIssuerFor(ca: CaKey): DeviceCertificateIssuer {
  if (ca === null || typeof ca !== 'object') throw invalid('ca must be { certificatePem, privateKey }');
  const key = ca.privateKey;
  const hit = key && typeof key === 'object' ? deviceIssuers.get(key) : undefined;
  if (hit && hit.certificatePem === ca.certificatePem) return hit.issuer;
  const algorithm = key?.algorithm as { name?: string; namedCurve?: string } | undefined;
  if (!key || key.type !== 'private' || algorithm?.name !== 'ECDSA' || algorithm.namedCurve !== 'P-256' || !key.usages.includes('sign')) {
    throw invalid('the CA private key must be an ECDSA P-256 signing key (see importPrivateKeyPem)');
  }
  // KeyObject.from shares the key material with the CryptoKey; extractability does not matter.
  const issuer = createDeviceIssuer({ certificatePem: ca.certificatePem, privateKey: KeyObject.from(key) });
  deviceIssuers.set(key, { certificatePem: ca.certificatePem, issuer });
  return issuer;
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

