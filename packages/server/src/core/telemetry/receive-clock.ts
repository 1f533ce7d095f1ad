/**
 * Receive times that never repeat for one device. Readings without their own `ts` are stamped
 * with the server's receive time, and a reading is identified by (device, key, ts) — so two
 * messages of one device in the same millisecond would collide and the second, although
 * acknowledged, would be taken for a redelivery. Each device's stamps are therefore strictly
 * increasing: the clock, or one past the device's previous stamp when the clock has not moved.
 * At the per-device rate limit (100/s) the drift from the wall clock stays below a millisecond.
 *
 * Memory stays bounded without a sweep: stamps live in two generations that rotate every
 * `generationMs`; a device silent for longer has nothing left to collide with.
 */
export class ReceiveClock {
  private current = new Map<string, number>();
  private previous = new Map<string, number>();
  private rotatedAt: number;

  constructor(
    private readonly now: () => number,
    private readonly generationMs = 1_000,
  ) {
    this.rotatedAt = now();
  }

  stamp(deviceId: string): number {
    const now = this.now();
    if (now - this.rotatedAt >= this.generationMs) {
      this.previous = this.current;
      this.current = new Map();
      this.rotatedAt = now;
    }
    const last = this.current.get(deviceId) ?? this.previous.get(deviceId);
    const ts = last !== undefined && last >= now ? last + 1 : now;
    this.current.set(deviceId, ts);
    return ts;
  }
}
