/**
 * `hangar-agent simulate`: flags → simulator options and a credential source, then the run.
 * Progress goes to stderr once a second, the summary as one JSON document to stdout.
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { FailureInjection, OtaInjection, PublishMode, SimulateOptions } from './simulator/index.js';
import { NO_OTA_FAILURES } from './simulator/virtual-agents.js';

export class UsageError extends Error {}

export type CredentialSource =
  | { kind: 'file'; file: string }
  | { kind: 'provision'; api: string; apiToken: string; prefix: string; deviceType: string }
  | { kind: 'enroll'; api: string; enrollmentGroupId: string; claimToken: string; prefix: string }
  | { kind: 'anonymous'; prefix: string };

export interface SimulatePlan {
  devices: number;
  source: CredentialSource;
  saveCredentials?: string;
  /** Ask this Hangar's REST API at the end whether it saw the devices (no token: say it was not checked). */
  check?: { api: string; apiToken?: string };
  options: Omit<SimulateOptions, 'credentials' | 'signal' | 'onProgress' | 'onConnected'>;
  /** `--agents`: virtual agents running the agent library (twin, commands) instead of telemetry-only devices. */
  agents?: { httpUrl?: string; telemetryIntervalSec: number; failures: FailureInjection; firmwareVersion?: string };
}

export type SimulateFlags = Partial<Record<string, string | boolean>>;

/** Validates the flags together (each problem named by its flag); env supplies HANGAR_URL / HANGAR_TOKEN. */
export function planSimulation(flags: SimulateFlags, env: NodeJS.ProcessEnv = {}): SimulatePlan {
  const str = (name: string): string | undefined => (typeof flags[name] === 'string' ? (flags[name] as string) : undefined);
  const num = (name: string, flag: string, fallback: number, check: (n: number) => boolean, what: string): number => {
    const raw = str(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (raw.trim() === '' || !check(n)) throw new UsageError(`${flag} must be ${what}, not "${raw}"`);
    return n;
  };
  const whole = (min: number) => (n: number) => Number.isInteger(n) && n >= min;
  const positive = (n: number): boolean => Number.isFinite(n) && n > 0;

  const devices = num('devices', '--devices', NaN, whole(1), 'a whole number ≥ 1');
  if (Number.isNaN(devices)) throw new UsageError('--devices N is required');
  const server = str('server');
  if (!server) throw new UsageError('--server mqtt://host:port (or mqtts://) is required');
  if (!/^mqtts?:\/\/[^/:]+(:\d+)?\/?$/.test(server)) throw new UsageError(`--server must be mqtt://host:port or mqtts://host:port, not "${server}"`);

  if (str('rate') !== undefined && flags.max) throw new UsageError('--rate and --max exclude each other: pick one');
  const inflightDefault = flags.max ? 1 : 100;
  const inflight = num('inflight', '--inflight', inflightDefault, whole(1), 'a whole number ≥ 1');
  const mode: PublishMode = flags.max ? { kind: 'max', inflight } : { kind: 'rate', perSecond: num('rate', '--rate', 1, positive, 'a positive number of messages per second per device'), inflight };

  const qosRaw = str('qos') ?? '1';
  if (qosRaw !== '0' && qosRaw !== '1') throw new UsageError(`--qos must be 0 or 1, not "${qosRaw}"`);
  const version = str('mqttVersion') ?? '3.1.1';
  if (version !== '3.1.1' && version !== '5') throw new UsageError(`--mqtt-version must be 3.1.1 or 5, not "${version}"`);
  const durationRaw = str('duration');
  const durationSec = durationRaw === undefined ? Infinity : num('duration', '--duration', 0, (n) => Number.isFinite(n) && n >= 0, 'a number of seconds ≥ 0');
  const caFile = str('ca');
  let caPem: string | undefined;
  if (caFile) {
    try {
      caPem = readFileSync(caFile, 'utf8');
    } catch (err) {
      throw new UsageError(`--ca: cannot read ${caFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  if (caFile && !server.startsWith('mqtts://')) throw new UsageError('--ca applies to mqtts:// servers only');

  const options: SimulatePlan['options'] = {
    server,
    mode,
    qos: Number(qosRaw) as 0 | 1,
    mqttVersion: version,
    durationSec,
    payloadKeys: num('payloadKeys', '--payload-keys', 2, (n) => whole(1)(n) && n <= 1000, 'a whole number from 1 to 1000'),
    connectRate: num('connectRate', '--connect-rate', 500, positive, 'a positive number of connections per second'),
    connectConcurrency: num('connectConcurrency', '--connect-concurrency', 100, whole(1), 'a whole number ≥ 1'),
    connectTimeoutMs: num('connectTimeout', '--connect-timeout', 10, positive, 'a positive number of seconds') * 1000,
    keepaliveSec: num('keepalive', '--keepalive', 60, (n) => whole(0)(n) && n <= 65535, 'a whole number of seconds from 0 to 65535'),
    workers: num('workers', '--workers', 1, whole(1), 'a whole number ≥ 1'),
    ...(caPem ? { caPem } : {}),
  };

  const chosen = (['credentials', 'provision', 'enroll', 'anonymous'] as const).filter((k) => flags[k] !== undefined && flags[k] !== false);
  if (chosen.length === 0) throw new UsageError('say where device credentials come from: --credentials FILE, --provision, --enroll or --anonymous');
  if (chosen.length > 1) throw new UsageError(`--${chosen[0]} and --${chosen[1]} exclude each other: pick one`);
  const prefix = str('prefix') ?? 'sim-';
  const api = (): string => {
    const url = str('api') ?? env.HANGAR_URL;
    if (!url) throw new UsageError(`--${chosen[0]} needs --api URL (or HANGAR_URL): Hangar's HTTP address`);
    return url;
  };
  let source: CredentialSource;
  switch (chosen[0]!) {
    case 'credentials':
      source = { kind: 'file', file: str('credentials')! };
      break;
    case 'provision': {
      const apiToken = str('apiToken') ?? env.HANGAR_TOKEN;
      if (!apiToken) throw new UsageError('--provision needs --api-token T (or HANGAR_TOKEN): an operator or admin API key');
      source = { kind: 'provision', api: api(), apiToken, prefix, deviceType: str('deviceType') ?? 'simulator' };
      break;
    }
    case 'enroll': {
      const enrollmentGroupId = str('enrollmentGroup');
      const claimToken = str('claimToken');
      if (!enrollmentGroupId || !claimToken) throw new UsageError('--enroll needs --enrollment-group ID and --claim-token T');
      source = { kind: 'enroll', api: api(), enrollmentGroupId, claimToken, prefix };
      break;
    }
    default:
      source = { kind: 'anonymous', prefix };
  }
  const saveCredentials = str('saveCredentials');
  if (saveCredentials && (source.kind === 'file' || source.kind === 'anonymous')) throw new UsageError('--save-credentials goes with --provision or --enroll');
  // The devices of --provision/--enroll belong to that Hangar, so it must see them; any other run
  // is checked only when --api names a Hangar (an exported HANGAR_URL alone may be unrelated).
  const checkApi = flags.verify === false ? undefined : source.kind === 'provision' || source.kind === 'enroll' ? source.api : str('api');
  const checkToken = str('apiToken') ?? env.HANGAR_TOKEN;
  const check = checkApi === undefined ? undefined : { api: checkApi, ...(checkToken ? { apiToken: checkToken } : {}) };
  const agents = planAgents(flags, num);
  return { devices, source, options, ...(saveCredentials ? { saveCredentials } : {}), ...(check && !agents ? { check } : {}), ...(agents ? { agents } : {}) };
}

/** OTA failure injection (`--agents`): key, flag, field of OtaInjection, percent or seconds. */
const OTA_FLAGS: [key: string, flag: string, field: keyof OtaInjection, kind: 'pct' | 'sec'][] = [
  ['otaCut', '--ota-cut', 'downloadCutPct', 'pct'],
  ['otaCorrupt', '--ota-corrupt', 'corruptPct', 'pct'],
  ['otaBadSignature', '--ota-bad-signature', 'badSignaturePct', 'pct'],
  ['otaInstallFail', '--ota-install-fail', 'installFailPct', 'pct'],
  ['otaSelfTestFail', '--ota-self-test-fail', 'selfTestFailPct', 'pct'],
  ['otaDisconnectAfter', '--ota-disconnect-after', 'disconnectAfterUpdatePct', 'pct'],
  ['otaDisconnectEvery', '--ota-disconnect-every', 'disconnectEverySec', 'sec'],
  ['otaAlertAfter', '--ota-alert-after', 'alertAfterUpdatePct', 'pct'],
  ['otaAlertEvery', '--ota-alert-every', 'alertEverySec', 'sec'],
];

const AGENT_ONLY_FLAGS: [key: string, flag: string][] = [
  ['httpUrl', '--http-url'],
  ['telemetryInterval', '--telemetry-interval'],
  ['dropConnections', '--drop-connections'],
  ['failCommands', '--fail-commands'],
  ['slowCommands', '--slow-commands'],
  ['slowCommandMs', '--slow-command-ms'],
  ['rejectDesired', '--reject-desired'],
  ['firmwareVersion', '--firmware-version'],
  ...OTA_FLAGS.map(([key, flag]): [string, string] => [key, flag]),
];


function planAgents(flags: SimulateFlags, num: (name: string, flag: string, fallback: number, check: (n: number) => boolean, what: string) => number): SimulatePlan['agents'] {
  if (!flags.agents) {
    const stray = AGENT_ONLY_FLAGS.find(([key]) => flags[key] !== undefined);
    if (stray) throw new UsageError(`${stray[1]} goes with --agents`);
    return undefined;
  }
  if (flags.max || flags.rate !== undefined) throw new UsageError('--agents send telemetry every --telemetry-interval seconds: --rate and --max do not apply');
  const pct = (n: number): boolean => Number.isFinite(n) && n >= 0 && n <= 100;
  const failures: FailureInjection = {
    dropProbability: num('dropConnections', '--drop-connections', 0, (n) => Number.isFinite(n) && n >= 0 && n <= 1, 'a probability per agent per second from 0 to 1'),
    failCommandsPct: num('failCommands', '--fail-commands', 0, pct, 'a percentage from 0 to 100'),
    slowCommandsPct: num('slowCommands', '--slow-commands', 0, pct, 'a percentage from 0 to 100'),
    slowCommandMs: num('slowCommandMs', '--slow-command-ms', 5000, (n) => Number.isInteger(n) && n >= 0, 'a whole number of milliseconds ≥ 0'),
    rejectDesiredPct: num('rejectDesired', '--reject-desired', 0, pct, 'a percentage from 0 to 100'),
  };
  let ota: OtaInjection | undefined;
  for (const [key, flag, field, kind] of OTA_FLAGS) {
    if (flags[key] === undefined) continue;
    ota ??= { ...NO_OTA_FAILURES };
    (ota as unknown as Record<string, number>)[field] =
      kind === 'pct' ? num(key, flag, 0, pct, 'a percentage from 0 to 100') : num(key, flag, 5, (n) => Number.isFinite(n) && n > 0, 'a positive number of seconds');
  }
  const alertRaw = typeof flags.otaAlertTelemetry === 'string' ? flags.otaAlertTelemetry : undefined;
  if (alertRaw !== undefined) {
    let values: unknown;
    try {
      values = JSON.parse(alertRaw);
    } catch {
      values = undefined;
    }
    if (typeof values !== 'object' || values === null || Array.isArray(values)) throw new UsageError(`--ota-alert-telemetry must be a JSON object such as {"error_rate":1}, not "${alertRaw}"`);
    ota = { ...(ota ?? NO_OTA_FAILURES), alertTelemetry: values as Record<string, unknown> };
  }
  if (ota) failures.ota = ota;
  const firmwareVersion = typeof flags.firmwareVersion === 'string' && flags.firmwareVersion !== '' ? flags.firmwareVersion : undefined;
  const telemetryIntervalSec = num('telemetryInterval', '--telemetry-interval', 10, (n) => Number.isFinite(n) && n >= 0, 'a number of seconds ≥ 0 (0: no telemetry)');
  const httpUrl = typeof flags.httpUrl === 'string' ? flags.httpUrl : undefined;
  if (httpUrl !== undefined && !/^https?:\/\/[^/]+/.test(httpUrl)) throw new UsageError(`--http-url must be an http:// or https:// URL, not "${httpUrl}"`);
  return { telemetryIntervalSec, failures, ...(httpUrl ? { httpUrl } : {}), ...(firmwareVersion ? { firmwareVersion } : {}) };
}

export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description('simulate a fleet of MQTT devices publishing telemetry (or, with --agents, full virtual agents); prints a JSON summary')
    .addOption(new Option('--devices <n>', 'number of simulated devices'))
    .addOption(new Option('--server <url>', 'mqtt://host:port or mqtts://host:port'))
    .addOption(new Option('--rate <r>', 'messages per second per device (default 1)'))
    .addOption(new Option('--max', 'publish as fast as acknowledgements allow'))
    .addOption(new Option('--inflight <k>', 'unacknowledged messages per device at most (default 1 with --max, 100 with --rate)'))
    .addOption(new Option('--qos <q>', '0 or 1 (default 1)'))
    .addOption(new Option('--mqtt-version <v>', '3.1.1 or 5 (default 3.1.1)'))
    .addOption(new Option('--duration <s>', 'seconds of publishing after all devices connected (default: until Ctrl-C; 0: connect only)'))
    .addOption(new Option('--payload-keys <k>', 'keys per telemetry message: temp, hum, v3, … (default 2)'))
    .addOption(new Option('--connect-rate <r>', 'new connections per second at most (default 500)'))
    .addOption(new Option('--connect-concurrency <c>', 'connection attempts in progress at most (default 100)'))
    .addOption(new Option('--connect-timeout <s>', 'seconds before one attempt gives up (default 10)'))
    .addOption(new Option('--keepalive <s>', 'MQTT keepalive in seconds (default 60)'))
    .addOption(new Option('--workers <w>', 'spread the devices over W processes (default 1)'))
    .addOption(new Option('--ca <file>', 'CA certificate of an mqtts:// server (Hangar: GET /pki/server-ca.pem)'))
    .addOption(new Option('--credentials <file>', 'NDJSON: {"deviceId","token"} or {"deviceId","certFile","keyFile"} per line'))
    .addOption(new Option('--provision', 'create the devices and token credentials through the REST API'))
    .addOption(new Option('--enroll', 'enroll the devices through an enrollment group (claim token)'))
    .addOption(new Option('--anonymous', 'connect without credentials (brokers that allow it)'))
    .addOption(new Option('--api <url>', 'Hangar HTTP URL for --provision/--enroll [env HANGAR_URL]; with it the run ends by checking there that Hangar saw the devices'))
    .addOption(new Option('--api-token <token>', 'operator API key for --provision, any API key for the check [env HANGAR_TOKEN]'))
    .addOption(new Option('--no-verify', 'skip that check (devices of this Hangar simulated against another broker on purpose)'))
    .addOption(new Option('--enrollment-group <id>', 'enrollment group for --enroll'))
    .addOption(new Option('--claim-token <token>', 'the group’s claim token for --enroll'))
    .addOption(new Option('--prefix <p>', 'device ids <p>000001… for --provision/--enroll/--anonymous (default sim-)'))
    .addOption(new Option('--device-type <t>', 'type of devices --provision creates (default simulator)'))
    .addOption(new Option('--save-credentials <file>', 'write the provisioned credentials for --credentials next time'))
    .addOption(new Option('--agents', 'run virtual agents (the agent library: twin handlers, commands) instead of telemetry-only devices'))
    .addOption(new Option('--http-url <url>', 'with --agents: Hangar HTTP URL the agents fall back to when MQTT fails'))
    .addOption(new Option('--telemetry-interval <s>', 'with --agents: seconds between readings per agent (default 10; 0: none)'))
    .addOption(new Option('--drop-connections <p>', 'with --agents: probability per agent per second of dropping its connection (0–1)'))
    .addOption(new Option('--fail-commands <pct>', 'with --agents: percent of commands answered failed'))
    .addOption(new Option('--slow-commands <pct>', 'with --agents: percent of commands delayed by --slow-command-ms'))
    .addOption(new Option('--slow-command-ms <ms>', 'with --agents: the delay of slowed commands (default 5000)'))
    .addOption(new Option('--reject-desired <pct>', 'with --agents: percent of desired values refused'))
    .addOption(new Option('--firmware-version <v>', 'with --agents: the firmware version the agents start on (default 1.0.0)'))
    .addOption(new Option('--ota-cut <pct>', 'with --agents: percent of agents whose firmware download is cut half way (then resumes)'))
    .addOption(new Option('--ota-corrupt <pct>', 'with --agents: percent of agents whose downloaded image gets a flipped byte (failed: verify)'))
    .addOption(new Option('--ota-bad-signature <pct>', 'with --agents: percent of agents that see a damaged signature (failed: verify)'))
    .addOption(new Option('--ota-install-fail <pct>', 'with --agents: percent of agents whose install fails (failed: install)'))
    .addOption(new Option('--ota-self-test-fail <pct>', 'with --agents: percent of agents whose self-test fails (rolled_back)'))
    .addOption(new Option('--ota-disconnect-after <pct>', 'with --agents: percent of agents that, once updated, drop their connection every --ota-disconnect-every s'))
    .addOption(new Option('--ota-disconnect-every <s>', 'with --agents: seconds between those drops (default 5)'))
    .addOption(new Option('--ota-alert-after <pct>', 'with --agents: percent of agents that, once updated, send --ota-alert-telemetry every --ota-alert-every s'))
    .addOption(new Option('--ota-alert-every <s>', 'with --agents: seconds between those readings (default 5)'))
    .addOption(new Option('--ota-alert-telemetry <json>', 'with --agents: the reading that trips the rollout\'s alert rule (default {"error_rate":1})'))
    .addOption(new Option('--protocol <p>', 'mqtt (default) or lwm2m: LwM2M 1.1 clients over CoAP (coap://) or DTLS PSK (coaps://), see docs/agent.md'))
    .addOption(new Option('--dtls-psk-file <file>', 'with --protocol lwm2m: NDJSON {"deviceId","key":HEX,"identity"?} per line'))
    .addOption(new Option('--psk-key <hex>', 'with --protocol lwm2m: one PSK for every device, the identity being the device id'))
    .addOption(new Option('--lifetime <s>', 'with --protocol lwm2m: registration lifetime in seconds (default 300)'))
    .addOption(new Option('--queue-mode', 'with --protocol lwm2m: register in queue mode (Q)'))
    .addOption(new Option('--bootstrap', 'with --protocol lwm2m: --server is a bootstrap server; each device bootstraps, then registers where it is told'))
    .addOption(new Option('--reading-interval <s>', 'with --protocol lwm2m: seconds between temperature readings per device (default 10; 0: none)'))
    .addOption(new Option('--send-interval <s>', 'with --protocol lwm2m: seconds between Sends (/dp) per device (default 0: none)'))
    .action(async (flags: SimulateFlags) => {
      if (flags.protocol !== undefined && flags.protocol !== 'mqtt') {
        if (flags.protocol !== 'lwm2m') throw new UsageError(`--protocol must be mqtt or lwm2m, not "${String(flags.protocol)}"`);
        const { planLwm2mSimulation, runLwm2mSimulation } = await import('./lwm2m/lwm2m-simulate.js');
        await runLwm2mSimulation(planLwm2mSimulation(flags));
        return;
      }
      const LWM2M_ONLY = ['dtlsPskFile', 'pskKey', 'lifetime', 'queueMode', 'bootstrap', 'readingInterval', 'sendInterval'];
      const strayLwm2m = LWM2M_ONLY.find((k) => flags[k] !== undefined);
      if (strayLwm2m) throw new UsageError(`--${strayLwm2m.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} goes with --protocol lwm2m`);
      const plan = planSimulation(flags, process.env);
      const { runSimulation } = await import('./simulate-run.js');
      await runSimulation(plan);
    });
}
