import { coapAnswerOf } from '../../errors/coap-wire.js';
import type { CoapResponse } from './coap-server.js';
import { CoapOptionNumber, encodeUint } from '@hangar/protocol/coap';

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
 * The answer to an error thrown by a core call, as the catalog maps it (errors/coap-wire.ts).
 * `undefined` for anything that is not a HangarError: the caller logs it and answers 5.00
 * without details.
 */
export function responseForHangarError(err: unknown, maxBodyBytes: number): CoapResponse | undefined {
  const answer = coapAnswerOf(err, { maxBodyBytes });
  if (!answer) return undefined;
  const options: NonNullable<CoapResponse['options']> = [];
  if (answer.maxAgeSeconds !== undefined) options.push({ number: CoapOptionNumber.MaxAge, value: encodeUint(answer.maxAgeSeconds) });
  if (answer.size1 !== undefined) options.push({ number: CoapOptionNumber.Size1, value: encodeUint(answer.size1) });
  return errorResponse(answer.code, (err as Error).message, options);
}
