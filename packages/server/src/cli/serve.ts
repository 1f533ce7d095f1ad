import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo, Server } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import pino from 'pino';
import { clientErrorHandler } from '../api/problem.js';
import { createHangar, type Hangar } from '../app.js';
import { startMqttListener, type MqttListener } from '../transports/mqtt/listeners.js';
import { PORT_FLAGS, type ServeOptions } from './serve-options.js';

export interface Endpoints {
  event: 'listening';
  http?: number;
  https?: number;
  mqtt?: number;
  mqtts?: number;
  coap?: number;
  coaps?: number;
}

/**
 * Starts Hangar and binds its listeners: HTTP and HTTPS (one Fastify app), MQTT and MQTTS (one
 * gateway), CoAP over UDP and over DTLS (one router each: /device, LwM2M). A disabled listener is absent from the endpoints.
 */
const TLS_RELOAD_INTERVAL_MS = 12 * 60 * 60 * 1000;

export interface Serving {
  hangar: Hangar;
  endpoints: Endpoints;
  stop: () => Promise<void>;
  /** Loads the TLS certificate again now (SIGHUP); true when the listeners switched to a new one. */
  reloadTls: () => Promise<boolean>;
}

export async function serve(options: ServeOptions, out: NodeJS.WritableStream = process.stdout): Promise<Serving> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const logger = pino({ level: process.env.HANGAR_LOG_LEVEL ?? 'info', base: { node: options.nodeId ?? undefined } }, pino.destination(2));
  const hangar = await createHangar({
    dataDir,
    databaseUrl: options.databaseUrl,
    adminToken: process.env.HANGAR_ADMIN_TOKEN || undefined,
    logger,
    nodeId: options.nodeId,
    tls: { certFile: options.tlsCert, keyFile: options.tlsKey, hostnames: (process.env.HANGAR_TLS_HOSTNAMES ?? '').split(',') },
    metrics: { public: options.metricsPublic, token: options.metricsToken },
    ...(options.telemetryRateLimit !== undefined ? { telemetry: { rateLimit: options.telemetryRateLimit } } : {}),
    twinMaxBytes: options.twinMaxBytes,
    firmware: { artifactStore: options.artifactStore, artifactDir: options.artifactDir === undefined ? undefined : resolve(options.artifactDir), maxBytes: options.firmwareMaxBytes },
    dtlsLimits: dtlsLimitsOf(options),
    lwm2mFirmware: { host: options.lwm2mFirmwareHost, httpBaseUrl: options.lwm2mFirmwareUrl, delivery: options.lwm2mFirmwareDelivery },
  });
  if (hangar.bootstrap.generatedAdminToken) {
    // Shown exactly once; only its hash is stored.
    process.stderr.write(
      `\nHangar created the admin API key of the "default" tenant. Keep it now — it is not shown again:\n\n    ${hangar.bootstrap.generatedAdminToken}\n\n`,
    );
  }
  const endpoints: Endpoints = { event: 'listening' };
  const extraServers: Server[] = [];
  /** The HTTPS and MQTTS servers: they switch to a reloaded certificate for new handshakes. */
  const tlsServers: Array<Pick<TlsServer, 'setSecureContext'>> = [];
  const mqttListeners: MqttListener[] = [];
  /**
   * A running server renews its certificate without a restart: twice a day (a generated one
   * when it nears expiry) and on SIGHUP (an operator who replaced --tls-cert/--tls-key). New
   * TLS handshakes get the new certificate; connections already open keep theirs.
   */
  const reloadTls = async (): Promise<boolean> => {
    let next;
    try {
      next = await hangar.reloadServerTls();
    } catch (err) {
      // A half-written or wrong file must not take the listeners down: they keep the old one.
      logger.error({ err }, 'TLS certificate reload failed; the listeners keep the current certificate');
      return false;
    }
    if (!next) return false;
    for (const srv of tlsServers) srv.setSecureContext({ key: next.privateKeyPem, cert: next.certificatePem });
    logger.info({ validTo: new X509Certificate(next.certificatePem).validTo, source: next.source }, 'TLS certificate reloaded');
    return true;
  };
  const tlsTimer = setInterval(() => void reloadTls(), TLS_RELOAD_INTERVAL_MS);
  tlsTimer.unref();
  /**
   * Stops accepting everywhere, then lets Hangar end what is open: the gateway and the CoAP
   * endpoint end device sessions, Fastify drains requests. A listener's close only completes
   * once its connections are gone, so it is awaited last, not first (a connected device
   * would otherwise hold the shutdown forever).
   */
  const shutdown = async (): Promise<void> => {
    clearInterval(tlsTimer);
    for (const l of mqttListeners) l.stopAccepting();
    const httpsClosed = extraServers.map((srv) => new Promise<void>((res) => srv.close(() => res())));
    for (const srv of extraServers) (srv as HttpsServer).closeIdleConnections?.();
    await hangar.close();
    for (const srv of extraServers) (srv as HttpsServer).closeAllConnections?.();
    await Promise.all([...mqttListeners.map((l) => l.close()), ...httpsClosed]);
  };
  /**
   * A device listener on a port nobody chose that another program holds (a local MQTT broker
   * on 1883, typically) is left off with a warning, so that `npm start` still serves the
   * dashboard and the other endpoints; a port the operator chose must bind or fail.
   */
  const listenOrSkip = async (listen: () => Promise<unknown>, port: number, key: keyof typeof PORT_FLAGS): Promise<boolean> => {
    const flag = PORT_FLAGS[key].flag;
    try {
      await listenOrExplain(listen, port, flag);
      return true;
    } catch (err) {
      const inUse = (err as { cause?: NodeJS.ErrnoException }).cause?.code === 'EADDRINUSE';
      if (!inUse || !options.defaultedPorts.has(key)) throw err;
      process.stderr.write(`warning: port ${port}, the default of ${flag}, is in use by another program: that listener is off. Choose a port with ${flag} (0 picks a free one).\n`);
      logger.warn({ port, flag }, 'default port in use; listener off');
      return false;
    }
  };
  try {
    if (options.httpPort !== 'off') {
      await listenOrExplain(() => hangar.http.listen({ port: options.httpPort as number, host: options.host }), options.httpPort, '--http-port');
      endpoints.http = (hangar.http.server.address() as AddressInfo).port;
    }
    if (options.httpsPort !== 'off') {
      await hangar.http.ready();
      // One Fastify app serves both ports: the HTTPS server hands every request to its router.
      // Client certificates are requested but checked by the device authenticator, not by
      // OpenSSL: the set of trusted device CAs changes at run time.
      // requestTimeout 0 as on Fastify's own HTTP server: a 2 GiB firmware upload outlasts Node's default 5 minutes (headersTimeout still guards against slow headers).
      const https = createHttpsServer({ key: hangar.serverTls.privateKeyPem, cert: hangar.serverTls.certificatePem, requestCert: true, rejectUnauthorized: false, requestTimeout: 0 }, (req, res) => hangar.http.routing(req, res));
      // Requests the parser refuses get the same problem document as on the HTTP port.
      https.on('clientError', clientErrorHandler);
      extraServers.push(https);
      tlsServers.push(https);
      if (await listenOrSkip(() => listenServer(https, options.httpsPort as number, options.host), options.httpsPort, 'httpsPort')) endpoints.https = (https.address() as AddressInfo).port;
    }
    if (options.mqttPort !== 'off') {
      const port = options.mqttPort;
      await listenOrSkip(async () => {
        const listener = await startMqttListener(hangar.mqtt, { port, host: options.host });
        mqttListeners.push(listener);
        endpoints.mqtt = listener.port;
      }, port, 'mqttPort');
    }
    if (options.mqttsPort !== 'off') {
      const port = options.mqttsPort;
      const tls = { key: hangar.serverTls.privateKeyPem, cert: hangar.serverTls.certificatePem };
      await listenOrSkip(async () => {
        const listener = await startMqttListener(hangar.mqtt, { port, host: options.host, tls });
        mqttListeners.push(listener);
        tlsServers.push(listener.server as TlsServer);
        endpoints.mqtts = listener.port;
      }, port, 'mqttsPort');
    }
    if (options.coapPort !== 'off') {
      const port = options.coapPort;
      await listenOrSkip(async () => (endpoints.coap = await hangar.coapListeners.plain.listen(port, options.host)), port, 'coapPort');
    }
    if (options.coapsPort !== 'off') {
      const port = options.coapsPort;
      await listenOrSkip(async () => (endpoints.coaps = await hangar.coapListeners.secure.listen(port, options.host)), port, 'coapsPort');
    }
  } catch (err) {
    await shutdown();
    throw err;
  }
  const file = join(dataDir, 'endpoints.json');
  writeFileSync(`${file}.tmp`, JSON.stringify(endpoints) + '\n');
  renameSync(`${file}.tmp`, file);
  out.write(JSON.stringify(endpoints) + '\n');
  logger.info({ endpoints, store: hangar.store.location }, 'Hangar is serving');

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= shutdown().then(() => logger.info('stopped')));
  return { hangar, endpoints, stop, reloadTls };
}

function listenServer(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
}

async function listenOrExplain(listen: () => Promise<unknown>, port: number | 'off', flag: string): Promise<void> {
  try {
    await listen();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new Error(`port ${port} is already in use: choose another with ${flag} (0 picks a free one, "off" disables it)`, { cause: err });
    if (code === 'EACCES') throw new Error(`no permission to bind port ${port}: choose another with ${flag}`, { cause: err });
    throw err;
  }
}

/** Handshakes in progress per address follow the sessions allowed per address (one in 16 at once, at least 16). */
function dtlsLimitsOf(options: ServeOptions): { maxSessions?: number; maxSessionsPerAddress?: number; maxHandshakesPerAddress?: number } {
  const perAddress = options.dtlsSessionsPerAddress;
  return {
    ...(options.dtlsMaxSessions !== undefined ? { maxSessions: options.dtlsMaxSessions } : {}),
    ...(perAddress !== undefined ? { maxSessionsPerAddress: perAddress, maxHandshakesPerAddress: Math.max(16, Math.ceil(perAddress / 16)) } : {}),
  };
}
