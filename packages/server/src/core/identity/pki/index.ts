/**
 * Hangar's PKI primitives: pure functions over PEM text and keys (no store, no clock of their
 * own — pass `now`). Caller mistakes throw HangarError('VALIDATION_FAILED'). The hot paths —
 * reading CSRs and encoding device certificates — are hand-written DER over Node's crypto
 * (`csr.ts`, `fast-issuer.ts`); CAs, CRLs and registered certificates use @peculiar/x509.
 * `IssuancePool` is the one stateful piece: worker threads, ended by `close()`.
 */
export { createCa, parseCaCertificate, DEFAULT_CA_VALIDITY_DAYS, type CaMaterial, type CreateCaOptions } from './ca.js';
export {
  issueDeviceCertificate,
  parseCertificate,
  verifySignedBy,
  CLOCK_SKEW_MS,
  DEFAULT_DEVICE_VALIDITY_DAYS,
  type CaKey,
  type IssueDeviceCertificateOptions,
  type IssuedCertificate,
  type ParsedCertificate,
} from './certificate.js';
export { buildCrl, DEFAULT_CRL_VALIDITY_DAYS, type BuildCrlOptions, type BuiltCrl, type CrlEntry, type CrlReason } from './crl.js';
export { parseCsr, type ParsedCsr } from './csr.js';
export { issueFromCsr, type CsrIssuance, type CsrIssueRequest } from './csr-issuance.js';
export { IssuancePool, type PoolCa } from './issuance-pool.js';
export { createDeviceIssuer, type DeviceCertificateIssuer, type DeviceCertificateRequest, type DeviceIssuerOptions } from './fast-issuer.js';
export {
  exportKeyPairPem,
  generateEcKeyPair,
  importPrivateKeyPem,
  readCaPrivateKeyPem,
  spkiOf,
  MIN_RSA_BITS,
  type KeyAlgorithm,
  type KeyPairPem,
  type PublicKey,
  type SubjectPublicKey,
} from './keys.js';
export { encodePem, MAX_PEM_BYTES, PEM_LABEL } from './pem.js';
export type { CryptoKey, CryptoKeyPair } from './x509.js';
export { verifyCertificateKeySignature } from './proof.js';
