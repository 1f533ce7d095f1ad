/**
 * `hangar-agent` itself: flags (each also from env `HANGAR_AGENT_<FLAG>`) → a device agent that
 * runs until SIGINT/SIGTERM. Every bad flag is one line naming it.
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { isValidDeviceId } from '@hangar/protocol';
import type { DeviceAgentConfig } from './agent/device-agent.js';
import { readFirmwareVersion } from './agent/device-agent.js';
import { readPinnedKeys } from './agent/ota/verifier.js';

export class AgentUsageError extends Error {}

type Flags = Partial<Record<string, string | boolean>>;

const FLAGS: [flag: string, help: string][] = [
  ['--server <url>', 'MQTT server: mqtt://host:port or mqtts://host:port'],
  ['--device-id <id>', 'this device’s id'],
  ['--token <token>', 'device token (MQTT password, HTTP Basic)'],
  ['--cert <file>', 'client certificate (PEM); with --key'],
  ['--key <file>', 'private key of --cert (PEM)'],
  ['--ca <file>', 'CA of the server’s TLS certificate (Hangar: GET /pki/server-ca.pem)'],
  ['--state-dir <dir>', 'where the credential and the telemetry buffer are kept (default /var/lib/hangar-agent)'],
  ['--http-url <url>', 'Hangar’s HTTP(S) URL: fallback when MQTT is blocked, and HTTP enrollment'],
  ['--enroll-group <id>', 'enrollment group to enroll through on first start'],
  ['--enroll-secret <secret>', 'that group’s claim token'],
  ['--commands-dir <dir>', 'executables here run as commands of their name'],
  ['--desired-dir <dir>', 'executables here apply the desired property of their name (value as JSON on stdin)'],
  ['--metrics-interval <s>', 'seconds between system metrics readings (default 60; 0 = off)'],
  ['--firmware-version <v>', 'firmware version to report, or @FILE / an absolute path to read it from'],
  ['--reboot-command <cmd>', 'shell command the reboot command runs (default: not configured)'],
  ['--factory-reset-command <cmd>', 'shell command the factory-reset command runs (default: not configured)'],
  ['--connect-timeout <s>', 'seconds before one MQTT connection attempt gives up (default 10)'],
  ['--max-buffered <n>', 'telemetry records kept offline at most; the oldest are dropped (default 100000)'],
  ['--self-test <cmd>', 'OTA: shell command run on the trial boot of a new firmware slot; exit 0 commits it, anything else rolls back'],
  ['--self-test-timeout <s>', 'OTA: seconds the self-test may take (default 120)'],
  ['--install-cmd <cmd>', 'OTA: shell command that installs a verified image: $1 = the image, $2 = the slot dir'],
  ['--firmware-keys <file>', 'OTA: PEM file of the firmware signing public keys to trust (pins them: no key is taken from the server)'],
  ['--no-reexec', 'OTA: after an install, exit with code 75 for a supervisor to restart the agent instead of re-executing itself'],
];

export function addAgentOptions(program: Command): Command {
  for (const [flag, help] of FLAGS) {
    const name = flag.split(' ')[0]!.slice(2);
    program.addOption(new Option(flag, help).env(`HANGAR_AGENT_${name.toUpperCase().replace(/-/g, '_')}`));
  }
  return program;
}

export function planAgent(flags: Flags, agentVersion: string): DeviceAgentConfig {
  const str = (name: string): string | undefined => (typeof flags[name] === 'string' && flags[name] !== '' ? (flags[name] as string) : undefined);
  const read = (flag: string, file: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new AgentUsageError(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  const server = str('server');
  if (!server) throw new AgentUsageError('--server mqtt://host:port (or mqtts://) is required');
  if (!/^mqtts?:\/\/[^/:]+(:\d+)?\/?$/.test(server)) throw new AgentUsageError(`--server must be mqtt://host:port or mqtts://host:port, not "${server}"`);
  const deviceId = str('deviceId');
  if (!deviceId) throw new AgentUsageError('--device-id ID is required');
  if (!isValidDeviceId(deviceId)) throw new AgentUsageError(`--device-id "${deviceId}" is not a valid device id`);
  const token = str('token');
  const cert = str('cert');
  const key = str('key');
  if (token && (cert || key)) throw new AgentUsageError('--token and --cert/--key exclude each other: pick one');
  if ((cert && !key) || (key && !cert)) throw new AgentUsageError('--cert and --key go together');
  const group = str('enrollGroup');
  const secret = str('enrollSecret');
  if ((group && !secret) || (secret && !group)) throw new AgentUsageError('--enroll-group and --enroll-secret go together');
  const httpUrl = str('httpUrl');
  if (httpUrl !== undefined) {
    let ok: boolean;
    try {
      ok = ['http:', 'https:'].includes(new URL(httpUrl).protocol);
    } catch {
      ok = false;
    }
    if (!ok) throw new AgentUsageError(`--http-url must be an http:// or https:// URL, not "${httpUrl}"`);
  }
  const ca = str('ca');
  const intervalRaw = str('metricsInterval') ?? '60';
  const metricsIntervalSec = Number(intervalRaw);
  if (!Number.isFinite(metricsIntervalSec) || metricsIntervalSec < 0 || intervalRaw.trim() === '') throw new AgentUsageError(`--metrics-interval must be a number of seconds ≥ 0, not "${intervalRaw}"`);
  const timeoutRaw = str('connectTimeout');
  const connectTimeoutSec = timeoutRaw === undefined ? undefined : Number(timeoutRaw);
  if (connectTimeoutSec !== undefined && (!Number.isFinite(connectTimeoutSec) || connectTimeoutSec <= 0)) throw new AgentUsageError(`--connect-timeout must be a positive number of seconds, not "${timeoutRaw}"`);
  const maxRaw = str('maxBuffered');
  const maxBufferedRecords = maxRaw === undefined ? undefined : Number(maxRaw);
  if (maxBufferedRecords !== undefined && (!Number.isInteger(maxBufferedRecords) || maxBufferedRecords < 1)) throw new AgentUsageError(`--max-buffered must be a whole number ≥ 1, not "${maxRaw}"`);
  let firmwareVersion: string | undefined;
  try {
    firmwareVersion = readFirmwareVersion(str('firmwareVersion'));
  } catch (err) {
    throw new AgentUsageError((err as Error).message);
  }
  const selfTestRaw = str('selfTestTimeout');
  const selfTestTimeoutSec = selfTestRaw === undefined ? undefined : Number(selfTestRaw);
  if (selfTestTimeoutSec !== undefined && (!Number.isFinite(selfTestTimeoutSec) || selfTestTimeoutSec <= 0)) throw new AgentUsageError(`--self-test-timeout must be a positive number of seconds, not "${selfTestRaw}"`);
  const keysFile = str('firmwareKeys');
  let pinnedFirmwareKeys;
  if (keysFile) {
    read('--firmware-keys', keysFile);
    try {
      pinnedFirmwareKeys = readPinnedKeys(keysFile);
    } catch (err) {
      throw new AgentUsageError(`--firmware-keys: ${(err as Error).message}`);
    }
  }
  const config: DeviceAgentConfig = {
    server,
    deviceId,
    stateDir: str('stateDir') ?? '/var/lib/hangar-agent',
    metricsIntervalSec,
    agentVersion,
  };
  if (token) config.credential = { kind: 'token', token };
  if (cert && key) config.credential = { kind: 'x509', certPem: read('--cert', cert), keyPem: read('--key', key) };
  if (ca) config.caPem = read('--ca', ca);
  if (httpUrl) config.httpUrl = httpUrl;
  if (group && secret) config.enroll = { groupId: group, secret };
  const commandsDir = str('commandsDir');
  if (commandsDir) config.commandsDir = commandsDir;
  const desiredDir = str('desiredDir');
  if (desiredDir) config.desiredDir = desiredDir;
  if (firmwareVersion !== undefined) config.firmwareVersion = firmwareVersion;
  const reboot = str('rebootCommand');
  if (reboot) config.rebootCommand = reboot;
  const reset = str('factoryResetCommand');
  if (reset) config.factoryResetCommand = reset;
  if (maxBufferedRecords !== undefined) config.maxBufferedRecords = maxBufferedRecords;
  if (connectTimeoutSec !== undefined) config.connectTimeoutMs = connectTimeoutSec * 1000;
  const selfTest = str('selfTest');
  if (selfTest) config.selfTestCmd = selfTest;
  if (selfTestTimeoutSec !== undefined) config.selfTestTimeoutMs = selfTestTimeoutSec * 1000;
  const installCmd = str('installCmd');
  if (installCmd) config.installCmd = installCmd;
  if (pinnedFirmwareKeys) config.pinnedFirmwareKeys = pinnedFirmwareKeys;
  // Commander turns `--no-reexec` into `reexec: false`; the environment variable into any non-empty value.
  config.restartMode = flags.reexec === false || (typeof flags.reexec === 'string' && flags.reexec !== '') ? 'exit' : 'reexec';
  return config;
}

/** Runs the agent until SIGINT or SIGTERM, then disconnects cleanly. */
export async function runAgent(config: DeviceAgentConfig): Promise<void> {
  const { startDeviceAgent } = await import('./agent/device-agent.js');
  const running = await startDeviceAgent(config);
  await new Promise<void>((resolve) => {
    const onSignal = (): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  running.agent.log.info('stopping');
  await running.stop();
}
