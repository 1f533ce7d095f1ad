import { verify, type KeyObject } from 'node:crypto';
import { HangarError } from '../../../errors.js';
import { commonNameOf, formatName, readCsrDer, type CsrFields } from './csr-reader.js';
import { DerError } from './der.js';
import { acceptedPublicKey, type KeyAlgorithm } from './keys.js';
import { decodeSinglePem, encodePem, PEM_LABEL } from './pem.js';
import { x509 } from './x509.js';

export interface ParsedCsr {
  /** The first CN of the requested subject, or null. Issuance sets CN=<deviceId> regardless. */
  commonName: string | null;
  subject: string;
  keyAlgorithm: KeyAlgorithm;
  /** RSA modulus length in bits. */
  keySize?: number;
  /** The requested key as the exact DER SubjectPublicKeyInfo the device signed: pass it to `issueDeviceCertificate`. */
  publicKey: Uint8Array;
  /** The same key as SPKI PEM ('PUBLIC KEY'), for storage. */
  publicKeyPem: string;
}

const WHAT = 'certificate signing request';

/**
 * The signature algorithms devices use, checked by Node's native verify. `key` is the
 * asymmetricKeyType the signature needs; ECDSA signatures are DER (RFC 3279 §2.2.3), which is
 * Node's default encoding. Anything else (RSA-PSS, SHA-1, …) goes through @peculiar/x509 as
 * it always did.
 */
const SIGNATURE_ALGORITHMS: Record<string, { hash: string | null; key: 'ec' | 'rsa' | 'ed25519'; parameters: 'absent' | 'null-or-absent' }> = {
  '1.2.840.10045.4.3.2': { hash: 'sha256', key: 'ec', parameters: 'absent' }, // ecdsa-with-SHA256, RFC 5758 §3.2
  '1.2.840.10045.4.3.3': { hash: 'sha384', key: 'ec', parameters: 'absent' },
  '1.2.840.10045.4.3.4': { hash: 'sha512', key: 'ec', parameters: 'absent' },
  '1.2.840.113549.1.1.11': { hash: 'sha256', key: 'rsa', parameters: 'null-or-absent' }, // sha256WithRSAEncryption, RFC 4055 §5
  '1.2.840.113549.1.1.12': { hash: 'sha384', key: 'rsa', parameters: 'null-or-absent' },
  '1.2.840.113549.1.1.13': { hash: 'sha512', key: 'rsa', parameters: 'null-or-absent' },
  '1.3.101.112': { hash: null, key: 'ed25519', parameters: 'absent' }, // Ed25519, RFC 8410 §3
};
const DER_NULL = '0500';

function invalid(message: string, cause?: unknown): HangarError {
  return new HangarError('VALIDATION_FAILED', message, {}, cause === undefined ? undefined : { cause });
}

/**
 * A PKCS#10 request (RFC 2986) from a device: one PEM block (64 KiB at most), a key Hangar
 * accepts, and a self-signature that verifies — the proof that the requester holds the private
 * key (§3). Requested attributes and extensions are ignored: Hangar decides what it certifies.
 */
export async function parseCsr(pem: string): Promise<ParsedCsr> {
  const der = decodeSinglePem(pem, { what: WHAT, labels: [PEM_LABEL.certificateRequest, PEM_LABEL.newCertificateRequest] });
  let fields: CsrFields;
  let subject: string;
  try {
    fields = readCsrDer(der);
    subject = formatName(fields.subject);
  } catch (err) {
    if (!(err instanceof DerError)) throw err;
    throw invalid(`${WHAT}: the PEM block does not hold a valid PKCS#10 request (${err.message})`, err);
  }
  // The key check comes first: a refused key gets its own message rather than "does not verify".
  const { key, info } = acceptedPublicKey(fields.spki, WHAT);
  if (!(await signatureVerifies(der, fields, key))) {
    throw invalid(`${WHAT}: its signature does not verify (the request is corrupted, or not signed by the key it contains)`);
  }
  return {
    commonName: commonNameOf(fields.subject),
    subject,
    keyAlgorithm: info.keyAlgorithm,
    ...(info.keyAlgorithm === 'RSA' ? { keySize: info.keySize } : {}),
    publicKey: fields.spki,
    publicKeyPem: encodePem(fields.spki, PEM_LABEL.publicKey),
  };
}

async function signatureVerifies(der: Uint8Array, fields: CsrFields, key: KeyObject): Promise<boolean> {
  const { oid, parameters } = fields.signatureAlgorithm;
  const algorithm = SIGNATURE_ALGORITHMS[oid];
  if (!algorithm) return verifiesWithLibrary(der);
  if (key.asymmetricKeyType !== algorithm.key) return false;
  if (parameters !== undefined && (algorithm.parameters === 'absent' || Buffer.from(parameters).toString('hex') !== DER_NULL)) return false;
  try {
    return verify(algorithm.hash, fields.signedBytes, key, fields.signature);
  } catch {
    return false; // a malformed signature value: the request does not verify
  }
}

async function verifiesWithLibrary(der: Uint8Array): Promise<boolean> {
  try {
    return await new x509.Pkcs10CertificateRequest(der).verify();
  } catch {
    return false;
  }
}
