import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deltaArtifactKey } from '../../core/firmware/artifact-store.js';
import type { FirmwareImage } from '../../core/firmware/catalog.js';
import { DownloadTokens } from '../../core/firmware/download-tokens.js';
import { MasterKey } from '../../core/identity/master-key.js';
import { TempArtifactStore } from '../../testing/temp-artifact-store.js';
import { TestFirmwareCatalog } from '../../testing/test-firmware-catalog.js';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { parseRange } from './firmware-download.js';

const run = promisify(execFile);
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('parseRange (RFC 9110 §14)', () => {
  it.each([
    [undefined, { kind: 'full' }],
    ['bytes=0-99', { kind: 'partial', start: 0, end: 99 }],
    ['bytes=900-', { kind: 'partial', start: 900, end: 999 }],
    ['bytes=900-5000', { kind: 'partial', start: 900, end: 999 }],
    ['bytes=-100', { kind: 'partial', start: 900, end: 999 }],
    ['bytes=-5000', { kind: 'partial', start: 0, end: 999 }],
    ['bytes=1000-', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=99999999999999999999-', { kind: 'unsatisfiable' }],
    ['bytes=0-1,5-6', { kind: 'full' }],
    ['bytes=50-10', { kind: 'full' }],
    ['items=0-1', { kind: 'full' }],
    ['bytes=abc', { kind: 'full' }],
    ['bytes=-', { kind: 'full' }],
  ])('%s of 1000 bytes → %o', (header, answer) => {
    expect(parseRange(header, 1000)).toEqual(answer);
  });

  it('finds nothing satisfiable in an empty artifact', () => {
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
  });
});

describe('firmware downloads over HTTP (real socket)', () => {
  let t: TestHangar;
  let base: string;
  let artifacts: TempArtifactStore;
  let catalog: TestFirmwareCatalog;
  let image: FirmwareImage;
  let bytes: Buffer;
  const masterKey = MasterKey.forTests();
  const dir = mkdtempSync(join(tmpdir(), 'hangar-dl-'));

  beforeAll(async () => {
    artifacts = new TempArtifactStore();
    catalog = new TestFirmwareCatalog(artifacts);
    t = await startTestHangar('sqlite', { masterKey, firmwareDelivery: { artifacts, catalog } });
    base = await t.hangar.http.listen({ port: 0, host: '127.0.0.1' });
    bytes = Buffer.concat([Buffer.from('firmware '.repeat(50_000)), randomBytes(600_000)]);
    image = await catalog.add('default', '1.0.0', bytes);
  });
  afterAll(async () => {
    await t.close();
    artifacts.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const imageUrl = (): string => base + t.hangar.downloadLinks.image('default', 'dev-1', image.id).url;

  it('serves the whole image with its ETag and Accept-Ranges, streamed from the store', async () => {
    const res = await fetch(imageUrl());
    expect(res.status).toBe(200);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('etag')).toBe(`"firmware/${image.id}"`);
    expect(res.headers.get('content-length')).toBe(String(bytes.length));
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(image.sha256);
  });

  it('answers a byte range with 206, Content-Range and exactly those bytes, read by range', async () => {
    const res = await fetch(imageUrl(), { headers: { range: 'bytes=1000-1999' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 1000-1999/${bytes.length}`);
    expect(res.headers.get('content-length')).toBe('1000');
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes.subarray(1000, 2000))).toBe(true);
    expect(artifacts.reads.at(-1)).toEqual({ key: `firmware/${image.id}`, range: { start: 1000, end: 1999 } });

    const tail = await fetch(imageUrl(), { headers: { range: 'bytes=-10' } });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(bytes.length - 10))).toBe(true);
  });

  it('answers a range past the end with 416, Content-Range: bytes */size and a problem body', async () => {
    const res = await fetch(imageUrl(), { headers: { range: `bytes=${bytes.length}-` } });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe(`bytes */${bytes.length}`);
    expect(await res.json()).toMatchObject({ code: 'RANGE_NOT_SATISFIABLE', status: 416 });
  });

  it('sends the whole body when If-Range names another version, the range when it matches', async () => {
    const stale = await fetch(imageUrl(), { headers: { range: 'bytes=10-19', 'if-range': '"firmware/fw_other"' } });
    expect(stale.status).toBe(200);
    expect((await stale.arrayBuffer()).byteLength).toBe(bytes.length);
    const dated = await fetch(imageUrl(), { headers: { range: 'bytes=10-19', 'if-range': 'Wed, 21 Oct 2015 07:28:00 GMT' } });
    expect(dated.status).toBe(200);
    await dated.arrayBuffer();
    const fresh = await fetch(imageUrl(), { headers: { range: 'bytes=10-19', 'if-range': `"firmware/${image.id}"` } });
    expect(fresh.status).toBe(206);
    expect(Buffer.from(await fresh.arrayBuffer()).equals(bytes.subarray(10, 20))).toBe(true);
  });

  it('answers several ranges with the whole body', async () => {
    const res = await fetch(imageUrl(), { headers: { range: 'bytes=0-9,20-29' } });
    expect(res.status).toBe(200);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(image.sha256);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const res = await fetch(imageUrl(), { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(bytes.length));
    expect(res.headers.get('etag')).toBe(`"firmware/${image.id}"`);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
    const ranged = await fetch(imageUrl(), { method: 'HEAD', headers: { range: 'bytes=0-99' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 0-99/${bytes.length}`);
  });

  it('refuses expired (401), foreign and missing tokens (403) with a problem body', async () => {
    const past = new DownloadTokens(masterKey.deriveKey('firmware-download-tokens'), { now: () => Date.now() - 2 * 3_600_000 });
    const expired = await fetch(base + past.image('default', 'dev-1', image.id).url);
    expect(expired.status).toBe(401);
    expect(await expired.json()).toMatchObject({ code: 'DOWNLOAD_TOKEN_EXPIRED' });

    const other = await catalog.add('default', '1.1.0', randomBytes(100));
    const foreignToken = new URL(t.hangar.downloadLinks.image('default', 'dev-1', other.id).url, base).searchParams.get('t')!;
    const foreign = await fetch(`${base}/device/v1/firmware/${image.id}/image?t=${foreignToken}`);
    expect(foreign.status).toBe(403);
    expect(await foreign.json()).toMatchObject({ code: 'DOWNLOAD_TOKEN_INVALID' });
    const asDelta = await fetch(`${base}/device/v1/firmware/${other.id}/deltas/fd_x?t=${foreignToken}`);
    expect(asDelta.status).toBe(403);
    await asDelta.arrayBuffer();

    const otherKey = new DownloadTokens(randomBytes(32)).image('default', 'dev-1', image.id).url;
    expect((await fetch(base + otherKey)).status).toBe(403);
    const missing = await fetch(`${base}/device/v1/firmware/${image.id}/image`);
    expect(missing.status).toBe(403);
    expect(await missing.json()).toMatchObject({ code: 'DOWNLOAD_TOKEN_INVALID' });
    // A device credential is no substitute for the token.
    expect((await fetch(`${base}/device/v1/firmware/${image.id}/image`, { headers: { authorization: 'Bearer whatever' } })).status).toBe(403);
  });

  it('answers 404 for an artifact that is gone, with a valid token', async () => {
    const link = t.hangar.downloadLinks.delta('default', 'dev-1', image.id, 'fd_gone');
    const res = await fetch(base + link.url);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('serves a delta by its own URL', async () => {
    const patch = randomBytes(5000);
    await artifacts.put(
      deltaArtifactKey('fd_served'),
      (async function* () {
        yield patch;
      })(),
      { maxBytes: 1e6 },
    );
    const res = await fetch(base + t.hangar.downloadLinks.delta('default', 'dev-1', image.id, 'fd_served').url, { headers: { range: 'bytes=4000-' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('etag')).toBe('"deltas/fd_served"');
    expect(Buffer.from(await res.arrayBuffer()).equals(patch.subarray(4000))).toBe(true);
  });

  it('documents both download paths and the delta routes in the OpenAPI document', async () => {
    const doc = (await t.call('GET', '/api/v1/openapi.json', { token: null })).body;
    expect(doc.paths['/device/v1/firmware/{firmwareId}/image'].get.operationId).toBe('downloadFirmwareImage');
    expect(doc.paths['/device/v1/firmware/{firmwareId}/deltas/{deltaId}'].get.operationId).toBe('downloadFirmwareDelta');
    const deltas = doc.paths['/api/v1/firmware/{id}/deltas'];
    expect([deltas.get.operationId, deltas.post.operationId]).toEqual(['listFirmwareDeltas', 'requestFirmwareDeltas']);
  });

  it('resumes a download cut at 50 % with curl -C -', async () => {
    const file = join(dir, 'resumed.bin');
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await run('curl', ['-sS', '--fail', '-C', '-', '-o', file, imageUrl()]);
    expect(sha256(readFileSync(file))).toBe(image.sha256);
    const last = artifacts.reads.at(-1)!;
    expect(last.range).toEqual({ start: Math.floor(bytes.length / 2), end: bytes.length - 1 });
  });
});
