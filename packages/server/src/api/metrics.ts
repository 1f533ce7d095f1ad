import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { StoreQueryEvent } from '../core/stores.js';

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

  instrument(app: FastifyInstance): void {
    app.addHook('onResponse', async (request, reply) => {
      // The route pattern, not the URL: device ids must not explode the label set.
      const route = request.routeOptions.url ?? 'unmatched';
      this.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
      this.httpDuration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    });
  }
}
