/**
 * One simulated device: an MQTT.js client that connects through the fleet's connect gate,
 * reconnects with backoff when it loses its connection, and publishes telemetry — as fast as
 * its PUBACKs allow (`max`) or on a schedule (`rate`) — while counting everything in the
 * fleet's stats.
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { deviceTopic } from '@hangar/protocol';
import { backoffDelay } from './backoff.js';
import { MQTT_PROTOCOL_LEVEL, type FleetConfig } from './config.js';
import type { DeviceCredential } from './credentials.js';
import type { ConnectGate } from './pacer.js';
import type { FleetStats } from './stats.js';
import { RandomWalk } from './telemetry.js';

/** How long a graceful DISCONNECT may take before the socket is just closed. */
const STOP_GRACE_MS = 2000;

export class DeviceSession {
  private client: MqttClient | undefined;
  /** Bumped on every new connection; callbacks of an older connection are ignored. */
  private generation = 0;
  private connected = false;
  private everConnected = false;
  private failures = 0;
  private inflight = 0;
  private publishing = false;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private rateTimer: NodeJS.Timeout | undefined;
  private scheduled = 0;
  private scheduleStart = 0;
  private readonly topic: string;
  private readonly walk: RandomWalk;

  constructor(
    private readonly credential: DeviceCredential,
    private readonly config: FleetConfig,
    private readonly stats: FleetStats,
    private readonly gate: ConnectGate,
    private readonly onFirstConnect: () => void,
  ) {
    this.topic = deviceTopic(credential.deviceId, 'telemetry');
    this.walk = new RandomWalk(config.payloadKeys);
  }

  start(): void {
    void this.connect();
  }

  startPublishing(): void {
    if (this.publishing || this.stopped) return;
    this.publishing = true;
    if (this.config.mode.kind === 'rate') this.startSchedule(this.config.mode.perSecond);
    else this.pump();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.publishing = false;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.rateTimer);
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    if (!this.connected) {
      this.discard(client);
      return;
    }
    this.connected = false;
    this.stats.connected -= 1;
    client.removeAllListeners();
    client.on('error', () => undefined);
    // A DISCONNECT tells the server this was intended (no will, no "lost" presence event).
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => client.end(true, () => resolve()), STOP_GRACE_MS);
      client.end(false, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private async connect(): Promise<void> {
    const release = await this.gate.acquire();
    if (this.stopped) return release();
    this.stats.connectAttempts += 1;
    const generation = ++this.generation;
    const client = connect(this.config.server, this.clientOptions());
    this.client = client;
    let settled = false;
    const fail = (reason: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      release();
      this.stats.connectFailures += 1;
      this.stats.error(`connect: ${reason}`);
      this.discard(client);
      this.scheduleReconnect();
    };
    // MQTT.js's connectAsync may never settle when a TLS server drops the client after the
    // handshake (DEPENDENCIES.md); this timer bounds every attempt whatever happens.
    const timer = setTimeout(() => fail('timeout'), this.config.connectTimeoutMs);
    client.once('connect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      release();
      this.onConnected(generation);
    });
    client.on('error', (err) => {
      if (!settled) fail(describeError(err));
      else if (generation === this.generation) this.stats.error(`mqtt: ${describeError(err)}`);
    });
    client.on('disconnect', (packet) => {
      if (generation === this.generation && !this.stopped) this.stats.error(`disconnected by server: reason ${packet.reasonCode ?? 0}`);
    });
    client.on('close', () => {
      if (!settled) fail('connection closed');
      else if (generation === this.generation) this.onLost();
    });
  }

  private clientOptions(): IClientOptions {
    const c = this.credential;
    return {
      clientId: c.deviceId,
      protocolVersion: MQTT_PROTOCOL_LEVEL[this.config.mqttVersion],
      clean: true,
      keepalive: this.config.keepaliveSec,
      // Reconnects are ours (backoff with jitter, through the connect gate), not MQTT.js's fixed period.
      reconnectPeriod: 0,
      connectTimeout: this.config.connectTimeoutMs + 1000,
      ...(c.kind === 'token' ? { username: c.deviceId, password: c.token } : {}),
      ...(c.kind === 'x509' ? { cert: c.certPem, key: c.keyPem } : {}),
      ...(this.config.caPem ? { ca: this.config.caPem } : {}),
    };
  }

  private onConnected(generation: number): void {
    if (generation !== this.generation || this.stopped) return;
    this.connected = true;
    this.failures = 0;
    this.stats.connected += 1;
    if (!this.everConnected) {
      this.everConnected = true;
      this.stats.everConnected += 1;
      this.onFirstConnect();
    }
    if (this.publishing && this.config.mode.kind === 'max') this.pump();
  }

  private onLost(): void {
    if (this.stopped) return;
    this.generation += 1;
    if (this.connected) {
      this.connected = false;
      this.stats.connected -= 1;
    }
    this.stats.disconnects += 1;
    this.stats.error('connection lost');
    if (this.inflight > 0) {
      // A clean session forgets them: they are lost, not merely late.
      this.stats.publishErrors += this.inflight;
      this.stats.error('publish: connection lost before its acknowledgement', this.inflight);
      this.inflight = 0;
    }
    if (this.client) this.discard(this.client);
    this.scheduleReconnect();
  }

  private discard(client: MqttClient): void {
    client.removeAllListeners();
    client.on('error', () => undefined);
    client.end(true);
    if (this.client === client) this.client = undefined;
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.failures, this.config.backoff);
    this.failures += 1;
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }

  /** `max` mode: keep `inflight` messages outstanding. */
  private pump(): void {
    const limit = this.config.mode.inflight;
    while (this.publishing && this.connected && this.inflight < limit) this.publishOne();
  }

  private startSchedule(perSecond: number): void {
    // A random phase per device, so that a fleet at 1 msg/s does not publish in one burst a second.
    const tickMs = Math.min(1000, Math.max(10, 1000 / perSecond));
    this.scheduleStart = performance.now() + Math.random() * tickMs;
    this.scheduled = 0;
    const tick = (): void => {
      const due = Math.floor(((performance.now() - this.scheduleStart) / 1000) * perSecond) - this.scheduled;
      if (due <= 0) return;
      this.scheduled += due;
      for (let i = 0; i < due; i += 1) {
        if (this.connected && this.inflight < this.config.mode.inflight) this.publishOne();
        else this.stats.behind += 1;
      }
    };
    this.rateTimer = setInterval(tick, tickMs);
  }

  private publishOne(): void {
    const client = this.client!;
    const generation = this.generation;
    const qos = this.config.qos;
    this.inflight += 1;
    this.stats.sent += 1;
    const t0 = performance.now();
    client.publish(this.topic, this.walk.nextPayload(), { qos }, (err) => {
      if (generation !== this.generation || this.stopped) return;
      this.inflight -= 1;
      if (err) {
        this.stats.publishErrors += 1;
        this.stats.error(`publish: ${describeError(err)}`);
      } else if (qos > 0) {
        this.stats.acked += 1;
        this.stats.latency.recordMicros((performance.now() - t0) * 1000);
      }
      if (this.config.mode.kind === 'max') this.pump();
    });
  }
}

/** A short, stable reason: MQTT reason codes and errno codes rather than whole messages with addresses. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & { code?: string | number };
  if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return e.code;
  if (typeof e.code === 'number') return `${e.message.replace(/^Connection refused: /, '')} (reason ${e.code})`;
  return e.message.length > 120 ? `${e.message.slice(0, 117)}…` : e.message;
}
