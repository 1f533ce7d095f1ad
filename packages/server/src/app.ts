import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { buildHttpApp } from './api/http-app.js';
import { Metrics } from './api/metrics.js';
import type { MetricsAccess } from './api/routes/ops.js';
import { InProcessEventBus, type EventBus } from './bus/event-bus.js';
import { AlertEvaluator, type AlertEvaluatorOptions } from './core/alerts/alert-evaluator.js';
import { AlertService } from './core/alerts/alert-service.js';
import { AuditService } from './core/audit/audit-service.js';
import { FleetStatsService } from './core/fleet/fleet-stats-service.js';
import { CaService } from './core/identity/ca-service.js';
import { CredentialService } from './core/identity/credential-service.js';
import { DecommissionService } from './core/identity/decommission-service.js';
import { EnrollmentService } from './core/identity/enrollment-service.js';
import { PresenceService, type PresenceOptions } from './core/presence/presence-service.js';
import { ChangeEvents } from './core/events/change-events.js';
import { EventLog } from './core/events/event-log.js';
import { EventStreamService } from './core/events/event-stream-service.js';
import { WebhookRuntime, type WebhookOptions } from './core/webhooks/webhook-runtime.js';
import { WebhookService } from './core/webhooks/webhook-service.js';
import { MasterKey } from './core/identity/master-key.js';
import { DeviceAuthenticator } from './core/identity/device-authenticator.js';
import { loadOrCreateServerTls, type ServerTls } from './core/identity/server-tls.js';
import { CoapDeviceEndpoint, commandReader, routeByFirstSegment, twinUplink } from './transports/coap/index.js';
import { CoapListeners } from './transports/coap/coap-listeners.js';
import type { CoapTiming } from './transports/coap/coap-server.js';
import type { DtlsLimits } from './transports/dtls/index.js';
import { deviceApiRoutes } from './transports/http/device-api.js';
import { LiveSessions } from './transports/live-sessions.js';
import { MqttGateway } from './transports/mqtt/mqtt-gateway.js';
import { MqttTwinDesiredPush } from './transports/mqtt/twin-desired-push.js';
import { mqttCommandDownlink } from './transports/mqtt/command-downlink.js';
import { MqttOtaOfferPush } from './transports/mqtt/ota-offer-push.js';
import type { OtaDevicePort } from './core/ota/ota-device-port.js';
import type { DeviceIdentity } from './core/identity/device-authenticator.js';
import { DeviceImportService } from './core/registry/device-import.js';
import { DeviceService } from './core/registry/device-service.js';
import { GroupService } from './core/registry/group-service.js';
import { TelemetryService, type TelemetryServiceOptions } from './core/telemetry/telemetry-service.js';
import { TenancyService, type BootstrapResult } from './core/tenancy/tenancy-service.js';
import type { Services } from './core/services.js';
import { TwinSchemaService, TwinSchemaValidators } from './core/twin/twin-schemas.js';
import { TwinService } from './core/twin/twin-service.js';
import { ConfigurationService } from './core/configurations/configuration-service.js';
import { ConfigurationReconciler, type ReconcilerOptions } from './core/configurations/reconciler.js';
import { DeviceLogService, type DeviceLogServiceOptions } from './core/logs/device-log-service.js';
import { TimelineService } from './core/timeline/timeline-service.js';
import type { TimelineRecorderOptions } from './core/timeline/timeline-recorder.js';
import { CommandService, type CommandServiceOptions } from './core/commands/command-service.js';
import { JobService } from './core/jobs/job-service.js';
import type { ArtifactStore } from './core/firmware/artifact-store.js';
import { ArtifactDownloads } from './core/firmware/artifact-downloads.js';
import { DownloadTokens } from './core/firmware/download-tokens.js';
import { DeltaService, type DeltaServiceOptions } from './core/firmware/delta/delta-service.js';
import type { FirmwareVersionLookup } from './core/firmware/delta/ports.js';
import type { DeltaCatalog, DownloadLinks, FirmwareCatalog } from './core/firmware/catalog.js';
import { DeviceMoves } from './core/rollouts/device-moves.js';
import { RolloutEngine } from './core/rollouts/rollout-engine.js';
import { RolloutService } from './core/rollouts/rollout-service.js';
import { OtaService } from './core/ota/ota-service.js';
import { migrateToLatest, openStore, pingStore, type StoreConnection } from './store/database.js';
import { createLwm2mServices } from './core/lwm2m/lwm2m-services.js';
import { credentialPskIssuer } from './core/lwm2m/credential-psk-issuer.js';
import { CoapDeviceLink, createLwm2mEndpoint, type Lwm2mEndpointHandle } from './transports/lwm2m/index.js';
import { FirmwareUpdateBridge } from './core/lwm2m/firmware-update-bridge.js';
import { InstallationFirmwarePackages } from './core/lwm2m/firmware-packages.js';
import type { Stores } from './core/stores.js';
import { createStores } from './store/stores.js';
import { openArtifactStore } from './store/artifacts/open-artifact-store.js';
import { FirmwareService } from './core/firmware/firmware-service.js';
import { FirmwareSigningKeys } from './core/firmware/signing-keys.js';

/** Re-exported for callers of `createHangar`; the type lives in core so that `api/` need not import this root. */
export type { Services };

export interface HangarOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
  /** PostgreSQL schema (tests give each run its own). */
  databaseSchema?: string | undefined;
  adminToken?: string | undefined;
  /** Seals CA and enrollment keys; default: HANGAR_MASTER_KEY or <dataDir>/master.key. */
  masterKey?: MasterKey | undefined;
  logger?: Logger | undefined;
  /** Directory of the built dashboard; defaults to packages/web/dist of this checkout. */
  webRoot?: string | undefined;
  now?: () => number;
  /** Telemetry limits, per-device rate limit, writer batching, retention (docs/telemetry.md). */
  telemetry?: Omit<TelemetryServiceOptions, 'now'> | undefined;
  /** This node's id in presence records (scale-out: each node resets only its own sessions). Default 'local'. */
  nodeId?: string | undefined;
  /** Presence tuning: activity window of HTTP/CoAP devices, flush and sweep intervals, history kept. */
  presence?: Omit<PresenceOptions, 'nodeId' | 'now' | 'logger'> | undefined;
  /** Largest serialized size of a twin's desired and of its reported, each, in bytes (default 32 KiB). */
  twinMaxBytes?: number | undefined;
  /** Device logs: upload limits, per-device rate limit (records), retention (docs/logs.md). */
  logs?: Omit<DeviceLogServiceOptions, 'now' | 'logger'> | undefined;
  /** Timeline recorder tuning (tests shorten its delays). */
  timeline?: Partial<TimelineRecorderOptions> | undefined;
  /** Alert evaluation: sweep interval (0: no timer), per-device coalescing, rule cache. */
  alerts?: AlertEvaluatorOptions | undefined;
  /** Webhook delivery tuning (timeouts, backoff, attempts); tests shorten the delays. */
  webhooks?: Partial<WebhookOptions> | undefined;
  /** Recent events a reconnecting SSE client can resume from (default 10,000). */
  eventLogCapacity?: number | undefined;
  /** Who may read `/metrics`: `public` (--metrics-public) or a scrape token besides API keys (--metrics-token). */
  metrics?: MetricsAccess | undefined;
  /** The TLS listeners' certificate: given (--tls-cert/--tls-key) or made from an installation CA. */
  tls?: { certFile?: string | undefined; keyFile?: string | undefined; hostnames?: string[] | undefined } | undefined;
  /** Configuration reconciler: full re-evaluation interval (0: no timer), batch size. */
  configurations?: ReconcilerOptions | undefined;
  /** Command rate limits per device and the sweeper's interval (docs/commands.md). */
  commands?: Omit<CommandServiceOptions, 'now' | 'logger'> | undefined;
  /** How often running bulk jobs are advanced (default 1 s). */
  jobTickIntervalMs?: number | undefined;
  /** Firmware registry: artifact store (`file` in `artifactDir` or `<dataDir>/artifacts`, or `postgres` large objects) and the image size limit (default 2 GiB). */
  firmware?: { artifactStore?: 'file' | 'postgres' | undefined; artifactDir?: string | undefined; maxBytes?: number | undefined } | undefined;
  /**
   * Firmware delivery and deltas (issue 11): the artifact store and the catalog they read.
   * Default: the registry's (`firmware` above); tests of delivery alone hand their own.
   */
  firmwareDelivery?: { artifacts: ArtifactStore; catalog: FirmwareCatalog & FirmwareVersionLookup } | undefined;
  /** How long firmware download tokens stay valid (default 1 hour). */
  downloadTokenTtlMs?: number | undefined;
  /** Delta builds: image size limit, size ratio, work dir (docs/ota-deltas.md). */
  deltas?: Omit<DeltaServiceOptions, 'now' | 'logger' | 'codec'> | undefined;
  /** The device side of OTA every transport serves (offers down, status reports up); without it those topics and paths are not served. */
  otaDevicePort?: OtaDevicePort | undefined;
  /**
   * What rollouts read of the firmware registry (images, deltas, download links): the registry
   * itself unless given. Tests of the rollout engine stand in a catalog (testing/ota-fixture.ts)
   * to set up images and deltas without uploading them.
   */
  otaCatalog?: { firmware: FirmwareCatalog; deltas: DeltaCatalog; links: DownloadLinks } | undefined;
  /** How often live rollouts are advanced (default 1 s; 0: never by timer — tests call `rolloutEngine.tick()`). */
  rolloutTickIntervalMs?: number | undefined;
  /** How often a dynamic rollout looks for devices that match its target later (default 30 s). */
  rolloutJoinIntervalMs?: number | undefined;
  /** CoAP transmission parameters of both listeners (tests shorten them). */
  coapTiming?: Partial<CoapTiming> | undefined;
  /** DTLS limits of the `--coaps-port` listener (tests shorten timeouts). */
  dtlsLimits?: Partial<DtlsLimits> | undefined;
  /** LwM2M Object 5 firmware updates (docs/ota.md, "LwM2M devices (Object 5)"): where devices pull packages, and pull or push. */
  lwm2mFirmware?: Lwm2mFirmwareOptions | undefined;
}

export interface Lwm2mFirmwareOptions {
  /** The host devices reach the CoAP ports at: with it they pull `coap(s)://host:port/device/v1/firmware/…` (Block2); without it Hangar pushes. */
  host?: string | undefined;
  /** Devices pull over HTTP(S) from this device-API base URL instead. */
  httpBaseUrl?: string | undefined;
  delivery?: 'auto' | 'pull' | 'push' | undefined;
  maxPushBytes?: number | undefined;
}

export interface Hangar {
  readonly services: Services;
  readonly stores: Stores;
  readonly store: StoreConnection;
  readonly http: FastifyInstance;
  readonly bus: EventBus;
  readonly logger: Logger;
  readonly bootstrap: BootstrapResult;
  /** Raises and clears alerts from bus events and a periodic sweep. */
  readonly alertEvaluator: AlertEvaluator;
  /** Device authentication for every transport (tokens, client certificates). */
  readonly authenticator: DeviceAuthenticator;
  /** The TLS listeners' certificate as last loaded (see `reloadServerTls`). */
  readonly serverTls: ServerTls;
  /**
   * Loads the TLS certificate again: a generated one is renewed when it nears expiry (the
   * installation CA stays), an operator's files are read again (rotated by certbot, say).
   * Returns the new one when it changed, for the listeners to switch to; undefined otherwise.
   */
  reloadServerTls(): Promise<ServerTls | undefined>;
  /** The device transports, built here and bound to sockets by `hangar serve` (or a test). */
  readonly mqtt: MqttGateway;
  readonly coap: CoapDeviceEndpoint;
  /**
   * The CoAP listeners `hangar serve` binds: plain UDP (`--coap-port`) and DTLS (`--coaps-port`),
   * each serving `/device/v1` and LwM2M's `/rd`, `/bs`, `/dp` (docs/coap.md, docs/dtls.md).
   */
  readonly coapListeners: CoapListeners;
  /**
   * LwM2M (docs/lwm2m.md): `rd`, `bs`, `dp` handlers to route beside `device` on the CoAP and DTLS
   * ports, and the link that reaches devices (`lwm2mLink.useRequester(coapServer)`).
   */
  readonly lwm2m: Lwm2mEndpointHandle;
  readonly lwm2mLink: CoapDeviceLink;
  readonly liveSessions: LiveSessions;
  /** Applies configurations to the devices they target (docs/configurations.md). */
  readonly configurationReconciler: ConfigurationReconciler;
  /** Firmware images and deltas (docs/firmware.md). */
  readonly artifacts: ArtifactStore;
  /** Short-lived, per-device download URLs of firmware images and deltas (for OTA offers). */
  readonly downloadLinks: DownloadTokens;
  /** Moves rollouts along (docs/rollouts.md); tests with `rolloutTickIntervalMs: 0` call its `tick()`. */
  readonly rolloutEngine: RolloutEngine;
  /** Delivers OTA offers to LwM2M devices through Object 5 (docs/ota.md). */
  readonly lwm2mFirmware: FirmwareUpdateBridge;
  close(): Promise<void>;
}

/** How long a closing server waits for HTTP connections before it cuts them. */
const SHUTDOWN_GRACE_MS = 5_000;

export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../web/dist', import.meta.url));

/**
 * The composition root: the one place that wires store, services and the HTTP app together.
 * It binds no socket; `hangar serve` (or a test) decides where to listen.
 */
export async function createHangar(options: HangarOptions): Promise<Hangar> {
  const logger = options.logger ?? pino({ level: process.env.HANGAR_LOG_LEVEL ?? 'info' }, pino.destination(2));
  const now = options.now ?? Date.now;
  const metrics = new Metrics();
  const store = await openStore({ databaseUrl: options.databaseUrl, dataDir: options.dataDir, schema: options.databaseSchema, onQuery: metrics.onQuery });
  try {
    const applied = await migrateToLatest(store);
    if (applied.length > 0) logger.info({ applied, store: store.location }, 'schema migrated');
    const stores = createStores(store);
    const bus = new InProcessEventBus(logger);
    const masterKey = options.masterKey ?? MasterKey.fromEnvOrFile(process.env.HANGAR_MASTER_KEY, options.dataDir);
    const tlsOptions = { dataDir: options.dataDir, masterKey, now, ...options.tls };
    let serverTls = await loadOrCreateServerTls(tlsOptions);
    // Unknown devices with a certificate from a registered CA may enroll on first contact (services are built below).
    const authenticator = new DeviceAuthenticator(stores, now, undefined, async (issuer, certificatePem, source) => {
      const enrolled = await services.enrollment.enrollOnFirstContact(issuer.tenantId, issuer.id, certificatePem, source);
      return enrolled && { tenantId: enrolled.tenant, deviceId: enrolled.deviceId, credentialId: enrolled.issued.credential.id };
    }, masterKey);
    const cas = new CaService(stores, masterKey, now);
    const eventLog = new EventLog({ capacity: options.eventLogCapacity, now });
    const stopEventLog = bus.subscribeAll((event) => void eventLog.append(event));
    const webhookRuntime = new WebhookRuntime({ store: stores.webhooks, log: eventLog, masterKey, logger, now }, options.webhooks);
    // Changes write their webhook deliveries in their own transactions and publish after commit.
    const changeEvents = new ChangeEvents(bus);
    changeEvents.attachOutbox(webhookRuntime.outbox);
    const credentials = new CredentialService(stores, cas, changeEvents, now, { masterKey });
    const twinSchemas = new TwinSchemaValidators();
    const commands = new CommandService(stores, changeEvents, { ...options.commands, now, logger: logger.child({ component: 'commands' }) });
    const artifacts = openArtifactStore(store, { kind: options.firmware?.artifactStore, dir: options.firmware?.artifactDir, dataDir: options.dataDir });
    const firmwareKeys = new FirmwareSigningKeys(stores, masterKey, now);
    const firmware = new FirmwareService(stores, artifacts, firmwareKeys, changeEvents, { maxBytes: options.firmware?.maxBytes, now, logger: logger.child({ component: 'firmware' }) });
    // One key for every node of a cluster (derived from the shared master key), so any node verifies any node's URLs.
    const downloadLinks = new DownloadTokens(masterKey.deriveKey('firmware-download-tokens'), { now, ttlMs: options.downloadTokenTtlMs });
    // Downloads and deltas read the registry's images and artifact store.
    const delivery = options.firmwareDelivery ?? { artifacts, catalog: firmware };
    const deltas = new DeltaService(stores, delivery.artifacts, delivery.catalog, bus, { ...options.deltas, now, logger: logger.child({ component: 'deltas' }) });
    // What rollouts read of the registry: the real one, unless an engine test stands in its own.
    const otaCatalog = options.otaCatalog ?? { firmware, deltas, links: downloadLinks };
    const deviceMoves = new DeviceMoves(stores, changeEvents);
    const rolloutEngine = new RolloutEngine(stores, changeEvents, deviceMoves, { now, logger: logger.child({ component: 'rollouts' }), tickIntervalMs: options.rolloutTickIntervalMs, joinIntervalMs: options.rolloutJoinIntervalMs, deltas: otaCatalog.deltas });
    const services: Services = {
      tenancy: new TenancyService(stores, now, (tx, tenantId) => cas.createTenantCa(tx, tenantId), bus),
      devices: new DeviceService(stores, now, credentials, changeEvents),
      groups: new GroupService(stores, now),
      imports: new DeviceImportService(stores, now, changeEvents),
      audit: new AuditService(stores.audit),
      cas,
      credentials,
      decommission: new DecommissionService(stores, credentials, changeEvents, now),
      enrollment: new EnrollmentService(stores, cas, credentials, masterKey, changeEvents, now),
      telemetry: new TelemetryService(stores, bus, logger.child({ component: 'telemetry' }), { ...options.telemetry, now }),
      presence: new PresenceService(stores, bus, { ...options.presence, nodeId: options.nodeId, now, logger: logger.child({ component: 'presence' }) }),
      alerts: new AlertService(stores, changeEvents, now),
      fleet: new FleetStatsService(stores, now),
      events: new EventStreamService(eventLog, { lookup: (t, w, ids) => stores.webhooks.devicesMatching(t, w, ids), now, bus }),
      webhooks: new WebhookService(stores, masterKey, webhookRuntime, now),
      twins: new TwinService(stores, changeEvents, { maxBytes: options.twinMaxBytes, now, schemas: twinSchemas }),
      twinSchemas: new TwinSchemaService(stores, twinSchemas, now),
      configurations: new ConfigurationService(stores, now),
      logs: new DeviceLogService(stores, bus, { ...options.logs, now, logger: logger.child({ component: 'logs' }) }),
      timeline: new TimelineService(stores, bus, { now, logger: logger.child({ component: 'timeline' }), recorder: options.timeline }),
      commands,
      jobs: new JobService(stores, commands, bus, { now, logger: logger.child({ component: 'jobs' }), tickIntervalMs: options.jobTickIntervalMs }),
      firmware,
      firmwareKeys,
      deltas,
      rollouts: new RolloutService({ stores, changeEvents, firmware: otaCatalog.firmware, deltas: otaCatalog.deltas, moves: deviceMoves, now, logger: logger.child({ component: 'rollouts' }), kick: () => rolloutEngine.kick() }),
      ota: new OtaService({ stores, changeEvents, moves: deviceMoves, ...otaCatalog, now, logger: logger.child({ component: 'ota' }) }),
    };
    firmware.setUsage({ inUse: (tenantId, firmwareId) => services.rollouts.firmwareInUse(tenantId, firmwareId) });
    // LwM2M: the core services reach devices through the CoAP link; the lead gives it the CoAP servers.
    const lwm2mLink = new CoapDeviceLink({ logger: logger.child({ component: 'lwm2m' }) });
    services.lwm2m = createLwm2mServices({ stores, presence: services.presence, telemetry: services.telemetry, twins: services.twins, link: lwm2mLink, bus, psk: credentialPskIssuer(stores, services.credentials), logger: logger.child({ component: 'lwm2m' }), now });
    // Devices get the firmware signing keys with their credentials.
    services.enrollment.attachFirmwareKeys(firmwareKeys);
    const downloads = new ArtifactDownloads(downloadLinks, delivery.artifacts);
    // Before anything publishes: the timeline records from the first event on.
    services.timeline.start();
    const bootstrap = await services.tenancy.bootstrap(options.adminToken);
    const madeCas = await cas.ensureEveryTenantHasCa();
    if (madeCas.length > 0) logger.info({ tenants: madeCas }, 'created tenant certificate authorities');
    const http = await buildHttpApp({
      services,
      logger,
      metrics,
      ready: () => pingStore(store),
      webRoot: options.webRoot ?? DEFAULT_WEB_ROOT,
      serverCaPem: serverTls.caPem,
      metricsAccess: options.metrics,
    });
    // The device transports: the HTTP device API shares the REST API's listener, MQTT and CoAP bind their own.
    const otaDevicePort = options.otaDevicePort ?? services.ota;
    await deviceApiRoutes(http, { authenticator, telemetry: services.telemetry, presence: services.presence, twins: services.twins, twinChanges: bus, logs: services.logs, commands: { service: services.commands, bus }, firmware: downloads, ota: { port: otaDevicePort, bus }, firmwareKeys });
    const liveSessions = new LiveSessions(bus);
    // Everyone who acts on an MQTT subscription (commands here; the twin's desired document too).
    const subscribedHooks: Array<(identity: DeviceIdentity, filters: string[], resumed: boolean) => void> = [];
    const mqtt = new MqttGateway({
      authenticator,
      telemetry: services.telemetry,
      presence: services.presence,
      liveSessions,
      bus,
      enrollment: services.enrollment,
      services: { twin: services.twins, logs: services.logs, commandResults: services.commands, ota: otaDevicePort },
      subscribed: (identity, filters, resumed) => {
        for (const hook of subscribedHooks) hook(identity, filters, resumed);
      },
      count: (counter, n) => metrics.deviceTransport.inc({ transport: 'mqtt', counter }, n),
      logger: logger.child({ component: 'mqtt' }),
      now,
    });
    const twinPush = new MqttTwinDesiredPush(mqtt, services.twins, bus, logger.child({ component: 'mqtt' }));
    subscribedHooks.push((identity, filters) => twinPush.subscribed(identity, filters));
    const commandDownlink = mqttCommandDownlink({ gateway: mqtt, commands: services.commands, bus, logger: logger.child({ component: 'mqtt-commands' }) });
    subscribedHooks.push(commandDownlink.subscribed);
    const otaPush = new MqttOtaOfferPush(mqtt, otaDevicePort, bus, logger.child({ component: 'mqtt-ota' }));
    subscribedHooks.push((identity, filters) => otaPush.subscribed(identity, filters));
    const coap = new CoapDeviceEndpoint({ authenticator, telemetry: services.telemetry, presence: services.presence, bus, logger: logger.child({ component: 'coap' }), twinReader: services.twins, uplink: twinUplink(services.twins), logs: services.logs, commands: commandReader(services.commands), firmware: downloads, ota: otaDevicePort });
    const coapListeners = new CoapListeners({ authenticator, liveSessions, serverTls, logger, timing: options.coapTiming, dtlsLimits: options.dtlsLimits });
    const lwm2m = createLwm2mEndpoint({ services: services.lwm2m, link: lwm2mLink, requester: coapListeners.requester, logger: logger.child({ component: 'lwm2m' }) });
    coapListeners.setRoutes(routeByFirstSegment({ device: coap.handle, ...lwm2m.handlers }));
    const fwOptions = options.lwm2mFirmware ?? {};
    const lwm2mFirmware = new FirmwareUpdateBridge({
      stores,
      ota: otaDevicePort,
      link: lwm2mLink,
      registrations: services.lwm2m.registrations,
      models: services.lwm2m.models,
      mapping: services.lwm2m.mapping,
      packages: new InstallationFirmwarePackages({ coapHost: fwOptions.host, httpBaseUrl: fwOptions.httpBaseUrl, maxPushBytes: fwOptions.maxPushBytes, downloads, ports: () => ({ coap: coapListeners.plain.port, coaps: coapListeners.secure.port }) }),
      delivery: fwOptions.delivery,
      logger: logger.child({ component: 'lwm2m-firmware' }),
      now,
    });
    metrics.watchFleet({
      fleet: () => stores.fleetGauges.read(),
      mqttConnections: () => mqtt.stats().connections,
      coapObservations: () => coap.observerCount,
      onError: (err) => logger.warn({ err }, 'metrics: the fleet gauges could not be read'),
    });
    const sessionSweep = setInterval(() => {
      services.tenancy.purgeExpiredSessions().catch((err: unknown) => logger.warn({ err }, 'session sweep failed'));
      services.enrollment.purgeNonces().catch((err: unknown) => logger.warn({ err }, 'nonce sweep failed'));
    }, 60 * 60 * 1000);
    sessionSweep.unref();
    services.telemetry.start();
    services.logs.start();
    services.commands.start();
    services.jobs.start();
    await services.deltas.start();
    services.ota.start(bus);
    rolloutEngine.start();
    const alertEvaluator = new AlertEvaluator(stores, bus, logger.child({ component: 'alerts' }), now, options.alerts);
    services.alerts.onRuleChange(alertEvaluator);
    alertEvaluator.start();
    await webhookRuntime.start();
    const configurationReconciler = new ConfigurationReconciler(stores, bus, services.twins, logger.child({ component: 'configurations' }), now, options.configurations);
    services.configurations.onChange(configurationReconciler);
    await configurationReconciler.start();
    // After the subscribers above: the periods a previous run left open end with events they should see.
    await services.presence.start();
    services.lwm2m.start();
    lwm2mFirmware.start(bus);
    return {
      services,
      stores,
      store,
      http,
      bus,
      logger,
      bootstrap,
      alertEvaluator,
      authenticator,
      get serverTls() {
        return serverTls;
      },
      async reloadServerTls() {
        const next = await loadOrCreateServerTls(tlsOptions);
        if (next.certificatePem === serverTls.certificatePem && next.privateKeyPem === serverTls.privateKeyPem) return undefined;
        serverTls = next;
        coapListeners.setCertificate(next);
        return next;
      },
      mqtt,
      coap,
      coapListeners,
      lwm2m,
      lwm2mLink,
      liveSessions,
      configurationReconciler,
      artifacts,
      downloadLinks,
      rolloutEngine,
      lwm2mFirmware,
      async close() {
        clearInterval(sessionSweep);
        await lwm2mFirmware.stop();
        // Devices first: their last messages are still acknowledged (telemetry is flushed below)
        // and their sessions end in presence before it stops.
        await coapListeners.close();
        await coap.close();
        await lwm2m.close();
        await mqtt.close();
        twinPush.stop();
        await twinPush.drain();
        commandDownlink.stop();
        otaPush.stop();
        await otaPush.drain();
        liveSessions.stop();
        // Live streams end (an open SSE response would hold Fastify's close); the event log and
        // the webhook outbox keep listening: what the steps below publish is still delivered.
        services.events.close();
        // Fastify stops accepting and waits for in-flight requests (and their writes) first.
        // Connections that never sent a request are not idle to Node and would hold the close
        // for its headers timeout (a minute): past a grace period every connection is cut.
        const cut = setTimeout(() => http.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        await http.close();
        clearTimeout(cut);
        // Readings already accepted are committed (and their senders acknowledged) before the store closes.
        await services.telemetry.close();
        // Queued presence changes and the last lastSeen values are written; this node's periods end.
        await services.presence.stop();
        await services.jobs.stop();
        // A delta build under way finishes (or is found `building` and redone at the next start).
        await services.deltas.stop();
        await rolloutEngine.stop();
        await services.ota.stop();
        await services.commands.stop();
        // Evaluations under way finish (and publish) before the store goes away.
        await alertEvaluator.stop();
        // Twin writes under way finish before the store goes away.
        await configurationReconciler.stop();
        await services.logs.close();
        // The last events (disconnects above) reach the timeline before the store closes.
        await new Promise((resolve) => setImmediate(resolve));
        await services.timeline.close();
        // Let the events just published reach the outbox, then write it and give leases back.
        await new Promise((resolve) => setImmediate(resolve));
        await webhookRuntime.stop();
        stopEventLog();
        await store.close();
      },
    };
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
}
