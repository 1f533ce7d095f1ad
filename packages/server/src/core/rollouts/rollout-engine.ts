import type { Logger } from 'pino';
import type { ChangeEvents } from '../events/change-events.js';
import type { DeltaCatalog } from '../firmware/catalog.js';
import { PeriodicTask } from '../periodic-task.js';
import type { Stores } from '../stores.js';
import type { DeviceMoves } from './device-moves.js';
import { exclusionOf } from './eligibility.js';
import { windowOpen } from './maintenance-window.js';
import { OFFER_STATES, type Rollout, type RolloutPatch } from './ports.js';
import { available, currentRate, refill } from './rate-limiter.js';
import { progressOf } from './rollout-progress.js';
import { survey, targetFilter } from './target.js';
import { failureThresholdCrossed, inFlightOf, waveOutcome } from './threshold-judge.js';

export interface RolloutEngineOptions {
  now: () => number;
  logger?: Logger | undefined;
  /** How often live rollouts are advanced (default 1 s; 0: no timer, tests call `tick()`). */
  tickIntervalMs?: number | undefined;
  /** How often a dynamic rollout looks for devices that match its target now (default 30 s). */
  joinIntervalMs?: number | undefined;
  /** Deltas are asked for the versions devices that join a dynamic rollout run. */
  deltas?: Pick<DeltaCatalog, 'requestDeltas'> | undefined;
}

/** Rows read per step; a tick never holds more than this many of a rollout in memory. */
const BATCH = 500;

/**
 * Moves rollouts along, one tick at a time (docs/rollouts.md): times out devices past their
 * deadline, ends health windows, judges the failure threshold, advances waves, adds devices
 * that match a dynamic rollout later, and makes offers within `maxConcurrent`, the rate and the
 * maintenance window. Everything it decides is written to the store before it acts on it, so a
 * restarted server (or a tick cut short) carries on where the last one stopped.
 */
export class RolloutEngine {
  private readonly task: PeriodicTask;
  private readonly now: () => number;
  private readonly tickIntervalMs: number;
  private readonly joinIntervalMs: number;
  private ticking: Promise<void> | undefined;
  private again = false;
  /** When each dynamic rollout last looked for new devices (memory only: a restart looks at once). */
  private readonly joinedAt = new Map<string, number>();

  constructor(
    private readonly stores: Stores,
    private readonly changeEvents: ChangeEvents,
    private readonly moves: DeviceMoves,
    private readonly options: RolloutEngineOptions,
  ) {
    this.now = options.now;
    this.tickIntervalMs = options.tickIntervalMs ?? 1000;
    this.joinIntervalMs = options.joinIntervalMs ?? 30_000;
    this.task = new PeriodicTask(
      () => this.tick(),
      (err) => options.logger?.warn({ err }, 'rollout tick failed'),
    );
  }

  start(): void {
    if (this.tickIntervalMs > 0) this.task.start(0, this.tickIntervalMs);
  }

  async stop(): Promise<void> {
    this.task.stop();
    await this.ticking;
  }

  /** A tick soon (a rollout was created or resumed); never two at once. */
  kick(): void {
    if (this.tickIntervalMs > 0 && !this.task.stopped) void this.tick().catch((err: unknown) => this.options.logger?.warn({ err }, 'rollout tick failed'));
  }

  /** Advances every live rollout once; a call during a tick runs one more after it. */
  async tick(): Promise<void> {
    if (this.ticking) {
      this.again = true;
      return this.ticking;
    }
    this.ticking = (async () => {
      try {
        do {
          this.again = false;
          for (const r of await this.stores.rollouts.live()) {
            if (this.task.stopped && this.tickIntervalMs > 0) return;
            try {
              await this.advance(r);
            } catch (err) {
              this.options.logger?.warn({ err, rolloutId: r.id }, 'rollout could not be advanced');
            }
          }
        } while (this.again);
      } finally {
        this.ticking = undefined;
      }
    })();
    return this.ticking;
  }

  private async advance(start: Rollout): Promise<void> {
    const now = this.now();
    await this.timeOut(start, now);
    await this.endHealthWindows(start, now);
    if (start.state === 'aborted') {
      // An abort cut short (a crash between its batches) finishes here.
      await this.moves.cancelUnstarted(start, 'aborted', now);
      return;
    }
    let r = start;
    let progress = progressOf(r, await this.stores.rollouts.counts(r.id));
    const rate = currentRate(r.config.rate.perMinute, r.config.rate.exponential, progress.total.succeeded);
    if (r.state === 'running' || r.state === 'awaiting_approval') {
      const crossed = failureThresholdCrossed(r.config.failureThreshold, progress.total, { failures: r.baseFailures, finished: r.baseFinished });
      if (crossed) {
        await this.stopFor(r, crossed, now);
        return;
      }
    }
    if (r.state !== 'running') return;

    // Waves: a finished wave that met the success threshold opens the next (empty waves at once).
    for (;;) {
      const wave = progress.waves[r.currentWave];
      if (!wave) break;
      const outcome = waveOutcome(wave.counts, r.config.successThreshold);
      if (outcome === 'running') break;
      if (typeof outcome === 'object' && r.waivedWave !== r.currentWave) {
        await this.setState(r, { state: 'paused', stateReason: `wave ${r.currentWave + 1}: ${outcome.missed}`, updatedAt: now });
        return;
      }
      const last = r.currentWave >= r.config.waves.length - 1;
      if (last) {
        if (!r.config.dynamic) {
          await this.setState(r, { state: 'completed', stateReason: null, finishedAt: now, updatedAt: now });
          return;
        }
        break; // A dynamic rollout stays open for devices that match later.
      }
      if (r.config.approvalBetweenWaves) {
        await this.setState(r, { state: 'awaiting_approval', stateReason: `wave ${r.currentWave + 1} done: waiting for approval of wave ${r.currentWave + 2}`, updatedAt: now });
        return;
      }
      const next = r.currentWave + 1;
      if (!(await this.stores.rollouts.update(r.tenantId, r.id, ['running'], { currentWave: next, updatedAt: now }))) return;
      r = { ...r, currentWave: next };
    }

    if (r.config.dynamic) {
      const joined = await this.join(r, now);
      if (joined > 0) progress = progressOf(r, await this.stores.rollouts.counts(r.id));
    }

    // Offers: within the maintenance window, under maxConcurrent, at the rate.
    const bucket = refill({ tokens: r.rateTokens, updatedAt: r.rateUpdatedAt }, rate, now);
    let offered = 0;
    if (windowOpen(r.config.maintenanceWindow, now)) {
      const room = Math.min(r.config.maxConcurrent - inFlightOf(progress.total), available(bucket));
      if (room > 0) offered = await this.offer(r, room, now);
    }
    // An idle tick writes nothing: the stored bucket refills from its own timestamp next time.
    if (offered > 0 || rate !== r.ratePerMinute) {
      await this.stores.rollouts.update(r.tenantId, r.id, ['running'], { ratePerMinute: rate, rateTokens: bucket.tokens - offered, rateUpdatedAt: bucket.updatedAt, updatedAt: now });
    }
  }

  /** Devices that did not finish by their deadline: `timed_out`, offer withdrawn. */
  private async timeOut(r: Rollout, now: number): Promise<void> {
    for (;;) {
      const due = await this.stores.rollouts.due(r.id, 'deadline', OFFER_STATES, now, BATCH);
      let moved = 0;
      for (const m of due) {
        const error = `did not finish within ${r.config.deviceTimeoutSec} s of the offer (last state ${m.state})`;
        if (await this.moves.finish(m, [m.state], 'timed_out', { reason: 'timeout', error }, now)) moved += 1;
      }
      if (due.length < BATCH || moved === 0) return;
    }
  }

  /** Health windows that ended: on the new version now → `succeeded`, else `failed` (health). */
  private async endHealthWindows(r: Rollout, now: number): Promise<void> {
    for (;;) {
      const due = await this.stores.rollouts.due(r.id, 'healthUntil', ['verifying'], now, BATCH);
      let moved = 0;
      for (const m of due) {
        const device = await this.stores.devices.get(m.tenantId, m.deviceId);
        const ok = device?.firmwareVersion === r.firmwareVersion;
        const done = ok
          ? await this.moves.finish(m, ['verifying'], 'succeeded', { reason: null, error: null }, now)
          : await this.moves.finish(m, ['verifying'], 'failed', { reason: 'health', error: `not on ${r.firmwareVersion} at the end of the health window (reports ${device?.firmwareVersion ?? 'no version'})` }, now);
        if (done) moved += 1;
      }
      if (due.length < BATCH || moved === 0) return;
    }
  }

  /** Paused or aborted by the failure threshold, as the rollout says. */
  private async stopFor(r: Rollout, reason: string, now: number): Promise<void> {
    const action = r.config.failureThreshold.action;
    const patch: RolloutPatch = action === 'abort' ? { state: 'aborted', stateReason: reason, finishedAt: now, updatedAt: now } : { state: 'paused', stateReason: reason, updatedAt: now };
    if (!(await this.setState(r, patch))) return;
    this.options.logger?.info({ rolloutId: r.id, reason, action }, 'rollout stopped by its failure threshold');
    if (action === 'abort') await this.moves.cancelUnstarted(r, 'aborted', now);
  }

  private async setState(r: Rollout, patch: RolloutPatch): Promise<boolean> {
    return this.changeEvents.transaction(this.stores, (tx, events) => this.moves.setRolloutState(tx, events, r, [r.state], patch));
  }

  /** Offers to up to `room` pending devices of the current wave; answers how many got one. */
  private async offer(r: Rollout, room: number, now: number): Promise<number> {
    const pending = await this.stores.rollouts.inState(r.id, ['pending'], { wave: r.currentWave, limit: room });
    let offered = 0;
    for (const m of pending) {
      const made = await this.changeEvents.transaction(this.stores, async (tx, events) => {
        // The device may have changed since it was selected: look again before offering.
        const device = await tx.devices.get(m.tenantId, m.deviceId);
        const why = device ? exclusionOf(device, { version: r.firmwareVersion, deviceTypes: r.firmwareDeviceTypes, allowDowngrade: r.config.allowDowngrade }) : 'decommissioned';
        if (why === 'alreadyOnVersion') {
          await this.moves.moveIn(tx, events, m, ['pending'], { state: 'succeeded', error: `already on ${r.firmwareVersion}`, finishedAt: now, updatedAt: now });
          return false;
        }
        if (why !== null) {
          const reason = why === 'decommissioned' ? 'decommissioned' : why === 'incompatibleType' ? 'incompatible' : 'downgrade';
          await this.moves.moveIn(tx, events, m, ['pending'], { state: 'cancelled', reason, finishedAt: now, updatedAt: now });
          return false;
        }
        return this.moves.moveIn(tx, events, m, ['pending'], { state: 'offered', fromVersion: device!.firmwareVersion, offeredAt: now, deadline: now + r.config.deviceTimeoutSec * 1000, updatedAt: now });
      });
      if (made) offered += 1;
    }
    return offered;
  }

  /** A dynamic rollout's new devices (matching its target now, eligible, in no other rollout) join its last wave. */
  private async join(r: Rollout, now: number): Promise<number> {
    const last = this.joinedAt.get(r.id);
    if (last !== undefined && now - last < this.joinIntervalMs) return 0;
    this.joinedAt.set(r.id, now);
    const filter = await targetFilter(this.stores, r.tenantId, r, now);
    if (!filter) return 0;
    const found = await survey(this.stores, r.tenantId, filter, { version: r.firmwareVersion, deviceTypes: r.firmwareDeviceTypes, allowDowngrade: r.config.allowDowngrade }, { notIn: r.id });
    if (found.eligible.length === 0) return 0;
    const wave = r.config.waves.length - 1;
    const added = await this.changeEvents.transaction(this.stores, async (tx, events) => {
      const ids = await tx.rollouts.addDevices(r.tenantId, r.id, found.eligible.map((d) => ({ deviceId: d.id, wave, fromVersion: d.firmwareVersion })), now);
      for (const deviceId of ids) events.push({ type: 'rollout.device.state', tenantId: r.tenantId, rolloutId: r.id, deviceId, state: 'pending', reason: 'joined' });
      return ids;
    });
    if (added.length > 0) this.options.logger?.info({ rolloutId: r.id, joined: added.length }, 'devices joined a dynamic rollout');
    if (added.length > 0 && r.config.useDeltas && this.options.deltas) {
      const joined = new Set(added);
      const versions = [...new Set(found.eligible.filter((d) => joined.has(d.id) && d.firmwareVersion !== null).map((d) => d.firmwareVersion!))];
      if (versions.length > 0) await this.options.deltas.requestDeltas(r.tenantId, r.firmwareId, versions).catch((err: unknown) => this.options.logger?.warn({ err, rolloutId: r.id }, 'delta builds could not be requested'));
    }
    return added.length;
  }

}
