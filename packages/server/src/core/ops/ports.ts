import type { AlertSeverity } from '../../bus/events.js';

/**
 * What operators alert on, installation-wide, read at each Prometheus scrape: a handful of
 * aggregate counts over indexed columns, no row leaves the store.
 */
export interface FleetGauges {
  devicesOnline: number;
  /** Alerts raised or acknowledged, not yet cleared, by severity (every severity present). */
  openAlerts: Record<AlertSeverity, number>;
  /** Webhook deliveries still to be made (`pending`) and given up on (`dead`). */
  webhookDeliveries: { pending: number; dead: number };
  /** Readings durable in the telemetry inbox and not yet compacted into the point tables. */
  telemetryInbox: number;
  /** Current connection periods by device protocol (MQTT sessions, HTTP/CoAP activity windows). */
  presence: Array<{ protocol: string; count: number }>;
}

export interface FleetGaugeStore {
  read(): Promise<FleetGauges>;
}
