import { sql, type Kysely } from 'kysely';
import type { AlertSeverity } from '../../bus/events.js';
import { ALERT_SEVERITIES } from '../../core/alerts/ports.js';
import type { FleetGauges, FleetGaugeStore } from '../../core/ops/ports.js';
import type { Database } from '../schema.js';

/** The scrape-time gauges as five aggregate counts (devices.online, alerts and deliveries by their state indexes). */
export class KyselyFleetGaugeStore implements FleetGaugeStore {
  constructor(private readonly db: Kysely<Database>) {}

  async read(): Promise<FleetGauges> {
    const n = sql<number>`count(*)`;
    const online = await this.db.selectFrom('devices').select(n.as('n')).where('online', '=', 1).executeTakeFirstOrThrow();
    const alerts = await this.db.selectFrom('alerts').select(['severity', n.as('n')]).where('state', 'in', ['raised', 'acknowledged']).groupBy('severity').execute();
    // Every status but delivered and dead is the backlog: the webhook store also keeps a
    // private status for deliveries whose attempt is in flight.
    const deliveries = await this.db.selectFrom('webhook_deliveries').select(['status', n.as('n')]).where('status', '!=', 'delivered').groupBy('status').execute();
    const inbox = await this.db.selectFrom('telemetry_inbox').select(n.as('n')).executeTakeFirstOrThrow();
    const presence = await this.db.selectFrom('device_presence').select(['protocol', n.as('n')]).where('session_id', 'is not', null).groupBy('protocol').execute();
    const openAlerts = Object.fromEntries(ALERT_SEVERITIES.map((s) => [s, 0])) as Record<AlertSeverity, number>;
    for (const r of alerts) if (r.severity in openAlerts) openAlerts[r.severity as AlertSeverity] += Number(r.n);
    return {
      devicesOnline: Number(online.n),
      openAlerts,
      webhookDeliveries: {
        pending: deliveries.filter((r) => r.status !== 'dead').reduce((sum, r) => sum + Number(r.n), 0),
        dead: Number(deliveries.find((r) => r.status === 'dead')?.n ?? 0),
      },
      telemetryInbox: Number(inbox.n),
      presence: presence.filter((r) => r.protocol !== null).map((r) => ({ protocol: r.protocol!, count: Number(r.n) })),
    };
  }
}
