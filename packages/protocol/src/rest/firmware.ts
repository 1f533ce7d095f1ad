import { Type, type Static } from 'typebox';
import { IsoTime, Nullable, PageQuery } from './common.js';

/**
 * Firmware registry (`/api/v1/firmware`, docs/firmware.md). The image itself is the request
 * body of `POST /api/v1/firmware` (`application/octet-stream`, streamed); its metadata is in
 * the query string (`FirmwareUploadQuery`).
 */
export const FirmwareUploadQuery = Type.Object(
  {
    version: Type.String({ maxLength: 64, description: 'semantic version (semver 2.0), unique per tenant' }),
    deviceTypes: Type.Optional(Type.String({ maxLength: 2048, description: 'comma-separated device types it may be installed on; empty or absent = any type' })),
    releaseNotes: Type.Optional(Type.String({ maxLength: 16384 })),
    sha256: Type.Optional(Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: 'declared SHA-256 of the image; the upload is refused (and nothing kept) when the bytes differ' })),
    signature: Type.Optional(Type.String({ maxLength: 200, description: "base64 Ed25519 signature of the manifest made with the tenant's external signing key, instead of Hangar signing it" })),
    keyId: Type.Optional(Type.String({ maxLength: 100, description: 'which external key made `signature` (default: the only active external key)' })),
    id: Type.Optional(
      Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', description: 'the image id (default: Hangar makes one); needed with `signature`, because the signed manifest names the image' }),
    ),
  },
  { additionalProperties: false },
);
export type FirmwareUploadQuery = Static<typeof FirmwareUploadQuery>;

export const FirmwareDelta = Type.Object(
  {
    id: Type.String(),
    firmwareId: Type.String(),
    baseFirmwareId: Type.String(),
    baseVersion: Type.String(),
    format: Type.Literal('bsdiff40'),
    state: Type.Union([Type.Literal('building'), Type.Literal('ready'), Type.Literal('failed')]),
    size: Nullable(Type.Integer()),
    sha256: Nullable(Type.String()),
    /** Why building failed (or the delta was not worth it: larger than the full image). */
    error: Nullable(Type.String()),
    buildMs: Nullable(Type.Integer()),
    createdAt: IsoTime,
  },
  { $id: 'FirmwareDelta' },
);
export type FirmwareDelta = Static<typeof FirmwareDelta>;

export const Firmware = Type.Object(
  {
    id: Type.String(),
    version: Type.String(),
    deviceTypes: Type.Array(Type.String()),
    releaseNotes: Type.String(),
    size: Type.Integer(),
    sha256: Type.String(),
    /** The signed manifest (canonical JSON in `@hangar/protocol` `canonicalManifest`). */
    manifest: Type.Object({ v: Type.Literal(1), firmwareId: Type.String(), version: Type.String(), deviceTypes: Type.Array(Type.String()), size: Type.Integer(), sha256: Type.String() }),
    signature: Type.String({ description: 'base64 Ed25519 signature over the canonical manifest' }),
    keyId: Type.String(),
    /** `hangar`: signed by the tenant's Hangar-held key; `external`: the customer supplied it. */
    signedBy: Type.Union([Type.Literal('hangar'), Type.Literal('external')]),
    createdBy: Type.String(),
    createdAt: IsoTime,
  },
  { $id: 'Firmware' },
);
export type Firmware = Static<typeof Firmware>;

export const FirmwareListQuery = Type.Object(
  { ...PageQuery, deviceType: Type.Optional(Type.String({ maxLength: 128, description: 'only images installable on this type' })) },
  { additionalProperties: false },
);

export const NewDeltas = Type.Object(
  { baseFirmwareIds: Type.Array(Type.String(), { minItems: 1, maxItems: 50, description: 'build deltas from these earlier images to this one' }) },
  { additionalProperties: false },
);
export type NewDeltas = Static<typeof NewDeltas>;

/** A tenant's firmware signing key. `hangar` keys sign uploads; `external` keys verify signatures customers bring. */
export const SigningKey = Type.Object(
  {
    keyId: Type.String(),
    kind: Type.Union([Type.Literal('hangar'), Type.Literal('external')]),
    state: Type.Union([Type.Literal('active'), Type.Literal('retired')]),
    algorithm: Type.Literal('ed25519'),
    publicKeyPem: Type.String(),
    createdAt: IsoTime,
    retiredAt: Nullable(IsoTime),
  },
  { $id: 'SigningKey' },
);
export type SigningKey = Static<typeof SigningKey>;

export const NewExternalSigningKey = Type.Object(
  { publicKeyPem: Type.String({ maxLength: 4096, description: 'SPKI PEM of an Ed25519 public key' }) },
  { additionalProperties: false },
);
export type NewExternalSigningKey = Static<typeof NewExternalSigningKey>;
