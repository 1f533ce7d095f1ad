import type { Stores } from '../stores.js';
import type { DeviceMoves } from './device-moves.js';

/**
 * The health gate (docs/rollouts.md): a device that installed the new version is `verifying`
 * for the rollout's health window, and fails with reason `health` when it disconnects more than
 * `maxDisconnects` times or raises one of the named alert rules meanwhile. The window's end is
 * the engine's (it needs the clock): there the device must run the new version.
 */
export class HealthGate {
  constructor(
    private readonly stores: Stores,
    private readonly moves: DeviceMoves,
    private readonly now: () => number,
  ) {}

  async disconnected(tenantId: string, deviceId: string, at: number): Promise<void> {
    const m = await this.stores.rollouts.activeMembership(tenantId, deviceId);
    // A disconnect after the window ended (the engine has not looked yet) does not count.
    if (!m || m.state !== 'verifying' || (m.healthUntil !== null && at > m.healthUntil)) return;
    const r = await this.stores.rollouts.get(tenantId, m.rolloutId);
    if (!r) return;
    const count = m.disconnects + 1;
    const max = r.config.healthGate.maxDisconnects;
    const now = this.now();
    if (count > max) {
      await this.moves.move(m, ['verifying'], { state: 'failed', reason: 'health', error: `disconnected ${count} times in the health window (at most ${max} allowed)`, disconnects: count, finishedAt: now, updatedAt: now });
    } else {
      await this.moves.move(m, ['verifying'], { disconnects: count, updatedAt: now });
    }
  }

  async alertRaised(tenantId: string, deviceId: string, ruleId: string, ruleName: string): Promise<void> {
    const m = await this.stores.rollouts.activeMembership(tenantId, deviceId);
    if (!m || m.state !== 'verifying') return;
    const r = await this.stores.rollouts.get(tenantId, m.rolloutId);
    if (!r || !r.config.healthGate.alertRuleIds.includes(ruleId)) return;
    await this.moves.finish(m, ['verifying'], 'failed', { reason: 'health', error: `alert rule "${ruleName}" (${ruleId}) raised in the health window` }, this.now());
  }
}
