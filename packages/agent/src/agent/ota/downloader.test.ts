/**
 * The resumable downloader against a real HTTP peer that cuts connections, changes artifacts
 * and answers 416: what it asked for (Range, If-Range) and what ends up on disk.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFirmwareServer, type FirmwareServer } from '../../testing/firmware-server.js';
import { download, DownloadError, FileDownloadSink } from './downloader.js';

let server: FirmwareServer;
let dir: string;
const fast = { backoff: { initialMs: 10, maxMs: 50 } };
const SIZE = 256 * 1024;

beforeAll(async () => {
  server = await startFirmwareServer();
  dir = mkdtempSync(join(tmpdir(), 'hangar-dl-'));
});

afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  server.requests.length = 0;
});

const fileIn = (name: string): string => join(dir, name);

describe('download', () => {
  it('resumes a download cut at half way with a Range request for the rest', async () => {
    const body = randomBytes(SIZE);
    const file = server.serve('/fw/one', body, 'tok1');
    server.cutNext('/fw/one', SIZE / 2);
    const progress: number[] = [];
    const cuts: number[] = [];
    const result = await download(`${server.url}/fw/one?t=tok1`, new FileDownloadSink(fileIn('one')), { ...fast, onProgress: (p) => progress.push(p), onCut: (offset) => cuts.push(offset) });
    expect(readFileSync(fileIn('one')).equals(body)).toBe(true);
    expect(result).toMatchObject({ size: SIZE, attempts: 2, resumed: 1 });
    // What the cut left on disk (the client may drop the last chunk in flight with the socket).
    expect(cuts).toHaveLength(1);
    expect(cuts[0]).toBeGreaterThan(SIZE / 4);
    expect(cuts[0]).toBeLessThanOrEqual(SIZE / 2);
    expect(server.requests.map((r) => r.headers.range)).toEqual([undefined, `bytes=${cuts[0]}-`]);
    expect(server.requests[1]!.headers['if-range']).toBe(file.etag);
    // Throttled: one report per 10% crossed, never backwards.
    expect(progress.length).toBeLessThanOrEqual(11);
    expect(progress.at(-1)).toBe(1);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    expect(existsSync(`${fileIn('one')}.part`)).toBe(false);
    expect(existsSync(`${fileIn('one')}.part.json`)).toBe(false);
  });

  it('keeps the part across a failed download and resumes it in a later one', async () => {
    const body = randomBytes(SIZE);
    server.serve('/fw/later', body);
    server.cutNext('/fw/later', SIZE - 1000);
    await expect(download(`${server.url}/fw/later`, new FileDownloadSink(fileIn('later')), { ...fast, retries: 0 })).rejects.toBeInstanceOf(DownloadError);
    const held = statSync(`${fileIn('later')}.part`).size;
    expect(held).toBeGreaterThan(0);
    server.requests.length = 0;
    const result = await download(`${server.url}/fw/later`, new FileDownloadSink(fileIn('later')), fast);
    expect(server.requests.map((r) => r.headers.range)).toEqual([`bytes=${held}-`]);
    expect(result).toMatchObject({ transferred: SIZE - held, resumed: 1 });
    expect(readFileSync(fileIn('later')).equals(body)).toBe(true);
  });

  it('starts over from 0 when the artifact changed (If-Range answered 200)', async () => {
    const old = randomBytes(SIZE);
    const oldFile = server.serve('/fw/changing', old);
    server.cutNext('/fw/changing', SIZE - 1000);
    await expect(download(`${server.url}/fw/changing`, new FileDownloadSink(fileIn('changing')), { ...fast, retries: 0 })).rejects.toBeInstanceOf(DownloadError);
    const held = statSync(`${fileIn('changing')}.part`).size;
    expect(held).toBeGreaterThan(0);
    const next = randomBytes(SIZE);
    const nextFile = server.serve('/fw/changing', next);
    server.requests.length = 0;
    const result = await download(`${server.url}/fw/changing`, new FileDownloadSink(fileIn('changing')), fast);
    expect(server.requests[0]!.headers).toMatchObject({ range: `bytes=${held}-`, 'if-range': oldFile.etag });
    expect(result).toMatchObject({ resumed: 0, transferred: SIZE });
    expect(readFileSync(fileIn('changing')).equals(next)).toBe(true);
    expect(nextFile.etag).not.toBe(oldFile.etag);
  });

  it('takes a 416 at the exact end as complete, and starts over on a 416 past it', async () => {
    const body = randomBytes(4096);
    const file = server.serve('/fw/small', body);
    // A crash after the last byte but before the rename: everything is held.
    writeFileSync(`${fileIn('small')}.part`, body);
    writeFileSync(`${fileIn('small')}.part.json`, JSON.stringify({ etag: file.etag }));
    const done = await download(`${server.url}/fw/small`, new FileDownloadSink(fileIn('small')), fast);
    expect(done).toMatchObject({ size: 4096, transferred: 0 });
    expect(readFileSync(fileIn('small')).equals(body)).toBe(true);
    expect(server.requests.map((r) => r.headers.range)).toEqual(['bytes=4096-']);

    // More bytes held than the artifact has: they cannot be its bytes.
    writeFileSync(`${fileIn('small2')}.part`, Buffer.concat([body, Buffer.alloc(10)]));
    writeFileSync(`${fileIn('small2')}.part.json`, JSON.stringify({ etag: file.etag }));
    server.requests.length = 0;
    await download(`${server.url}/fw/small`, new FileDownloadSink(fileIn('small2')), fast);
    expect(server.requests.map((r) => r.headers.range)).toEqual(['bytes=4106-', undefined]);
    expect(readFileSync(fileIn('small2')).equals(body)).toBe(true);
  });

  it('does not resume bytes whose ETag was lost', async () => {
    const body = randomBytes(8192);
    server.serve('/fw/noetag', body);
    writeFileSync(`${fileIn('noetag')}.part`, body.subarray(0, 1000));
    await download(`${server.url}/fw/noetag`, new FileDownloadSink(fileIn('noetag')), fast);
    expect(server.requests.map((r) => r.headers.range)).toEqual([undefined]);
    expect(readFileSync(fileIn('noetag')).equals(body)).toBe(true);
  });

  it('gives up at once on a refused token, with its status', async () => {
    server.serve('/fw/secret', randomBytes(100), 'right');
    const err = await download(`${server.url}/fw/secret?t=wrong`, new FileDownloadSink(fileIn('secret')), fast).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).status).toBe(401);
    expect(server.requests).toHaveLength(1);
    expect(existsSync(fileIn('secret'))).toBe(false);
  });

  it('injects a cut on the first attempt when asked (the simulator) and resumes', async () => {
    const body = randomBytes(SIZE);
    server.serve('/fw/inject', body);
    const result = await download(`${server.url}/fw/inject`, new FileDownloadSink(fileIn('inject')), { ...fast, cutAt: 1000 });
    expect(result.attempts).toBe(2);
    expect(server.requests.map((r) => r.headers.range)).toEqual([undefined, 'bytes=1000-']);
    expect(readFileSync(fileIn('inject')).equals(body)).toBe(true);
  });

  it('stops when aborted and keeps what it has', async () => {
    const body = randomBytes(SIZE);
    server.serve('/fw/abort', body);
    server.cutAlways('/fw/abort', 30_000);
    const abort = new AbortController();
    let heldAtCut = -1;
    const onCut = (offset: number): void => {
      heldAtCut = offset;
      abort.abort(new Error('withdrawn'));
    };
    const run = download(`${server.url}/fw/abort`, new FileDownloadSink(fileIn('abort')), { backoff: { initialMs: 60_000, maxMs: 60_000 }, onCut, signal: abort.signal });
    await expect(run).rejects.toThrow('withdrawn');
    expect(server.requests).toHaveLength(1);
    expect(statSync(`${fileIn('abort')}.part`).size).toBe(heldAtCut);
  });
});
