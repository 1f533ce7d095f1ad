/**
 * The REST calls the LwM2M bench makes as an operator (admin API key): create the devices an
 * LwM2M run registers, give some of them a PSK, and start Observes of their temperature.
 */
import { randomBytes } from 'node:crypto';
import type { PskCredentials } from '../../packages/agent/src/lwm2m/index.js';

/** The resource the server observes on every device (IPSO Temperature, Sensor Value). */
export const OBSERVED_PATH = '3303/0/5700';

export class Lwm2mBenchRest {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  /** Creates the devices in one bulk import (NDJSON), all or nothing. */
  async importDevices(ids: readonly string[], type: string): Promise<void> {
    const body = ids.map((id) => JSON.stringify({ id, type })).join('\n') + '\n';
    const result = await this.call<{ failed: number; errors: Array<{ line: number; reason: string }> }>('POST', '/api/v1/devices/import', body, 'application/x-ndjson');
    if (result.failed > 0) throw new Error(`${result.failed} of ${ids.length} devices could not be imported: ${result.errors.slice(0, 3).map((e) => `line ${e.line}: ${e.reason}`).join('; ')}`);
  }

  /**
   * A `psk` credential for the device with a key made here (16 random bytes), so the bench knows
   * every key without reading it back; the identity is Hangar's default, the device id.
   */
  async issuePsk(deviceId: string): Promise<PskCredentials> {
    const key = randomBytes(16);
    const issued = await this.call<{ identity?: string }>('POST', `/api/v1/devices/${encodeURIComponent(deviceId)}/credentials`, JSON.stringify({ type: 'psk', key: key.toString('hex') }));
    return { identity: issued.identity ?? deviceId, key };
  }

  /** Starts the server's Observe of the device's temperature (docs/lwm2m.md, REST). */
  async observe(deviceId: string, path = OBSERVED_PATH): Promise<void> {
    await this.call<unknown>('POST', `/api/v1/devices/${encodeURIComponent(deviceId)}/lwm2m/${path}/observe`);
  }

  private async call<T>(method: string, path: string, body?: string, contentType = 'application/json'): Promise<T> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
      ...(body === undefined ? {} : { body }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }
}

/** `work` on every item, at most `concurrency` at once; the first failure rejects (the rest stop starting). */
export async function inParallel<T, R>(items: readonly T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
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
      }
    }),
  );
  return out;
}
