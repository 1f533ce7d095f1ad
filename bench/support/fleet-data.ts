/**
 * The synthetic fleet every registry figure is measured on. Device `i` is a pure function of
 * `i`, so the HTTP import, its re-run, the direct fill and the raw reference inserts all write
 * exactly the same rows, and a re-run finds every device unchanged.
 */
import type { Device } from '../../packages/server/src/core/registry/device.js';

export const TENANT = 'default';
export const SITES = 20;
export const DEVICE_TYPES = ['sensor', 'gateway', 'meter', 'camera'] as const;
/** Versions spread across `< 2.0.0` and above it, so the combined query has work on both sides. */
export const FIRMWARE_VERSIONS = ['1.0.0', '1.2.3', '1.9.10', '2.0.0', '2.1.0', '2.3.1', '10.0.0'] as const;

/** What one NDJSON import line holds. */
export interface DeviceRecord {
  id: string;
  type: string;
  tags: { site: string; rack: string; model: string };
  attributes: { serial: string; floor: number; calibrated: boolean; owner: { team: string } };
}

/** A small integer hash (mulberry32 step) so that fields vary independently of `i % SITES`. */
function mix(i: number, salt: number): number {
  let t = (i + salt * 0x9e3779b9) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}

export function deviceId(i: number): string {
  return `dev-${String(i).padStart(7, '0')}`;
}

export function deviceRecord(i: number): DeviceRecord {
  return {
    id: deviceId(i),
    type: DEVICE_TYPES[mix(i, 1) % DEVICE_TYPES.length]!,
    tags: { site: `site-${i % SITES}`, rack: `rack-${mix(i, 2) % 400}`, model: `model-${mix(i, 3) % 12}` },
    attributes: { serial: `SN${(mix(i, 4) % 1e9).toString(36).toUpperCase()}`, floor: mix(i, 5) % 8, calibrated: mix(i, 6) % 2 === 0, owner: { team: `team-${mix(i, 7) % 30}` } },
  };
}

export function firmwareOf(i: number): string {
  return FIRMWARE_VERSIONS[mix(i, 8) % FIRMWARE_VERSIONS.length]!;
}

/** Device `i` as the store holds it after a direct fill (with a firmware version, unlike an import). */
export function deviceAt(i: number, now: number): Device {
  const r = deviceRecord(i);
  return {
    id: r.id,
    tenantId: TENANT,
    type: r.type,
    status: 'active',
    tags: r.tags,
    attributes: r.attributes,
    firmwareVersion: firmwareOf(i),
    online: false,
    lastSeen: null,
    createdAt: now,
    updatedAt: now,
  };
}

/** How many of devices [0, count) a query selects, computed here so the API's answers can be checked. */
export function expectedMatches(count: number, predicate: (i: number) => boolean): number {
  let n = 0;
  for (let i = 0; i < count; i += 1) if (predicate(i)) n += 1;
  return n;
}

/**
 * NDJSON of devices [0, count) as a pull-based stream of ~`linesPerChunk`-line chunks: a chunk
 * is encoded only when the consumer asks for it, so the body is never whole in memory.
 */
export function ndjsonStream(count: number, linesPerChunk = 500): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const chunks = (function* (): Generator<Uint8Array> {
    for (let start = 0; start < count; start += linesPerChunk) {
      let text = '';
      for (let i = start; i < Math.min(count, start + linesPerChunk); i += 1) text += `${JSON.stringify(deviceRecord(i))}\n`;
      yield encoder.encode(text);
    }
  })();
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
  });
}
