/** The one-line progress report the CLI prints to stderr about once a second. */
import type { SimulationProgress } from './simulate.js';

export function formatProgress(p: SimulationProgress): string {
  const n = (v: number): string => Math.round(v).toLocaleString('en-US');
  const s = p.stats;
  const errors = Object.values(s.errors).reduce((a, b) => a + b, 0);
  return [
    `${p.elapsedSec.toFixed(0).padStart(4)} s ${p.phase.padEnd(10)}`,
    `connected ${n(s.connected)}/${n(p.devices)}`,
    `sent ${n(s.sent)}`,
    `acked ${n(s.acked)}`,
    `errors ${n(errors)}`,
    `${n(p.msgPerSec)} msg/s`,
  ].join(' · ');
}
