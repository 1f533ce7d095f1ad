/**
 * The device agent: one MQTT connection (token or client certificate) that reconnects with
 * exponential backoff and full jitter; when MQTT cannot connect (a blocked port) it serves the
 * device over the HTTP device API — long-polling desired state and commands — while it keeps
 * retrying MQTT in the background, and goes back to MQTT as soon as that connects.
 *
 * Telemetry always goes through the buffer (disk in the CLI) and is sent from there in order,
 * so offline readings are replayed in the order taken. Reported patches and command results
 * made while offline are kept (merged) in memory and sent on the next connection.
 */
import { EventEmitter } from 'node:events';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { deviceTopic, type FirmwareSigningKey, type OtaOffer, type OtaStatusReport } from '@hangar/protocol';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from '../simulator/backoff.js';
import { describeError } from '../simulator/device-session.js';
import { AgentLog } from './agent-log.js';
import { CommandRegistry, type CommandHandler, type CommandRequest, type CommandResult } from './commands.js';
import { DesiredState, type DesiredHandler, type DesiredOutcome } from './desired-state.js';
import { describeRefusal, HttpError, httpRequest, type HttpAuth } from './http-client.js';
import { composePatches, isPlainObject } from './merge-patch.js';
import { MemoryTelemetryBuffer, type TelemetryBuffer, type TelemetryRecord } from './telemetry-buffer.js';
import { OtaUpdater, type OtaHost } from './ota/ota-updater.js';
import type { OtaPlatform } from './ota/platform.js';
import { isSigningKey, KeyRing } from './ota/verifier.js';

export type AgentCredential = { kind: 'token'; token: string } | { kind: 'x509'; certPem: string; keyPem: string };

export type Transport = 'mqtt' | 'http' | 'offline';

export interface AgentOptions {
  deviceId: string;
  credential: AgentCredential;
  /** `mqtt://host:port` or `mqtts://host:port`. */
  server: string;
  /** Hangar's HTTP(S) base URL for the fallback (none: MQTT only). */
  httpUrl?: string | undefined;
  /** CA of the server's TLS certificate (Hangar: GET /pki/server-ca.pem). */
  caPem?: string | undefined;
  buffer?: TelemetryBuffer;
  log?: AgentLog;
  backoff?: BackoffPolicy;
  connectTimeoutMs?: number;
  keepaliveSec?: number;
  /** MQTT connection failures in a row before the HTTP fallback starts (default 2). */
  httpFallbackAfter?: number;
  /** Long-poll wait asked of the server, seconds (≤ 60, default 30). */
  httpWaitSec?: number;
  /** Pause between polls when the server answers at once with nothing new (default 5 s). */
  httpIdlePollMs?: number;
  commandsDir?: string | undefined;
  rebootCommand?: string | undefined;
  factoryResetCommand?: string | undefined;
  /** Static facts reported on every connection (OS, kernel, versions). */
  facts?: Record<string, unknown>;
  /** Paces connection attempts (the simulator's thousands of agents share one gate). */
  connectGate?: { acquire(): Promise<() => void> };
  /** Wraps every command run (the simulator's failure injection). */
  aroundCommand?: (command: CommandRequest, run: () => Promise<CommandResult>) => Promise<CommandResult>;
  /** What `get-system-info` answers besides the facts (e.g. current metrics). */
  systemInfo?: () => Record<string, unknown>;
  /** OTA updates (docs/agent.md "OTA updates"); downloads need `httpUrl`. */
  ota?: AgentOtaOptions;
}

export interface AgentOtaOptions {
  platform: OtaPlatform;
  /** The trusted firmware signing keys (default: an empty ring filled from the server on first use). */
  keys?: KeyRing;
  /** The version the device runs before any update went through the slots. */
  firmwareVersion?: string | undefined;
  /**
   * How the agent "restarts into the new slot" after an install. Default: it restarts its own
   * connection (stop + start), and the start finds the pending slot (the trial boot). The CLI
   * re-executes its process instead; a real device reboots into the other partition.
   */
  restart?: () => void;
  downloadBackoff?: BackoffPolicy;
  downloadRetries?: number;
  /** Download progress is reported each time it crosses another step (default 0.1). */
  progressStep?: number;
}

/** Records per telemetry message when replaying the buffer. */
const REPLAY_BATCH = 100;
/** Log records per upload message. */
const LOG_BATCH = 200;

export interface AgentEvents {
  transport: [Transport];
  /** An OTA status report as the agent queued it (before it is sent). */
  ota: [OtaStatusReport];
  desired: [DesiredOutcome];
  command: [CommandRequest, CommandResult];
}

export class Agent extends EventEmitter<AgentEvents> {
  readonly deviceId: string;
  readonly log: AgentLog;
  readonly buffer: TelemetryBuffer;
  private readonly desired: DesiredState;
  private readonly commands: CommandRegistry;
  private readonly backoff: BackoffPolicy;
  private client: MqttClient | undefined;
  private mqttUp = false;
  private generation = 0;
  private failures = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private httpMode: AbortController | undefined;
  private stopped = true;
  private draining = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private pendingReported: Record<string, unknown> | undefined;
  private readonly pendingResults = new Map<string, CommandResult>();
  private reportedDropped = -1;
  private current: Transport = 'offline';
  private flushingResults = false;
  /** Rejecters of publishes waiting for their PUBACK: a lost connection fails them at once. */
  private readonly awaitingAck = new Set<(err: Error) => void>();
  /** OTA status reports not sent yet, in order; each resolves its `done` once sent or refused. */
  private readonly otaOutbox: { report: OtaStatusReport; done: () => void }[] = [];
  private flushingOta = false;
  private otaRetryTimer: NodeJS.Timeout | undefined;
  private readonly updater: OtaUpdater | undefined;

  constructor(private readonly options: AgentOptions) {
    super();
    this.deviceId = options.deviceId;
    this.log = options.log ?? new AgentLog();
    this.buffer = options.buffer ?? new MemoryTelemetryBuffer();
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.desired = new DesiredState((outcome) => this.onDesiredApplied(outcome));
    this.commands = new CommandRegistry(
      {
        rebootCommand: options.rebootCommand,
        factoryResetCommand: options.factoryResetCommand,
        systemInfo: () => ({ deviceId: this.deviceId, ...(options.facts ?? {}), ...(options.systemInfo?.() ?? {}), transport: this.current, bufferedTelemetry: this.buffer.size }),
        uploadLogs: () => this.uploadLogs(),
      },
      options.commandsDir,
      options.aroundCommand,
    );
    if (options.ota) this.updater = new OtaUpdater({ ...options.ota, keys: options.ota.keys ?? new KeyRing() }, this.otaHost(options.ota));
  }

  /** The OTA state machine (when `ota` was configured). */
  get ota(): OtaUpdater | undefined {
    return this.updater;
  }

  /** Registers the handler of one desired property (`*`: every property without its own). */
  onDesired(key: string, handler: DesiredHandler): this {
    this.desired.on(key, handler);
    return this;
  }

  /** Registers a command handler (replacing a built-in of the same name). */
  onCommand(name: string, handler: CommandHandler): this {
    this.commands.register(name, handler);
    return this;
  }

  get transport(): Transport {
    return this.current;
  }

  get desiredVersion(): number {
    return this.desired.version;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.log.info(`agent for ${this.deviceId} starting: ${this.options.server}${this.options.httpUrl ? `, HTTP fallback ${this.options.httpUrl}` : ''}`);
    // A pending slot is this start's trial boot: its self-test runs while the agent connects.
    if (this.updater) void this.updater.boot().catch((err: unknown) => this.log.error(`OTA: ${describeError(err)}`));
    void this.connectMqtt();
  }

  async stop(): Promise<void> {
    await this.disconnect();
    this.buffer.close();
  }

  /** Stop + start of the connection (the library's "restart into the new slot"). */
  async restart(): Promise<void> {
    await this.drainOta(5000);
    await this.disconnect();
    this.start();
  }

  /**
   * Waits (up to `timeoutMs`) until the queued OTA reports are sent: going down with one in
   * flight would send it again after the restart, and the server refuses repeats.
   */
  async drainOta(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.otaOutbox.length > 0 || this.flushingOta) && this.online && Date.now() < deadline) await sleep(20);
  }

  private async disconnect(): Promise<void> {
    this.stopped = true;
    this.updater?.stop();
    clearTimeout(this.otaRetryTimer);
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.retryTimer);
    this.stopHttp();
    const client = this.client;
    this.client = undefined;
    this.mqttUp = false;
    this.failAwaitingAcks();
    this.setTransport('offline');
    if (client) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => client.end(true, () => resolve()), 2000);
        client.end(false, () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Closes the MQTT connection abruptly, as a network failure would (failure injection). */
  dropConnection(): void {
    this.client?.stream.destroy();
  }

  /** Queues a reading; it is sent (now, or in order once connected) from the buffer. */
  sendTelemetry(values: Record<string, unknown>, ts = Date.now()): void {
    this.buffer.append({ ts, values });
    this.pump();
  }

  /** Merges `patch` into the reported twin (sent now, or on the next connection). */
  reportProperties(patch: Record<string, unknown>): void {
    this.pendingReported = this.pendingReported ? composePatches(this.pendingReported, patch) : patch;
    void this.flushReported();
  }

  /** Sends the log backlog; resolves to the number of records sent. */
  async uploadLogs(): Promise<number> {
    const records = this.log.snapshot();
    for (let i = 0; i < records.length; i += LOG_BATCH) {
      const batch = records.slice(i, i + LOG_BATCH);
      if (this.mqttUp) await this.publish(deviceTopic(this.deviceId, 'logs'), batch);
      else if (this.httpMode) await this.http('POST', '/device/v1/logs', batch);
      else throw new Error('the agent is offline');
    }
    return records.length;
  }

  // ---- MQTT -------------------------------------------------------------------------------

  private async connectMqtt(): Promise<void> {
    const release = this.options.connectGate ? await this.options.connectGate.acquire() : (): void => undefined;
    if (this.stopped) return release();
    const generation = ++this.generation;
    const timeoutMs = this.options.connectTimeoutMs ?? 10_000;
    const client = connect(this.options.server, this.mqttOptions(timeoutMs));
    this.client = client;
    let settled = false;
    const fail = (reason: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      release();
      this.discard(client);
      this.onMqttFailure(`connect: ${reason}`);
    };
    // MQTT.js may never settle when a TLS server drops the client after the handshake.
    const timer = setTimeout(() => fail('timeout'), timeoutMs);
    client.once('connect', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      release();
      if (generation === this.generation) this.onMqttConnected(client, generation);
    });
    client.on('error', (err) => {
      if (!settled) fail(describeError(err));
      else if (generation === this.generation) this.log.warn(`mqtt: ${describeError(err)}`);
    });
    client.on('close', () => {
      if (!settled) fail('connection closed');
      else if (generation === this.generation && !this.stopped) this.onMqttLost(client);
    });
    client.on('message', (topic, payload) => {
      if (generation !== this.generation) return;
      // The server sends only after granting the subscription; mqtt.js may hand us a message that
      // came in the SUBACK's read before the subscribe callback runs, and a command must already
      // see the agent online over MQTT.
      this.markMqttUp();
      this.onMessage(topic, payload);
    });
  }

  private mqttOptions(timeoutMs: number): IClientOptions {
    const c = this.options.credential;
    return {
      clientId: this.deviceId,
      // MQTT 5: a server refuses one publish with a PUBACK reason code instead of closing the connection.
      protocolVersion: 5,
      clean: true,
      keepalive: this.options.keepaliveSec ?? 60,
      // Reconnects are ours: backoff with full jitter, and the HTTP fallback between them.
      reconnectPeriod: 0,
      connectTimeout: timeoutMs + 1000,
      ...(c.kind === 'token' ? { username: this.deviceId, password: c.token } : { cert: c.certPem, key: c.keyPem }),
      ...(this.options.caPem ? { ca: this.options.caPem } : {}),
    };
  }

  private onMqttConnected(client: MqttClient, generation: number): void {
    const base = deviceTopic(this.deviceId);
    const topics: Record<string, { qos: 1 }> = { [`${base}/twin/desired`]: { qos: 1 }, [`${base}/commands/+`]: { qos: 1 } };
    if (this.updater) topics[`${base}/ota`] = { qos: 1 };
    client.subscribe(topics, (err, granted) => {
      if (generation !== this.generation || this.stopped) return;
      const refused = granted?.find((g) => g.qos >= 0x80); // a SUBACK failure code (0x80 and up in MQTT 5)
      if (err || refused) {
        this.log.error(`mqtt: subscribing was refused (${err ? describeError(err) : refused!.topic}); retrying`);
        if (this.mqttUp) {
          this.mqttUp = false;
          this.setTransport(this.httpMode ? 'http' : 'offline');
        }
        this.discard(client);
        this.onMqttFailure('subscribe refused');
        return;
      }
      this.markMqttUp();
    });
  }

  /** Online over MQTT: once per connection, at the SUBACK or at the first message before it. */
  private markMqttUp(): void {
    if (this.mqttUp) return;
    this.failures = 0;
    this.mqttUp = true;
    this.stopHttp();
    this.log.info(`connected over MQTT to ${this.options.server}`);
    this.setTransport('mqtt');
    this.onOnline();
  }

  private onMqttLost(client: MqttClient): void {
    this.generation += 1;
    this.failAwaitingAcks();
    this.discard(client);
    if (this.mqttUp) {
      this.mqttUp = false;
      this.log.warn('MQTT connection lost');
      this.setTransport(this.httpMode ? 'http' : 'offline');
    }
    this.onMqttFailure(undefined);
  }

  private onMqttFailure(reason: string | undefined): void {
    if (this.stopped) return;
    if (reason) this.log.warn(`mqtt ${reason}`);
    const delay = backoffDelay(this.failures, this.backoff);
    this.failures += 1;
    if (this.failures >= (this.options.httpFallbackAfter ?? 2) && this.options.httpUrl && !this.httpMode) this.startHttp();
    this.reconnectTimer = setTimeout(() => void this.connectMqtt(), delay);
  }

  private discard(client: MqttClient): void {
    if (this.client === client) this.failAwaitingAcks();
    client.removeAllListeners();
    client.on('error', () => undefined);
    client.end(true);
    if (this.client === client) this.client = undefined;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const parts = topic.split('/');
    if (parts[0] !== 'devices' || parts[1] !== this.deviceId) return;
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      this.log.warn(`ignored a message on ${topic} that is not JSON`);
      return;
    }
    if (parts.length === 4 && parts[2] === 'twin' && parts[3] === 'desired') void this.desired.offer(body);
    else if (parts.length === 4 && parts[2] === 'commands') this.onCommandMessage(parts[3]!, body);
    else if (parts.length === 3 && parts[2] === 'ota') this.updater?.offer(body);
  }

  private publish(topic: string, body: unknown): Promise<void> {
    const client = this.client;
    if (!client || !this.mqttUp) return Promise.reject(new Error('MQTT is not connected'));
    return new Promise((resolve, reject) => {
      // MQTT.js may never call back for a message in flight when the socket dies; the
      // buffer's sender must not wait for ever, so a lost connection fails it here.
      const fail = (err: Error): void => {
        this.awaitingAck.delete(fail);
        reject(err);
      };
      this.awaitingAck.add(fail);
      client.publish(topic, JSON.stringify(body), { qos: 1 }, (err) => {
        if (!this.awaitingAck.delete(fail)) return;
        if (err) reject(err);
        else resolve();
      });
    });
  }

  private failAwaitingAcks(): void {
    for (const fail of [...this.awaitingAck]) fail(new Error('the MQTT connection was lost before the acknowledgement'));
  }

  // ---- HTTP fallback --------------------------------------------------------------------------

  private startHttp(): void {
    const abort = new AbortController();
    this.httpMode = abort;
    this.log.warn(`MQTT unreachable: serving the device over HTTP at ${this.options.httpUrl} while retrying MQTT`);
    this.setTransport('http');
    this.onOnline();
    void this.pollLoop(abort.signal, 'desired');
    void this.pollLoop(abort.signal, 'commands');
    if (this.updater) void this.pollLoop(abort.signal, 'ota');
  }

  private stopHttp(): void {
    this.httpMode?.abort();
    this.httpMode = undefined;
  }

  private async pollLoop(signal: AbortSignal, what: 'desired' | 'commands' | 'ota'): Promise<void> {
    const wait = Math.min(60, this.options.httpWaitSec ?? 30);
    const idleMs = this.options.httpIdlePollMs ?? 5000;
    let failures = 0;
    while (!signal.aborted) {
      const t0 = Date.now();
      let fresh = false;
      try {
        if (what === 'desired') {
          const answer = await this.httpRaw('GET', `/device/v1/twin/desired?${this.desired.version >= 0 ? `version=${this.desired.version}&` : ''}wait=${wait}`, undefined, (wait + 15) * 1000, signal);
          if (answer.status === 200) {
            const doc = JSON.parse(answer.body) as Record<string, unknown>;
            fresh = typeof doc.$version === 'number' && doc.$version > this.desired.version;
            await this.desired.offer(doc);
          } else if (answer.status !== 204) throw new Error(describeRefusal(answer));
        } else if (what === 'ota') {
          const current = this.updater!.deploymentId;
          const answer = await this.httpRaw('GET', `/device/v1/ota?wait=${wait}${current ? `&deploymentId=${encodeURIComponent(current)}` : ''}`, undefined, (wait + 15) * 1000, signal);
          if (answer.status === 200) {
            const offer = JSON.parse(answer.body) as { deploymentId?: unknown };
            fresh = (offer.deploymentId ?? null) !== current;
            this.updater!.offer(offer);
          } else if (answer.status !== 204) throw new Error(describeRefusal(answer));
        } else {
          const answer = await this.httpRaw('GET', `/device/v1/commands?wait=${wait}`, undefined, (wait + 15) * 1000, signal);
          if (answer.status === 200) {
            const items = (JSON.parse(answer.body) as { items?: unknown[] }).items ?? [];
            for (const item of items) if (isPlainObject(item) && typeof item.id === 'string') this.onCommandMessage(item.id, item);
            fresh = items.length > 0;
          } else if (answer.status !== 204) throw new Error(describeRefusal(answer));
        }
        failures = 0;
      } catch (err) {
        if (signal.aborted) return;
        this.log.warn(`http ${what} poll: ${err instanceof Error ? err.message : String(err)}`);
        await sleep(backoffDelay(failures++, this.backoff), signal);
        continue;
      }
      // A server that answers at once (no long-poll support) is polled gently, not in a busy loop.
      if (!fresh && Date.now() - t0 < 1000) await sleep(idleMs, signal);
    }
  }

  private async http(method: string, path: string, body: unknown): Promise<string> {
    const answer = await this.httpRaw(method, path, body, 30_000);
    if (answer.status >= 300) throw new HttpError(`${method} ${path}: ${describeRefusal(answer)}`, answer.status);
    return answer.body;
  }

  private httpRaw(method: string, path: string, body: unknown, timeoutMs: number, signal?: AbortSignal): ReturnType<typeof httpRequest> {
    const c = this.options.credential;
    const auth: HttpAuth = { deviceId: this.deviceId, caPem: this.options.caPem, ...(c.kind === 'token' ? { token: c.token } : { certPem: c.certPem, keyPem: c.keyPem }) };
    const base = this.options.httpUrl!.replace(/\/+$/, '');
    return httpRequest(`${base}${path}`, {
      method,
      auth,
      body,
      timeoutMs,
      ...(method === 'PATCH' ? { contentType: 'application/merge-patch+json' } : {}),
      ...(signal ? { signal } : {}),
    });
  }

  // ---- what both transports share ---------------------------------------------------------

  private get online(): boolean {
    return this.mqttUp || this.httpMode !== undefined;
  }

  private setTransport(t: Transport): void {
    if (t === this.current) return;
    this.current = t;
    this.emit('transport', t);
  }

  private onOnline(): void {
    const version = this.updater?.version;
    const facts = version !== undefined ? { ...this.options.facts, firmwareVersion: version } : this.options.facts;
    if (facts) this.reportProperties(facts);
    else void this.flushReported();
    void this.flushResults();
    void this.flushOta();
    this.pump();
  }

  /** Sends the buffer, oldest first, while a transport is up; a failure retries after a backoff. */
  private pump(): void {
    if (this.draining || !this.online || this.stopped) return;
    this.draining = true;
    void (async () => {
      let failed = false;
      try {
        while (this.online && this.buffer.size > 0) {
          const { records, span } = this.buffer.peek(REPLAY_BATCH);
          if (records.length > 0) await this.sendRecords(records);
          this.buffer.ack(span);
        }
      } catch (err) {
        failed = true;
        this.log.warn(`telemetry not sent (kept in the buffer): ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        this.draining = false;
      }
      if (this.buffer.dropped !== this.reportedDropped && this.online) {
        this.reportedDropped = this.buffer.dropped;
        this.reportProperties({ telemetryDropped: this.buffer.dropped });
      }
      if (failed && !this.stopped) {
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.pump(), backoffDelay(2, this.backoff));
      }
    })();
  }

  private async sendRecords(records: TelemetryRecord[]): Promise<void> {
    const body = records.length === 1 ? records[0] : records;
    if (this.mqttUp) await this.publish(deviceTopic(this.deviceId, 'telemetry'), body);
    else if (this.httpMode) await this.http('POST', '/device/v1/telemetry', body);
    else throw new Error('offline');
  }

  private async flushReported(): Promise<void> {
    const patch = this.pendingReported;
    if (!patch || !this.online) return;
    this.pendingReported = undefined;
    try {
      if (this.mqttUp) await this.publish(deviceTopic(this.deviceId, 'twin', 'reported'), patch);
      else await this.http('PATCH', '/device/v1/twin/reported', patch);
    } catch (err) {
      if (refusedByServer(err)) {
        // Sending it again would be refused again (and hold back every later patch merged into it).
        this.log.error(`the server refused reported state ${JSON.stringify(patch).slice(0, 200)}: ${describeError(err)}`);
        return;
      }
      this.pendingReported = this.pendingReported ? composePatches(patch, this.pendingReported) : patch;
      this.log.warn(`reported state not sent (kept for the next connection): ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private onDesiredApplied(outcome: DesiredOutcome): void {
    for (const [key, error] of Object.entries(outcome.rejected)) this.log.warn(`desired ${key} (version ${outcome.version}) refused: ${error}`);
    if (outcome.applied.length > 0) this.log.info(`applied desired ${outcome.applied.join(', ')} (version ${outcome.version})`);
    if (outcome.reported) this.reportProperties(outcome.reported);
    this.emit('desired', outcome);
  }

  private onCommandMessage(id: string, body: unknown): void {
    if (!isPlainObject(body) || typeof body.name !== 'string') {
      this.pendingResults.set(id, { status: 'failed', result: null, error: 'the command is not {"name", "params", …}' });
      void this.flushResults();
      return;
    }
    const request: CommandRequest = {
      id,
      name: body.name,
      params: body.params ?? null,
      expiresAt: typeof body.expiresAt === 'number' ? body.expiresAt : null,
      timeoutSec: typeof body.timeoutSec === 'number' ? body.timeoutSec : 0,
    };
    void this.commands.execute(request).then((result) => {
      if (result.status === 'failed') this.log.warn(`command ${request.name} (${id}) failed: ${result.error ?? ''}`);
      else this.log.info(`command ${request.name} (${id}) succeeded`);
      this.emit('command', request, result);
      this.pendingResults.set(id, result);
      void this.flushResults();
    });
  }

  private async flushResults(): Promise<void> {
    // One flush at a time: a result sent twice would be refused by the server as a duplicate.
    if (this.flushingResults) return;
    this.flushingResults = true;
    try {
      while (this.pendingResults.size > 0 && this.online) {
        if (!(await this.sendResults())) return;
      }
    } finally {
      this.flushingResults = false;
    }
  }

  /** Sends the results pending now; false when one could not be sent. */
  private async sendResults(): Promise<boolean> {
    for (const [id, result] of [...this.pendingResults]) {
      if (!this.online) return false;
      try {
        if (this.mqttUp) await this.publish(deviceTopic(this.deviceId, 'commands', id, 'result'), result);
        else await this.http('POST', `/device/v1/commands/${encodeURIComponent(id)}/result`, result);
        this.pendingResults.delete(id);
      } catch (err) {
        if (refusedByServer(err)) {
          // An unknown, finished or duplicate command: the server will never take this result.
          this.pendingResults.delete(id);
          this.log.error(`the server refused the result of command ${id}: ${describeError(err)}`);
          continue;
        }
        this.log.warn(`result of command ${id} not sent yet: ${err instanceof Error ? err.message : String(err)}`);
        return false;
      }
    }
    return true;
  }

  // ---- OTA ------------------------------------------------------------------------------------

  private otaHost(ota: AgentOtaOptions): OtaHost {
    return {
      log: this.log,
      caPem: this.options.caPem,
      report: (report) => this.queueOtaReport(report),
      versionChanged: (version) => this.reportProperties({ firmwareVersion: version }),
      resolveUrl: (path) => (this.options.httpUrl ? new URL(path, `${this.options.httpUrl.replace(/\/+$/, '')}/`).toString() : undefined),
      ...(this.options.httpUrl
        ? {
            fetchKeys: async (): Promise<FirmwareSigningKey[]> => {
              const body = JSON.parse(await this.http('GET', '/device/v1/firmware/signing-keys', undefined)) as unknown;
              const list = Array.isArray(body) ? body : ((body as { items?: unknown[] } | null)?.items ?? []);
              return list.filter(isSigningKey);
            },
            fetchOffer: async (): Promise<OtaOffer> => JSON.parse(await this.http('GET', '/device/v1/ota', undefined)) as OtaOffer,
          }
        : {}),
      restart: ota.restart ?? ((): void => void this.restart()),
    };
  }

  private queueOtaReport(report: OtaStatusReport): Promise<void> {
    this.emit('ota', report);
    return new Promise((resolve) => {
      const last = this.otaOutbox.at(-1);
      // Progress not sent yet is replaced by newer progress: the server needs the latest only.
      if (last && !this.flushingOta && report.state === 'downloading' && last.report.state === 'downloading' && last.report.deploymentId === report.deploymentId) {
        last.done();
        this.otaOutbox[this.otaOutbox.length - 1] = { report, done: resolve };
      } else this.otaOutbox.push({ report, done: resolve });
      void this.flushOta();
    });
  }

  private async flushOta(): Promise<void> {
    if (this.flushingOta) return;
    this.flushingOta = true;
    try {
      while (this.otaOutbox.length > 0 && this.online) {
        const next = this.otaOutbox[0]!;
        try {
          if (this.mqttUp) await this.publish(deviceTopic(this.deviceId, 'ota', 'status'), next.report);
          else await this.http('POST', '/device/v1/ota/status', next.report);
        } catch (err) {
          if (!refusedByServer(err)) {
            this.log.warn(`OTA status ${next.report.state} not sent yet: ${describeError(err)}`);
            clearTimeout(this.otaRetryTimer);
            if (!this.stopped) this.otaRetryTimer = setTimeout(() => void this.flushOta(), backoffDelay(2, this.backoff));
            return;
          }
          // Out of order, repeated, or a deployment the server no longer has: it will never take it.
          this.log.warn(`the server refused OTA status ${JSON.stringify(next.report)}: ${describeError(err)}`);
        }
        this.otaOutbox.shift();
        next.done();
      }
    } finally {
      this.flushingOta = false;
    }
  }
}

/** The server answered no (an MQTT 5 PUBACK failure code, an HTTP 4xx), as opposed to a transport failure worth a retry. */
function refusedByServer(err: unknown): boolean {
  if (err instanceof HttpError) return err.status !== undefined && err.status >= 400 && err.status < 500;
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' && code >= 0x80;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
