import type { Duplex } from 'node:stream';
import { generate, type IConnectPacket, type IDisconnectPacket, type Packet, type Parser } from 'mqtt-packet';
import type { DeviceIdentity } from '../../core/identity/device-authenticator.js';
import type { TelemetryFormat } from '../../core/telemetry/telemetry-ingest.js';
import type { EndOptions, GatewayConnection, GatewayCore } from './gateway-core.js';
import { RC } from './reason-codes.js';
import type { Downlink, MqttSession } from './session-store.js';
import type { SessionMode } from './topic-acl.js';

export type ConnectionPhase = 'connecting' | 'authenticating' | 'open' | 'closed';

/** An inbound QoS 1 PUBLISH waiting for its turn to be acknowledged (see ack-queue.ts). */
export interface AckSlot {
  messageId: number;
  /** A reason code once settled; PENDING while with the core, DROPPED when it is not to be acknowledged. */
  code: number;
  reason: string | undefined;
}

/** Telemetry refused for the device's rate limit, or arrived behind such a message, waiting to go again. */
export interface HeldTelemetry {
  slot: AckSlot | undefined;
  payload: Buffer;
  format: TelemetryFormat;
  /** When the core first refused it for rate; 0 while it has not been refused. */
  limitedAt: number;
}

export interface EnrollmentState {
  groupId: string;
  claimToken: string;
  busy: boolean;
  /** A result the device has not received yet (it had not subscribed when it was ready). */
  result: Buffer | undefined;
}

// Reasons for paused reading, as bits: each must clear before the socket is read again.
export const PAUSE_AUTH = 1;
export const PAUSE_INFLIGHT = 2;
export const PAUSE_DRAIN = 4;
export const PAUSE_RATE = 8;

export const MAX_REASON_STRING = 200;

function destroyStream(stream: Duplex): void {
  stream.destroy();
}

/**
 * The state of one device's MQTT connection and the few primitives every handler uses (send,
 * pause, end). The packet handlers (handlers/), the ack queue, the downlink queue and the
 * telemetry reader are module functions over it, as Aedes' handlers are over its client; the
 * dispatch lives in MqttConnection, which extends this class. Kept apart so that the handlers
 * depend on the state, not on the dispatch that calls them (no import cycle).
 * Fields are read and written by those modules only. Like the stream and parser listeners,
 * their timers are module functions given the connection as argument: an idle connection
 * carries no closures of its own (memory per connection matters at tens of thousands of devices).
 */
export abstract class ConnectionState implements GatewayConnection {
  state: ConnectionPhase = 'connecting';
  version: 4 | 5 = 4;
  readonly parser: Parser;
  readonly createdAt: number;
  lastRx: number;
  connectedAt = 0;
  keepAliveMs = 0;
  mode: SessionMode = 'device';
  identity: DeviceIdentity | undefined;
  session: MqttSession | undefined;
  enrollment: EnrollmentState | undefined;
  presenceSessionId: string | undefined;
  pending: Packet[] | undefined;
  acks: AckSlot[] | undefined;
  /** Uplinks handed to the core and not settled (QoS 0 and 1). */
  processing = 0;
  /** Of those, QoS 1: MQTT 5 Receive Maximum counts these. */
  unackedQos1 = 0;
  aliases: Map<number, string> | undefined;
  will: IConnectPacket['will'] | undefined;
  clientReceiveMaximum = 65535;
  clientMaximumPacketSize = 0;
  problemInformation = true;
  paused = 0;
  /** False while mqtt-packet holds part of a packet: the next bytes are its, not a new packet's. */
  parserIdle = true;
  /**
   * `devices/{id}/telemetry` as bytes, once a device session is open: a PUBLISH to it is
   * recognised by comparing bytes, without mqtt-packet, a topic string or routePublish
   * (the ACL's answer for this one topic is known when the session opens).
   */
  telemetryTopic: Buffer | undefined;
  /** Set (with `retryTimer` pending) while telemetry waits for the device's rate limit; reading is paused meanwhile. */
  held: HeldTelemetry[] | undefined;
  retryTimer: NodeJS.Timeout | undefined;
  /** Set while a closed connection still sends the PUBACKs it owes, then `farewell` (see ack-queue.ts). */
  drain: { farewell: Buffer | undefined; timer: NodeJS.Timeout } | undefined;

  constructor(
    readonly gw: GatewayCore,
    readonly stream: Duplex,
    readonly remoteAddress: string | null,
    readonly clientCertificate: Buffer | undefined,
    parser: Parser,
  ) {
    this.createdAt = gw.now();
    this.lastRx = this.createdAt;
    this.parser = parser;
  }

  // The connection as the gateway and LiveSessions see it (MqttConnection).
  abstract readonly tenantId: string;
  abstract readonly credentialId: string;
  abstract readonly protocol: string;
  abstract readonly isOpen: boolean;
  abstract close(reason: string): void;
  abstract offer(message: Downlink): 'delivered' | 'queued' | 'dropped';
  abstract tick(now: number): void;
  /** Ends the connection once: owed PUBACKs, DISCONNECT (5.0) when a reason is given, the socket, the bookkeeping. */
  abstract end(reason: string, options: EndOptions): void;
  /** The bookkeeping of an ended connection: gateway, session, will, presence. */
  abstract cleanup(reason: string, publishWill: boolean): void;
  /** Hands a packet that came after CONNACK to its handler. */
  abstract dispatch(packet: Packet): void;

  get deviceId(): string {
    return this.identity?.deviceId ?? this.session?.deviceId ?? '';
  }

  /** A method, not a comparison: `state` changes behind awaits and calls that TypeScript cannot see. */
  isClosed(): boolean {
    return this.state === 'closed';
  }

  send(packet: Packet): void {
    if (this.state === 'closed') return;
    this.write(generate(packet, { protocolVersion: this.version }));
  }

  write(bytes: Buffer): void {
    // A device that does not read its acknowledgements is not read either.
    if (!this.stream.write(bytes)) this.pause(PAUSE_DRAIN);
  }

  pause(bit: number): void {
    if (this.paused === 0) this.stream.pause();
    this.paused |= bit;
  }

  resume(bit: number): void {
    if ((this.paused & bit) === 0) return;
    this.paused &= ~bit;
    if (this.paused === 0 && this.state !== 'closed') this.stream.resume();
  }

  protocolError(detail: string): void {
    this.gw.count('protocol_errors');
    this.gw.logger.debug({ detail, deviceId: this.identity?.deviceId }, 'mqtt protocol error');
    this.end(detail, { code: RC.PROTOCOL_ERROR, will: true });
  }

  /** The MQTT 5 DISCONNECT that ends an open connection with `code` ([MQTT-3.14.0-1]: only once CONNACK went out). */
  farewell(reason: string, code: number | undefined): Buffer | undefined {
    if (this.version !== 5 || code === undefined) return undefined;
    const packet: IDisconnectPacket = { cmd: 'disconnect', reasonCode: code };
    if (this.problemInformation) packet.properties = { reasonString: reason.slice(0, MAX_REASON_STRING) };
    return generate(packet, { protocolVersion: 5 });
  }

  closeStream(farewell: Buffer | undefined): void {
    const stream = this.stream;
    if (stream.destroyed) return;
    if (farewell) stream.write(farewell);
    stream.end();
    // Reading on lets the peer's FIN arrive; a peer that never closes is cut off after the grace time.
    stream.resume();
    setTimeout(destroyStream, this.gw.limits.closeGraceMs, stream).unref();
  }
}
