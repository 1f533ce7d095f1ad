import { defaultBurst, rateLimitProblem, type RateLimit } from '../core/telemetry/rate-limiter.js';

/** `hangar serve` options: every flag of DESIGN §3, each also read from `HANGAR_<FLAG>`. */
export type PortSetting = number | 'off';

export interface ServeOptions {
  dataDir: string;
  httpPort: PortSetting;
  httpsPort: PortSetting;
  mqttPort: PortSetting;
  mqttsPort: PortSetting;
  coapPort: PortSetting;
  /** CoAP and LwM2M over DTLS 1.2 (PSK and certificates): docs/dtls.md. */
  coapsPort: PortSetting;
  databaseUrl?: string | undefined;
  redisUrl?: string | undefined;
  nodeId?: string | undefined;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  host: string;
  /** The installation's per-device telemetry rate limit (tenants may set their own); false: none. Unset: the built-in 100/s. */
  telemetryRateLimit?: RateLimit | false | undefined;
  /** `--twin-max-bytes`: the largest desired and reported twin half, each (unset: 32 KiB). */
  twinMaxBytes?: number | undefined;
  /** `--artifact-store`: where firmware images and deltas live (default `file`; `postgres` needs --database-url). */
  artifactStore?: 'file' | 'postgres' | undefined;
  /** `--artifact-dir`: the directory of the `file` artifact store (default `<data-dir>/artifacts`), e.g. one several nodes share. */
  artifactDir?: string | undefined;
  /** `--firmware-max-bytes`: the largest firmware image accepted (default 2 GiB). */
  firmwareMaxBytes?: number | undefined;
  /** `--lwm2m-firmware-host`: the host LwM2M devices reach the CoAP ports at, for Package URIs (docs/ota.md, "LwM2M devices (Object 5)"). */
  /** `--dtls-max-sessions`, `--dtls-sessions-per-address`: DTLS sessions in all and per source address (NB-IoT carriers put many devices behind one NAT address). */
  dtlsMaxSessions?: number | undefined;
  dtlsSessionsPerAddress?: number | undefined;
  lwm2mFirmwareHost?: string | undefined;
  /** `--lwm2m-firmware-url`: LwM2M devices pull packages over HTTP(S) from this device-API base URL instead. */
  lwm2mFirmwareUrl?: string | undefined;
  /** `--lwm2m-firmware-delivery`: auto (default), pull or push. */
  lwm2mFirmwareDelivery?: 'auto' | 'pull' | 'push' | undefined;
  /** Listener ports nobody chose (the defaults of DESIGN §3), by option name. */
  defaultedPorts: ReadonlySet<keyof typeof PORT_FLAGS>;
  // ---- /metrics access
  /** `--metrics-public`: anyone may read /metrics; otherwise a bearer token is needed. */
  metricsPublic: boolean;
  /** `--metrics-token`: a scrape token accepted on /metrics besides API keys and sessions. */
  metricsToken?: string | undefined;
}

export const PORT_FLAGS = {
  httpPort: { flag: '--http-port', env: 'HANGAR_HTTP_PORT', default: 8080 },
  httpsPort: { flag: '--https-port', env: 'HANGAR_HTTPS_PORT', default: 8443 },
  mqttPort: { flag: '--mqtt-port', env: 'HANGAR_MQTT_PORT', default: 1883 },
  mqttsPort: { flag: '--mqtts-port', env: 'HANGAR_MQTTS_PORT', default: 8883 },
  coapPort: { flag: '--coap-port', env: 'HANGAR_COAP_PORT', default: 5683 },
  coapsPort: { flag: '--coaps-port', env: 'HANGAR_COAPS_PORT', default: 5684 },
} as const;

export class OptionError extends Error {}

/** `0` binds a free port, `off` disables the listener. */
export function parsePort(value: string, flag: string): PortSetting {
  const v = value.trim().toLowerCase();
  if (v === 'off') return 'off';
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw new OptionError(`${flag} must be a port number 0–65535 or "off", not "${value}"`);
  return Number(v);
}

type RawFlags = Partial<Record<Exclude<keyof ServeOptions, 'metricsPublic'>, string>> & { metricsPublic?: string | boolean };

/** `--telemetry-rate-limit`: messages per second per device (burst: two seconds' worth), or `off`. */
export function parseTelemetryRateLimit(value: string, flag: string): RateLimit | false {
  const v = value.trim().toLowerCase();
  if (v === 'off') return false;
  const perSecond = /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
  const limit = { perSecond, burst: Number.isFinite(perSecond) ? defaultBurst(perSecond) : NaN };
  const problem = rateLimitProblem(limit);
  if (problem) throw new OptionError(`${flag} must be a number of messages per second per device above 0 and at most 100000, or "off", not "${value}"`);
  return limit;
}

export function resolveServeOptions(flags: RawFlags, env: NodeJS.ProcessEnv): ServeOptions {
  const pick = (key: Exclude<keyof ServeOptions, 'metricsPublic'>, envName: string): string | undefined => flags[key] ?? (env[envName] === '' ? undefined : env[envName]);
  const defaultedPorts = new Set<keyof typeof PORT_FLAGS>();
  const port = (key: keyof typeof PORT_FLAGS): PortSetting => {
    const spec = PORT_FLAGS[key];
    const raw = pick(key, spec.env);
    if (raw === undefined) defaultedPorts.add(key);
    return raw === undefined ? spec.default : parsePort(raw, flags[key] !== undefined ? spec.flag : spec.env);
  };
  const databaseUrl = pick('databaseUrl', 'HANGAR_DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new OptionError(`--database-url must be a postgres:// URL (SQLite needs no URL: it lives in --data-dir), not "${databaseUrl.replace(/:[^:@/]*@/, ':***@')}"`);
  }
  const redisUrl = pick('redisUrl', 'HANGAR_REDIS_URL');
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) throw new OptionError('--redis-url must be a redis:// or rediss:// URL');
  const nodeId = pick('nodeId', 'HANGAR_NODE_ID');
  if (nodeId !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(nodeId)) throw new OptionError('--node-id must be 1–64 characters of A–Z a–z 0–9 . _ -');
  const tlsCert = pick('tlsCert', 'HANGAR_TLS_CERT');
  const tlsKey = pick('tlsKey', 'HANGAR_TLS_KEY');
  if ((tlsCert === undefined) !== (tlsKey === undefined)) throw new OptionError('--tls-cert and --tls-key go together');
  const { metricsPublic, metricsToken } = metricsAccess(flags, env, pick('metricsToken', 'HANGAR_METRICS_TOKEN'));
  return {
    dataDir: pick('dataDir', 'HANGAR_DATA_DIR') ?? './data',
    httpPort: port('httpPort'),
    httpsPort: port('httpsPort'),
    mqttPort: port('mqttPort'),
    mqttsPort: port('mqttsPort'),
    coapPort: port('coapPort'),
    coapsPort: port('coapsPort'),
    databaseUrl,
    redisUrl,
    nodeId,
    tlsCert,
    tlsKey,
    host: pick('host', 'HANGAR_HOST') ?? '0.0.0.0',
    ...telemetryRateLimitOption(flags, pick),
    ...twinMaxBytesOption(pick('twinMaxBytes', 'HANGAR_TWIN_MAX_BYTES'), flags.twinMaxBytes !== undefined ? '--twin-max-bytes' : 'HANGAR_TWIN_MAX_BYTES'),
    ...artifactOptions(flags, pick, databaseUrl),
    ...lwm2mFirmwareOptions(pick),
    dtlsMaxSessions: countOption(pick('dtlsMaxSessions', 'HANGAR_DTLS_MAX_SESSIONS'), flags.dtlsMaxSessions !== undefined ? '--dtls-max-sessions' : 'HANGAR_DTLS_MAX_SESSIONS'),
    dtlsSessionsPerAddress: countOption(pick('dtlsSessionsPerAddress', 'HANGAR_DTLS_SESSIONS_PER_ADDRESS'), flags.dtlsSessionsPerAddress !== undefined ? '--dtls-sessions-per-address' : 'HANGAR_DTLS_SESSIONS_PER_ADDRESS'),
    defaultedPorts,
    metricsPublic,
    metricsToken,
  };
}

/** `--metrics-public` (or HANGAR_METRICS_PUBLIC=1/true/yes) and `--metrics-token`. */
function metricsAccess(flags: RawFlags, env: NodeJS.ProcessEnv, token: string | undefined): { metricsPublic: boolean; metricsToken: string | undefined } {
  let metricsPublic = flags.metricsPublic === true || flags.metricsPublic === 'true';
  const raw = env.HANGAR_METRICS_PUBLIC?.trim().toLowerCase();
  if (flags.metricsPublic === undefined && raw !== undefined && raw !== '') {
    if (['1', 'true', 'yes', 'on'].includes(raw)) metricsPublic = true;
    else if (!['0', 'false', 'no', 'off'].includes(raw)) throw new OptionError(`HANGAR_METRICS_PUBLIC must be true or false, not "${env.HANGAR_METRICS_PUBLIC}"`);
  }
  // A guessable scrape token would make the page as good as public.
  if (token !== undefined && token.length < 16) throw new OptionError('--metrics-token must be at least 16 characters');
  return { metricsPublic, metricsToken: token };
}

function telemetryRateLimitOption(flags: RawFlags, pick: (key: 'telemetryRateLimit', envName: string) => string | undefined): Pick<ServeOptions, 'telemetryRateLimit'> {
  const raw = pick('telemetryRateLimit', 'HANGAR_TELEMETRY_RATE_LIMIT');
  if (raw === undefined) return {};
  return { telemetryRateLimit: parseTelemetryRateLimit(raw, flags.telemetryRateLimit !== undefined ? '--telemetry-rate-limit' : 'HANGAR_TELEMETRY_RATE_LIMIT') };
}

/** A twin half of 1 KiB to 1 MiB: smaller cannot hold a useful configuration, larger stops being a twin (use a file). */
function twinMaxBytesOption(raw: string | undefined, flag: string): Pick<ServeOptions, 'twinMaxBytes'> {
  if (raw === undefined) return {};
  const n = /^\d{1,8}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1024 && n <= 1024 * 1024)) throw new OptionError(`${flag} must be a number of bytes from 1024 to 1048576, not "${raw}"`);
  return { twinMaxBytes: n };
}

/** `--artifact-store file|postgres`, `--artifact-dir`, `--firmware-max-bytes` (docs/firmware.md). */
function artifactOptions(
  flags: RawFlags,
  pick: (key: 'artifactStore' | 'artifactDir' | 'firmwareMaxBytes', envName: string) => string | undefined,
  databaseUrl: string | undefined,
): Pick<ServeOptions, 'artifactStore' | 'artifactDir' | 'firmwareMaxBytes'> {
  const store = pick('artifactStore', 'HANGAR_ARTIFACT_STORE');
  const storeFlag = flags.artifactStore !== undefined ? '--artifact-store' : 'HANGAR_ARTIFACT_STORE';
  if (store !== undefined && store !== 'file' && store !== 'postgres') throw new OptionError(`${storeFlag} must be "file" or "postgres", not "${store}"`);
  if (store === 'postgres' && databaseUrl === undefined) throw new OptionError(`${storeFlag}=postgres keeps artifacts as PostgreSQL large objects: it needs --database-url`);
  const dir = pick('artifactDir', 'HANGAR_ARTIFACT_DIR');
  if (dir !== undefined && store === 'postgres') throw new OptionError('--artifact-dir is the directory of the file artifact store; it does not go with --artifact-store=postgres');
  const rawMax = pick('firmwareMaxBytes', 'HANGAR_FIRMWARE_MAX_BYTES');
  let firmwareMaxBytes: number | undefined;
  if (rawMax !== undefined) {
    const n = /^\d{1,16}$/.test(rawMax) ? Number(rawMax) : NaN;
    // Up to 64 GiB: the stores stream, so the bound is the disk's, not memory's.
    if (!(n >= 1 && n <= 64 * 1024 ** 3)) throw new OptionError(`${flags.firmwareMaxBytes !== undefined ? '--firmware-max-bytes' : 'HANGAR_FIRMWARE_MAX_BYTES'} must be a number of bytes from 1 to 68719476736, not "${rawMax}"`);
    firmwareMaxBytes = n;
  }
  return { artifactStore: store, artifactDir: dir, firmwareMaxBytes };
}

/** `--lwm2m-firmware-host|url|delivery`: where LwM2M devices pull firmware packages from, and pull or push. */
/** A positive whole number of at most ten million (session counts). */
function countOption(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = /^\d{1,8}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!(n >= 1 && n <= 10_000_000)) throw new OptionError(`${flag} must be a whole number from 1 to 10000000, not "${raw}"`);
  return n;
}

function lwm2mFirmwareOptions(pick: (key: 'lwm2mFirmwareHost' | 'lwm2mFirmwareUrl' | 'lwm2mFirmwareDelivery', envName: string) => string | undefined): Pick<ServeOptions, 'lwm2mFirmwareHost' | 'lwm2mFirmwareUrl' | 'lwm2mFirmwareDelivery'> {
  const host = pick('lwm2mFirmwareHost', 'HANGAR_LWM2M_FIRMWARE_HOST');
  if (host !== undefined && !/^(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*|[A-Za-z0-9.-]{1,253})$/.test(host)) throw new OptionError(`--lwm2m-firmware-host must be a host name or an IP address, not "${host}"`);
  const url = pick('lwm2mFirmwareUrl', 'HANGAR_LWM2M_FIRMWARE_URL');
  if (url !== undefined && !/^https?:\/\/[^/?#\s]+\/?$/.test(url)) throw new OptionError(`--lwm2m-firmware-url must be an http:// or https:// base URL without a path (e.g. https://hangar.example.com), not "${url}"`);
  const delivery = pick('lwm2mFirmwareDelivery', 'HANGAR_LWM2M_FIRMWARE_DELIVERY');
  if (delivery !== undefined && delivery !== 'auto' && delivery !== 'pull' && delivery !== 'push') throw new OptionError(`--lwm2m-firmware-delivery must be auto, pull or push, not "${delivery}"`);
  return { lwm2mFirmwareHost: host, lwm2mFirmwareUrl: url, lwm2mFirmwareDelivery: delivery };
}
