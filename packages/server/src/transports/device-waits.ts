/** How a wait ended: something changed for the device, the time ran out, or the server is closing. */
export type WaitOutcome = 'changed' | 'timeout' | 'closed';

export interface DeviceWaitLimits {
  /** Concurrent waits of one device (a device polls with one or two requests; more is a bug or abuse). */
  perDevice: number;
  /** Concurrent waits of this node in all. */
  total: number;
}

const DEFAULT_LIMITS: DeviceWaitLimits = { perDevice: 4, total: 100_000 };

/**
 * Long-poll waits of devices (HTTP `?wait=`): a request parks here until `notify` says
 * something changed for its device, its time runs out, or the server closes. One map keyed by
 * device, so a change costs one lookup however many devices are waiting, and `close` ends every
 * wait at once: a server that shuts down never holds a long poll for its full minute.
 */
export class DeviceWaits {
  private readonly waiting = new Map<string, Set<(outcome: WaitOutcome) => void>>();
  private count = 0;
  private closed = false;

  constructor(private readonly limits: DeviceWaitLimits = DEFAULT_LIMITS) {}

  /** False when the device (or this node) already has as many waits as it may: answer at once instead. */
  admits(tenantId: string, deviceId: string): boolean {
    return !this.closed && this.count < this.limits.total && (this.waiting.get(key(tenantId, deviceId))?.size ?? 0) < this.limits.perDevice;
  }

  /** Waits up to `ms` for a change of the device; an aborted `signal` (the client went away) ends it as a timeout. */
  wait(tenantId: string, deviceId: string, ms: number, signal?: AbortSignal): Promise<WaitOutcome> {
    if (this.closed) return Promise.resolve('closed');
    const k = key(tenantId, deviceId);
    return new Promise<WaitOutcome>((resolve) => {
      const set = this.waiting.get(k) ?? new Set();
      this.waiting.set(k, set);
      const finish = (outcome: WaitOutcome): void => {
        if (!set.delete(finish)) return;
        this.count -= 1;
        if (set.size === 0 && this.waiting.get(k) === set) this.waiting.delete(k);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(outcome);
      };
      const onAbort = (): void => finish('timeout');
      const timer = setTimeout(() => finish('timeout'), ms);
      set.add(finish);
      this.count += 1;
      if (signal?.aborted) finish('timeout');
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Something changed for the device: every wait of it ends with `changed`. */
  notify(tenantId: string, deviceId: string): void {
    const set = this.waiting.get(key(tenantId, deviceId));
    if (!set) return;
    for (const finish of [...set]) finish('changed');
  }

  get size(): number {
    return this.count;
  }

  /** Ends every wait (`closed`) and refuses new ones. */
  close(): void {
    this.closed = true;
    for (const set of [...this.waiting.values()]) for (const finish of [...set]) finish('closed');
  }
}

function key(tenantId: string, deviceId: string): string {
  return `${tenantId}\u0000${deviceId}`;
}
