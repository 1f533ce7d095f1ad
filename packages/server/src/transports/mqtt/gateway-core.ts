import type { Logger } from 'pino';
import type { DeviceAuthenticator, DeviceIdentity } from '../../core/identity/device-authenticator.js';
import type { EnrollmentService } from '../../core/identity/enrollment-service.js';
import type { PresenceTracker } from '../../core/presence/presence-tracker.js';
import type { TelemetryIngest } from '../../core/telemetry/telemetry-ingest.js';
import type { LiveSession } from '../live-sessions.js';
import type { Downlink, MqttSession, MqttSessionStore } from './session-store.js';
import type { UplinkCore } from './uplink-routes.js';

export type { UplinkMeta } from './uplink-routes.js';

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

export interface EndOptions {
  /** MQTT 5 DISCONNECT reason sent first (only once CONNACK went out, [MQTT-3.14.0-1]). */
  code?: number;
  /** Publish the will: any end but a normal DISCONNECT or an administrative close. */
  will: boolean;
}

/** A connection as the gateway sees it (MqttConnection): declared here so that this file needs no connection module. */
export interface GatewayConnection extends LiveSession {
  readonly identity: DeviceIdentity | undefined;
  readonly session: MqttSession | undefined;
  readonly isOpen: boolean;
  /** A message for this connection's session: sent now, or queued while the device's window is full. */
  offer(message: Downlink): 'delivered' | 'queued' | 'dropped';
  end(reason: string, options: EndOptions): void;
  /** The sweep: CONNECT deadline, keep-alive, enrollment time limit. */
  tick(now: number): void;
}

/** The gateway as its connections see it. */
export interface GatewayCore extends UplinkCore {
  readonly limits: MqttLimits;
  readonly logger: Logger;
  readonly sessions: MqttSessionStore;
  readonly authenticator: Pick<DeviceAuthenticator, 'authenticateToken' | 'authenticateCertificate'>;
  readonly telemetry: TelemetryIngest;
  readonly presence: Pick<PresenceTracker, 'connected' | 'disconnected' | 'seen'>;
  readonly enrollment: Pick<EnrollmentService, 'provision'> | undefined;
  now(): number;
  count(counter: MqttCounter, n?: number): void;
  subscribed(identity: DeviceIdentity, filters: string[], resumed?: boolean): void;
  /** Makes `conn` the device's connection; returns the one it replaces. */
  claim(conn: GatewayConnection): GatewayConnection | undefined;
  registerLive(conn: GatewayConnection): void;
  forget(conn: GatewayConnection): void;
  admitEnrollment(): boolean;
  releaseEnrollment(): void;
}
