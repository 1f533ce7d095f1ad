import { HangarError } from '../../../errors.js';
import { CA_SIGNING_ALGORITHM, checkNow, checkValidityDays, CLOCK_SKEW_MS, DAY_MS, randomSerialHex, readCertificate, wholeSeconds, type ParsedCertificate } from './certificate.js';
import { generateEcKeyPair } from './keys.js';
import { encodePem, PEM_LABEL } from './pem.js';
import { x509 } from './x509.js';

export interface CaMaterial {
  certificatePem: string;
  /** PKCS#8 PEM of the CA's P-256 key: store it encrypted. */
  privateKeyPem: string;
  serialHex: string;
  subject: string;
  notAfter: Date;
}

export interface CreateCaOptions {
  commonName: string;
  /** Default 3650 (ten years). */
  validityDays?: number;
  now?: Date;
}

export const DEFAULT_CA_VALIDITY_DAYS = 3650;
export const CA_ORGANIZATION = 'Hangar';
// RFC 5280 Appendix A.1: ub-common-name INTEGER ::= 64.
const MAX_COMMON_NAME = 64;

function invalid(message: string): HangarError {
  return new HangarError('VALIDATION_FAILED', message);
}

/**
 * A self-signed root for a tenant's devices: ECDSA P-256, subject CN=<commonName>, O=Hangar,
 * basicConstraints CA:true pathLen 0 (it signs device certificates only, never another CA) and
 * keyUsage keyCertSign + cRLSign, both critical (RFC 5280 §4.2.1.9, §4.2.1.3), and an SKI that
 * the AKI of every certificate and CRL it signs points to.
 */
export async function createCa(options: CreateCaOptions): Promise<CaMaterial> {
  const { commonName } = options;
  if (typeof commonName !== 'string' || commonName.trim() === '' || commonName.length > MAX_COMMON_NAME || /\p{Cc}/u.test(commonName)) {
    throw invalid(`the CA common name must be 1–${MAX_COMMON_NAME} characters without control characters`);
  }
  const now = checkNow(options.now);
  const days = checkValidityDays(options.validityDays, DEFAULT_CA_VALIDITY_DAYS);
  const { keys, privateKeyPem } = await generateEcKeyPair('P-256');
  const notBefore = wholeSeconds(now.getTime() - CLOCK_SKEW_MS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name: new x509.Name([{ CN: [{ utf8String: commonName }] }, { O: [{ utf8String: CA_ORGANIZATION }] }]),
    notBefore,
    notAfter: wholeSeconds(notBefore.getTime() + days * DAY_MS),
    keys,
    signingAlgorithm: CA_SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certificatePem: encodePem(cert.rawData, PEM_LABEL.certificate),
    privateKeyPem,
    serialHex: cert.serialNumber.toLowerCase(),
    subject: cert.subject,
    notAfter: cert.notAfter,
  };
}

/**
 * A CA certificate someone registers (bring your own CA). It must be a CA (basicConstraints
 * cA true; RFC 5280 §4.2.1.9), may sign certificates when it carries a keyUsage at all
 * (keyCertSign, §4.2.1.3), and must be inside its validity at `now` (a notBefore up to
 * CLOCK_SKEW_MS ahead is tolerated, as for the certificates Hangar issues).
 */
export async function parseCaCertificate(pem: string, now?: Date): Promise<ParsedCertificate> {
  const at = checkNow(now);
  const { cert, parsed } = readCertificate(pem, 'CA certificate');
  if (!parsed.isCa) {
    throw invalid(`CA certificate "${parsed.subject}" is not a CA certificate: it has no basicConstraints extension with cA true`);
  }
  const keyUsage = cert.getExtension(x509.KeyUsagesExtension);
  if (keyUsage && (keyUsage.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
    throw invalid(`CA certificate "${parsed.subject}" may not sign certificates: its keyUsage lacks keyCertSign`);
  }
  if (parsed.notAfter.getTime() < at.getTime()) {
    throw invalid(`CA certificate "${parsed.subject}" expired on ${parsed.notAfter.toISOString()}`);
  }
  if (parsed.notBefore.getTime() > at.getTime() + CLOCK_SKEW_MS) {
    throw invalid(`CA certificate "${parsed.subject}" is not valid before ${parsed.notBefore.toISOString()}`);
  }
  return parsed;
}
