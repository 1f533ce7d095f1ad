import { isHangarError } from '../../errors.js';
import { CoapCode } from './coap-message.js';
import type { CoapResponse } from './coap-server.js';
import { CoapOptionNumber, encodeUint } from './coap-message.js';

/**
 * CoAP response codes follow HTTP's status codes by design (RFC 7252 §10 maps them one to one),
 * so a HangarError is mapped through the HTTP status of its catalog entry: every code of the
 * catalog, present and future, has a CoAP answer without a second table to keep in step.
 */
export function coapCodeForStatus(status: number): number {
  switch (status) {
    case 400:
      return CoapCode.BadRequest;
    case 401:
      return CoapCode.Unauthorized;
    case 403:
      return CoapCode.Forbidden;
    case 404:
      return CoapCode.NotFound;
    case 405:
      return CoapCode.MethodNotAllowed;
    case 406:
      return CoapCode.NotAcceptable;
    case 409:
      return CoapCode.Conflict; // RFC 8132 §3.2
    case 412:
      return CoapCode.PreconditionFailed;
    case 413:
      return CoapCode.RequestEntityTooLarge;
    case 415:
      return CoapCode.UnsupportedContentFormat;
    case 429:
      return CoapCode.TooManyRequests; // RFC 8516
    case 501:
      return CoapCode.NotImplemented;
    case 503:
      return CoapCode.ServiceUnavailable;
    default:
      return status >= 400 && status < 500 ? CoapCode.BadRequest : CoapCode.InternalServerError;
  }
}

/** Diagnostics are cut here so that an error answer stays one unfragmented datagram. */
const MAX_DIAGNOSTIC_BYTES = 512;

/** An error answer with a diagnostic payload (RFC 7252 §5.5.2: UTF-8 text, no Content-Format). */
export function errorResponse(code: number, diagnostic: string, options: CoapResponse['options'] = []): CoapResponse {
  let payload = Buffer.from(diagnostic, 'utf8');
  if (payload.length > MAX_DIAGNOSTIC_BYTES) {
    let end = MAX_DIAGNOSTIC_BYTES - 3;
    // Never split a UTF-8 sequence: back up to the start of a character.
    while (end > 0 && (payload[end]! & 0xc0) === 0x80) end -= 1;
    payload = Buffer.concat([payload.subarray(0, end), Buffer.from('...')]);
  }
  return { code, options, payload };
}

/**
 * The answer to an error thrown by a core call. `undefined` for anything that is not a
 * HangarError: the caller logs it and answers 5.00 without details.
 */
export function responseForHangarError(err: unknown, maxBodyBytes: number): CoapResponse | undefined {
  if (!isHangarError(err)) return undefined;
  const code = coapCodeForStatus(err.status);
  const options: NonNullable<CoapResponse['options']> = [];
  // RFC 8516 §4: Max-Age says when to retry; RFC 7959 §2.9.3: Size1 says how large a body may be.
  if (code === CoapCode.TooManyRequests) options.push({ number: CoapOptionNumber.MaxAge, value: encodeUint(retryAfterOf(err.extra) ?? 60) });
  if (code === CoapCode.RequestEntityTooLarge) options.push({ number: CoapOptionNumber.Size1, value: encodeUint(maxBodyBytes) });
  return errorResponse(code, err.message, options);
}

function retryAfterOf(extra: Record<string, unknown>): number | undefined {
  const value = extra.retryAfter;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.ceil(value) : undefined;
}
