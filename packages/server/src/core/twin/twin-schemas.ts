import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { HangarError } from '../../errors.js';
import { recordAudit } from '../audit/audit-service.js';
import type { CallContext } from '../context.js';
import { checkType } from '../registry/device-rules.js';
import type { Stores } from '../stores.js';
import { requireRole } from '../tenancy/principal.js';
import { isJsonObject } from './merge-patch.js';
import type { TwinHalfName, TwinSchemaRecord, TwinStore } from './ports.js';

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020;

/** A schema is configuration, not data: past this it is a mistake (or an attack on the compiler). */
export const MAX_SCHEMA_BYTES = 64 * 1024;
/** Compiled validators kept per node; past it the cache starts again (types are few in practice). */
const MAX_CACHED_TYPES = 1000;

/**
 * JSON Schema 2020-12 through Ajv. `strict` makes a misspelt keyword a refusal when the schema
 * is saved rather than a constraint silently ignored forever; no remote `$ref` is ever fetched
 * (Ajv resolves only what it was given), so an unresolvable reference is refused too.
 */
function makeAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, allErrors: false, validateFormats: true });
  addFormats(ajv);
  return ajv;
}

function describe(error: ErrorObject): string {
  const where = error.instancePath === '' ? '(the document)' : error.instancePath;
  const extra = error.keyword === 'additionalProperties' ? ` ("${String((error.params as { additionalProperty?: string }).additionalProperty)}")` : '';
  return `${where} ${error.message ?? 'is invalid'}${extra}`;
}

/**
 * The validators of each device type's twin schemas, compiled once per schema version (the
 * row's `updatedAt`): every twin write reads the row — one indexed lookup — and reuses the
 * compiled function while the row is unchanged, so a schema change reaches every node at once.
 */
export class TwinSchemaValidators {
  private readonly ajv = makeAjv();
  private readonly cache = new Map<string, { updatedAt: number; desired?: ValidateFunction; reported?: ValidateFunction }>();

  /** Throws VALIDATION_FAILED when `properties` (the half after the patch) breaks the type's schema. */
  async check(twins: Pick<TwinStore, 'getSchema'>, tenantId: string, deviceType: string, half: TwinHalfName, properties: Record<string, unknown>): Promise<void> {
    if (deviceType === '') return;
    const record = await twins.getSchema(tenantId, deviceType);
    const schema = record?.[half];
    if (!record || !schema) return;
    const key = `${tenantId}\u0000${deviceType}`;
    let entry = this.cache.get(key);
    if (!entry || entry.updatedAt !== record.updatedAt) {
      if (this.cache.size >= MAX_CACHED_TYPES) this.cache.clear();
      entry = { updatedAt: record.updatedAt };
      this.cache.set(key, entry);
    }
    const validate = (entry[half] ??= this.ajv.compile(schema));
    if (!validate(properties)) {
      throw new HangarError('VALIDATION_FAILED', `${half} would not match the ${half} schema of device type "${deviceType}": ${describe(validate.errors![0]!)}. Nothing was changed`);
    }
  }

  /** Refuses what is not a JSON Schema this server can compile. */
  compile(half: TwinHalfName, schema: unknown): Record<string, unknown> {
    if (!isJsonObject(schema)) throw new HangarError('VALIDATION_FAILED', `the ${half} schema must be a JSON Schema object`);
    try {
      // A scratch instance: schemas with the same $id must not clash with ones compiled before.
      makeAjv().compile(schema);
    } catch (err) {
      throw new HangarError('VALIDATION_FAILED', `the ${half} schema is not a valid JSON Schema (2020-12): ${(err as Error).message}`);
    }
    return schema;
  }
}

export interface TwinSchemaInput {
  desired?: unknown;
  reported?: unknown;
}

/** Operators' side of twin schemas: one record per device type, each half optional. */
export class TwinSchemaService {
  constructor(
    private readonly stores: Stores,
    private readonly validators: TwinSchemaValidators,
    private readonly now: () => number,
  ) {}

  async list(ctx: CallContext): Promise<TwinSchemaRecord[]> {
    requireRole(ctx.principal, 'viewer');
    return this.stores.twins.listSchemas(ctx.principal.tenantId);
  }

  async get(ctx: CallContext, deviceType: string): Promise<TwinSchemaRecord> {
    requireRole(ctx.principal, 'viewer');
    const record = await this.stores.twins.getSchema(ctx.principal.tenantId, deviceType);
    if (!record) throw new HangarError('NOT_FOUND', `device type "${deviceType}" has no twin schema`);
    return record;
  }

  /** Creates or replaces the schemas of a device type; they apply to twin writes from now on (stored twins are not re-checked). */
  async put(ctx: CallContext, deviceType: string, input: TwinSchemaInput): Promise<TwinSchemaRecord> {
    requireRole(ctx.principal, 'operator');
    checkType(deviceType);
    if (input.desired === undefined && input.reported === undefined) throw new HangarError('VALIDATION_FAILED', 'give a desired schema, a reported schema or both');
    const size = Buffer.byteLength(JSON.stringify(input));
    if (size > MAX_SCHEMA_BYTES) throw new HangarError('PAYLOAD_TOO_LARGE', `the schemas are ${size} bytes; at most ${MAX_SCHEMA_BYTES} are allowed`);
    const record: TwinSchemaRecord = {
      deviceType,
      desired: input.desired === undefined || input.desired === null ? null : this.validators.compile('desired', input.desired),
      reported: input.reported === undefined || input.reported === null ? null : this.validators.compile('reported', input.reported),
      updatedAt: this.now(),
    };
    await this.stores.transaction(async (tx) => {
      // Two saves within one millisecond must still look different to the validator caches.
      const before = await tx.twins.getSchema(ctx.principal.tenantId, deviceType);
      if (before && before.updatedAt >= record.updatedAt) record.updatedAt = before.updatedAt + 1;
      await tx.twins.putSchema(ctx.principal.tenantId, record);
      await recordAudit(tx.audit, ctx, { action: 'twin.schema.put', target: { type: 'device_type', id: deviceType }, summary: { desired: record.desired !== null, reported: record.reported !== null } }, record.updatedAt);
    });
    return record;
  }

  async delete(ctx: CallContext, deviceType: string): Promise<void> {
    requireRole(ctx.principal, 'operator');
    await this.stores.transaction(async (tx) => {
      if (!(await tx.twins.deleteSchema(ctx.principal.tenantId, deviceType))) throw new HangarError('NOT_FOUND', `device type "${deviceType}" has no twin schema`);
      await recordAudit(tx.audit, ctx, { action: 'twin.schema.delete', target: { type: 'device_type', id: deviceType } }, this.now());
    });
  }
}
