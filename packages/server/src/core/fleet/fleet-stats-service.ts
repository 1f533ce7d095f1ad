import { HangarError } from '../../errors.js';
import type { Stores } from '../stores.js';
import type { CallContext } from '../context.js';
import { parseQueryText } from '../registry/fleet-query.js';
import type { FleetStats } from './ports.js';

export const DEFAULT_FIRMWARE_TOP = 10;
export const MAX_FIRMWARE_TOP = 100;
const TYPE_TOP = 100;

/** Fleet overview for dashboards: counts over the devices a fleet query selects, all in SQL. */
export class FleetStatsService {
  constructor(
    private readonly stores: Stores,
    private readonly now: () => number = Date.now,
  ) {}

  async stats(ctx: CallContext, options: { q?: string | undefined; firmwareTop?: number | undefined } = {}): Promise<FleetStats> {
    const tenantId = ctx.principal.tenantId;
    const firmwareTop = options.firmwareTop ?? DEFAULT_FIRMWARE_TOP;
    if (!Number.isInteger(firmwareTop) || firmwareTop < 1 || firmwareTop > MAX_FIRMWARE_TOP) {
      throw new HangarError('VALIDATION_FAILED', `firmwareTop is a whole number from 1 to ${MAX_FIRMWARE_TOP}`);
    }
    const where = parseQueryText(options.q, { now: this.now() });
    return this.stores.fleetStats.stats({ tenantId, where, firmwareTop, typeTop: TYPE_TOP });
  }
}
