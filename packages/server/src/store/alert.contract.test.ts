import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, AlertRule } from '../core/alerts/ports.js';
import { parseRule, ruleScope } from '../core/alerts/rule-scope.js';
import { deviceQuery, parseFleetQuery } from '../core/query/index.js';
import type { Device } from '../core/registry/device.js';
import { STORE_KINDS, openTestStore, type TestStore } from '../testing/test-store.js';

/** The alert and fleet-stats store contract, run on a SQLite file and a PostgreSQL schema. */
const T0 = 1_700_000_000_000;

function device(id: string, over: Partial<Device> = {}): Device {
  return { id, tenantId: 't1', type: 'sensor', status: 'active', tags: {}, attributes: {}, firmwareVersion: null, online: false, lastSeen: null, createdAt: T0, updatedAt: T0, ...over };
}

function rule(id: string, condition: string, over: Partial<AlertRule> = {}): AlertRule {
  return { id, tenantId: 't1', name: `rule ${id}`, description: '', severity: 'major', enabled: true, target: null, condition, createdAt: T0, updatedAt: T0, ...over };
}

let alertSeq = 0;
function alert(ruleId: string, deviceId: string, over: Partial<Alert> = {}): Alert {
  alertSeq += 1;
  return {
    id: `a-${String(alertSeq).padStart(4, '0')}`,
    tenantId: 't1',
    ruleId,
    ruleName: `rule ${ruleId}`,
    deviceId,
    severity: 'major',
    state: 'raised',
    message: 'm',
    details: { values: { 'telemetry.temp': 85 } },
    count: 1,
    raisedAt: T0 + alertSeq,
    lastTriggeredAt: T0 + alertSeq,
    lastEvaluatedAt: T0 + alertSeq,
    acknowledgedAt: null,
    acknowledgedBy: null,
    clearedAt: null,
    clearedBy: null,
    clearedReason: null,
    ...over,
  };
}

describe.each(STORE_KINDS)('alert store contract on %s', (kind) => {
  let t: TestStore;

  async function setTemp(deviceId: string, value: number, tenantId = 't1'): Promise<void> {
    const db = t.conn.db;
    await db.deleteFrom('telemetry_latest').where('device_id', '=', deviceId).where('key', '=', 'temp').execute();
    await db.insertInto('telemetry_latest').values({ tenant_id: tenantId, device_id: deviceId, key: 'temp', value_num: value, value_str: null, value_bool: null, ts: T0 }).execute();
  }

  function scopeOf(r: AlertRule, now = T0, deviceId?: string) {
    return ruleScope(parseRule(r), { now, deviceId });
  }

  beforeAll(async () => {
    t = await openTestStore(kind);
    await t.stores.tenancy.insertTenant({ id: 't1', name: 'One', createdAt: 1 });
    await t.stores.tenancy.insertTenant({ id: 't2', name: 'Two', createdAt: 2 });
    await t.stores.devices.insertMany([
      device('hot-1', { tags: { site: 'berlin' } }),
      device('hot-2', { tags: { site: 'paris' } }),
      device('cold-1', { tags: { site: 'berlin' } }),
      device('gone-1', { status: 'decommissioned' }),
      device('other-1', { tenantId: 't2' }),
    ]);
    await setTemp('hot-1', 90);
    await setTemp('hot-2', 85);
    await setTemp('cold-1', 20);
    await setTemp('gone-1', 99);
    await setTemp('other-1', 99, 't2');
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  describe('rules', () => {
    it('stores, reads back, updates and lists rules per tenant', async () => {
      const r = rule('r-1', 'telemetry.temp > 80', { target: 'tags.site = "berlin"', description: 'too hot' });
      await t.stores.alerts.insertRule(r);
      expect(await t.stores.alerts.getRule('t1', 'r-1')).toEqual(r);
      expect(await t.stores.alerts.getRule('t2', 'r-1')).toBeUndefined();
      expect(await t.stores.alerts.findRuleByName('t1', 'rule r-1')).toEqual(r);
      const changed = { ...r, enabled: false, severity: 'critical' as const, target: null, updatedAt: T0 + 5 };
      await t.stores.alerts.updateRule(changed);
      expect(await t.stores.alerts.getRule('t1', 'r-1')).toEqual(changed);
      await t.stores.alerts.insertRule(rule('r-2', 'offline for 10m'));
      expect((await t.stores.alerts.listRules('t1', undefined, 10)).map((x) => x.id)).toEqual(['r-1', 'r-2']);
      expect((await t.stores.alerts.listRules('t1', 'r-1', 10)).map((x) => x.id)).toEqual(['r-2']);
      expect((await t.stores.alerts.listEnabledRules('t1')).map((x) => x.id)).toEqual(['r-2']);
      expect(await t.stores.alerts.listRules('t2', undefined, 10)).toEqual([]);
    });

    it('refuses a second rule with the same name in a tenant, not in another tenant', async () => {
      await expect(t.stores.alerts.insertRule(rule('r-dup', 'telemetry.x > 1', { name: 'rule r-1' }))).rejects.toThrow();
      await t.stores.alerts.insertRule(rule('r-t2', 'telemetry.x > 1', { name: 'rule r-1', tenantId: 't2' }));
      expect(await t.stores.alerts.deleteRule('t1', 'r-t2')).toBe(false);
      expect(await t.stores.alerts.deleteRule('t2', 'r-t2')).toBe(true);
    });
  });

  describe('alerts', () => {
    it('keeps at most one open alert per rule and device', async () => {
      const first = alert('r-1', 'hot-1');
      expect(await t.stores.alerts.insertAlerts([first])).toEqual([first.id]);
      const again = alert('r-1', 'hot-1');
      const other = alert('r-1', 'hot-2');
      expect(await t.stores.alerts.insertAlerts([again, other])).toEqual([other.id]);
      expect(await t.stores.alerts.getAlert('t1', first.id)).toEqual(first);
      expect(await t.stores.alerts.getAlert('t1', again.id)).toBeUndefined();
      expect((await t.stores.alerts.findOpenAlert('t1', 'r-1', 'hot-1'))?.id).toBe(first.id);
      // An acknowledged alert is still open.
      expect((await t.stores.alerts.acknowledge('t1', first.id, T0 + 100, 'alice'))?.state).toBe('acknowledged');
      expect(await t.stores.alerts.insertAlerts([alert('r-1', 'hot-1')])).toEqual([]);
      // Once cleared, the next one may be raised.
      const [cleared] = await t.stores.alerts.clearAlerts('t1', [first.id], { at: T0 + 200, by: 'system', reason: 'condition' });
      expect(cleared).toMatchObject({ state: 'cleared', clearedAt: T0 + 200, clearedBy: 'system', clearedReason: 'condition', acknowledgedBy: 'alice' });
      const next = alert('r-1', 'hot-1');
      expect(await t.stores.alerts.insertAlerts([next])).toEqual([next.id]);
    });

    it('moves only raised alerts to acknowledged and only open alerts to cleared', async () => {
      const a = alert('r-9', 'hot-1');
      await t.stores.alerts.insertAlerts([a]);
      expect(await t.stores.alerts.acknowledge('t2', a.id, T0, 'x')).toBeUndefined();
      expect(await t.stores.alerts.acknowledge('t1', a.id, T0 + 1, 'bob')).toMatchObject({ state: 'acknowledged', acknowledgedAt: T0 + 1, acknowledgedBy: 'bob' });
      expect(await t.stores.alerts.acknowledge('t1', a.id, T0 + 2, 'bob')).toBeUndefined();
      expect(await t.stores.alerts.clearAlerts('t2', [a.id], { at: T0, by: 'x', reason: 'operator' })).toEqual([]);
      expect(await t.stores.alerts.clearAlerts('t1', [a.id], { at: T0 + 3, by: 'bob', reason: 'operator' })).toHaveLength(1);
      expect(await t.stores.alerts.clearAlerts('t1', [a.id], { at: T0 + 4, by: 'bob', reason: 'operator' })).toEqual([]);
      expect((await t.stores.alerts.getAlert('t1', a.id))?.clearedAt).toBe(T0 + 3);
    });

    it('counts re-triggers of an open alert and refreshes its details', async () => {
      const a = alert('r-8', 'hot-2');
      await t.stores.alerts.insertAlerts([a]);
      const after = await t.stores.alerts.retrigger('t1', a.id, { at: T0 + 50, message: 'again', details: { values: { 'telemetry.temp': 95 } } });
      expect(after).toMatchObject({ count: 2, lastTriggeredAt: T0 + 50, lastEvaluatedAt: T0 + 50, message: 'again', details: { values: { 'telemetry.temp': 95 } }, raisedAt: a.raisedAt });
      await t.stores.alerts.clearAlerts('t1', [a.id], { at: T0 + 60, by: 'system', reason: 'condition' });
      expect(await t.stores.alerts.retrigger('t1', a.id, { at: T0 + 70, message: 'x', details: {} })).toBeUndefined();
    });

    it('lists alerts newest first with filters and keyset pages', async () => {
      const all = await t.stores.alerts.listAlerts({ tenantId: 't1', limit: 100 });
      expect(all.length).toBeGreaterThanOrEqual(5);
      const raisedAts = all.map((a) => a.raisedAt);
      expect(raisedAts).toEqual([...raisedAts].sort((a, b) => b - a));
      const open = await t.stores.alerts.listAlerts({ tenantId: 't1', states: ['raised', 'acknowledged'], limit: 100 });
      expect(open.every((a) => a.state !== 'cleared')).toBe(true);
      expect((await t.stores.alerts.listAlerts({ tenantId: 't1', deviceId: 'hot-2', ruleId: 'r-8', limit: 100 })).map((a) => a.ruleId)).toEqual(['r-8']);
      expect(await t.stores.alerts.listAlerts({ tenantId: 't1', severity: 'critical', limit: 100 })).toEqual([]);
      expect(await t.stores.alerts.listAlerts({ tenantId: 't2', limit: 100 })).toEqual([]);
      const seen: string[] = [];
      let before: { raisedAt: number; id: string } | undefined;
      for (;;) {
        const page = await t.stores.alerts.listAlerts({ tenantId: 't1', before, limit: 2 });
        seen.push(...page.map((a) => a.id));
        if (page.length < 2) break;
        const last = page[page.length - 1]!;
        before = { raisedAt: last.raisedAt, id: last.id };
      }
      expect(seen).toEqual(all.map((a) => a.id));
    });

    it('finds the open alerts of a rule or of a device', async () => {
      const ofDevice = await t.stores.alerts.openAlerts('t1', { deviceId: 'hot-1' }, 100);
      expect(ofDevice.map((a) => a.ruleId).sort()).toEqual(['r-1']);
      const ofRule = await t.stores.alerts.openAlerts('t1', { ruleId: 'r-1' }, 100);
      expect(ofRule.map((a) => a.deviceId).sort()).toEqual(['hot-1', 'hot-2']);
      expect(await t.stores.alerts.openAlerts('t2', { ruleId: 'r-1' }, 100)).toEqual([]);
    });
  });

  describe('evaluation statements', () => {
    const hot = rule('eval-hot', 'telemetry.temp > 80');

    beforeAll(async () => {
      await t.stores.alerts.insertRule(hot);
    });

    it('selects the devices a rule holds for, never decommissioned ones or another tenant’s', async () => {
      expect(await t.stores.alerts.matchingDevices(scopeOf(hot), 100)).toEqual(['hot-1', 'hot-2']);
      expect(await t.stores.alerts.matchingDevices(scopeOf(hot, T0, 'hot-2'), 100)).toEqual(['hot-2']);
      expect(await t.stores.alerts.matchingDevices(scopeOf(hot, T0, 'cold-1'), 100)).toEqual([]);
      const berlin = { ...hot, target: 'tags.site = "berlin"' };
      expect(await t.stores.alerts.matchingDevices(scopeOf(berlin), 100)).toEqual(['hot-1']);
    });

    it('finds matching devices without an open alert and open alerts that no longer match', async () => {
      const scope = scopeOf(hot);
      expect(await t.stores.alerts.matchingWithoutOpenAlert(scope, 100)).toEqual(['hot-1', 'hot-2']);
      const a1 = alert('eval-hot', 'hot-1');
      const stale = alert('eval-hot', 'cold-1');
      await t.stores.alerts.insertAlerts([a1, stale]);
      expect(await t.stores.alerts.matchingWithoutOpenAlert(scope, 100)).toEqual(['hot-2']);
      expect(await t.stores.alerts.matchingWithoutOpenAlert(scope, 1)).toEqual(['hot-2']);
      expect((await t.stores.alerts.openAlertsNotMatching(scope, 100)).map((a) => a.id)).toEqual([stale.id]);
      expect(await t.stores.alerts.touchOpenAlerts(scope, T0 + 999)).toBe(1);
      expect((await t.stores.alerts.getAlert('t1', a1.id))?.lastEvaluatedAt).toBe(T0 + 999);
      expect((await t.stores.alerts.getAlert('t1', stale.id))?.lastEvaluatedAt).toBe(stale.lastEvaluatedAt);
    });

    it('starts, keeps, prunes and reports holds', async () => {
      const held = rule('eval-held', 'telemetry.temp > 80 for 5m');
      await t.stores.alerts.insertRule(held);
      const scope = scopeOf(held);
      expect(await t.stores.alerts.startPending(scope, T0)).toBe(2);
      // Starting again keeps the first start.
      expect(await t.stores.alerts.startPending(scope, T0 + 60_000)).toBe(0);
      expect(await t.stores.alerts.pendingSince('t1', 'eval-held', 'hot-1')).toBe(T0);
      expect(await t.stores.alerts.duePending(scope, T0 - 1, 100)).toEqual([]);
      expect(await t.stores.alerts.duePending(scope, T0, 100)).toEqual(['hot-1', 'hot-2']);
      await t.stores.alerts.insertAlerts([alert('eval-held', 'hot-1')]);
      expect(await t.stores.alerts.duePending(scope, T0, 100)).toEqual(['hot-2']);
      await setTemp('hot-2', 50);
      expect(await t.stores.alerts.prunePending(scope)).toBe(1);
      expect(await t.stores.alerts.pendingSince('t1', 'eval-held', 'hot-2')).toBeUndefined();
      expect(await t.stores.alerts.pendingSince('t1', 'eval-held', 'hot-1')).toBe(T0);
      await setTemp('hot-2', 85);
      expect(await t.stores.alerts.deletePending('t1', { ruleId: 'eval-held', deviceId: 'hot-1' })).toBe(1);
      expect(await t.stores.alerts.deletePending('t2', { ruleId: 'eval-held' })).toBe(0);
    });

    it('drops the holds of a deleted device and of a deleted rule with them', async () => {
      const r = rule('eval-cascade', 'telemetry.temp > 10 for 1m');
      await t.stores.alerts.insertRule(r);
      await t.stores.devices.insert(device('short-lived'));
      await setTemp('short-lived', 50);
      expect(await t.stores.alerts.startPending(scopeOf(r), T0)).toBe(4);
      await t.stores.devices.delete('t1', 'short-lived');
      expect(await t.stores.alerts.pendingSince('t1', 'eval-cascade', 'short-lived')).toBeUndefined();
      await t.stores.alerts.deleteRule('t1', 'eval-cascade');
      expect(await t.stores.alerts.pendingSince('t1', 'eval-cascade', 'hot-1')).toBeUndefined();
    });

    it('applies relative times of presence rules from the given now', async () => {
      await t.stores.devices.insert(device('quiet-1', { lastSeen: T0 - 11 * 60_000 }));
      await t.stores.devices.insert(device('quiet-2', { lastSeen: T0 - 5 * 60_000 }));
      await t.stores.devices.insert(device('never-seen'));
      const presence = rule('eval-offline', 'offline for 10m', { target: 'id ~ "quiet-*" OR id = "never-seen"' });
      expect(await t.stores.alerts.matchingDevices(scopeOf(presence, T0), 100)).toEqual(['quiet-1']);
      expect(await t.stores.alerts.matchingDevices(scopeOf(presence, T0 + 5 * 60_000), 100)).toEqual(['quiet-1', 'quiet-2']);
    });

    it('reads the current values of devices for alert details', async () => {
      const facts = await t.stores.alerts.deviceFacts('t1', ['hot-1', 'cold-1', 'nope'], ['temp', 'absent']);
      expect([...facts.keys()].sort()).toEqual(['cold-1', 'hot-1']);
      expect(facts.get('hot-1')).toEqual({ deviceId: 'hot-1', type: 'sensor', status: 'active', online: false, lastSeen: null, firmwareVersion: null, tags: { site: 'berlin' }, telemetry: { temp: { value: 90, ts: T0 } } });
      expect((await t.stores.alerts.deviceFacts('t2', ['hot-1'], ['temp'])).size).toBe(0);
    });
  });

  describe('fleet stats', () => {
    let s: TestStore;

    beforeAll(async () => {
      s = await openTestStore(kind);
      await s.stores.tenancy.insertTenant({ id: 't1', name: 'One', createdAt: 1 });
      await s.stores.tenancy.insertTenant({ id: 't2', name: 'Two', createdAt: 2 });
      const fleet: Device[] = [
        device('s1', { online: true, firmwareVersion: '1.0.0', tags: { site: 'berlin' } }),
        device('s2', { online: true, firmwareVersion: '1.0.0', tags: { site: 'berlin' } }),
        device('s3', { online: false, firmwareVersion: '1.1.0', tags: { site: 'paris' } }),
        device('s4', { online: false, firmwareVersion: '2.0.0', status: 'suspended', tags: { site: 'berlin' } }),
        device('g1', { type: 'gateway', online: true, firmwareVersion: '1.0.0', tags: { site: 'paris' } }),
        device('g2', { type: 'gateway', online: false, tags: { site: 'berlin' } }),
        device('x1', { tenantId: 't2', online: true, firmwareVersion: '9.9.9' }),
      ];
      await s.stores.devices.insertMany(fleet);
      await s.stores.alerts.insertAlerts([
        alert('r', 's1', { severity: 'critical' }),
        alert('r', 's3', { severity: 'critical', state: 'acknowledged' }),
        alert('q', 's1', { severity: 'warning' }),
        alert('q', 'g1', { severity: 'warning', state: 'cleared' }),
        alert('r', 'x1', { tenantId: 't2', severity: 'info' }),
      ]);
    });
    afterAll(async () => {
      await s?.cleanup();
    });

    it('counts the whole fleet of a tenant', async () => {
      const stats = await s.stores.fleetStats.stats({ tenantId: 't1', firmwareTop: 10, typeTop: 100 });
      expect(stats).toEqual({
        total: 6,
        online: 3,
        offline: 3,
        byType: { sensor: 4, gateway: 2 },
        typeOther: 0,
        byStatus: { active: 5, suspended: 1 },
        firmware: { '1.0.0': 3, '1.1.0': 1, '2.0.0': 1 },
        firmwareOther: 0,
        firmwareUnknown: 1,
        alerts: { open: 3, bySeverity: { critical: 2, major: 0, minor: 0, warning: 1, info: 0 }, byState: { raised: 2, acknowledged: 1 } },
      });
      expect(Object.keys(stats.firmware)).toEqual(['1.0.0', '1.1.0', '2.0.0']);
    });

    it('counts only the devices a fleet query selects, and cuts the firmware list at top N', async () => {
      const where = deviceQuery(parseFleetQuery('tags.site = "berlin"'), Date.now());
      const stats = await s.stores.fleetStats.stats({ tenantId: 't1', where, firmwareTop: 1, typeTop: 1 });
      expect(stats).toMatchObject({
        total: 4,
        online: 2,
        offline: 2,
        byType: { sensor: 3 },
        typeOther: 1,
        firmware: { '1.0.0': 2 },
        firmwareOther: 1,
        firmwareUnknown: 1,
        alerts: { open: 2, bySeverity: { critical: 1, warning: 1 } },
      });
      const none = deviceQuery(parseFleetQuery('type = "none"'), Date.now());
      expect(await s.stores.fleetStats.stats({ tenantId: 't1', where: none, firmwareTop: 10, typeTop: 100 })).toMatchObject({ total: 0, online: 0, offline: 0, byType: {}, firmware: {}, alerts: { open: 0 } });
    });
  });
});
