import type { Kysely } from 'kysely';
import type { DesiredTwin, TwinStore } from '../../core/twin/ports.js';
import type { Database } from '../schema.js';

export class KyselyTwinStore implements TwinStore {
  constructor(private readonly db: Kysely<Database>) {}

  async getDesired(tenantId: string, deviceId: string): Promise<DesiredTwin | undefined> {
    const row = await this.db.selectFrom('device_twins').select(['desired', 'desired_version']).where('tenant_id', '=', tenantId).where('device_id', '=', deviceId).executeTakeFirst();
    return row ? { version: Number(row.desired_version), desired: JSON.parse(row.desired) as Record<string, unknown> } : undefined;
  }
}
