/**
 * Keeps `npm run bench -- twin` from rotting: the whole benchmark with 20 agents on SQLite.
 * It checks that every phase ran to its end and printed its figures, never how fast.
 */
import { describe, expect, it } from 'vitest';
import { twinBench } from '../bench/twin/twin-bench.js';

describe('twin benchmark (smoke, 20 agents)', () => {
  it('provisions, connects, applies a configuration, completes a ping job and measures the telemetry reference', async () => {
    const result = await twinBench({ stores: ['sqlite'], scale: 1 }, { devices: 20, connectConcurrency: 8 });
    const names = result.figures.map((f) => f.name);
    expect(names).toEqual([
      'Provision 20 devices + tokens (REST)',
      'Connect 20 agents (MQTT, token)',
      'Reference: 20 QoS 1 telemetry round trips',
      'A: configuration → all 20 reported twins match',
      'B: bulk job `ping` → 20 succeeded',
    ]);
    expect(result.figures[3]!.reference).toMatch(/CPU\/op ([\d.]+× the reference|not comparable)/);
    expect(result.figures[4]!.result).toMatch(/completions\/s/);
    expect(result.notes.join('\n')).toMatch(/applied 20 desired properties and answered 20 commands \(0 failed\)/);
  }, 180_000);
});
