import { HangarError } from '../../errors.js';
import type { DeviceFilter } from '../query/index.js';
import type { Device } from '../registry/device.js';
import { parseQueryText } from '../registry/fleet-query.js';
import type { StoreSet } from '../stores.js';
import { exclusionOf, type Exclusion, type Target } from './eligibility.js';
import { ROLLOUT_LIMITS } from './rollout-rules.js';

/**
 * The devices a rollout's target selects: a fleet query, or a group (static members, or a
 * dynamic group's query). Undefined: the group is gone (a dynamic rollout then adds no one).
 */
export async function targetFilter(tx: StoreSet, tenantId: string, target: { query: string | null; groupId: string | null }, now: number): Promise<DeviceFilter | undefined> {
  if (target.query !== null) return parseQueryText(target.query, { now });
  const group = await tx.groups.get(tenantId, target.groupId ?? '');
  if (!group) return undefined;
  return group.kind === 'static' ? { kind: 'staticGroup', groupId: group.id } : parseQueryText(group.query ?? '', { now });
}

export interface Survey {
  targeted: number;
  eligible: Device[];
  excluded: Record<Exclusion | 'inOtherRollout', number>;
}

const PAGE = 1000;

/**
 * Walks the devices `filter` selects and sorts them into eligible and excluded (why). With
 * `notIn`, devices already members of that rollout are skipped (a dynamic rollout's join).
 */
export async function survey(tx: StoreSet, tenantId: string, filter: DeviceFilter, target: Target, options: { notIn?: string; limit?: number } = {}): Promise<Survey> {
  const result: Survey = { targeted: 0, eligible: [], excluded: { decommissioned: 0, incompatibleType: 0, alreadyOnVersion: 0, downgrade: 0, inOtherRollout: 0 } };
  const limit = options.limit ?? ROLLOUT_LIMITS.maxTargeted;
  for (let afterId: string | undefined; ; ) {
    const read = await tx.devices.list({ tenantId, where: filter, afterId, limit: PAGE });
    let page = read;
    if (options.notIn !== undefined && page.length > 0) {
      const members = await tx.rollouts.membersOf(options.notIn, page.map((d) => d.id));
      page = page.filter((d) => !members.has(d.id));
    }
    result.targeted += page.length;
    if (result.targeted > limit) throw new HangarError('VALIDATION_FAILED', `the target matches more than ${limit} devices; a rollout targets at most that many`);
    const candidates: Device[] = [];
    for (const d of page) {
      const why = exclusionOf(d, target);
      if (why) result.excluded[why] += 1;
      else candidates.push(d);
    }
    const busy = await tx.rollouts.activeIn(tenantId, candidates.map((d) => d.id));
    for (const d of candidates) {
      if (busy.has(d.id)) result.excluded.inOtherRollout += 1;
      else result.eligible.push(d);
    }
    if (read.length < PAGE) break;
    afterId = read[read.length - 1]!.id;
  }
  return result;
}
