import type { Logger } from 'pino';
import type { DatagramPeer } from '../datagram-channel.js';

/**
 * The DTLS 1.2 server's contract with whoever runs it (docs/dtls.md). The server is generic in
 * `P`, the principal its callbacks resolve (Hangar's device endpoints use `DeviceIdentity`), and
 * knows nothing of CoAP, devices or the store.
 */

/** A PSK identity resolved to its key and principal; undefined → `unknown_psk_identity`. */
export type PskLookup<P> = (identity: string, source: string) => Promise<{ key: Buffer; principal: P } | undefined>;

export type ClientCertificateVerdict<P> =
  | { ok: true; principal: P }
  | { ok: false; alert: 'bad_certificate' | 'certificate_revoked' | 'certificate_expired' | 'unknown_ca' | 'access_denied'; detail: string };

export interface DtlsCertificateOptions<P> {
  /** The server's chain, PEM, leaf first; the leaf's key is ECDSA P-256 (RFC 7925 §4.4.2). */
  chainPem: string;
  keyPem: string;
  /**
   * Called once the client has proved possession of its key (CertificateVerify checked).
   * `chain` is what the client sent, leaf first, DER. Trust (which CAs, revocation, validity)
   * is the callback's decision, not the DTLS layer's.
   */
  verifyClient: (chain: Buffer[], source: string) => Promise<ClientCertificateVerdict<P>>;
}

/** Why a handshake ended without a session; for logs, metrics and the caller's failure throttle. */
export interface HandshakeFailure {
  source: string;
  reason: 'timeout' | 'bad_record_mac' | 'decrypt_error' | 'unknown_psk_identity' | 'certificate' | 'alert' | 'protocol' | 'limit';
  pskIdentity?: string;
  detail: string;
}

export interface DtlsLimits {
  /** Established sessions in all. */
  maxSessions: number;
  /** Established sessions per source address (all ports). */
  maxSessionsPerAddress: number;
  /** Handshakes in progress in all (after a valid cookie; before it nothing is kept). */
  maxHandshakes: number;
  maxHandshakesPerAddress: number;
  /** A handshake not finished in this long is dropped. */
  handshakeTimeoutMs: number;
  /** A session with no authenticated record for this long is forgotten (no alert is sent). */
  sessionIdleMs: number;
  /** Flight retransmission (RFC 6347 §4.2.4): initial timer, doubled up to the maximum. */
  retransmitInitialMs: number;
  retransmitMaxMs: number;
  /** Largest datagram the server sends; handshake messages are fragmented to fit. */
  maxDatagramBytes: number;
  /** Largest handshake message it reassembles (a client certificate chain). */
  maxHandshakeMessageBytes: number;
  /** Connection ID length the server asks its peers to use (RFC 9146); 0 disables the extension. */
  connectionIdLength: number;
  /** Sessions kept for resumption (abbreviated handshake), and for how long. */
  resumptionCacheSize: number;
  resumptionTtlMs: number;
  /** How often the cookie secret changes (the previous one is still accepted). */
  cookieSecretRotationMs: number;
}

export interface DtlsServerOptions<P> {
  logger: Logger;
  /** Offers TLS_PSK_WITH_AES_128_CCM_8 when set. */
  psk?: PskLookup<P>;
  /** Offers TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 with a required client certificate when set. */
  certificate?: DtlsCertificateOptions<P>;
  limits?: Partial<DtlsLimits>;
  onHandshakeFailure?: (failure: HandshakeFailure) => void;
  /**
   * A session was established (full or abbreviated handshake) and ended (close_notify, fatal
   * alert, idle expiry, `closeSession(s)`, replacement): what a caller needs to track live
   * sessions, e.g. to end them when their credential is revoked. Neither may throw.
   */
  onSessionStart?: (peer: DatagramPeer<P>) => void;
  onSessionEnd?: (peer: DatagramPeer<P>) => void;
  now?: () => number;
}
