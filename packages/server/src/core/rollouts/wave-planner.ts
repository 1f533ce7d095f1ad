import type { WaveSpec } from './ports.js';

/**
 * How many of `eligible` devices each wave takes. Percent waves are cumulative shares of the
 * target (10, 50, 100: a tenth, then up to half, then the rest), rounded up so that a small
 * fleet's first wave is never empty; count waves take that many each. Waves that stop short of
 * every device (percent below 100, counts summing to less) leave the rest out: a canary rollout.
 */
export function waveSizes(waves: readonly WaveSpec[], eligible: number): number[] {
  const sizes: number[] = [];
  let assigned = 0;
  for (const w of waves) {
    const upTo = w.percent !== null ? Math.min(eligible, Math.ceil((eligible * w.percent) / 100 - 1e-9)) : Math.min(eligible, assigned + w.count);
    sizes.push(Math.max(0, upTo - assigned));
    assigned = Math.max(assigned, upTo);
  }
  return sizes;
}

/** The wave index of each device in order (undefined past the waves: left out). */
export function assignWaves<T>(devices: readonly T[], sizes: readonly number[]): Array<{ device: T; wave: number }> {
  const out: Array<{ device: T; wave: number }> = [];
  let i = 0;
  sizes.forEach((size, wave) => {
    for (let n = 0; n < size && i < devices.length; n++) out.push({ device: devices[i++]!, wave });
  });
  return out;
}
