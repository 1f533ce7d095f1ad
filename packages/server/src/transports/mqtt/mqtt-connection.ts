import type { Duplex } from 'node:stream';
import { generate, type Packet, type Parser } from 'mqtt-packet';
import type { LiveSession } from '../live-sessions.js';
import { closeAfterAcks, finishDrain } from './ack-queue.js';
import { ConnectionState, PAUSE_DRAIN } from './connection-state.js';
import { offerDownlink } from './downlink-queue.js';
import { takeTelemetry } from './fast-telemetry.js';
import type { EndOptions, GatewayConnection, GatewayCore } from './gateway-core.js';
import { handleConnect } from './handlers/connect.js';
import { handleDisconnect } from './handlers/disconnect.js';
import { handlePing } from './handlers/ping.js';
import { handlePuback } from './handlers/puback.js';
import { handlePublish } from './handlers/publish.js';
import { handleSubscribe } from './handlers/subscribe.js';
import { handleUnsubscribe } from './handlers/unsubscribe.js';
import { createPacketParser } from './packet-parser.js';
import { RC, V3_CONNACK } from './reason-codes.js';
import type { Downlink } from './session-store.js';
import { dropHeldTelemetry } from './telemetry-uplink.js';
import { publishWill } from './will.js';

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
  this[CONN]?.resume(PAUSE_DRAIN);
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

/**
 * One device's MQTT connection: a state machine over one parser, dispatching each packet to
 * its handler (handlers/), as Aedes does. It authenticates, enforces the topic ACL, hands
 * uplinks to the core through the routing table (uplink-routes.ts) and acknowledges them in
 * order once the core has them (ack-queue.ts), and delivers the session's downlinks
 * (downlink-queue.ts). It implements LiveSession so that revocation and decommissioning close it.
 */
export class MqttConnection extends ConnectionState implements LiveSession, GatewayConnection {
  constructor(gw: GatewayCore, stream: Duplex, remoteAddress: string | null, clientCertificate: Buffer | undefined) {
    const parser = createPacketParser() as Parser & Tagged;
    super(gw, stream, remoteAddress, clientCertificate, parser);
    parser[CONN] = this;
    parser.on('packet', onParserPacket);
    parser.on('error', onParserError);
    (stream as Duplex & Tagged)[CONN] = this;
    stream.on('data', onStreamData);
    stream.on('drain', onStreamDrain);
    stream.on('close', onStreamClose);
    stream.on('error', onStreamError);
  }

  // ---- LiveSession -------------------------------------------------------------------------

  get tenantId(): string {
    return this.identity?.tenantId ?? '';
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

  offer(message: Downlink): 'delivered' | 'queued' | 'dropped' {
    return offerDownlink(this, message);
  }

  // ---- input -------------------------------------------------------------------------------

  onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.lastRx = this.gw.now();
    if (this.telemetryTopic !== undefined && this.parserIdle && this.state === 'open') {
      const taken = takeTelemetry(this, chunk);
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
        void handleConnect(this, packet).catch((err: unknown) => {
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

  /** A packet after CONNACK, to its handler. */
  dispatch(packet: Packet): void {
    switch (packet.cmd) {
      case 'publish':
        return handlePublish(this, packet);
      case 'puback':
        return handlePuback(this, packet);
      case 'subscribe':
        return handleSubscribe(this, packet);
      case 'unsubscribe':
        return handleUnsubscribe(this, packet);
      case 'pingreq':
        return handlePing(this);
      case 'disconnect':
        return handleDisconnect(this, packet);
      case 'connect':
        // [MQTT-3.1.0-2] a second CONNECT is a protocol violation.
        return this.protocolError('a second CONNECT');
      default:
        // PUBREC/PUBREL/PUBCOMP (no QoS 2 here), AUTH, and server-to-client packets.
        return this.protocolError(`unexpected ${packet.cmd}`);
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

  private tooLarge(size: number): void {
    this.gw.count('oversize_packets');
    this.gw.logger.debug({ size, limit: this.gw.limits.maxPacketSize, deviceId: this.identity?.deviceId }, 'mqtt packet too large');
    this.end(`packet of ${size} bytes exceeds the maximum of ${this.gw.limits.maxPacketSize}`, { code: RC.PACKET_TOO_LARGE, will: true });
  }

  // ---- the end -----------------------------------------------------------------------------

  /** Ends the connection once: the PUBACKs owed, DISCONNECT (5.0) when a reason is given, the socket, the bookkeeping. */
  end(reason: string, options: EndOptions): void {
    if (this.state === 'closed') {
      // The peer went away while PUBACKs were owed: nobody is left to receive them.
      if (this.drain && this.stream.destroyed) finishDrain(this);
      return;
    }
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    dropHeldTelemetry(this);
    const farewell = wasOpen ? this.farewell(reason, options.code) : undefined;
    if (wasOpen) closeAfterAcks(this, farewell);
    else this.closeStream(farewell);
    this.cleanup(reason, options.will && wasOpen);
  }

  cleanup(reason: string, withWill: boolean): void {
    const gw = this.gw;
    gw.forget(this);
    if (!this.drain) this.acks = undefined;
    this.pending = undefined;
    this.aliases = undefined;
    dropHeldTelemetry(this);
    this.parser.removeAllListeners();
    delete (this.parser as Parser & Tagged)[CONN];
    if (this.mode === 'enrollment') {
      if (this.enrollment) gw.releaseEnrollment();
      this.enrollment = undefined;
      return;
    }
    const identity = this.identity;
    if (!identity) return;
    if (this.session) gw.sessions.detach(this.session);
    if (withWill && this.will) publishWill(this, identity, this.will);
    this.will = undefined;
    if (this.presenceSessionId !== undefined) {
      gw.presence.disconnected(identity, this.presenceSessionId, reason).catch((err: unknown) => gw.logger.warn({ err, deviceId: identity.deviceId }, 'mqtt presence failed'));
    }
    gw.logger.debug({ deviceId: identity.deviceId, reason }, 'mqtt disconnected');
  }
}
