import { sql, type Kysely } from 'kysely';
import type { AlertSeverity } from '../../bus/events.js';
import { ALERT_SEVERITIES } from '../../core/alerts/ports.js';
import type { FleetStats, FleetStatsOptions, FleetStatsStore } from '../../core/fleet/ports.js';
import type { Database, Dialect } from '../schema.js';
import { compileDeviceFilter } from './fleet-query-sql.js';

/**
 * Fleet statistics as GROUP BY queries over the devices a fleet query selects. Five small
 * aggregate statements; no device row leaves the database.
 */
export class KyselyFleetStatsStore implements FleetStatsStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
  ) {}

  async stats(options: FleetStatsOptions): Promise<FleetStats> {
    const where = options.where ? compileDeviceFilter(options.where, this.dialect, options.tenantId) : undefined;
    const devices = () => {
      const q = this.db.selectFrom('devices').where('devices.tenant_id', '=', options.tenantId);
      return where ? q.where(where) : q;
    };

    const totals = await devices()
      .select([sql<number>`count(*)`.as('total'), sql<number>`coalesce(sum(devices.online), 0)`.as('online'), sql<number>`count(devices.firmware_version)`.as('reported')])
      .executeTakeFirstOrThrow();
    const total = Number(totals.total);
    const online = Number(totals.online);
    const reported = Number(totals.reported);

    const n = sql<number>`count(*)`;
    const types = await devices().select(['devices.type as key', n.as('n')]).groupBy('devices.type').orderBy('n', 'desc').orderBy('devices.type').limit(options.typeTop).execute();
    const statuses = await devices().select(['devices.status as key', n.as('n')]).groupBy('devices.status').orderBy('devices.status').execute();
    const versions = await devices()
      .select(['devices.firmware_version as key', n.as('n')])
      .where('devices.firmware_version', 'is not', null)
      .groupBy('devices.firmware_version')
      .orderBy('n', 'desc')
      .orderBy('devices.firmware_version')
      .limit(options.firmwareTop)
      .execute();

    const alerts = await this.db
      .selectFrom('alerts')
      .select(['alerts.severity', 'alerts.state', n.as('n')])
      .where('alerts.tenant_id', '=', options.tenantId)
      .where('alerts.state', 'in', ['raised', 'acknowledged'])
      .where('alerts.device_id', 'in', devices().select('devices.id'))
      .groupBy(['alerts.severity', 'alerts.state'])
      .execute();

    const byType = counts(types);
    const firmware = counts(versions);
    const bySeverity = Object.fromEntries(ALERT_SEVERITIES.map((s) => [s, 0])) as Record<AlertSeverity, number>;
    const byState = { raised: 0, acknowledged: 0 };
    let open = 0;
    for (const row of alerts) {
      const count = Number(row.n);
      open += count;
      if (row.severity in bySeverity) bySeverity[row.severity as AlertSeverity] += count;
      if (row.state === 'raised' || row.state === 'acknowledged') byState[row.state] += count;
    }
    return {
      total,
      online,
      offline: total - online,
      byType,
      typeOther: total - sum(byType),
      byStatus: counts(statuses),
      firmware,
      firmwareOther: reported - sum(firmware),
      firmwareUnknown: total - reported,
      alerts: { open, bySeverity, byState },
    };
  }
}

function counts(rows: Array<{ key: string | null; n: number }>): Record<string, number> {
  const out: Record<string, number> = {};
  // defineProperty: a version or type named "__proto__" must stay a plain key.
  for (const row of rows) {
    if (row.key !== null) Object.defineProperty(out, row.key, { value: Number(row.n), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function sum(record: Record<string, number>): number {
  return Object.values(record).reduce((a, b) => a + b, 0);
}
