/**
 * Bounds how fast and how many at once devices open connections: a server (or a kernel
 * listen backlog) flooded with thousands of simultaneous handshakes drops SYNs, and the
 * figure measured would be the retransmission timer, not the server.
 */
export class ConnectGate {
  private nextSlot = 0;
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  /**
   * @param ratePerSecond attempts started per second at most (Infinity: no bound)
   * @param concurrency attempts in progress (TCP + TLS + CONNECT/CONNACK) at most
   */
  constructor(
    private readonly ratePerSecond: number,
    private readonly concurrency: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(ratePerSecond > 0)) throw new RangeError(`connect rate must be positive, not ${ratePerSecond}`);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`connect concurrency must be a whole number ≥ 1, not ${concurrency}`);
  }

  /** How long to wait before the next attempt may start, reserving that slot. */
  reserveDelay(): number {
    if (this.ratePerSecond === Infinity) return 0;
    const now = this.now();
    const slot = Math.max(now, this.nextSlot);
    this.nextSlot = slot + 1000 / this.ratePerSecond;
    return slot - now;
  }

  /** Lets every waiting attempt through at once (they find the fleet stopping and give up). */
  drain(): void {
    for (const next of this.waiting.splice(0)) next();
  }

  /** Resolves when an attempt may start; call the returned function when it has ended. */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    // A released slot passes straight to the next waiter, so no newcomer can slip in between.
    if (this.active < this.concurrency) this.active += 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    };
    const delay = this.reserveDelay();
    if (delay > 0 && !signal?.aborted) await sleep(delay, signal);
    return release;
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
