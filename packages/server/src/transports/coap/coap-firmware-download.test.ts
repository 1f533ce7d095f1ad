import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FirmwareImage } from '../../core/firmware/catalog.js';
import { DownloadTokens } from '../../core/firmware/download-tokens.js';
import { MasterKey } from '../../core/identity/master-key.js';
import { TempArtifactStore } from '../../testing/temp-artifact-store.js';
import { TestFirmwareCatalog } from '../../testing/test-firmware-catalog.js';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { encodeBlock } from '@hangar/protocol/coap';
import { coapClient, RawPeer } from './coap-fixture.js';
import { CoapCode, CoapOptionNumber as Opt, optionValues } from '@hangar/protocol/coap';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Firmware over CoAP Block2 against a whole Hangar, fetched by libcoap's coap-client. */
describe('firmware downloads over CoAP Block2', () => {
  let t: TestHangar;
  let port: number;
  let artifacts: TempArtifactStore;
  let image: FirmwareImage;
  let bytes: Buffer;
  const masterKey = MasterKey.forTests();
  const dir = mkdtempSync(join(tmpdir(), 'hangar-coap-fw-'));

  beforeAll(async () => {
    artifacts = new TempArtifactStore();
    const catalog = new TestFirmwareCatalog(artifacts);
    t = await startTestHangar('sqlite', { masterKey, firmwareDelivery: { artifacts, catalog } });
    port = await t.hangar.coapListeners.plain.listen(0, '127.0.0.1');
    bytes = Buffer.concat([Buffer.from('thumb code '.repeat(10_000)), randomBytes(150_000)]);
    image = await catalog.add('default', '2.0.0', bytes);
  });
  afterAll(async () => {
    await t?.close();
    artifacts.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const coapUrl = (path: string): string => `coap://127.0.0.1:${port}${path}`;

  it('delivers the whole image block by block to coap-client (-b 1024), each block read from the store by offset', async () => {
    const file = join(dir, 'image.bin');
    const reads = artifacts.reads.length;
    const run = await coapClient(['-b', '1024', '-o', file, coapUrl(t.hangar.downloadLinks.image('default', 'dev-c', image.id).url)], { timeoutMs: 60_000 });
    expect(run.stderr).toBe('');
    expect(sha256(readFileSync(file))).toBe(image.sha256);
    const served = artifacts.reads.slice(reads);
    expect(served).toHaveLength(Math.ceil(bytes.length / 1024));
    expect(served.every((r) => r.range !== undefined && r.range.end - r.range.start < 1024)).toBe(true);
  });

  it('serves smaller blocks when the client asks (-b 256)', async () => {
    const file = join(dir, 'image-256.bin');
    const small = bytes.subarray(0, 5000);
    const catalog = new TestFirmwareCatalog(artifacts);
    const img = await catalog.add('default', '0.1.0', small);
    const run = await coapClient(['-b', '256', '-o', file, coapUrl(t.hangar.downloadLinks.image('default', 'dev-c', img.id).url)]);
    expect(run.stderr).toBe('');
    expect(readFileSync(file).equals(small)).toBe(true);
  });

  it('refuses a foreign or missing token with 4.03 and an expired one with 4.01', async () => {
    const otherKey = new DownloadTokens(randomBytes(32)).image('default', 'dev-c', image.id).url;
    expect((await coapClient(['-b', '1024', coapUrl(otherKey)])).stderr).toMatch(/^4\.03 /);
    const forDelta = t.hangar.downloadLinks.delta('default', 'dev-c', image.id, 'fd_1').url.replace(`/deltas/fd_1`, '/image');
    expect((await coapClient(['-b', '1024', coapUrl(forDelta)])).stderr).toMatch(/^4\.03 /);
    expect((await coapClient(['-b', '1024', coapUrl(`/device/v1/firmware/${image.id}/image`)])).stderr).toMatch(/^4\.03 /);
    const past = new DownloadTokens(masterKey.deriveKey('firmware-download-tokens'), { now: () => Date.now() - 7_200_000 });
    expect((await coapClient(['-b', '1024', coapUrl(past.image('default', 'dev-c', image.id).url)])).stderr).toMatch(/^4\.01 /);
  });

  it('answers a block past the end with 4.02 and a write with 4.05', async () => {
    const peer = await RawPeer.open(port);
    try {
      const token = new URL(t.hangar.downloadLinks.image('default', 'dev-c', image.id).url, 'http://x').searchParams.get('t')!;
      const path = ['device', 'v1', 'firmware', image.id, 'image'].map((s) => ({ number: Opt.UriPath, value: Buffer.from(s) }));
      const query = { number: Opt.UriQuery, value: Buffer.from(`t=${token}`) };
      const lastNum = Math.ceil(bytes.length / 1024);
      peer.send({ code: CoapCode.GET, messageId: 7001, token: Buffer.from([1]), options: [...path, query, { number: Opt.Block2, value: encodeBlock({ num: lastNum, more: false, szx: 6 }) }] });
      expect((await peer.next((m) => m.messageId === 7001)).code).toBe(CoapCode.BadOption);
      peer.send({ code: CoapCode.GET, messageId: 7002, token: Buffer.from([2]), options: [...path, query, { number: Opt.Block2, value: encodeBlock({ num: lastNum - 1, more: false, szx: 6 }) }] });
      const last = await peer.next((m) => m.messageId === 7002);
      expect(last.code).toBe(CoapCode.Content);
      expect(last.payload.equals(bytes.subarray((lastNum - 1) * 1024))).toBe(true);
      expect(optionValues(last, Opt.Block2)).toEqual([encodeBlock({ num: lastNum - 1, more: false, szx: 6 })]);
      peer.send({ code: CoapCode.POST, messageId: 7003, token: Buffer.from([3]), options: [...path, query] });
      expect((await peer.next((m) => m.messageId === 7003)).code).toBe(CoapCode.MethodNotAllowed);
    } finally {
      await peer.close();
    }
  });
});
