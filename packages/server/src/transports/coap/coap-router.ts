import { CoapCode, CoapOptionNumber, optionValues } from '@hangar/protocol/coap';
import { errorResponse } from './coap-errors.js';
import type { CoapRequestHandler } from './coap-server.js';

/**
 * One CoAP server serves several APIs side by side, told apart by the first Uri-Path segment:
 * `device` (the device API, docs/coap.md) and `rd`, `bs`, `dp` (LwM2M registration, bootstrap,
 * Send). A request whose first segment no route names goes to `fallback`, or gets 4.04.
 */
export function routeByFirstSegment<P = unknown>(routes: Record<string, CoapRequestHandler<P>>, fallback?: CoapRequestHandler<P>): CoapRequestHandler<P> {
  const table = new Map(Object.entries(routes));
  return async (request) => {
    const first = optionValues(request.message, CoapOptionNumber.UriPath)[0]?.toString('utf8') ?? '';
    const handler = table.get(first) ?? fallback;
    if (handler) return handler(request);
    return errorResponse(CoapCode.NotFound, `no resource /${first}; the paths are ${[...table.keys()].map((k) => `/${k}`).join(', ')} (see docs/coap.md)`);
  };
}
