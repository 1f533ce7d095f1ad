/** Runs a planned simulation as the CLI does: credentials, Ctrl-C, progress on stderr, summary on stdout. */
import type { CredentialSource, SimulatePlan } from './simulate-command.js';
import {
  formatAgentProgress,
  simulateAgents,
  enrollThroughGroup,
  formatProgress,
  provisionThroughApi,
  readCredentialsFile,
  simulate,
  simulatedDeviceIds,
  writeCredentialsFile,
  CredentialsError,
  type DeviceCredential,
} from './simulator/index.js';
import { checkServerSaw, lastSeenBefore, sampleDeviceIds, type ServerCheckResult, type ServerCheckTarget } from './simulator/server-check.js';

export async function runSimulation(plan: SimulatePlan): Promise<void> {
  const credentials = await credentialsFor(plan);
  if (plan.saveCredentials) {
    writeCredentialsFile(plan.saveCredentials, credentials);
    process.stderr.write(`saved ${credentials.length} credentials to ${plan.saveCredentials}\n`);
  }
  if (plan.agents) return runAgents(plan, credentials);
  const target = checkTarget(plan);
  // Read before connecting: an id the Hangar does not know stops the run here, and the check
  // later compares with these values rather than with a clock that may differ from the server's.
  const before = target ? await lastSeenBefore(target, sampleDeviceIds(credentials.map((c) => c.deviceId))) : undefined;
  const abort = new AbortController();
  let interrupts = 0;
  const onInterrupt = (): void => {
    interrupts += 1;
    if (interrupts === 1) {
      process.stderr.write('stopping: disconnecting the devices (Ctrl-C again to quit at once)\n');
      abort.abort();
    } else process.exit(130);
  };
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);
  try {
    const summary = await simulate({
      ...plan.options,
      credentials,
      signal: abort.signal,
      onProgress: (p) => process.stderr.write(`${formatProgress(p)}\n`),
    });
    let serverCheck: ServerCheckResult | undefined;
    let failure: unknown;
    if (target && before) {
      try {
        serverCheck = await checkServerSaw(target, before, { server: summary.server, devices: summary.devices, connected: summary.connect.connected });
        process.stderr.write(`checked at ${serverCheck.api}: Hangar saw ${serverCheck.seen} of ${serverCheck.sampled} sampled devices\n`);
      } catch (err) {
        failure = err;
      }
    }
    process.stdout.write(`${JSON.stringify(serverCheck ? { ...summary, serverCheck } : summary, null, 2)}\n`);
    if (failure !== undefined) throw failure;
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
  }
}

function checkTarget(plan: SimulatePlan): ServerCheckTarget | undefined {
  if (!plan.check) return undefined;
  if (plan.check.apiToken) return { api: plan.check.api, apiToken: plan.check.apiToken };
  process.stderr.write(`not checking that ${plan.check.api} sees the devices: that needs --api-token (or HANGAR_TOKEN), any role\n`);
  return undefined;
}

async function credentialsFor(plan: SimulatePlan): Promise<DeviceCredential[]> {
  const source: CredentialSource = plan.source;
  const progress = (verb: string) => (done: number, total: number) => {
    if (done === total || done % 1000 === 0) process.stderr.write(`${verb} ${done}/${total}\n`);
  };
  switch (source.kind) {
    case 'file': {
      const all = readCredentialsFile(source.file);
      if (all.length < plan.devices) throw new CredentialsError(`${source.file} holds ${all.length} devices, --devices asks for ${plan.devices}`);
      return all.slice(0, plan.devices);
    }
    case 'anonymous':
      return simulatedDeviceIds(source.prefix, plan.devices).map((deviceId) => ({ deviceId, kind: 'anonymous' }));
    case 'provision':
      return provisionThroughApi({
        api: source.api,
        apiToken: source.apiToken,
        deviceType: source.deviceType,
        deviceIds: simulatedDeviceIds(source.prefix, plan.devices),
        onProgress: progress('issued tokens'),
      });
    case 'enroll':
      return enrollThroughGroup({
        api: source.api,
        enrollmentGroupId: source.enrollmentGroupId,
        claimToken: source.claimToken,
        deviceIds: simulatedDeviceIds(source.prefix, plan.devices),
        onProgress: progress('enrolled'),
      });
  }
}

/** `--agents`: the virtual agents run in this process until --duration or Ctrl-C; the summary counts what they did. */
async function runAgents(plan: SimulatePlan, credentials: DeviceCredential[]): Promise<void> {
  const agents = plan.agents!;
  const abort = new AbortController();
  const onInterrupt = (): void => {
    if (abort.signal.aborted) process.exit(130);
    process.stderr.write('stopping: disconnecting the agents (Ctrl-C again to quit at once)\n');
    abort.abort();
  };
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);
  try {
    const summary = await simulateAgents({
      server: plan.options.server,
      credentials,
      httpUrl: agents.httpUrl,
      caPem: plan.options.caPem,
      telemetryIntervalSec: agents.telemetryIntervalSec,
      payloadKeys: plan.options.payloadKeys ?? 2,
      connectRate: plan.options.connectRate ?? 500,
      connectConcurrency: plan.options.connectConcurrency ?? 100,
      durationSec: plan.options.durationSec ?? Infinity,
      failures: agents.failures,
      ...(agents.firmwareVersion ? { firmwareVersion: agents.firmwareVersion } : {}),
      signal: abort.signal,
      onProgress: (p) => process.stderr.write(`${formatAgentProgress(p)}\n`),
    });
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
  }
}
