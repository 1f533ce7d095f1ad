/**
 * Runs `work` after `firstRunMs`, then `intervalMs` after each run ends (never two at once, and
 * a slow run delays the next rather than piling up). The timers are unref'd: they never keep
 * the process alive. Shared by the retention workers.
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(
    private readonly work: () => Promise<unknown>,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(firstRunMs: number, intervalMs: number): void {
    if (this.timer) return;
    this.stopping = false;
    const tick = (): void => {
      this.work()
        .catch(this.onError)
        .finally(() => {
          if (!this.stopping) {
            this.timer = setTimeout(tick, intervalMs);
            this.timer.unref();
          }
        });
    };
    this.timer = setTimeout(tick, firstRunMs);
    this.timer.unref();
  }

  /** Set by `stop`: a long run checks it to end early. */
  get stopped(): boolean {
    return this.stopping;
  }

  /** No further runs; a run under way is the owner's to await. */
  stop(): void {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
