/**
 * What every simulated device of a run shares. Plain data, so that it crosses to worker
 * processes as it is.
 */
import type { BackoffPolicy } from './backoff.js';

export type PublishMode =
  /** Each device publishes as fast as its acknowledgements allow, `inflight` unacknowledged at most. */
  | { kind: 'max'; inflight: number }
  /** Each device publishes `perSecond` messages a second, skipping (counted as behind) past `inflight` waiting. */
  | { kind: 'rate'; perSecond: number; inflight: number };

export type MqttVersion = '3.1.1' | '5';

export interface FleetConfig {
  /** `mqtt://host:port` or `mqtts://host:port`. */
  server: string;
  qos: 0 | 1;
  mqttVersion: MqttVersion;
  mode: PublishMode;
  payloadKeys: number;
  /** Connection attempts started per second, across the whole fleet (Infinity: unbounded). */
  connectRate: number;
  /** Connection attempts in progress at once, across the whole fleet. */
  connectConcurrency: number;
  /** One attempt (TCP, TLS, CONNECT → CONNACK) gives up after this long. */
  connectTimeoutMs: number;
  keepaliveSec: number;
  /** PEM of the CA that signed an `mqtts://` server's certificate (else the system's CAs). */
  caPem?: string;
  backoff: BackoffPolicy;
}

export const MQTT_PROTOCOL_LEVEL: Record<MqttVersion, 4 | 5> = { '3.1.1': 4, '5': 5 };

