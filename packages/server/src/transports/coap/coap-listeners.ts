import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import type { DeviceAuthenticator, DeviceIdentity } from '../../core/identity/device-authenticator.js';
import type { ServerTls } from '../../core/identity/server-tls.js';
import type { DatagramPeer } from '../datagram-channel.js';
import { DtlsServer, type ClientCertificateVerdict, type DtlsCertificateOptions, type DtlsLimits, type HandshakeFailure } from '../dtls/index.js';
import type { LiveSessions } from '../live-sessions.js';
import { CoapServer, type CoapRequestHandler, type CoapTiming } from './coap-server.js';
import { requesterByChannel, type CoapRequester } from './coap-requester.js';
import { UdpChannel } from './udp-channel.js';

export interface CoapListenersOptions {
  authenticator: Pick<DeviceAuthenticator, 'resolvePsk' | 'pskHandshakeFailed' | 'authenticateCertificate'>;
  /** Revoked credentials and removed devices end their DTLS sessions through it. */
  liveSessions: LiveSessions;
  serverTls: ServerTls;
  logger: Logger;
  timing?: Partial<CoapTiming> | undefined;
  dtlsLimits?: Partial<DtlsLimits> | undefined;
}

/**
 * The two CoAP listeners of DESIGN §3: plain UDP (`--coap-port`) and DTLS 1.2 (`--coaps-port`),
 * one CoAP stack each over its channel, both handing requests to the same router (`/device`,
 * LwM2M's `/rd`, `/bs`, `/dp`). Over DTLS the handshake authenticates the device: a PSK resolved
 * by the device authenticator, or a client certificate it trusts, whose device becomes the
 * peer's principal. Each DTLS session is a live session, so revoking its credential (or
 * suspending, decommissioning or deleting its device) sends close_notify at once.
 */
export class CoapListeners {
  readonly plain: CoapServer<DeviceIdentity>;
  readonly secure: CoapServer<DeviceIdentity>;
  readonly dtls: DtlsServer<DeviceIdentity>;
  /** Requests Hangar sends to devices (LwM2M), over whichever listener the device is on. */
  readonly requester: CoapRequester<DeviceIdentity>;
  private route: CoapRequestHandler<DeviceIdentity> = () => Promise.resolve({ code: 0xa3 }); // 5.03 until routes are set
  private readonly forgetSession = new Map<string, () => void>();

  constructor(private readonly options: CoapListenersOptions) {
    const { authenticator, logger } = options;
    const handler: CoapRequestHandler<DeviceIdentity> = (request) => this.route(request);
    const dtlsLogger = logger.child({ component: 'dtls' });
    this.dtls = new DtlsServer<DeviceIdentity>({
      logger: dtlsLogger,
      psk: async (identity, source) => {
        const resolved = await authenticator.resolvePsk(identity, source);
        return resolved && { key: resolved.key, principal: resolved.identity };
      },
      ...certificateOption(options.serverTls, authenticator, dtlsLogger),
      ...(options.dtlsLimits ? { limits: options.dtlsLimits } : {}),
      onHandshakeFailure: (failure) => this.handshakeFailed(failure),
      onSessionStart: (peer) => this.sessionStarted(peer),
      onSessionEnd: (peer) => {
        this.forgetSession.get(peer.key)?.();
        this.forgetSession.delete(peer.key);
      },
    });
    this.plain = new CoapServer<DeviceIdentity>({ channel: new UdpChannel(logger.child({ component: 'coap' })), handler, logger: logger.child({ component: 'coap' }), ...(options.timing ? { timing: options.timing } : {}) });
    this.secure = new CoapServer<DeviceIdentity>({ channel: this.dtls, handler, logger: logger.child({ component: 'coaps' }), ...(options.timing ? { timing: options.timing } : {}) });
    this.requester = requesterByChannel({ plain: this.plain, secure: this.secure });
  }

  /** Set once the endpoints exist (they need `requester` first). */
  setRoutes(route: CoapRequestHandler<DeviceIdentity>): void {
    this.route = route;
  }

  /** A reloaded server certificate: new DTLS handshakes use it (PSK is unaffected). */
  setCertificate(tls: ServerTls): void {
    if (isP256(tls.privateKeyPem)) this.dtls.setCertificate(tls.certificatePem, tls.privateKeyPem);
  }

  async close(): Promise<void> {
    await Promise.all([this.plain.close(), this.secure.close()]);
  }

  private sessionStarted(peer: DatagramPeer<DeviceIdentity>): void {
    const principal = peer.secure?.principal;
    if (!principal) return;
    const forget = this.options.liveSessions.add({
      tenantId: principal.tenantId,
      deviceId: principal.deviceId,
      credentialId: principal.credentialId,
      protocol: 'coaps',
      close: () => void this.dtls.closeSession(peer.key),
    });
    this.forgetSession.set(peer.key, forget);
  }

  private handshakeFailed(failure: HandshakeFailure): void {
    // A wrong key shows only at Finished: it counts as a failed authentication of that identity.
    if (failure.pskIdentity !== undefined && (failure.reason === 'bad_record_mac' || failure.reason === 'decrypt_error')) {
      this.options.authenticator.pskHandshakeFailed(failure.pskIdentity, failure.source);
    }
  }
}

/**
 * TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 needs an ECDSA P-256 server key (RFC 7925 §4.4.2): the
 * generated installation certificate has one; an operator's RSA certificate leaves DTLS with PSK only.
 */
function certificateOption(tls: ServerTls, authenticator: CoapListenersOptions['authenticator'], logger: Logger): { certificate?: DtlsCertificateOptions<DeviceIdentity> } {
  if (!isP256(tls.privateKeyPem)) {
    logger.warn('the server certificate has no ECDSA P-256 key: DTLS offers PSK only (no client certificates)');
    return {};
  }
  return {
    certificate: {
      chainPem: tls.certificatePem,
      keyPem: tls.privateKeyPem,
      verifyClient: async (chain, source): Promise<ClientCertificateVerdict<DeviceIdentity>> => {
        const leaf = chain[0];
        if (!leaf) return { ok: false, alert: 'bad_certificate', detail: 'no client certificate' };
        const result = await authenticator.authenticateCertificate(leaf, source);
        if (result.ok) return { ok: true, principal: result.identity };
        return { ok: false, alert: alertFor(result.reason, result.detail, leaf), detail: result.detail };
      },
    },
  };
}

function alertFor(reason: 'bad_credentials' | 'not_authorized' | 'rate_limited', detail: string, leaf: Buffer): Exclude<ClientCertificateVerdict<DeviceIdentity>, { ok: true }>['alert'] {
  if (reason === 'bad_credentials') return /not signed by a CA/.test(detail) ? 'unknown_ca' : 'bad_certificate';
  if (reason === 'rate_limited') return 'access_denied';
  if (/revoked/.test(detail)) return 'certificate_revoked';
  try {
    const cert = new X509Certificate(leaf);
    if (Date.parse(cert.validTo) <= Date.now() || Date.parse(cert.validFrom) > Date.now()) return 'certificate_expired';
  } catch {
    return 'bad_certificate';
  }
  return 'access_denied';
}

function isP256(privateKeyPem: string): boolean {
  try {
    const key = createPrivateKey(privateKeyPem);
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  } catch {
    return false;
  }
}
