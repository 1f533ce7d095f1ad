/**
 * A latency histogram with ~1 % relative precision whose counts add up across devices and
 * worker processes (percentiles of merged samples, not averages of percentiles), and which
 * stays a fixed size however many messages are measured.
 */

/** Bucket `i` holds values in (GROWTH^(i-1), GROWTH^i] microseconds; bucket 0 holds ≤ 1 µs. */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** GROWTH^BUCKETS ≈ 1.8 hours: anything slower is clamped into the last bucket. */
export const BUCKETS = 2200;

export interface LatencySummary {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export class LatencyHistogram {
  readonly counts: number[];
  private total = 0;
  private maxUs = 0;

  constructor(counts?: readonly number[], maxUs = 0) {
    this.counts = counts ? [...counts] : new Array<number>(BUCKETS).fill(0);
    if (this.counts.length !== BUCKETS) throw new Error(`histogram needs ${BUCKETS} buckets, got ${this.counts.length}`);
    for (const c of this.counts) this.total += c;
    this.maxUs = maxUs;
  }

  get samples(): number {
    return this.total;
  }

  get max(): number {
    return this.maxUs;
  }

  recordMicros(us: number): void {
    const i = us <= 1 ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(us) / LOG_GROWTH));
    this.counts[i]! += 1;
    this.total += 1;
    if (us > this.maxUs) this.maxUs = us;
  }

  add(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i += 1) this.counts[i]! += other.counts[i]!;
    this.total += other.total;
    if (other.maxUs > this.maxUs) this.maxUs = other.maxUs;
  }

  /** Nearest-rank percentile, as the upper edge of its bucket (never more than the maximum seen). */
  percentileMicros(p: number): number {
    if (this.total === 0) throw new Error('percentile of no samples');
    const rank = Math.min(this.total, Math.max(1, Math.ceil((p / 100) * this.total)));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i += 1) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(i === 0 ? 1 : GROWTH ** i, this.maxUs);
    }
    return this.maxUs;
  }

  summary(): LatencySummary | null {
    if (this.total === 0) return null;
    const ms = (us: number): number => Math.round(us) / 1000;
    return { samples: this.total, p50Ms: ms(this.percentileMicros(50)), p99Ms: ms(this.percentileMicros(99)), maxMs: ms(this.maxUs) };
  }
}
