import { randomUUID } from 'node:crypto';
import type { AlertSeverity, DomainEvent } from '../../bus/events.js';
import { HangarError } from '../../errors.js';
import type { StoreSet, Stores } from '../stores.js';
import { recordAudit } from '../audit/audit-service.js';
import type { CallContext } from '../context.js';
import type { ChangeEvents } from '../events/change-events.js';
import { decodeCursor, encodeCursor, toPage, type Page } from '../pagination.js';
import { FleetQuerySyntaxError, MAX_QUERY_LENGTH } from '../query/index.js';
import { requireRole } from '../tenancy/principal.js';
import type { Alert, AlertRule, AlertState, ClearReason } from './ports.js';
import { ALERT_SEVERITIES, ALERT_STATES } from './ports.js';
import type { ConditionKind, RuleCondition } from './rule-condition.js';
import { parseRuleCondition, parseRuleTarget } from './rule-condition.js';

export interface AlertRuleView extends AlertRule {
  kind: ConditionKind;
  /** The condition's duration: `for …` of a held condition, or `offline for …`; null if none. */
  forSeconds: number | null;
}

export interface NewAlertRule {
  name: string;
  description?: string | undefined;
  severity: AlertSeverity;
  enabled?: boolean | undefined;
  target?: string | null | undefined;
  condition: string;
}

export type AlertRulePatch = Partial<NewAlertRule>;

export interface AlertListOptions {
  state?: AlertState | undefined;
  severity?: AlertSeverity | undefined;
  deviceId?: string | undefined;
  ruleId?: string | undefined;
  cursor?: string | undefined;
  limit: number;
}

/** What the evaluator needs to hear from rule changes: re-read the rule, evaluate it soon. */
export interface RuleChangeListener {
  ruleChanged(tenantId: string, ruleId: string): void;
}

const NAME_MAX = 128;
const DESCRIPTION_MAX = 1024;
const CLEAR_BATCH = 1000;

/**
 * Alert rules (CRUD) and the operator's side of alerts: list, acknowledge, clear. Raising and
 * clearing by the system is the evaluator's (alert-evaluator.ts). Every mutation here is
 * audited in its transaction and its events are published after commit.
 */
export class AlertService {
  private listener: RuleChangeListener | undefined;

  constructor(
    private readonly stores: Stores,
    private readonly changeEvents: ChangeEvents,
    private readonly now: () => number = Date.now,
  ) {}

  /** The evaluator registers here (it is built after this service). */
  onRuleChange(listener: RuleChangeListener): void {
    this.listener = listener;
  }

  async createRule(ctx: CallContext, input: NewAlertRule): Promise<AlertRuleView> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    const condition = checkCondition(input.condition);
    const target = checkTarget(input.target ?? null);
    const now = this.now();
    const rule: AlertRule = {
      id: randomUUID(),
      tenantId,
      name: checkName(input.name),
      description: checkDescription(input.description ?? ''),
      severity: checkSeverity(input.severity),
      enabled: input.enabled ?? true,
      target,
      condition: condition.text,
      createdAt: now,
      updatedAt: now,
    };
    await this.stores.transaction(async (tx) => {
      if (await tx.alerts.findRuleByName(tenantId, rule.name)) throw new HangarError('ALERT_RULE_EXISTS', `an alert rule named "${rule.name}" already exists`);
      await tx.alerts.insertRule(rule);
      await recordAudit(tx.audit, ctx, { action: 'alert_rule.create', target: { type: 'alert_rule', id: rule.id }, summary: { after: auditSummary(rule) } }, now);
    });
    this.listener?.ruleChanged(tenantId, rule.id);
    return view(rule, condition);
  }

  async getRule(ctx: CallContext, id: string): Promise<AlertRuleView> {
    const rule = await this.stores.alerts.getRule(ctx.principal.tenantId, id);
    if (!rule) throw new HangarError('ALERT_RULE_NOT_FOUND', `alert rule "${id}" does not exist`);
    return storedView(rule);
  }

  async listRules(ctx: CallContext, cursor: string | undefined, limit: number): Promise<Page<AlertRuleView>> {
    const rows = await this.stores.alerts.listRules(ctx.principal.tenantId, decodeCursor(cursor), limit + 1);
    const page = toPage(rows, limit, (r) => r.id);
    return { items: page.items.map(storedView), nextCursor: page.nextCursor };
  }

  async updateRule(ctx: CallContext, id: string, patch: AlertRulePatch): Promise<AlertRuleView> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    const condition = patch.condition === undefined ? undefined : checkCondition(patch.condition);
    const target = patch.target === undefined ? undefined : checkTarget(patch.target);
    const name = patch.name === undefined ? undefined : checkName(patch.name);
    const description = patch.description === undefined ? undefined : checkDescription(patch.description);
    const severity = patch.severity === undefined ? undefined : checkSeverity(patch.severity);
    const after = await this.changeEvents.transaction(this.stores, async (tx, changeEvents) => {
      const before = await tx.alerts.getRule(tenantId, id);
      if (!before) throw new HangarError('ALERT_RULE_NOT_FOUND', `alert rule "${id}" does not exist`);
      if (name !== undefined && name !== before.name) {
        if (await tx.alerts.findRuleByName(tenantId, name)) throw new HangarError('ALERT_RULE_EXISTS', `an alert rule named "${name}" already exists`);
      }
      const now = this.now();
      const after: AlertRule = {
        ...before,
        name: name ?? before.name,
        description: description ?? before.description,
        severity: severity ?? before.severity,
        enabled: patch.enabled ?? before.enabled,
        target: target === undefined ? before.target : target,
        condition: condition?.text ?? before.condition,
        updatedAt: now,
      };
      await tx.alerts.updateRule(after);
      let events: DomainEvent[] = [];
      if (before.enabled && !after.enabled) {
        // A disabled rule watches nothing, so nothing it raised can still be true or false.
        events = await clearOpenAlerts(tx, tenantId, { ruleId: id }, { at: now, by: ctx.principal.name, reason: 'rule_disabled' });
        await tx.alerts.deletePending(tenantId, { ruleId: id });
      } else if (after.condition !== before.condition || after.target !== before.target) {
        // The hold was of the old condition; the new one starts counting afresh.
        await tx.alerts.deletePending(tenantId, { ruleId: id });
      }
      await recordAudit(tx.audit, ctx, { action: 'alert_rule.update', target: { type: 'alert_rule', id }, summary: { before: auditSummary(before), after: auditSummary(after), clearedAlerts: events.length } }, now);
      changeEvents.push(...events);
      return after;
    });
    this.listener?.ruleChanged(tenantId, id);
    return storedView(after);
  }

  /** Deletes a rule and clears its open alerts; the alerts themselves stay as history. */
  async deleteRule(ctx: CallContext, id: string): Promise<void> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    await this.changeEvents.transaction(this.stores, async (tx, changeEvents) => {
      const before = await tx.alerts.getRule(tenantId, id);
      if (!before) throw new HangarError('ALERT_RULE_NOT_FOUND', `alert rule "${id}" does not exist`);
      const now = this.now();
      const events = await clearOpenAlerts(tx, tenantId, { ruleId: id }, { at: now, by: ctx.principal.name, reason: 'rule_deleted' });
      await tx.alerts.deleteRule(tenantId, id);
      await recordAudit(tx.audit, ctx, { action: 'alert_rule.delete', target: { type: 'alert_rule', id }, summary: { before: auditSummary(before), clearedAlerts: events.length } }, now);
      changeEvents.push(...events);
    });
    this.listener?.ruleChanged(tenantId, id);
  }

  async listAlerts(ctx: CallContext, options: AlertListOptions): Promise<Page<Alert>> {
    if (options.state !== undefined && !(ALERT_STATES as readonly string[]).includes(options.state)) {
      throw new HangarError('VALIDATION_FAILED', `unknown alert state "${options.state}" (states: ${ALERT_STATES.join(', ')})`);
    }
    if (options.severity !== undefined) checkSeverity(options.severity);
    const rows = await this.stores.alerts.listAlerts({
      tenantId: ctx.principal.tenantId,
      states: options.state === undefined ? undefined : [options.state],
      severity: options.severity,
      deviceId: options.deviceId,
      ruleId: options.ruleId,
      before: decodeAlertCursor(options.cursor),
      limit: options.limit + 1,
    });
    const more = rows.length > options.limit;
    const items = more ? rows.slice(0, options.limit) : rows;
    const last = items[items.length - 1];
    return { items, nextCursor: more && last ? encodeCursor(`${last.raisedAt}/${last.id}`) : null };
  }

  async getAlert(ctx: CallContext, id: string): Promise<Alert> {
    const alert = await this.stores.alerts.getAlert(ctx.principal.tenantId, id);
    if (!alert) throw new HangarError('ALERT_NOT_FOUND', `alert "${id}" does not exist`);
    return alert;
  }

  /** raised → acknowledged: someone is on it. The alert stays open until cleared. */
  async acknowledge(ctx: CallContext, id: string): Promise<Alert> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    return this.changeEvents.transaction(this.stores, async (tx, events) => {
      const before = await tx.alerts.getAlert(tenantId, id);
      if (!before) throw new HangarError('ALERT_NOT_FOUND', `alert "${id}" does not exist`);
      if (before.state !== 'raised') {
        throw new HangarError('ALERT_STATE_CONFLICT', before.state === 'acknowledged' ? `alert "${id}" is already acknowledged` : `alert "${id}" is cleared; only a raised alert can be acknowledged`, { state: before.state });
      }
      const now = this.now();
      const after = await tx.alerts.acknowledge(tenantId, id, now, ctx.principal.name);
      if (!after) throw new HangarError('ALERT_STATE_CONFLICT', `alert "${id}" changed state meanwhile; read it again`);
      await recordAudit(tx.audit, ctx, { action: 'alert.acknowledge', target: { type: 'alert', id }, summary: { ruleId: after.ruleId, deviceId: after.deviceId, before: { state: 'raised' }, after: { state: 'acknowledged' } } }, now);
      events.push({ type: 'alert.acknowledged', tenantId, deviceId: after.deviceId, alertId: after.id, ruleId: after.ruleId, severity: after.severity, by: ctx.principal.name });
      return after;
    });
  }

  /**
   * raised or acknowledged → cleared by an operator. If the condition still holds, the next
   * evaluation raises a new alert: clearing says "handled", not "silence this rule".
   */
  async clear(ctx: CallContext, id: string): Promise<Alert> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    return this.changeEvents.transaction(this.stores, async (tx, events) => {
      const before = await tx.alerts.getAlert(tenantId, id);
      if (!before) throw new HangarError('ALERT_NOT_FOUND', `alert "${id}" does not exist`);
      if (before.state === 'cleared') throw new HangarError('ALERT_STATE_CONFLICT', `alert "${id}" is already cleared`, { state: before.state });
      const now = this.now();
      const [after] = await tx.alerts.clearAlerts(tenantId, [id], { at: now, by: ctx.principal.name, reason: 'operator' });
      if (!after) throw new HangarError('ALERT_STATE_CONFLICT', `alert "${id}" changed state meanwhile; read it again`);
      await recordAudit(tx.audit, ctx, { action: 'alert.clear', target: { type: 'alert', id }, summary: { ruleId: after.ruleId, deviceId: after.deviceId, before: { state: before.state }, after: { state: 'cleared' } } }, now);
      events.push({ type: 'alert.cleared', tenantId, deviceId: after.deviceId, alertId: after.id, ruleId: after.ruleId, severity: after.severity, by: ctx.principal.name });
      return after;
    });
  }
}

/** Clears every open alert of a rule or device inside `tx`; returns the events to publish after commit. */
export async function clearOpenAlerts(
  tx: StoreSet,
  tenantId: string,
  of: { ruleId?: string; deviceId?: string },
  clear: { at: number; by: string; reason: ClearReason },
): Promise<DomainEvent[]> {
  const events: DomainEvent[] = [];
  for (;;) {
    const open = await tx.alerts.openAlerts(tenantId, of, CLEAR_BATCH);
    if (open.length === 0) break;
    const cleared = await tx.alerts.clearAlerts(tenantId, open.map((a) => a.id), clear);
    events.push(...cleared.map((a) => clearedEvent(a, clear.by)));
    if (open.length < CLEAR_BATCH) break;
  }
  return events;
}

export function clearedEvent(a: Alert, by: string): DomainEvent {
  return { type: 'alert.cleared', tenantId: a.tenantId, deviceId: a.deviceId, alertId: a.id, ruleId: a.ruleId, severity: a.severity, by };
}

function view(rule: AlertRule, condition: RuleCondition): AlertRuleView {
  const ms = condition.holdMs ?? condition.offlineMs;
  return { ...rule, kind: condition.kind, forSeconds: ms === null ? null : ms / 1000 };
}

function storedView(rule: AlertRule): AlertRuleView {
  return view(rule, parseRuleCondition(rule.condition));
}

function auditSummary(r: AlertRule): Record<string, unknown> {
  return { name: r.name, severity: r.severity, enabled: r.enabled, target: r.target, condition: r.condition };
}

function queryError(err: unknown, field: 'condition' | 'target', text: string): never {
  if (err instanceof FleetQuerySyntaxError) {
    throw new HangarError('INVALID_QUERY', `${field}: ${err.message}`, { field, position: err.position, length: err.length, query: text });
  }
  throw err;
}

function checkCondition(text: string): RuleCondition {
  if (typeof text !== 'string') throw new HangarError('VALIDATION_FAILED', 'condition must be a string');
  try {
    return parseRuleCondition(text);
  } catch (err) {
    return queryError(err, 'condition', text);
  }
}

function checkTarget(text: string | null): string | null {
  if (text === null || text.trim() === '') return null;
  if (text.length > MAX_QUERY_LENGTH) throw new HangarError('INVALID_QUERY', `target: query is ${text.length} characters long; the limit is ${MAX_QUERY_LENGTH}`, { field: 'target', position: MAX_QUERY_LENGTH, length: text.length - MAX_QUERY_LENGTH, query: text });
  try {
    parseRuleTarget(text);
  } catch (err) {
    queryError(err, 'target', text);
  }
  return text;
}

function checkName(name: string): string {
  const trimmed = typeof name === 'string' ? name.trim() : '';
  // eslint-disable-next-line no-control-regex
  if (trimmed === '' || trimmed.length > NAME_MAX || /[\u0000-\u001f\u007f]/.test(trimmed)) {
    throw new HangarError('VALIDATION_FAILED', `an alert rule name is 1–${NAME_MAX} printable characters`);
  }
  return trimmed;
}

function checkDescription(description: string): string {
  if (typeof description !== 'string' || description.length > DESCRIPTION_MAX) throw new HangarError('VALIDATION_FAILED', `a description is at most ${DESCRIPTION_MAX} characters`);
  return description;
}

function checkSeverity(severity: string): AlertSeverity {
  if (!(ALERT_SEVERITIES as readonly string[]).includes(severity)) {
    throw new HangarError('VALIDATION_FAILED', `unknown severity "${severity}" (severities: ${ALERT_SEVERITIES.join(', ')})`);
  }
  return severity as AlertSeverity;
}

function decodeAlertCursor(cursor: string | undefined): { raisedAt: number; id: string } | undefined {
  const position = decodeCursor(cursor);
  if (position === undefined) return undefined;
  const slash = position.indexOf('/');
  const raisedAt = Number(position.slice(0, slash));
  if (slash <= 0 || !Number.isSafeInteger(raisedAt)) throw new HangarError('INVALID_CURSOR', `cursor "${(cursor ?? '').slice(0, 40)}" is not one this API issued`);
  return { raisedAt, id: position.slice(slash + 1) };
}
