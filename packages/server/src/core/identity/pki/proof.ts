import { X509Certificate, verify, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';
import { HangarError } from '../../../errors.js';

/**
 * Checks that `signatureBase64` over `payload` was made with the private key of `certPem`'s
 * subject: the proof of possession a device gives in the CA-signed enrollment flow. ECDSA
 * signatures are accepted in both encodings devices produce: DER (`openssl dgst -sign`,
 * mbedTLS) and IEEE P1363 r||s (WebCrypto). Hashes: SHA-256 for P-256 and RSA (PKCS#1 v1.5),
 * SHA-384 for P-384; Ed25519 signs the payload itself.
 */
export function verifyCertificateKeySignature(certPem: string, payload: string, signatureBase64: string): Promise<boolean> {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    throw new HangarError('VALIDATION_FAILED', 'certificatePem is not a readable X.509 certificate');
  }
  const key = cert.publicKey;
  const signature = Buffer.from(signatureBase64, 'base64');
  const data = Buffer.from(payload, 'utf8');
  const type = key.asymmetricKeyType;
  if (type === 'ed25519') return Promise.resolve(safeVerify(null, data, key, signature));
  if (type === 'rsa') return Promise.resolve(safeVerify('sha256', data, key, signature));
  if (type === 'ec') {
    const hash = key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'sha384' : 'sha256';
    return Promise.resolve(safeVerify(hash, data, { key, dsaEncoding: 'der' }, signature) || safeVerify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature));
  }
  return Promise.resolve(false);
}

/** A malformed signature is a failed proof, not a server error. */
function safeVerify(algorithm: string | null, data: Buffer, key: KeyObject | VerifyKeyObjectInput, signature: Buffer): boolean {
  try {
    return verify(algorithm, data, key, signature);
  } catch {
    return false;
  }
}
