/**
 * Simulated sensor readings: each key does a bounded random walk, so successive messages of
 * a device look like a slowly drifting sensor rather than noise (alert rules and charts fed
 * by the simulator then behave as they would with real devices).
 */

interface Channel {
  key: string;
  value: number;
  min: number;
  max: number;
  step: number;
}

const NAMED: ReadonlyArray<Omit<Channel, 'value'>> = [
  { key: 'temp', min: -10, max: 45, step: 0.2 },
  { key: 'hum', min: 0, max: 100, step: 0.5 },
];

/** The keys a payload of `count` keys carries: `temp`, `hum`, then `v3`, `v4`, … */
export function telemetryKeys(count: number): string[] {
  return Array.from({ length: count }, (_, i) => NAMED[i]?.key ?? `v${i + 1}`);
}

export class RandomWalk {
  private readonly channels: Channel[];

  /** `random` returns [0, 1); injectable so that tests are deterministic. */
  constructor(
    keyCount: number,
    private readonly random: () => number = Math.random,
  ) {
    if (!Number.isInteger(keyCount) || keyCount < 1) throw new RangeError(`payload keys must be a whole number ≥ 1, not ${keyCount}`);
    this.channels = telemetryKeys(keyCount).map((key, i) => {
      const shape = NAMED[i] ?? { key, min: 0, max: 1000, step: 5 };
      return { ...shape, key, value: shape.min + (shape.max - shape.min) * (0.3 + 0.4 * this.random()) };
    });
  }

  /** The next reading of every key, rounded to two decimals. */
  next(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.channels) {
      c.value = Math.min(c.max, Math.max(c.min, c.value + (this.random() * 2 - 1) * c.step));
      out[c.key] = Math.round(c.value * 100) / 100;
    }
    return out;
  }

  nextPayload(): string {
    return JSON.stringify(this.next());
  }
}

/** A small seeded generator (mulberry32), for reproducible walks in tests. */
export function seededRandom(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), t | 1);
    r ^= r + Math.imul(r ^ (r >>> 7), r | 61);
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}
