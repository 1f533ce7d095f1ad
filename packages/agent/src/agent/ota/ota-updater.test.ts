/**
 * The OTA state machine on a real state dir against a real HTTP firmware server: what it reports,
 * in order, for the happy paths (full, delta) and each failure, and how a restart — planned or a
 * crash — on the same state dir finishes what the last run started.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bsdiff from 'bsdiff-node';
import type { FirmwareSigningKey, OtaActiveOffer, OtaStatusReport } from '@hangar/protocol';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sha256Hex, startFirmwareServer, type FirmwareServer } from '../../testing/firmware-server.js';
import { manifestFor, signManifest, testSigner } from '../../testing/firmware-signing.js';
import { AgentLog } from '../agent-log.js';
import { OtaUpdater, type OtaHost } from './ota-updater.js';
import { FilePlatform, type FilePlatformOptions } from './platform.js';
import { KeyRing } from './verifier.js';

let server: FirmwareServer;
let root: string;
const signer = testSigner('k1');
const v1 = randomBytes(300_000);
const v2 = Buffer.from(v1);
for (const i of [100, 120_000, 250_000]) randomBytes(500).copy(v2, i);

beforeAll(async () => {
  server = await startFirmwareServer();
  server.signingKeys = [signer.publicKey];
  root = mkdtempSync(join(tmpdir(), 'hangar-ota-'));
  server.serve('/device/v1/firmware/fw_test/image', v2, 'tok');
  writeFileSync(join(root, 'v1'), v1);
  writeFileSync(join(root, 'v2'), v2);
  await bsdiff.diff(join(root, 'v1'), join(root, 'v2'), join(root, 'v1-v2.patch'));
  server.serve('/device/v1/firmware/fw_test/delta/1.0.0', readFileSync(join(root, 'v1-v2.patch')), 'tok');
});

afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

beforeEach(() => {
  server.requests.length = 0;
});

let deployments = 0;
function offerFor(image: Buffer, version: string, extra: Partial<OtaActiveOffer> = {}): OtaActiveOffer {
  const manifest = manifestFor(image, version);
  deployments += 1;
  return {
    deploymentId: `dep-${deployments}`,
    manifest,
    signature: signManifest(manifest, signer),
    keyId: 'k1',
    url: '/device/v1/firmware/fw_test/image?t=tok',
    delta: null,
    urlExpiresAt: Date.now() + 3_600_000,
    deadline: Date.now() + 3_600_000,
    ...extra,
  };
}

interface Device {
  dir: string;
  reports: OtaStatusReport[];
  versions: string[];
  restarts: number;
  updater: OtaUpdater;
  /** Restarts "the process": a new updater on the same state dir, booted. */
  reboot(): Promise<OtaUpdater>;
}

let devices = 0;
function device(options: Partial<FilePlatformOptions> & { keys?: KeyRing; hold?: (r: OtaStatusReport) => boolean; slowRetry?: boolean } = {}): Device {
  const dir = join(root, `dev-${(devices += 1)}`);
  const d: Device = {
    dir,
    reports: [],
    versions: [],
    restarts: 0,
    updater: undefined as unknown as OtaUpdater,
    reboot: async () => {
      d.updater = make();
      await d.updater.boot();
      return d.updater;
    },
  };
  const host: OtaHost = {
    log: new AgentLog(),
    report: (r) => {
      d.reports.push(r);
      // A report the "server" never acknowledges stays pending (re-sent by the next boot).
      return options.hold?.(r) ? new Promise(() => undefined) : Promise.resolve();
    },
    versionChanged: (v) => d.versions.push(v),
    resolveUrl: (path) => new URL(path, `${server.url}/`).toString(),
    fetchKeys: async () => (await fetch(`${server.url}/device/v1/firmware/signing-keys`)).json() as Promise<FirmwareSigningKey[]>,
    restart: () => {
      d.restarts += 1;
    },
  };
  const make = (): OtaUpdater =>
    new OtaUpdater(
      { platform: new FilePlatform({ dir, firmwareVersion: '1.0.0', ...options }), keys: options.keys ?? new KeyRing([signer.publicKey]), firmwareVersion: '1.0.0', downloadBackoff: options.slowRetry ? { initialMs: 600_000, maxMs: 600_000 } : { initialMs: 5, maxMs: 20 } },
      host,
    );
  d.updater = make();
  return d;
}

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const states = (d: Device): string[] => d.reports.filter((r, i, all) => r.state !== 'downloading' || all[i - 1]?.state !== 'downloading').map((r) => r.state);
const slots = (d: Device): Record<string, unknown> => JSON.parse(readFileSync(join(d.dir, 'slots.json'), 'utf8')) as Record<string, unknown>;
const last = (d: Device): OtaStatusReport => d.reports.at(-1)!;

describe('OtaUpdater', () => {
  it('downloads, verifies, installs into slot b, restarts, self-tests and commits', async () => {
    const d = device({ selfTestCmd: 'test "$HANGAR_OTA_VERSION" = 2.0.0' });
    await d.updater.boot();
    expect(d.versions).toEqual(['1.0.0']);
    d.updater.offer(offerFor(v2, '2.0.0'));
    await until('the restart', () => d.restarts === 1);
    expect(states(d)).toEqual(['downloading', 'downloaded', 'installing']);
    expect(d.reports.filter((r) => r.state === 'downloading').at(-1)!.progress).toBe(1);
    expect(slots(d)).toMatchObject({ active: 'a', pending: { slot: 'b', version: '2.0.0', booted: false } });
    // The downloaded file is gone once the slot has it.
    expect(readFileSync(join(d.dir, 'b', 'image')).equals(v2)).toBe(true);
    expect(existsSync(join(d.dir, 'downloads', `image-${sha256Hex(v2)}`))).toBe(false);

    await d.reboot();
    expect(states(d)).toEqual(['downloading', 'downloaded', 'installing', 'succeeded']);
    expect(last(d)).toEqual({ deploymentId: `dep-${deployments}`, state: 'succeeded', version: '2.0.0', artifact: 'full' });
    expect(slots(d)).toMatchObject({ active: 'b', versions: { a: '1.0.0', b: '2.0.0' } });
    expect(d.updater.version).toBe('2.0.0');
    expect(d.versions.at(-1)).toBe('2.0.0');

    // The offer still standing after the commit (a retained message redelivered) is not installed again.
    const before = d.reports.length;
    d.updater.offer(offerFor(v2, '2.0.0', { deploymentId: `dep-${deployments}` }));
    await new Promise((r) => setTimeout(r, 50));
    expect(d.reports.length).toBe(before);
  });

  it('applies a delta from the version it runs, and downloads only the delta', async () => {
    const d = device();
    // The device already runs 1.0.0 from slot a, whose image is the delta's base.
    mkdirSync(join(d.dir), { recursive: true });
    writeFileSync(join(d.dir, 'a', 'image'), v1);
    await d.updater.boot();
    const patch = readFileSync(join(root, 'v1-v2.patch'));
    d.updater.offer(offerFor(v2, '2.0.0', { delta: { baseVersion: '1.0.0', format: 'bsdiff40', size: patch.length, sha256: sha256Hex(patch), url: '/device/v1/firmware/fw_test/delta/1.0.0?t=tok' } }));
    await until('the restart', () => d.restarts === 1);
    expect(server.requests.map((r) => r.path)).toEqual(['/device/v1/firmware/fw_test/delta/1.0.0']);
    await d.reboot();
    expect(last(d)).toMatchObject({ state: 'succeeded', version: '2.0.0', artifact: 'delta' });
    expect(readFileSync(join(d.dir, 'b', 'image')).equals(v2)).toBe(true);
  });

  it('falls back to the full image when the delta does not apply', async () => {
    const d = device();
    writeFileSync(join(d.dir, 'a', 'image'), randomBytes(1000)); // not the base the delta was made from
    await d.updater.boot();
    const patch = readFileSync(join(root, 'v1-v2.patch'));
    d.updater.offer(offerFor(v2, '2.0.0', { delta: { baseVersion: '1.0.0', format: 'bsdiff40', size: patch.length, sha256: sha256Hex(patch), url: '/device/v1/firmware/fw_test/delta/1.0.0?t=tok' } }));
    await until('the restart', () => d.restarts === 1);
    expect(server.requests.map((r) => r.path)).toEqual(['/device/v1/firmware/fw_test/delta/1.0.0', '/device/v1/firmware/fw_test/image']);
    expect(d.reports.find((r) => r.state === 'downloaded')).toMatchObject({ artifact: 'full' });
    await d.reboot();
    expect(last(d)).toMatchObject({ state: 'succeeded', version: '2.0.0', artifact: 'full' });
  });

  it('resumes a download cut half way, with a Range request', async () => {
    const d = device();
    await d.updater.boot();
    server.cutNext('/device/v1/firmware/fw_test/image', v2.length / 2);
    d.updater.offer(offerFor(v2, '2.0.0'));
    await until('the restart', () => d.restarts === 1);
    const ranges = server.requests.map((r) => r.headers.range);
    expect(ranges).toHaveLength(2);
    expect(ranges[1]).toMatch(/^bytes=\d+-$/);
    await d.reboot();
    expect(last(d)).toMatchObject({ state: 'succeeded', version: '2.0.0' });
  });

  it('survives a restart mid-download: the next run resumes the part with a Range request', async () => {
    const d = device({ slowRetry: true });
    await d.updater.boot();
    server.serve('/device/v1/firmware/fw_cut/image', v2, 'tok');
    server.cutNext('/device/v1/firmware/fw_cut/image', v2.length - 1000);
    const offer = offerFor(v2, '2.0.0', { url: '/device/v1/firmware/fw_cut/image?t=tok' });
    d.updater.offer(offer);
    // Cut, and waiting (a long backoff) before its retry: the agent stops here.
    await until('the cut', () => d.reports.some((r) => (r.progress ?? 0) > 0) && server.requests.length === 1);
    await new Promise((r) => setTimeout(r, 100));
    d.updater.stop();
    const held = statSync(join(d.dir, 'downloads', `image-${sha256Hex(v2)}.part`)).size;
    expect(held).toBeGreaterThan(0);
    const again = await d.reboot();
    again.offer(offer);
    await until('the restart', () => d.restarts === 1);
    expect(server.requests.map((r) => r.headers.range)).toEqual([undefined, `bytes=${held}-`]);
    await d.reboot();
    expect(last(d)).toMatchObject({ state: 'succeeded', version: '2.0.0' });
  });

  it('fails with reason verify on a corrupted image and stays on its version', async () => {
    const d = device();
    await d.updater.boot();
    const corrupted = Buffer.from(v2);
    corrupted[1234] = corrupted[1234]! ^ 0x01;
    server.serve('/device/v1/firmware/fw_bad/image', corrupted, 'tok');
    d.updater.offer(offerFor(v2, '2.0.0', { url: '/device/v1/firmware/fw_bad/image?t=tok' }));
    await until('the outcome', () => last(d)?.state === 'failed');
    expect(states(d)).toEqual(['downloading', 'downloaded', 'failed']);
    expect(last(d)).toMatchObject({ state: 'failed', reason: 'verify', version: '1.0.0' });
    expect(last(d).error).toMatch(/SHA-256/);
    expect(d.restarts).toBe(0);
    expect(slots(d)).toMatchObject({ active: 'a', versions: { a: '1.0.0' } });
    expect(slots(d).pending).toBeUndefined();
    expect(existsSync(join(d.dir, 'b', 'image'))).toBe(false);
    expect(existsSync(join(d.dir, 'downloads', `image-${sha256Hex(v2)}`))).toBe(false);
  });

  it('fails with reason verify on a bad signature, without downloading', async () => {
    const d = device();
    await d.updater.boot();
    const offer = offerFor(v2, '2.0.0');
    const sig = Buffer.from(offer.signature, 'base64');
    sig[0] = sig[0]! ^ 0xff;
    d.updater.offer({ ...offer, signature: sig.toString('base64') });
    await until('the outcome', () => last(d)?.state === 'failed');
    expect(states(d)).toEqual(['downloading', 'failed']);
    expect(last(d)).toMatchObject({ reason: 'verify', version: '1.0.0' });
    expect(server.requests).toEqual([]);
  });

  it('refreshes the signing keys once for an unknown keyId (a rotated key)', async () => {
    const rotated = testSigner('k2');
    server.signingKeys = [signer.publicKey, rotated.publicKey];
    const d = device({ keys: new KeyRing([signer.publicKey]) });
    await d.updater.boot();
    const offer = offerFor(v2, '2.0.0');
    d.updater.offer({ ...offer, keyId: 'k2', signature: signManifest(offer.manifest, rotated) });
    await until('the restart', () => d.restarts === 1);
    expect(server.requests.map((r) => r.path)).toEqual(['/device/v1/firmware/signing-keys', '/device/v1/firmware/fw_test/image']);
    server.signingKeys = [signer.publicKey];
  });

  it('fails with reason install when the install command fails', async () => {
    const d = device({ installCmd: 'echo "flash: no space" >&2; exit 3' });
    await d.updater.boot();
    d.updater.offer(offerFor(v2, '2.0.0'));
    await until('the outcome', () => last(d)?.state === 'failed');
    expect(states(d)).toEqual(['downloading', 'downloaded', 'installing', 'failed']);
    expect(last(d)).toMatchObject({ reason: 'install', version: '1.0.0' });
    expect(last(d).error).toMatch(/exited with 3: flash: no space/);
    expect(slots(d).pending).toBeUndefined();
  });

  it('runs the install command with the image and the slot dir', async () => {
    const d = device({ installCmd: 'cp "$1" "$2/flashed" && test "$HANGAR_OTA_VERSION" = 2.0.0' });
    await d.updater.boot();
    d.updater.offer(offerFor(v2, '2.0.0'));
    await until('the restart', () => d.restarts === 1);
    expect(readFileSync(join(d.dir, 'b', 'flashed')).equals(v2)).toBe(true);
  });

  it('rolls back when the self-test fails, and reports the old version', async () => {
    const d = device({ selfTestCmd: 'echo "sensor missing" >&2; exit 1' });
    await d.updater.boot();
    d.updater.offer(offerFor(v2, '2.0.0'));
    await until('the restart', () => d.restarts === 1);
    await d.reboot();
    expect(states(d)).toEqual(['downloading', 'downloaded', 'installing', 'rolled_back']);
    expect(last(d)).toMatchObject({ state: 'rolled_back', reason: 'self_test', version: '1.0.0' });
    expect(last(d).error).toMatch(/sensor missing/);
    expect(slots(d)).toMatchObject({ active: 'a', versions: { a: '1.0.0' } });
    expect(slots(d).pending).toBeUndefined();
    expect(d.updater.version).toBe('1.0.0');
  });

  it('a self-test past its timeout rolls back', async () => {
    const d = device({ selfTestCmd: 'sleep 30', selfTestTimeoutMs: 200 });
    await d.updater.boot();
    d.updater.offer(offerFor(v2, '2.0.0'));
    await until('the restart', () => d.restarts === 1);
    await d.reboot();
    expect(last(d)).toMatchObject({ state: 'rolled_back', reason: 'self_test', version: '1.0.0' });
    expect(last(d).error).toMatch(/timed out/);
  });

  it('survives a crash between install and restart: the next start is the trial boot', async () => {
    const d = device();
    await d.updater.boot();
    d.updater.offer(offerFor(v2, '2.0.0'));
    await until('the pending slot', () => existsSync(join(d.dir, 'slots.json')) && (slots(d).pending as object | undefined));
    // The process dies here: the restart never happens, a new process starts on the same dir.
    await d.reboot();
    expect(last(d)).toMatchObject({ state: 'succeeded', version: '2.0.0' });
    expect(slots(d)).toMatchObject({ active: 'b' });
  });

  it('survives a crash during the self-test: that trial counts as failed and rolls back', async () => {
    const d = device();
    await d.updater.boot();
    d.updater.offer(offerFor(v2, '2.0.0'));
    await until('the restart', () => d.restarts === 1);
    // The trial boot marks the slot booted and dies before its self-test ends.
    const s = slots(d) as { pending: Record<string, unknown> };
    writeFileSync(join(d.dir, 'slots.json'), JSON.stringify({ ...s, pending: { ...s.pending, booted: true } }));
    await d.reboot();
    expect(last(d)).toMatchObject({ state: 'rolled_back', reason: 'self_test', version: '1.0.0' });
    expect(last(d).error).toMatch(/did not finish its self-test/);
    expect(slots(d)).toMatchObject({ active: 'a' });
  });

  it('sends an outcome the server never acknowledged again on the next start', async () => {
    const d = device({ hold: (r) => r.state === 'succeeded' });
    await d.updater.boot();
    d.updater.offer(offerFor(v2, '2.0.0'));
    await until('the restart', () => d.restarts === 1);
    await d.reboot();
    expect(d.reports.filter((r) => r.state === 'succeeded')).toHaveLength(1);
    await d.reboot();
    expect(d.reports.filter((r) => r.state === 'succeeded')).toHaveLength(2);
  });

  it('stops the download when the offer is withdrawn, and reports nothing more', async () => {
    // A long backoff after the cut: with short ones, a loaded machine could run out of retries
    // (and report `failed`) before the withdrawal arrives.
    const d = device({ slowRetry: true });
    await d.updater.boot();
    server.serve('/device/v1/firmware/fw_slow/image', v2, 'tok');
    server.cutAlways('/device/v1/firmware/fw_slow/image', 1000);
    const offer = offerFor(v2, '2.0.0', { url: '/device/v1/firmware/fw_slow/image?t=tok' });
    d.updater.offer(offer);
    await until('a request', () => server.requests.length > 0);
    d.updater.offer({ deploymentId: null });
    await until('the job to stop', () => d.updater.phase === 'idle');
    const requests = server.requests.length;
    const reports = d.reports.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(server.requests.length).toBe(requests);
    expect(d.reports.length).toBe(reports);
    expect(d.reports.every((r) => r.state === 'downloading')).toBe(true);
    expect(d.updater.deploymentId).toBeNull();
  });

  it('a device already on the offered version reports succeeded at once', async () => {
    const d = device();
    await d.updater.boot();
    d.updater.offer(offerFor(v1, '1.0.0'));
    await until('the outcome', () => last(d)?.state === 'succeeded');
    expect(last(d)).toMatchObject({ version: '1.0.0' });
    expect(server.requests).toEqual([]);
  });

  it('ignores what is not an offer', async () => {
    const d = device();
    await d.updater.boot();
    d.updater.offer({ deploymentId: 'x', manifest: { v: 2 } });
    d.updater.offer('nonsense');
    expect(d.updater.phase).toBe('idle');
    expect(d.reports).toEqual([]);
  });
});
