import { randomBytes, randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import type { RolloutDryRun } from '@hangar/protocol/rest';
import { HangarError } from '../../errors.js';
import { recordAudit } from '../audit/audit-service.js';
import type { CallContext } from '../context.js';
import type { ChangeEvents } from '../events/change-events.js';
import type { DeltaCatalog, FirmwareCatalog, FirmwareImage } from '../firmware/catalog.js';
import { decodeCursor, encodeCursor, type Page } from '../pagination.js';
import type { Device } from '../registry/device.js';
import type { Stores } from '../stores.js';
import { requireRole } from '../tenancy/principal.js';
import type { DeviceMoves } from './device-moves.js';
import type { DeviceUpdateRecord, Rollout, RolloutConfig, RolloutDevice, RolloutDeviceState, RolloutState } from './ports.js';
import { progressOf, type RolloutProgress } from './rollout-progress.js';
import { checkRolloutInput, type RolloutInput } from './rollout-rules.js';
import { survey, targetFilter, type Survey } from './target.js';
import { bucketCapacity } from './rate-limiter.js';
import { assignWaves, waveSizes } from './wave-planner.js';
import { emptyCounts, failuresOf, finishedOf, inFlightOf } from './threshold-judge.js';

export interface RolloutView {
  rollout: Rollout;
  progress: RolloutProgress;
}

export interface RolloutServiceDeps {
  stores: Stores;
  changeEvents: ChangeEvents;
  firmware: FirmwareCatalog;
  deltas: DeltaCatalog;
  moves: DeviceMoves;
  now: () => number;
  logger?: Logger | undefined;
  /** Asks the engine to look at the rollouts now (a new or resumed rollout offers at once). */
  kick?: (() => void) | undefined;
}

/** Sortable by creation: lists run newest first on the id alone. */
function newRolloutId(now: number): string {
  return `ro_${now.toString(36).padStart(9, '0')}${randomBytes(6).toString('hex')}`;
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  // Fisher–Yates: a wave is a random sample of the target, not its first devices by id.
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function baseVersionsOf(devices: readonly Device[]): Array<{ version: string | null; devices: number }> {
  const by = new Map<string | null, number>();
  for (const d of devices) by.set(d.firmwareVersion, (by.get(d.firmwareVersion) ?? 0) + 1);
  return [...by.entries()].sort((a, b) => b[1] - a[1]).map(([version, n]) => ({ version, devices: n }));
}

/**
 * Rollouts (DESIGN §6, docs/rollouts.md): creating one (with its dry run), reading it, and the
 * operator's pause, resume, abort and approve. The engine (rollout-engine.ts) moves it along;
 * both keep every bit of state in the store.
 */
export class RolloutService {
  private readonly stores: Stores;
  private readonly now: () => number;

  constructor(private readonly deps: RolloutServiceDeps) {
    this.stores = deps.stores;
    this.now = deps.now;
  }

  /** A new rollout (201), or with `dryRun` what it would target now, creating nothing. */
  async create(ctx: CallContext, input: RolloutInput & { dryRun?: boolean | undefined }): Promise<RolloutView | RolloutDryRun> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    const checked = checkRolloutInput(input);
    const now = this.now();
    const image = await this.deps.firmware.image(tenantId, checked.firmwareId);
    if (!image) throw new HangarError('NOT_FOUND', `firmware "${checked.firmwareId}" does not exist`);
    if (checked.groupId !== null && !(await this.stores.groups.get(tenantId, checked.groupId))) throw new HangarError('GROUP_NOT_FOUND', `group "${checked.groupId}" does not exist`);
    const unknownRules: string[] = [];
    for (const id of checked.config.healthGate.alertRuleIds) if (!(await this.stores.alerts.getRule(tenantId, id))) unknownRules.push(id);
    if (unknownRules.length > 0) {
      throw new HangarError('VALIDATION_FAILED', `healthGate.alertRuleIds names unknown alert rules: ${unknownRules.join(', ')}`, { errors: [{ path: 'healthGate.alertRuleIds', message: `unknown: ${unknownRules.join(', ')}` }] });
    }
    const target = { version: image.version, deviceTypes: image.deviceTypes, allowDowngrade: checked.config.allowDowngrade };
    const filter = await targetFilter(this.stores, tenantId, checked, now);
    if (input.dryRun === true) {
      const found = filter ? await survey(this.stores, tenantId, filter, target) : emptySurvey();
      return {
        dryRun: true,
        targeted: found.targeted,
        eligible: found.eligible.length,
        excluded: found.excluded,
        waves: waveSizes(checked.config.waves, found.eligible.length),
        baseVersions: baseVersionsOf(found.eligible),
      };
    }
    const rollout = this.newRollout(ctx, checked, image, now);
    const { created, added } = await this.deps.changeEvents.transaction(this.stores, async (tx, events) => {
      // Surveyed inside the transaction; the partial unique index settles races with another
      // rollout created at once (a device it took meanwhile is left out here).
      const found = filter ? await survey(tx, tenantId, filter, target) : emptySurvey();
      const planned = assignWaves(shuffled(found.eligible), waveSizes(checked.config.waves, found.eligible.length));
      await tx.rollouts.insert(rollout);
      const addedIds = new Set(await tx.rollouts.addDevices(tenantId, rollout.id, planned.map((p) => ({ deviceId: p.device.id, wave: p.wave, fromVersion: p.device.firmwareVersion })), now));
      let r = rollout;
      if (addedIds.size === 0 && !checked.config.dynamic) {
        r = { ...rollout, state: 'completed', stateReason: 'no eligible device', finishedAt: now };
        await tx.rollouts.update(tenantId, rollout.id, ['running'], { state: 'completed', stateReason: r.stateReason, finishedAt: now, updatedAt: now });
      }
      await recordAudit(
        tx.audit,
        ctx,
        { action: 'rollout.create', target: { type: 'rollout', id: rollout.id }, summary: { name: r.name, firmwareId: r.firmwareId, version: r.firmwareVersion, query: r.query, groupId: r.groupId, targeted: addedIds.size, excluded: found.excluded } },
        now,
      );
      events.push({ type: 'rollout.state', tenantId, rolloutId: r.id, state: r.state, reason: r.stateReason });
      return { created: r, added: planned.filter((p) => addedIds.has(p.device.id)).map((p) => p.device) };
    });
    if (checked.config.useDeltas) {
      const versions = [...new Set(added.map((d) => d.firmwareVersion).filter((v): v is string => v !== null))];
      if (versions.length > 0) {
        this.deps.deltas.requestDeltas(tenantId, image.id, versions).catch((err: unknown) => this.deps.logger?.warn({ err, rolloutId: created.id }, 'delta builds could not be requested'));
      }
    }
    this.deps.kick?.();
    return this.view(created);
  }

  /**
   * The registry's `FirmwareUsage`: an image a live (running, paused or waiting) rollout offers
   * cannot be deleted. Live rollouts are few, so reading them all is cheap.
   */
  async firmwareInUse(tenantId: string, firmwareId: string): Promise<boolean> {
    return (await this.stores.rollouts.live()).some((r) => r.tenantId === tenantId && r.firmwareId === firmwareId);
  }

  async get(ctx: CallContext, id: string): Promise<RolloutView> {
    requireRole(ctx.principal, 'viewer');
    return this.view(await this.require(ctx.principal.tenantId, id));
  }

  async list(ctx: CallContext, options: { state?: RolloutState | undefined; cursor?: string | undefined; limit: number }): Promise<Page<RolloutView>> {
    requireRole(ctx.principal, 'viewer');
    const rows = await this.stores.rollouts.list(ctx.principal.tenantId, { state: options.state, beforeId: decodeCursor(options.cursor), limit: options.limit + 1 });
    const more = rows.length > options.limit;
    const items = more ? rows.slice(0, options.limit) : rows;
    return { items: await Promise.all(items.map((r) => this.view(r))), nextCursor: more ? encodeCursor(items[items.length - 1]!.id) : null };
  }

  async devices(ctx: CallContext, id: string, options: { state?: RolloutDeviceState | undefined; cursor?: string | undefined; limit: number }): Promise<Page<RolloutDevice>> {
    requireRole(ctx.principal, 'viewer');
    const r = await this.require(ctx.principal.tenantId, id);
    const rows = await this.stores.rollouts.devices(r.tenantId, r.id, { state: options.state, afterDeviceId: decodeCursor(options.cursor), limit: options.limit + 1 });
    const more = rows.length > options.limit;
    const items = more ? rows.slice(0, options.limit) : rows;
    return { items, nextCursor: more ? encodeCursor(items[items.length - 1]!.deviceId) : null };
  }

  /** A device's update history: its rollout memberships, newest first. */
  async deviceUpdates(ctx: CallContext, deviceId: string, options: { cursor?: string | undefined; limit: number }): Promise<Page<DeviceUpdateRecord>> {
    requireRole(ctx.principal, 'viewer');
    const tenantId = ctx.principal.tenantId;
    const rows = await this.stores.rollouts.history(tenantId, deviceId, { beforeRolloutId: decodeCursor(options.cursor), limit: options.limit + 1 });
    // A deleted device keeps its history; a device that never existed has none.
    if (rows.length === 0 && options.cursor === undefined && !(await this.stores.devices.get(tenantId, deviceId))) throw new HangarError('DEVICE_NOT_FOUND', `device "${deviceId}" does not exist`);
    const more = rows.length > options.limit;
    const items = more ? rows.slice(0, options.limit) : rows;
    return { items, nextCursor: more ? encodeCursor(items[items.length - 1]!.rolloutId) : null };
  }

  /** No new offers until resumed; devices already offered carry on. */
  async pause(ctx: CallContext, id: string): Promise<RolloutView> {
    return this.operatorMove(ctx, id, 'pause', ['running', 'awaiting_approval'], () => ({ state: 'paused', stateReason: `paused by ${ctx.principal.name}` }));
  }

  /**
   * Offers again. The failure threshold judges only failures from now on (the operator
   * accepted those so far), and a finished wave that missed the success threshold advances.
   */
  async resume(ctx: CallContext, id: string): Promise<RolloutView> {
    return this.operatorMove(ctx, id, 'resume', ['paused'], async (r) => {
      const progress = progressOf(r, await this.stores.rollouts.counts(r.id));
      const wave = progress.waves[r.currentWave]?.counts ?? emptyCounts();
      const waveFinished = wave.pending + inFlightOf(wave) === 0;
      return {
        state: 'running',
        stateReason: `resumed by ${ctx.principal.name}`,
        baseFailures: failuresOf(progress.total),
        baseFinished: finishedOf(progress.total),
        waivedWave: waveFinished ? r.currentWave : r.waivedWave,
      };
    });
  }

  /** The next wave starts (a rollout that waits for approval between waves). */
  async approve(ctx: CallContext, id: string): Promise<RolloutView> {
    return this.operatorMove(ctx, id, 'approve', ['awaiting_approval'], (r) => ({ state: 'running', stateReason: `wave ${r.currentWave + 2} approved by ${ctx.principal.name}`, currentWave: r.currentWave + 1 }));
  }

  /** No new offers from now on; devices that have not started downloading are cancelled and their offers withdrawn. */
  async abort(ctx: CallContext, id: string): Promise<RolloutView> {
    const view = await this.operatorMove(ctx, id, 'abort', ['running', 'paused', 'awaiting_approval'], () => ({ state: 'aborted', stateReason: `aborted by ${ctx.principal.name}`, finishedAt: this.now() }));
    await this.deps.moves.cancelUnstarted(view.rollout, 'aborted', this.now());
    return this.get(ctx, id);
  }

  private async operatorMove(
    ctx: CallContext,
    id: string,
    action: 'pause' | 'resume' | 'approve' | 'abort',
    from: readonly RolloutState[],
    patch: (r: Rollout) => Partial<Rollout> | Promise<Partial<Rollout>>,
  ): Promise<RolloutView> {
    requireRole(ctx.principal, 'operator');
    const r = await this.require(ctx.principal.tenantId, id);
    const at = this.now();
    const changes = from.includes(r.state) ? await patch(r) : undefined;
    const moved =
      changes !== undefined &&
      (await this.deps.changeEvents.transaction(this.stores, async (tx, events) => {
        if (!(await this.deps.moves.setRolloutState(tx, events, r, from, { ...changes, updatedAt: at }))) return false;
        await recordAudit(tx.audit, ctx, { action: `rollout.${action}`, target: { type: 'rollout', id: r.id }, summary: { before: { state: r.state }, after: { state: changes.state } } }, at);
        return true;
      }));
    if (!moved) {
      const state = (await this.require(r.tenantId, id)).state;
      throw new HangarError('ROLLOUT_STATE_CONFLICT', `rollout "${id}" is ${state}; ${action} needs it ${from.join(' or ')}`, { state });
    }
    this.deps.kick?.();
    return this.get(ctx, id);
  }

  private newRollout(ctx: CallContext, checked: { name: string; firmwareId: string; query: string | null; groupId: string | null; config: RolloutConfig }, image: FirmwareImage, now: number): Rollout {
    return {
      id: newRolloutId(now),
      tenantId: ctx.principal.tenantId,
      name: checked.name,
      firmwareId: image.id,
      firmwareVersion: image.version,
      firmwareDeviceTypes: [...image.deviceTypes],
      query: checked.query,
      groupId: checked.groupId,
      config: checked.config,
      state: 'running',
      stateReason: null,
      currentWave: 0,
      ratePerMinute: checked.config.rate.perMinute,
      // A second's worth of offers (at least one) may go out at once; the rate refills the bucket.
      rateTokens: bucketCapacity(checked.config.rate.perMinute),
      rateUpdatedAt: now,
      baseFailures: 0,
      baseFinished: 0,
      waivedWave: null,
      createdBy: `${ctx.principal.type}:${ctx.principal.id}`,
      createdAt: now,
      updatedAt: now,
      finishedAt: null,
    };
  }

  async view(r: Rollout): Promise<RolloutView> {
    return { rollout: r, progress: progressOf(r, await this.stores.rollouts.counts(r.id)) };
  }

  private async require(tenantId: string, id: string): Promise<Rollout> {
    const r = await this.stores.rollouts.get(tenantId, id);
    if (!r) throw new HangarError('ROLLOUT_NOT_FOUND', `rollout "${id}" does not exist`);
    return r;
  }
}

function emptySurvey(): Survey {
  return { targeted: 0, eligible: [], excluded: { decommissioned: 0, incompatibleType: 0, alreadyOnVersion: 0, downgrade: 0, inOtherRollout: 0 } };
}
