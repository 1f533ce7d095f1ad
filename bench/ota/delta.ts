/**
 * The delta half of `npm run bench -- ota` (issue 11, docs/ota-deltas.md): how small a delta
 * is against the full image, and what building and applying it cost, for the format Hangar
 * ships (BSDIFF40 via bsdiff-node) beside Debian's `bsdiff` 4.3 (the reference implementation
 * of the same format), `zstd --patch-from` when the zstd CLI is on the machine, and gzip -9 of
 * the full image for scale.
 *
 * The image is a 4 MiB pseudo-firmware shaped like a real one rather than noise: a code section
 * of 32-bit instruction words from a small opcode set with register fields and branch offsets,
 * read-only data (log strings, lookup tables), already-compressed assets (random bytes) and
 * 0xFF flash padding. The new version has 1 % of its bytes changed in eight places; a second
 * variant inserts 2 KiB into the code section, shifting everything after it (what a rebuilt
 * firmware looks like), to show the format copes with moved code.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { BsdiffCodec } from '../../packages/server/src/core/firmware/delta/delta-codec.js';
import type { BenchResult } from '../support/bench.js';
import { checkTarget, formatNumber, progress, type Figure } from '../support/measure.js';
import { tempDir } from '../support/scratch.js';

const run = promisify(execFile);
const IMAGE_BYTES = 4 * 1024 * 1024;
const CHANGED_SHARE = 0.01;
const CHANGE_SITES = 8;
const TARGET_PERCENT = 10;
const RUNS = 3;

/** A deterministic generator (xorshift32), so every run measures the same bytes. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

export function pseudoFirmware(size = IMAGE_BYTES, seed = 11): Buffer {
  const rnd = prng(seed);
  const out = Buffer.alloc(size, 0xff);
  const code = Math.floor(size * 0.5);
  const rodata = Math.floor(size * 0.1875);
  const assets = Math.floor(size * 0.1875);
  // Code: 32-bit words from 48 opcodes, 16 registers, short immediates and branch offsets.
  const opcodes = Array.from({ length: 48 }, () => rnd() & 0xfff00000);
  for (let at = 0; at + 4 <= code; at += 4) {
    const r = rnd();
    const op = opcodes[r % (r & 0x100 ? 12 : 48)]!;
    const word = op | ((r >>> 8) & 0xf) << 16 | ((r >>> 12) & 0xf) << 12 | (r & 0x80 ? (r >>> 16) & 0xfff : (r >>> 20) & 0x3f);
    out.writeUInt32LE(word >>> 0, at);
  }
  // Read-only data: log strings and small lookup tables.
  const words = ['sensor', 'timeout', 'retry', 'flash', 'erase', 'ok', 'failed', 'mqtt', 'connect', 'battery', 'level', 'init', 'done', 'error', 'config', 'watchdog'];
  let at = code;
  while (at < code + rodata) {
    const r = rnd();
    if (r & 1) {
      const text = `[${words[r % 16]}] ${words[(r >>> 4) % 16]} ${words[(r >>> 8) % 16]} %d %s\n\0`;
      at += out.write(text, at, Math.min(text.length, code + rodata - at), 'latin1');
    } else {
      for (let i = 0; i < 64 && at < code + rodata; i += 1) out[at++] = (i * ((r >>> 4) & 0x1f)) & 0xff;
    }
  }
  // Assets: already compressed, so random to any compressor.
  for (let i = code + rodata; i < code + rodata + assets; i += 4) out.writeUInt32LE(rnd(), i);
  // The rest stays 0xFF: erased flash padding.
  return out;
}

/** 1 % of the bytes overwritten at `sites` evenly spread places. */
export function changedVersion(base: Buffer, share = CHANGED_SHARE, sites = CHANGE_SITES, seed = 99): Buffer {
  const rnd = prng(seed);
  const next = Buffer.from(base);
  const perSite = Math.floor((base.length * share) / sites);
  for (let s = 0; s < sites; s += 1) {
    const start = Math.floor(((s + 0.5) * base.length) / sites) - (perSite >> 1);
    for (let i = 0; i < perSite; i += 1) next[start + i] = rnd() & 0xff;
  }
  return next;
}

/** 2 KiB of new code inserted a quarter into the image: everything after it moves (cut at the end to keep the size). */
export function shiftedVersion(base: Buffer): Buffer {
  const at = base.length >> 2;
  const inserted = pseudoFirmware(2048, 7);
  return Buffer.concat([base.subarray(0, at), inserted, base.subarray(at, base.length - 2048)]);
}

interface Tool {
  name: string;
  diff(oldFile: string, newFile: string, patch: string): Promise<unknown>;
  apply(oldFile: string, patch: string, out: string): Promise<unknown>;
}

async function hasCli(name: string): Promise<boolean> {
  return run('sh', ['-c', `command -v ${name}`]).then(
    () => true,
    () => false,
  );
}

async function median(work: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    const t0 = performance.now();
    await work();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[RUNS >> 1]!;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const seconds = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);

export async function runDeltaBench(): Promise<BenchResult> {
  const dir = tempDir('hangar-bench-delta');
  try {
    const base = pseudoFirmware();
    const variants: Array<[string, Buffer]> = [
      ['1 % changed in 8 places', changedVersion(base)],
      ['2 KiB inserted (code moved)', shiftedVersion(base)],
    ];
    const baseFile = join(dir.path, 'base.bin');
    writeFileSync(baseFile, base);
    const codec = new BsdiffCodec();
    const tools: Tool[] = [
      { name: 'bsdiff-node 2.5.0 (BSDIFF40, shipped)', diff: (a, b, p) => codec.diff(a, b, p), apply: (a, p, o) => codec.apply(a, p, o) },
    ];
    if (await hasCli('bsdiff')) tools.push({ name: 'Debian bsdiff 4.3 CLI (reference)', diff: (a, b, p) => run('bsdiff', [a, b, p]), apply: (a, p, o) => run('bspatch', [a, o, p]) });
    const zstd = await hasCli('zstd');
    if (zstd) {
      for (const level of [3, 19]) {
        tools.push({
          name: `zstd -${level} --patch-from`,
          diff: (a, b, p) => run('zstd', ['-q', '-f', `-${level}`, `--patch-from=${a}`, b, '-o', p]),
          apply: (a, p, o) => run('zstd', ['-q', '-f', '-d', `--patch-from=${a}`, p, '-o', o]),
        });
      }
    }
    const full = base.length;
    const gzipped = gzipSync(variants[0]![1], { level: 9 }).length;
    const reference = `full ${formatNumber(full)} B; gzip -9 of full ${formatNumber(gzipped)} B (${((gzipped / full) * 100).toFixed(1)} %)`;
    const figures: Figure[] = [];
    for (const [label, target] of variants) {
      const targetFile = join(dir.path, `target-${figures.length}.bin`);
      writeFileSync(targetFile, target);
      for (const tool of tools) {
        progress(`delta: ${tool.name}, ${label}`);
        const patch = join(dir.path, 'delta.patch');
        const out = join(dir.path, 'out.bin');
        const buildMs = await median(() => tool.diff(baseFile, targetFile, patch));
        const size = statSync(patch).size;
        const applyMs = await median(() => tool.apply(baseFile, patch, out));
        if (sha(readFileSync(out)) !== sha(target)) throw new Error(`${tool.name}: applying its patch did not reproduce the target`);
        const percent = (size / full) * 100;
        figures.push({
          name: `${tool.name}: ${label}`,
          store: '—',
          result: `${formatNumber(size)} B = ${percent.toFixed(2)} % of full · build ${seconds(buildMs)} · apply ${seconds(applyMs)}`,
          reference,
          target: checkTarget(percent, { op: '≤', value: TARGET_PERCENT, unit: '% of full' }),
        });
      }
    }
    const notes = [
      `Image: ${formatNumber(full)} B pseudo-firmware (50 % code-like words, 19 % strings and tables, 19 % random "compressed assets", 12 % 0xFF padding); median of ${RUNS} runs for build and apply.`,
      'bsdiff-node runs in a worker thread; its build time includes starting the worker (tens of ms).',
      zstd ? 'zstd figures: the zstd CLI found on this machine.' : 'zstd CLI not found on this machine: no zstd figures.',
      'Every patch was applied and the result compared with the target’s SHA-256.',
    ];
    return { title: 'OTA: delta images (4 MiB)', figures, notes };
  } finally {
    await dir.remove();
  }
}
