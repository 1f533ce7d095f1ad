import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { registerApiKeyCommands } from './commands/api-key.js';
import { registerCaCommands } from './commands/ca.js';
import { registerDeviceIdentityCommands } from './commands/credentials.js';
import { registerDeviceCommands } from './commands/device.js';
import { registerEnrollmentGroupCommands } from './commands/enrollment-group.js';
import { registerQueryCommand } from './commands/query.js';
import { registerDeviceEventsCommand, registerLogCommands } from './commands/logs.js';
import { registerUserCommands } from './commands/user.js';
import { registerTwinCommands } from './commands/twin.js';
import { registerConfigCommands } from './commands/config.js';
import { registerCommandCommands } from './commands/command.js';
import { registerJobCommands } from './commands/job.js';
import { registerRolloutCommands } from './commands/rollout.js';
import { registerFirmwareCommands } from './commands/firmware.js';
import { OptionError, resolveServeOptions } from './serve-options.js';

/** @hangar/server's version; package.json is two levels up from both src/cli/ and dist/cli/. */
export const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export function buildProgram(): Command {
  const program = new Command('hangar')
    .description('Hangar — self-hosted IoT device management')
    .version(VERSION, '-v, --version', 'print the version')
    .showHelpAfterError(false);
  program
    .command('serve')
    .description('run the Hangar server (dashboard, REST API, device endpoints)')
    .addOption(new Option('--data-dir <dir>', 'where SQLite, artifacts and keys live [env HANGAR_DATA_DIR] (default ./data)'))
    .addOption(new Option('--http-port <port>', 'HTTP port, 0 = any free port, off = disabled [env HANGAR_HTTP_PORT] (default 8080)'))
    .addOption(new Option('--https-port <port>', 'HTTPS port [env HANGAR_HTTPS_PORT] (default 8443)'))
    .addOption(new Option('--mqtt-port <port>', 'MQTT port [env HANGAR_MQTT_PORT] (default 1883)'))
    .addOption(new Option('--mqtts-port <port>', 'MQTT over TLS port [env HANGAR_MQTTS_PORT] (default 8883)'))
    .addOption(new Option('--coap-port <port>', 'CoAP/LwM2M UDP port [env HANGAR_COAP_PORT] (default 5683)'))
    .addOption(new Option('--coaps-port <port>', 'CoAP/LwM2M over DTLS 1.2 UDP port [env HANGAR_COAPS_PORT] (default 5684)'))
    .addOption(new Option('--database-url <url>', 'postgres:// URL; default SQLite in the data dir [env HANGAR_DATABASE_URL]'))
    .addOption(new Option('--redis-url <url>', 'redis:// URL for scale-out [env HANGAR_REDIS_URL]'))
    .addOption(new Option('--node-id <id>', 'this node’s name in a cluster [env HANGAR_NODE_ID]'))
    .addOption(new Option('--tls-cert <file>', 'TLS certificate for HTTPS/MQTTS [env HANGAR_TLS_CERT]'))
    .addOption(new Option('--tls-key <file>', 'TLS private key [env HANGAR_TLS_KEY]'))
    .addOption(new Option('--host <addr>', 'address to bind [env HANGAR_HOST] (default 0.0.0.0)'))
    .addOption(new Option('--metrics-token <token>', 'scrape token for /metrics, besides API keys (16+ characters) [env HANGAR_METRICS_TOKEN]'))
    .addOption(new Option('--metrics-public', 'serve /metrics without a token [env HANGAR_METRICS_PUBLIC=true]'))
    .addOption(new Option('--twin-max-bytes <n>', 'largest desired and reported twin, each, in bytes of JSON [env HANGAR_TWIN_MAX_BYTES] (default 32768)'))
    .addOption(new Option('--artifact-store <kind>', 'where firmware images live: file or postgres (large objects; needs --database-url) [env HANGAR_ARTIFACT_STORE] (default file)'))
    .addOption(new Option('--artifact-dir <dir>', 'directory of the file artifact store, e.g. one shared by several nodes [env HANGAR_ARTIFACT_DIR] (default <data-dir>/artifacts)'))
    .addOption(new Option('--firmware-max-bytes <n>', 'largest firmware image accepted, in bytes [env HANGAR_FIRMWARE_MAX_BYTES] (default 2147483648)'))
    .addOption(new Option('--dtls-max-sessions <n>', 'DTLS sessions the coaps listener keeps [env HANGAR_DTLS_MAX_SESSIONS] (default 100000)'))
    .addOption(new Option('--dtls-sessions-per-address <n>', 'DTLS sessions from one source address, e.g. a carrier NAT [env HANGAR_DTLS_SESSIONS_PER_ADDRESS] (default 10000)'))
    .addOption(new Option('--lwm2m-firmware-host <host>', 'host LwM2M devices reach the CoAP ports at: they pull firmware from coap(s)://host:port (else Hangar pushes it) [env HANGAR_LWM2M_FIRMWARE_HOST]'))
    .addOption(new Option('--lwm2m-firmware-url <url>', 'LwM2M devices pull firmware over HTTP(S) from this base URL instead [env HANGAR_LWM2M_FIRMWARE_URL]'))
    .addOption(new Option('--lwm2m-firmware-delivery <mode>', 'auto, pull or push [env HANGAR_LWM2M_FIRMWARE_DELIVERY] (default auto)'))
    .addOption(new Option('--telemetry-rate-limit <n>', 'telemetry messages per second per device (burst 2n), off = none; tenants may set their own [env HANGAR_TELEMETRY_RATE_LIMIT] (default 100)'))
    .action(async (flags: Record<string, string>) => {
      const options = resolveServeOptions(flags, process.env);
      // Loaded only here: client commands start in a fraction of the time without the server stack.
      // Handlers go in before the listeners are bound: a SIGTERM that arrives right after the
      // `listening` line (an orchestrator, a test) would otherwise kill the process unflushed.
      const running: { stop?: () => Promise<void>; reloadTls?: () => Promise<boolean> } = {};
      let signalled = false;
      const stopAndExit = (s: () => Promise<void>): void => {
        s().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      const onSignal = (): void => {
        signalled = true;
        if (running.stop) stopAndExit(running.stop);
      };
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
      // SIGHUP reads the TLS certificate again (rotated files), as daemons conventionally do;
      // one that arrives while starting is ignored rather than ending the process.
      process.on('SIGHUP', () => void running.reloadTls?.());
      const { serve } = await import('./serve.js');
      const serving = await serve(options);
      running.stop = serving.stop;
      running.reloadTls = serving.reloadTls;
      if (signalled) stopAndExit(running.stop);
    });
  registerDeviceIdentityCommands(registerDeviceCommands(program));
  registerEnrollmentGroupCommands(program);
  registerCaCommands(program);
  registerQueryCommand(program);
  registerApiKeyCommands(program);
  registerUserCommands(program);
  registerTwinCommands(program);
  registerConfigCommands(program);
  registerLogCommands(program);
  registerDeviceEventsCommand(program.commands.find((c) => c.name() === 'device')!);
  registerCommandCommands(program);
  registerJobCommands(program);
  registerRolloutCommands(program);
  registerFirmwareCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    const message = err instanceof OptionError ? err.message : err instanceof Error ? err.message : String(err);
    process.stderr.write(`error: ${message}\n`);
    process.exitCode = process.exitCode && process.exitCode !== 0 ? process.exitCode : 1;
  }
}

await main(process.argv);
