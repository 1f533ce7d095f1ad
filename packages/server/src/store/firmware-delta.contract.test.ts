import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FirmwareDeltaRecord } from '../core/firmware/catalog.js';
import { StoreError, type Stores } from '../core/stores.js';
import { openTestStore, STORE_KINDS, type TestStore } from '../testing/test-store.js';

function delta(id: string, fields: Partial<FirmwareDeltaRecord> = {}): FirmwareDeltaRecord {
  return {
    id,
    tenantId: 'default',
    firmwareId: 'fw_new',
    baseFirmwareId: 'fw_old',
    baseVersion: '1.0.0',
    format: 'bsdiff40',
    state: 'building',
    size: null,
    sha256: null,
    error: null,
    buildMs: null,
    createdAt: 1000,
    ...fields,
  };
}

describe.each(STORE_KINDS)('the firmware delta store on %s', (kind) => {
  let ts: TestStore;
  let stores: Stores;

  beforeAll(async () => {
    ts = await openTestStore(kind);
    stores = ts.stores;
    await stores.tenancy.insertTenant({ id: 'default', name: 'Default', createdAt: 1 });
    await stores.tenancy.insertTenant({ id: 'other', name: 'Other', createdAt: 1 });
  });
  afterAll(async () => {
    await ts.cleanup();
  });

  it('stores a delta per (target, base) pair and refuses a second one for the pair', async () => {
    const store = stores.firmwareDeltas;
    await store.insert(delta('fd_a'));
    expect(await store.get('default', 'fd_a')).toEqual(delta('fd_a'));
    expect(await store.get('other', 'fd_a')).toBeUndefined();
    // Driver errors become StoreErrors at the transaction boundary (store/stores.ts).
    const err = await stores.transaction((tx) => tx.firmwareDeltas.insert(delta('fd_dup'))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).reason).toBe('unique');
    expect(await store.get('default', 'fd_dup')).toBeUndefined();
  });

  it('ends a build once: ready with size, hash and time, or failed with why; offers only ready ones by base version', async () => {
    const store = stores.firmwareDeltas;
    await store.insert(delta('fd_b', { baseFirmwareId: 'fw_mid', baseVersion: '1.1.0', createdAt: 1001 }));
    expect((await store.building()).map((d) => d.id)).toEqual(['fd_a', 'fd_b']);
    expect(await store.readyFrom('default', 'fw_new', '1.0.0')).toBeUndefined();

    expect(await store.finish('default', 'fd_a', { state: 'ready', size: 12_345, sha256: 'ab'.repeat(32), buildMs: 1500 })).toBe(true);
    expect(await store.finish('default', 'fd_a', { state: 'failed', error: 'late', size: null, buildMs: null })).toBe(false);
    expect(await store.finish('other', 'fd_b', { state: 'failed', error: 'x', size: null, buildMs: null })).toBe(false);
    expect(await store.finish('default', 'fd_b', { state: 'failed', error: 'not smaller than the image', size: 9_000_000, buildMs: 20 })).toBe(true);

    expect(await store.readyFrom('default', 'fw_new', '1.0.0')).toEqual(delta('fd_a', { state: 'ready', size: 12_345, sha256: 'ab'.repeat(32), buildMs: 1500 }));
    expect(await store.readyFrom('default', 'fw_new', '1.1.0')).toBeUndefined();
    expect(await store.readyFrom('other', 'fw_new', '1.0.0')).toBeUndefined();
    expect(await store.building()).toEqual([]);
    expect((await store.listTo('default', 'fw_new')).map((d) => [d.id, d.state, d.error])).toEqual([
      ['fd_a', 'ready', null],
      ['fd_b', 'failed', 'not smaller than the image'],
    ]);
    expect(await store.listTo('other', 'fw_new')).toEqual([]);
  });

  it('puts a failed delta back to building, and only a failed one', async () => {
    const store = stores.firmwareDeltas;
    expect(await store.rebuild('default', 'fd_a')).toBe(false);
    expect(await store.rebuild('default', 'fd_b')).toBe(true);
    expect(await store.get('default', 'fd_b')).toEqual(delta('fd_b', { baseFirmwareId: 'fw_mid', baseVersion: '1.1.0', createdAt: 1001 }));
    expect((await store.building()).map((d) => d.id)).toEqual(['fd_b']);
  });

  it('removes the deltas to and from a deleted image, in its tenant only', async () => {
    const store = stores.firmwareDeltas;
    await store.insert(delta('fd_c', { firmwareId: 'fw_newer', baseFirmwareId: 'fw_new', baseVersion: '2.0.0', createdAt: 1002 }));
    await store.insert(delta('fd_d', { firmwareId: 'fw_newer', baseFirmwareId: 'fw_old', createdAt: 1003 }));
    expect(await store.deleteForImage('other', 'fw_new')).toEqual([]);
    const removed = await store.deleteForImage('default', 'fw_new');
    expect(removed.map((d) => d.id).sort()).toEqual(['fd_a', 'fd_b', 'fd_c']);
    expect(await store.listTo('default', 'fw_new')).toEqual([]);
    expect((await store.listTo('default', 'fw_newer')).map((d) => d.id)).toEqual(['fd_d']);
  });

  it('writes inside a transaction, and a rolled-back one leaves nothing', async () => {
    await stores
      .transaction(async (tx) => {
        await tx.firmwareDeltas.insert(delta('fd_tx', { firmwareId: 'fw_tx' }));
        throw new Error('roll back');
      })
      .catch(() => undefined);
    expect(await stores.firmwareDeltas.get('default', 'fd_tx')).toBeUndefined();
  });
});
