/**
 * A whole device agent as `hangar-agent` runs it: the credential (given, kept in the state dir,
 * or enrolled on first start), the disk buffer, static facts as reported twin and system
 * metrics as telemetry every interval.
 *
 * State dir layout (docs/agent.md): `credential.json` (0600), `telemetry/` (the buffer's
 * segments and cursor), `firmware-keys.json` (the signing keys learnt), `ota/` (A/B slots,
 * downloads).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { Agent, type AgentCredential } from './agent.js';
import { AgentLog } from './agent-log.js';
import { loadCredential, saveCredential } from './credential-store.js';
import { enrollOverHttp, enrollOverMqtt } from './enrollment.js';
import { staticFacts, SystemMetrics } from './system-metrics.js';
import { DiskTelemetryBuffer } from './telemetry-buffer.js';
import type { DesiredHandler } from './desired-state.js';
import { findScript, runScript } from './script-runner.js';
import { FilePlatform } from './ota/platform.js';
import { KeyRing, loadKeyFile, saveKeyFile } from './ota/verifier.js';

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
  /** `--self-test`: run on the trial boot of a new slot; exit 0 commits it. */
  selfTestCmd?: string;
  selfTestTimeoutMs?: number;
  /** `--install-cmd`: run with the image (`$1`) and the slot dir (`$2`) after the image is copied into the slot. */
  installCmd?: string;
  /** `--firmware-keys`: pinned signing keys; the only ones trusted. */
  pinnedFirmwareKeys?: KeyObject[];
  /**
   * How to "restart into the new slot" after an install: `connection` (default; the library)
   * restarts the agent's connection in this process, `reexec` (the CLI) starts this process
   * again and exits, `exit` (`--no-reexec`) exits with code 75 for a supervisor to restart it.
   */
  restartMode?: 'connection' | 'reexec' | 'exit';
}

/** The exit code of `--no-reexec` after an install: "restart me" to a supervisor (EX_TEMPFAIL). */
export const RESTART_EXIT_CODE = 75;

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
  const keys = new KeyRing(loadKeyFile(config.stateDir), {
    ...(config.pinnedFirmwareKeys ? { pinned: config.pinnedFirmwareKeys } : {}),
    save: (k) => saveKeyFile(config.stateDir, k),
  });
  const platform = new FilePlatform({
    dir: join(config.stateDir, 'ota'),
    firmwareVersion: config.firmwareVersion,
    installCmd: config.installCmd,
    selfTestCmd: config.selfTestCmd,
    selfTestTimeoutMs: config.selfTestTimeoutMs,
  });
  const mode = config.restartMode ?? 'connection';
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
    ota: { platform, keys, firmwareVersion: config.firmwareVersion, ...(mode === 'connection' ? {} : { restart }) },
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
  /** The CLI's "restart into the new slot" (after the install wrote the pending slot). */
  function restart(): void {
    void (async () => {
      await agent.drainOta(5000);
      await stop();
      if (mode === 'reexec') {
        log.info('re-executing the agent to boot the new slot');
        // The same command line; the new process inherits stdout/stderr (journald, a terminal).
        spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', detached: true }).unref();
        process.exit(0);
      }
      log.info(`exiting with ${RESTART_EXIT_CODE} for the supervisor to start the new slot`);
      process.exit(RESTART_EXIT_CODE);
    })();
  }
  async function stop(): Promise<void> {
    clearInterval(timer);
    await agent.stop();
  }
  return { agent, stop };
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
  const { firmwareSigningKeys, ...credentialOnly } = enrolled;
  saveCredential(config.stateDir, credentialOnly);
  // The keys handed over at provisioning: the first offer verifies without asking the server.
  if (firmwareSigningKeys && firmwareSigningKeys.length > 0) saveKeyFile(config.stateDir, firmwareSigningKeys);
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
