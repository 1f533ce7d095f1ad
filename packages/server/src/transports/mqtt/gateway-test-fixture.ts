/**
 * Test support for the MQTT gateway: a real Hangar (store, authenticator, live sessions,
 * enrollment) with small recording stand-ins for telemetry ingest and presence, a TCP
 * listener on an ephemeral port, and a raw MQTT client for what MQTT.js will not send.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { TlsOptions } from 'node:tls';
import { generate, parser as createParser, type Packet } from 'mqtt-packet';
import pino from 'pino';
import type { DeviceProtocol } from '../../bus/events.js';
import { DeviceAuthenticator, type DeviceIdentity } from '../../core/identity/device-authenticator.js';
import type { PresenceTracker } from '../../core/presence/presence-tracker.js';
import type { RateLimit } from '../../core/telemetry/rate-limiter.js';
import type { TelemetryFormat, TelemetryIngest } from '../../core/telemetry/telemetry-ingest.js';
import { TelemetryService } from '../../core/telemetry/telemetry-service.js';
import { HangarError } from '../../errors.js';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { LiveSessions } from '../live-sessions.js';
import type { MqttLimits } from './gateway-core.js';
import { startMqttListener, type MqttListener } from './listeners.js';
import { MqttGateway, type MqttGatewayOptions } from './mqtt-gateway.js';

export interface IngestCall {
  device: DeviceIdentity;
  payload: Buffer;
  format: TelemetryFormat;
}

/**
 * Accepts JSON telemetry (refuses what does not parse, VALIDATION_FAILED, and `{"tooBig":…}`,
 * PAYLOAD_TOO_LARGE). `hold()` makes ingests wait until `release()`.
 */
export class RecordingTelemetry implements TelemetryIngest {
  readonly calls: IngestCall[] = [];
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  /** Per-payload delay in ms, to finish out of order. */
  delayOf: (payload: string) => number = () => 0;

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open?.();
    this.gate = undefined;
  }

  async ingest(device: DeviceIdentity, payload: Uint8Array, format: TelemetryFormat): Promise<{ accepted: number }> {
    const buf = Buffer.from(payload);
    this.calls.push({ device, payload: buf, format });
    if (this.gate) await this.gate;
    const delay = this.delayOf(buf.toString());
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (format === 'senml+cbor') return { accepted: 1 };
    let parsed: unknown;
    try {
      parsed = JSON.parse(buf.toString('utf8'));
    } catch {
      throw new HangarError('VALIDATION_FAILED', 'telemetry is not JSON');
    }
    if (typeof parsed === 'object' && parsed !== null && 'tooBig' in parsed) throw new HangarError('PAYLOAD_TOO_LARGE', 'too many readings');
    return { accepted: 1 };
  }
}

export class RecordingPresence implements Pick<PresenceTracker, 'connected' | 'disconnected' | 'seen'> {
  readonly events: Array<{ type: 'connected' | 'disconnected'; deviceId: string; sessionId: string; reason?: string; protocol?: DeviceProtocol }> = [];
  seenCount = 0;
  private next = 0;

  async connected(device: DeviceIdentity, protocol: DeviceProtocol): Promise<string> {
    this.next += 1;
    const sessionId = `s${String(this.next).padStart(6, '0')}`;
    this.events.push({ type: 'connected', deviceId: device.deviceId, sessionId, protocol });
    return sessionId;
  }

  async disconnected(device: DeviceIdentity, sessionId: string, reason: string): Promise<void> {
    this.events.push({ type: 'disconnected', deviceId: device.deviceId, sessionId, reason });
  }

  seen(): void {
    this.seenCount += 1;
  }
}

export interface MqttTestbed {
  th: TestHangar;
  gateway: MqttGateway;
  listener: MqttListener;
  port: number;
  /** The MQTTS port when `tls` options were given. */
  tlsPort: number | undefined;
  url: string;
  /** The telemetry the gateway uses, unless `rateLimit` was given. */
  telemetry: RecordingTelemetry;
  /** With `rateLimit`: the real TelemetryService (on the Hangar's store) the gateway uses instead. */
  telemetryService: TelemetryService | undefined;
  presence: RecordingPresence;
  /** What reached the core's ports through uplink topics other than telemetry (here: OTA status reports, re-serialized). */
  uplinks: Array<{ deviceId: string; subtopic: string; payload: string }>;
  subscriptions: Array<{ deviceId: string; filters: string[] }>;
  /** The clock the gateway reads: `clock.offset` moves it forward. */
  clock: { offset: number };
  /** Creates a device with a token credential; returns the token. */
  device(id: string): Promise<{ token: string; credentialId: string }>;
  close(): Promise<void>;
}

export const FAST_LIMITS: Partial<MqttLimits> = { refusalDelayMs: 20, sweepIntervalMs: 50, closeGraceMs: 200 };

export async function startMqttTestbed(
  options: { limits?: Partial<MqttLimits>; gateway?: Partial<MqttGatewayOptions>; tls?: TlsOptions; rateLimit?: RateLimit } = {},
): Promise<MqttTestbed> {
  const th = await startTestHangar('sqlite');
  const telemetry = new RecordingTelemetry();
  // Hangar's own TelemetryService has the default limit; a test of the limit needs a small one.
  const telemetryService = options.rateLimit ? new TelemetryService(th.hangar.stores, th.hangar.bus, pino({ level: 'silent' }), { rateLimit: options.rateLimit }) : undefined;
  const presence = new RecordingPresence();
  const live = new LiveSessions(th.hangar.bus);
  const uplinks: MqttTestbed['uplinks'] = [];
  const subscriptions: MqttTestbed['subscriptions'] = [];
  const clock = { offset: 0 };
  const gateway = new MqttGateway({
    authenticator: new DeviceAuthenticator(th.hangar.stores),
    presence,
    liveSessions: live,
    bus: th.hangar.bus,
    enrollment: th.hangar.services.enrollment,
    telemetry: telemetryService ?? telemetry,
    // A recording OTA port: any JSON report is taken (the uplink's path, not the rules, is under test).
    services: {
      ota: {
        reportStatus: async (_tenantId, deviceId, body) => void uplinks.push({ deviceId, subtopic: 'ota/status', payload: JSON.stringify(body) }),
      },
    },
    subscribed: (identity, filters) => subscriptions.push({ deviceId: identity.deviceId, filters }),
    now: () => Date.now() + clock.offset,
    limits: { ...FAST_LIMITS, ...options.limits },
    ...options.gateway,
  });
  const listener = await startMqttListener(gateway, { port: 0, host: '127.0.0.1' });
  const tlsListener = options.tls ? await startMqttListener(gateway, { port: 0, host: '127.0.0.1', tls: options.tls }) : undefined;
  return {
    th,
    gateway,
    listener,
    port: listener.port,
    tlsPort: tlsListener?.port,
    url: `mqtt://127.0.0.1:${listener.port}`,
    telemetry,
    telemetryService,
    presence,
    uplinks,
    subscriptions,
    clock,
    async device(id) {
      const created = await th.call('POST', '/api/v1/devices', { body: { id } });
      if (created.status !== 201) throw new Error(`device create failed: ${JSON.stringify(created.body)}`);
      const cred = await th.call('POST', `/api/v1/devices/${id}/credentials`, { body: { type: 'token' } });
      if (cred.status !== 201) throw new Error(`credential failed: ${JSON.stringify(cred.body)}`);
      return { token: cred.body.token as string, credentialId: cred.body.id as string };
    },
    async close() {
      await gateway.close();
      await listener.close();
      await tlsListener?.close();
      live.stop();
      await telemetryService?.close();
      await th.close();
    },
  };
}

/** Polls `check` until it holds (tests wait for effects, never for a fixed time). */
export async function until(check: () => boolean, what = 'condition', timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A bare MQTT client over a socket: sends exactly the bytes a test wants, records what comes back. */
export class RawClient {
  readonly packets: Packet[] = [];
  readonly closed: Promise<void>;
  private readonly parser;

  private constructor(
    readonly socket: Socket,
    readonly version: 4 | 5,
  ) {
    this.parser = createParser({ protocolVersion: version });
    this.parser.on('packet', (p: Packet) => this.packets.push(p));
    this.parser.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => this.parser.parse(chunk));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async open(port: number, version: 4 | 5 = 5): Promise<RawClient> {
    const socket = netConnect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket, version);
  }

  /** Opens, sends CONNECT and waits for CONNACK. */
  static async connect(port: number, version: 4 | 5, connect: Record<string, unknown>): Promise<RawClient> {
    const c = await RawClient.open(port, version);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 60, ...connect } as Packet);
    await c.next('connack');
    return c;
  }

  send(packet: Packet): void {
    this.socket.write(generate(packet, { protocolVersion: this.version }));
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The first packet of `cmd` not yet taken (removed from `packets`). */
  async next<C extends Packet['cmd']>(cmd: C, timeoutMs = 5000): Promise<Extract<Packet, { cmd: C }>> {
    let found: Packet | undefined;
    await until(
      () => {
        const i = this.packets.findIndex((p) => p.cmd === cmd);
        if (i < 0) return false;
        found = this.packets.splice(i, 1)[0];
        return true;
      },
      `${cmd} packet`,
      timeoutMs,
    );
    return found as Extract<Packet, { cmd: C }>;
  }

  end(): void {
    this.socket.destroy();
  }
}
