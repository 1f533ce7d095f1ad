/**
 * N simulated LwM2M devices against one server: the load of `hangar-agent simulate --protocol
 * lwm2m` and of the LwM2M benchmark. Each device has its own socket (or DTLS session), registers
 * paced by a rate and a concurrency bound, takes readings, answers the server and de-registers
 * at the end. Counters say how many registrations succeeded and how many notifications went out.
 */
import { setMaxListeners } from 'node:events';
import { builtinObjectRegistry } from '@hangar/protocol/lwm2m';
import { ConnectGate, sleep } from '../simulator/pacer.js';
import type { CoapTiming } from './coap-endpoint.js';
import type { FirmwareFailures } from './firmware-update.js';
import { Lwm2mClient } from './lwm2m-client.js';
import type { PskCredentials } from './transport.js';

export interface Lwm2mFleetDevice {
  endpointName: string;
  /** Required for a coaps:// server. */
  psk?: PskCredentials;
}

export interface Lwm2mFleetOptions {
  /** `coap://host:port` or `coaps://host:port`. */
  serverUri: string;
  /** `serverUri` is a bootstrap server: each device bootstraps first and registers where it is told. */
  bootstrap?: boolean;
  devices: Lwm2mFleetDevice[];
  lifetimeSec?: number;
  queueMode?: boolean;
  /** Milliseconds between temperature readings per device (default 10 000; 0: none). */
  temperatureIntervalMs?: number;
  /** Milliseconds between Sends of the temperature per device (default 0: none). */
  sendIntervalMs?: number;
  /** Registrations started per second at most (default 500) and in flight at most (default 100). */
  registerRate?: number;
  registerConcurrency?: number;
  /** Seconds to keep running once every device has tried to register (default: until `signal`). */
  durationSec?: number;
  signal?: AbortSignal;
  timing?: Partial<CoapTiming>;
  firmwareVersion?: string;
  /** Percent of devices (0–100) whose firmware download breaks, fails its integrity check, or fails to install. */
  firmwareFailuresPct?: { download?: number; integrity?: number; update?: number };
  onProgress?(stats: Lwm2mFleetStats): void;
  progressIntervalMs?: number;
}

export interface Lwm2mFleetStats {
  devices: number;
  /** Devices registered now. */
  registered: number;
  registrationsDone: number;
  registrationsFailed: number;
  updates: number;
  notificationsSent: number;
  sends: number;
  sendsFailed: number;
  requestsAnswered: number;
  firmwareUpdated: number;
  /** Milliseconds from the first registration attempt until every device had its first outcome. */
  registrationPhaseMs: number | undefined;
  elapsedMs: number;
}

export interface Lwm2mFleetSummary extends Lwm2mFleetStats {
  serverUri: string;
  /** Registrations per second over the registration phase. */
  registrationsPerSecond: number | undefined;
  /** The first few failure reasons, with counts. */
  failures: Record<string, number>;
}

export class Lwm2mFleet {
  readonly clients: Lwm2mClient[];
  private readonly started = performance.now();
  private registrationPhaseMs: number | undefined;
  private sendsFailed = 0;
  private readonly failures = new Map<string, number>();
  private readonly timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private readonly gate: ConnectGate;
  private readonly abort = new AbortController();

  constructor(private readonly options: Lwm2mFleetOptions) {
    // One registry for the whole fleet: the clients only read it.
    const registry = builtinObjectRegistry();
    const pct = (p: number | undefined, i: number): boolean => p !== undefined && p > 0 && ((i * 7919) % 100) < p;
    this.clients = options.devices.map((device, i) => {
      const failures: FirmwareFailures = {
        download: pct(options.firmwareFailuresPct?.download, i),
        integrity: pct(options.firmwareFailuresPct?.integrity, i + 31),
        update: pct(options.firmwareFailuresPct?.update, i + 61),
      };
      return new Lwm2mClient({
        endpointName: device.endpointName,
        ...(options.bootstrap ? { bootstrapUri: options.serverUri } : { serverUri: options.serverUri }),
        registry,
        ...(device.psk ? { psk: device.psk } : {}),
        lifetimeSec: options.lifetimeSec ?? 300,
        queueMode: options.queueMode ?? false,
        temperatureIntervalMs: 0,
        ...(options.timing ? { timing: options.timing } : {}),
        device: { firmwareVersion: options.firmwareVersion ?? '1.0.0' },
        firmware: { failures },
        onEvent: (e) => {
          if (e.type === 'registration_failed') this.recordFailure(e.error);
        },
      });
    });
    this.gate = new ConnectGate(options.registerRate ?? 500, options.registerConcurrency ?? 100);
    // Every device waiting at the gate listens for the abort.
    setMaxListeners(0, this.abort.signal);
  }

  /** Registers every device (paced); resolves when each has registered or failed once. */
  async registerAll(): Promise<void> {
    const begin = performance.now();
    await Promise.all(
      this.clients.map(async (client) => {
        const release = await this.gate.acquire(this.abort.signal);
        try {
          if (this.stopping) return;
          await client.start();
          this.startActivity(client);
        } catch {
          // Counted by the client (registrationFailures) and in `failures`.
        } finally {
          release();
        }
      }),
    );
    this.registrationPhaseMs = performance.now() - begin;
  }

  private startActivity(client: Lwm2mClient): void {
    const reading = this.options.temperatureIntervalMs ?? 10_000;
    // Spread the devices' readings over the interval rather than all on one tick.
    if (reading > 0) {
      const first = setTimeout(() => {
        client.readTemperature();
        this.timers.push(setInterval(() => client.readTemperature(), reading));
      }, Math.random() * reading);
      this.timers.push(first);
    }
    const send = this.options.sendIntervalMs ?? 0;
    if (send > 0) {
      this.timers.push(
        setInterval(() => {
          if (!client.registered) return;
          client.send(['/3303/0/5700']).catch((err: Error) => {
            this.sendsFailed += 1;
            this.recordFailure(`send: ${err.message}`);
          });
        }, send),
      );
    }
  }

  stats(): Lwm2mFleetStats {
    const s: Lwm2mFleetStats = {
      devices: this.clients.length,
      registered: 0,
      registrationsDone: 0,
      registrationsFailed: 0,
      updates: 0,
      notificationsSent: 0,
      sends: 0,
      sendsFailed: this.sendsFailed,
      requestsAnswered: 0,
      firmwareUpdated: 0,
      registrationPhaseMs: this.registrationPhaseMs,
      elapsedMs: performance.now() - this.started,
    };
    const initial = this.options.firmwareVersion ?? '1.0.0';
    for (const c of this.clients) {
      if (c.registered) s.registered += 1;
      s.registrationsDone += c.stats.registrations;
      s.registrationsFailed += c.stats.registrationFailures;
      s.updates += c.stats.updates;
      s.notificationsSent += c.stats.notificationsSent;
      s.sends += c.stats.sends;
      s.requestsAnswered += c.stats.requestsAnswered;
      if (c.device.firmwareVersion !== initial) s.firmwareUpdated += 1;
    }
    return s;
  }

  failureReasons(): Record<string, number> {
    return Object.fromEntries(this.failures);
  }

  /** De-registers every device (in parallel, bounded) and closes their sockets. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.abort.abort();
    this.gate.drain();
    for (const t of this.timers.splice(0)) clearTimeout(t);
    const queue = [...this.clients];
    const worker = async (): Promise<void> => {
      for (let c = queue.shift(); c; c = queue.shift()) await c.stop();
    };
    await Promise.all(Array.from({ length: Math.min(200, queue.length) }, worker));
  }

  private recordFailure(reason: string): void {
    // Keep the reason shape, not every endpoint name: a few distinct keys.
    const key = reason.replace(/[0-9a-f]{8,}/gi, '…').slice(0, 120);
    if (this.failures.size >= 20 && !this.failures.has(key)) return;
    this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
  }
}

/** Starts the fleet, registers it, runs for `durationSec` (or until `signal`), stops it and sums up. */
export async function runLwm2mFleet(options: Lwm2mFleetOptions): Promise<Lwm2mFleetSummary> {
  const fleet = new Lwm2mFleet(options);
  const progressEvery = options.progressIntervalMs ?? 1000;
  const progress = options.onProgress ? setInterval(() => options.onProgress!(fleet.stats()), progressEvery) : undefined;
  const onAbort = (): void => void fleet.stop();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await fleet.registerAll();
    const duration = options.durationSec ?? Infinity;
    if (!options.signal?.aborted && duration > 0) {
      if (Number.isFinite(duration)) await sleep(duration * 1000, options.signal);
      else if (options.signal) await new Promise<void>((resolve) => options.signal!.addEventListener('abort', () => resolve(), { once: true }));
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    clearInterval(progress);
  }
  // Counted before stopping, so that `registered` says how many were registered at the end.
  const stats = fleet.stats();
  await fleet.stop();
  const phase = stats.registrationPhaseMs;
  return {
    serverUri: options.serverUri,
    ...stats,
    registrationsPerSecond: phase && phase > 0 ? Math.round((stats.registrationsDone / phase) * 1000 * 10) / 10 : undefined,
    failures: fleet.failureReasons(),
  };
}
