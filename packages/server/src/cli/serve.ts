import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createHangar, type Hangar } from '../app.js';
import type { ServeOptions } from './serve-options.js';

export interface Endpoints {
  event: 'listening';
  http?: number;
  https?: number;
  mqtt?: number;
  mqtts?: number;
  coap?: number;
}

/**
 * Starts Hangar and its listeners. Listeners that later issues build (HTTPS, MQTT, MQTTS,
 * CoAP) accept their flags already and are absent from the endpoints until they exist.
 */
export async function serve(options: ServeOptions, out: NodeJS.WritableStream = process.stdout): Promise<{ hangar: Hangar; endpoints: Endpoints; stop: () => Promise<void> }> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const logger = pino({ level: process.env.HANGAR_LOG_LEVEL ?? 'info', base: { node: options.nodeId ?? undefined } }, pino.destination(2));
  const hangar = await createHangar({ dataDir, databaseUrl: options.databaseUrl, adminToken: process.env.HANGAR_ADMIN_TOKEN || undefined, logger });
  if (hangar.bootstrap.generatedAdminToken) {
    // Shown exactly once; only its hash is stored.
    process.stderr.write(
      `\nHangar created the admin API key of the "default" tenant. Keep it now — it is not shown again:\n\n    ${hangar.bootstrap.generatedAdminToken}\n\n`,
    );
  }
  const endpoints: Endpoints = { event: 'listening' };
  try {
    if (options.httpPort !== 'off') {
      await listenOrExplain(hangar, options.httpPort, options.host, '--http-port');
      endpoints.http = (hangar.http.server.address() as AddressInfo).port;
    }
  } catch (err) {
    await hangar.close();
    throw err;
  }
  for (const [flag, value] of [['--https-port', options.httpsPort], ['--mqtt-port', options.mqttPort], ['--mqtts-port', options.mqttsPort], ['--coap-port', options.coapPort]] as const) {
    if (value !== 'off') logger.debug({ flag }, 'listener not built yet; accepted and ignored');
  }
  const file = join(dataDir, 'endpoints.json');
  writeFileSync(`${file}.tmp`, JSON.stringify(endpoints) + '\n');
  renameSync(`${file}.tmp`, file);
  out.write(JSON.stringify(endpoints) + '\n');
  logger.info({ endpoints, store: hangar.store.location }, 'Hangar is serving');

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= hangar.close().then(() => logger.info('stopped')));
  return { hangar, endpoints, stop };
}

async function listenOrExplain(hangar: Hangar, port: number, host: string, flag: string): Promise<void> {
  try {
    await hangar.http.listen({ port, host });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new Error(`port ${port} is already in use: choose another with ${flag} (0 picks a free one, "off" disables it)`, { cause: err });
    if (code === 'EACCES') throw new Error(`no permission to bind port ${port}: choose another with ${flag}`, { cause: err });
    throw err;
  }
}
