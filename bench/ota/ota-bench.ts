/**
 * `npm run bench -- ota [--devices N] [--max-concurrent N] [--concurrency N]`: issue 11's
 * benchmark in one result — the rollout to N simulated agents beside a static file server
 * (rollout.ts), then the delta images of a 4 MiB firmware (delta.ts).
 */
import type { BenchContext, BenchResult } from '../support/bench.js';
import { runDeltaBench } from './delta.js';
import { runRolloutBench } from './rollout.js';

export async function runOtaBench(ctx: BenchContext): Promise<BenchResult> {
  const rollout = await runRolloutBench(ctx);
  const delta = await runDeltaBench();
  return {
    title: 'OTA: rollout to simulated agents beside a static file server; delta images (4 MiB)',
    figures: [...rollout.figures, ...delta.figures],
    notes: [...rollout.notes.map((n) => `Rollout — ${n}`), ...delta.notes.map((n) => `Deltas — ${n}`)],
  };
}
