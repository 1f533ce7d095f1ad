import { X509Certificate, createHash } from 'node:crypto';
import { HangarError, retryAfterMsOf } from '../../errors.js';
import type { Stores } from '../stores.js';
import { FailureThrottle } from '../failure-throttle.js';
import { hashToken, newId } from '../tenancy/secrets.js';
import type { MasterKey } from './master-key.js';
import type { CertificateAuthority, DeviceCredential } from './ports.js';
import { unsealPsk } from './psk.js';

/** Who a device connection is, once authenticated: every transport hands this to the core. */
export interface DeviceIdentity {
  tenantId: string;
  deviceId: string;
  /** The credential it used, so that revoking that credential ends the session. */
  credentialId: string;
}

export type DeviceAuthResult =
  | { ok: true; identity: DeviceIdentity }
  /**
   * `bad_credentials`: unknown device, wrong token, a certificate no CA of Hangar signed;
   * `not_authorized`: known but refused (revoked, expired, decommissioned, disabled CA);
   * `rate_limited`: too many failures from this source — refused before checking.
   */
  | { ok: false; reason: 'bad_credentials' | 'not_authorized' | 'rate_limited'; detail: string; retryAfterMs?: number };

/**
 * Registers an unknown device whose certificate chains to `issuer` (a "ca" enrollment group,
 * just in time); undefined when nothing admits it. Throws a HangarError to refuse.
 */
export type FirstContactEnrollment = (issuer: CertificateAuthority, certificatePem: string, source: string) => Promise<DeviceIdentity | undefined>;

/** How long the list of trusted CAs is reused before it is read again. */
const CA_CACHE_MS = 10_000;

/**
 * Authenticates devices for every transport (MQTT, HTTP device API, CoAP): by device id and
 * token, or by a client certificate whose CN is the device id. Certificates are checked here,
 * not by the TLS stack, because the set of trusted CAs (every tenant's own and every registered
 * one) changes at run time; the TLS handshake has already proved possession of the key.
 *
 * Failures are throttled twice, so that guessing is slow but one broken device cannot lock out
 * its neighbours behind the same NAT or gateway address: per source and claimed identity
 * (device id, token, certificate) a few failures a minute, and per source alone a much higher
 * ceiling against spraying many identities. A known credential that is refused (revoked,
 * expired, decommissioned) counts only against itself, not against its source.
 */
export interface AuthThrottleLimits {
  /** Failures per source and identity within the window (default 5). */
  perIdentity: number;
  /** Failures per source within the window, whatever the identity (default 100). */
  perSource: number;
  windowMs: number;
}

export class DeviceAuthenticator {
  private readonly identityThrottle: FailureThrottle;
  private readonly sourceThrottle: FailureThrottle;
  private caCache: { at: number; cas: Array<{ ca: CertificateAuthority; cert: X509Certificate }> } | undefined;

  constructor(
    private readonly stores: Stores,
    private readonly now: () => number = Date.now,
    limits: Partial<AuthThrottleLimits> = {},
    private readonly firstContact?: FirstContactEnrollment,
    /** Unseals PSK keys; without it, `resolvePsk` cannot be used. */
    private readonly masterKey?: MasterKey,
  ) {
    const { perIdentity = 5, perSource = 100, windowMs = 60_000 } = limits;
    this.identityThrottle = new FailureThrottle({ maxFailures: perIdentity, windowMs, what: 'authentications of this device', now });
    this.sourceThrottle = new FailureThrottle({ maxFailures: perSource, windowMs, what: 'device authentications from this address', now });
  }

  async authenticateToken(deviceId: string, token: string, source: string): Promise<DeviceAuthResult> {
    return this.guarded(source, `dev:${deviceId}`, async () => {
      const cred = await this.stores.identity.findCredentialByTokenHash(hashToken(token));
      if (!cred || cred.type !== 'token' || cred.deviceId !== deviceId) return refuse('bad_credentials', 'unknown device or wrong token');
      return this.checkCredential(cred);
    });
  }

  /** A token alone (HTTP `Authorization: Bearer`): the credential names its device. */
  async authenticateBearer(token: string, source: string): Promise<DeviceAuthResult> {
    const tokenHash = hashToken(token);
    return this.guarded(source, `tok:${tokenHash.slice(0, 24)}`, async () => {
      const cred = await this.stores.identity.findCredentialByTokenHash(tokenHash);
      if (!cred || cred.type !== 'token') return refuse('bad_credentials', 'unknown device token');
      return this.checkCredential(cred);
    });
  }

  /** `der` is the leaf certificate the client presented in the TLS handshake. */
  async authenticateCertificate(der: Buffer, source: string): Promise<DeviceAuthResult> {
    return this.guarded(source, `crt:${createHash('sha256').update(der).digest('hex').slice(0, 24)}`, async () => {
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(der);
      } catch {
        return refuse('bad_credentials', 'the client certificate cannot be parsed');
      }
      const deviceId = commonNameOf(cert);
      if (!deviceId) return refuse('bad_credentials', 'the client certificate has no CN (it must be the device id)');
      const now = this.now();
      if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) <= now) return refuse('not_authorized', 'the client certificate is outside its validity period');
      const fingerprint = createHash('sha256').update(der).digest('hex');
      const known = (await this.stores.identity.findCredentialsByFingerprint(fingerprint)).filter((c) => c.deviceId === deviceId && c.type === 'x509');
      const issuer = await this.issuerOf(cert);
      if (!issuer) return refuse('bad_credentials', 'the client certificate is not signed by a CA Hangar trusts');
      const revoked = known.find((c) => c.status === 'revoked');
      if (revoked) return refuse('not_authorized', 'the client certificate was revoked');
      const cred = known.find((c) => c.tenantId === issuer.tenantId);
      if (cred) return this.checkCredential(cred);
      // A certificate from a registered CA that Hangar has not seen: its device must exist in
      // that CA's tenant; the certificate is then recorded as a credential, so it can be revoked.
      const device = await this.stores.devices.get(issuer.tenantId, deviceId);
      if (!device) {
        const enrolled = await this.enrollFirstContact(issuer, cert, source);
        if (enrolled) return enrolled;
        return refuse('bad_credentials', `no device "${deviceId}" in the tenant of the CA that signed the certificate, and no enabled enrollment group of that CA`);
      }
      if (device.status !== 'active') return refuseInactive(deviceId, device.status);
      const credential: DeviceCredential = {
        id: newId('cred'),
        tenantId: issuer.tenantId,
        deviceId,
        type: 'x509',
        status: 'active',
        tokenHash: null,
        caId: issuer.id,
        serialHex: cert.serialNumber.toLowerCase(),
        fingerprintSha256: fingerprint,
        certificatePem: cert.toString(),
        keyAlgorithm: cert.publicKey.asymmetricKeyType ?? null,
        source: 'jit',
        createdAt: now,
        expiresAt: Date.parse(cert.validTo),
        revokedAt: null,
        revocationReason: null,
        pskIdentity: null,
        encryptedPsk: null,
      };
      await this.stores.identity.insertCredential(credential);
      return { ok: true, identity: { tenantId: issuer.tenantId, deviceId, credentialId: credential.id } };
    });
  }

  /**
   * The key of a DTLS PSK handshake (RFC 4279 §2): the active, unexpired `psk` credential that
   * holds this identity, of an active device. Undefined for anything else — the DTLS server
   * then fails the handshake as for a wrong key, so a client learns nothing about identities.
   * Read from the store at every handshake (an indexed lookup and one AES-GCM open), so a
   * revoked credential is refused at once, on every node.
   */
  async resolvePsk(identity: string, source: string): Promise<{ key: Buffer; identity: DeviceIdentity } | undefined> {
    const masterKey = this.masterKey;
    if (!masterKey) throw new Error('this DeviceAuthenticator was built without the master key: it cannot resolve PSK identities');
    let key: Buffer | undefined;
    const result = await this.guarded(source, `psk:${identity}`, async () => {
      const known = (await this.stores.identity.findCredentialsByPskIdentity(identity)).filter((c) => c.type === 'psk');
      const cred = known.find((c) => c.status === 'active') ?? known.at(-1);
      if (!cred || cred.encryptedPsk === null) return refuse('bad_credentials', 'unknown PSK identity');
      // A revoked identity is refused as a known one: it counts against itself, not its address.
      const checked = await this.checkCredential(cred);
      if (checked.ok) key = unsealPsk(masterKey, cred.id, cred.encryptedPsk);
      return checked;
    });
    return result.ok && key ? { key, identity: result.identity } : undefined;
  }

  /**
   * A PSK handshake that failed after its identity resolved (the client's Finished did not
   * verify: a wrong key). The DTLS layer reports it (`onHandshakeFailure`); it counts as a
   * guess, so guessing a known identity's key is throttled like guessing a token.
   */
  pskHandshakeFailed(identity: string, source: string): void {
    this.identityThrottle.fail([`${source}|psk:${identity}`]);
    this.sourceThrottle.fail([source]);
  }

  private async enrollFirstContact(issuer: CertificateAuthority, cert: X509Certificate, source: string): Promise<DeviceAuthResult | undefined> {
    if (!this.firstContact || issuer.kind !== 'external') return undefined;
    try {
      const identity = await this.firstContact(issuer, cert.toString(), source);
      return identity ? { ok: true, identity } : undefined;
    } catch (err) {
      if (err instanceof HangarError && err.code === 'RATE_LIMITED') return refuse('rate_limited', err.message, retryAfterMsOf(err));
      if (err instanceof HangarError && err.status < 500) return refuse('not_authorized', err.message);
      throw err;
    }
  }

  /** Forgets the cached CA list (after a CA is registered, enabled or disabled). */
  invalidateCas(): void {
    this.caCache = undefined;
  }

  private async guarded(source: string, identity: string, work: () => Promise<DeviceAuthResult>): Promise<DeviceAuthResult> {
    const identityKeys = [`${source}|${identity}`];
    const sourceKeys = [source];
    try {
      this.identityThrottle.check(identityKeys);
      this.sourceThrottle.check(sourceKeys);
    } catch (err) {
      if (err instanceof HangarError) return refuse('rate_limited', err.message, retryAfterMsOf(err));
      throw err;
    }
    const result = await work();
    if (!result.ok && !uncounted.has(result)) {
      this.identityThrottle.fail(identityKeys);
      if (result.reason === 'bad_credentials') this.sourceThrottle.fail(sourceKeys);
    }
    return result;
  }

  private async checkCredential(cred: DeviceCredential): Promise<DeviceAuthResult> {
    if (cred.status !== 'active') return refuse('not_authorized', 'this credential was revoked');
    if (cred.expiresAt <= this.now()) return refuse('not_authorized', 'this credential expired');
    const device = await this.stores.devices.get(cred.tenantId, cred.deviceId);
    if (!device) return refuse('bad_credentials', 'unknown device or wrong credentials');
    if (device.status !== 'active') return refuseInactive(cred.deviceId, device.status);
    return { ok: true, identity: { tenantId: cred.tenantId, deviceId: cred.deviceId, credentialId: cred.id } };
  }

  private async issuerOf(cert: X509Certificate): Promise<CertificateAuthority | undefined> {
    const now = this.now();
    if (!this.caCache || now - this.caCache.at > CA_CACHE_MS) {
      const cas = await this.stores.identity.listActiveCas();
      this.caCache = { at: now, cas: cas.map((ca) => ({ ca, cert: new X509Certificate(ca.certificatePem) })) };
    }
    for (const { ca, cert: caCert } of this.caCache.cas) {
      if (cert.checkIssued(caCert) && cert.verify(caCert.publicKey)) return ca;
    }
    return undefined;
  }
}

function refuse(reason: 'bad_credentials' | 'not_authorized' | 'rate_limited', detail: string, retryAfterMs?: number): DeviceAuthResult {
  return retryAfterMs === undefined ? { ok: false, reason, detail } : { ok: false, reason, detail, retryAfterMs };
}

/** The refusal as the catalog's error, so every wire says it the same way (Retry-After, Max-Age). */
export function refusalError(result: Extract<DeviceAuthResult, { ok: false }>): HangarError {
  if (result.reason === 'rate_limited') return new HangarError('RATE_LIMITED', result.detail, result.retryAfterMs === undefined ? {} : { retryAfterMs: result.retryAfterMs });
  if (result.reason === 'not_authorized') return new HangarError('FORBIDDEN', result.detail);
  return new HangarError('UNAUTHENTICATED', result.detail);
}

/** Refusals that are no failure of the device: they do not count towards its throttle. */
const uncounted = new WeakSet<DeviceAuthResult>();

/**
 * Every transport's refusal of a device that is not active. A suspended device holds good
 * credentials and retries on its own schedule: counting its refusals would throttle it for a
 * while after an operator reactivates it.
 */
function refuseInactive(deviceId: string, status: string): DeviceAuthResult {
  if (status !== 'suspended') return refuse('not_authorized', `device "${deviceId}" is ${status}`);
  const result = refuse('not_authorized', `device "${deviceId}" is suspended until an operator reactivates it`);
  uncounted.add(result);
  return result;
}

/** The CN of a certificate's subject (Node prints the subject one `KEY=value` per line). */
export function commonNameOf(cert: X509Certificate): string | undefined {
  for (const line of cert.subject.split('\n')) if (line.startsWith('CN=')) return line.slice(3);
  return undefined;
}
