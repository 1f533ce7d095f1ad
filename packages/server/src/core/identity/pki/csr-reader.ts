import { children, contentOf, DerError, DerSequence, contextTag, readBitString, readOid, readString, readTlv, TAG, type Tlv } from './der.js';

/**
 * The fields of a PKCS#10 CertificationRequest (RFC 2986 §4) that issuance needs, read
 * straight from DER. Every byte range is a view into the input: nothing is copied or decoded
 * that the caller does not ask for.
 *
 *   CertificationRequest ::= SEQUENCE {
 *     certificationRequestInfo  SEQUENCE { version INTEGER (0), subject Name,
 *                                          subjectPKInfo SubjectPublicKeyInfo,
 *                                          attributes [0] IMPLICIT SET OF Attribute },
 *     signatureAlgorithm        AlgorithmIdentifier,
 *     signature                 BIT STRING }
 */
export interface CsrFields {
  /** The DER of certificationRequestInfo: the bytes the signature covers. */
  signedBytes: Uint8Array;
  subject: DistinguishedName;
  /** The DER SubjectPublicKeyInfo, exactly as the requester signed it. */
  spki: Uint8Array;
  signatureAlgorithm: { oid: string; parameters: Uint8Array | undefined };
  signature: Uint8Array;
}

/** RDNs in DER order, each a set of attributes (nearly always one). */
export type DistinguishedName = Array<Array<NameAttribute>>;

export interface NameAttribute {
  /** Dotted OID. */
  type: string;
  /** The text of a string value; for any other type, "#" and the hex of its DER (RFC 4514 §2.4). */
  value: string;
  /** True when `value` is the "#hex" form. */
  hex: boolean;
}

// RFC 4519 short names, the same set @peculiar/x509 prints, so subjects read as they did before.
const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'E',
  '2.5.4.42': 'G',
  '2.5.4.43': 'I',
  '2.5.4.4': 'SN',
  '2.5.4.12': 'T',
};
const OID_COMMON_NAME = '2.5.4.3';

const STRING_TAGS = new Set<number>([TAG.utf8String, TAG.printableString, TAG.teletexString, TAG.ia5String, TAG.bmpString, TAG.universalString]);

/** Reads a CSR's DER; throws DerError naming the first structural fault. Does not verify anything. */
export function readCsrDer(der: Uint8Array): CsrFields {
  const outer = readTlv(der, 0);
  if (outer.tag !== TAG.sequence) throw new DerError('the request is not a SEQUENCE');
  if (outer.end !== der.length) throw new DerError('trailing bytes after the request');
  const request = new DerSequence(der, outer, 'CertificationRequest');
  const info = request.next(TAG.sequence, 'certificationRequestInfo');
  const algorithm = request.next(TAG.sequence, 'signatureAlgorithm');
  const signature = readBitString(der, request.next(TAG.bitString, 'signature'));
  request.end();
  if (signature.unusedBits !== 0) throw new DerError('the signature BIT STRING has unused bits');

  const fields = new DerSequence(der, info, 'certificationRequestInfo');
  const version = contentOf(der, fields.next(TAG.integer, 'version'));
  if (version.length !== 1 || version[0] !== 0) throw new DerError('version is not 0 (v1)');
  const subject = readName(der, fields.next(TAG.sequence, 'subject'));
  const spki = fields.next(TAG.sequence, 'subjectPKInfo');
  checkSpkiShape(der, spki);
  // RFC 2986 makes attributes mandatory, yet some embedded stacks leave the empty set out;
  // it carries nothing we use (requested extensions are never copied), so accept either.
  const attributes = fields.optional(contextTag(0));
  if (attributes) children(der, attributes);
  fields.end();

  return {
    signedBytes: der.subarray(info.start, info.end),
    subject,
    spki: der.subarray(spki.start, spki.end),
    signatureAlgorithm: readAlgorithmIdentifier(der, algorithm),
    signature: signature.value,
  };
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL } (RFC 5280 §4.1.1.2). */
export function readAlgorithmIdentifier(der: Uint8Array, tlv: Tlv): { oid: string; parameters: Uint8Array | undefined } {
  const seq = new DerSequence(der, tlv, 'AlgorithmIdentifier');
  const oid = readOid(der, seq.next(TAG.oid, 'algorithm'));
  const parameters = seq.done ? undefined : seq.next(undefined, 'parameters');
  seq.end();
  return { oid, parameters: parameters ? der.subarray(parameters.start, parameters.end) : undefined };
}

/** SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }; Node reads the key itself. */
function checkSpkiShape(der: Uint8Array, tlv: Tlv): void {
  const seq = new DerSequence(der, tlv, 'subjectPKInfo');
  readAlgorithmIdentifier(der, seq.next(TAG.sequence, 'algorithm'));
  readBitString(der, seq.next(TAG.bitString, 'subjectPublicKey'));
  seq.end();
}

/** Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY } (RFC 5280 §4.1.2.4). */
export function readName(der: Uint8Array, tlv: Tlv): DistinguishedName {
  return children(der, tlv).map((rdn) => {
    if (rdn.tag !== TAG.set) throw new DerError('a name component is not a SET');
    const attributes = children(der, rdn);
    if (attributes.length === 0) throw new DerError('an empty name component');
    return attributes.map((atv) => {
      const seq = new DerSequence(der, atv, 'AttributeTypeAndValue');
      const type = readOid(der, seq.next(TAG.oid, 'type'));
      const value = seq.next(undefined, 'value');
      seq.end();
      if (STRING_TAGS.has(value.tag)) return { type, value: readString(der, value), hex: false };
      return { type, value: `#${Buffer.from(der.subarray(value.start, value.end)).toString('hex')}`, hex: true };
    });
  });
}

/** The first CN, as OpenSSL and Mosquitto read it; null when there is none. */
export function commonNameOf(name: DistinguishedName): string | null {
  for (const rdn of name) for (const attribute of rdn) if (attribute.type === OID_COMMON_NAME) return attribute.value;
  return null;
}

/** RFC 4514-style text in DER order, "CN=device-1, O=Acme", escaped as @peculiar/x509 does. */
export function formatName(name: DistinguishedName): string {
  return name.map((rdn) => rdn.map((a) => `${SHORT_NAMES[a.type] ?? a.type}=${a.hex ? a.value : escapeValue(a.value)}`).join('+')).join(', ');
}

function escapeValue(value: string): string {
  return value
    .replace(/([,+"\\<>;])/g, '\\$1')
    .replace(/^([ #])/, '\\$1')
    .replace(/( )$/, '\\$1')
    .replace(/[\r\n\t]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`);
}
