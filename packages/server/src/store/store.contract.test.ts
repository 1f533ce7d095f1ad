import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceQuery, parseFleetQuery, type DeviceQuery } from '../core/query/index.js';
import type { Device } from '../core/registry/device.js';
import { StoreError } from '../core/stores.js';
import { migrateToLatest } from './database.js';
import { STORE_KINDS, openTestStore, type TestStore } from '../testing/test-store.js';

const idLike = (glob: string): DeviceQuery => deviceQuery(parseFleetQuery(`id ~ "${glob}"`), Date.now());

/**
 * The store contract: every implementation of every store port must pass this suite.
 * It runs once per dialect (SQLite file, PostgreSQL schema), like Leshan's Redis stores
 * re-running the in-memory suite.
 */
function device(id: string, over: Partial<Device> = {}): Device {
  return {
    id,
    tenantId: 't1',
    type: 'sensor',
    status: 'active',
    tags: {},
    attributes: {},
    firmwareVersion: null,
    online: false,
    lastSeen: null,
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
    ...over,
  };
}

describe.each(STORE_KINDS)('store contract on %s', (kind) => {
  let t: TestStore;

  beforeAll(async () => {
    t = await openTestStore(kind);
    await t.stores.tenancy.insertTenant({ id: 't1', name: 'One', createdAt: 1 });
    await t.stores.tenancy.insertTenant({ id: 't2', name: 'Two', createdAt: 2 });
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  describe('migrations', () => {
    it('are versioned and applying them again changes nothing', async () => {
      expect(await migrateToLatest(t.conn)).toEqual([]);
    });
  });

  describe('devices', () => {
    it('stores and reads back a device with tags, attributes and times intact', async () => {
      const d = device('dev-a', { tags: { site: 'berlin', floor: '3' }, attributes: { model: 'X1', nested: { a: [1, 2] } }, firmwareVersion: '1.2.3', lastSeen: 1_700_000_123_456 });
      await t.stores.devices.insert(d);
      expect(await t.stores.devices.get('t1', 'dev-a')).toEqual(d);
    });

    it('scopes reads by tenant', async () => {
      expect(await t.stores.devices.get('t2', 'dev-a')).toBeUndefined();
      const owners = await t.stores.devices.findOwners(['dev-a', 'nope']);
      expect([...owners.keys()]).toEqual(['dev-a']);
      expect(owners.get('dev-a')!.tenantId).toBe('t1');
    });

    it('refuses a second device with the same id, even in another tenant', async () => {
      // As a StoreError core understands, whatever the driver's code for it.
      await expect(t.stores.devices.insert(device('dev-a', { tenantId: 't2' }))).rejects.toMatchObject({ name: 'StoreError', reason: 'unique' });
      await expect(t.stores.transaction((tx) => tx.devices.insertMany([device('dev-new'), device('dev-a')]))).rejects.toBeInstanceOf(StoreError);
      expect(await t.stores.devices.get('t1', 'dev-new')).toBeUndefined();
      expect((await t.stores.devices.get('t1', 'dev-a'))!.tenantId).toBe('t1');
    });

    it('keeps the tag index in step with updates', async () => {
      const d = (await t.stores.devices.get('t1', 'dev-a'))!;
      await t.stores.devices.update({ ...d, tags: { site: 'paris' }, updatedAt: d.updatedAt + 1 });
      const rows = await t.conn.db.selectFrom('device_tags').select(['key', 'value']).where('device_id', '=', 'dev-a').execute();
      expect(rows).toEqual([{ key: 'site', value: 'paris' }]);
    });

    it('pages through devices in id order with keyset cursors', async () => {
      await t.stores.devices.insertMany(Array.from({ length: 25 }, (_, i) => device(`page-${String(i).padStart(2, '0')}`)));
      const seen: string[] = [];
      let after: string | undefined;
      for (;;) {
        const rows = await t.stores.devices.list({ tenantId: 't1', afterId: after, limit: 10, where: idLike('page-*') });
        seen.push(...rows.map((r) => r.id));
        if (rows.length < 10) break;
        after = rows[rows.length - 1]!.id;
      }
      expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `page-${String(i).padStart(2, '0')}`));
      expect(await t.stores.devices.count('t1', idLike('page-*'))).toBe(25);
    });

    it('inserts thousands of devices in one call (past the bound-parameter ceiling)', async () => {
      const many = Array.from({ length: 5000 }, (_, i) => device(`bulk-${i}`, { tags: { batch: 'b1', n: String(i) } }));
      await t.stores.devices.insertMany(many);
      expect(await t.stores.devices.count('t1', idLike('bulk-*'))).toBe(5000);
    });

    it('reads the desired twin a device starts with, scoped by tenant', async () => {
      await t.stores.devices.insert(device('twin-a'));
      expect(await t.stores.twins.getDesired('t1', 'twin-a')).toBeUndefined();
      await t.stores.twins.writeHalf('t1', 'twin-a', 'desired', { version: 1, properties: { interval: 30, mode: { eco: true } }, metadata: {} }, 0, 5);
      expect(await t.stores.twins.getDesired('t1', 'twin-a')).toEqual({ version: 1, desired: { interval: 30, mode: { eco: true } } });
      expect(await t.stores.twins.getDesired('t2', 'twin-a')).toBeUndefined();
    });

    it('deletes a device with its tags and memberships', async () => {
      await t.stores.devices.insert(device('gone', { tags: { x: 'y' } }));
      await t.stores.groups.insert({ id: 'g-del', tenantId: 't1', kind: 'static', query: null, description: '', createdAt: 1, updatedAt: 1 });
      await t.stores.groups.addMembers('t1', 'g-del', ['gone'], 1);
      expect(await t.stores.devices.delete('t2', 'gone')).toBe(false);
      expect(await t.stores.devices.delete('t1', 'gone')).toBe(true);
      expect(await t.conn.db.selectFrom('device_tags').selectAll().where('device_id', '=', 'gone').execute()).toEqual([]);
      expect(await t.stores.groups.memberCount('t1', 'g-del')).toBe(0);
    });
  });

  describe('groups', () => {
    it('adds members idempotently and lists static memberships per device', async () => {
      await t.stores.groups.insert({ id: 'g1', tenantId: 't1', kind: 'static', query: null, description: 'd', createdAt: 1, updatedAt: 1 });
      expect(await t.stores.groups.addMembers('t1', 'g1', ['dev-a', 'page-00'], 5)).toBe(2);
      expect(await t.stores.groups.addMembers('t1', 'g1', ['dev-a'], 6)).toBe(0);
      const of = await t.stores.groups.staticGroupsOf('t1', ['dev-a', 'page-01']);
      expect(of.get('dev-a')).toEqual(['g1']);
      expect(of.get('page-01')).toBeUndefined();
      const members = await t.stores.devices.list({ tenantId: 't1', where: { kind: 'staticGroup', groupId: 'g1' }, limit: 10 });
      expect(members.map((m) => m.id)).toEqual(['dev-a', 'page-00']);
    });

    it('scopes group ids by tenant', async () => {
      await t.stores.groups.insert({ id: 'g1', tenantId: 't2', kind: 'dynamic', query: 'type = "x"', description: '', createdAt: 1, updatedAt: 1 });
      expect((await t.stores.groups.get('t2', 'g1'))!.kind).toBe('dynamic');
      expect((await t.stores.groups.get('t1', 'g1'))!.kind).toBe('static');
    });
  });

  describe('tenancy', () => {
    it('finds an API key by its token hash, and not after revocation flags it', async () => {
      const key = { id: 'key_1', tenantId: 't1', name: 'ci', role: 'operator' as const, prefix: 'hk_abcde', createdAt: 10, createdBy: 'me', lastUsedAt: null, revokedAt: null };
      await t.stores.tenancy.insertApiKey(key, 'h'.repeat(64));
      expect(await t.stores.tenancy.findApiKeyByHash('h'.repeat(64))).toEqual(key);
      await t.stores.tenancy.revokeApiKey('t1', 'key_1', 99);
      expect((await t.stores.tenancy.findApiKeyByHash('h'.repeat(64)))!.revokedAt).toBe(99);
      await expect(t.stores.tenancy.insertApiKey({ ...key, id: 'key_2' }, 'h'.repeat(64))).rejects.toThrow();
    });

    it('keeps usernames unique across the installation', async () => {
      const u = { id: 'usr_1', tenantId: 't1', username: 'ada', role: 'admin' as const, createdAt: 1, updatedAt: 1, disabledAt: null };
      await t.stores.tenancy.insertUser(u, 'scrypt$x');
      await expect(t.stores.tenancy.insertUser({ ...u, id: 'usr_2', tenantId: 't2' }, 'scrypt$y')).rejects.toThrow();
      expect((await t.stores.tenancy.findUserByName('ada'))!.passwordHash).toBe('scrypt$x');
    });

    it('expires sessions', async () => {
      await t.stores.tenancy.insertSession('s1', { tenantId: 't1', principalType: 'user', principalId: 'usr_1', expiresAt: 100 }, 1);
      await t.stores.tenancy.insertSession('s2', { tenantId: 't1', principalType: 'user', principalId: 'usr_1', expiresAt: 10_000 }, 1);
      expect(await t.stores.tenancy.deleteExpiredSessions(5000)).toBe(1);
      expect(await t.stores.tenancy.getSession('s1')).toBeUndefined();
      expect((await t.stores.tenancy.getSession('s2'))!.principalId).toBe('usr_1');
    });
  });

  describe('audit log', () => {
    it('lists newest first, filtered, per tenant', async () => {
      for (let i = 1; i <= 3; i++) {
        await t.stores.audit.append({ tenantId: 't1', at: i, actor: { type: 'user', id: 'u', name: 'ada' }, action: i === 2 ? 'device.delete' : 'device.create', target: { type: 'device', id: `d${i}` }, summary: { i }, requestId: null });
      }
      const all = await t.stores.audit.list({ tenantId: 't1', limit: 10 });
      expect(all.map((e) => e.target.id)).toEqual(['d3', 'd2', 'd1']);
      expect((await t.stores.audit.list({ tenantId: 't1', action: 'device.delete', limit: 10 })).map((e) => e.summary)).toEqual([{ i: 2 }]);
      expect(await t.stores.audit.list({ tenantId: 't2', limit: 10 })).toEqual([]);
      expect((await t.stores.audit.list({ tenantId: 't1', beforeId: all[0]!.id, limit: 1 }))[0]!.target.id).toBe('d2');
    });

    it('refuses to change or delete history, even through raw SQL', async () => {
      await expect(sql`UPDATE audit_log SET action = 'forged'`.execute(t.conn.db)).rejects.toThrow(/append-only/);
      await expect(sql`DELETE FROM audit_log`.execute(t.conn.db)).rejects.toThrow(/append-only/);
      expect((await t.stores.audit.list({ tenantId: 't1', limit: 10 })).length).toBe(3);
    });
  });

  describe('transactions', () => {
    it('roll back every write of a failed unit of work', async () => {
      await expect(
        t.stores.transaction(async (tx) => {
          await tx.devices.insert(device('tx-1'));
          await tx.audit.append({ tenantId: 't1', at: 1, actor: { type: 'user', id: 'u', name: 'n' }, action: 'x', target: { type: 'device', id: 'tx-1' }, summary: {}, requestId: null });
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await t.stores.devices.get('t1', 'tx-1')).toBeUndefined();
      expect(await t.stores.audit.list({ tenantId: 't1', targetId: 'tx-1', limit: 10 })).toEqual([]);
    });
  });
});
