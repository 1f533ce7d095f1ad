import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHangar, type Hangar } from '../app.js';
import type { DomainEvent, TelemetryScalar } from '../bus/events.js';
import type { Dialect } from '../core/stores.js';
import { STORE_KINDS, dropSchema, testDatabaseUrl } from '../testing/test-store.js';

const T0 = Date.UTC(2030, 0, 1);
const MIN = 60_000;

interface Harness {
  hangar: Hangar;
  clock: { now: number };
  events: DomainEvent[];
  call(method: string, url: string, options?: { body?: unknown; token?: string | null }): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/**
 * A Hangar on a controllable clock, with no sweep timer and no coalescing delay: the test
 * decides when time passes and when the sweep runs.
 */
async function startHarness(kind: Dialect): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hangar-alerts-'));
  const adminToken = `hk_test_${randomBytes(18).toString('base64url')}`;
  const databaseUrl = kind === 'postgres' ? testDatabaseUrl() : undefined;
  const schema = kind === 'postgres' ? `hangar_t_${randomBytes(6).toString('hex')}` : undefined;
  const clock = { now: T0 };
  const hangar = await createHangar({
    dataDir,
    databaseUrl,
    databaseSchema: schema,
    adminToken,
    logger: pino({ level: 'silent' }),
    webRoot: join(dataDir, 'no-web'),
    now: () => clock.now,
    alerts: { sweepIntervalMs: 0, coalesceMs: 0, ruleCacheMs: 0 },
  });
  const events: DomainEvent[] = [];
  hangar.bus.subscribeAll((e) => {
    if (e.type.startsWith('alert.')) events.push(e);
  });
  return {
    hangar,
    clock,
    events,
    async call(method, url, options = {}) {
      const token = options.token === undefined ? adminToken : options.token;
      const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      const res = await hangar.http.inject({ method: method as 'GET', url, headers, ...(options.body !== undefined ? { payload: JSON.stringify(options.body) } : {}) });
      return { status: res.statusCode, body: res.body === '' ? undefined : JSON.parse(res.body) };
    },
    async close() {
      await hangar.close();
      if (databaseUrl && schema) await dropSchema(databaseUrl, schema);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

describe.each(STORE_KINDS)('alerts on %s', (kind) => {
  let h: Harness;
  let viewer: string;
  let operator: string;

  /** What the telemetry writer does: the latest value durable, then the event. */
  async function report(deviceId: string, values: Record<string, TelemetryScalar>, tenantId = 'default'): Promise<void> {
    const db = h.hangar.store.db;
    for (const [key, value] of Object.entries(values)) {
      await db.deleteFrom('telemetry_latest').where('device_id', '=', deviceId).where('key', '=', key).execute();
      await db
        .insertInto('telemetry_latest')
        .values({
          tenant_id: tenantId,
          device_id: deviceId,
          key,
          value_num: typeof value === 'number' ? value : null,
          value_str: typeof value === 'string' ? value : null,
          value_bool: typeof value === 'boolean' ? (value ? 1 : 0) : null,
          ts: h.clock.now,
        })
        .execute();
    }
    h.hangar.bus.publish({ type: 'telemetry.received', tenantId, deviceId, ts: h.clock.now, values });
    await h.hangar.alertEvaluator.idle();
  }

  /** What the presence tracker does. */
  async function presence(deviceId: string, online: boolean, lastSeen: number): Promise<void> {
    await h.hangar.store.db.updateTable('devices').set({ online: online ? 1 : 0, last_seen: lastSeen }).where('id', '=', deviceId).execute();
    const base = { tenantId: 'default', deviceId, protocol: 'mqtt' as const, sessionId: 's1', at: lastSeen };
    h.hangar.bus.publish(online ? { type: 'device.connected', ...base, remoteAddress: null } : { type: 'device.disconnected', ...base, reason: 'closed' });
    await h.hangar.alertEvaluator.idle();
  }

  async function sweepAt(at: number): Promise<void> {
    h.clock.now = at;
    await h.hangar.alertEvaluator.sweep();
    await h.hangar.alertEvaluator.idle();
  }

  async function device(id: string, scenario: string): Promise<void> {
    const res = await h.call('POST', '/api/v1/devices', { body: { id, type: 'sensor', tags: { case: scenario } } });
    expect(res.status).toBe(201);
    // Creating a device evaluates its rules (device.created): let that finish, so what a test
    // does next is judged on its own.
    await h.hangar.alertEvaluator.idle();
  }

  async function rule(name: string, condition: string, scenario: string, over: Record<string, unknown> = {}): Promise<any> {
    const res = await h.call('POST', '/api/v1/alert-rules', { body: { name, severity: 'major', condition, target: `tags.case = "${scenario}"`, ...over } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await h.hangar.alertEvaluator.idle();
    return res.body;
  }

  async function alertsOf(deviceId: string, state?: string, ruleId?: string): Promise<any[]> {
    const res = await h.call('GET', `/api/v1/alerts?device=${deviceId}${state ? `&state=${state}` : ''}${ruleId ? `&ruleId=${ruleId}` : ''}`);
    expect(res.status).toBe(200);
    return res.body.items;
  }

  beforeAll(async () => {
    h = await startHarness(kind);
    viewer = (await h.call('POST', '/api/v1/api-keys', { body: { name: 'viewer', role: 'viewer' } })).body.token;
    operator = (await h.call('POST', '/api/v1/api-keys', { body: { name: 'night shift', role: 'operator' } })).body.token;
  });
  afterAll(async () => {
    await h?.close();
  });

  describe('rules', () => {
    async function counts(): Promise<{ rules: number; audit: number }> {
      const rules = (await h.hangar.stores.alerts.listRules('default', undefined, 10_000)).length;
      const audit = (await h.hangar.stores.audit.list({ tenantId: 'default', limit: 100_000 })).length;
      return { rules, audit };
    }

    it('creates, reads, lists, changes and deletes a rule, auditing each change', async () => {
      const created = await h.call('POST', '/api/v1/alert-rules', {
        body: { name: 'Hot', description: 'too hot', severity: 'critical', condition: 'telemetry.temp > 80 for 5m', target: 'tags.site = "berlin"' },
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ name: 'Hot', description: 'too hot', severity: 'critical', enabled: true, target: 'tags.site = "berlin"', condition: 'telemetry.temp > 80 for 5m', kind: 'telemetry', forSeconds: 300 });
      const id = created.body.id as string;
      expect((await h.call('GET', `/api/v1/alert-rules/${id}`, { token: viewer })).body).toEqual(created.body);
      expect((await h.call('GET', '/api/v1/alert-rules', { token: viewer })).body.items.map((r: any) => r.id)).toContain(id);

      const patched = await h.call('PATCH', `/api/v1/alert-rules/${id}`, { body: { condition: 'offline for 10m', target: null, severity: 'minor' }, token: operator });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ condition: 'offline for 10m', kind: 'presence', forSeconds: 600, target: null, severity: 'minor' });
      const status = await h.call('POST', '/api/v1/alert-rules', { body: { name: 'Suspended', severity: 'info', condition: 'status = "suspended"' } });
      expect(status.body).toMatchObject({ kind: 'device', forSeconds: null, target: null, description: '' });

      expect((await h.call('DELETE', `/api/v1/alert-rules/${id}`, { token: operator })).status).toBe(204);
      expect((await h.call('GET', `/api/v1/alert-rules/${id}`)).status).toBe(404);
      expect((await h.call('DELETE', `/api/v1/alert-rules/${id}`)).status).toBe(404);
      expect((await h.call('DELETE', `/api/v1/alert-rules/${status.body.id}`)).status).toBe(204);

      const audit = await h.call('GET', `/api/v1/audit?targetId=${id}`);
      expect(audit.body.items.map((e: any) => e.action)).toEqual(['alert_rule.delete', 'alert_rule.update', 'alert_rule.create']);
      expect(audit.body.items[1].actor.name).toBe('night shift');
    });

    it.each([
      ['a parse error', { condition: 'telemetry.temp >> 80' }, 'condition', 16],
      ['an unknown field', { condition: 'colour = "red"' }, 'condition', 0],
      ['a duration out of range', { condition: 'telemetry.temp > 80 for 8d' }, 'condition', 24],
      ['a zero duration', { condition: 'telemetry.temp > 80 for 0s' }, 'condition', 24],
      ['a duration without unit', { condition: 'telemetry.temp > 80 for 5' }, 'condition', 24],
      ['a for clause that does not end the condition', { condition: 'telemetry.temp > 80 for 5m AND online' }, 'condition', 27],
      ['an empty condition before for', { condition: 'for 5m' }, 'condition', 0],
      ['offline without a duration', { condition: 'offline' }, 'condition', 0],
      ['offline combined with a query', { condition: 'offline for 10m AND tags.x = "y"' }, 'condition', 16],
      ['a presence duration out of range', { condition: 'offline for 200h' }, 'condition', 12],
      ['a bad target', { condition: 'telemetry.temp > 80', target: 'tags.site = berlin' }, 'target', 12],
    ])('refuses %s with the position of the fault and stores nothing', async (_name, over, field, position) => {
      const before = await counts();
      const res = await h.call('POST', '/api/v1/alert-rules', { body: { name: `bad ${String(_name)}`, severity: 'major', ...over } });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body).toMatchObject({ code: 'INVALID_QUERY', field, position });
      expect(res.body.detail).toMatch(new RegExp(`^${field}: `));
      expect(await counts()).toEqual(before);
    });

    it('refuses bad fields, unknown severities, duplicate names and empty patches', async () => {
      const before = await counts();
      const bad = [
        { name: 'x', severity: 'fatal', condition: 'telemetry.a > 1' },
        { name: 'x', severity: 'major', condition: 'telemetry.a > 1', colour: 'red' },
        { name: '', severity: 'major', condition: 'telemetry.a > 1' },
        { name: '   ', severity: 'major', condition: 'telemetry.a > 1' },
        { name: 'x', severity: 'major' },
        { name: 'x', severity: 'major', condition: 'telemetry.a > 1', enabled: 'yes' },
      ];
      for (const body of bad) {
        const res = await h.call('POST', '/api/v1/alert-rules', { body });
        expect(res.status, JSON.stringify(body)).toBe(400);
      }
      const first = await h.call('POST', '/api/v1/alert-rules', { body: { name: 'Unique', severity: 'major', condition: 'telemetry.a > 1' } });
      const dup = await h.call('POST', '/api/v1/alert-rules', { body: { name: 'Unique', severity: 'minor', condition: 'telemetry.b > 1' } });
      expect(dup.status).toBe(409);
      expect(dup.body.code).toBe('ALERT_RULE_EXISTS');
      const other = await h.call('POST', '/api/v1/alert-rules', { body: { name: 'Other', severity: 'major', condition: 'telemetry.a > 1' } });
      expect((await h.call('PATCH', `/api/v1/alert-rules/${other.body.id}`, { body: { name: 'Unique' } })).status).toBe(409);
      expect((await h.call('PATCH', `/api/v1/alert-rules/${other.body.id}`, { body: {} })).status).toBe(400);
      expect((await h.call('PATCH', `/api/v1/alert-rules/${other.body.id}`, { body: { condition: 'nope' } })).body.code).toBe('INVALID_QUERY');
      expect((await h.call('PATCH', '/api/v1/alert-rules/missing', { body: { enabled: false } })).status).toBe(404);
      expect((await h.call('GET', `/api/v1/alert-rules/${other.body.id}`)).body.name).toBe('Other');
      await h.call('DELETE', `/api/v1/alert-rules/${first.body.id}`);
      await h.call('DELETE', `/api/v1/alert-rules/${other.body.id}`);
      expect((await counts()).rules).toBe(before.rules);
    });

    it('lets viewers read and only operators change rules and alerts', async () => {
      const r = await rule('Roles', 'telemetry.roles > 1', 'roles');
      await device('roles-1', 'roles');
      await report('roles-1', { roles: 5 });
      const [a] = await alertsOf('roles-1');
      expect(a).toBeDefined();
      const forbidden = [
        h.call('POST', '/api/v1/alert-rules', { body: { name: 'v', severity: 'major', condition: 'telemetry.a > 1' }, token: viewer }),
        h.call('PATCH', `/api/v1/alert-rules/${r.id}`, { body: { enabled: false }, token: viewer }),
        h.call('DELETE', `/api/v1/alert-rules/${r.id}`, { token: viewer }),
        h.call('POST', `/api/v1/alerts/${a.id}/acknowledge`, { token: viewer }),
        h.call('POST', `/api/v1/alerts/${a.id}/clear`, { token: viewer }),
      ];
      for (const res of await Promise.all(forbidden)) {
        expect(res.status).toBe(403);
        expect(res.body.detail).toMatch(/operator/);
      }
      expect((await h.call('GET', `/api/v1/alerts/${a.id}`, { token: viewer })).body.state).toBe('raised');
      expect((await h.call('GET', '/api/v1/alerts', { token: null })).status).toBe(401);
      expect((await h.call('GET', '/api/v1/alert-rules', { token: null })).status).toBe(401);
    });
  });

  describe('evaluation', () => {
    it('raises an alert when telemetry crosses a threshold, with the values that triggered it', async () => {
      const r = await rule('Hot', 'telemetry.temp > 80', 'threshold', { severity: 'critical' });
      await device('th-1', 'threshold');
      await device('th-2', 'threshold');
      h.events.length = 0;
      await report('th-1', { temp: 79 });
      expect(await alertsOf('th-1')).toEqual([]);
      await report('th-1', { temp: 85.5 });
      await report('th-2', { humidity: 99 });
      const [a] = await alertsOf('th-1');
      expect(a).toMatchObject({
        ruleId: r.id,
        ruleName: 'Hot',
        deviceId: 'th-1',
        severity: 'critical',
        state: 'raised',
        count: 1,
        raisedAt: new Date(T0).toISOString(),
        details: { condition: 'telemetry.temp > 80', values: { 'telemetry.temp': 85.5 } },
      });
      expect(a.message).toBe('Hot: th-1 telemetry.temp = 85.5');
      expect(await alertsOf('th-2')).toEqual([]);
      expect(h.events).toEqual([{ type: 'alert.raised', tenantId: 'default', deviceId: 'th-1', alertId: a.id, ruleId: r.id, ruleName: 'Hot', severity: 'critical', message: a.message }]);
    });

    it('keeps one open alert per device and rule, counting re-triggers', async () => {
      h.clock.now = T0 + MIN;
      await report('th-1', { temp: 90 });
      await report('th-1', { temp: 91 });
      await sweepAt(T0 + 2 * MIN);
      const all = await alertsOf('th-1');
      expect(all).toHaveLength(1);
      expect(all[0]).toMatchObject({ count: 3, lastTriggeredAt: new Date(T0 + MIN).toISOString(), lastEvaluatedAt: new Date(T0 + 2 * MIN).toISOString(), details: { values: { 'telemetry.temp': 91 } } });
      expect(h.events.filter((e) => e.type === 'alert.raised')).toHaveLength(1);
    });

    it('clears the alert by itself once the condition no longer holds', async () => {
      h.events.length = 0;
      h.clock.now = T0 + 3 * MIN;
      await report('th-1', { temp: 60 });
      const [a] = await alertsOf('th-1');
      expect(a).toMatchObject({ state: 'cleared', clearedBy: 'system', clearedReason: 'condition', clearedAt: new Date(T0 + 3 * MIN).toISOString() });
      expect(h.events).toEqual([{ type: 'alert.cleared', tenantId: 'default', deviceId: 'th-1', alertId: a.id, ruleId: a.ruleId, severity: 'critical', by: 'system' }]);
      // Back over the threshold: a new alert, the old one stays as history.
      await report('th-1', { temp: 99 });
      const both = await alertsOf('th-1');
      expect(both.map((x: any) => x.state)).toEqual(['raised', 'cleared']);
    });

    it('combines telemetry with other fields in one condition', async () => {
      await rule('Hot in Berlin', 'telemetry.heat > 80 AND tags.site = "berlin"', 'combined');
      await h.call('POST', '/api/v1/devices', { body: { id: 'cb-berlin', tags: { case: 'combined', site: 'berlin' } } });
      await h.call('POST', '/api/v1/devices', { body: { id: 'cb-paris', tags: { case: 'combined', site: 'paris' } } });
      await report('cb-berlin', { heat: 90 });
      await report('cb-paris', { heat: 90 });
      expect((await alertsOf('cb-berlin'))[0]?.details.values).toEqual({ 'telemetry.heat': 90, 'tags.site': 'berlin' });
      expect(await alertsOf('cb-paris')).toEqual([]);
    });

    it('raises a held condition only after it held for the whole duration', async () => {
      h.clock.now = T0;
      const r = await rule('Hot for 5m', 'telemetry.oven > 80 for 5m', 'held');
      await device('held-1', 'held');
      await report('held-1', { oven: 85 });
      expect(await alertsOf('held-1')).toEqual([]);
      expect(await h.hangar.stores.alerts.pendingSince('default', r.id, 'held-1')).toBe(T0);
      await sweepAt(T0 + 4 * MIN);
      h.clock.now = T0 + 4 * MIN + 30_000;
      await report('held-1', { oven: 86 });
      expect(await alertsOf('held-1')).toEqual([]);
      await sweepAt(T0 + 5 * MIN);
      const [a] = await alertsOf('held-1');
      expect(a).toMatchObject({ state: 'raised', raisedAt: new Date(T0 + 5 * MIN).toISOString(), details: { heldSince: new Date(T0).toISOString(), for: '5m', values: { 'telemetry.oven': 86 } } });
      expect(a.message).toBe('Hot for 5m: held-1 telemetry.oven = 86 for 5m');
    });

    it('starts the count again when a held condition breaks', async () => {
      h.clock.now = T0;
      await device('held-2', 'held');
      await report('held-2', { oven: 85 });
      h.clock.now = T0 + 3 * MIN;
      await report('held-2', { oven: 70 });
      h.clock.now = T0 + 4 * MIN;
      await report('held-2', { oven: 85 });
      await sweepAt(T0 + 6 * MIN);
      expect(await alertsOf('held-2')).toEqual([]);
      await sweepAt(T0 + 9 * MIN - 1);
      expect(await alertsOf('held-2')).toEqual([]);
      await sweepAt(T0 + 9 * MIN);
      expect((await alertsOf('held-2'))[0]?.details.heldSince).toBe(new Date(T0 + 4 * MIN).toISOString());
      // A break seen only by the sweep (no event) also clears.
      await h.hangar.store.db.updateTable('telemetry_latest').set({ value_num: 10 }).where('device_id', '=', 'held-2').execute();
      await sweepAt(T0 + 10 * MIN);
      expect((await alertsOf('held-2'))[0]?.state).toBe('cleared');
    });

    it('raises a presence rule from the sweep once the device has been offline long enough, and clears it on reconnect', async () => {
      h.clock.now = T0;
      await rule('Gone', 'offline for 10m', 'presence', { severity: 'warning' });
      await device('pr-1', 'presence');
      await device('pr-never', 'presence');
      await presence('pr-1', true, T0);
      await presence('pr-1', false, T0 + MIN);
      await sweepAt(T0 + 10 * MIN);
      expect(await alertsOf('pr-1')).toEqual([]);
      h.events.length = 0;
      await sweepAt(T0 + 11 * MIN);
      const [a] = await alertsOf('pr-1');
      expect(a).toMatchObject({ state: 'raised', severity: 'warning', details: { condition: 'offline for 10m', values: { online: false, lastSeen: new Date(T0 + MIN).toISOString() } } });
      expect(a.message).toBe(`Gone: pr-1 offline since ${new Date(T0 + MIN).toISOString()}`);
      expect(h.events.map((e) => e.type)).toEqual(['alert.raised']);
      // A device never seen is not "offline for 10m": it has not been anywhere yet.
      expect(await alertsOf('pr-never')).toEqual([]);
      h.clock.now = T0 + 12 * MIN;
      await presence('pr-1', true, T0 + 12 * MIN);
      expect((await alertsOf('pr-1'))[0]).toMatchObject({ state: 'cleared', clearedBy: 'system' });
    });

    it('raises device status rules from the sweep', async () => {
      await rule('Suspended', 'status = "suspended"', 'status');
      await device('st-1', 'status');
      expect((await h.call('PATCH', '/api/v1/devices/st-1', { body: { status: 'suspended' } })).status).toBe(200);
      expect(await alertsOf('st-1')).toEqual([]);
      await sweepAt(T0 + 20 * MIN);
      expect((await alertsOf('st-1'))[0]).toMatchObject({ state: 'raised', details: { values: { status: 'suspended' } } });
    });

    it('applies a new rule to devices that already meet it', async () => {
      await device('late-1', 'late');
      await report('late-1', { pressure: 3 });
      await rule('High pressure', 'telemetry.pressure >= 3', 'late');
      expect((await alertsOf('late-1'))[0]?.state).toBe('raised');
    });
  });

  describe('lifecycle', () => {
    let ruleId: string;

    beforeAll(async () => {
      ruleId = (await rule('Lifecycle', 'telemetry.level > 5', 'life')).id;
      for (const id of ['life-1', 'life-2', 'life-3']) {
        await device(id, 'life');
        await report(id, { level: 9 });
      }
    });

    it('acknowledges, then clears, and answers 409 to moves that are not allowed', async () => {
      const [a] = await alertsOf('life-1');
      h.events.length = 0;
      h.clock.now = T0 + 30 * MIN;
      const acked = await h.call('POST', `/api/v1/alerts/${a.id}/acknowledge`, { token: operator });
      expect(acked.status).toBe(200);
      expect(acked.body).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'night shift', acknowledgedAt: new Date(T0 + 30 * MIN).toISOString() });
      const again = await h.call('POST', `/api/v1/alerts/${a.id}/acknowledge`, { token: operator });
      expect(again.status).toBe(409);
      expect(again.body).toMatchObject({ code: 'ALERT_STATE_CONFLICT', detail: `alert "${a.id}" is already acknowledged` });
      // Still open: a new trigger updates it rather than raising another.
      await report('life-1', { level: 10 });
      expect(await alertsOf('life-1')).toHaveLength(1);
      const cleared = await h.call('POST', `/api/v1/alerts/${a.id}/clear`, { token: operator });
      expect(cleared.body).toMatchObject({ state: 'cleared', clearedBy: 'night shift', clearedReason: 'operator', acknowledgedBy: 'night shift' });
      expect((await h.call('POST', `/api/v1/alerts/${a.id}/clear`)).body.detail).toBe(`alert "${a.id}" is already cleared`);
      expect((await h.call('POST', `/api/v1/alerts/${a.id}/acknowledge`)).body.detail).toMatch(/is cleared; only a raised alert can be acknowledged/);
      expect((await h.call('POST', '/api/v1/alerts/missing/acknowledge')).status).toBe(404);
      expect((await h.call('POST', '/api/v1/alerts/missing/clear')).body.code).toBe('ALERT_NOT_FOUND');
      expect((await h.call('GET', '/api/v1/alerts/missing')).status).toBe(404);
      expect(h.events.map((e) => [e.type, 'by' in e ? e.by : null])).toEqual([
        ['alert.acknowledged', 'night shift'],
        ['alert.cleared', 'night shift'],
      ]);
      const audit = await h.call('GET', `/api/v1/audit?targetId=${a.id}`);
      expect(audit.body.items.map((e: any) => e.action)).toEqual(['alert.clear', 'alert.acknowledge']);
    });

    it('clears a raised alert directly; a condition that still holds raises anew', async () => {
      const [a] = await alertsOf('life-2');
      expect((await h.call('POST', `/api/v1/alerts/${a.id}/clear`)).body.state).toBe('cleared');
      await report('life-2', { level: 11 });
      const states = (await alertsOf('life-2')).map((x: any) => x.state);
      expect(states).toEqual(['raised', 'cleared']);
    });

    it('filters and pages the alert list', async () => {
      const open = await h.call('GET', `/api/v1/alerts?ruleId=${ruleId}&state=raised`);
      expect(open.body.items.map((x: any) => x.deviceId).sort()).toEqual(['life-2', 'life-3']);
      expect((await h.call('GET', `/api/v1/alerts?ruleId=${ruleId}&severity=critical`)).body.items).toEqual([]);
      const seen: string[] = [];
      let cursor = '';
      for (;;) {
        const page = await h.call('GET', `/api/v1/alerts?ruleId=${ruleId}&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...page.body.items.map((x: any) => x.id));
        if (page.body.nextCursor === null) break;
        cursor = page.body.nextCursor;
      }
      const all = (await h.call('GET', `/api/v1/alerts?ruleId=${ruleId}`)).body.items.map((x: any) => x.id);
      expect(seen).toEqual(all);
      expect(all).toHaveLength(4);
      expect((await h.call('GET', '/api/v1/alerts?state=open')).status).toBe(400);
      expect((await h.call('GET', '/api/v1/alerts?cursor=garbage')).body.code).toBe('INVALID_CURSOR');
      expect((await h.call('GET', '/api/v1/alerts?limit=0')).status).toBe(400);
    });

    it('clears the open alerts of a disabled or deleted rule', async () => {
      const r = await rule('Doomed', 'telemetry.level > 5', 'life');
      await report('life-3', { level: 12 });
      const doomed = async () => (await h.call('GET', `/api/v1/alerts?ruleId=${r.id}`)).body.items;
      expect((await doomed()).map((x: any) => x.state)).toEqual(['raised', 'raised', 'raised']);
      expect((await h.call('PATCH', `/api/v1/alert-rules/${r.id}`, { body: { enabled: false } })).status).toBe(200);
      expect((await doomed()).map((x: any) => x.clearedReason)).toEqual(['rule_disabled', 'rule_disabled', 'rule_disabled']);
      await report('life-3', { level: 13 });
      expect((await doomed()).filter((x: any) => x.state !== 'cleared')).toEqual([]);
      await h.call('PATCH', `/api/v1/alert-rules/${r.id}`, { body: { enabled: true } });
      await h.hangar.alertEvaluator.idle();
      expect((await doomed()).filter((x: any) => x.state === 'raised')).toHaveLength(3);
      h.events.length = 0;
      expect((await h.call('DELETE', `/api/v1/alert-rules/${r.id}`)).status).toBe(204);
      const after = await doomed();
      expect(after).toHaveLength(6);
      expect(after.filter((x: any) => x.state !== 'cleared')).toEqual([]);
      expect(after.filter((x: any) => x.clearedReason === 'rule_deleted')).toHaveLength(3);
      expect(h.events.map((e) => e.type)).toEqual(['alert.cleared', 'alert.cleared', 'alert.cleared']);
    });

    it('clears the open alerts of a decommissioned or deleted device', async () => {
      expect(await alertsOf('life-3', 'raised', ruleId)).toHaveLength(1);
      const res = await h.call('POST', '/api/v1/devices/life-3/decommission', { body: { purgeData: false } });
      expect(res.status).toBe(200);
      await h.hangar.alertEvaluator.idle();
      expect((await alertsOf('life-3', undefined, ruleId))[0]).toMatchObject({ state: 'cleared', clearedBy: 'system', clearedReason: 'device_decommissioned' });
      // A decommissioned device raises nothing, whatever it reports.
      await report('life-3', { level: 50 });
      await sweepAt(T0 + 40 * MIN);
      expect(await alertsOf('life-3', 'raised')).toEqual([]);

      expect(await alertsOf('life-2', 'raised', ruleId)).toHaveLength(1);
      expect((await h.call('DELETE', '/api/v1/devices/life-2')).status).toBe(204);
      await h.hangar.alertEvaluator.idle();
      const kept = await alertsOf('life-2', undefined, ruleId);
      expect(kept.map((x: any) => x.clearedReason)).toEqual(['device_deleted', 'operator']);
    });
  });

  describe('with the real telemetry and presence writers', () => {
    it('raises from telemetry a device sends and clears when it cools down', async () => {
      h.clock.now = T0 + 60 * MIN;
      await rule('Boiler', 'telemetry.boiler >= 100', 'writers');
      await device('wr-1', 'writers');
      const identity = { tenantId: 'default', deviceId: 'wr-1', credentialId: 'test' };
      await h.hangar.services.telemetry.ingest(identity, new TextEncoder().encode('{"boiler": 120, "other": 1}'), 'json');
      await h.hangar.alertEvaluator.idle();
      expect((await alertsOf('wr-1'))[0]).toMatchObject({ state: 'raised', details: { values: { 'telemetry.boiler': 120 } } });
      h.clock.now += 1000;
      await h.hangar.services.telemetry.ingest(identity, new TextEncoder().encode('{"boiler": 80}'), 'json');
      await h.hangar.alertEvaluator.idle();
      expect((await alertsOf('wr-1'))[0]).toMatchObject({ state: 'cleared', clearedReason: 'condition' });
    });

    it('raises a presence alert for a device the presence service saw leave', async () => {
      h.clock.now = T0 + 60 * MIN;
      await rule('Left', 'offline for 5m', 'writers-presence');
      await device('wr-2', 'writers-presence');
      const identity = { tenantId: 'default', deviceId: 'wr-2', credentialId: 'test' };
      const session = await h.hangar.services.presence.connected(identity, 'mqtt', '127.0.0.1');
      h.clock.now = T0 + 61 * MIN;
      await h.hangar.services.presence.disconnected(identity, session, 'closed');
      await h.hangar.services.presence.settled();
      const seen = Date.parse((await h.call('GET', '/api/v1/devices/wr-2')).body.lastSeen);
      expect(seen).toBeGreaterThanOrEqual(T0 + 60 * MIN);
      await sweepAt(seen + 5 * MIN - 1);
      expect(await alertsOf('wr-2')).toEqual([]);
      await sweepAt(seen + 5 * MIN);
      expect((await alertsOf('wr-2'))[0]).toMatchObject({ state: 'raised', details: { values: { online: false } } });
      await h.hangar.services.presence.connected(identity, 'mqtt', '127.0.0.1');
      await h.hangar.services.presence.settled();
      await h.hangar.alertEvaluator.idle();
      expect((await alertsOf('wr-2'))[0]).toMatchObject({ state: 'cleared', clearedBy: 'system' });
    });
  });

  describe('tenants', () => {
    it('keeps rules and alerts apart between tenants', async () => {
      const created = await h.call('POST', '/api/v1/tenants', { body: { id: 'acme', name: 'Acme' } });
      const acme = created.body.adminApiKey.token as string;
      expect((await h.call('GET', '/api/v1/alert-rules', { token: acme })).body.items).toEqual([]);
      expect((await h.call('GET', '/api/v1/alerts', { token: acme })).body.items).toEqual([]);
      const theirs = (await h.call('GET', '/api/v1/alerts?state=raised')).body.items[0];
      expect((await h.call('GET', `/api/v1/alerts/${theirs.id}`, { token: acme })).status).toBe(404);
      expect((await h.call('POST', `/api/v1/alerts/${theirs.id}/clear`, { token: acme })).status).toBe(404);
      expect((await h.call('GET', `/api/v1/alert-rules/${theirs.ruleId}`, { token: acme })).status).toBe(404);
      // Same name as a default-tenant rule: names are unique per tenant only.
      const r = await h.call('POST', '/api/v1/alert-rules', { body: { name: 'Hot', severity: 'major', condition: 'telemetry.temp > 0' }, token: acme });
      expect(r.status).toBe(201);
      await h.hangar.alertEvaluator.idle();
      await sweepAt(T0 + 50 * MIN);
      expect((await h.call('GET', '/api/v1/alerts', { token: acme })).body.items).toEqual([]);
      await h.call('POST', '/api/v1/devices', { body: { id: 'acme-1' }, token: acme });
      await report('acme-1', { temp: 5 }, 'acme');
      const mine = (await h.call('GET', '/api/v1/alerts', { token: acme })).body.items;
      expect(mine.map((x: any) => x.deviceId)).toEqual(['acme-1']);
      expect((await alertsOf('acme-1'))).toEqual([]);
    });
  });
});
