import type { Rollout, WaveStateCount } from './ports.js';
import { emptyCounts, type StateCounts } from './threshold-judge.js';

export interface WaveProgress {
  index: number;
  size: number;
  state: 'waiting' | 'running' | 'done';
  counts: StateCounts;
}

export interface RolloutProgress {
  /** Devices selected so far (every state). */
  targeted: number;
  total: StateCounts;
  waves: WaveProgress[];
}

const sum = (c: StateCounts): number => Object.values(c).reduce((a, b) => a + b, 0);

/** Per-state counts of the whole rollout and of each wave, from the store's (wave, state) counts. */
export function progressOf(r: Rollout, rows: readonly WaveStateCount[]): RolloutProgress {
  const total = emptyCounts();
  const perWave = r.config.waves.map(() => emptyCounts());
  for (const row of rows) {
    total[row.state] += row.devices;
    const wave = perWave[row.wave];
    if (wave) wave[row.state] += row.devices;
  }
  const ended = r.state === 'completed' || r.state === 'aborted';
  const waves = perWave.map((counts, index): WaveProgress => {
    let state: WaveProgress['state'] = index < r.currentWave ? 'done' : index === r.currentWave ? 'running' : 'waiting';
    if (state === 'running' && (ended || r.state === 'awaiting_approval')) state = 'done';
    return { index, size: sum(counts), state, counts };
  });
  return { targeted: sum(total), total, waves };
}
