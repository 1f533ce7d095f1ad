import type { Logger } from 'pino';
import type { EventBus, Unsubscribe } from '../../bus/event-bus.js';
import type { DeviceProtocol } from '../../bus/events.js';
import { HangarError } from '../../errors.js';
import type { Stores } from '../stores.js';
import type { CallContext } from '../context.js';
import type { DeviceIdentity } from '../identity/device-authenticator.js';
import { decodeCursor, toPage, type Page } from '../pagination.js';
import { KeyedSerializer } from './keyed-serializer.js';
import type { ConnectionRecord, EndedPeriod, PeriodKind, PresencePeriod, SeenMark } from './ports.js';
import type { PresenceTracker } from './presence-tracker.js';
import { SessionIds } from './session-ids.js';

export interface PresenceOptions {
  /** This node's id, stored with every period it owns (scale-out: a node resets only its own). */
  nodeId?: string | undefined;
  /** How long one HTTP/CoAP request keeps a device online. Default 5 minutes. */
  activityWindowMs?: number | undefined;
  /** How often coalesced `lastSeen` values are written. Default 1 s. */
  flushIntervalMs?: number | undefined;
  /** How often expired activity windows are ended. Default 5 s. */
  sweepIntervalMs?: number | undefined;
  /** Connection history rows kept per device. Default 1,000. */
  historyPerDevice?: number | undefined;
  /** Chance that a new history row queues its device for trimming (trimming per row would cost a query per connect). Default 1/50. */
  trimChance?: number | undefined;
  now?: (() => number) | undefined;
  logger?: Logger | undefined;
}

/** A device's presence as the API shows it. */
export interface PresenceView {
  deviceId: string;
  online: boolean;
  lastSeen: number | null;
  /** Of the current period, or of the last one while offline. */
  protocol: DeviceProtocol | null;
  remoteAddress: string | null;
  /** Start of the current period; null while offline. */
  connectedAt: number | null;
  /** End of the last period; null while online. */
  disconnectedAt: number | null;
  disconnectReason: string | null;
  sessionId: string | null;
  kind: PeriodKind | null;
}

/** What this node knows of a device it has seen: its own current period and the activity window. */
interface LocalState {
  tenantId: string;
  deviceId: string;
  current: { sessionId: string; kind: PeriodKind; connectedAt: number } | null;
  /** Another node owns the current period: touches here only refresh `lastSeen` until the window ends. */
  elsewhere: boolean;
  /** End of the activity window of the last HTTP/CoAP request; 0 without one. */
  activeUntil: number;
  lastTouch: { protocol: DeviceProtocol; remoteAddress: string | null; at: number } | null;
  /** Opening an activity period is queued; further touches need not queue another. */
  opening: boolean;
}

const DEFAULT_WINDOW_MS = 5 * 60 * 1000;
const MAX_REASON = 200;
const MAX_ADDRESS = 256;
const TRIMS_PER_SWEEP = 1000;

/**
 * Device presence: which devices are online, since when, through which session, and when they
 * were last seen — the truth, not a guess.
 *
 * - Every online stretch is a *period* with an id ordered per device. The device row names its
 *   current period; ending any other period (a late disconnect after a reconnect) changes nothing.
 * - State changes of one device run one at a time (in memory, per device) and each in one
 *   transaction (PostgreSQL also locks the device row, for several nodes).
 * - `seen`/`touched` run per message: they only write memory; `lastSeen` is flushed in one
 *   batched statement per interval. Opening or ending a period is a real write, once per change.
 * - Events are published after commit, only when the current period changes: `device.connected`
 *   when a period becomes current, `device.disconnected` when the device goes offline.
 */
export class PresenceService implements PresenceTracker {
  readonly nodeId: string;
  private readonly windowMs: number;
  private readonly flushIntervalMs: number;
  private readonly sweepIntervalMs: number;
  private readonly historyPerDevice: number;
  private readonly trimChance: number;
  private readonly now: () => number;
  private readonly logger: Logger | undefined;
  private readonly ids: SessionIds;
  private readonly serial = new KeyedSerializer();
  private readonly local = new Map<string, LocalState>();
  private pendingSeen = new Map<string, SeenMark>();
  private readonly trimQueue = new Map<string, string>();
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe: Unsubscribe[] = [];
  private flushing: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly stores: Stores,
    private readonly bus: EventBus,
    options: PresenceOptions = {},
  ) {
    this.nodeId = options.nodeId ?? 'local';
    this.ids = new SessionIds(this.nodeId);
    this.windowMs = positive(options.activityWindowMs ?? DEFAULT_WINDOW_MS, 'activityWindowMs');
    this.flushIntervalMs = positive(options.flushIntervalMs ?? 1000, 'flushIntervalMs');
    this.sweepIntervalMs = positive(options.sweepIntervalMs ?? 5000, 'sweepIntervalMs');
    this.historyPerDevice = positive(options.historyPerDevice ?? 1000, 'historyPerDevice');
    this.trimChance = options.trimChance ?? 1 / 50;
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
  }

  /**
   * A node starts with no live sessions: whatever it left open (it crashed or was killed) is
   * ended at each device's last sign of life, with reason "server restart". Then the flush
   * and sweep timers run.
   */
  async start(): Promise<void> {
    const ended = await this.stores.transaction((tx) => tx.presence.resetNode(this.nodeId, 'server restart', null, { orphans: true }));
    this.publishEnded(ended, 'server restart');
    if (ended.length > 0) this.logger?.info({ devices: ended.length, node: this.nodeId }, 'presence: ended the periods a previous run left open');
    this.unsubscribe.push(
      this.bus.subscribe('device.decommissioned', (e) => this.onDecommissioned(e.tenantId, e.deviceId)),
      this.bus.subscribe('device.deleted', (e) => this.forget(e.deviceId)),
    );
    const flush = setInterval(() => {
      if (!this.flushing) void this.flush();
    }, this.flushIntervalMs);
    const sweep = setInterval(() => void this.sweep().catch((err: unknown) => this.logger?.warn({ err }, 'presence sweep failed')), this.sweepIntervalMs);
    flush.unref();
    sweep.unref();
    this.timers = [flush, sweep];
  }

  /**
   * Finishes queued changes, writes the last `lastSeen` values and ends this node's periods
   * ("server shutdown"): once it stops, nothing here keeps them alive. Calls after stop are ignored.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    await this.serial.drain();
    await this.flush();
    const ended = await this.stores.transaction((tx) => tx.presence.resetNode(this.nodeId, 'server shutdown', this.now()));
    this.publishEnded(ended, 'server shutdown');
    this.local.clear();
  }

  // ---- PresenceTracker: what transports call

  async connected(device: DeviceIdentity, protocol: DeviceProtocol, remoteAddress: string | null): Promise<string> {
    const at = this.now();
    const sessionId = this.ids.next(at);
    if (this.stopped) return sessionId;
    const period: PresencePeriod = { sessionId, tenantId: device.tenantId, deviceId: device.deviceId, kind: 'session', nodeId: this.nodeId, protocol, remoteAddress: address(remoteAddress), connectedAt: at };
    await this.serial.run(device.deviceId, async () => {
      const outcome = await this.stores.transaction(async (tx) => {
        const p = await tx.presence.get(device.tenantId, device.deviceId, { forUpdate: true });
        if (!p) return 'gone' as const;
        // Another node started a newer session first (ids order sessions): this one is already stale.
        if (p.current && p.current.sessionId > sessionId) {
          await tx.presence.record(period);
          return 'older' as const;
        }
        // An activity window is presence's own period: a session supersedes it.
        if (p.current?.kind === 'activity') await tx.presence.close(device.tenantId, device.deviceId, p.current.sessionId, at, 'session started');
        await tx.presence.begin(period);
        return 'current' as const;
      });
      if (outcome === 'gone') return;
      this.noteHistoryRow(device.tenantId, device.deviceId);
      if (outcome === 'older') return;
      const local = this.localOf(device);
      local.current = { sessionId, kind: 'session', connectedAt: at };
      local.elsewhere = false;
      this.bus.publish({ type: 'device.connected', tenantId: device.tenantId, deviceId: device.deviceId, protocol, remoteAddress: period.remoteAddress, sessionId, at });
    });
    return sessionId;
  }

  async disconnected(device: DeviceIdentity, sessionId: string, reason: string): Promise<void> {
    if (this.stopped) return;
    if (typeof sessionId !== 'string' || sessionId.length === 0 || sessionId.length > 200) {
      this.logger?.warn({ deviceId: device.deviceId, sessionId }, 'presence: disconnect with an invalid session id ignored');
      return;
    }
    const why = String(reason).slice(0, MAX_REASON) || 'disconnected';
    await this.serial.run(device.deviceId, async () => {
      const at = this.now();
      const local = this.local.get(device.deviceId);
      // HTTP/CoAP traffic within its window keeps the device online after its session ends.
      const touch = local && local.activeUntil > at && local.lastTouch ? { ...local.lastTouch } : null;
      const outcome = await this.stores.transaction(async (tx) => {
        const p = await tx.presence.get(device.tenantId, device.deviceId, { forUpdate: true });
        await tx.presence.close(device.tenantId, device.deviceId, sessionId, at, why);
        if (!p || p.current?.sessionId !== sessionId) return { kind: 'stale' as const };
        if (touch && p.status === 'active') {
          const next: PresencePeriod = { sessionId: this.ids.next(at), tenantId: device.tenantId, deviceId: device.deviceId, kind: 'activity', nodeId: this.nodeId, protocol: touch.protocol, remoteAddress: touch.remoteAddress, connectedAt: at };
          await tx.presence.begin(next);
          return { kind: 'continued' as const, next };
        }
        await tx.presence.end(device.tenantId, device.deviceId, sessionId, at, why);
        return { kind: 'ended' as const, protocol: p.current.protocol };
      });
      if (outcome.kind === 'stale') return;
      if (outcome.kind === 'continued') {
        this.noteHistoryRow(device.tenantId, device.deviceId);
        if (local) local.current = { sessionId: outcome.next.sessionId, kind: 'activity', connectedAt: at };
        return;
      }
      if (local) {
        local.current = null;
        this.dropIfIdle(local, at);
      }
      this.bus.publish({ type: 'device.disconnected', tenantId: device.tenantId, deviceId: device.deviceId, protocol: outcome.protocol, sessionId, reason: why, at });
    });
  }

  touched(device: DeviceIdentity, protocol: DeviceProtocol, remoteAddress: string | null): void {
    if (this.stopped) return;
    const at = this.now();
    this.mark(device, at);
    const local = this.localOf(device);
    local.activeUntil = Math.max(local.activeUntil, at + this.windowMs);
    if (local.lastTouch) {
      local.lastTouch.protocol = protocol;
      local.lastTouch.remoteAddress = address(remoteAddress);
      local.lastTouch.at = at;
    } else {
      local.lastTouch = { protocol, remoteAddress: address(remoteAddress), at };
    }
    if (local.current === null && !local.elsewhere && !local.opening) {
      local.opening = true;
      this.serial.run(device.deviceId, () => this.openActivity(local)).catch((err: unknown) => {
        this.logger?.warn({ err, deviceId: device.deviceId }, 'presence: could not record activity');
      });
    }
  }

  seen(device: DeviceIdentity): void {
    if (this.stopped) return;
    this.mark(device, this.now());
  }

  // ---- maintenance (timers; tests call these directly)

  /** Resolves once every state change queued so far (connects, disconnects, windows opened by touches) is written. */
  async settled(): Promise<void> {
    await this.serial.drain();
  }

  /** Writes the coalesced `lastSeen` values in one batch. A failed write is retried at the next flush. */
  async flush(): Promise<void> {
    // One write at a time; a caller arriving mid-write (stop) still gets its marks written.
    while (this.flushing) await this.flushing;
    if (this.pendingSeen.size === 0) return;
    const batch = this.pendingSeen;
    this.pendingSeen = new Map();
    this.flushing = (async () => {
      try {
        await this.stores.presence.markSeen([...batch.values()]);
      } catch (err) {
        this.logger?.warn({ err, devices: batch.size }, 'presence: lastSeen flush failed; retrying next time');
        for (const [key, mark] of batch) {
          const newer = this.pendingSeen.get(key);
          if (!newer || newer.at < mark.at) this.pendingSeen.set(key, mark);
        }
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }

  /** Ends activity periods whose window passed, forgets idle devices, trims some histories. */
  async sweep(): Promise<void> {
    const at = this.now();
    const work: Array<Promise<void>> = [];
    for (const local of this.local.values()) {
      if (local.opening || local.activeUntil > at) continue;
      if (local.current?.kind === 'activity') {
        work.push(this.serial.run(local.deviceId, () => this.expireActivity(local)));
      } else if (local.current === null) {
        this.local.delete(local.deviceId);
      } else {
        local.activeUntil = 0;
        local.lastTouch = null;
      }
    }
    const results = await Promise.allSettled(work);
    for (const r of results) if (r.status === 'rejected') this.logger?.warn({ err: r.reason }, 'presence: could not end an activity period');
    await this.trimSome();
  }

  // ---- reads (REST)

  async presence(ctx: CallContext, deviceId: string): Promise<PresenceView> {
    const p = await this.stores.presence.get(ctx.principal.tenantId, deviceId);
    if (!p) throw new HangarError('DEVICE_NOT_FOUND', `device "${deviceId}" does not exist`);
    // Not yet flushed sightings are part of the truth too.
    const pending = this.pendingSeen.get(deviceId);
    const lastSeen = pending && pending.tenantId === p.tenantId && (p.lastSeen === null || pending.at > p.lastSeen) ? pending.at : p.lastSeen;
    return {
      deviceId,
      online: p.online,
      lastSeen,
      protocol: p.protocol,
      remoteAddress: p.remoteAddress,
      connectedAt: p.current?.connectedAt ?? null,
      disconnectedAt: p.current ? null : p.disconnectedAt,
      disconnectReason: p.current ? null : p.disconnectReason,
      sessionId: p.current?.sessionId ?? null,
      kind: p.current?.kind ?? null,
    };
  }

  async connections(ctx: CallContext, deviceId: string, options: { cursor?: string | undefined; limit: number }): Promise<Page<ConnectionRecord>> {
    const tenantId = ctx.principal.tenantId;
    const before = decodeCursor(options.cursor);
    if (!(await this.stores.presence.get(tenantId, deviceId))) throw new HangarError('DEVICE_NOT_FOUND', `device "${deviceId}" does not exist`);
    const rows = await this.stores.presence.history(tenantId, deviceId, before, options.limit + 1);
    return toPage(rows, options.limit, (r) => r.sessionId);
  }

  // ---- internals

  private async openActivity(local: LocalState): Promise<void> {
    local.opening = false;
    const at = this.now();
    const touch = local.lastTouch ? { ...local.lastTouch } : null;
    if (this.stopped || local.current !== null || !touch || local.activeUntil <= at) return;
    const period: PresencePeriod = { sessionId: this.ids.next(at), tenantId: local.tenantId, deviceId: local.deviceId, kind: 'activity', nodeId: this.nodeId, protocol: touch.protocol, remoteAddress: touch.remoteAddress, connectedAt: touch.at };
    const outcome = await this.stores.transaction(async (tx) => {
      const p = await tx.presence.get(local.tenantId, local.deviceId, { forUpdate: true });
      if (!p || p.status !== 'active') return { kind: 'gone' as const };
      if (p.current) return { kind: 'elsewhere' as const, current: p.current };
      await tx.presence.begin(period);
      return { kind: 'began' as const };
    });
    if (outcome.kind === 'gone') {
      this.local.delete(local.deviceId);
      return;
    }
    if (outcome.kind === 'elsewhere') {
      // Our own period here means memory missed it; adopt it rather than leave it unowned.
      if (outcome.current.nodeId === this.nodeId) local.current = { sessionId: outcome.current.sessionId, kind: outcome.current.kind, connectedAt: outcome.current.connectedAt };
      else local.elsewhere = true;
      return;
    }
    this.noteHistoryRow(local.tenantId, local.deviceId);
    local.current = { sessionId: period.sessionId, kind: 'activity', connectedAt: period.connectedAt };
    this.bus.publish({ type: 'device.connected', tenantId: local.tenantId, deviceId: local.deviceId, protocol: period.protocol, remoteAddress: period.remoteAddress, sessionId: period.sessionId, at: period.connectedAt });
  }

  /** An activity period ends at its last request: that is when the device was last there. */
  private async expireActivity(local: LocalState, reason = 'inactive'): Promise<void> {
    const at = this.now();
    const current = local.current;
    if (current?.kind !== 'activity' || (reason === 'inactive' && local.activeUntil > at)) return;
    const endedAt = Math.max(current.connectedAt, local.lastTouch?.at ?? current.connectedAt);
    const protocol = await this.stores.transaction(async (tx) => {
      const p = await tx.presence.get(local.tenantId, local.deviceId, { forUpdate: true });
      await tx.presence.close(local.tenantId, local.deviceId, current.sessionId, endedAt, reason);
      if (!p || p.current?.sessionId !== current.sessionId) return null;
      await tx.presence.end(local.tenantId, local.deviceId, current.sessionId, endedAt, reason);
      return p.current.protocol;
    });
    local.current = null;
    this.dropIfIdle(local, at);
    if (protocol) this.bus.publish({ type: 'device.disconnected', tenantId: local.tenantId, deviceId: local.deviceId, protocol, sessionId: current.sessionId, reason, at: endedAt });
  }

  /** A decommissioned device cannot authenticate again: its activity window closes now. (Transports close its sessions.) */
  private async onDecommissioned(tenantId: string, deviceId: string): Promise<void> {
    const local = this.local.get(deviceId);
    if (!local || local.tenantId !== tenantId) return;
    await this.serial.run(deviceId, async () => {
      local.activeUntil = 0;
      local.elsewhere = false;
      if (local.current?.kind === 'activity') await this.expireActivity(local, 'decommissioned');
    });
  }

  private forget(deviceId: string): void {
    this.local.delete(deviceId);
    this.pendingSeen.delete(deviceId);
    this.trimQueue.delete(deviceId);
  }

  private mark(device: DeviceIdentity, at: number): void {
    const previous = this.pendingSeen.get(device.deviceId);
    if (previous === undefined) this.pendingSeen.set(device.deviceId, { tenantId: device.tenantId, deviceId: device.deviceId, at });
    else if (previous.at < at) previous.at = at;
  }

  private localOf(device: DeviceIdentity): LocalState {
    let local = this.local.get(device.deviceId);
    if (!local) {
      local = { tenantId: device.tenantId, deviceId: device.deviceId, current: null, elsewhere: false, activeUntil: 0, lastTouch: null, opening: false };
      this.local.set(device.deviceId, local);
    }
    return local;
  }

  private dropIfIdle(local: LocalState, at: number): void {
    if (local.current === null && !local.opening && local.activeUntil <= at && this.local.get(local.deviceId) === local) this.local.delete(local.deviceId);
  }

  private noteHistoryRow(tenantId: string, deviceId: string): void {
    if (Math.random() < this.trimChance) this.trimQueue.set(deviceId, tenantId);
  }

  private async trimSome(): Promise<void> {
    let n = 0;
    for (const [deviceId, tenantId] of this.trimQueue) {
      if (n++ >= TRIMS_PER_SWEEP) break;
      this.trimQueue.delete(deviceId);
      try {
        await this.stores.presence.trimHistory(tenantId, deviceId, this.historyPerDevice);
      } catch (err) {
        this.logger?.warn({ err, deviceId }, 'presence: history trim failed');
      }
    }
  }

  private publishEnded(ended: EndedPeriod[], reason: string): void {
    for (const e of ended) {
      this.bus.publish({ type: 'device.disconnected', tenantId: e.tenantId, deviceId: e.deviceId, protocol: e.protocol, sessionId: e.sessionId, reason, at: e.disconnectedAt });
    }
  }
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`presence option ${name} must be a positive number, got ${value}`);
  return value;
}

function address(remoteAddress: string | null): string | null {
  return remoteAddress === null || remoteAddress === '' ? null : String(remoteAddress).slice(0, MAX_ADDRESS);
}
