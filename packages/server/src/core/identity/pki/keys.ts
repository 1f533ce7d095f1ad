import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { HangarError } from '../../../errors.js';
import { decodeSinglePem, encodePem, PEM_LABEL } from './pem.js';
import { webcrypto, x509, type CryptoKey, type CryptoKeyPair } from './x509.js';

/** The public-key algorithms Hangar accepts for device certificates. */
export type KeyAlgorithm = 'P-256' | 'P-384' | 'Ed25519' | 'RSA';

export interface KeyPairPem {
  /** PKCS#8, PEM label 'PRIVATE KEY'. */
  privateKeyPem: string;
  /** SubjectPublicKeyInfo, PEM label 'PUBLIC KEY'. */
  publicKeyPem: string;
}

/** A subject public key as an @peculiar/x509 object (kept for callers that already hold one). */
export type PublicKey = x509.PublicKey;

/**
 * What `issueDeviceCertificate` certifies: a WebCrypto public key (from `generateEcKeyPair`),
 * the DER SubjectPublicKeyInfo itself (`parseCsr`'s `publicKey`: the exact SPKI the device
 * signed, so keys WebCrypto would need extra parameters to import — RSA, P-384, Ed25519 — pass
 * through as they are), or a `PublicKey`.
 */
export type SubjectPublicKey = CryptoKey | PublicKey | Uint8Array;

export interface PublicKeyInfo {
  keyAlgorithm: KeyAlgorithm | 'other';
  /** RSA modulus length in bits. */
  keySize?: number;
  /** For messages: "EC P-256", "RSA 2048-bit", "EC secp256k1", "DSA 1024-bit". */
  description: string;
}

export const MIN_RSA_BITS = 2048;
const ACCEPTED = `use RSA ≥ ${MIN_RSA_BITS}, P-256, P-384 or Ed25519`;

// OpenSSL's curve names, as Node reports them, for the curves people know by their NIST name.
const CURVE_NAMES: Record<string, string> = {
  prime192v1: 'P-192',
  secp224r1: 'P-224',
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
};

function invalid(message: string, cause?: unknown): HangarError {
  return new HangarError('VALIDATION_FAILED', message, {}, cause === undefined ? undefined : { cause });
}

/** Classifies a DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) without importing it into WebCrypto. */
export function describePublicKey(spki: Uint8Array): PublicKeyInfo {
  return readPublicKey(spki).info;
}

// The DER of a P-256 and an Ed25519 SubjectPublicKeyInfo up to the key itself (RFC 5480 §2, RFC 8410 §4):
// id-ecPublicKey + prime256v1, a BIT STRING of an uncompressed point; id-Ed25519, a 32-octet key.
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * The two key types devices use most, imported from their coordinates: OpenSSL 3's DER decoder
 * costs ~90 µs per key, more than the signature check, while a P-256 JWK import is ~45 µs and
 * an Ed25519 one ~5 µs. (P-384 JWK import is slower than DER, so it takes the DER path.)
 * Answers undefined for anything else, or when the import refuses the key.
 */
function quickPublicKey(spki: Uint8Array): { key: KeyObject; info: PublicKeyInfo } | undefined {
  const bytes = Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength);
  try {
    if (bytes.length === P256_SPKI_PREFIX.length + 65 && bytes[P256_SPKI_PREFIX.length] === 0x04 && bytes.subarray(0, P256_SPKI_PREFIX.length).equals(P256_SPKI_PREFIX)) {
      const point = bytes.subarray(P256_SPKI_PREFIX.length + 1);
      const jwk = { kty: 'EC', crv: 'P-256', x: point.subarray(0, 32).toString('base64url'), y: point.subarray(32).toString('base64url') };
      return { key: createPublicKey({ key: jwk, format: 'jwk' }), info: { keyAlgorithm: 'P-256', description: 'EC P-256' } };
    }
    if (bytes.length === ED25519_SPKI_PREFIX.length + 32 && bytes.subarray(0, ED25519_SPKI_PREFIX.length).equals(ED25519_SPKI_PREFIX)) {
      const jwk = { kty: 'OKP', crv: 'Ed25519', x: bytes.subarray(ED25519_SPKI_PREFIX.length).toString('base64url') };
      return { key: createPublicKey({ key: jwk, format: 'jwk' }), info: { keyAlgorithm: 'Ed25519', description: 'Ed25519' } };
    }
  } catch {
    // A point off the curve: the DER path gives the reason in OpenSSL's words.
  }
  return undefined;
}

/** The key of a DER SubjectPublicKeyInfo as Node reads it (undefined when it cannot), and its description. */
export function readPublicKey(spki: Uint8Array): { key: KeyObject | undefined; info: PublicKeyInfo } {
  const quick = quickPublicKey(spki);
  if (quick) return quick;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength), format: 'der', type: 'spki' });
  } catch (err) {
    return { key: undefined, info: { keyAlgorithm: 'other', description: `an unreadable public key (${(err as Error).message})` } };
  }
  return { key, info: describeKeyObject(key) };
}

function describeKeyObject(key: KeyObject): PublicKeyInfo {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { keyAlgorithm: 'RSA', keySize: details.modulusLength, description: `RSA ${details.modulusLength ?? '?'}-bit` };
    case 'ec': {
      const curve = details.namedCurve ?? 'explicit-parameters';
      const name = CURVE_NAMES[curve] ?? curve;
      const keyAlgorithm = name === 'P-256' || name === 'P-384' ? name : 'other';
      return { keyAlgorithm, description: `EC ${name}` };
    }
    case 'ed25519':
      return { keyAlgorithm: 'Ed25519', description: 'Ed25519' };
    case 'rsa-pss':
      return { keyAlgorithm: 'other', keySize: details.modulusLength, description: `RSA-PSS ${details.modulusLength ?? '?'}-bit` };
    case 'dsa':
      return { keyAlgorithm: 'other', description: `DSA ${details.modulusLength ?? '?'}-bit` };
    default: {
      const type = key.asymmetricKeyType ?? 'unknown';
      return { keyAlgorithm: 'other', description: type === 'ed448' ? 'Ed448' : type === 'x25519' ? 'X25519' : type === 'x448' ? 'X448' : type.toUpperCase() };
    }
  }
}

/** The acceptance policy for device keys; anything else throws VALIDATION_FAILED naming the key. */
export function checkAcceptedKey(spki: Uint8Array, what: string): PublicKeyInfo & { keyAlgorithm: KeyAlgorithm } {
  return acceptedPublicKey(spki, what).info;
}

export interface AcceptedPublicKey {
  key: KeyObject;
  info: PublicKeyInfo & { keyAlgorithm: KeyAlgorithm };
}

/**
 * Keys already accepted, by the identity of their SPKI bytes: `parseCsr` checks the key and
 * issuance checks it again, and importing a key costs more than signing. Only the same array
 * object hits; its bytes are a view into the caller's CSR and are not changed after parsing.
 */
const acceptedKeys = new WeakMap<Uint8Array, AcceptedPublicKey>();

/** `checkAcceptedKey`, also answering the Node key, for callers that go on to verify with it. */
export function acceptedPublicKey(spki: Uint8Array, what: string): AcceptedPublicKey {
  const hit = acceptedKeys.get(spki);
  if (hit) return hit;
  const accepted = checkPolicy(spki, what);
  acceptedKeys.set(spki, accepted);
  return accepted;
}

function checkPolicy(spki: Uint8Array, what: string): AcceptedPublicKey {
  const { key, info } = readPublicKey(spki);
  if (info.keyAlgorithm === 'RSA') {
    if ((info.keySize ?? 0) < MIN_RSA_BITS) throw invalid(`${what}: ${info.description} keys are too weak: ${ACCEPTED}`);
    return { key: key as KeyObject, info: { ...info, keyAlgorithm: 'RSA' } };
  }
  if (info.keyAlgorithm === 'other') throw invalid(`${what}: ${info.description} keys are not accepted: ${ACCEPTED}`);
  return { key: key as KeyObject, info: { ...info, keyAlgorithm: info.keyAlgorithm } };
}

/** The DER SubjectPublicKeyInfo of a subject key. */
export async function spkiOf(key: SubjectPublicKey): Promise<Uint8Array> {
  if (key instanceof Uint8Array) return key;
  if (key instanceof x509.PublicKey) return new Uint8Array(key.rawData);
  if (key.type !== 'public') throw invalid(`the subject key must be a public key, not a ${key.type} key`);
  return new Uint8Array(await webcrypto.subtle.exportKey('spki', key));
}

/**
 * A fresh key pair for a CA or a server-generated device identity. The private key is
 * extractable because the caller stores it (as the returned PKCS#8 PEM).
 */
export async function generateEcKeyPair(curve: 'P-256' = 'P-256'): Promise<{ keys: CryptoKeyPair; privateKeyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: curve }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { keys, privateKeyPem: encodePem(pkcs8, PEM_LABEL.privateKey) };
}

/** Both halves of an extractable key pair as PEM (PKCS#8 and SPKI). */
export async function exportKeyPairPem(keys: CryptoKeyPair): Promise<KeyPairPem> {
  if (!keys.privateKey.extractable) throw invalid('the private key is not extractable');
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const spki = await webcrypto.subtle.exportKey('spki', keys.publicKey);
  return { privateKeyPem: encodePem(pkcs8, PEM_LABEL.privateKey), publicKeyPem: encodePem(spki, PEM_LABEL.publicKey) };
}

/**
 * A CA signing key: EC P-256 for ECDSA with SHA-256. Reads PKCS#8 ('PRIVATE KEY') and, for
 * keys made by `openssl ecparam -genkey`, SEC 1 ('EC PRIVATE KEY'). The CryptoKey is not
 * extractable: once imported, the key only signs.
 */
export async function importPrivateKeyPem(pem: string): Promise<CryptoKey> {
  const pkcs8 = readCaPrivateKeyPem(pem).export({ format: 'der', type: 'pkcs8' });
  return webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
}

/**
 * The same CA key as a Node KeyObject, for the device-certificate issuer: signing with it is
 * one native call, without WebCrypto's promise and copy per signature.
 */
export function readCaPrivateKeyPem(pem: string): KeyObject {
  const what = 'private key';
  const der = decodeSinglePem(pem, { what, labels: [PEM_LABEL.privateKey, PEM_LABEL.ecPrivateKey] });
  const sec1 = pem.includes(`-----BEGIN ${PEM_LABEL.ecPrivateKey}-----`);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: sec1 ? 'sec1' : 'pkcs8' });
  } catch (err) {
    throw invalid(`${what} is not a valid ${sec1 ? 'SEC 1 EC' : 'PKCS#8'} private key`, err);
  }
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    const found = key.asymmetricKeyType === 'ec' ? `EC ${CURVE_NAMES[curve ?? ''] ?? curve ?? 'explicit-parameters'}` : (key.asymmetricKeyType ?? 'unknown').toUpperCase();
    throw invalid(`${what} must be an EC P-256 key (found ${found})`);
  }
  return key;
}
