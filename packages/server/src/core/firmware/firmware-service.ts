import type { Logger } from 'pino';
import type { FirmwareManifest } from '@hangar/protocol';
import type { DomainEvent } from '../../bus/events.js';
import { HangarError } from '../../errors.js';
import { recordAudit } from '../audit/audit-service.js';
import type { CallContext } from '../context.js';
import type { ChangeEvents } from '../events/change-events.js';
import { encodeCursor, decodeCursor, type Page } from '../pagination.js';
import { semverKey } from '../query/semver-key.js';
import { TYPE_PATTERN } from '../registry/device.js';
import { StoreError, type Stores } from '../stores.js';
import { requireRole } from '../tenancy/principal.js';
import { newId } from '../tenancy/secrets.js';
import { firmwareArtifactKey, type ArtifactStore } from './artifact-store.js';
import type { FirmwareCatalog, FirmwareImage } from './catalog.js';
import { signManifest, verifyManifest } from './manifest-signer.js';
import type { FirmwareListPosition } from './ports.js';
import type { FirmwareSigningKeys } from './signing-keys.js';

/** Whether a rollout uses an image (the rollouts context answers; an image in use cannot be deleted). */
export interface FirmwareUsage {
  inUse(tenantId: string, firmwareId: string): Promise<boolean>;
}

export interface FirmwareUploadInput {
  version: string;
  /** Device types it may be installed on; empty or absent: any. */
  deviceTypes?: readonly string[] | undefined;
  releaseNotes?: string | undefined;
  /** Declared SHA-256 (hex): the upload is refused, and nothing kept, when the bytes differ. */
  sha256?: string | undefined;
  /** A base64 Ed25519 signature of the manifest made with an external key, instead of Hangar signing it. */
  signature?: string | undefined;
  keyId?: string | undefined;
  /** The image's id (default: made here). An external signer needs it beforehand: the manifest names it. */
  id?: string | undefined;
  /** The body's Content-Length when known, so an oversize upload is refused before a byte is stored. */
  declaredSize?: number | undefined;
}

export interface FirmwareListQuery {
  deviceType?: string | undefined;
  cursor?: string | undefined;
  limit: number;
}

export interface FirmwareDownload {
  image: FirmwareImage;
  /** Strong validator of the bytes: their SHA-256 (artifacts never change once written). */
  etag: string;
  read(range?: { start: number; end: number }): AsyncIterable<Uint8Array>;
}

export interface FirmwareServiceOptions {
  /** Largest image accepted, in bytes (default 2 GiB; `--firmware-max-bytes`). */
  maxBytes?: number | undefined;
  usage?: FirmwareUsage | undefined;
  now?: (() => number) | undefined;
  logger?: Logger | undefined;
}

export const DEFAULT_FIRMWARE_MAX_BYTES = 2 * 1024 * 1024 * 1024;
const MAX_DEVICE_TYPES = 100;
const MAX_RELEASE_NOTES = 16_384;
const MAX_VERSION = 64;
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const SHA256 = /^[0-9a-fA-F]{64}$/;

/**
 * The firmware registry: images streamed into the artifact store (never held whole), with
 * version (SemVer, unique per tenant), device types, release notes, size, SHA-256 and a
 * manifest signed with the tenant's Ed25519 key — or verified against a customer's external
 * key. Whatever refuses an upload (a wrong declared hash, a bad signature, a taken version, a
 * cut or oversize body) leaves neither row nor artifact. Implements `FirmwareCatalog` for the
 * rollout engine.
 */
export class FirmwareService implements FirmwareCatalog {
  readonly maxBytes: number;
  private usage: FirmwareUsage | undefined;
  private readonly now: () => number;
  private readonly logger: Logger | undefined;

  constructor(
    private readonly stores: Stores,
    private readonly artifacts: ArtifactStore,
    private readonly keys: FirmwareSigningKeys,
    private readonly events: ChangeEvents,
    options: FirmwareServiceOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? DEFAULT_FIRMWARE_MAX_BYTES;
    this.usage = options.usage;
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
  }

  /** The rollouts context is built after the registry: it hands over its usage check here. */
  setUsage(usage: FirmwareUsage): void {
    this.usage = usage;
  }

  async upload(ctx: CallContext, input: FirmwareUploadInput, body: AsyncIterable<Uint8Array>): Promise<FirmwareImage> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    const checked = checkUpload(input, this.maxBytes);
    // Refusals that need no bytes come first, so a doomed 2 GiB upload is not stored to be thrown away.
    if (await this.stores.firmware.getByVersionKey(tenantId, checked.versionKey)) throw versionTaken(checked.version);
    const external = checked.signature !== undefined ? await this.keys.externalVerifier(tenantId, checked.keyId) : undefined;
    if (checked.id !== undefined && (await this.stores.firmware.get(tenantId, checked.id))) throw new HangarError('FIRMWARE_EXISTS', `firmware "${checked.id}" already exists`);
    const id = checked.id ?? newId('fw');
    const key = firmwareArtifactKey(id);

    const stored = await this.artifacts.put(key, body, { maxBytes: this.maxBytes }).catch((err: unknown) => {
      // An id taken by another tenant's image: its artifact is there, and must stay untouched.
      if (err instanceof StoreError && err.reason === 'unique') throw new HangarError('FIRMWARE_EXISTS', `firmware id "${checked.id}" is taken; choose another`);
      throw err;
    });
    try {
      if (stored.size === 0) throw new HangarError('VALIDATION_FAILED', 'the image is empty: send its bytes as the request body (application/octet-stream)');
      if (checked.sha256 !== undefined && checked.sha256 !== stored.sha256) {
        throw new HangarError('VALIDATION_FAILED', `the image's SHA-256 is ${stored.sha256}, not the declared ${checked.sha256}: the upload was corrupted or the wrong file was sent`);
      }
      const manifest: FirmwareManifest = { v: 1, firmwareId: id, version: checked.version, deviceTypes: checked.deviceTypes, size: stored.size, sha256: stored.sha256 };
      let signature: string;
      let keyId: string;
      if (external) {
        if (!verifyManifest(manifest, checked.signature!, external.publicKey)) {
          throw new HangarError('SIGNATURE_INVALID', `the signature does not verify with external key "${external.keyId}" over the manifest ${JSON.stringify(manifest)} (see docs/firmware.md, "External signing")`);
        }
        signature = checked.signature!;
        keyId = external.keyId;
      } else {
        const signer = await this.keys.activeSigner(tenantId);
        signature = signManifest(manifest, signer.privateKey);
        keyId = signer.keyId;
      }
      const now = this.now();
      const image: FirmwareImage = {
        id,
        tenantId,
        version: checked.version,
        deviceTypes: checked.deviceTypes,
        releaseNotes: checked.releaseNotes,
        size: stored.size,
        sha256: stored.sha256,
        manifest,
        signature,
        keyId,
        signedBy: external ? 'external' : 'hangar',
        createdBy: `${ctx.principal.type}:${ctx.principal.id}`,
        createdAt: now,
      };
      await this.events.transaction(this.stores, async (tx, events: DomainEvent[]) => {
        try {
          await tx.firmware.insert(image, checked.versionKey);
        } catch (err) {
          if (err instanceof StoreError && err.reason === 'unique') throw versionTaken(checked.version);
          throw err;
        }
        await recordAudit(tx.audit, ctx, { action: 'firmware.upload', target: { type: 'firmware', id }, summary: { version: image.version, size: image.size, sha256: image.sha256, deviceTypes: image.deviceTypes, signedBy: image.signedBy, keyId } }, now);
        events.push({ type: 'firmware.uploaded', tenantId, firmwareId: id, version: image.version });
      });
      return image;
    } catch (err) {
      await this.artifacts.delete(key).catch((e: unknown) => this.logger?.warn({ err: e, key }, 'could not remove the artifact of a refused upload'));
      throw err;
    }
  }

  async get(ctx: CallContext, id: string): Promise<FirmwareImage> {
    requireRole(ctx.principal, 'viewer');
    return this.require(ctx.principal.tenantId, id);
  }

  async list(ctx: CallContext, query: FirmwareListQuery): Promise<Page<FirmwareImage>> {
    requireRole(ctx.principal, 'viewer');
    if (query.deviceType !== undefined && !TYPE_PATTERN.test(query.deviceType)) throw new HangarError('VALIDATION_FAILED', `deviceType ${JSON.stringify(query.deviceType)} is not a device type`);
    const rows = await this.stores.firmware.list({ tenantId: ctx.principal.tenantId, deviceType: query.deviceType, after: decodePosition(query.cursor), limit: query.limit + 1 });
    const more = rows.length > query.limit;
    const items = more ? rows.slice(0, query.limit) : rows;
    const last = items[items.length - 1];
    return { items, nextCursor: more && last ? encodeCursor(`${last.createdAt}.${last.id}`) : null };
  }

  /** Refused while a rollout uses the image. Its deltas go with it (the delta context listens to `firmware.deleted`). */
  async delete(ctx: CallContext, id: string): Promise<void> {
    requireRole(ctx.principal, 'operator');
    const tenantId = ctx.principal.tenantId;
    const image = await this.require(tenantId, id);
    if (this.usage && (await this.usage.inUse(tenantId, id))) throw new HangarError('FIRMWARE_IN_USE', `firmware "${id}" (${image.version}) is used by a rollout; finish or abort it first`);
    const now = this.now();
    const deleted = await this.events.transaction(this.stores, async (tx, events: DomainEvent[]) => {
      if (!(await tx.firmware.delete(tenantId, id))) return false;
      await recordAudit(tx.audit, ctx, { action: 'firmware.delete', target: { type: 'firmware', id }, summary: { version: image.version, sha256: image.sha256 } }, now);
      events.push({ type: 'firmware.deleted', tenantId, firmwareId: id });
      return true;
    });
    if (!deleted) throw notFound(id);
    // After the commit: a failure here leaves an unreferenced artifact, never a row without its bytes.
    await this.artifacts.delete(firmwareArtifactKey(id)).catch((err: unknown) => this.logger?.warn({ err, firmwareId: id }, 'could not remove the artifact of a deleted image'));
  }

  /** The image's bytes for an operator download (ranges: core/firmware/byte-range.ts). */
  async download(ctx: CallContext, id: string): Promise<FirmwareDownload> {
    requireRole(ctx.principal, 'viewer');
    const image = await this.require(ctx.principal.tenantId, id);
    const key = firmwareArtifactKey(id);
    return { image, etag: `"${image.sha256}"`, read: (range) => this.artifacts.read(key, range) };
  }

  // FirmwareCatalog
  async image(tenantId: string, firmwareId: string): Promise<FirmwareImage | undefined> {
    return this.stores.firmware.get(tenantId, firmwareId);
  }

  /** The tenant's image of this version (by SemVer precedence), for the delta builder (FirmwareVersionLookup). */
  async imageByVersion(tenantId: string, version: string): Promise<FirmwareImage | undefined> {
    const key = semverKey(version);
    return key === null ? undefined : this.stores.firmware.getByVersionKey(tenantId, key);
  }

  private async require(tenantId: string, id: string): Promise<FirmwareImage> {
    const image = await this.stores.firmware.get(tenantId, id);
    if (!image) throw notFound(id);
    return image;
  }
}

interface CheckedUpload {
  version: string;
  versionKey: string;
  deviceTypes: string[];
  releaseNotes: string;
  sha256?: string | undefined;
  signature?: string | undefined;
  keyId?: string | undefined;
  id?: string | undefined;
}

function checkUpload(input: FirmwareUploadInput, maxBytes: number): CheckedUpload {
  const version = input.version;
  const versionKey = typeof version === 'string' && version.length <= MAX_VERSION ? semverKey(version) : null;
  if (versionKey === null) throw new HangarError('VALIDATION_FAILED', `version ${JSON.stringify(version)} is not a semantic version (SemVer 2.0, e.g. 1.4.2 or 2.0.0-rc.1)`);
  const types = new Set<string>();
  for (const t of input.deviceTypes ?? []) {
    if (!TYPE_PATTERN.test(t)) throw new HangarError('VALIDATION_FAILED', `device type ${JSON.stringify(t)} is invalid: use 1–64 characters of A–Z a–z 0–9 . _ : -`);
    types.add(t);
  }
  if (types.size > MAX_DEVICE_TYPES) throw new HangarError('VALIDATION_FAILED', `at most ${MAX_DEVICE_TYPES} device types`);
  const releaseNotes = input.releaseNotes ?? '';
  if (typeof releaseNotes !== 'string' || releaseNotes.length > MAX_RELEASE_NOTES) throw new HangarError('VALIDATION_FAILED', `release notes are limited to ${MAX_RELEASE_NOTES} characters`);
  if (input.sha256 !== undefined && !SHA256.test(input.sha256)) throw new HangarError('VALIDATION_FAILED', 'sha256 must be 64 hexadecimal characters');
  if (input.id !== undefined && !ID_PATTERN.test(input.id)) throw new HangarError('VALIDATION_FAILED', 'id must be 1–64 characters of A–Z a–z 0–9 _ . - (starting with a letter or digit)');
  if (input.signature !== undefined && input.id === undefined) {
    throw new HangarError('VALIDATION_FAILED', 'an upload with a signature needs its id: the signed manifest names the image (docs/firmware.md, "External signing")');
  }
  if (input.keyId !== undefined && input.signature === undefined) throw new HangarError('VALIDATION_FAILED', 'keyId names the external key of a signature: send signature too');
  if (input.declaredSize !== undefined && input.declaredSize > maxBytes) throw new HangarError('PAYLOAD_TOO_LARGE', `the image (${input.declaredSize} bytes) exceeds the limit of ${maxBytes} bytes`);
  return { version, versionKey, deviceTypes: [...types].sort(), releaseNotes, sha256: input.sha256?.toLowerCase(), signature: input.signature, keyId: input.keyId, id: input.id };
}

function decodePosition(cursor: string | undefined): FirmwareListPosition | undefined {
  const text = decodeCursor(cursor);
  if (text === undefined) return undefined;
  const dot = text.indexOf('.');
  const createdAt = Number(text.slice(0, dot));
  if (dot <= 0 || !Number.isSafeInteger(createdAt)) throw new HangarError('INVALID_CURSOR', 'this cursor is not one the firmware list issued');
  return { createdAt, id: text.slice(dot + 1) };
}

function versionTaken(version: string): HangarError {
  return new HangarError('FIRMWARE_EXISTS', `version ${version} is already in the registry (delete it first to replace it; versions that differ only in build metadata or a leading "v" are the same version)`);
}

function notFound(id: string): HangarError {
  return new HangarError('FIRMWARE_NOT_FOUND', `firmware "${id}" does not exist`);
}
