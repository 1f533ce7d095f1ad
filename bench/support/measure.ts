/**
 * Timing and the figures a benchmark reports. Benchmarks print; they never fail on a time,
 * so a target is shown beside its figure as PASS or MISS and nothing more.
 */
import { performance } from 'node:perf_hooks';

const started = performance.now();

/** Progress goes to stderr, so stdout carries only the results. */
export function progress(message: string): void {
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
}

export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await work();
  return { value, ms: performance.now() - t0 };
}

export interface Latency {
  runs: number;
  p50: number;
  p99: number;
}

/** Nearest-rank percentile of ascending `sorted`. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error('percentile of no samples');
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * Latency of `a` and of its reference `b`, measured in alternation (a b, b a, a b, …) after
 * `warmup` unmeasured runs of each, so that a change in machine load mid-way (a shared CI
 * box) shifts both alike and their ratio stays meaningful.
 */
export async function pairedLatency(a: () => Promise<unknown>, b: () => Promise<unknown>, options: { runs: number; warmup: number }): Promise<[Latency, Latency]> {
  for (let i = 0; i < options.warmup; i += 1) {
    await a();
    await b();
  }
  const samples: [number[], number[]] = [[], []];
  const time = async (which: 0 | 1): Promise<void> => {
    const t0 = performance.now();
    await (which === 0 ? a() : b());
    samples[which].push(performance.now() - t0);
  };
  for (let i = 0; i < options.runs; i += 1) {
    const first = (i % 2) as 0 | 1;
    await time(first);
    await time((1 - first) as 0 | 1);
  }
  return [summarize(samples[0]), summarize(samples[1])];
}

function summarize(samples: number[]): Latency {
  const sorted = [...samples].sort((x, y) => x - y);
  return { runs: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

/** A lower bound (`≥`, throughput) or an upper bound (`≤`, latency) on a figure. */
export interface Target {
  op: '≥' | '≤';
  value: number;
  unit: string;
}

export interface Figure {
  /** Which measurement, e.g. "Import 100,000 devices (API)". */
  name: string;
  store: string;
  /** Formatted value(s), e.g. "41,200 devices/s" or "p50 3.1 ms · p99 5.0 ms". */
  result: string;
  /** The same-run reference and the ratio to it, when there is one. */
  reference?: string;
  target?: { text: string; met: boolean };
}

export function checkTarget(value: number, target: Target): { text: string; met: boolean } {
  const met = target.op === '≥' ? value >= target.value : value <= target.value;
  return { text: `${target.op} ${formatNumber(target.value)} ${target.unit}: ${met ? 'PASS' : 'MISS'}`, met };
}

export function formatNumber(n: number): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: 0 });
}

export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(2)} ms` : ms < 100 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(0)} ms`;
}

export function formatLatency(l: Latency): string {
  return `p50 ${formatMs(l.p50)} · p99 ${formatMs(l.p99)} (${l.runs} runs)`;
}

export function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}×`;
}

/** A Markdown table; pipes inside cells are escaped so the table survives any text. */
export function markdownTable(headers: string[], rows: string[][]): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|');
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => cell(r[i] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => cell(c).padEnd(widths[i]!)).join(' | ')} |`;
  return [line(headers), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

export function figuresTable(figures: readonly Figure[]): string {
  return markdownTable(
    ['Figure', 'Store', 'Result', 'Reference (same run)', 'Target'],
    figures.map((f) => [f.name, f.store, f.result, f.reference ?? '', f.target?.text ?? '']),
  );
}
