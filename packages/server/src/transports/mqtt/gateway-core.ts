import type { Logger } from 'pino';
import type { UserProperties } from 'mqtt-packet';
import type { DeviceAuthenticator, DeviceIdentity } from '../../core/identity/device-authenticator.js';
import type { EnrollmentService } from '../../core/identity/enrollment-service.js';
import type { PresenceTracker } from '../../core/presence/presence-tracker.js';
import type { TelemetryIngest } from '../../core/telemetry/telemetry-ingest.js';
import type { MqttConnection } from './mqtt-connection.js';
import type { MqttSessionStore } from './session-store.js';

/** What came with an uplink besides its payload (MQTT 5 properties; empty on 3.1.1). */
export interface UplinkMeta {
  qos: 0 | 1;
  contentType?: string;
  userProperties?: UserProperties;
  responseTopic?: string;
  correlationData?: Buffer;
}

/** Every counter the gateway keeps; `MqttGatewayOptions.count` receives each increment. */
export const MQTT_COUNTERS = [
  'connections_accepted',
  'connections_refused',
  'connect_timeouts',
  'keepalive_timeouts',
  'takeovers',
  'malformed_packets',
  'oversize_packets',
  'protocol_errors',
  'qos2_refused',
  'publish_refused',
  'subscribe_refused',
  'telemetry_messages',
  'uplink_messages',
  'uplinks_refused',
  'uplinks_unserved',
  'telemetry_throttled',
  'downlinks_sent',
  'downlinks_queued',
  'downlinks_dropped',
  'downlinks_expired',
  'downlinks_too_large',
  'queue_overflow_dropped',
  'wills_published',
  'enrollments',
  'enrollments_refused',
] as const;

export type MqttCounter = (typeof MQTT_COUNTERS)[number];

/** Limits of the gateway; every one has a default (see DEFAULT_MQTT_LIMITS). */
export interface MqttLimits {
  /** CONNECT must arrive (and authentication finish) within this. */
  connectTimeoutMs: number;
  /** Largest packet accepted, announced as Maximum Packet Size: a 256 KiB payload plus headers. */
  maxPacketSize: number;
  /** Inbound QoS 1 window announced as Receive Maximum (5.0). */
  receiveMaximum: number;
  /** Uplinks with the core per connection before its socket is no longer read. */
  maxUplinksInWork: number;
  /**
   * How long a telemetry message refused for the device's rate limit is held and re-submitted
   * (the connection not read meanwhile) before it is refused for good.
   */
  rateLimitMaxWaitMs: number;
  topicAliasMaximum: number;
  /** Subscriptions one session keeps; more are refused (5.0 SUBACK 0x97, 3.1.1 0x80). */
  maxSubscriptionsPerSession: number;
  /** Messages a persistent session keeps for its device; the oldest goes first. */
  maxQueuedPerDevice: number;
  /** Cap on session expiry; also the lifetime of a 3.1.1 clean-session-0 session. */
  maxSessionExpirySec: number;
  /** Keep-alive used when a device asks for none or more (announced as Server Keep Alive on 5.0). */
  maxKeepAliveSec: number;
  /** Added before a credential refusal is sent, to slow down guessing. */
  refusalDelayMs: number;
  /** A closing socket the peer does not close is destroyed after this. */
  closeGraceMs: number;
  /** How long a connection that is being closed waits for uplinks still with the core, to send their PUBACKs first. */
  ackDrainMs: number;
  /** How often timeouts and expired sessions are checked. */
  sweepIntervalMs: number;
  maxPacketsBeforeConnack: number;
  /** An enrollment session ends after this. */
  enrollmentSessionMs: number;
  /** Enrollment sessions open at once on this node. */
  maxEnrollmentSessions: number;
}

export const DEFAULT_MQTT_LIMITS: MqttLimits = {
  connectTimeoutMs: 10_000,
  maxPacketSize: 256 * 1024 + 8 * 1024,
  receiveMaximum: 100,
  maxUplinksInWork: 100,
  rateLimitMaxWaitMs: 30_000,
  topicAliasMaximum: 32,
  maxSubscriptionsPerSession: 100,
  maxQueuedPerDevice: 1000,
  maxSessionExpirySec: 7 * 24 * 3600,
  maxKeepAliveSec: 1200,
  refusalDelayMs: 1000,
  closeGraceMs: 500,
  ackDrainMs: 5000,
  sweepIntervalMs: 1000,
  maxPacketsBeforeConnack: 32,
  enrollmentSessionMs: 120_000,
  maxEnrollmentSessions: 1000,
};

/** The gateway as its connections see it. */
export interface GatewayCore {
  readonly limits: MqttLimits;
  readonly logger: Logger;
  readonly sessions: MqttSessionStore;
  readonly authenticator: Pick<DeviceAuthenticator, 'authenticateToken' | 'authenticateCertificate'>;
  readonly telemetry: TelemetryIngest;
  readonly presence: Pick<PresenceTracker, 'connected' | 'disconnected' | 'seen'>;
  readonly enrollment: Pick<EnrollmentService, 'provision'> | undefined;
  /** False without an `uplink` hook: twin/reported, command results, OTA status and logs go nowhere. */
  readonly uplinksServed: boolean;
  now(): number;
  count(counter: MqttCounter, n?: number): void;
  uplink(identity: DeviceIdentity, subtopic: string, payload: Buffer, meta: UplinkMeta): Promise<void>;
  subscribed(identity: DeviceIdentity, filters: string[]): void;
  /** Makes `conn` the device's connection; returns the one it replaces. */
  claim(conn: MqttConnection): MqttConnection | undefined;
  registerLive(conn: MqttConnection): void;
  forget(conn: MqttConnection): void;
  admitEnrollment(): boolean;
  releaseEnrollment(): void;
}
