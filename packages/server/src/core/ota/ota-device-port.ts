import type { OtaOffer } from '@hangar/protocol';

/**
 * The device's side of OTA, as every transport reaches it (MQTT `ota` / `ota/status`, the HTTP
 * device API, CoAP). Core builds the offer; transports serve it as it is. Pushed again on
 * `ota.offer.changed`.
 */
export interface OtaDevicePort {
  /** The device's current offer with fresh download tokens, or `{deploymentId: null}`. */
  currentOffer(tenantId: string, deviceId: string): Promise<OtaOffer>;
  /**
   * A status report (the raw JSON body). Resolves once stored; rejects with a HangarError —
   * nothing changed — when malformed, for a deployment the device is not in, or out of order
   * or repeated (`downloading` with a higher progress is not a repeat).
   */
  reportStatus(tenantId: string, deviceId: string, report: unknown): Promise<void>;
}
