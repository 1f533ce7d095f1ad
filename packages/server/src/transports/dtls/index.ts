export { DtlsServer, DEFAULT_DTLS_LIMITS } from './dtls-server.js';
export type { DtlsServerOptions, DtlsLimits, PskLookup, HandshakeFailure, ClientCertificateVerdict, DtlsCertificateOptions } from './dtls-options.js';
