/** One armed wait: resolves true when woken, false when its time ran out or it was cancelled. */
export interface ArmedWait {
  readonly promise: Promise<boolean>;
  cancel(): void;
}

interface Waiter {
  resolve(woken: boolean): void;
  timer: NodeJS.Timeout;
}

/**
 * Long-poll waits keyed by what they wait for (a device's commands, its desired twin). Arm the
 * wait BEFORE reading the state, then read, then await it: a change landing between the read
 * and the wait still wakes it. In memory: a change on another node reaches this one as a bus
 * event, which is what calls `wake`.
 */
export class DeviceWaiters {
  private readonly waiting = new Map<string, Set<Waiter>>();
  private closed = false;

  arm(key: string, ms: number): ArmedWait {
    let waiter!: Waiter;
    const promise = new Promise<boolean>((resolve) => {
      waiter = {
        resolve: (woken) => {
          clearTimeout(waiter.timer);
          const set = this.waiting.get(key);
          if (set?.delete(waiter) && set.size === 0) this.waiting.delete(key);
          resolve(woken);
        },
        timer: setTimeout(() => waiter.resolve(false), Math.max(0, ms)),
      };
    });
    if (this.closed || ms <= 0) {
      waiter.resolve(false);
    } else {
      let set = this.waiting.get(key);
      if (!set) this.waiting.set(key, (set = new Set()));
      set.add(waiter);
    }
    return { promise, cancel: () => waiter.resolve(false) };
  }

  /** Waits armed on `key` now: a caller may cap a device's concurrent long polls with it. */
  waitingOn(key: string): number {
    return this.waiting.get(key)?.size ?? 0;
  }

  /** Wakes every wait on `key`. */
  wake(key: string): void {
    const set = this.waiting.get(key);
    if (!set) return;
    for (const w of [...set]) w.resolve(true);
  }

  /** Waits armed now (tests, metrics). */
  get size(): number {
    let n = 0;
    for (const set of this.waiting.values()) n += set.size;
    return n;
  }

  /** Ends every wait (a closing server answers its long-polls at once) and refuses new ones. */
  close(): void {
    this.closed = true;
    for (const set of [...this.waiting.values()]) for (const w of [...set]) w.resolve(false);
  }
}

/** The key of a device's waits of one kind. */
export function waiterKey(kind: string, tenantId: string, deviceId: string): string {
  return `${kind}\u0000${tenantId}\u0000${deviceId}`;
}
