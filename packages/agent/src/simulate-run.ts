/** Runs a planned simulation as the CLI does: credentials, Ctrl-C, progress on stderr, summary on stdout. */
import type { CredentialSource, SimulatePlan } from './simulate-command.js';
import {
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

export async function runSimulation(plan: SimulatePlan): Promise<void> {
  const credentials = await credentialsFor(plan);
  if (plan.saveCredentials) {
    writeCredentialsFile(plan.saveCredentials, credentials);
    process.stderr.write(`saved ${credentials.length} credentials to ${plan.saveCredentials}\n`);
  }
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
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
  }
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
