import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FleetGauges } from '../core/ops/ports.js';
import type { StoreQueryEvent } from '../core/stores.js';

/** Where the scrape-time gauges come from: core's store port and the transports of this node. */
export interface FleetGaugeSources {
  fleet: () => Promise<FleetGauges>;
  mqttConnections: () => number;
  coapObservations: () => number;
  onError?: (err: unknown) => void;
}

/** One registry per Hangar instance (never prom-client's global one), so tests can run several. */
export class Metrics {
  readonly registry = new Registry();
  private readonly httpRequests = new Counter({ name: 'hangar_http_requests_total', help: 'HTTP requests by method, route and status', labelNames: ['method', 'route', 'status'], registers: [this.registry] });
  private readonly httpDuration = new Histogram({
    name: 'hangar_http_request_duration_seconds',
    help: 'HTTP request duration by method and route',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });
  private readonly storeQueries = new Counter({ name: 'hangar_store_queries_total', help: 'Store queries by kind and outcome', labelNames: ['kind', 'outcome'], registers: [this.registry] });
  private readonly storeDuration = new Histogram({
    name: 'hangar_store_query_duration_seconds',
    help: 'Store query duration by kind',
    labelNames: ['kind'],
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });

  /** Device transports' counters (MQTT refusals, takeovers, malformed packets…), by transport and name. */
  readonly deviceTransport = new Counter({ name: 'hangar_device_transport_events_total', help: 'Device transport events by transport and counter', labelNames: ['transport', 'counter'], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'hangar_' });
  }

  /** The store's query log hook: counts statements by their first keyword, never by their text. */
  readonly onQuery = (event: StoreQueryEvent): void => {
    const kind = /^\s*(\w+)/.exec(event.query.sql)?.[1]?.toLowerCase() ?? 'other';
    this.storeQueries.inc({ kind, outcome: event.level === 'error' ? 'error' : 'ok' });
    this.storeDuration.observe({ kind }, event.queryDurationMillis / 1000);
  };

  /**
   * Gauges operators alert on, computed when Prometheus scrapes (collect callbacks): one store
   * read per scrape, shared by the gauges the registry collects together. A failed read leaves
   * the store gauges without samples for that scrape rather than failing the whole page.
   */
  watchFleet(sources: FleetGaugeSources): void {
    let pending: Promise<FleetGauges | undefined> | undefined;
    const read = (): Promise<FleetGauges | undefined> => {
      pending ??= sources
        .fleet()
        .catch((err: unknown) => {
          sources.onError?.(err);
          return undefined;
        })
        .finally(() => setImmediate(() => (pending = undefined)));
      return pending;
    };
    const registers = [this.registry];
    const fromStore = (name: string, help: string, labelNames: string[], fill: (g: Gauge, v: FleetGauges) => void): void => {
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        async collect() {
          const v = await read();
          this.reset();
          if (v) fill(this, v);
        },
      });
    };
    fromStore('hangar_devices_online', 'Devices online now (all tenants)', [], (g, v) => g.set(v.devicesOnline));
    fromStore('hangar_alerts_open', 'Open (raised or acknowledged) alerts by severity', ['severity'], (g, v) => {
      for (const [severity, n] of Object.entries(v.openAlerts)) g.set({ severity }, n);
    });
    fromStore('hangar_webhook_deliveries_pending', 'Webhook deliveries waiting to be made (the outbox backlog)', [], (g, v) => g.set(v.webhookDeliveries.pending));
    fromStore('hangar_webhook_deliveries_dead', 'Webhook deliveries given up after their last attempt (dead letters)', [], (g, v) => g.set(v.webhookDeliveries.dead));
    fromStore('hangar_telemetry_inbox_readings', 'Durable readings not yet compacted out of the telemetry inbox', [], (g, v) => g.set(v.telemetryInbox));
    fromStore('hangar_device_sessions', 'Current device connection periods by protocol, all nodes (MQTT sessions, HTTP/CoAP activity windows)', ['protocol'], (g, v) => {
      for (const p of v.presence) g.set({ protocol: p.protocol }, p.count);
    });
    new Gauge({ name: 'hangar_mqtt_connections', help: 'Open MQTT connections on this node', registers, collect() {
      this.set(sources.mqttConnections());
    } });
    new Gauge({ name: 'hangar_coap_observations', help: 'CoAP observations held on this node', registers, collect() {
      this.set(sources.coapObservations());
    } });
  }

  instrument(app: FastifyInstance): void {
    app.addHook('onResponse', async (request, reply) => {
      // The route pattern, not the URL: device ids must not explode the label set.
      const route = request.routeOptions.url ?? 'unmatched';
      this.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
      this.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    });
  }
}
