import type { KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { HangarError } from '../../../errors.js';
import type { CsrIssuance, CsrIssueRequest } from './csr-issuance.js';
import type { IssueAnswer, IssueTask } from './issuance-worker.js';

export interface PoolCa {
  /** Stable id: each worker checks a CA once and keeps its issuer under this id. */
  id: string;
  certificatePem: string;
  privateKey: KeyObject;
}

interface Slot {
  worker: Worker;
  /** CAs this worker already holds. */
  cas: Set<string>;
  pending: Map<number, { resolve: (value: CsrIssuance) => void; reject: (error: unknown) => void; sentCa?: string }>;
}

/**
 * Worker threads that certify CSRs (`issueFromCsr`) off the main thread. Reading a CSR,
 * checking its signature and signing the certificate is ~0.2 ms of CPU per request; on the
 * main thread it competes with routing, JSON and the store, while the other cores idle.
 * Tasks go to the worker with the fewest in flight. A worker that dies fails its tasks with
 * an internal error and is replaced on the next task. Workers are unref'd: an unclosed pool
 * never keeps the process alive, but `close()` ends them.
 */
export class IssuancePool {
  private readonly slots: Array<Slot | undefined>;
  private nextId = 1;
  private closed = false;

  /** `size` workers; default one per core beyond the main thread's, at most 4. */
  constructor(size = defaultPoolSize()) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`an issuance pool needs at least one worker, not ${size}`);
    this.slots = new Array<Slot | undefined>(size).fill(undefined);
  }

  get size(): number {
    return this.slots.length;
  }

  issueFromCsr(ca: PoolCa, request: CsrIssueRequest): Promise<CsrIssuance> {
    if (this.closed) return Promise.reject(new Error('the issuance pool is closed'));
    const slot = this.leastBusy();
    const id = this.nextId++;
    const sendCa = !slot.cas.has(ca.id);
    const task: IssueTask = { id, caId: ca.id, request, ...(sendCa ? { ca: { certificatePem: ca.certificatePem, privateKey: ca.privateKey } } : {}) };
    slot.cas.add(ca.id);
    return new Promise<CsrIssuance>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject, ...(sendCa ? { sentCa: ca.id } : {}) });
      slot.worker.postMessage(task);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const running = this.slots.filter((s): s is Slot => s !== undefined);
    this.slots.fill(undefined);
    await Promise.all(running.map((s) => s.worker.terminate()));
  }

  private leastBusy(): Slot {
    let best = -1;
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[i];
      if (!slot) return (this.slots[i] = this.spawn(i));
      if (best < 0 || slot.pending.size < (this.slots[best] as Slot).pending.size) best = i;
    }
    return this.slots[best] as Slot;
  }

  private spawn(index: number): Slot {
    const worker = startWorker();
    worker.unref();
    const slot: Slot = { worker, cas: new Set(), pending: new Map() };
    worker.on('message', (answer: IssueAnswer) => {
      const waiting = slot.pending.get(answer.id);
      if (!waiting) return;
      slot.pending.delete(answer.id);
      if (answer.ok) return waiting.resolve(answer.value);
      // The worker may not have kept the CA this task brought: send it again next time.
      if (waiting.sentCa !== undefined) slot.cas.delete(waiting.sentCa);
      waiting.reject(answer.error.code ? new HangarError(answer.error.code, answer.error.message) : new Error(`certificate issuance failed: ${answer.error.message}`));
    });
    const fail = (error: unknown): void => {
      if (this.slots[index] === slot) this.slots[index] = undefined;
      for (const waiting of slot.pending.values()) waiting.reject(new Error('the certificate issuance worker stopped', { cause: error }));
      slot.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    return slot;
  }
}

function defaultPoolSize(): number {
  return Math.min(4, Math.max(1, availableParallelism() - 1));
}

/**
 * Built code runs issuance-worker.js as it is. From TypeScript source (tests, `tsx`) the worker
 * needs tsx's loader, which a worker does not inherit from vitest, and which `--import` would
 * register too late for the worker's own entry: so a small entry registers it, then imports.
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./issuance-worker.js', import.meta.url));
  // tsx's ESM API (its CommonJS twin registers a path that does not exist from a worker).
  const api = new URL('./dist/esm/api/index.mjs', pathToFileURL(createRequire(import.meta.url).resolve('tsx/package.json'))).href;
  const entry = new URL('./issuance-worker.ts', import.meta.url).href;
  return new Worker(`import(${JSON.stringify(api)}).then(({ register }) => { register(); return import(${JSON.stringify(entry)}); });`, { eval: true });
}
