/**
 * Did the Hangar behind `--api` really hear from the simulated devices? An MQTT broker that
 * accepts any client (a local Mosquitto on 1883, say) acknowledges everything, so a run pointed
 * at the wrong port looked like a success. The check asks Hangar's REST API for the presence of
 * a sample of the devices before and after the run: a device it heard from has a newer
 * `lastSeen` (a connect or any message sets it; GET …/presence includes values not yet flushed).
 */
import type { DevicePresence, Problem } from '@hangar/protocol';

export class ServerCheckError extends Error {}

export interface ServerCheckTarget {
  /** Hangar's HTTP base URL. */
  api: string;
  /** Any API key of the devices' tenant (viewer is enough). */
  apiToken: string;
}

export interface ServerCheckResult {
  api: string;
  sampled: number;
  seen: number;
}

/** At most this many devices are asked about, spread over the fleet: enough to tell, cheap at 100k. */
export const SAMPLE_SIZE = 20;

export function sampleDeviceIds(ids: readonly string[], size = SAMPLE_SIZE): string[] {
  if (ids.length <= size) return [...ids];
  const step = (ids.length - 1) / (size - 1);
  return Array.from({ length: size }, (_, i) => ids[Math.round(i * step)]!);
}

/** Each sampled device's `lastSeen` (null: never), read before the run; a device Hangar does not know ends the run before it starts. */
export async function lastSeenBefore(target: ServerCheckTarget, deviceIds: readonly string[]): Promise<Map<string, string | null>> {
  const answers = await Promise.all(deviceIds.map(async (id) => [id, (await presenceOf(target, id)).lastSeen] as const));
  return new Map(answers);
}

/**
 * Fails when fewer sampled devices were seen than could have been: every sampled device that
 * connected should be, so at most `devices - connected` may be missing.
 */
export async function checkServerSaw(
  target: ServerCheckTarget,
  before: ReadonlyMap<string, string | null>,
  run: { server: string; devices: number; connected: number },
): Promise<ServerCheckResult> {
  const unseen: string[] = [];
  for (const [id, was] of before) {
    const now = (await presenceOf(target, id)).lastSeen;
    if (now === null || (was !== null && Date.parse(now) <= Date.parse(was))) unseen.push(id);
  }
  const sampled = before.size;
  const seen = sampled - unseen.length;
  const mayMiss = Math.min(sampled, run.devices - run.connected);
  if (unseen.length > mayMiss) {
    const where = seen === 0 ? `${run.server} is not the MQTT listener of that Hangar (another broker accepted the devices?)` : 'the devices it did not see did not reach it';
    throw new ServerCheckError(
      `Hangar at ${target.api} saw ${seen} of ${sampled} sampled devices (${unseen.slice(0, 3).join(', ')}${unseen.length > 3 ? ', …' : ''} not seen) ` +
        `although ${run.connected} of ${run.devices} connected to ${run.server}: ${where}. Use the mqtt port Hangar printed in its "listening" line (or <data-dir>/endpoints.json)`,
    );
  }
  return { api: target.api, sampled, seen };
}

async function presenceOf(target: ServerCheckTarget, deviceId: string): Promise<DevicePresence> {
  const url = `${target.api.replace(/\/+$/, '')}/api/v1/devices/${encodeURIComponent(deviceId)}/presence`;
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${target.apiToken}`, accept: 'application/json' } });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new ServerCheckError(`could not ask ${target.api} about ${deviceId}: ${cause?.code ?? cause?.message ?? String(err)}`);
  }
  const text = await res.text();
  if (res.status === 404) throw new ServerCheckError(`Hangar at ${target.api} has no device ${deviceId}: these are not its devices (--no-verify runs them anyway)`);
  if (!res.ok) {
    let problem: Partial<Problem> = {};
    try {
      problem = JSON.parse(text) as Problem;
    } catch {
      // not a problem document
    }
    throw new ServerCheckError(`could not ask ${target.api} about ${deviceId}: ${res.status}${problem.code ? ` ${problem.code}` : ''}: ${problem.detail ?? problem.title ?? text.slice(0, 200)}`);
  }
  return JSON.parse(text) as DevicePresence;
}
