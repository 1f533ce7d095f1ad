/**
 * The CoAP device API (docs/coap.md): the HTTP device API's paths (DESIGN §5, `/device/v1/…`)
 * as Uri-Path, with the device's credentials in Uri-Query — CoAP has no headers, and DTLS is not
 * yet available — so `coap://host/device/v1/telemetry?device=<id>&token=<token>`.
 */
export const COAP_DEVICE_PATH = ['device', 'v1'] as const;

/** Resources under `COAP_DEVICE_PATH`. */
export const COAP_RESOURCES = {
  telemetry: 'telemetry',
  twinReported: 'twin/reported',
  twinDesired: 'twin/desired',
  commands: 'commands',
  logs: 'logs',
  ota: 'ota',
  otaStatus: 'ota/status',
  /** `firmware/{id}/image` and `firmware/{id}/deltas/{deltaId}` (Block2, with `?t=` download token). */
  firmware: 'firmware',
} as const;

/** Uri-Query parameter names that carry a device's credentials. */
export const COAP_QUERY_DEVICE = 'device';
export const COAP_QUERY_TOKEN = 'token';

/** Content-Format ids Hangar accepts (RFC 7252 §12.3, RFC 8428 §12.3). */
export const COAP_CONTENT_FORMAT = {
  json: 50,
  senmlJson: 110,
  senmlCbor: 112,
  textPlain: 0,
} as const;

/** The Uri-Path segments of a resource, e.g. `['device', 'v1', 'twin', 'desired']`. */
export function coapResourcePath(resource: string): string[] {
  return [...COAP_DEVICE_PATH, ...resource.split('/')];
}
