/**
 * `hangar-agent simulate --protocol lwm2m`: flags → a fleet of LwM2M clients (lwm2m-fleet.ts),
 * progress on stderr once a second, the summary as one JSON document on stdout.
 */
import { readFileSync } from 'node:fs';
import { readDeviceLines, simulatedDeviceIds } from '../simulator/credentials.js';
import { parseCoapUri } from './transport.js';
import { runLwm2mFleet, type Lwm2mFleetDevice, type Lwm2mFleetOptions, type Lwm2mFleetStats } from './lwm2m-fleet.js';

export class Lwm2mUsageError extends Error {}

export type Lwm2mFlags = Partial<Record<string, string | boolean>>;

export interface Lwm2mSimulatePlan {
  options: Omit<Lwm2mFleetOptions, 'signal' | 'onProgress'>;
}

/** Flags of the MQTT simulator that mean nothing to LwM2M devices. */
const MQTT_ONLY: [key: string, flag: string][] = [
  ['rate', '--rate'],
  ['max', '--max'],
  ['inflight', '--inflight'],
  ['qos', '--qos'],
  ['mqttVersion', '--mqtt-version'],
  ['payloadKeys', '--payload-keys'],
  ['keepalive', '--keepalive'],
  ['workers', '--workers'],
  ['ca', '--ca'],
  ['credentials', '--credentials'],
  ['provision', '--provision'],
  ['enroll', '--enroll'],
  ['anonymous', '--anonymous'],
  ['agents', '--agents'],
  ['saveCredentials', '--save-credentials'],
];

/** Validates the LwM2M flags together; each problem names its flag. */
export function planLwm2mSimulation(flags: Lwm2mFlags): Lwm2mSimulatePlan {
  const str = (name: string): string | undefined => (typeof flags[name] === 'string' ? (flags[name] as string) : undefined);
  const num = (name: string, flag: string, fallback: number, check: (n: number) => boolean, what: string): number => {
    const raw = str(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (raw.trim() === '' || !check(n)) throw new Lwm2mUsageError(`${flag} must be ${what}, not "${raw}"`);
    return n;
  };
  const stray = MQTT_ONLY.find(([key]) => flags[key] !== undefined && flags[key] !== false);
  if (stray) throw new Lwm2mUsageError(`${stray[1]} is for MQTT devices, not --protocol lwm2m`);
  const devices = num('devices', '--devices', NaN, (n) => Number.isInteger(n) && n >= 1, 'a whole number ≥ 1');
  if (Number.isNaN(devices)) throw new Lwm2mUsageError('--devices N is required');
  const server = str('server');
  if (!server) throw new Lwm2mUsageError('--server coap://host:port (or coaps://host:port with --dtls-psk-file or --psk-key) is required');
  let secure: boolean;
  try {
    secure = parseCoapUri(server).secure;
  } catch {
    throw new Lwm2mUsageError(`--server must be coap://host:port or coaps://host:port with --protocol lwm2m, not "${server}"`);
  }
  const pskFile = str('dtlsPskFile');
  const pskKey = str('pskKey');
  if (pskFile && pskKey) throw new Lwm2mUsageError('--dtls-psk-file and --psk-key exclude each other: pick one');
  if (secure && !pskFile && !pskKey) throw new Lwm2mUsageError('a coaps:// server needs --dtls-psk-file FILE or --psk-key HEX');
  if (!secure && (pskFile || pskKey)) throw new Lwm2mUsageError('--dtls-psk-file and --psk-key go with a coaps:// server');
  let fleetDevices: Lwm2mFleetDevice[];
  if (pskFile) {
    const all = readPskFile(pskFile);
    if (all.length < devices) throw new Lwm2mUsageError(`${pskFile} holds ${all.length} devices, --devices asks for ${devices}`);
    fleetDevices = all.slice(0, devices);
  } else {
    let key: Buffer | undefined;
    if (pskKey !== undefined) {
      if (!/^([0-9a-fA-F]{2}){16,}$/.test(pskKey)) throw new Lwm2mUsageError('--psk-key must be hex of at least 16 bytes (32 hex digits)');
      key = Buffer.from(pskKey, 'hex');
    }
    let ids: string[];
    try {
      ids = simulatedDeviceIds(str('prefix') ?? 'sim-', devices);
    } catch (err) {
      throw new Lwm2mUsageError((err as Error).message);
    }
    // With one key for all, each device's PSK identity is its endpoint name (Hangar's default identity is the device id).
    fleetDevices = ids.map((endpointName) => ({ endpointName, ...(key ? { psk: { identity: endpointName, key } } : {}) }));
  }
  // The OTA failure flags of --agents mean the same for Object 5 (Update Results 4, 5 and 8).
  const pct = (key: string, flag: string): number | undefined =>
    flags[key] === undefined ? undefined : num(key, flag, 0, (n) => Number.isFinite(n) && n >= 0 && n <= 100, 'a percentage from 0 to 100');
  const failures = { download: pct('otaCut', '--ota-cut'), integrity: pct('otaCorrupt', '--ota-corrupt'), update: pct('otaInstallFail', '--ota-install-fail') };
  const durationRaw = str('duration');
  const options: Lwm2mSimulatePlan['options'] = {
    serverUri: server,
    bootstrap: flags.bootstrap === true,
    devices: fleetDevices,
    lifetimeSec: num('lifetime', '--lifetime', 300, (n) => Number.isInteger(n) && n >= 10, 'a whole number of seconds ≥ 10'),
    queueMode: flags.queueMode === true,
    temperatureIntervalMs: num('readingInterval', '--reading-interval', 10, (n) => Number.isFinite(n) && n >= 0, 'a number of seconds ≥ 0 (0: no readings)') * 1000,
    sendIntervalMs: num('sendInterval', '--send-interval', 0, (n) => Number.isFinite(n) && n >= 0, 'a number of seconds ≥ 0 (0: no Send)') * 1000,
    registerRate: num('connectRate', '--connect-rate', 500, (n) => Number.isFinite(n) && n > 0, 'a positive number of registrations per second'),
    registerConcurrency: num('connectConcurrency', '--connect-concurrency', 100, (n) => Number.isInteger(n) && n >= 1, 'a whole number ≥ 1'),
    durationSec: durationRaw === undefined ? Infinity : num('duration', '--duration', 0, (n) => Number.isFinite(n) && n >= 0, 'a number of seconds ≥ 0'),
    ...(str('firmwareVersion') ? { firmwareVersion: str('firmwareVersion')! } : {}),
    ...(Object.values(failures).some((v) => v !== undefined) ? { firmwareFailuresPct: Object.fromEntries(Object.entries(failures).filter(([, v]) => v !== undefined)) } : {}),
  };
  return { options };
}

/** NDJSON, one device a line: `{"deviceId","key"}` (hex) with an optional `"identity"` (default the device id). */
export function parsePskFile(text: string, source = 'psk file'): Lwm2mFleetDevice[] {
  const out: Lwm2mFleetDevice[] = [];
  for (const { record: r, deviceId, where } of readDeviceLines(text, source, (m) => new Lwm2mUsageError(m))) {
    if (typeof r.key !== 'string' || !/^([0-9a-fA-F]{2})+$/.test(r.key)) throw new Lwm2mUsageError(`${where}: "key" must be the PSK in hex`);
    if (r.identity !== undefined && (typeof r.identity !== 'string' || r.identity === '')) throw new Lwm2mUsageError(`${where}: "identity" must be a non-empty string`);
    out.push({ endpointName: deviceId, psk: { identity: (r.identity as string | undefined) ?? deviceId, key: Buffer.from(r.key, 'hex') } });
  }
  return out;
}

function readPskFile(file: string): Lwm2mFleetDevice[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Lwm2mUsageError(`--dtls-psk-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parsePskFile(text, file);
}

export function formatLwm2mProgress(s: Lwm2mFleetStats): string {
  return `registered ${s.registered}/${s.devices} (failed ${s.registrationsFailed}) updates ${s.updates} notifications ${s.notificationsSent} sends ${s.sends} requests ${s.requestsAnswered}`;
}

/** Runs the plan as the CLI does: Ctrl-C stops (de-registering), progress on stderr, summary on stdout. */
export async function runLwm2mSimulation(plan: Lwm2mSimulatePlan): Promise<void> {
  const abort = new AbortController();
  const onInterrupt = (): void => {
    if (abort.signal.aborted) process.exit(130);
    process.stderr.write('stopping: de-registering the devices (Ctrl-C again to quit at once)\n');
    abort.abort();
  };
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);
  try {
    const summary = await runLwm2mFleet({ ...plan.options, signal: abort.signal, onProgress: (s) => process.stderr.write(`${formatLwm2mProgress(s)}\n`) });
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
  }
}
