import type { ProvisionResult } from '../../core/identity/enrollment-service.js';
import { ERROR_CATALOG, HangarError } from '../../errors.js';

/** The body of `devices/{id}/enroll`, checked by hand: it comes from a device without credentials. */
export interface EnrollRequest {
  csr?: string;
  credentialType?: 'x509' | 'token' | 'psk';
}

const MAX_CSR = 16 * 1024;

export function parseEnrollRequest(payload: Buffer): EnrollRequest {
  let body: unknown;
  try {
    body = payload.length === 0 ? {} : JSON.parse(payload.toString('utf8'));
  } catch {
    throw new HangarError('INVALID_JSON', 'the enrollment request must be a JSON object: {"csr"?: PEM, "credentialType"?: "x509" | "token" | "psk"}');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HangarError('VALIDATION_FAILED', 'the enrollment request must be a JSON object');
  const request: EnrollRequest = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'csr') {
      if (typeof value !== 'string' || value.length === 0 || value.length > MAX_CSR) throw new HangarError('VALIDATION_FAILED', `csr must be a PEM string of at most ${MAX_CSR} characters`);
      request.csr = value;
    } else if (key === 'credentialType') {
      if (value !== 'x509' && value !== 'token' && value !== 'psk') throw new HangarError('VALIDATION_FAILED', 'credentialType must be "x509", "token" or "psk"');
      request.credentialType = value;
    } else {
      throw new HangarError('VALIDATION_FAILED', `unknown member "${key}" (allowed: csr, credentialType)`);
    }
  }
  return request;
}

/** The same document `POST /device/v1/provision` answers with (201), so SDKs parse one shape. */
export function enrollSuccessBody(result: ProvisionResult): Buffer {
  const c = result.issued.credential;
  const credential: Record<string, unknown> = { id: c.id, type: c.type, expiresAt: new Date(c.expiresAt).toISOString() };
  if (c.type === 'token') {
    credential.token = result.issued.token;
  } else if (c.type === 'psk') {
    credential.identity = c.pskIdentity;
    credential.key = result.issued.pskKey;
  } else {
    credential.serial = c.serialHex;
    credential.certificatePem = result.issued.certificatePem ?? c.certificatePem;
    if (result.issued.privateKeyPem) credential.privateKeyPem = result.issued.privateKeyPem;
    if (result.issued.caPem) credential.caPem = result.issued.caPem;
  }
  return Buffer.from(JSON.stringify({ deviceId: result.deviceId, tenant: result.tenant, enrollmentGroupId: result.enrollmentGroupId, credential, firmwareSigningKeys: result.firmwareSigningKeys }));
}

/** An RFC 9457-like problem document, as the HTTP API would answer; internal causes stay in the log. */
export function enrollErrorBody(err: unknown): Buffer {
  const e = err instanceof HangarError ? err : new HangarError('INTERNAL', 'the enrollment could not be completed; try again later');
  const entry = ERROR_CATALOG[e.code];
  return Buffer.from(JSON.stringify({ status: entry.status, code: e.code, title: entry.title, detail: e.message }));
}
