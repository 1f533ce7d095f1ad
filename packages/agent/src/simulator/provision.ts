/**
 * Credentials for a simulated fleet from a Hangar: created by an operator through the REST API
 * (devices by bulk import, then one token credential each), or enrolled by the devices
 * themselves through an enrollment group's claim token (docs/provisioning.md).
 */
import type { ImportResult, IssuedCredential, Problem } from '@hangar/protocol';
import type { DeviceCredential } from './credentials.js';

export class ProvisioningError extends Error {}

export interface ProvisionOptions {
  /** Base URL of Hangar's HTTP API, e.g. http://localhost:8080. */
  api: string;
  /** An API key with the operator or admin role. */
  apiToken: string;
  deviceIds: readonly string[];
  /** Device type of devices that do not exist yet. */
  deviceType?: string;
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface EnrollOptions {
  api: string;
  enrollmentGroupId: string;
  claimToken: string;
  deviceIds: readonly string[];
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Creates the devices that do not exist yet (devices that do are kept as they are) and issues
 * a new token credential to each. A device holds at most 10 active credentials: reuse them with
 * `--save-credentials` / `--credentials` rather than provisioning the same ids again and again.
 */
export async function provisionThroughApi(options: ProvisionOptions): Promise<DeviceCredential[]> {
  const base = apiBase(options.api);
  const auth = { authorization: `Bearer ${options.apiToken}` };
  const body = options.deviceIds.map((id) => JSON.stringify({ id, type: options.deviceType ?? 'simulator' })).join('\n') + '\n';
  const imported = await call<ImportResult>(`${base}/api/v1/devices/import`, { method: 'POST', headers: { ...auth, 'content-type': 'application/x-ndjson' }, body }, 'import the devices');
  if (imported.failed > 0) {
    const first = imported.errors.slice(0, 3).map((e) => `line ${e.line}${e.id ? ` (${e.id})` : ''}: ${e.reason}`);
    throw new ProvisioningError(`${imported.failed} of ${options.deviceIds.length} devices could not be created: ${first.join('; ')}`);
  }
  return inParallel(options.deviceIds, options.concurrency ?? 16, options.onProgress, async (deviceId) => {
    const issued = await call<IssuedCredential>(
      `${base}/api/v1/devices/${encodeURIComponent(deviceId)}/credentials`,
      { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'token' }) },
      `issue a token to ${deviceId}`,
    );
    if (!issued.token) throw new ProvisioningError(`issuing a token to ${deviceId} answered no token`);
    return { deviceId, kind: 'token', token: issued.token };
  });
}

/** Enrolls each device through the group (as a device in the field would) and keeps the credential it is given. */
export async function enrollThroughGroup(options: EnrollOptions): Promise<DeviceCredential[]> {
  const base = apiBase(options.api);
  return inParallel(options.deviceIds, options.concurrency ?? 16, options.onProgress, async (deviceId) => {
    const answer = await call<{ credential: IssuedCredential }>(
      `${base}/device/v1/provision`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ enrollmentGroupId: options.enrollmentGroupId, deviceId, claimToken: options.claimToken }) },
      `enroll ${deviceId}`,
    );
    const c = answer.credential;
    if (c.type === 'token' && c.token) return { deviceId, kind: 'token', token: c.token };
    if (c.type === 'x509' && c.certificatePem && c.privateKeyPem) return { deviceId, kind: 'x509', certPem: c.certificatePem, keyPem: c.privateKeyPem };
    throw new ProvisioningError(`enrolling ${deviceId} answered a ${c.type} credential without its secret`);
  });
}

function apiBase(api: string): string {
  let url: URL;
  try {
    url = new URL(api);
  } catch {
    throw new ProvisioningError(`--api must be a URL such as http://localhost:8080, not "${api}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ProvisioningError(`--api must be an http:// or https:// URL, not "${api}"`);
  return url.toString().replace(/\/+$/, '');
}

async function call<T>(url: string, init: RequestInit, what: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new ProvisioningError(`could not ${what}: ${cause?.code ?? cause?.message ?? String(err)} (${new URL(url).origin})`);
  }
  const text = await res.text();
  if (!res.ok) {
    let problem: Partial<Problem> = {};
    try {
      problem = JSON.parse(text) as Problem;
    } catch {
      // not a problem document
    }
    const detail = problem.detail ?? problem.title ?? text.slice(0, 200);
    throw new ProvisioningError(`could not ${what}: ${res.status}${problem.code ? ` ${problem.code}` : ''}: ${detail}`);
  }
  return JSON.parse(text) as T;
}

/** Runs `work` over `items`, `concurrency` at a time, in order of the results; the first failure stops the rest. */
async function inParallel<T, R>(items: readonly T[], concurrency: number, onProgress: ((done: number, total: number) => void) | undefined, work: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let done = 0;
  let failed = false;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length && !failed) {
        const i = next++;
        try {
          out[i] = await work(items[i]!);
        } catch (err) {
          failed = true;
          throw err;
        }
        onProgress?.(++done, items.length);
      }
    }),
  );
  return out;
}
