import { sql, type Expression, type Kysely, type Selectable, type SqlBool } from 'kysely';
import type { AlertSeverity, TelemetryScalar } from '../../bus/events.js';
import type { Alert, AlertFilter, AlertRule, AlertState, AlertStore, ClearReason, DeviceFacts, RuleScope } from '../../core/alerts/ports.js';
import type { AlertRulesTable, AlertsTable, Database, Dialect } from '../schema.js';
import { chunk } from './chunk.js';
import { compileDeviceFilter } from './fleet-query-sql.js';

type RuleRow = Selectable<AlertRulesTable>;
type AlertRow = Selectable<AlertsTable>;

// Written out rather than bound: the ON CONFLICT target must repeat the partial index's
// predicate (migration 006) for both databases to match it to the index.
const OPEN_PREDICATE = sql<boolean>`state IN ('raised', 'acknowledged')`;
const OPEN: AlertState[] = ['raised', 'acknowledged'];

function toRuleRow(r: AlertRule): RuleRow {
  return {
    id: r.id,
    tenant_id: r.tenantId,
    name: r.name,
    description: r.description,
    severity: r.severity,
    enabled: r.enabled ? 1 : 0,
    target: r.target,
    condition: r.condition,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
  };
}

function fromRuleRow(r: RuleRow): AlertRule {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    description: r.description,
    severity: r.severity as AlertSeverity,
    enabled: Number(r.enabled) === 1,
    target: r.target,
    condition: r.condition,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

function toAlertRow(a: Alert): AlertRow {
  return {
    id: a.id,
    tenant_id: a.tenantId,
    rule_id: a.ruleId,
    rule_name: a.ruleName,
    device_id: a.deviceId,
    severity: a.severity,
    state: a.state,
    message: a.message,
    details: JSON.stringify(a.details),
    count: a.count,
    raised_at: a.raisedAt,
    last_triggered_at: a.lastTriggeredAt,
    last_evaluated_at: a.lastEvaluatedAt,
    acknowledged_at: a.acknowledgedAt,
    acknowledged_by: a.acknowledgedBy,
    cleared_at: a.clearedAt,
    cleared_by: a.clearedBy,
    cleared_reason: a.clearedReason,
  };
}

const numOrNull = (v: number | null): number | null => (v === null ? null : Number(v));

function fromAlertRow(r: AlertRow): Alert {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    ruleId: r.rule_id,
    ruleName: r.rule_name,
    deviceId: r.device_id,
    severity: r.severity as AlertSeverity,
    state: r.state as AlertState,
    message: r.message,
    details: JSON.parse(r.details) as Record<string, unknown>,
    count: Number(r.count),
    raisedAt: Number(r.raised_at),
    lastTriggeredAt: Number(r.last_triggered_at),
    lastEvaluatedAt: Number(r.last_evaluated_at),
    acknowledgedAt: numOrNull(r.acknowledged_at),
    acknowledgedBy: r.acknowledged_by,
    clearedAt: numOrNull(r.cleared_at),
    clearedBy: r.cleared_by,
    clearedReason: r.cleared_reason as ClearReason | null,
  };
}

/**
 * Alert rules, alerts and holds on Kysely. The evaluation statements are set-based: each takes
 * the rule's compiled fleet query as a subquery over `devices`, so the database picks the
 * devices and nothing is filtered row by row here.
 */
export class KyselyAlertStore implements AlertStore {
  /** A rule evaluation hands one scope to several statements: compile it once. */
  private readonly scopes = new WeakMap<RuleScope, Expression<SqlBool>>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  async insertRule(rule: AlertRule): Promise<void> {
    await this.db.insertInto('alert_rules').values(toRuleRow(rule)).execute();
  }

  async updateRule(rule: AlertRule): Promise<void> {
    const { id: _id, tenant_id: _tenant, created_at: _created, ...row } = toRuleRow(rule);
    await this.db.updateTable('alert_rules').set(row).where('tenant_id', '=', rule.tenantId).where('id', '=', rule.id).execute();
  }

  async getRule(tenantId: string, id: string): Promise<AlertRule | undefined> {
    const row = await this.db.selectFrom('alert_rules').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return row ? fromRuleRow(row) : undefined;
  }

  async findRuleByName(tenantId: string, name: string): Promise<AlertRule | undefined> {
    const row = await this.db.selectFrom('alert_rules').selectAll().where('tenant_id', '=', tenantId).where('name', '=', name).executeTakeFirst();
    return row ? fromRuleRow(row) : undefined;
  }

  async deleteRule(tenantId: string, id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('alert_rules').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async listRules(tenantId: string, afterId: string | undefined, limit: number): Promise<AlertRule[]> {
    let q = this.db.selectFrom('alert_rules').selectAll().where('tenant_id', '=', tenantId);
    if (afterId !== undefined) q = q.where('id', '>', afterId);
    return (await q.orderBy('id').limit(limit).execute()).map(fromRuleRow);
  }

  async listEnabledRules(tenantId: string): Promise<AlertRule[]> {
    const rows = await this.db.selectFrom('alert_rules').selectAll().where('tenant_id', '=', tenantId).where('enabled', '=', 1).orderBy('id').execute();
    return rows.map(fromRuleRow);
  }

  async insertAlerts(alerts: Alert[]): Promise<string[]> {
    const inserted: string[] = [];
    // 18 parameters a row; far below either database's ceiling at 500 rows.
    for (const part of chunk(alerts, 500)) {
      const rows = await this.db
        .insertInto('alerts')
        .values(part.map(toAlertRow))
        .onConflict((oc) => oc.columns(['tenant_id', 'rule_id', 'device_id']).where(OPEN_PREDICATE).doNothing())
        .returning('id')
        .execute();
      inserted.push(...rows.map((r) => r.id));
    }
    return inserted;
  }

  async getAlert(tenantId: string, id: string): Promise<Alert | undefined> {
    const row = await this.db.selectFrom('alerts').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return row ? fromAlertRow(row) : undefined;
  }

  async findOpenAlert(tenantId: string, ruleId: string, deviceId: string): Promise<Alert | undefined> {
    const row = await this.db
      .selectFrom('alerts')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('rule_id', '=', ruleId)
      .where('device_id', '=', deviceId)
      .where('state', 'in', OPEN)
      .executeTakeFirst();
    return row ? fromAlertRow(row) : undefined;
  }

  async listAlerts(filter: AlertFilter): Promise<Alert[]> {
    let q = this.db.selectFrom('alerts').selectAll().where('tenant_id', '=', filter.tenantId);
    if (filter.states !== undefined && filter.states.length > 0) q = q.where('state', 'in', [...filter.states]);
    if (filter.severity !== undefined) q = q.where('severity', '=', filter.severity);
    if (filter.deviceId !== undefined) q = q.where('device_id', '=', filter.deviceId);
    if (filter.ruleId !== undefined) q = q.where('rule_id', '=', filter.ruleId);
    const before = filter.before;
    if (before !== undefined) {
      q = q.where((eb) => eb.or([eb('raised_at', '<', before.raisedAt), eb.and([eb('raised_at', '=', before.raisedAt), eb('id', '<', before.id)])]));
    }
    const rows = await q.orderBy('raised_at', 'desc').orderBy('id', 'desc').limit(filter.limit).execute();
    return rows.map(fromAlertRow);
  }

  async openAlerts(tenantId: string, of: { ruleId?: string; deviceId?: string }, limit: number): Promise<Alert[]> {
    if (of.ruleId === undefined && of.deviceId === undefined) throw new TypeError('openAlerts needs a rule or a device');
    let q = this.db.selectFrom('alerts').selectAll().where('tenant_id', '=', tenantId).where('state', 'in', OPEN);
    if (of.ruleId !== undefined) q = q.where('rule_id', '=', of.ruleId);
    if (of.deviceId !== undefined) q = q.where('device_id', '=', of.deviceId);
    return (await q.orderBy('id').limit(limit).execute()).map(fromAlertRow);
  }

  async retrigger(tenantId: string, id: string, update: { at: number; message: string; details: Record<string, unknown> }): Promise<Alert | undefined> {
    const row = await this.db
      .updateTable('alerts')
      .set((eb) => ({
        count: eb('count', '+', 1),
        last_triggered_at: update.at,
        last_evaluated_at: update.at,
        message: update.message,
        details: JSON.stringify(update.details),
      }))
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('state', 'in', OPEN)
      .returningAll()
      .executeTakeFirst();
    return row ? fromAlertRow(row) : undefined;
  }

  async acknowledge(tenantId: string, id: string, at: number, by: string): Promise<Alert | undefined> {
    const row = await this.db
      .updateTable('alerts')
      .set({ state: 'acknowledged', acknowledged_at: at, acknowledged_by: by })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('state', '=', 'raised')
      .returningAll()
      .executeTakeFirst();
    return row ? fromAlertRow(row) : undefined;
  }

  async clearAlerts(tenantId: string, ids: string[], clear: { at: number; by: string; reason: ClearReason }): Promise<Alert[]> {
    const cleared: Alert[] = [];
    for (const part of chunk(ids, 1000)) {
      const rows = await this.db
        .updateTable('alerts')
        .set({ state: 'cleared', cleared_at: clear.at, cleared_by: clear.by, cleared_reason: clear.reason, last_evaluated_at: clear.at })
        .where('tenant_id', '=', tenantId)
        .where('id', 'in', part)
        .where('state', 'in', OPEN)
        .returningAll()
        .execute();
      cleared.push(...rows.map(fromAlertRow));
    }
    return cleared;
  }

  /** `SELECT devices.id FROM devices WHERE <tenant> AND <scope>`: the rule's devices. */
  private inScope(scope: RuleScope) {
    let where = this.scopes.get(scope);
    if (where === undefined) {
      where = compileDeviceFilter(scope.devices, this.dialect, scope.tenantId);
      this.scopes.set(scope, where);
    }
    return this.db.selectFrom('devices').select('devices.id').where('devices.tenant_id', '=', scope.tenantId).where(where);
  }

  private openDevicesOf(scope: RuleScope) {
    return this.db
      .selectFrom('alerts')
      .select('alerts.device_id')
      .where('alerts.tenant_id', '=', scope.tenantId)
      .where('alerts.rule_id', '=', scope.ruleId)
      .where('alerts.state', 'in', OPEN);
  }

  async matchingDevices(scope: RuleScope, limit: number): Promise<string[]> {
    const rows = await this.inScope(scope).orderBy('devices.id').limit(limit).execute();
    return rows.map((r) => r.id);
  }

  async matchingWithoutOpenAlert(scope: RuleScope, limit: number): Promise<string[]> {
    const rows = await this.inScope(scope).where('devices.id', 'not in', this.openDevicesOf(scope)).orderBy('devices.id').limit(limit).execute();
    return rows.map((r) => r.id);
  }

  async openAlertsNotMatching(scope: RuleScope, limit: number): Promise<Alert[]> {
    const rows = await this.db
      .selectFrom('alerts')
      .selectAll()
      .where('tenant_id', '=', scope.tenantId)
      .where('rule_id', '=', scope.ruleId)
      .where('state', 'in', OPEN)
      .where('device_id', 'not in', this.inScope(scope))
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(fromAlertRow);
  }

  async touchOpenAlerts(scope: RuleScope, at: number): Promise<number> {
    const result = await this.db
      .updateTable('alerts')
      .set({ last_evaluated_at: at })
      .where('tenant_id', '=', scope.tenantId)
      .where('rule_id', '=', scope.ruleId)
      .where('state', 'in', OPEN)
      .where('device_id', 'in', this.inScope(scope))
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async startPending(scope: RuleScope, at: number): Promise<number> {
    const held = this.db.selectFrom('alert_pending').select('alert_pending.device_id').where('alert_pending.rule_id', '=', scope.ruleId);
    // Casts: PostgreSQL types a bare parameter in a select list as text.
    const select = this.inScope(scope)
      .clearSelect()
      .select([sql<string>`CAST(${scope.tenantId} AS TEXT)`.as('tenant_id'), sql<string>`CAST(${scope.ruleId} AS TEXT)`.as('rule_id'), 'devices.id as device_id', sql<number>`CAST(${at} AS BIGINT)`.as('since')])
      .where('devices.id', 'not in', held);
    const result = await this.db
      .insertInto('alert_pending')
      .columns(['tenant_id', 'rule_id', 'device_id', 'since'])
      .expression(select)
      // Another node may have started the same hold a moment ago; the earlier start stands.
      .onConflict((oc) => oc.columns(['rule_id', 'device_id']).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0);
  }

  async prunePending(scope: RuleScope): Promise<number> {
    const result = await this.db
      .deleteFrom('alert_pending')
      .where('tenant_id', '=', scope.tenantId)
      .where('rule_id', '=', scope.ruleId)
      .where('device_id', 'not in', this.inScope(scope))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async duePending(scope: RuleScope, heldSince: number, limit: number): Promise<string[]> {
    const due = this.db
      .selectFrom('alert_pending')
      .select('alert_pending.device_id')
      .where('alert_pending.rule_id', '=', scope.ruleId)
      .where('alert_pending.since', '<=', heldSince);
    const rows = await this.inScope(scope)
      .where('devices.id', 'in', due)
      .where('devices.id', 'not in', this.openDevicesOf(scope))
      .orderBy('devices.id')
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  async pendingSince(tenantId: string, ruleId: string, deviceId: string): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('alert_pending')
      .select('since')
      .where('tenant_id', '=', tenantId)
      .where('rule_id', '=', ruleId)
      .where('device_id', '=', deviceId)
      .executeTakeFirst();
    return row ? Number(row.since) : undefined;
  }

  async deletePending(tenantId: string, of: { ruleId?: string; deviceId?: string }): Promise<number> {
    if (of.ruleId === undefined && of.deviceId === undefined) throw new TypeError('deletePending needs a rule or a device');
    let q = this.db.deleteFrom('alert_pending').where('tenant_id', '=', tenantId);
    if (of.ruleId !== undefined) q = q.where('rule_id', '=', of.ruleId);
    if (of.deviceId !== undefined) q = q.where('device_id', '=', of.deviceId);
    const result = await q.executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async deviceFacts(tenantId: string, deviceIds: string[], telemetryKeys: string[]): Promise<Map<string, DeviceFacts>> {
    const facts = new Map<string, DeviceFacts>();
    for (const part of chunk(deviceIds, 500)) {
      const devices = await this.db
        .selectFrom('devices')
        .select(['id', 'type', 'status', 'online', 'last_seen', 'firmware_version', 'tags'])
        .where('tenant_id', '=', tenantId)
        .where('id', 'in', part)
        .execute();
      for (const d of devices) {
        facts.set(d.id, {
          deviceId: d.id,
          type: d.type,
          status: d.status,
          online: Number(d.online) === 1,
          lastSeen: numOrNull(d.last_seen),
          firmwareVersion: d.firmware_version,
          tags: JSON.parse(d.tags) as Record<string, string>,
          telemetry: {},
        });
      }
      if (telemetryKeys.length === 0 || devices.length === 0) continue;
      const readings = await this.db
        .selectFrom('telemetry_latest')
        .select(['device_id', 'key', 'value_num', 'value_str', 'value_bool', 'ts'])
        .where('tenant_id', '=', tenantId)
        .where('device_id', 'in', part)
        .where('key', 'in', telemetryKeys)
        .execute();
      for (const r of readings) {
        const value: TelemetryScalar | null = r.value_num !== null ? Number(r.value_num) : r.value_str !== null ? r.value_str : r.value_bool !== null ? Number(r.value_bool) === 1 : null;
        const f = facts.get(r.device_id);
        if (f && value !== null) f.telemetry[r.key] = { value, ts: Number(r.ts) };
      }
    }
    return facts;
  }
}
