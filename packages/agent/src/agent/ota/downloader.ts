/**
 * Resumable HTTP download of a firmware artifact (RFC 9110 §14: `Range`, `If-Range`, 206, 416).
 * What was received survives a cut — and an agent restart, in a file sink — so the next
 * attempt asks only for the rest (`Range: bytes=N-`), with the ETag the bytes came with as
 * `If-Range`: a server whose artifact changed answers 200 with the whole new one, and the
 * download starts over from 0 instead of gluing two artifacts together.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffPolicy } from '../../simulator/backoff.js';

/** Where the bytes go. A file in the state dir on a device; a running hash in the simulator. */
export interface DownloadSink {
  /** Bytes held from an earlier attempt and the ETag they came with. */
  held(): Promise<{ offset: number; etag: string | undefined }>;
  /** Keeps the first `from` bytes (0: none) and remembers `etag` for them and what follows. */
  restart(from: number, etag: string | undefined): Promise<void>;
  append(chunk: Buffer): Promise<void>;
  /** Every byte is in. */
  complete(): Promise<void>;
  /** The download stopped (done, failed or aborted): let go of open files. */
  release?(): Promise<void>;
}

export interface DownloadOptions {
  signal?: AbortSignal;
  /** The artifact's size as the manifest says (used when the server sends no length). */
  size?: number;
  /** Called with 0..1 each time the download crosses another `progressStep` (default 0.1). */
  onProgress?: (fraction: number) => void;
  progressStep?: number;
  /** Attempts in a row that bring no new byte before the download gives up (default 8). */
  retries?: number;
  backoff?: BackoffPolicy;
  /** An attempt that receives nothing for this long is cut (default 30 s). */
  idleTimeoutMs?: number;
  caPem?: string | undefined;
  /** Called when an attempt is cut (the download resumes). */
  onCut?: (offset: number, reason: string) => void;
  /** Failure injection (simulator, tests): the first attempt drops its connection after this many bytes of the artifact. */
  cutAt?: number | undefined;
}

export interface DownloadResult {
  size: number;
  /** Bytes received over the wire, all attempts together. */
  transferred: number;
  attempts: number;
  /** Attempts that continued from an offset with a `Range` request answered 206. */
  resumed: number;
}

/** A refusal no retry can fix (4xx other than 416, or a malformed answer); `status` says which. */
export class DownloadError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

class Cut extends Error {}

export async function download(url: string, sink: DownloadSink, options: DownloadOptions = {}): Promise<DownloadResult> {
  try {
    return await attempts(url, sink, options);
  } finally {
    await sink.release?.();
  }
}

async function attempts(url: string, sink: DownloadSink, options: DownloadOptions): Promise<DownloadResult> {
  const step = options.progressStep ?? 0.1;
  const retries = options.retries ?? 8;
  const result: DownloadResult = { size: 0, transferred: 0, attempts: 0, resumed: 0 };
  let failures = 0;
  let cutAt = options.cutAt;
  let lastStep = -1;
  const progress = (done: number, total: number): void => {
    if (!options.onProgress || total <= 0) return;
    const reached = Math.floor(done / total / step);
    if (reached <= lastStep) return;
    lastStep = reached;
    options.onProgress(Math.min(1, done / total));
  };
  for (;;) {
    options.signal?.throwIfAborted();
    const { offset, etag } = await sink.held();
    result.attempts += 1;
    const before = result.transferred;
    try {
      // Resuming without a validator could splice two versions of the artifact: ask for all of it.
      const resume = offset > 0 && etag !== undefined;
      const res = await get(url, resume ? { range: `bytes=${offset}-`, 'if-range': etag } : {}, options);
      const status = res.statusCode ?? 0;
      let total: number;
      let at: number;
      if (status === 206 && resume) {
        const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''));
        if (!range || Number(range[1]) !== offset) {
          res.destroy();
          // Not the part asked for: drop what is held rather than trust it.
          await sink.restart(0, undefined);
          throw new Cut(`206 with Content-Range "${res.headers['content-range'] ?? ''}" for bytes=${offset}-`);
        }
        total = Number(range[3]);
        at = offset;
        result.resumed += 1;
      } else if (status === 200) {
        // A fresh answer (first attempt, no validator, or If-Range said the artifact changed).
        const length = Number(res.headers['content-length']);
        total = Number.isFinite(length) && res.headers['content-length'] !== undefined ? length : (options.size ?? -1);
        at = 0;
        await sink.restart(0, headerValue(res.headers.etag));
      } else if (status === 416 && resume) {
        res.resume();
        // RFC 9110 §15.5.17: `Content-Range: bytes */length`. Holding exactly that many bytes is done.
        const m = /^bytes \*\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''));
        if (m && Number(m[1]) === offset) {
          result.size = offset;
          progress(offset, offset);
          await sink.complete();
          return result;
        }
        await sink.restart(0, undefined);
        throw new Cut(`416 at offset ${offset}${m ? ` of ${m[1]}` : ''}: starting over`);
      } else {
        const body = await readSome(res);
        if (status >= 400 && status < 500) throw new DownloadError(`GET ${new URL(url).pathname}: ${status} ${body.slice(0, 200)}`.trim(), status);
        throw new Cut(`GET answered ${status}`);
      }
      result.size = total;
      // Where a resumed download stands (a fresh one starting at 0 is no news).
      if (at > 0) progress(at, total);
      let attemptBytes = 0;
      try {
        for await (const chunk of res as AsyncIterable<Buffer>) {
          let piece = chunk;
          if (cutAt !== undefined && at + piece.length > cutAt) {
            piece = piece.subarray(0, Math.max(0, cutAt - at));
            if (piece.length > 0) await sink.append(piece);
            at += piece.length;
            result.transferred += piece.length;
            cutAt = undefined;
            res.destroy();
            throw new Cut('injected download cut');
          }
          await sink.append(piece);
          at += piece.length;
          attemptBytes += piece.length;
          result.transferred += piece.length;
          progress(at, total);
        }
      } catch (err) {
        if (err instanceof Cut) throw err;
        options.signal?.throwIfAborted();
        throw new Cut(`connection cut after ${attemptBytes} bytes: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (total >= 0 && at < total) throw new Cut(`connection ended at ${at} of ${total} bytes`);
      result.size = at;
      await sink.complete();
      return result;
    } catch (err) {
      options.signal?.throwIfAborted();
      if (err instanceof DownloadError) throw err;
      if (!(err instanceof Cut) && !isNetworkError(err)) throw err;
      const { offset: kept } = await sink.held();
      options.onCut?.(kept, (err as Error).message);
      // An attempt that brought new bytes resets the count: a flaky link that makes progress is not a dead one.
      failures = result.transferred > before ? 1 : failures + 1;
      if (failures > retries) throw new DownloadError(`download failed after ${result.attempts} attempts: ${(err as Error).message}`);
      await sleep(backoffDelay(failures - 1, options.backoff ?? DEFAULT_BACKOFF), options.signal);
    }
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function isNetworkError(err: unknown): boolean {
  return typeof (err as NodeJS.ErrnoException | undefined)?.code === 'string';
}

function get(url: string, headers: Record<string, string>, options: DownloadOptions): Promise<http.IncomingMessage> {
  const target = new URL(url);
  const lib = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.get(target, { headers, ...(options.signal ? { signal: options.signal } : {}), ...(target.protocol === 'https:' && options.caPem ? { ca: options.caPem } : {}) }, resolve);
    req.setTimeout(options.idleTimeoutMs ?? 30_000, () => req.destroy(new Cut('no data within the idle timeout')));
    req.on('error', reject);
  });
}

async function readSome(res: http.IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of res as AsyncIterable<Buffer>) if (text.length < 4096) text += chunk.toString('utf8');
  return text;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    function onAbort(): void {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The device's sink: `<path>.part` grows as bytes arrive, `<path>.part.json` holds the ETag they
 * came with, and `complete()` renames the part to `<path>`. A crash keeps both for the next
 * start; the part is flushed (fsync) before its metadata claims it.
 */
export class FileDownloadSink implements DownloadSink {
  private handle: FileHandle | undefined;

  constructor(readonly path: string) {}

  private get part(): string {
    return `${this.path}.part`;
  }
  private get meta(): string {
    return `${this.path}.part.json`;
  }

  held(): Promise<{ offset: number; etag: string | undefined }> {
    let offset = 0;
    let etag: string | undefined;
    try {
      offset = statSync(this.part).size;
      etag = (JSON.parse(readFileSync(this.meta, 'utf8')) as { etag?: string }).etag;
    } catch {
      // nothing held, or bytes whose validator was lost: they will be fetched again
    }
    return Promise.resolve({ offset, etag });
  }

  async restart(from: number, etag: string | undefined): Promise<void> {
    await this.close();
    if (from === 0) rmSync(this.part, { force: true });
    this.handle = await open(this.part, from === 0 ? 'w' : 'a', 0o600);
    if (from > 0) await this.handle.truncate(from);
    const tmp = `${this.meta}.tmp`;
    writeFileSync(tmp, JSON.stringify({ etag: etag ?? null }), { mode: 0o600 });
    renameSync(tmp, this.meta);
  }

  async append(chunk: Buffer): Promise<void> {
    this.handle ??= await open(this.part, 'a', 0o600);
    await this.handle.write(chunk);
  }

  async complete(): Promise<void> {
    if (this.handle) {
      await this.handle.sync();
      await this.close();
    } else {
      // A resume that found everything already held (416 at the end).
      const fd = openSync(this.part, 'r');
      fsyncSync(fd);
      closeSync(fd);
    }
    renameSync(this.part, this.path);
    rmSync(this.meta, { force: true });
  }

  release(): Promise<void> {
    return this.close();
  }

  /** Closes the open part (a stopped download keeps it for the next attempt). */
  private async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.close();
  }

  /** Forgets the artifact and any part of it. */
  discard(): void {
    for (const f of [this.path, this.part, this.meta]) rmSync(f, { force: true });
  }
}
