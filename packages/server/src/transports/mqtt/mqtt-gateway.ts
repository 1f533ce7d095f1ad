import type { Duplex } from 'node:stream';
import type { UserProperties } from 'mqtt-packet';
import pino, { type Logger } from 'pino';
import { deviceTopic } from '@hangar/protocol';
import type { EventBus, Unsubscribe } from '../../bus/event-bus.js';
import type { DeviceAuthenticator, DeviceIdentity } from '../../core/identity/device-authenticator.js';
import type { EnrollmentService } from '../../core/identity/enrollment-service.js';
import type { PresenceTracker } from '../../core/presence/presence-tracker.js';
import type { TelemetryIngest } from '../../core/telemetry/telemetry-ingest.js';
import { HangarError } from '../../errors.js';
import type { LiveSessions } from '../live-sessions.js';
import { DEFAULT_MQTT_LIMITS, MQTT_COUNTERS, type GatewayConnection, type GatewayCore, type MqttCounter, type MqttLimits } from './gateway-core.js';
import type { UplinkServices } from './uplink-routes.js';
import { MqttConnection } from './mqtt-connection.js';
import { MqttSessionStore, type Downlink } from './session-store.js';
import { isValidTopicName } from './topic-acl.js';

export interface MqttGatewayOptions {
  authenticator: Pick<DeviceAuthenticator, 'authenticateToken' | 'authenticateCertificate'>;
  telemetry: TelemetryIngest;
  presence: Pick<PresenceTracker, 'connected' | 'disconnected' | 'seen'>;
  liveSessions: Pick<LiveSessions, 'add'>;
  /** Sessions of decommissioned and deleted devices are discarded on its events. */
  bus?: Pick<EventBus, 'subscribe'> | undefined;
  /** MQTT enrollment (`$enroll/{group}` usernames); without it those connections are refused. */
  enrollment?: Pick<EnrollmentService, 'provision'> | undefined;
  /**
   * The core services behind uplink topics (twin/reported, commands/{cmdId}/result, ota/status,
   * logs). A topic whose service is absent is refused as unserved (QoS 1: 5.0 PUBACK 0x83,
   * 3.1.1 connection closed; QoS 0 dropped), never acknowledged.
   */
  services?: UplinkServices | undefined;
  /**
   * Told of accepted subscriptions (e.g. to send the desired twin on subscribe) and, with
   * `resumed`, of the filters a persistent session brought back on reconnect.
   */
  subscribed?: ((identity: DeviceIdentity, filters: string[], resumed: boolean) => void) | undefined;
  /** Each counter increment, for Prometheus (see MQTT_COUNTERS). */
  count?: ((counter: MqttCounter, n: number) => void) | undefined;
  logger?: Logger | undefined;
  limits?: Partial<MqttLimits> | undefined;
  now?: (() => number) | undefined;
}

export interface DownlinkOptions {
  qos?: 0 | 1;
  /** MQTT 5 Message Expiry Interval: a queued message older than this is dropped. */
  messageExpirySec?: number;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
  contentType?: string;
  /**
   * A state document (the desired twin): only the newest is worth sending. It replaces older
   * ones still queued or in flight, and is never kept for an absent device nor re-sent on
   * resume: whoever publishes it sends the current state from the `subscribed` hook instead.
   */
  state?: boolean;
}

/** `delivered`: written to the device's connection; `queued`: kept in its session; `dropped`: nobody to receive it. */
export type DownlinkOutcome = 'delivered' | 'queued' | 'dropped';

export interface MqttGatewayStats {
  connections: number;
  devicesConnected: number;
  sessions: number;
  detachedSessions: number;
  counters: Record<MqttCounter, number>;
}

/**
 * Hangar's MQTT endpoint: a device gateway, not a general broker. Each device publishes and
 * subscribes only under its own `devices/{id}/` (DESIGN §5), so nothing is routed between
 * devices: uplinks go to core services, downlinks come from the server (`publishToDevice`).
 * It owns no listener: `handle(stream)` takes any duplex stream (see listeners.ts).
 */
export class MqttGateway implements GatewayCore {
  readonly limits: MqttLimits;
  readonly logger: Logger;
  readonly sessions: MqttSessionStore;
  readonly authenticator: MqttGatewayOptions['authenticator'];
  readonly telemetry: TelemetryIngest;
  readonly presence: MqttGatewayOptions['presence'];
  readonly enrollment: MqttGatewayOptions['enrollment'];
  readonly services: UplinkServices;
  private readonly options: MqttGatewayOptions;
  private readonly connections = new Set<GatewayConnection>();
  /** The connection of each device id (one per device: a new one takes over). */
  private readonly live = new Map<string, GatewayConnection>();
  private readonly liveOff = new Map<GatewayConnection, () => void>();
  private readonly counters: Record<MqttCounter, number>;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly unsubscribe: Unsubscribe[] = [];
  private enrollmentSessions = 0;
  private closed = false;
  readonly now: () => number;

  constructor(options: MqttGatewayOptions) {
    this.options = options;
    this.limits = { ...DEFAULT_MQTT_LIMITS, ...options.limits };
    this.logger = options.logger ?? pino({ level: 'silent' });
    this.now = options.now ?? Date.now;
    this.authenticator = options.authenticator;
    this.telemetry = options.telemetry;
    this.presence = options.presence;
    this.enrollment = options.enrollment;
    this.services = options.services ?? {};
    this.counters = Object.fromEntries(MQTT_COUNTERS.map((c) => [c, 0])) as Record<MqttCounter, number>;
    this.sessions = new MqttSessionStore({ maxQueued: this.limits.maxQueuedPerDevice, now: this.now, onDropped: (n) => this.count('queue_overflow_dropped', n) });
    this.sweepTimer = setInterval(() => this.sweep(), this.limits.sweepIntervalMs);
    this.sweepTimer.unref();
    const bus = options.bus;
    if (bus) {
      // A decommissioned or deleted device keeps no session to come back to.
      this.unsubscribe.push(
        bus.subscribe('device.decommissioned', (e) => this.sessions.discard(e.deviceId)),
        bus.subscribe('device.deleted', (e) => this.sessions.discard(e.deviceId)),
      );
    }
  }

  /** Serves one MQTT connection over `stream` (TCP, TLS, or an in-memory duplex in tests). */
  handle(stream: Duplex, info: { remoteAddress?: string | null | undefined; clientCertificate?: Buffer | undefined } = {}): void {
    if (this.closed) {
      stream.destroy();
      return;
    }
    this.connections.add(new MqttConnection(this, stream, info.remoteAddress ?? null, info.clientCertificate));
  }

  /**
   * Sends `payload` to `devices/{deviceId}/{subtopic}`: now if the device is connected and
   * subscribed, into its persistent session if it is away (QoS 1 only), else nowhere.
   */
  publishToDevice(tenantId: string, deviceId: string, subtopic: string, payload: Uint8Array | string, options: DownlinkOptions = {}): DownlinkOutcome {
    const topic = deviceTopic(deviceId, subtopic);
    if (subtopic === '' || !isValidTopicName(topic)) throw new HangarError('VALIDATION_FAILED', `"${subtopic}" is not a downlink topic (no wildcards, not empty)`);
    const conn = this.live.get(deviceId);
    const session = conn?.session ?? this.sessions.get(deviceId);
    const granted = session && session.tenantId === tenantId ? session.grantedQos(topic) : undefined;
    if (!session || granted === undefined) return this.outcome('dropped');
    const requested = options.qos ?? 1;
    const message: Downlink = {
      topic,
      payload: typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
      qos: requested < granted ? requested : granted,
      expiresAt: options.messageExpirySec !== undefined ? this.now() + options.messageExpirySec * 1000 : null,
      responseTopic: options.responseTopic,
      correlationData: options.correlationData,
      userProperties: options.userProperties,
      contentType: options.contentType,
      state: options.state,
    };
    if (conn?.isOpen) return this.outcome(conn.offer(message));
    // QoS 0 is not kept for an absent device (MQTT 5.0 §4.1 leaves it open): a chatty
    // producer would otherwise push acknowledged-delivery messages out of the bounded queue.
    if (message.qos === 0 || message.state || session.detachedAt === null) return this.outcome('dropped');
    this.sessions.enqueue(session, message);
    return this.outcome('queued');
  }

  /** True when the device is connected here and subscribed to `devices/{id}/{subtopic}`: a downlink there would be sent now. */
  listening(tenantId: string, deviceId: string, subtopic: string): boolean {
    const conn = this.live.get(deviceId);
    return conn?.isOpen === true && conn.session?.tenantId === tenantId && conn.session.grantedQos(deviceTopic(deviceId, subtopic)) !== undefined;
  }

  stats(): MqttGatewayStats {
    return { connections: this.connections.size, devicesConnected: this.live.size, sessions: this.sessions.size, detachedSessions: this.sessions.detachedCount, counters: { ...this.counters } };
  }

  /** Ends every connection (5.0: DISCONNECT 0x8B) and stops the timers. Sessions stay in memory until the process ends. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    for (const off of this.unsubscribe) off();
    const open = [...this.connections];
    for (const conn of open) conn.end('server shutting down', { code: 0x8b, will: false });
    // Give the farewells a moment to leave; sockets are destroyed after closeGraceMs anyway.
    if (open.length > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(100, this.limits.closeGraceMs)));
  }

  // ---- GatewayCore -------------------------------------------------------------------------

  count(counter: MqttCounter, n = 1): void {
    this.counters[counter] += n;
    this.options.count?.(counter, n);
  }

  subscribed(identity: DeviceIdentity, filters: string[], resumed = false): void {
    try {
      this.options.subscribed?.(identity, filters, resumed);
    } catch (err) {
      this.logger.warn({ err, deviceId: identity.deviceId }, 'mqtt subscribed hook failed');
    }
  }

  claim(conn: GatewayConnection): GatewayConnection | undefined {
    const previous = this.live.get(conn.deviceId);
    this.live.set(conn.deviceId, conn);
    return previous === conn ? undefined : previous;
  }

  registerLive(conn: GatewayConnection): void {
    this.liveOff.set(conn, this.options.liveSessions.add(conn));
  }

  forget(conn: GatewayConnection): void {
    this.connections.delete(conn);
    if (conn.identity && this.live.get(conn.identity.deviceId) === conn) this.live.delete(conn.identity.deviceId);
    const off = this.liveOff.get(conn);
    if (off) {
      this.liveOff.delete(conn);
      off();
    }
  }

  admitEnrollment(): boolean {
    if (this.enrollmentSessions >= this.limits.maxEnrollmentSessions) return false;
    this.enrollmentSessions += 1;
    return true;
  }

  releaseEnrollment(): void {
    this.enrollmentSessions -= 1;
  }

  private outcome(o: DownlinkOutcome): DownlinkOutcome {
    if (o === 'queued') this.count('downlinks_queued');
    else if (o === 'dropped') this.count('downlinks_dropped');
    return o;
  }

  private sweep(): void {
    const now = this.now();
    for (const conn of this.connections) conn.tick(now);
    this.sessions.sweep();
  }
}
