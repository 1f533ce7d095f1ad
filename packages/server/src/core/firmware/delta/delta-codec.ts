import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** A binary delta format: makes a patch from two files and applies one. */
export interface DeltaCodec {
  readonly format: 'bsdiff40';
  /** Writes the patch that turns `oldFile` into `newFile` to `patchFile`. */
  diff(oldFile: string, newFile: string, patchFile: string): Promise<void>;
  /** Writes `oldFile` patched with `patchFile` to `outFile`; rejects on a malformed patch. */
  apply(oldFile: string, patchFile: string, outFile: string): Promise<void>;
}

/**
 * The worker's code: bsdiff-node's synchronous calls, so the promise settles when the file is
 * written and closed. (Its promise API resolves on the first 100 % progress report, which the C
 * code sends from its scan loop — before the patch is compressed and written.) A worker thread
 * keeps the CPU-bound diff (seconds for a few MiB) off the event loop; the addon is context-aware.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bsdiff = require(workerData.module);
try {
  if (workerData.op === 'diff') bsdiff.diffSync(workerData.a, workerData.b, workerData.c);
  else bsdiff.patchSync(workerData.a, workerData.b, workerData.c);
  parentPort.postMessage({ ok: true });
} catch (err) {
  parentPort.postMessage({ ok: false, message: String(err && err.message || err) });
}
`;

const bsdiffModule = createRequire(import.meta.url).resolve('bsdiff-node');

function runInWorker(op: 'diff' | 'patch', a: string, b: string, c: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module: bsdiffModule, op, a, b, c } });
    let settled = false;
    worker.once('message', (m: { ok: boolean; message?: string }) => {
      settled = true;
      if (m.ok) resolve();
      else reject(new Error(`bs${op}: ${m.message ?? 'failed'}`));
    });
    worker.once('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`the bs${op} worker exited with code ${code}`));
    });
  });
}

/**
 * BSDIFF40 (Colin Percival's bsdiff 4.3 format, bzip2-compressed control, diff and extra
 * blocks) through bsdiff-node; byte-identical to Debian's `bsdiff`, so any bspatch applies it.
 * Memory: diffing needs about 17× the old image plus the new one (suffix array), hence the
 * delta service's size limit. docs/ota-deltas.md has the measurements behind the choice.
 */
export class BsdiffCodec implements DeltaCodec {
  readonly format = 'bsdiff40' as const;

  diff(oldFile: string, newFile: string, patchFile: string): Promise<void> {
    return runInWorker('diff', oldFile, newFile, patchFile);
  }

  apply(oldFile: string, patchFile: string, outFile: string): Promise<void> {
    // bsdiff-node's patch takes (old, new, patch).
    return runInWorker('patch', oldFile, outFile, patchFile);
  }
}
