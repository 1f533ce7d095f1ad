import type { Logger } from 'pino';
import type { Lwm2mServices } from '../../core/lwm2m/lwm2m-services.js';
import type { CoapRequester, CoapRequestHandler } from '../coap/index.js';
import type { CoapDeviceLink } from './coap-device-link.js';
import { Lwm2mEndpoint } from './lwm2m-endpoint.js';

export { CoapDeviceLink, codeText, type CoapDeviceLinkOptions } from './coap-device-link.js';
export { Lwm2mEndpoint, MAX_LWM2M_PAYLOAD_BYTES, type Lwm2mEndpointOptions } from './lwm2m-endpoint.js';

export interface Lwm2mEndpointHandle {
  /** For `routeByFirstSegment`: `rd`, `bs`, `dp`, on the CoAP and the DTLS port alike. */
  handlers: Record<'rd' | 'bs' | 'dp', CoapRequestHandler>;
  close(): Promise<void>;
}

/**
 * The LwM2M endpoint the composition root mounts on its CoAP servers (ISSUE12 contract, part E).
 * `link` is the CoapDeviceLink the core services were built with; `requester` reaches devices
 * that registered before this process started (the plain CoAP server), and may be given later
 * with `link.useRequester`.
 */
export function createLwm2mEndpoint(options: { services: Lwm2mServices; link: CoapDeviceLink; requester?: CoapRequester | undefined; logger: Logger }): Lwm2mEndpointHandle {
  if (options.requester) options.link.useRequester(options.requester);
  const endpoint = new Lwm2mEndpoint({ registrations: options.services.registrations, bootstrap: options.services.bootstrap, mapping: options.services.mapping, models: options.services.models, link: options.link, logger: options.logger });
  return {
    handlers: endpoint.handlers,
    close: () => options.services.stop(),
  };
}
