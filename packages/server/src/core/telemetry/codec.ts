import { HangarError } from '../../errors.js';
import { decodeJsonTelemetry } from './codec-json.js';
import { decodeSenmlCbor, decodeSenmlJson } from './codec-senml.js';
import type { TelemetryFormat } from './telemetry-ingest.js';
import { refuse, type TelemetryLimits, type TelemetryPoint } from './telemetry-point.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes one telemetry payload into readings, or throws a HangarError that says what is wrong
 * (PAYLOAD_TOO_LARGE, VALIDATION_FAILED with the place in the payload). Pure: `now` stamps
 * readings that carry no time and resolves SenML relative times.
 */
export function decodeTelemetry(payload: Uint8Array, format: TelemetryFormat, now: number, limits: TelemetryLimits): TelemetryPoint[] {
  if (payload.byteLength > limits.maxPayloadBytes) {
    throw new HangarError('PAYLOAD_TOO_LARGE', `the telemetry payload is ${payload.byteLength} bytes; the limit is ${limits.maxPayloadBytes}`);
  }
  if (payload.byteLength === 0) throw refuse('the telemetry payload is empty');
  switch (format) {
    case 'json':
      return decodeJsonTelemetry(text(payload), now, limits);
    case 'senml+json':
      return decodeSenmlJson(text(payload), now, limits);
    case 'senml+cbor':
      return decodeSenmlCbor(payload, now, limits);
    default:
      throw refuse(`unknown telemetry format ${JSON.stringify(format as string)}`);
  }
}

function text(payload: Uint8Array): string {
  try {
    return utf8.decode(payload);
  } catch {
    throw refuse('the payload is not valid UTF-8 text');
  }
}
