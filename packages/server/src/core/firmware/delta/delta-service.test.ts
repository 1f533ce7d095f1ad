import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TempArtifactStore } from '../../../testing/temp-artifact-store.js';
import { TestFirmwareCatalog } from '../../../testing/test-firmware-catalog.js';
import { startTestHangar, type TestHangar } from '../../../testing/test-hangar.js';
import { STORE_KINDS } from '../../../testing/test-store.js';
import { deltaArtifactKey, firmwareArtifactKey } from '../artifact-store.js';
import type { FirmwareImage } from '../catalog.js';
import { DeltaService } from './delta-service.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A pseudo-firmware (code-like text and random data) and a variant with a few small edits. */
function versions(): { v1: Buffer; v2: Buffer } {
  const code = Buffer.from('push {r4, lr}\nbl init_clock\nldr r0, =0x40021000\n'.repeat(4000));
  const v1 = Buffer.concat([code, randomBytes(100_000), code]);
  const v2 = Buffer.from(v1);
  for (const at of [500, 120_000, 300_000]) randomBytes(300).copy(v2, at);
  return { v1, v2 };
}

async function bytesOf(artifacts: TempArtifactStore, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of artifacts.read(key)) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

describe.each(STORE_KINDS)('delta images on %s', (kind) => {
  let t: TestHangar;
  let artifacts: TempArtifactStore;
  let catalog: TestFirmwareCatalog;
  let deltas: DeltaService;
  let v1: FirmwareImage;
  let v2: FirmwareImage;
  let v1Bytes: Buffer;
  let v2Bytes: Buffer;
  const dir = mkdtempSync(join(tmpdir(), 'hangar-deltas-'));

  beforeAll(async () => {
    artifacts = new TempArtifactStore();
    catalog = new TestFirmwareCatalog(artifacts);
    t = await startTestHangar(kind, { firmwareDelivery: { artifacts, catalog } });
    deltas = t.hangar.services.deltas!;
    ({ v1: v1Bytes, v2: v2Bytes } = versions());
    v1 = await catalog.add('default', '1.0.0', v1Bytes);
    v2 = await catalog.add('default', '1.1.0', v2Bytes);
  });
  afterAll(async () => {
    await t?.close();
    artifacts.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds a verified delta in the background and offers it for the base version only', async () => {
    const res = await t.call('POST', `/api/v1/firmware/${v2.id}/deltas`, { body: { baseFirmwareIds: [v1.id] } });
    expect(res.status).toBe(202);
    expect(res.body.items).toEqual([expect.objectContaining({ firmwareId: v2.id, baseFirmwareId: v1.id, baseVersion: '1.0.0', format: 'bsdiff40', state: 'building', size: null })]);
    await deltas.idle();

    const list = await t.call('GET', `/api/v1/firmware/${v2.id}/deltas`);
    expect(list.status).toBe(200);
    const [d] = list.body.items;
    expect(d).toMatchObject({ state: 'ready', error: null, baseVersion: '1.0.0' });
    expect(d.size).toBeLessThan(v2.size / 10);
    expect(d.buildMs).toBeGreaterThanOrEqual(0);
    expect(typeof d.createdAt).toBe('string');

    const patch = await bytesOf(artifacts, deltaArtifactKey(d.id));
    expect(sha256(patch)).toBe(d.sha256);
    // What a device does: Debian's bspatch on the base reproduces the target.
    writeFileSync(join(dir, 'base.bin'), v1Bytes);
    writeFileSync(join(dir, 'delta.patch'), patch);
    execFileSync('bspatch', [join(dir, 'base.bin'), join(dir, 'out.bin'), join(dir, 'delta.patch')]);
    expect(sha256(readFileSync(join(dir, 'out.bin')))).toBe(v2.sha256);

    expect((await deltas.readyDelta('default', v2.id, '1.0.0'))?.id).toBe(d.id);
    expect(await deltas.readyDelta('default', v2.id, '0.9.0')).toBeUndefined();
    expect(await deltas.readyDelta('other', v2.id, '1.0.0')).toBeUndefined();

    const audit = await t.call('GET', '/api/v1/audit?limit=50');
    const actions = (audit.body.items as Array<{ action: string }>).map((e) => e.action);
    expect(actions).toContain('firmware.delta.request');
    expect(actions).toContain('firmware.delta.build');
  });

  it('keeps a pair that has a delta: asking again builds nothing new', async () => {
    const again = await t.call('POST', `/api/v1/firmware/${v2.id}/deltas`, { body: { baseFirmwareIds: [v1.id, v1.id] } });
    expect(again.status).toBe(202);
    expect(again.body.items).toHaveLength(1);
    expect(again.body.items[0].state).toBe('ready');
    await deltas.requestDeltas('default', v2.id, ['1.0.0', '1.0.0', '7.7.7', '1.1.0']);
    await deltas.idle();
    expect((await t.call('GET', `/api/v1/firmware/${v2.id}/deltas`)).body.items).toHaveLength(1);
  });

  it('refuses bad requests with 4xx problem bodies and records nothing', async () => {
    const v3 = await catalog.add('default', '2.0.0', randomBytes(1000), { deviceTypes: ['pump'] });
    const valve = await catalog.add('default', '1.5.0', randomBytes(1000), { deviceTypes: ['valve'] });
    const cases: Array<[string, unknown, number, string]> = [
      [v3.id, { baseFirmwareIds: ['fw_nope'] }, 400, 'VALIDATION_FAILED'],
      [v1.id, { baseFirmwareIds: [v2.id] }, 400, 'VALIDATION_FAILED'],
      [v3.id, { baseFirmwareIds: [v3.id] }, 400, 'VALIDATION_FAILED'],
      [v3.id, { baseFirmwareIds: [] }, 400, 'VALIDATION_FAILED'],
      [v3.id, { baseFirmwareIds: [v1.id], extra: 1 }, 400, 'VALIDATION_FAILED'],
      [v3.id, {}, 400, 'VALIDATION_FAILED'],
      [v3.id, { baseFirmwareIds: [valve.id] }, 400, 'VALIDATION_FAILED'],
      ['fw_missing', { baseFirmwareIds: [v1.id] }, 404, 'NOT_FOUND'],
    ];
    for (const [id, body, status, code] of cases) {
      const res = await t.call('POST', `/api/v1/firmware/${id}/deltas`, { body });
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.code).toBe(code);
    }
    const mixed = await t.call('POST', `/api/v1/firmware/${v3.id}/deltas`, { body: { baseFirmwareIds: [v1.id, 'fw_nope'] } });
    expect(mixed.body.errors).toEqual([{ path: '/baseFirmwareIds/1', message: 'no firmware image "fw_nope"' }]);
    expect((await t.call('GET', `/api/v1/firmware/${v3.id}/deltas`)).body.items).toEqual([]);
    expect((await t.call('GET', '/api/v1/firmware/fw_missing/deltas')).status).toBe(404);
    expect((await t.call('GET', `/api/v1/firmware/${v3.id}/deltas`, { token: null })).status).toBe(401);
  });

  it('marks a delta that is not smaller than the image failed, offers it nowhere, and builds it again when asked', async () => {
    const noise = await catalog.add('default', '3.0.0', randomBytes(200_000));
    await deltas.requestDeltas('default', noise.id, ['1.0.0']);
    await deltas.idle();
    const [d] = (await t.call('GET', `/api/v1/firmware/${noise.id}/deltas`)).body.items;
    expect(d).toMatchObject({ state: 'failed', sha256: null });
    expect(d.error).toMatch(/^not smaller than the image/);
    expect(await deltas.readyDelta('default', noise.id, '1.0.0')).toBeUndefined();
    expect(await artifacts.size(deltaArtifactKey(d.id))).toBeUndefined();

    const retry = await t.call('POST', `/api/v1/firmware/${noise.id}/deltas`, { body: { baseFirmwareIds: [v1.id] } });
    expect(retry.body.items[0]).toMatchObject({ id: d.id, state: 'building', error: null });
    await deltas.idle();
    expect((await t.call('GET', `/api/v1/firmware/${noise.id}/deltas`)).body.items[0].state).toBe('failed');
  });

  it('gives images above the size limit no delta, saying why', async () => {
    const small = new DeltaService(t.hangar.stores, artifacts, catalog, undefined, { maxImageBytes: 1024 * 1024 });
    await small.start();
    const big = await catalog.add('default', '4.0.0', Buffer.concat([v2Bytes, randomBytes(1024 * 1024)]));
    await small.requestDeltas('default', big.id, ['1.0.0']);
    await small.idle();
    await small.stop();
    const [d] = (await t.call('GET', `/api/v1/firmware/${big.id}/deltas`)).body.items;
    expect(d).toMatchObject({ state: 'failed', error: 'images above 1 MiB get no delta (building one needs about 17× the base image in memory)' });
  });

  it('builds after a restart the deltas a previous run left building', async () => {
    const v5 = await catalog.add('default', '5.0.0', Buffer.concat([v2Bytes.subarray(0, 1000), Buffer.from('patched'), v2Bytes.subarray(1007)]));
    // A crash mid-build leaves this row behind; no service is told of it.
    await t.hangar.stores.firmwareDeltas.insert({ id: 'fd_left', tenantId: 'default', firmwareId: v5.id, baseFirmwareId: v2.id, baseVersion: '1.1.0', format: 'bsdiff40', state: 'building', size: null, sha256: null, error: null, buildMs: null, createdAt: 1 });
    const restarted = new DeltaService(t.hangar.stores, artifacts, catalog, undefined);
    await restarted.start();
    await restarted.idle();
    await restarted.stop();
    expect(await t.hangar.stores.firmwareDeltas.get('default', 'fd_left')).toMatchObject({ state: 'ready' });
    expect(await artifacts.size(deltaArtifactKey('fd_left'))).toBeGreaterThan(0);
  });

  it('removes the deltas to and from a deleted image, with their artifacts', async () => {
    const ready = await deltas.readyDelta('default', v2.id, '1.0.0');
    expect(ready).toBeDefined();
    t.hangar.bus.publish({ type: 'firmware.deleted', tenantId: 'default', firmwareId: v1.id });
    await expect.poll(async () => (await t.call('GET', `/api/v1/firmware/${v2.id}/deltas`)).body.items.length).toBe(0);
    await expect.poll(() => artifacts.size(deltaArtifactKey(ready!.id))).toBeUndefined();
    // The images themselves are the registry's: untouched here.
    expect(await artifacts.size(firmwareArtifactKey(v1.id))).toBe(v1.size);
  });
});
