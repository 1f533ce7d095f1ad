import type { DomainEvent } from '../../bus/events.js';
import type { ChangeEvents } from '../events/change-events.js';
import type { StoreSet, Stores } from '../stores.js';
import { OFFER_STATES, type Rollout, type RolloutDevice, type RolloutDevicePatch, type RolloutDeviceState, type RolloutPatch, type RolloutState } from './ports.js';

const holdsOffer = (s: RolloutDeviceState): boolean => (OFFER_STATES as readonly string[]).includes(s);

/** The events of a device moving from `from` to `to` in a rollout. */
export function deviceMoveEvents(m: Pick<RolloutDevice, 'tenantId' | 'rolloutId' | 'deviceId'>, from: RolloutDeviceState, to: RolloutDeviceState, reason: string | null): DomainEvent[] {
  const events: DomainEvent[] = [{ type: 'rollout.device.state', tenantId: m.tenantId, rolloutId: m.rolloutId, deviceId: m.deviceId, state: to, reason }];
  // Transports push the device its current offer: a new one, or `{deploymentId: null}` once it holds none.
  if (holdsOffer(from) !== holdsOffer(to) || (to === 'offered' && from !== 'offered')) {
    events.push({ type: 'ota.offer.changed', tenantId: m.tenantId, deviceId: m.deviceId, rolloutId: holdsOffer(to) ? m.rolloutId : null });
  }
  return events;
}

/**
 * Every change of a device's state in a rollout goes through here — the service, the engine,
 * status reports and the health gate alike: a conditional write from the states it may leave
 * (so a report and a timeout racing never both win), its events staged in the same transaction.
 */
export class DeviceMoves {
  constructor(
    private readonly stores: Stores,
    private readonly changeEvents: ChangeEvents,
  ) {}

  /** In a transaction of the caller's. False: the device was no longer in `from`. */
  async moveIn(tx: StoreSet, events: DomainEvent[], m: RolloutDevice, from: readonly RolloutDeviceState[], patch: RolloutDevicePatch, guard?: { progressBelow?: number }): Promise<boolean> {
    if (!(await tx.rollouts.transition(m.tenantId, m.rolloutId, m.deviceId, from, patch, guard))) return false;
    const to = patch.state ?? m.state;
    if (to !== m.state) events.push(...deviceMoveEvents(m, m.state, to, patch.reason ?? null));
    return true;
  }

  async move(m: RolloutDevice, from: readonly RolloutDeviceState[], patch: RolloutDevicePatch, guard?: { progressBelow?: number }): Promise<boolean> {
    return this.changeEvents.transaction(this.stores, (tx, events) => this.moveIn(tx, events, m, from, patch, guard));
  }

  /** A final state: not active any more, `finishedAt` set. */
  async finish(m: RolloutDevice, from: readonly RolloutDeviceState[], state: Extract<RolloutDeviceState, 'succeeded' | 'failed' | 'rolled_back' | 'timed_out' | 'cancelled'>, details: { reason: string | null; error: string | null }, at: number): Promise<boolean> {
    return this.move(m, from, { state, reason: details.reason, error: details.error, finishedAt: at, updatedAt: at });
  }

  /** Moves the rollout from one of `from`; `rollout.state` when its state changes. */
  async setRolloutState(tx: StoreSet, events: DomainEvent[], r: Rollout, from: readonly RolloutState[], patch: RolloutPatch): Promise<boolean> {
    if (!(await tx.rollouts.update(r.tenantId, r.id, from, patch))) return false;
    if (patch.state !== undefined && patch.state !== r.state) {
      events.push({ type: 'rollout.state', tenantId: r.tenantId, rolloutId: r.id, state: patch.state, reason: patch.stateReason ?? null });
    }
    return true;
  }

  /**
   * An aborted rollout's devices that have not started downloading are cancelled and their
   * offers withdrawn, a batch per transaction (a crash midway leaves the rest to the engine,
   * which finishes the job for aborted rollouts with devices still active).
   */
  async cancelUnstarted(r: Rollout, reason: string, at: number): Promise<number> {
    let cancelled = 0;
    for (;;) {
      const batch = await this.stores.rollouts.inState(r.id, ['pending', 'offered'], { limit: 500 });
      if (batch.length === 0) return cancelled;
      const moved = await this.changeEvents.transaction(this.stores, async (tx, events) => {
        let n = 0;
        for (const m of batch) if (await this.moveIn(tx, events, m, [m.state], { state: 'cancelled', reason, error: null, finishedAt: at, updatedAt: at })) n += 1;
        return n;
      });
      cancelled += moved;
      // Every row of the batch lost a race (the device started downloading): the next read differs.
      if (moved === 0 && batch.length < 500) return cancelled;
    }
  }
}
