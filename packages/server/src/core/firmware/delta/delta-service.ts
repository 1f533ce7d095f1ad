import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { EventBus, Unsubscribe } from '../../../bus/event-bus.js';
import { HangarError } from '../../../errors.js';
import { recordAudit } from '../../audit/audit-service.js';
import type { CallContext } from '../../context.js';
import { semverKey } from '../../query/semver-key.js';
import { StoreError, type Stores, type StoreSet } from '../../stores.js';
import { requireRole, systemPrincipal } from '../../tenancy/principal.js';
import { deltaArtifactKey, firmwareArtifactKey, type ArtifactStore } from '../artifact-store.js';
import type { DeltaCatalog, FirmwareCatalog, FirmwareDeltaRecord, FirmwareImage } from '../catalog.js';
import { buildVerifiedDelta, DEFAULT_MAX_DELTA_RATIO } from './delta-builder.js';
import { BsdiffCodec, type DeltaCodec } from './delta-codec.js';
import type { DeltaOutcome, FirmwareVersionLookup } from './ports.js';

export interface DeltaServiceOptions {
  now?: (() => number) | undefined;
  logger?: Logger | undefined;
  /**
   * Images (base or target) above this size get no delta (default 256 MiB): bsdiff holds a
   * suffix array of the base, about 17× its size in memory, while it builds.
   */
  maxImageBytes?: number | undefined;
  /** A delta above this share of the image is refused as not worth it (default 0.8). */
  maxRatio?: number | undefined;
  /** Where builds write their patch and verification copy (default the OS temp dir). */
  workDir?: string | undefined;
  codec?: DeltaCodec | undefined;
}

export const DEFAULT_MAX_DELTA_IMAGE_BYTES = 256 * 1024 * 1024;

function newDeltaId(now: number): string {
  return `fd_${now.toString(36).padStart(9, '0')}${randomBytes(6).toString('hex')}`;
}

type Sources = FirmwareCatalog & FirmwareVersionLookup;

/**
 * Binary deltas between firmware images (docs/ota-deltas.md). A request records one
 * `building` row per (target, base) pair and returns; a background builder takes the rows one
 * at a time — so a build (seconds of CPU, ~17× the base image in memory) never runs beside
 * another nor blocks a request — diffs, proves the patch reproduces the target's SHA-256, and
 * marks it `ready` or `failed` with why. The queue is the table: after a restart the builder
 * finds the rows still `building` and builds them again.
 */
export class DeltaService implements DeltaCatalog {
  private readonly now: () => number;
  private readonly logger: Logger | undefined;
  private readonly maxImageBytes: number;
  private readonly maxRatio: number;
  private readonly codec: DeltaCodec;
  private readonly queue: Array<{ tenantId: string; id: string }> = [];
  private running: Promise<void> | undefined;
  private off: Unsubscribe | undefined;
  private stopped = true;

  constructor(
    private readonly stores: Stores,
    private readonly artifacts: ArtifactStore,
    private readonly sources: Sources,
    private readonly bus: Pick<EventBus, 'subscribe'> | undefined,
    private readonly options: DeltaServiceOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    this.maxImageBytes = options.maxImageBytes ?? DEFAULT_MAX_DELTA_IMAGE_BYTES;
    this.maxRatio = options.maxRatio ?? DEFAULT_MAX_DELTA_RATIO;
    this.codec = options.codec ?? new BsdiffCodec();
  }

  /** Subscribes to image deletions and resumes the builds a previous run left `building`. */
  async start(): Promise<void> {
    this.stopped = false;
    this.off ??= this.bus?.subscribe('firmware.deleted', (e) => {
      this.forgetImage(e.tenantId, e.firmwareId).catch((err: unknown) => this.logger?.warn({ err, firmwareId: e.firmwareId }, 'removing the deltas of a deleted image failed'));
    });
    for (const d of await this.stores.firmwareDeltas.building()) this.enqueue(d.tenantId, d.id);
  }

  /** Stops taking builds; the one under way finishes first. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.off?.();
    this.off = undefined;
    this.queue.length = 0;
    await this.running;
  }

  /** Resolves once no build is queued or running (tests; a clean shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  // ---- REST ----

  async list(ctx: CallContext, firmwareId: string): Promise<FirmwareDeltaRecord[]> {
    requireRole(ctx.principal, 'viewer');
    const target = await this.requireImage(ctx.principal.tenantId, firmwareId);
    return this.stores.firmwareDeltas.listTo(target.tenantId, target.id);
  }

  /**
   * Builds deltas to `firmwareId` from each of `baseFirmwareIds` (older images of the tenant).
   * A pair that has a delta (ready or building) keeps it; a failed one is built again. Answers
   * the deltas of those pairs, most still `building`.
   */
  async request(ctx: CallContext, firmwareId: string, baseFirmwareIds: readonly string[]): Promise<FirmwareDeltaRecord[]> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    const target = await this.requireImage(tenantId, firmwareId);
    const ids = [...new Set(baseFirmwareIds)];
    if (ids.length === 0) throw new HangarError('VALIDATION_FAILED', 'baseFirmwareIds names no image');
    const bases: FirmwareImage[] = [];
    const errors: Array<{ path: string; message: string }> = [];
    for (const [i, id] of ids.entries()) {
      const base = await this.sources.image(tenantId, id);
      const problem = !base
        ? `no firmware image "${id}"`
        : base.id === target.id
          ? 'an image is not a base of itself'
          : !isOlder(base.version, target.version)
            ? `version ${base.version} is not older than ${target.version}`
            : !shareDeviceType(base, target)
              ? `version ${base.version} is for device types (${base.deviceTypes.join(', ')}) that ${target.version} is not for`
              : undefined;
      if (problem) errors.push({ path: `/baseFirmwareIds/${i}`, message: problem });
      else bases.push(base!);
    }
    if (errors.length > 0) throw new HangarError('VALIDATION_FAILED', errors.map((e) => e.message).join('; '), { errors });
    return this.ensure(ctx, target, bases);
  }

  // ---- DeltaCatalog (rollouts) ----

  async readyDelta(tenantId: string, firmwareId: string, baseVersion: string): Promise<FirmwareDeltaRecord | undefined> {
    return this.stores.firmwareDeltas.readyFrom(tenantId, firmwareId, baseVersion);
  }

  async requestDeltas(tenantId: string, firmwareId: string, baseVersions: readonly string[]): Promise<void> {
    const target = await this.sources.image(tenantId, firmwareId);
    if (!target) return;
    const bases: FirmwareImage[] = [];
    for (const version of new Set(baseVersions)) {
      const base = version === target.version ? undefined : await this.sources.imageByVersion(tenantId, version);
      if (base && base.id !== target.id) bases.push(base);
    }
    if (bases.length > 0) await this.ensure({ principal: systemPrincipal(tenantId) }, target, bases);
  }

  // ---- recording requests ----

  private async ensure(ctx: CallContext, target: FirmwareImage, bases: readonly FirmwareImage[]): Promise<FirmwareDeltaRecord[]> {
    const write = (tx: StoreSet): Promise<{ records: FirmwareDeltaRecord[]; queued: string[] }> => this.record(tx, ctx, target, bases);
    let result: { records: FirmwareDeltaRecord[]; queued: string[] };
    try {
      result = await this.stores.transaction(write);
    } catch (err) {
      // Another request recorded one of these pairs meanwhile: this time it is seen as existing.
      if (!(err instanceof StoreError && err.reason === 'unique')) throw err;
      result = await this.stores.transaction(write);
    }
    for (const id of result.queued) this.enqueue(target.tenantId, id);
    return result.records;
  }

  private async record(tx: StoreSet, ctx: CallContext, target: FirmwareImage, bases: readonly FirmwareImage[]): Promise<{ records: FirmwareDeltaRecord[]; queued: string[] }> {
    const now = this.now();
    const existing = new Map((await tx.firmwareDeltas.listTo(target.tenantId, target.id)).map((d) => [d.baseFirmwareId, d]));
    const records: FirmwareDeltaRecord[] = [];
    const queued: string[] = [];
    for (const base of bases) {
      const have = existing.get(base.id);
      if (have && have.state !== 'failed') {
        records.push(have);
        continue;
      }
      if (have) {
        await tx.firmwareDeltas.rebuild(target.tenantId, have.id);
        records.push({ ...have, state: 'building', size: null, sha256: null, error: null, buildMs: null });
        queued.push(have.id);
        continue;
      }
      const d: FirmwareDeltaRecord = {
        id: newDeltaId(now),
        tenantId: target.tenantId,
        firmwareId: target.id,
        baseFirmwareId: base.id,
        baseVersion: base.version,
        format: this.codec.format,
        state: 'building',
        size: null,
        sha256: null,
        error: null,
        buildMs: null,
        createdAt: now,
      };
      await tx.firmwareDeltas.insert(d);
      records.push(d);
      queued.push(d.id);
    }
    if (queued.length > 0) {
      await recordAudit(tx.audit, ctx, { action: 'firmware.delta.request', target: { type: 'firmware', id: target.id }, summary: { version: target.version, deltas: queued, baseVersions: bases.map((b) => b.version) } }, now);
    }
    return { records, queued };
  }

  // ---- the builder ----

  private enqueue(tenantId: string, id: string): void {
    if (this.stopped) return;
    if (!this.queue.some((q) => q.id === id)) this.queue.push({ tenantId, id });
    this.kickBuilder();
  }

  private kickBuilder(): void {
    if (this.running || this.stopped || this.queue.length === 0) return;
    // Restarted from `finally`: a build queued while the last drain was ending is not left behind.
    this.running = this.drain().finally(() => {
      this.running = undefined;
      this.kickBuilder();
    });
  }

  private async drain(): Promise<void> {
    for (let next = this.queue.shift(); next && !this.stopped; next = this.queue.shift()) {
      try {
        await this.build(next.tenantId, next.id);
      } catch (err) {
        this.logger?.error({ err, deltaId: next.id }, 'delta build failed unexpectedly');
      }
    }
  }

  private async build(tenantId: string, id: string): Promise<void> {
    const delta = await this.stores.firmwareDeltas.get(tenantId, id);
    if (!delta || delta.state !== 'building') return;
    const finished = await this.produce(delta).catch((err: unknown): DeltaOutcome => {
      this.logger?.warn({ err, deltaId: id }, 'delta build failed');
      return { state: 'failed', error: `building the delta failed: ${(err as Error).message}`, size: null, buildMs: null };
    });
    const ended = await this.stores.transaction(async (tx) => {
      if (!(await tx.firmwareDeltas.finish(tenantId, id, finished))) return false;
      await recordAudit(
        tx.audit,
        { principal: systemPrincipal(tenantId) },
        { action: 'firmware.delta.build', target: { type: 'firmware_delta', id }, summary: { firmwareId: delta.firmwareId, baseVersion: delta.baseVersion, state: finished.state, size: finished.size, error: finished.state === 'failed' ? finished.error : null } },
        this.now(),
      );
      return true;
    });
    if (!ended && finished.state === 'ready') {
      // The row went (its image was deleted meanwhile) — unless another node finished it first.
      const now = await this.stores.firmwareDeltas.get(tenantId, id);
      if (!now) await this.artifacts.delete(deltaArtifactKey(id));
    }
    this.logger?.info({ deltaId: id, firmwareId: delta.firmwareId, baseVersion: delta.baseVersion, state: finished.state, size: finished.size, buildMs: finished.buildMs }, 'delta build ended');
  }

  /** Diffs, verifies and stores the patch; a refusal is an outcome, not an exception. */
  private async produce(delta: FirmwareDeltaRecord): Promise<DeltaOutcome> {
    const started = this.now();
    const [target, base] = await Promise.all([this.sources.image(delta.tenantId, delta.firmwareId), this.sources.image(delta.tenantId, delta.baseFirmwareId)]);
    if (!target || !base) return { state: 'failed', error: 'the image or its base was deleted', size: null, buildMs: null };
    if (Math.max(target.size, base.size) > this.maxImageBytes) {
      return { state: 'failed', error: `images above ${formatBytes(this.maxImageBytes)} get no delta (building one needs about 17× the base image in memory)`, size: null, buildMs: null };
    }
    const workDir = await mkdtemp(join(this.options.workDir ?? tmpdir(), 'hangar-delta-'));
    const baseFile = await this.artifacts.localFile(firmwareArtifactKey(base.id));
    try {
      const targetFile = await this.artifacts.localFile(firmwareArtifactKey(target.id));
      try {
        const built = await buildVerifiedDelta({ codec: this.codec, baseFile: baseFile.path, targetFile: targetFile.path, targetSize: target.size, targetSha256: target.sha256, workDir, maxRatio: this.maxRatio });
        if (!built.ok) return { state: 'failed', error: built.error, size: built.size, buildMs: this.now() - started };
        const stored = await this.artifacts.put(deltaArtifactKey(delta.id), createReadStream(built.patchFile), { maxBytes: built.size });
        if (stored.sha256 !== built.sha256) throw new Error('the stored delta differs from the built one');
        return { state: 'ready', size: stored.size, sha256: stored.sha256, buildMs: this.now() - started };
      } finally {
        await targetFile.release();
      }
    } finally {
      await baseFile.release();
      await rm(workDir, { recursive: true, force: true });
    }
  }

  private async forgetImage(tenantId: string, firmwareId: string): Promise<void> {
    const removed = await this.stores.firmwareDeltas.deleteForImage(tenantId, firmwareId);
    for (const d of removed) await this.artifacts.delete(deltaArtifactKey(d.id));
  }

  private async requireImage(tenantId: string, firmwareId: string): Promise<FirmwareImage> {
    const image = await this.sources.image(tenantId, firmwareId);
    if (!image) throw new HangarError('NOT_FOUND', `no firmware image "${firmwareId}"`);
    return image;
  }
}

/** No device could run the base and then install the target when their device types are disjoint (empty: any type). */
function shareDeviceType(base: FirmwareImage, target: FirmwareImage): boolean {
  if (base.deviceTypes.length === 0 || target.deviceTypes.length === 0) return true;
  return base.deviceTypes.some((type) => target.deviceTypes.includes(type));
}

/** Older by SemVer precedence; versions that are not SemVer compare as text. */
function isOlder(a: string, b: string): boolean {
  const ka = semverKey(a);
  const kb = semverKey(b);
  return ka !== null && kb !== null ? ka < kb : a < b;
}

function formatBytes(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`;
}
