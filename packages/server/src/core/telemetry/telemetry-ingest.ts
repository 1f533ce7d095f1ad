import type { DeviceIdentity } from '../identity/device-authenticator.js';

/** The payload encodings a device may send telemetry in (DESIGN §5). */
export type TelemetryFormat = 'json' | 'senml+json' | 'senml+cbor';

/** Told once how a submitted message ended: `err` is undefined once its readings are durable. */
export type IngestDone = (err: unknown) => void;

/**
 * What every transport calls with a device's telemetry. The promise resolves only once the
 * readings are durable (the transport acks then: MQTT PUBACK, HTTP 2xx, CoAP 2.04) and
 * rejects with a HangarError for a payload to refuse (VALIDATION_FAILED, PAYLOAD_TOO_LARGE,
 * RATE_LIMITED) — in which case nothing of it was stored.
 */
export interface TelemetryIngest {
  ingest(device: DeviceIdentity, payload: Uint8Array, format: TelemetryFormat): Promise<{ accepted: number }>;
  /**
   * The same contract as `ingest`, for a transport that takes tens of thousands of messages a
   * second (MQTT): a callback instead of a promise chain per message. `done` is called exactly
   * once — at once for a refusal, after the commit otherwise. Optional: a transport falls back
   * to `ingest` without it.
   */
  submit?(device: DeviceIdentity, payload: Uint8Array, format: TelemetryFormat, done: IngestDone): void;
}
