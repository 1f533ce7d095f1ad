/** RFC 5246 §7.2 alert descriptions (and RFC 4279 §2 unknown_psk_identity). */
export const AlertDescription = {
  closeNotify: 0,
  unexpectedMessage: 10,
  badRecordMac: 20,
  handshakeFailure: 40,
  badCertificate: 42,
  unsupportedCertificate: 43,
  certificateRevoked: 44,
  certificateExpired: 45,
  illegalParameter: 47,
  unknownCa: 48,
  accessDenied: 49,
  decodeError: 50,
  decryptError: 51,
  protocolVersion: 70,
  insufficientSecurity: 71,
  internalError: 80,
  unknownPskIdentity: 115,
} as const;

export const AlertLevel = { warning: 1, fatal: 2 } as const;

/** The verifyClient callback names its alert; map the name to the wire value. */
export const certificateAlertByName: Record<'bad_certificate' | 'certificate_revoked' | 'certificate_expired' | 'unknown_ca' | 'access_denied', number> = {
  bad_certificate: AlertDescription.badCertificate,
  certificate_revoked: AlertDescription.certificateRevoked,
  certificate_expired: AlertDescription.certificateExpired,
  unknown_ca: AlertDescription.unknownCa,
  access_denied: AlertDescription.accessDenied,
};
