import { HangarError } from '../../../errors.js';
import { checkAcceptedKey, type KeyAlgorithm, type PublicKey } from './keys.js';
import { decodeSinglePem, encodePem, PEM_LABEL } from './pem.js';
import { x509 } from './x509.js';

export interface ParsedCsr {
  /** The first CN of the requested subject, or null. Issuance sets CN=<deviceId> regardless. */
  commonName: string | null;
  subject: string;
  keyAlgorithm: KeyAlgorithm;
  /** RSA modulus length in bits. */
  keySize?: number;
  /** The requested key, as the exact SPKI the device signed: pass it to `issueDeviceCertificate`. */
  publicKey: PublicKey;
  /** The same key as SPKI PEM ('PUBLIC KEY'), for storage. */
  publicKeyPem: string;
}

const WHAT = 'certificate signing request';

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
  let csr: x509.Pkcs10CertificateRequest;
  let spki: Uint8Array;
  let subject: string;
  let commonName: string | null;
  try {
    csr = new x509.Pkcs10CertificateRequest(der);
    spki = new Uint8Array(csr.publicKey.rawData);
    subject = csr.subject;
    commonName = csr.subjectName.getField('CN')[0] ?? null;
  } catch (err) {
    throw invalid(`${WHAT}: the PEM block does not hold a valid PKCS#10 request (${(err as Error).message})`, err);
  }
  // The key check comes first: WebCrypto cannot even load most of the keys it rejects.
  const key = checkAcceptedKey(spki, WHAT);
  let verified = false;
  let failure: unknown;
  try {
    verified = await csr.verify();
  } catch (err) {
    failure = err;
  }
  if (!verified) throw invalid(`${WHAT}: its signature does not verify (the request is corrupted, or not signed by the key it contains)`, failure);
  return {
    commonName,
    subject,
    keyAlgorithm: key.keyAlgorithm,
    ...(key.keyAlgorithm === 'RSA' ? { keySize: key.keySize } : {}),
    publicKey: csr.publicKey,
    publicKeyPem: encodePem(spki, PEM_LABEL.publicKey),
  };
}
