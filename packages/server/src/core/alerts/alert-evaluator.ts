import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { EventBus, Unsubscribe } from '../../bus/event-bus.js';
import type { DomainEvent, EventOf } from '../../bus/events.js';
import type { Stores } from '../stores.js';
import { clearedEvent, clearOpenAlerts, type RuleChangeListener } from './alert-service.js';
import { describeTrigger } from './alert-text.js';
import { KeyedCoalescer } from './keyed-coalescer.js';
import type { Alert, ClearReason } from './ports.js';
import { parseRule, ruleScope, type ParsedRule } from './rule-scope.js';

export interface AlertEvaluatorOptions {
  /** How often the fleet-wide sweep runs; 0 disables the timer (tests call sweep()). Default 20 s. */
  sweepIntervalMs?: number | undefined;
  /** A device is evaluated at most once per this interval, on its latest values. Default 1 s. */
  coalesceMs?: number | undefined;
  /**
   * How long a tenant's rules are cached between reloads (rules changed on another node).
   * Rule changes on this node invalidate the cache at once. Default 10 s.
   */
  ruleCacheMs?: number | undefined;
}

/** A tenant's enabled rules as last loaded, with what telemetry they read. */
interface TenantRules {
  loadedAt: number;
  rules: ParsedRule[];
  /** Every telemetry key some rule's condition reads: a reading of no other key concerns a rule. */
  telemetryKeys: ReadonlySet<string>;
}

/** What an event asks to re-evaluate for one device. */
interface DeviceTrigger {
  /** Telemetry keys that changed: rules reading one of them. */
  telemetryKeys: Set<string>;
  /** Connected or disconnected: rules reading online or lastSeen. */
  presence: boolean;
  /** The device appeared or came back: every rule. */
  all: boolean;
}

const DEFAULT_SWEEP_MS = 20_000;
const DEFAULT_COALESCE_MS = 1_000;
const DEFAULT_RULE_CACHE_MS = 10_000;
const SWEEP_BATCH = 500;
/** A sweep of one rule handles at most this many batches, so one rule cannot starve the rest. */
const MAX_BATCHES = 200;

const SYSTEM = 'system';

/**
 * Evaluates alert rules and raises and clears alerts. Every check runs the rule as SQL (its
 * compiled fleet query, narrowed to one device on events or over the whole fleet in the
 * sweep); nothing is matched row by row here.
 *
 * - Events: `telemetry.received` evaluates that device's rules reading those keys,
 *   `device.connected`/`disconnected` the rules reading presence, `device.created`/
 *   `recommissioned` all rules; coalesced per device (KeyedCoalescer).
 * - Sweep (timer): every enabled rule of every tenant over the fleet, in a few set-based
 *   statements per rule. It raises what only the passing of time makes true (`offline for
 *   10m`, `for 5m` holds), catches changes that publish no event (tags, status), and clears
 *   alerts whose condition no longer holds.
 * - Holds (`for 5m`) are durable rows (alert_pending) started when the condition is first
 *   seen true and deleted as soon as it is seen false; an alert is raised once the row is old
 *   enough.
 * - Decommissioned and deleted devices: their open alerts are cleared and holds dropped.
 */
export class AlertEvaluator implements RuleChangeListener {
  private readonly sweepIntervalMs: number;
  private readonly ruleCacheMs: number;
  private readonly coalescer: KeyedCoalescer<DeviceTrigger>;
  private readonly cache = new Map<string, TenantRules>();
  /** Loads under way started by events (at most one per tenant). */
  private readonly reloading = new Map<string, Promise<unknown>>();
  /**
   * Counts rule changes: a load that began before a change must not put the rules it read
   * into the cache after the change emptied it (events would be judged by rules of the past).
   */
  private rulesVersion = 0;
  private readonly unsubscribes: Unsubscribe[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly stores: Stores,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    options: AlertEvaluatorOptions = {},
  ) {
    this.sweepIntervalMs = options.sweepIntervalMs ?? DEFAULT_SWEEP_MS;
    this.ruleCacheMs = options.ruleCacheMs ?? DEFAULT_RULE_CACHE_MS;
    this.coalescer = new KeyedCoalescer<DeviceTrigger>(
      (key, trigger) => {
        const [tenantId, deviceId] = splitKey(key);
        return this.evaluateDevice(tenantId, deviceId, trigger);
      },
      mergeTriggers,
      options.coalesceMs ?? DEFAULT_COALESCE_MS,
      (err, key) => this.logger.warn({ err, device: splitKey(key)[1] }, 'alert evaluation failed'),
    );
  }

  /** Subscribes to the bus and starts the sweep timer. */
  start(): void {
    this.unsubscribes.push(
      this.bus.subscribe('telemetry.received', (e) => this.telemetryReceived(e)),
      this.bus.subscribe('device.connected', (e) => this.trigger(e.tenantId, e.deviceId, { telemetryKeys: new Set(), presence: true, all: false })),
      this.bus.subscribe('device.disconnected', (e) => this.trigger(e.tenantId, e.deviceId, { telemetryKeys: new Set(), presence: true, all: false })),
      this.bus.subscribe('device.created', (e) => this.trigger(e.tenantId, e.deviceId, { telemetryKeys: new Set(), presence: false, all: true })),
      this.bus.subscribe('device.recommissioned', (e) => this.trigger(e.tenantId, e.deviceId, { telemetryKeys: new Set(), presence: false, all: true })),
      this.bus.subscribe('device.deleted', (e) => this.track(this.deviceGone(e.tenantId, e.deviceId, 'device_deleted'))),
      this.bus.subscribe('device.decommissioned', (e) => this.track(this.deviceGone(e.tenantId, e.deviceId, 'device_decommissioned'))),
    );
    if (this.sweepIntervalMs > 0) {
      this.sweepTimer = setInterval(() => {
        this.sweep().catch((err: unknown) => this.logger.warn({ err }, 'alert sweep failed'));
      }, this.sweepIntervalMs);
      this.sweepTimer.unref();
    }
  }

  /** Stops listening and timers, and waits for evaluations under way (call before the store closes). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.coalescer.stop();
    await Promise.allSettled([...this.inFlight, this.sweeping]);
  }

  /** Resolves once no event, evaluation or sweep is pending (tests; graceful handovers). */
  async idle(): Promise<void> {
    for (;;) {
      // Bus handlers run on microtasks after the publisher: let them arrive first.
      await new Promise((resolve) => setImmediate(resolve));
      const pending = [...this.inFlight, ...(this.sweeping ? [this.sweeping] : [])];
      if (pending.length === 0 && !this.coalescer.busy) return;
      await Promise.allSettled(pending);
      if (this.coalescer.busy) await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  ruleChanged(tenantId: string, ruleId: string): void {
    this.rulesVersion += 1;
    this.cache.delete(tenantId);
    if (this.stopped) return;
    // A new or changed rule applies to the fleet now, not at the next sweep.
    this.track(
      (async () => {
        const rule = await this.stores.alerts.getRule(tenantId, ruleId);
        if (!rule || !rule.enabled) return;
        await this.sweepRule(parseRule(rule));
      })(),
    );
  }

  /**
   * Evaluates every enabled rule of every tenant over the whole fleet: one short series of
   * set-based statements per rule, whatever the number of devices. Sweeps never overlap.
   */
  async sweep(): Promise<void> {
    if (this.sweeping) return this.sweeping;
    this.sweeping = (async () => {
      const started = performance.now();
      let rules = 0;
      for (const tenant of await this.stores.tenancy.listTenants()) {
        if (this.stopped) return;
        for (const parsed of await this.loadRules(tenant.id)) {
          if (this.stopped) return;
          rules += 1;
          try {
            await this.sweepRule(parsed);
          } catch (err) {
            this.logger.warn({ err, tenant: tenant.id, rule: parsed.rule.id }, 'alert rule sweep failed');
          }
        }
      }
      this.coalescer.prune();
      this.logger.debug({ rules, ms: Math.round(performance.now() - started) }, 'alert sweep done');
    })().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  /** Evaluates the rules a trigger concerns for one device (also callable directly). */
  async evaluateDevice(tenantId: string, deviceId: string, trigger: DeviceTrigger = { telemetryKeys: new Set(), presence: false, all: true }): Promise<void> {
    for (const parsed of await this.rulesFor(tenantId)) {
      if (!concerns(parsed, trigger)) continue;
      await this.evaluateRuleForDevice(parsed, deviceId);
    }
  }

  /**
   * Runs for every telemetry batch of every device, so it decides here, without waiting, when
   * the readings concern no rule of the tenant (most tenants have no rule on most keys) and
   * then queues nothing. Rules this node does not know yet (cache empty or expired) are loaded
   * in the background, and meanwhile the reading is queued as before. A rule created or changed
   * later is swept over the fleet at once (ruleChanged), so a reading dropped just before still
   * counts.
   */
  private telemetryReceived(e: EventOf<'telemetry.received'>): void {
    const known = this.freshRules(e.tenantId);
    let keys: Set<string> | undefined;
    if (known === undefined) {
      keys = new Set(Object.keys(e.values));
      this.reloadInBackground(e.tenantId);
    } else {
      for (const key in e.values) if (known.telemetryKeys.has(key)) (keys ??= new Set()).add(key);
      if (keys === undefined) return;
    }
    this.trigger(e.tenantId, e.deviceId, { telemetryKeys: keys, presence: false, all: false });
  }

  private trigger(tenantId: string, deviceId: string, trigger: DeviceTrigger): void {
    this.coalescer.submit(`${tenantId}\u0000${deviceId}`, trigger);
  }

  private track(work: Promise<unknown>): void {
    const tracked = work
      .catch((err: unknown) => this.logger.warn({ err }, 'alert work failed'))
      .finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private async evaluateRuleForDevice(parsed: ParsedRule, deviceId: string): Promise<void> {
    const { rule, condition } = parsed;
    const alerts = this.stores.alerts;
    const now = this.now();
    const scope = ruleScope(parsed, { now, deviceId });
    const holds = (await alerts.matchingDevices(scope, 1)).length > 0;
    const open = await alerts.findOpenAlert(rule.tenantId, rule.id, deviceId);
    if (!holds) {
      if (condition.holdMs !== null) await alerts.deletePending(rule.tenantId, { ruleId: rule.id, deviceId });
      if (open) await this.autoClear(rule.tenantId, [open.id], now);
      return;
    }
    let heldSince: number | null = null;
    if (condition.holdMs !== null) {
      await alerts.startPending(scope, now);
      heldSince = (await alerts.pendingSince(rule.tenantId, rule.id, deviceId)) ?? now;
      if (!open && now - heldSince < condition.holdMs) return;
    }
    if (open) {
      // New device data and the condition still holds: the same alert, triggered again.
      const facts = (await alerts.deviceFacts(rule.tenantId, [deviceId], condition.telemetryKeys)).get(deviceId);
      await alerts.retrigger(rule.tenantId, open.id, { at: now, ...describeTrigger(rule, condition, deviceId, facts, heldSince) });
      return;
    }
    await this.raise(parsed, [deviceId], now);
  }

  private async sweepRule(parsed: ParsedRule): Promise<void> {
    const { rule, condition } = parsed;
    const alerts = this.stores.alerts;
    const now = this.now();
    const scope = ruleScope(parsed, { now });
    for (let i = 0; i < MAX_BATCHES; i += 1) {
      const gone = await alerts.openAlertsNotMatching(scope, SWEEP_BATCH);
      if (gone.length > 0) await this.autoClear(rule.tenantId, gone.map((a) => a.id), now);
      if (gone.length < SWEEP_BATCH) break;
    }
    if (condition.holdMs !== null) {
      await alerts.prunePending(scope);
      await alerts.startPending(scope, now);
    }
    for (let i = 0; i < MAX_BATCHES; i += 1) {
      const due = condition.holdMs === null ? await alerts.matchingWithoutOpenAlert(scope, SWEEP_BATCH) : await alerts.duePending(scope, now - condition.holdMs, SWEEP_BATCH);
      if (due.length > 0) await this.raise(parsed, due, now);
      if (due.length < SWEEP_BATCH) break;
    }
    await alerts.touchOpenAlerts(scope, now);
  }

  private async raise(parsed: ParsedRule, deviceIds: string[], now: number): Promise<void> {
    const { rule, condition } = parsed;
    const alerts = this.stores.alerts;
    const facts = await alerts.deviceFacts(rule.tenantId, deviceIds, condition.telemetryKeys);
    const fresh: Alert[] = [];
    for (const deviceId of deviceIds) {
      const heldSince = condition.holdMs === null ? null : ((await alerts.pendingSince(rule.tenantId, rule.id, deviceId)) ?? now);
      const text = describeTrigger(rule, condition, deviceId, facts.get(deviceId), heldSince);
      fresh.push({
        id: randomUUID(),
        tenantId: rule.tenantId,
        ruleId: rule.id,
        ruleName: rule.name,
        deviceId,
        severity: rule.severity,
        state: 'raised',
        message: text.message,
        details: text.details,
        count: 1,
        raisedAt: now,
        lastTriggeredAt: now,
        lastEvaluatedAt: now,
        acknowledgedAt: null,
        acknowledgedBy: null,
        clearedAt: null,
        clearedBy: null,
        clearedReason: null,
      });
    }
    // Rows another evaluator raised a moment ago are skipped by the database (one open alert per rule and device).
    const inserted = new Set(await alerts.insertAlerts(fresh));
    for (const a of fresh) {
      if (!inserted.has(a.id)) continue;
      this.logger.debug({ tenant: a.tenantId, device: a.deviceId, rule: a.ruleId }, 'alert raised');
      this.bus.publish({ type: 'alert.raised', tenantId: a.tenantId, deviceId: a.deviceId, alertId: a.id, ruleId: a.ruleId, ruleName: a.ruleName, severity: a.severity, message: a.message });
    }
  }

  private async autoClear(tenantId: string, ids: string[], now: number): Promise<void> {
    const cleared = await this.stores.alerts.clearAlerts(tenantId, ids, { at: now, by: SYSTEM, reason: 'condition' });
    for (const a of cleared) this.bus.publish(clearedEvent(a, SYSTEM));
  }

  private async deviceGone(tenantId: string, deviceId: string, reason: ClearReason): Promise<void> {
    const now = this.now();
    const events: DomainEvent[] = await this.stores.transaction(async (tx) => {
      const events = await clearOpenAlerts(tx, tenantId, { deviceId }, { at: now, by: SYSTEM, reason });
      await tx.alerts.deletePending(tenantId, { deviceId });
      return events;
    });
    for (const event of events) this.bus.publish(event);
  }

  private async rulesFor(tenantId: string): Promise<ParsedRule[]> {
    return this.freshRules(tenantId)?.rules ?? this.loadRules(tenantId);
  }

  private freshRules(tenantId: string): TenantRules | undefined {
    const cached = this.cache.get(tenantId);
    return cached !== undefined && performance.now() - cached.loadedAt < this.ruleCacheMs ? cached : undefined;
  }

  private reloadInBackground(tenantId: string): void {
    // Without a cache (ruleCacheMs 0) a load could never be used for the next event.
    if (this.stopped || this.ruleCacheMs <= 0 || this.reloading.has(tenantId)) return;
    const load = this.loadRules(tenantId).finally(() => this.reloading.delete(tenantId));
    this.reloading.set(tenantId, load);
    this.track(load);
  }

  private async loadRules(tenantId: string): Promise<ParsedRule[]> {
    const version = this.rulesVersion;
    const rules: ParsedRule[] = [];
    for (const rule of await this.stores.alerts.listEnabledRules(tenantId)) {
      try {
        rules.push(parseRule(rule));
      } catch (err) {
        // Validated when saved; only a language change could get here. Skip it, say so.
        this.logger.error({ err, tenant: tenantId, rule: rule.id }, 'stored alert rule no longer parses; skipped');
      }
    }
    if (version === this.rulesVersion) {
      const telemetryKeys = new Set(rules.flatMap((parsed) => parsed.condition.telemetryKeys));
      this.cache.set(tenantId, { loadedAt: performance.now(), rules, telemetryKeys });
    }
    return rules;
  }
}

function splitKey(key: string): [string, string] {
  const at = key.indexOf('\u0000');
  return [key.slice(0, at), key.slice(at + 1)];
}

/** `pending` is the coalescer's own (every event makes a new trigger): merged into in place. */
function mergeTriggers(pending: DeviceTrigger, next: DeviceTrigger): DeviceTrigger {
  for (const key of next.telemetryKeys) pending.telemetryKeys.add(key);
  pending.presence ||= next.presence;
  pending.all ||= next.all;
  return pending;
}

function concerns(parsed: ParsedRule, trigger: DeviceTrigger): boolean {
  if (trigger.all) return true;
  if (trigger.presence && parsed.condition.readsPresence) return true;
  return parsed.condition.telemetryKeys.some((key) => trigger.telemetryKeys.has(key));
}
