import { HangarError } from '../../../errors.js';
import { CA_SIGNING_ALGORITHM, checkNow, checkValidityDays, DAY_MS, openIssuer, wholeSeconds, type CaKey } from './certificate.js';
import { encodePem, PEM_LABEL } from './pem.js';
import { x509 } from './x509.js';

export type CrlReason = 'keyCompromise' | 'cessationOfOperation' | 'superseded' | 'unspecified';

export interface CrlEntry {
  serialHex: string;
  revokedAt: Date;
  reason?: CrlReason;
}

export interface BuildCrlOptions {
  ca: CaKey;
  /** RFC 5280 §5.2.3: monotonically increasing per CA; the caller keeps the counter. */
  crlNumber: number;
  entries: CrlEntry[];
  now?: Date;
  /** Until nextUpdate; default 7. */
  validityDays?: number;
}

export interface BuiltCrl {
  /** PEM labelled 'X509 CRL', the label OpenSSL and Node read. */
  crlPem: string;
  thisUpdate: Date;
  nextUpdate: Date;
}

export const DEFAULT_CRL_VALIDITY_DAYS = 7;
const OID_CRL_NUMBER = '2.5.29.20';
// RFC 5280 §4.1.2.2: serial numbers are at most 20 octets.
const SERIAL_HEX = /^[0-9a-f]{1,40}$/;

function invalid(message: string): HangarError {
  return new HangarError('VALIDATION_FAILED', message);
}

/** DER INTEGER (X.690 §8.3) of a non-negative safe integer: minimal octets, a 0x00 when the top bit is set. */
function derInteger(value: number): Uint8Array {
  const octets: number[] = [];
  let rest = value;
  do {
    octets.unshift(rest % 256);
    rest = Math.floor(rest / 256);
  } while (rest > 0);
  if ((octets[0] as number) >= 0x80) octets.unshift(0);
  return Uint8Array.from([0x02, octets.length, ...octets]);
}

function checkEntry(entry: CrlEntry, index: number): x509.X509CrlEntryParams {
  const where = `entries[${index}]`;
  if (entry === null || typeof entry !== 'object') throw invalid(`${where} must be { serialHex, revokedAt, reason? }`);
  const serial = typeof entry.serialHex === 'string' ? entry.serialHex.toLowerCase() : '';
  if (!SERIAL_HEX.test(serial)) throw invalid(`${where}.serialHex must be 1–40 hexadecimal digits`);
  if (!(entry.revokedAt instanceof Date) || Number.isNaN(entry.revokedAt.getTime())) throw invalid(`${where}.revokedAt must be a valid Date`);
  const { reason } = entry;
  if (reason !== undefined && reason !== 'keyCompromise' && reason !== 'cessationOfOperation' && reason !== 'superseded' && reason !== 'unspecified') {
    throw invalid(`${where}.reason must be keyCompromise, cessationOfOperation, superseded or unspecified`);
  }
  return {
    serialNumber: serial.length % 2 === 1 ? `0${serial}` : serial,
    revocationDate: wholeSeconds(entry.revokedAt.getTime()),
    // RFC 5280 §5.3.1: "the reason code CRL entry extension SHOULD be absent instead of using
    // the unspecified (0) reasonCode value", so 'unspecified' writes no extension.
    ...(reason === undefined || reason === 'unspecified' ? {} : { reason: x509.X509CrlReason[reason] }),
  };
}

/**
 * A version 2 CRL (RFC 5280 §5) signed by the CA: thisUpdate `now`, nextUpdate `now` +
 * `validityDays`, the cRLNumber and authorityKeyIdentifier extensions (both required of
 * conforming CAs, §5.2.1 and §5.2.3), and one entry per revoked serial.
 */
export async function buildCrl(options: BuildCrlOptions): Promise<BuiltCrl> {
  const now = checkNow(options.now);
  const days = checkValidityDays(options.validityDays, DEFAULT_CRL_VALIDITY_DAYS);
  const { crlNumber, entries } = options;
  if (!Number.isSafeInteger(crlNumber) || crlNumber < 0) throw invalid('crlNumber must be a non-negative integer');
  if (!Array.isArray(entries)) throw invalid('entries must be an array');
  const checked = entries.map(checkEntry);
  const seen = new Set<string>();
  for (const entry of checked) {
    const key = entry.serialNumber.replace(/^0+(?=.)/, '');
    if (seen.has(key)) throw invalid(`serial ${entry.serialNumber} is listed twice`);
    seen.add(key);
  }
  const issuer = await openIssuer(options.ca);
  const thisUpdate = wholeSeconds(now.getTime());
  const crl = await x509.X509CrlGenerator.create({
    issuer: issuer.cert.subjectName,
    thisUpdate,
    nextUpdate: wholeSeconds(thisUpdate.getTime() + days * DAY_MS),
    extensions: [new x509.AuthorityKeyIdentifierExtension(issuer.keyId, false), new x509.Extension(OID_CRL_NUMBER, false, derInteger(crlNumber))],
    entries: checked,
    signingKey: issuer.privateKey,
    signingAlgorithm: CA_SIGNING_ALGORITHM,
  });
  return { crlPem: encodePem(crl.rawData, PEM_LABEL.crl), thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate ?? thisUpdate };
}
