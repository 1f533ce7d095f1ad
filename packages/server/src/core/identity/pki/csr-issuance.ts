import { HangarError } from '../../../errors.js';
import { parseCsr } from './csr.js';
import type { DeviceCertificateIssuer, IssuedCertificate } from './fast-issuer.js';

export interface CsrIssueRequest {
  csrPem: string;
  deviceId: string;
  validityDays?: number | undefined;
  now?: Date | undefined;
}

export interface CsrIssuance {
  certificate: IssuedCertificate;
  /** "P-256", "P-384", "Ed25519" or "RSA-<bits>", as credentials record it. */
  keyAlgorithm: string;
}

/**
 * The whole of certifying a device's CSR, in one function so that the issuance pool's
 * workers and the main thread apply exactly the same rules: the request parses, its key is
 * one Hangar accepts and its signature verifies (`parseCsr`); its CN, when it has one, is the
 * device's id; and the certificate says CN=<deviceId> whatever the request asked for.
 */
export async function issueFromCsr(issuer: DeviceCertificateIssuer, request: CsrIssueRequest): Promise<CsrIssuance> {
  const csr = await parseCsr(request.csrPem);
  if (csr.commonName !== null && csr.commonName !== request.deviceId) {
    throw new HangarError('VALIDATION_FAILED', `the CSR's subject CN "${csr.commonName}" names another device; it must be "${request.deviceId}" or absent`);
  }
  const certificate = issuer.issue({ spki: csr.publicKey, deviceId: request.deviceId, validityDays: request.validityDays, now: request.now });
  return { certificate, keyAlgorithm: csr.keySize ? `${csr.keyAlgorithm}-${csr.keySize}` : csr.keyAlgorithm };
}
