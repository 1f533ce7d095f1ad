/**
 * A whole device agent as `hangar-agent` runs it: the credential (given, kept in the state dir,
 * or enrolled on first start), the disk buffer, static facts as reported twin and system
 * metrics as telemetry every interval.
 *
 * State dir layout (docs/agent.md): `credential.json` (0600), `telemetry/` (the buffer's
 * segments and cursor).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, type AgentCredential } from './agent.js';
import { AgentLog } from './agent-log.js';
import { loadCredential, saveCredential } from './credential-store.js';
import { enrollOverHttp, enrollOverMqtt } from './enrollment.js';
import { staticFacts, SystemMetrics } from './system-metrics.js';
import { DiskTelemetryBuffer } from './telemetry-buffer.js';
import type { DesiredHandler } from './desired-state.js';
import { findScript, runScript } from './script-runner.js';

export interface DeviceAgentConfig {
  server: string;
  deviceId: string;
  stateDir: string;
  credential?: AgentCredential;
  caPem?: string;
  httpUrl?: string;
  enroll?: { groupId: string; secret: string };
  commandsDir?: string;
  /** Executables named after desired properties: each applies its property's value (docs/agent.md). */
  desiredDir?: string;
  /** Seconds between metrics readings; 0 turns them off. */
  metricsIntervalSec: number;
  firmwareVersion?: string;
  rebootCommand?: string;
  factoryResetCommand?: string;
  maxBufferedRecords?: number;
  agentVersion: string;
  log?: AgentLog;
  httpFallbackAfter?: number;
  connectTimeoutMs?: number;
}

export interface RunningDeviceAgent {
  agent: Agent;
  stop(): Promise<void>;
}

export async function startDeviceAgent(config: DeviceAgentConfig): Promise<RunningDeviceAgent> {
  mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
  const log = config.log ?? new AgentLog({ echo: (line) => process.stderr.write(`${line}\n`) });
  const { credential, caPem } = await resolveCredential(config, log);
  const metrics = new SystemMetrics(config.stateDir);
  let lastMetrics: Record<string, number> = {};
  const facts = staticFacts(config.agentVersion, config.firmwareVersion);
  const agent = new Agent({
    deviceId: config.deviceId,
    credential,
    server: config.server,
    httpUrl: config.httpUrl,
    caPem: config.caPem ?? caPem,
    buffer: new DiskTelemetryBuffer(join(config.stateDir, 'telemetry'), { maxRecords: config.maxBufferedRecords ?? 100_000 }),
    log,
    commandsDir: config.commandsDir,
    rebootCommand: config.rebootCommand,
    factoryResetCommand: config.factoryResetCommand,
    facts: { ...facts },
    systemInfo: () => ({ metrics: lastMetrics }),
    ...(config.httpFallbackAfter !== undefined ? { httpFallbackAfter: config.httpFallbackAfter } : {}),
    ...(config.connectTimeoutMs !== undefined ? { connectTimeoutMs: config.connectTimeoutMs } : {}),
  });
  if (config.desiredDir) agent.onDesired('*', desiredScriptHandler(config.desiredDir));
  agent.start();
  let timer: NodeJS.Timeout | undefined;
  if (config.metricsIntervalSec > 0) {
    metrics.sample(); // the first CPU reading is since boot; start the intervals from here
    timer = setInterval(() => {
      lastMetrics = metrics.sample();
      agent.sendTelemetry({ ...lastMetrics, bufferDropped: agent.buffer.dropped });
    }, config.metricsIntervalSec * 1000);
  }
  return {
    agent,
    stop: async () => {
      clearInterval(timer);
      await agent.stop();
    },
  };
}

async function resolveCredential(config: DeviceAgentConfig, log: AgentLog): Promise<{ credential: AgentCredential; caPem?: string }> {
  if (config.credential) return { credential: config.credential };
  const stored = loadCredential(config.stateDir);
  if (stored) {
    if (stored.deviceId !== config.deviceId) throw new Error(`the state dir ${config.stateDir} holds the credential of ${stored.deviceId}, not ${config.deviceId}`);
    return { credential: stored.credential, ...(stored.caPem ? { caPem: stored.caPem } : {}) };
  }
  if (!config.enroll) throw new Error('no credential: give --token, or --cert and --key, or --enroll-group and --enroll-secret to enroll on first start');
  const request = { deviceId: config.deviceId, enrollmentGroupId: config.enroll.groupId, secret: config.enroll.secret, caPem: config.caPem };
  log.info(`enrolling ${config.deviceId} through enrollment group ${config.enroll.groupId}`);
  let enrolled;
  try {
    enrolled = await enrollOverMqtt(config.server, request);
  } catch (err) {
    if (!config.httpUrl) throw err;
    log.warn(`${err instanceof Error ? err.message : String(err)}; trying HTTP`);
    enrolled = await enrollOverHttp(config.httpUrl, request);
  }
  saveCredential(config.stateDir, enrolled);
  log.info(`enrolled; credential kept in ${config.stateDir}`);
  return { credential: enrolled.credential, ...(enrolled.caPem ? { caPem: enrolled.caPem } : {}) };
}

/** `--firmware-version` may name a file holding the version (e.g. /etc/firmware-version). */
export function readFirmwareVersion(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.startsWith('@') || value.startsWith('/')) {
    const file = value.replace(/^@/, '');
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new Error(`--firmware-version: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
  }
  return value;
}

/** How long a desired-property script may take before it is killed and the value refused. */
const DESIRED_SCRIPT_TIMEOUT_MS = 60_000;

/**
 * The CLI's desired handlers: `<dir>/<property>` runs with the value as JSON on stdin (and in
 * HANGAR_COMMAND_PARAMS); exit 0 applies it (reported as desired), anything else refuses it with
 * the script's stderr. A property without a script is refused, so reported never claims a value
 * nothing applied.
 */
function desiredScriptHandler(dir: string): DesiredHandler {
  return async (value, key) => {
    const script = findScript(dir, key);
    if (!script) throw new Error(`no executable "${key}" in ${dir} applies this property`);
    const outcome = await runScript(script, { name: key, commandId: 'desired', params: value, timeoutMs: DESIRED_SCRIPT_TIMEOUT_MS });
    if (!outcome.ok) throw new Error(outcome.error ?? `${key} failed`);
  };
}
