/**
 * Applies desired twin documents (`{"$version":n, …desired}`) through handlers registered per
 * property, and says what to report: the values applied, and the ones refused under
 * `lastDesiredError`. Documents are applied one at a time; one that arrives while another is
 * being applied waits, and only the newest waiting one is applied. A `$version` at or below the
 * one already applied is ignored, so a stale or repeated document (a redelivery, a reconnect)
 * never undoes a newer one.
 */

/** Gets the new value (`null` once the property was deleted from desired); throws to refuse it. */
export type DesiredHandler = (value: unknown, key: string) => void | Promise<void>;

export interface DesiredOutcome {
  version: number;
  /** The reported patch to send (RFC 7396 merge patch), or undefined when nothing changed. */
  reported: Record<string, unknown> | undefined;
  applied: string[];
  rejected: Record<string, string>;
}

/** Key under which refused values are reported: reported twin keys cannot start with `$`. */
export const DESIRED_ERROR_KEY = 'lastDesiredError';
/** Key under which the applied `$version` is reported, so an operator sees how far the device got. */
export const DESIRED_VERSION_KEY = 'desiredVersion';

export class DesiredState {
  private readonly handlers = new Map<string, DesiredHandler>();
  private fallback: DesiredHandler | undefined;
  private appliedVersion = -1;
  /** Desired values as last applied (or refused: a refused value is not retried until it changes). */
  private seen = new Map<string, string>();
  private running: Promise<void> | undefined;
  private pending: Record<string, unknown> | undefined;
  private hadError = false;

  constructor(private readonly report: (outcome: DesiredOutcome) => void | Promise<void>) {}

  /** `key` `*` handles every property that has no handler of its own. */
  on(key: string, handler: DesiredHandler): void {
    if (key === '*') this.fallback = handler;
    else this.handlers.set(key, handler);
  }

  get version(): number {
    return this.appliedVersion;
  }

  /** Takes a document; resolves once it (or a newer one that replaced it) has been applied. */
  offer(doc: unknown): Promise<void> {
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return Promise.resolve();
    const version = (doc as Record<string, unknown>).$version;
    if (typeof version !== 'number' || !Number.isFinite(version)) return Promise.resolve();
    if (version <= this.appliedVersion) return this.running ?? Promise.resolve();
    if (this.pending && version <= (this.pending.$version as number)) return this.running ?? Promise.resolve();
    this.pending = doc as Record<string, unknown>;
    if (!this.running) {
      this.running = this.drain().finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  private async drain(): Promise<void> {
    while (this.pending) {
      const doc = this.pending;
      this.pending = undefined;
      if ((doc.$version as number) <= this.appliedVersion) continue;
      await this.report(await this.apply(doc));
    }
  }

  private async apply(doc: Record<string, unknown>): Promise<DesiredOutcome> {
    const version = doc.$version as number;
    const reported: Record<string, unknown> = {};
    const applied: string[] = [];
    const rejected: Record<string, string> = {};
    const keys = new Set([...Object.keys(doc).filter((k) => !k.startsWith('$')), ...this.seen.keys()]);
    for (const key of keys) {
      const value = key in doc ? doc[key] : null;
      const encoded = JSON.stringify(value);
      if (this.seen.get(key) === encoded) continue;
      const handler = this.handlers.get(key) ?? this.fallback;
      if (!handler) {
        // Deleting a property nothing ever applied needs nothing done.
        if (value !== null) rejected[key] = 'no handler for this property';
      } else {
        try {
          await handler(value, key);
          reported[key] = value;
          applied.push(key);
        } catch (err) {
          rejected[key] = err instanceof Error ? err.message : String(err);
        }
      }
      if (value === null) this.seen.delete(key);
      else this.seen.set(key, encoded);
    }
    this.appliedVersion = version;
    const failed = Object.keys(rejected).length > 0;
    if (failed) reported[DESIRED_ERROR_KEY] = { version, errors: rejected, at: new Date().toISOString() };
    else if (this.hadError) reported[DESIRED_ERROR_KEY] = null;
    this.hadError = failed;
    reported[DESIRED_VERSION_KEY] = version;
    return { version, reported, applied, rejected };
  }
}
