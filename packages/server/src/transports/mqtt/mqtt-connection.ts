import type { Duplex } from 'node:stream';
import {
  generate,
  type IConnackPacket,
  type IConnectPacket,
  type IDisconnectPacket,
  type IPublishPacket,
  type ISubscribePacket,
  type IUnsubscribePacket,
  type Packet,
  type Parser,
  type UserProperties,
} from 'mqtt-packet';
import { ENROLL_USERNAME_PREFIX, enrollResultTopic, isValidDeviceId } from '@hangar/protocol';
import type { DeviceIdentity } from '../../core/identity/device-authenticator.js';
import { HangarError } from '../../errors.js';
import type { LiveSession } from '../live-sessions.js';
import { enrollErrorBody, enrollSuccessBody, parseEnrollRequest } from './enrollment-messages.js';
import type { GatewayCore, UplinkMeta } from './gateway-core.js';
import { connackCode, pubackCodeFor, RC, V3_CONNACK, V3_SUBACK_FAILURE, type ConnectRefusal } from './reason-codes.js';
import { createPacketParser } from './packet-parser.js';
import { MqttSession, type Downlink } from './session-store.js';
import { checkSubscription, jsonTelemetryTopic, MAX_TOPIC_BYTES, routePublish, type SessionMode } from './topic-acl.js';
import type { TelemetryFormat } from '../../core/telemetry/telemetry-ingest.js';

type State = 'connecting' | 'authenticating' | 'open' | 'closed';

/** An inbound QoS 1 PUBLISH waiting for its turn to be acknowledged; `code` PENDING while in work. */
interface AckSlot {
  messageId: number;
  code: number;
  reason: string | undefined;
}

/** Telemetry refused for the device's rate limit, or arrived behind such a message, waiting to go again. */
interface HeldTelemetry {
  slot: AckSlot | undefined;
  payload: Buffer;
  format: TelemetryFormat;
  /** When the core first refused it for rate; 0 while it has not been refused. */
  limitedAt: number;
}

interface EnrollmentState {
  groupId: string;
  claimToken: string;
  busy: boolean;
  /** A result the device has not received yet (it had not subscribed when it was ready). */
  result: Buffer | undefined;
}

type AuthOutcome =
  | { ok: true; identity: DeviceIdentity; mode: 'device' }
  | { ok: true; mode: 'enrollment'; deviceId: string; enrollment: EnrollmentState }
  | { ok: false; refusal: ConnectRefusal; detail: string };

interface EndOptions {
  /** MQTT 5 DISCONNECT reason sent first (only once CONNACK went out, [MQTT-3.14.0-1]). */
  code?: number;
  /** Publish the will: any end but a normal DISCONNECT or an administrative close. */
  will: boolean;
}

// Reasons for paused reading, as bits: each must clear before the socket is read again.
const PAUSE_AUTH = 1;
const PAUSE_INFLIGHT = 2;
const PAUSE_DRAIN = 4;
const PAUSE_RATE = 8;

const MAX_REASON_STRING = 200;

/** AckSlot codes besides reason codes: still with the core; never to be acknowledged (not stored, the connection closing). */
const PENDING = -1;
const DROPPED = -2;

/**
 * Listeners are module functions that find their connection through a symbol on the emitter,
 * so an idle connection carries no closures of its own (memory per connection matters at
 * tens of thousands of devices).
 */
const CONN = Symbol('mqttConnection');
type Tagged = { [CONN]?: MqttConnection };

function onStreamData(this: Duplex & Tagged, chunk: Buffer): void {
  this[CONN]?.onData(chunk);
}
function onStreamDrain(this: Duplex & Tagged): void {
  this[CONN]?.onDrain();
}
function onStreamClose(this: Duplex & Tagged): void {
  this[CONN]?.end('connection closed', { will: true });
}
function onStreamError(this: Duplex & Tagged, err: Error): void {
  this[CONN]?.onStreamError(err);
}
function onParserPacket(this: Parser & Tagged, packet: Packet): void {
  this[CONN]?.onPacket(packet);
}
function onParserError(this: Parser & Tagged, err: Error): void {
  this[CONN]?.onParseError(err);
}
function destroyStream(stream: Duplex): void {
  stream.destroy();
}
function retryHeldTelemetry(conn: MqttConnection): void {
  conn.retryHeld();
}
function ackDrainOver(conn: MqttConnection): void {
  conn.finishDrain();
}

function uplinkMeta(qos: 0 | 1, p: { contentType?: string; userProperties?: UserProperties; responseTopic?: string; correlationData?: Buffer } | undefined): UplinkMeta {
  const meta: UplinkMeta = { qos };
  if (p?.contentType !== undefined) meta.contentType = p.contentType;
  if (p?.userProperties !== undefined) meta.userProperties = p.userProperties;
  if (p?.responseTopic !== undefined) meta.responseTopic = p.responseTopic;
  if (p?.correlationData !== undefined) meta.correlationData = p.correlationData;
  return meta;
}

/**
 * One device's MQTT connection: a state machine over one parser. It authenticates, enforces
 * the topic ACL, hands uplinks to the core and acknowledges them in order once the core has
 * them, and delivers the session's downlinks. It implements LiveSession so that revocation
 * and decommissioning close it.
 */
export class MqttConnection implements LiveSession {
  private state: State = 'connecting';
  private version: 4 | 5 = 4;
  private readonly parser: Parser & Tagged;
  private readonly createdAt: number;
  private lastRx: number;
  private connectedAt = 0;
  private keepAliveMs = 0;
  private mode: SessionMode = 'device';
  identity: DeviceIdentity | undefined;
  session: MqttSession | undefined;
  private enrollment: EnrollmentState | undefined;
  private presenceSessionId: string | undefined;
  private pending: Packet[] | undefined;
  private acks: AckSlot[] | undefined;
  /** Uplinks handed to the core and not settled (QoS 0 and 1). */
  private processing = 0;
  /** Of those, QoS 1: MQTT 5 Receive Maximum counts these. */
  private unackedQos1 = 0;
  private aliases: Map<number, string> | undefined;
  private will: IConnectPacket['will'] | undefined;
  private clientReceiveMaximum = 65535;
  private clientMaximumPacketSize = 0;
  private problemInformation = true;
  private paused = 0;
  /** False while mqtt-packet holds part of a packet: the next bytes are its, not a new packet's. */
  private parserIdle = true;
  /**
   * `devices/{id}/telemetry` as bytes, once a device session is open: a PUBLISH to it is
   * recognised by comparing bytes, without mqtt-packet, a topic string or routePublish
   * (the ACL's answer for this one topic is known when the session opens).
   */
  private telemetryTopic: Buffer | undefined;
  /** Set (with `retryTimer` pending) while telemetry waits for the device's rate limit; reading is paused meanwhile. */
  private held: HeldTelemetry[] | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Set while a closed connection still sends the PUBACKs it owes, then `farewell` (see end). */
  private drain: { farewell: Buffer | undefined; timer: NodeJS.Timeout } | undefined;

  constructor(
    private readonly gw: GatewayCore,
    private readonly stream: Duplex & Tagged,
    private readonly remoteAddress: string | null,
    private readonly clientCertificate: Buffer | undefined,
  ) {
    this.createdAt = gw.now();
    this.lastRx = this.createdAt;
    this.parser = createPacketParser() as Parser & Tagged;
    this.parser[CONN] = this;
    this.parser.on('packet', onParserPacket);
    this.parser.on('error', onParserError);
    stream[CONN] = this;
    stream.on('data', onStreamData);
    stream.on('drain', onStreamDrain);
    stream.on('close', onStreamClose);
    stream.on('error', onStreamError);
  }

  // ---- LiveSession -------------------------------------------------------------------------

  get tenantId(): string {
    return this.identity?.tenantId ?? '';
  }
  get deviceId(): string {
    return this.identity?.deviceId ?? this.session?.deviceId ?? '';
  }
  get credentialId(): string {
    return this.identity?.credentialId ?? '';
  }
  get protocol(): string {
    return 'mqtt';
  }

  /** Called by LiveSessions when the credential is revoked or the device decommissioned/deleted. */
  close(reason: string): void {
    this.end(reason, { code: reason === 'credential revoked' ? RC.NOT_AUTHORIZED : RC.ADMINISTRATIVE_ACTION, will: false });
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** A method, not a comparison: `state` changes behind awaits and calls that TypeScript cannot see. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  // ---- input -------------------------------------------------------------------------------

  onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.lastRx = this.gw.now();
    if (this.telemetryTopic !== undefined && this.parserIdle && this.state === 'open') {
      const taken = this.takeTelemetry(chunk);
      if (this.isClosed()) return;
      if (taken === chunk.length) {
        this.gw.presence.seen(this.identity!);
        return;
      }
      if (taken > 0) chunk = chunk.subarray(taken);
    }
    let buffered: number;
    try {
      buffered = this.parser.parse(chunk);
    } catch (err) {
      // The parser throws on some truncated fields instead of emitting an error.
      this.onParseError(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (this.isClosed()) return;
    // Refuse an oversized packet from its header, before its body is buffered.
    const partial = (this.parser as unknown as { packet: { length: number; cmd: string | null } }).packet;
    // A fresh packet has no command yet: nothing of the next packet has been read.
    this.parserIdle = buffered === 0 && partial.cmd === null;
    if (partial.length > this.gw.limits.maxPacketSize) {
      this.tooLarge(partial.length);
      return;
    }
    if (this.state === 'open' && this.identity) this.gw.presence.seen(this.identity);
  }

  onPacket(packet: Packet): void {
    if (this.state === 'closed') return;
    if ((packet.length ?? 0) > this.gw.limits.maxPacketSize) {
      this.tooLarge(packet.length ?? 0);
      return;
    }
    switch (this.state) {
      case 'connecting':
        if (packet.cmd !== 'connect') {
          // [MQTT-3.1.0-1] the first packet must be CONNECT.
          this.gw.count('protocol_errors');
          this.end(`first packet was ${packet.cmd}, not CONNECT`, { will: false });
          return;
        }
        void this.onConnect(packet).catch((err: unknown) => {
          this.gw.logger.error({ err, remoteAddress: this.remoteAddress }, 'mqtt connect failed');
          this.end('internal error during CONNECT', { will: false });
        });
        return;
      case 'authenticating':
        // [MQTT-3.1.4-5] packets may follow CONNECT before CONNACK: kept, in order, bounded.
        if ((this.pending ??= []).length >= this.gw.limits.maxPacketsBeforeConnack) {
          this.end('too many packets before CONNACK', { will: false });
          return;
        }
        this.pending.push(packet);
        return;
      case 'open':
        this.dispatch(packet);
        return;
    }
  }

  onParseError(err: Error): void {
    if (this.state === 'closed') return;
    if (this.state === 'connecting' && err.message === 'Invalid protocol version') {
      // [MQTT-3.1.2-2] answered in the 3.1.1 format, the one every client can read.
      this.gw.count('connections_refused');
      this.state = 'closed';
      this.closeStream(generate({ cmd: 'connack', returnCode: V3_CONNACK.UNACCEPTABLE_PROTOCOL_VERSION, sessionPresent: false }));
      this.cleanup('unsupported protocol version', false);
      return;
    }
    this.gw.count('malformed_packets');
    this.gw.logger.debug({ err: err.message, remoteAddress: this.remoteAddress, deviceId: this.identity?.deviceId }, 'mqtt malformed packet');
    this.end(`malformed packet: ${err.message}`, { code: RC.MALFORMED_PACKET, will: true });
  }

  onDrain(): void {
    this.resume(PAUSE_DRAIN);
  }

  onStreamError(err: Error): void {
    this.gw.logger.debug({ err: err.message, remoteAddress: this.remoteAddress }, 'mqtt socket error');
    this.end('connection lost', { will: true });
  }

  /** Called by the gateway's sweep: CONNECT deadline, keep-alive, enrollment time limit. */
  tick(now: number): void {
    if (this.state === 'connecting' || this.state === 'authenticating') {
      if (now - this.createdAt > this.gw.limits.connectTimeoutMs) {
        this.gw.count('connect_timeouts');
        this.end('no CONNECT in time', { will: false });
      }
      return;
    }
    if (this.state !== 'open') return;
    // [MQTT-3.1.2-24] one and a half keep-alive periods without a packet.
    if (this.keepAliveMs > 0 && now - this.lastRx > this.keepAliveMs * 1.5) {
      this.gw.count('keepalive_timeouts');
      this.end('keep-alive timeout', { code: RC.KEEP_ALIVE_TIMEOUT, will: true });
      return;
    }
    if (this.mode === 'enrollment' && now - this.connectedAt > this.gw.limits.enrollmentSessionMs) {
      this.end('enrollment session time is over', { code: RC.MAXIMUM_CONNECT_TIME, will: false });
    }
  }

  // ---- CONNECT -----------------------------------------------------------------------------

  private async onConnect(p: IConnectPacket): Promise<void> {
    const gw = this.gw;
    this.state = 'authenticating';
    this.pause(PAUSE_AUTH);
    const version = p.protocolVersion;
    if (version !== 4 && version !== 5) {
      // MQTT 3.1 (level 3) parses but is not offered.
      gw.count('connections_refused');
      this.state = 'closed';
      this.closeStream(generate({ cmd: 'connack', returnCode: V3_CONNACK.UNACCEPTABLE_PROTOCOL_VERSION, sessionPresent: false }));
      this.cleanup('unsupported protocol version', false);
      return;
    }
    this.version = version;
    // The parser keeps the CONNECT (with the password) as its settings; keep only the version.
    (this.parser as unknown as { settings: unknown }).settings = { protocolVersion: version };
    const props = p.properties;
    if (version === 5) {
      if (props?.authenticationMethod !== undefined) return this.refuse('bad_auth_method', 'enhanced authentication is not supported: use a client certificate or username and token');
      if (props?.receiveMaximum) this.clientReceiveMaximum = props.receiveMaximum;
      if (props?.maximumPacketSize) this.clientMaximumPacketSize = props.maximumPacketSize;
      if (props?.requestProblemInformation === false) this.problemInformation = false;
    }

    let auth: AuthOutcome;
    try {
      auth = await this.authenticate(p);
    } catch (err) {
      gw.logger.error({ err, remoteAddress: this.remoteAddress }, 'mqtt authentication failed');
      return this.refuse('unavailable', 'authentication is unavailable; try again later');
    }
    if (this.isClosed()) return;
    if (!auth.ok) return this.refuse(auth.refusal, auth.detail);

    const deviceId = auth.mode === 'device' ? auth.identity.deviceId : auth.deviceId;
    this.mode = auth.mode;
    if (auth.mode === 'enrollment') this.enrollment = auth.enrollment;
    let assignClientId = false;
    if (p.clientId === '') {
      // [MQTT-3.1.3-8] 3.1.1: an empty client id only with a clean session.
      if (auth.mode === 'enrollment') return this.refuse('client_id', 'an enrollment session needs the wanted device id as client id');
      if (version === 4 && !p.clean) return this.refuse('client_id', 'an empty client id needs clean session = 1 (MQTT 3.1.1 §3.1.3.1)');
      assignClientId = version === 5;
    } else if (p.clientId !== deviceId) {
      return this.refuse('client_id', `the client id must be the device id "${deviceId}"`);
    }

    if (p.will) {
      if (p.will.qos === 2 && version === 5) return this.refuse('qos', 'QoS 2 is not supported (Maximum QoS is 1)');
      if (p.will.retain && version === 5) return this.refuse('retain', 'retained messages are not supported');
      const route = routePublish(deviceId, p.will.topic, auth.mode, p.will.properties?.contentType);
      if (route.kind === 'refused' || route.kind === 'enroll') return this.refuse('not_authorized', `the will topic "${p.will.topic}" is not one this device may publish to`);
      this.will = p.will;
    }

    const limits = gw.limits;
    let keepAliveSec = p.keepalive ?? 0;
    let serverKeepAlive: number | undefined;
    if (keepAliveSec === 0 || keepAliveSec > limits.maxKeepAliveSec) {
      // A device that never pings would hold its connection for ever after a silent network loss.
      keepAliveSec = limits.maxKeepAliveSec;
      if (version === 5) serverKeepAlive = keepAliveSec;
    }
    this.keepAliveMs = keepAliveSec * 1000;

    let sessionPresent = false;
    let grantedExpiry: number | undefined;
    if (auth.mode === 'enrollment') {
      this.session = new MqttSession('', deviceId, 0);
      if (version === 5 && (props?.sessionExpiryInterval ?? 0) > 0) grantedExpiry = 0;
    } else {
      const identity = auth.identity;
      let sid: string;
      try {
        sid = await gw.presence.connected(identity, 'mqtt', this.remoteAddress);
      } catch (err) {
        gw.logger.error({ err, deviceId }, 'mqtt presence failed');
        return this.refuse('unavailable', 'the server cannot record the connection; try again later');
      }
      if (this.isClosed()) {
        // The device left while presence was recorded.
        gw.presence.disconnected(identity, sid, 'connection closed before CONNACK').catch((err: unknown) => gw.logger.warn({ err, deviceId }, 'mqtt presence failed'));
        return;
      }
      this.identity = identity;
      this.presenceSessionId = sid;
      // [MQTT-3.1.4-3] a second connection of the same client takes over from the first.
      const previous = gw.claim(this);
      if (previous) {
        gw.count('takeovers');
        previous.end('session taken over', { code: RC.SESSION_TAKEN_OVER, will: true });
      }
      const requested = version === 5 ? (props?.sessionExpiryInterval ?? 0) : p.clean ? 0 : limits.maxSessionExpirySec;
      const expirySec = Math.min(requested, limits.maxSessionExpirySec);
      if (version === 5 && expirySec !== requested) grantedExpiry = expirySec;
      const opened = gw.sessions.open(identity.tenantId, deviceId, p.clean !== false, expirySec * 1000);
      this.session = opened.session;
      sessionPresent = opened.present;
      gw.registerLive(this);
    }

    const connack: IConnackPacket = { cmd: 'connack', sessionPresent };
    if (version === 5) {
      connack.reasonCode = RC.SUCCESS;
      connack.properties = {
        maximumQoS: 1,
        retainAvailable: false,
        receiveMaximum: limits.receiveMaximum,
        maximumPacketSize: limits.maxPacketSize,
        topicAliasMaximum: limits.topicAliasMaximum,
        wildcardSubscriptionAvailable: true,
        subscriptionIdentifiersAvailable: false,
        sharedSubscriptionAvailable: false,
        ...(assignClientId ? { assignedClientIdentifier: deviceId } : {}),
        ...(grantedExpiry !== undefined ? { sessionExpiryInterval: grantedExpiry } : {}),
        ...(serverKeepAlive !== undefined ? { serverKeepAlive } : {}),
      };
    } else {
      connack.returnCode = V3_CONNACK.ACCEPTED;
    }
    this.state = 'open';
    if (this.mode === 'device') this.telemetryTopic = Buffer.from(jsonTelemetryTopic(deviceId));
    this.connectedAt = gw.now();
    this.lastRx = this.connectedAt;
    gw.count('connections_accepted');
    this.send(connack);
    gw.logger.debug({ deviceId, version, mode: this.mode, sessionPresent, remoteAddress: this.remoteAddress }, 'mqtt connected');

    const pending = this.pending;
    this.pending = undefined;
    for (const packet of pending ?? []) {
      if (this.state !== 'open') return;
      this.dispatch(packet);
    }
    if (sessionPresent) this.resendInflight();
    this.pump();
    this.resume(PAUSE_AUTH);
  }

  private async authenticate(p: IConnectPacket): Promise<AuthOutcome> {
    const source = this.remoteAddress ?? 'unknown';
    const username = p.username;
    if (username !== undefined && username.startsWith(ENROLL_USERNAME_PREFIX)) {
      if (!this.gw.enrollment) return { ok: false, refusal: 'not_authorized', detail: 'MQTT enrollment is not enabled on this server' };
      const groupId = username.slice(ENROLL_USERNAME_PREFIX.length);
      if (groupId === '' || p.password === undefined) return { ok: false, refusal: 'bad_credentials', detail: 'enrollment needs username "$enroll/{enrollmentGroupId}" and the claim token as password' };
      if (!isValidDeviceId(p.clientId)) return { ok: false, refusal: 'client_id', detail: 'the client id must be the wanted device id (letters, digits, . _ : -, at most 128)' };
      if (!this.gw.admitEnrollment()) return { ok: false, refusal: 'rate_limited', detail: 'too many enrollment sessions; try again later' };
      return { ok: true, mode: 'enrollment', deviceId: p.clientId, enrollment: { groupId, claimToken: p.password.toString('utf8'), busy: false, result: undefined } };
    }
    let result;
    if (username !== undefined && p.password !== undefined) {
      result = await this.gw.authenticator.authenticateToken(username, p.password.toString('utf8'), source);
    } else if (this.clientCertificate) {
      result = await this.gw.authenticator.authenticateCertificate(this.clientCertificate, source);
    } else {
      return { ok: false, refusal: 'bad_credentials', detail: 'no credentials: present a client certificate, or username = device id and password = token' };
    }
    if (!result.ok) return { ok: false, refusal: result.reason, detail: result.detail };
    return { ok: true, mode: 'device', identity: result.identity };
  }

  /** Refuses the CONNECT; credential failures answer late, to slow down guessing. */
  private refuse(refusal: ConnectRefusal, detail: string): void {
    if (this.state === 'closed') return;
    const gw = this.gw;
    gw.count('connections_refused');
    gw.logger.debug({ refusal, detail, remoteAddress: this.remoteAddress }, 'mqtt connection refused');
    const packet: IConnackPacket = { cmd: 'connack', sessionPresent: false };
    if (this.version === 5) {
      packet.reasonCode = connackCode(refusal, 5);
      if (this.problemInformation) packet.properties = { reasonString: detail.slice(0, MAX_REASON_STRING) };
    } else {
      packet.returnCode = connackCode(refusal, 4);
    }
    const bytes = generate(packet, { protocolVersion: this.version });
    this.state = 'closed';
    this.cleanup(`refused: ${refusal}`, false);
    const slow = refusal === 'bad_credentials' || refusal === 'not_authorized' || refusal === 'rate_limited';
    if (slow && gw.limits.refusalDelayMs > 0) {
      setTimeout(() => this.closeStream(bytes), gw.limits.refusalDelayMs).unref();
    } else {
      this.closeStream(bytes);
    }
  }

  // ---- packets after CONNACK ---------------------------------------------------------------

  private dispatch(packet: Packet): void {
    switch (packet.cmd) {
      case 'publish':
        return this.onPublish(packet);
      case 'puback':
        return this.onPuback(packet.messageId);
      case 'subscribe':
        return this.onSubscribe(packet);
      case 'unsubscribe':
        return this.onUnsubscribe(packet);
      case 'pingreq':
        this.send({ cmd: 'pingresp' });
        return;
      case 'disconnect':
        return this.onDisconnect(packet);
      case 'connect':
        // [MQTT-3.1.0-2] a second CONNECT is a protocol violation.
        return this.protocolError('a second CONNECT');
      default:
        // PUBREC/PUBREL/PUBCOMP (no QoS 2 here), AUTH, and server-to-client packets.
        return this.protocolError(`unexpected ${packet.cmd}`);
    }
  }

  private onPublish(p: IPublishPacket): void {
    const gw = this.gw;
    if (p.qos === 2) {
      // Maximum QoS 1 is announced in CONNACK; 3.1.1 has no refusal but closing [MQTT-3.3.5-2 analogue].
      gw.count('qos2_refused');
      this.end('QoS 2 publish refused', { code: RC.QOS_NOT_SUPPORTED, will: true });
      return;
    }
    if (p.retain && this.version === 5) {
      // [MQTT-3.2.2-14] Retain Available is 0.
      this.end('retained publish refused', { code: RC.RETAIN_NOT_SUPPORTED, will: true });
      return;
    }
    let topic = p.topic;
    const alias = p.properties?.topicAlias;
    if (this.version === 5 && alias !== undefined) {
      // [MQTT-3.3.2-9] an alias is 1..Topic Alias Maximum.
      if (alias === 0 || alias > gw.limits.topicAliasMaximum) {
        this.end('topic alias out of range', { code: RC.TOPIC_ALIAS_INVALID, will: true });
        return;
      }
      if (topic === '') {
        const known = this.aliases?.get(alias);
        if (known === undefined) return this.protocolError('topic alias used before it was set');
        topic = known;
      } else if (Buffer.byteLength(topic) <= MAX_TOPIC_BYTES) {
        (this.aliases ??= new Map()).set(alias, topic);
      } else {
        // Refused below as an invalid topic; the alias is not kept (a later use of it is 0x82).
        this.aliases?.delete(alias);
      }
    }
    // MQTT 5.0 §3.3.4: an empty topic without an alias is a protocol error; 3.1.1 [MQTT-4.7.3-1] forbids it.
    if (topic === '') return this.protocolError('an empty topic name without a topic alias');
    // [MQTT-2.3.1-1] a QoS 1 PUBLISH carries a non-zero packet id (without one it could never be acknowledged).
    if (p.qos === 1 && !p.messageId) return this.protocolError('QoS 1 PUBLISH without a packet id');
    if (p.qos === 1 && this.version === 5 && this.unackedQos1 >= gw.limits.receiveMaximum) {
      // [MQTT-3.3.4-9] more unacknowledged QoS 1 PUBLISHes than the Receive Maximum we announced.
      this.end('receive maximum exceeded', { code: RC.RECEIVE_MAXIMUM_EXCEEDED, will: true });
      return;
    }
    const deviceId = this.deviceId;
    const route = routePublish(deviceId, topic, this.mode, p.properties?.contentType);
    if (route.kind === 'refused') {
      gw.count('publish_refused');
      gw.logger.debug({ deviceId, topic, why: route.why }, 'mqtt publish refused');
      // 3.1.1 has no negative PUBACK: closing is the only refusal a device notices.
      if (this.version === 4) return this.end(`publish to "${topic}" refused`, { will: false });
      if (p.qos === 1) {
        const code = route.why === 'invalid' ? RC.TOPIC_NAME_INVALID : RC.NOT_AUTHORIZED;
        (this.acks ??= []).push({ messageId: p.messageId!, code, reason: `publishing to "${topic}" is not allowed (DESIGN §5: devices/${deviceId}/… uplink topics only)` });
        this.flushAcks();
      }
      return;
    }
    const payload = typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload;
    let work: Promise<unknown>;
    if (route.kind === 'enroll') {
      work = this.enroll(payload);
    } else if (route.kind === 'telemetry') {
      gw.count('telemetry_messages');
      this.ingest(p.qos === 1 ? p.messageId! : 0, payload, route.format);
      return;
    } else {
      if (!gw.uplinksServed) return this.unserved(p.qos === 1 ? p.messageId! : 0, topic);
      gw.count('uplink_messages');
      work = gw.uplink(this.identity!, route.subtopic, payload, uplinkMeta(1 === p.qos ? 1 : 0, p.properties));
    }
    this.track(this.begin(p.qos === 1 ? p.messageId! : 0), work);
  }

  /**
   * An uplink topic nothing handles (no `uplink` hook: `hangar serve` has none for twin,
   * command results, OTA status and logs yet). An acknowledgement would tell the device its
   * reported state was stored, so QoS 1 is refused — 5.0 PUBACK 0x83 with the reason, 3.1.1
   * by closing, its only refusal; QoS 0 promises nothing and is dropped. Counted either way.
   */
  private unserved(messageId: number, topic: string): void {
    this.gw.count('uplinks_unserved');
    this.gw.logger.debug({ deviceId: this.deviceId, topic }, 'mqtt uplink to a topic not served');
    if (messageId === 0) return;
    if (this.version === 4) return this.end(`publish to "${topic}" refused: not served yet`, { will: false });
    (this.acks ??= []).push({ messageId, code: RC.IMPLEMENTATION_SPECIFIC_ERROR, reason: `"${topic}" is not served by this server yet: the message was not stored` });
    this.flushAcks();
  }

  /**
   * The hot path, without mqtt-packet: takes the complete PUBLISH packets to this device's
   * JSON telemetry topic at the start of `chunk` (QoS 0 or 1, no retain, no MQTT 5
   * properties) and answers how many bytes they took. Anything else — another packet or topic,
   * a partial or oversized packet, QoS 2, a zero packet id, properties, a full Receive Maximum
   * — stops it, and mqtt-packet and onPublish read the rest with all their checks.
   */
  private takeTelemetry(chunk: Buffer): number {
    const topic = this.telemetryTopic!;
    const topicLength = topic.length;
    const end = chunk.length;
    const maxPacketSize = this.gw.limits.maxPacketSize;
    let at = 0;
    let taken = 0;
    while (at < end && this.state === 'open') {
      const first = chunk[at]!;
      // PUBLISH (type 3) with DUP ignored, QoS 0 or 1, RETAIN 0 [MQTT-2.2.2, 3.3.1].
      if ((first & 0xf0) !== 0x30 || (first & 0x05) !== 0) break;
      const qos = (first >> 1) & 1;
      // Remaining Length: a Variable Byte Integer of at most 4 bytes [MQTT-1.5.5].
      let length = 0;
      let multiplier = 1;
      let i = at + 1;
      let complete = false;
      while (i < end && i < at + 5) {
        const byte = chunk[i++]!;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      const packetEnd = i + length;
      if (!complete || packetEnd > end || length > maxPacketSize) break;
      // Topic Name: a 2-byte length and this device's telemetry topic, byte for byte.
      if (length < 2 + topicLength || ((chunk[i]! << 8) | chunk[i + 1]!) !== topicLength) break;
      if (topic.compare(chunk, i + 2, i + 2 + topicLength) !== 0) break;
      let p = i + 2 + topicLength;
      let messageId = 0;
      if (qos === 1) {
        if (p + 2 > packetEnd) break;
        messageId = (chunk[p]! << 8) | chunk[p + 1]!;
        // [MQTT-2.3.1-1] a QoS 1 PUBLISH has a non-zero packet id.
        if (messageId === 0) break;
        p += 2;
        if (this.version === 5 && this.unackedQos1 >= this.gw.limits.receiveMaximum) break;
      }
      if (this.version === 5) {
        // Property Length 0 only; properties (topic alias, content type…) take the general path.
        if (p >= packetEnd || chunk[p] !== 0) break;
        p += 1;
      }
      at = packetEnd;
      taken += 1;
      this.ingest(messageId, chunk.subarray(p, packetEnd), 'json');
    }
    // One counter update per read (a metrics call per message is measurable at this rate).
    if (taken > 0) this.gw.count('telemetry_messages', taken);
    return at;
  }

  /** Telemetry to the core; `messageId` 0 for QoS 0 (nothing to acknowledge). */
  private ingest(messageId: number, payload: Buffer, format: TelemetryFormat): void {
    const slot = this.begin(messageId);
    // Behind a message waiting for the rate limit: readings are stored in the order they came.
    if (this.held) this.held.push({ slot, payload, format, limitedAt: 0 });
    else this.submitTelemetry(slot, payload, format, 0);
  }

  private submitTelemetry(slot: AckSlot | undefined, payload: Buffer, format: TelemetryFormat, limitedAt: number): void {
    const done = (err: unknown): void => {
      if (err !== undefined && this.holdForRate(slot, payload, format, limitedAt, err)) return;
      this.settle(slot, err);
    };
    const telemetry = this.gw.telemetry;
    if (telemetry.submit) telemetry.submit(this.identity!, payload, format, done);
    else telemetry.ingest(this.identity!, payload, format).then(() => done(undefined), (err: unknown) => done(err ?? new Error('telemetry ingest failed')));
  }

  /**
   * A rate-limit refusal is backpressure, not a verdict: the socket is not read until the
   * device's bucket has refilled, then the same message goes again. Refusing it would close a
   * 3.1.1 connection, and a device replaying a backlog after an outage would reconnect and be
   * closed again and again (presence written and events sent each time). Its PUBACK keeps its
   * place and still leaves only once the readings are durable. Only a message that cannot get
   * through within `rateLimitMaxWaitMs` of its first refusal is refused (returns false).
   */
  private holdForRate(slot: AckSlot | undefined, payload: Buffer, format: TelemetryFormat, limitedAt: number, err: unknown): boolean {
    if (!(err instanceof HangarError) || err.code !== 'RATE_LIMITED' || this.state !== 'open') return false;
    const retryAfterMs = err.extra.retryAfterMs;
    if (typeof retryAfterMs !== 'number' || !(retryAfterMs >= 0)) return false;
    const now = this.gw.now();
    const since = limitedAt === 0 ? now : limitedAt;
    if (now + retryAfterMs - since > this.gw.limits.rateLimitMaxWaitMs) return false;
    this.gw.count('telemetry_throttled');
    const entry: HeldTelemetry = { slot, payload, format, limitedAt: since };
    if (this.held) {
      this.held.push(entry);
      return true;
    }
    this.held = [entry];
    this.pause(PAUSE_RATE);
    this.retryTimer = setTimeout(retryHeldTelemetry, Math.max(1, retryAfterMs), this);
    this.retryTimer.unref();
    return true;
  }

  /** The rate limit's wait is over: held telemetry goes again, in order, until the core refuses one again. */
  retryHeld(): void {
    this.retryTimer = undefined;
    const held = this.held;
    this.held = undefined;
    if (!held || this.state !== 'open') return;
    for (let i = 0; i < held.length; i += 1) {
      // A refusal of another kind may have ended a 3.1.1 connection.
      if (this.isClosed()) return;
      // Set again by submitTelemetry when the core refused at once (TypeScript cannot see that).
      const again = this.held as HeldTelemetry[] | undefined;
      if (again) {
        // The rest wait behind it, without a refusal each.
        for (let j = i; j < held.length; j += 1) again.push(held[j]!);
        return;
      }
      const h = held[i]!;
      this.submitTelemetry(h.slot, h.payload, h.format, h.limitedAt);
    }
    if ((this.held as HeldTelemetry[] | undefined) === undefined) this.resume(PAUSE_RATE);
  }

  /** Counts an uplink as in work (and, for QoS 1, its PUBACK as owed, in arrival order). */
  private begin(messageId: number): AckSlot | undefined {
    this.processing += 1;
    let slot: AckSlot | undefined;
    if (messageId !== 0) {
      this.unackedQos1 += 1;
      slot = { messageId, code: PENDING, reason: undefined };
      (this.acks ??= []).push(slot);
    }
    // Backpressure: no more reading while this many uplinks are with the core.
    if (this.processing >= this.gw.limits.maxUplinksInWork) this.pause(PAUSE_INFLIGHT);
    return slot;
  }

  private track(slot: AckSlot | undefined, work: Promise<unknown>): void {
    work.then(
      () => this.settle(slot, undefined),
      (err: unknown) => this.settle(slot, err ?? new Error('uplink failed')),
    );
  }

  /** An uplink is done: `err` undefined when it was handled (durably, for telemetry). */
  private settle(slot: AckSlot | undefined, err: unknown): void {
    // While the connection closes, a rate-limited message is not held again: it was not stored, so it gets no PUBACK and the device sends it again.
    const code = err === undefined ? RC.SUCCESS : this.drain && err instanceof HangarError && err.code === 'RATE_LIMITED' ? DROPPED : pubackCodeFor(err);
    this.processing -= 1;
    if (slot) this.unackedQos1 -= 1;
    if (this.state === 'closed' && this.drain === undefined) return;
    if (code !== RC.SUCCESS && code !== DROPPED) {
      this.gw.count('uplinks_refused');
      if (code === RC.UNSPECIFIED) this.gw.logger.warn({ err, deviceId: this.deviceId }, 'mqtt uplink failed');
      else this.gw.logger.debug({ err: err instanceof Error ? err.message : err, deviceId: this.deviceId }, 'mqtt uplink refused');
    }
    if (slot) {
      slot.code = code;
      slot.reason = code === RC.SUCCESS || code === DROPPED ? undefined : code === RC.UNSPECIFIED ? 'internal error' : err instanceof Error ? err.message : String(err);
      this.flushAcks();
    }
    if (this.processing <= this.gw.limits.maxUplinksInWork / 2) this.resume(PAUSE_INFLIGHT);
  }

  /**
   * PUBACKs leave in the order their PUBLISHes came [MQTT-4.6.0-2], whatever order the core
   * finished in — also while the connection closes (see end), so that no stored message goes
   * unacknowledged and is sent, and stored, again.
   */
  private flushAcks(): void {
    const acks = this.acks;
    if (!acks || acks.length === 0 || acks[0]!.code === PENDING || (this.state !== 'open' && this.drain === undefined)) return;
    // The hot path: when only successes are ready, they leave as one write. A success PUBACK is
    // the same 4 bytes in 3.1.1 and 5.0 (MQTT 5.0 §3.4.2.1 lets the reason code go when it is 0
    // and there are no properties).
    let ready = 0;
    while (ready < acks.length && acks[ready]!.code === RC.SUCCESS) ready += 1;
    if (ready === acks.length || acks[ready]!.code === PENDING) {
      const bytes = Buffer.allocUnsafe(4 * ready);
      for (let i = 0; i < ready; i += 1) {
        const id = acks[i]!.messageId;
        bytes[4 * i] = 0x40;
        bytes[4 * i + 1] = 0x02;
        bytes[4 * i + 2] = id >> 8;
        bytes[4 * i + 3] = id & 0xff;
      }
      if (ready === 1) acks.shift();
      else acks.splice(0, ready);
      this.write(bytes);
      if (this.drain && acks.length === 0) this.finishDrain();
      return;
    }
    this.stream.cork();
    while (acks.length > 0 && acks[0]!.code !== PENDING && (this.state === 'open' || this.drain)) {
      const slot = acks.shift()!;
      if (slot.code === RC.SUCCESS) {
        this.write(Buffer.from([0x40, 0x02, slot.messageId >> 8, slot.messageId & 0xff]));
      } else if (slot.code === DROPPED) {
        continue;
      } else if (this.version === 4) {
        // 3.1.1 cannot refuse one message: the PUBACK is withheld and the connection closed
        // (once the messages before and after it that were stored are acknowledged).
        if (this.drain) continue;
        this.end(`uplink refused: ${slot.reason ?? ''}`, { will: false });
        break;
      } else {
        const reasonString = this.problemInformation && slot.reason ? slot.reason.slice(0, MAX_REASON_STRING) : undefined;
        const packet: Packet = { cmd: 'puback', messageId: slot.messageId, reasonCode: slot.code, ...(reasonString ? { properties: { reasonString } } : {}) };
        this.write(generate(packet, { protocolVersion: 5 }));
      }
    }
    this.stream.uncork();
    if (this.drain && acks.length === 0) this.finishDrain();
  }

  /** The PUBACKs owed are out (or the wait for them is over): the farewell goes, then the socket closes. */
  finishDrain(): void {
    const drain = this.drain;
    if (!drain) return;
    this.drain = undefined;
    this.acks = undefined;
    clearTimeout(drain.timer);
    this.closeStream(drain.farewell);
  }

  private onPuback(messageId: number | undefined): void {
    const s = this.session;
    if (messageId === undefined || !s?.inflight?.delete(messageId)) return;
    if (s.inflight.size === 0) s.inflight = undefined;
    this.pump();
  }

  private onSubscribe(p: ISubscribePacket): void {
    if (this.version === 5 && p.properties?.subscriptionIdentifier !== undefined) {
      // Subscription Identifiers Available is 0 [MQTT-3.8.2-2 analogue].
      this.end('subscription identifiers are not supported', { code: RC.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED, will: true });
      return;
    }
    // [MQTT-3.8.3-2] at least one topic filter.
    if (p.subscriptions.length === 0) return this.protocolError('a SUBSCRIBE without topic filters');
    const session = this.session!;
    const maxSubscriptions = this.gw.limits.maxSubscriptionsPerSession;
    const granted: number[] = [];
    const accepted: string[] = [];
    for (const sub of p.subscriptions) {
      let verdict: ReturnType<typeof checkSubscription> | 'quota' = checkSubscription(this.deviceId, sub.topic, this.mode);
      // A persistent session keeps its filters for days and every downlink is matched against all of them.
      if (verdict === 'ok' && !session.subscriptions?.has(sub.topic) && (session.subscriptions?.size ?? 0) >= maxSubscriptions) verdict = 'quota';
      if (verdict === 'ok') {
        // QoS 2 subscriptions are granted QoS 1 (MQTT allows a lower grant).
        const qos = sub.qos >= 1 ? 1 : 0;
        session.subscribe(sub.topic, qos);
        granted.push(qos);
        accepted.push(sub.topic);
        continue;
      }
      this.gw.count('subscribe_refused');
      this.gw.logger.debug({ deviceId: this.deviceId, filter: sub.topic, verdict }, 'mqtt subscription refused');
      if (this.version === 4) granted.push(V3_SUBACK_FAILURE);
      else granted.push(verdict === 'invalid' ? RC.TOPIC_FILTER_INVALID : verdict === 'shared' ? RC.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED : verdict === 'quota' ? RC.QUOTA_EXCEEDED : RC.NOT_AUTHORIZED);
    }
    this.send({ cmd: 'suback', messageId: p.messageId!, granted });
    if (accepted.length === 0) return;
    if (this.mode === 'enrollment') this.deliverEnrollResult();
    else this.gw.subscribed(this.identity!, accepted);
  }

  private onUnsubscribe(p: IUnsubscribePacket): void {
    // [MQTT-3.10.3-2] at least one topic filter.
    if (p.unsubscriptions.length === 0) return this.protocolError('an UNSUBSCRIBE without topic filters');
    const session = this.session!;
    const codes = p.unsubscriptions.map((f) => (session.unsubscribe(f) ? RC.SUCCESS : RC.NO_SUBSCRIPTION_EXISTED));
    if (this.version === 5) this.send({ cmd: 'unsuback', messageId: p.messageId!, granted: codes });
    else this.send({ cmd: 'unsuback', messageId: p.messageId!, granted: [] });
  }

  private onDisconnect(p: IDisconnectPacket): void {
    if (this.version === 5) {
      const expiry = p.properties?.sessionExpiryInterval;
      if (expiry !== undefined && this.session && this.mode === 'device') {
        // [MQTT-3.14.2-2] a session that was to end with the connection cannot be made persistent now.
        if (this.session.expiryMs === 0 && expiry > 0) return this.protocolError('session expiry set on DISCONNECT after 0 on CONNECT');
        this.session.expiryMs = Math.min(expiry, this.gw.limits.maxSessionExpirySec) * 1000;
      }
    }
    // [MQTT-3.14.4-3] a normal DISCONNECT discards the will; 5.0's 0x04 asks for it.
    this.end('client disconnected', { will: this.version === 5 && p.reasonCode === RC.DISCONNECT_WITH_WILL });
  }

  // ---- downlinks ---------------------------------------------------------------------------

  /** A message for this connection's session: sent now, or queued while the device's window is full. */
  offer(message: Downlink): 'delivered' | 'queued' | 'dropped' {
    const s = this.session!;
    if (s.queued > 0 || (message.qos === 1 && (s.inflight?.size ?? 0) >= this.clientReceiveMaximum)) {
      this.gw.sessions.enqueue(s, message);
      return 'queued';
    }
    return this.transmit(message, undefined) ? 'delivered' : 'dropped';
  }

  /** Sends what the session has queued, as far as the device's Receive Maximum allows. */
  private pump(): void {
    const s = this.session;
    const queue = s?.queue;
    if (!s || !queue || this.state !== 'open') return;
    this.stream.cork();
    while (queue.length > 0) {
      if (queue[0]!.qos === 1 && (s.inflight?.size ?? 0) >= this.clientReceiveMaximum) break;
      this.transmit(queue.shift()!, undefined);
    }
    this.stream.uncork();
    if (queue.length === 0) s.queue = undefined;
  }

  /** [MQTT-4.4.0-1] on a resumed session, unacknowledged QoS 1 messages go again, same id, DUP set. */
  private resendInflight(): void {
    const s = this.session;
    if (!s?.inflight) return;
    this.stream.cork();
    for (const [id, message] of [...s.inflight]) this.transmit(message, id);
    this.stream.uncork();
  }

  private transmit(m: Downlink, resendId: number | undefined): boolean {
    const gw = this.gw;
    const s = this.session!;
    const now = gw.now();
    if (m.expiresAt !== null && m.expiresAt <= now) {
      gw.count('downlinks_expired');
      if (resendId !== undefined) s.inflight?.delete(resendId);
      return false;
    }
    let messageId: number | undefined;
    if (m.qos === 1) {
      messageId = resendId ?? s.nextPacketId();
      if (messageId === undefined) return false;
    }
    const packet: IPublishPacket = { cmd: 'publish', topic: m.topic, payload: m.payload, qos: m.qos, dup: resendId !== undefined, retain: false };
    if (messageId !== undefined) packet.messageId = messageId;
    if (this.version === 5) {
      const properties: NonNullable<IPublishPacket['properties']> = {};
      // [MQTT-3.3.2-6] the expiry sent is what remains of it.
      if (m.expiresAt !== null) properties.messageExpiryInterval = Math.max(1, Math.ceil((m.expiresAt - now) / 1000));
      if (m.responseTopic !== undefined) properties.responseTopic = m.responseTopic;
      if (m.correlationData !== undefined) properties.correlationData = m.correlationData;
      if (m.userProperties !== undefined) properties.userProperties = m.userProperties;
      if (m.contentType !== undefined) properties.contentType = m.contentType;
      packet.properties = properties;
    }
    const bytes = generate(packet, { protocolVersion: this.version });
    if (this.clientMaximumPacketSize > 0 && bytes.length > this.clientMaximumPacketSize) {
      // [MQTT-3.1.2-25] never send more than the client accepts: the message is discarded.
      gw.count('downlinks_too_large');
      if (resendId !== undefined) s.inflight?.delete(resendId);
      return false;
    }
    if (messageId !== undefined) (s.inflight ??= new Map()).set(messageId, m);
    gw.count('downlinks_sent');
    this.write(bytes);
    return true;
  }

  // ---- enrollment --------------------------------------------------------------------------

  /** Never rejects: every outcome, good or bad, is published to `enroll/result`. */
  private async enroll(payload: Buffer): Promise<void> {
    const e = this.enrollment!;
    let result: Buffer;
    if (e.busy) {
      result = enrollErrorBody(new HangarError('CONFLICT', 'an enrollment request of this session is already being processed'));
    } else {
      e.busy = true;
      try {
        const request = parseEnrollRequest(payload);
        const provisioned = await this.gw.enrollment!.provision(
          { enrollmentGroupId: e.groupId, deviceId: this.deviceId, claimToken: e.claimToken, csr: request.csr, credentialType: request.credentialType },
          this.remoteAddress ?? 'unknown',
        );
        this.gw.count('enrollments');
        result = enrollSuccessBody(provisioned);
      } catch (err) {
        this.gw.count('enrollments_refused');
        this.gw.logger.debug({ err: err instanceof Error ? err.message : err, deviceId: this.deviceId }, 'mqtt enrollment refused');
        result = enrollErrorBody(err);
      } finally {
        e.busy = false;
      }
    }
    e.result = result;
    this.deliverEnrollResult();
  }

  private deliverEnrollResult(): void {
    const e = this.enrollment;
    if (!e?.result || this.state !== 'open') return;
    const topic = enrollResultTopic(this.deviceId);
    const qos = this.session!.grantedQos(topic);
    if (qos === undefined) return;
    const payload = e.result;
    e.result = undefined;
    this.transmit({ topic, payload, qos, expiresAt: null, contentType: 'application/json' }, undefined);
  }

  // ---- output and the end ------------------------------------------------------------------

  private send(packet: Packet): void {
    if (this.state === 'closed') return;
    this.write(generate(packet, { protocolVersion: this.version }));
  }

  private write(bytes: Buffer): void {
    // A device that does not read its acknowledgements is not read either.
    if (!this.stream.write(bytes)) this.pause(PAUSE_DRAIN);
  }

  private pause(bit: number): void {
    if (this.paused === 0) this.stream.pause();
    this.paused |= bit;
  }

  private resume(bit: number): void {
    if ((this.paused & bit) === 0) return;
    this.paused &= ~bit;
    if (this.paused === 0 && this.state !== 'closed') this.stream.resume();
  }

  private tooLarge(size: number): void {
    this.gw.count('oversize_packets');
    this.gw.logger.debug({ size, limit: this.gw.limits.maxPacketSize, deviceId: this.identity?.deviceId }, 'mqtt packet too large');
    this.end(`packet of ${size} bytes exceeds the maximum of ${this.gw.limits.maxPacketSize}`, { code: RC.PACKET_TOO_LARGE, will: true });
  }

  private protocolError(detail: string): void {
    this.gw.count('protocol_errors');
    this.gw.logger.debug({ detail, deviceId: this.identity?.deviceId }, 'mqtt protocol error');
    this.end(detail, { code: RC.PROTOCOL_ERROR, will: true });
  }

  /** Ends the connection once: DISCONNECT (5.0) when a reason is given, then the socket, then the bookkeeping. */
  end(reason: string, options: EndOptions): void {
    if (this.state === 'closed') {
      // The peer went away while PUBACKs were owed: nobody is left to receive them.
      if (this.drain && this.stream.destroyed) this.finishDrain();
      return;
    }
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    let farewell: Buffer | undefined;
    if (wasOpen && this.version === 5 && options.code !== undefined) {
      const packet: IDisconnectPacket = { cmd: 'disconnect', reasonCode: options.code };
      if (this.problemInformation) packet.properties = { reasonString: reason.slice(0, MAX_REASON_STRING) };
      farewell = generate(packet, { protocolVersion: 5 });
    }
    if (wasOpen && this.acks !== undefined && this.acks.length > 0 && !this.stream.destroyed) {
      // QoS 1 messages read before the packet that ends the connection may be stored already:
      // each is acknowledged as the core settles it, and the farewell follows the last one, so
      // that the device does not send (and Hangar store) them again. Nothing more is read.
      this.dropHeld();
      this.drain = { farewell, timer: setTimeout(ackDrainOver, this.gw.limits.ackDrainMs, this) };
      this.drain.timer.unref();
      this.flushAcks();
    } else {
      this.closeStream(farewell);
    }
    this.cleanup(reason, options.will && wasOpen);
  }

  /** Telemetry held for the rate limit was not stored: it gets no PUBACK. */
  private dropHeld(): void {
    for (const h of this.held ?? []) if (h.slot) h.slot.code = DROPPED;
  }

  private closeStream(farewell: Buffer | undefined): void {
    const stream = this.stream;
    if (stream.destroyed) return;
    if (farewell) stream.write(farewell);
    stream.end();
    // Reading on lets the peer's FIN arrive; a peer that never closes is cut off after the grace time.
    stream.resume();
    setTimeout(destroyStream, this.gw.limits.closeGraceMs, stream).unref();
  }

  private cleanup(reason: string, publishWill: boolean): void {
    const gw = this.gw;
    gw.forget(this);
    if (!this.drain) this.acks = undefined;
    this.pending = undefined;
    this.aliases = undefined;
    this.held = undefined;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.parser.removeAllListeners();
    delete this.parser[CONN];
    if (this.mode === 'enrollment') {
      if (this.enrollment) gw.releaseEnrollment();
      this.enrollment = undefined;
      return;
    }
    const identity = this.identity;
    if (!identity) return;
    if (this.session) gw.sessions.detach(this.session);
    if (publishWill && this.will) this.publishWill(identity, this.will);
    this.will = undefined;
    if (this.presenceSessionId !== undefined) {
      gw.presence.disconnected(identity, this.presenceSessionId, reason).catch((err: unknown) => gw.logger.warn({ err, deviceId: identity.deviceId }, 'mqtt presence failed'));
    }
    gw.logger.debug({ deviceId: identity.deviceId, reason }, 'mqtt disconnected');
  }

  /** The will goes where the same PUBLISH would have gone; nobody acknowledges it. */
  private publishWill(identity: DeviceIdentity, will: NonNullable<IConnectPacket['will']>): void {
    const route = routePublish(identity.deviceId, will.topic, 'device', will.properties?.contentType);
    const payload = typeof will.payload === 'string' ? Buffer.from(will.payload) : will.payload;
    let work: Promise<unknown>;
    if (route.kind === 'telemetry') work = this.gw.telemetry.ingest(identity, payload, route.format);
    else if (route.kind === 'uplink' && this.gw.uplinksServed) work = this.gw.uplink(identity, route.subtopic, payload, uplinkMeta(0, will.properties));
    else return;
    this.gw.count('wills_published');
    work.catch((err: unknown) => this.gw.logger.debug({ err: err instanceof Error ? err.message : err, deviceId: identity.deviceId }, 'mqtt will refused'));
  }
}
