import { createHash, randomBytes, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { isValidDeviceId } from '@hangar/protocol';
import { HangarError } from '../../../errors.js';
import {
  children,
  contentOf,
  contextTag,
  DerError,
  DerSequence,
  encodeBitString,
  encodeBoolean,
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeTime,
  encodeTlv,
  encodeUnsignedInteger,
  encodeUtf8String,
  readBitString,
  readOid,
  readTime,
  readTlv,
  TAG,
  type Tlv,
} from './der.js';
import { checkNow, checkValidityDays, CLOCK_SKEW_MS, DAY_MS, DEFAULT_DEVICE_VALIDITY_DAYS, randomSerial, sha256Hex, wholeSeconds } from './issuance-rules.js';
import { acceptedPublicKey } from './keys.js';
import { decodeSinglePem, encodePem, PEM_LABEL } from './pem.js';

/**
 * Device certificates encoded by hand. Everything a device certificate holds is fixed by the
 * CA except the serial, the validity, the CN, the key and its identifier; so the CA's part
 * (issuer name, signature algorithm, the constant extensions, the AKI) is encoded once per CA,
 * and an issue is a few small DER elements around one native ECDSA signature. @peculiar/x509
 * took ~9 ms per certificate in its ASN.1 layer; this takes a fraction of a millisecond.
 */

export interface IssuedCertificate {
  certificatePem: string;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  fingerprintSha256: string;
}

export interface DeviceCertificateRequest {
  /** The DER SubjectPublicKeyInfo to certify (a parsed CSR's `publicKey`). */
  spki: Uint8Array;
  deviceId: string;
  /** Default 365. */
  validityDays?: number | undefined;
  now?: Date | undefined;
}

/** A CA ready to sign device certificates: checked once, then `issue` is synchronous and cheap. */
export interface DeviceCertificateIssuer {
  readonly certificatePem: string;
  readonly caNotBefore: Date;
  readonly caNotAfter: Date;
  /** The CA's subject key identifier, hex: the AKI of what it signs. */
  readonly keyId: string;
  issue(request: DeviceCertificateRequest): IssuedCertificate;
}

export interface DeviceIssuerOptions {
  certificatePem: string;
  /** The CA's EC P-256 private key (`readCaPrivateKeyPem`). */
  privateKey: KeyObject;
}

const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  commonName: '2.5.4.3',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
} as const;

// [0] EXPLICIT Version v3 (RFC 5280 §4.1.2.1).
const VERSION_V3 = encodeTlv(contextTag(0), encodeTlv(TAG.integer, Uint8Array.of(2)));
// RFC 5758 §3.2: ecdsa-with-SHA256 with the parameters field absent.
const SIGNATURE_ALGORITHM = encodeSequence(encodeOid(OID.ecdsaWithSha256));

function extension(oid: string, critical: boolean, value: Uint8Array): Buffer {
  return critical ? encodeSequence(encodeOid(oid), encodeBoolean(true), encodeOctetString(value)) : encodeSequence(encodeOid(oid), encodeOctetString(value));
}

// basicConstraints CA:false, critical: cA's DEFAULT FALSE is omitted in DER, leaving an empty SEQUENCE (§4.2.1.9).
const BASIC_CONSTRAINTS = extension(OID.basicConstraints, true, encodeSequence());
// keyUsage, critical (§4.2.1.3): digitalSignature (bit 0); RSA keys also keyEncipherment (bit 2),
// which TLS 1.2 RSA key exchange needs. DER drops trailing zero bits (X.690 §11.2.2).
const KEY_USAGE = extension(OID.keyUsage, true, encodeBitString(Uint8Array.of(0x80), 7));
const KEY_USAGE_RSA = extension(OID.keyUsage, true, encodeBitString(Uint8Array.of(0xa0), 5));
// extendedKeyUsage clientAuth (§4.2.1.12): the certificate authenticates a TLS client and nothing else.
const EXT_KEY_USAGE = extension(OID.extKeyUsage, false, encodeSequence(encodeOid(OID.clientAuth)));
const FIXED_EXTENSIONS = Buffer.concat([BASIC_CONSTRAINTS, KEY_USAGE, EXT_KEY_USAGE]);
const FIXED_EXTENSIONS_RSA = Buffer.concat([BASIC_CONSTRAINTS, KEY_USAGE_RSA, EXT_KEY_USAGE]);
const COMMON_NAME_OID = encodeOid(OID.commonName);

function invalid(message: string, cause?: unknown): HangarError {
  return new HangarError('VALIDATION_FAILED', message, {}, cause === undefined ? undefined : { cause });
}

/**
 * Checks a CA before it signs anything — the certificate is a CA, the key is an EC P-256
 * private key, and it is the key the certificate certifies (a trial signature) — and encodes
 * the CA's part of every certificate. Throws VALIDATION_FAILED naming what is wrong.
 */
export function createDeviceIssuer(options: DeviceIssuerOptions): DeviceCertificateIssuer {
  if (options === null || typeof options !== 'object') throw invalid('ca must be { certificatePem, privateKey }');
  const { certificatePem, privateKey } = options;
  const der = decodeSinglePem(certificatePem, { what: 'CA certificate', labels: [PEM_LABEL.certificate] });
  let node: X509Certificate;
  let ca: CaFields;
  try {
    node = new X509Certificate(der);
    ca = readCaFields(der);
  } catch (err) {
    throw invalid(`CA certificate: the PEM block does not hold a valid X.509 certificate (${(err as Error).message})`, err);
  }
  if (!node.ca) throw invalid('CA certificate is not a CA certificate (basicConstraints cA is not true)');
  if (!privateKey || typeof privateKey !== 'object' || privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw invalid('the CA private key must be an ECDSA P-256 signing key (see importPrivateKeyPem)');
  }
  if (!keyMatches(privateKey, node.publicKey)) throw invalid('the CA private key does not belong to the CA certificate');
  return new TemplateIssuer(encodePem(der, PEM_LABEL.certificate), privateKey, ca);
}

interface CaFields {
  /** The DER of the CA's subject Name: copied as is into every issuer field, so chain building matches byte for byte. */
  subject: Uint8Array;
  notBefore: number;
  notAfter: number;
  keyId: Uint8Array;
}

/** The CA certificate's subject, validity and key identifier (RFC 5280 §4.1). */
function readCaFields(der: Uint8Array): CaFields {
  const certificate = new DerSequence(der, readTlv(der, 0), 'Certificate');
  const tbs = new DerSequence(der, certificate.next(TAG.sequence, 'tbsCertificate'), 'tbsCertificate');
  tbs.optional(contextTag(0));
  tbs.next(TAG.integer, 'serialNumber');
  tbs.next(TAG.sequence, 'signature');
  tbs.next(TAG.sequence, 'issuer');
  const validity = new DerSequence(der, tbs.next(TAG.sequence, 'validity'), 'validity');
  const notBefore = readTime(der, validity.next(undefined, 'notBefore'));
  const notAfter = readTime(der, validity.next(undefined, 'notAfter'));
  validity.end();
  const subject = tbs.next(TAG.sequence, 'subject');
  const spki = new DerSequence(der, tbs.next(TAG.sequence, 'subjectPublicKeyInfo'), 'subjectPublicKeyInfo');
  spki.next(TAG.sequence, 'algorithm');
  const publicKeyBits = readBitString(der, spki.next(TAG.bitString, 'subjectPublicKey')).value;
  tbs.optional(contextTag(1, false));
  tbs.optional(contextTag(2, false));
  const extensions = tbs.optional(contextTag(3));
  // A CA without an SKI gets the one RFC 5280 §4.2.1.2 method (1) would give it, as @peculiar/x509 did.
  const keyId = (extensions && subjectKeyIdentifier(der, extensions)) ?? createHash('sha1').update(publicKeyBits).digest();
  return { subject: der.subarray(subject.start, subject.end), notBefore, notAfter, keyId };
}

function subjectKeyIdentifier(der: Uint8Array, explicit: Tlv): Uint8Array | undefined {
  const [list] = children(der, explicit);
  if (!list || list.tag !== TAG.sequence) throw new DerError('extensions is not a SEQUENCE');
  for (const ext of children(der, list)) {
    const fields = new DerSequence(der, ext, 'Extension');
    if (readOid(der, fields.next(TAG.oid, 'extnID')) !== OID.subjectKeyIdentifier) continue;
    fields.optional(TAG.boolean);
    const value = contentOf(der, fields.next(TAG.octetString, 'extnValue'));
    const keyId = readTlv(value, 0);
    if (keyId.tag !== TAG.octetString || keyId.end !== value.length) throw new DerError('subjectKeyIdentifier is not an OCTET STRING');
    return contentOf(value, keyId);
  }
  return undefined;
}

function keyMatches(privateKey: KeyObject, publicKey: KeyObject): boolean {
  const probe = randomBytes(32);
  try {
    return verify('sha256', probe, publicKey, sign('sha256', probe, privateKey));
  } catch {
    return false; // the certificate's key is not an EC key at all
  }
}

class TemplateIssuer implements DeviceCertificateIssuer {
  readonly caNotBefore: Date;
  readonly caNotAfter: Date;
  readonly keyId: string;
  /** signature AlgorithmIdentifier + issuer Name: what follows the serial in every TBSCertificate. */
  private readonly afterSerial: Buffer;
  private readonly authorityKeyIdentifier: Buffer;

  constructor(
    readonly certificatePem: string,
    private readonly privateKey: KeyObject,
    ca: CaFields,
  ) {
    this.caNotBefore = new Date(ca.notBefore);
    this.caNotAfter = new Date(ca.notAfter);
    this.keyId = Buffer.from(ca.keyId).toString('hex');
    this.afterSerial = Buffer.concat([SIGNATURE_ALGORITHM, ca.subject]);
    // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING } (§4.2.1.1).
    this.authorityKeyIdentifier = extension(OID.authorityKeyIdentifier, false, encodeSequence(encodeTlv(contextTag(0, false), ca.keyId)));
  }

  /**
   * A device (end-entity) certificate for TLS client authentication: CN=<deviceId> as a
   * UTF8String, basicConstraints CA:false, keyUsage, extendedKeyUsage clientAuth, SKI and AKI.
   * Valid from CLOCK_SKEW_MS before `now` until `validityDays` after it, cut at the CA's own
   * notAfter (one that outlives its CA is useless and misleading).
   */
  issue(request: DeviceCertificateRequest): IssuedCertificate {
    const now = checkNow(request.now).getTime();
    const days = checkValidityDays(request.validityDays, DEFAULT_DEVICE_VALIDITY_DAYS);
    const { deviceId, spki } = request;
    if (typeof deviceId !== 'string' || !isValidDeviceId(deviceId)) {
      throw invalid(`device id ${JSON.stringify(deviceId)} is invalid: use 1–128 characters of A–Z a–z 0–9 . _ : -`);
    }
    if (!(spki instanceof Uint8Array)) throw invalid('the subject key must be a DER SubjectPublicKeyInfo');
    const { info } = acceptedPublicKey(spki, 'subject public key');
    if (this.caNotAfter.getTime() <= now) throw invalid(`the CA certificate expired on ${this.caNotAfter.toISOString()}`);
    const notBefore = wholeSeconds(Math.max(now - CLOCK_SKEW_MS, this.caNotBefore.getTime()));
    // The skew allowance widens the start only: a credential asked for N days lasts N days from now.
    const notAfter = wholeSeconds(Math.min(now + days * DAY_MS, this.caNotAfter.getTime()));

    const serial = randomSerial();
    // SKI by RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's value.
    let keyBits: Uint8Array;
    try {
      const spkiTlv = readTlv(spki, 0);
      const [, bits] = children(spki, spkiTlv);
      if (!bits || spkiTlv.end !== spki.length) throw new DerError('malformed SubjectPublicKeyInfo');
      keyBits = readBitString(spki, bits).value;
    } catch (err) {
      throw invalid('the subject key is not a valid DER SubjectPublicKeyInfo', err);
    }
    const keyId = createHash('sha1').update(keyBits).digest();
    const tbs = encodeSequence(
      VERSION_V3,
      encodeUnsignedInteger(serial),
      this.afterSerial,
      encodeSequence(encodeTime(notBefore.getTime()), encodeTime(notAfter.getTime())),
      encodeSequence(encodeTlv(TAG.set, encodeSequence(COMMON_NAME_OID, encodeUtf8String(deviceId)))),
      spki,
      encodeTlv(
        contextTag(3),
        encodeSequence(info.keyAlgorithm === 'RSA' ? FIXED_EXTENSIONS_RSA : FIXED_EXTENSIONS, extension(OID.subjectKeyIdentifier, false, encodeOctetString(keyId)), this.authorityKeyIdentifier),
      ),
    );
    // ECDSA-Sig-Value in DER (RFC 5758 §3.2), Node's default encoding.
    const signature = sign('sha256', tbs, this.privateKey);
    const der = encodeSequence(tbs, SIGNATURE_ALGORITHM, encodeBitString(signature));
    return {
      certificatePem: encodePem(der, PEM_LABEL.certificate),
      serialHex: serial.toString('hex'),
      notBefore,
      notAfter,
      fingerprintSha256: sha256Hex(der),
    };
  }
}
