/**
 * Spreads a fleet over child processes: one Node thread of MQTT.js cannot saturate a fast
 * broker, and every process has its own open-file limit (20,000 devices need 20,000 sockets).
 * Each worker gets a contiguous share of the devices and of the connect rate.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FleetConfig } from './config.js';
import type { DeviceCredential } from './credentials.js';
import { wallClockMs, type FleetRunner } from './fleet.js';
import { mergeSnapshots, type StatsSnapshot } from './stats.js';
import type { FromWorker, ToWorker } from './worker-protocol.js';

/** Splits `items` into `parts` contiguous slices whose sizes differ by one at most. */
export function splitEvenly<T>(items: readonly T[], parts: number): T[][] {
  const out: T[][] = [];
  let start = 0;
  for (let i = 0; i < parts; i += 1) {
    const size = Math.floor(items.length / parts) + (i < items.length % parts ? 1 : 0);
    out.push(items.slice(start, start + size));
    start += size;
  }
  return out.filter((slice) => slice.length > 0);
}

/**
 * How to start the worker module: the compiled `.js` beside this file, or — when running from
 * the TypeScript source (tsx, vitest) — the `.ts` through tsx's loader.
 */
function workerEntry(): { path: string; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const path = fileURLToPath(new URL(fromSource ? './worker-main.ts' : './worker-main.js', import.meta.url));
  return { path, execArgv: fromSource ? ['--import', import.meta.resolve('tsx')] : [] };
}

class Worker {
  private readonly pending = new Map<number, (s: StatsSnapshot) => void>();
  private nextId = 1;
  private stopped: ((s: StatsSnapshot) => void) | undefined;
  private failure: Error | undefined;
  readonly ready: Promise<void>;

  constructor(private readonly child: ChildProcess) {
    let onReady!: () => void;
    let onFail!: (err: Error) => void;
    this.ready = new Promise((resolve, reject) => {
      onReady = resolve;
      onFail = reject;
    });
    // Failures are also reported through `error`; an unawaited rejection must not crash the parent.
    this.ready.catch(() => undefined);
    child.on('message', (raw) => {
      const m = raw as FromWorker;
      if (m.type === 'ready') onReady();
      else if (m.type === 'snapshot') {
        this.pending.get(m.id)?.(m.stats);
        this.pending.delete(m.id);
      } else if (m.type === 'stopped') this.stopped?.(m.stats);
      else if (m.type === 'failed') {
        this.failure = new Error(`simulator worker ${child.pid} failed: ${m.message}`);
        onFail(this.failure);
      }
    });
    child.on('exit', (code, signal) => {
      if (this.stopped) return;
      this.failure ??= new Error(`simulator worker ${child.pid} exited (${signal ?? `code ${code}`})`);
      onFail(this.failure);
      for (const resolve of this.pending.values()) resolve(emptyOnFailure());
    });
  }

  send(message: ToWorker): void {
    if (this.failure) throw this.failure;
    this.child.send(message);
  }

  snapshot(): Promise<StatsSnapshot> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.send({ type: 'snapshot', id });
    });
  }

  stop(): Promise<StatsSnapshot> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve(emptyOnFailure());
    return new Promise((resolve) => {
      this.stopped = resolve;
      this.child.once('exit', () => resolve(emptyOnFailure()));
      this.send({ type: 'stop' });
    });
  }

  get error(): Error | undefined {
    return this.failure;
  }
}

function emptyOnFailure(): StatsSnapshot {
  return mergeSnapshots([]);
}

export class WorkerPool implements FleetRunner {
  private readonly workers: Worker[];

  constructor(credentials: readonly DeviceCredential[], config: FleetConfig, workerCount: number) {
    const shares = splitEvenly(credentials, workerCount);
    const entry = workerEntry();
    this.workers = shares.map((share) => {
      const child = fork(entry.path, [], { execArgv: entry.execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const worker = new Worker(child);
      const part = share.length / credentials.length;
      worker.send({
        type: 'init',
        credentials: share,
        config: { ...config, connectRate: config.connectRate * part, connectConcurrency: Math.max(1, Math.round(config.connectConcurrency * part)) },
      });
      return worker;
    });
  }

  async start(): Promise<number> {
    // Process start-up (and tsx compiling the source) is not part of the connect phase.
    await Promise.all(this.workers.map((w) => w.ready));
    const at = wallClockMs();
    for (const w of this.workers) w.send({ type: 'start' });
    return at;
  }

  async snapshot(): Promise<StatsSnapshot> {
    this.throwIfFailed();
    return mergeSnapshots(await Promise.all(this.workers.map((w) => w.snapshot())));
  }

  async startPublishing(): Promise<void> {
    for (const w of this.workers) w.send({ type: 'publish' });
  }

  async stop(): Promise<StatsSnapshot> {
    return mergeSnapshots(await Promise.all(this.workers.map((w) => w.stop())));
  }

  private throwIfFailed(): void {
    const failed = this.workers.find((w) => w.error);
    if (failed) throw failed.error;
  }
}
