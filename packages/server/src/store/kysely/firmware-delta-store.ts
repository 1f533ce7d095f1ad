import type { Kysely, Selectable } from 'kysely';
import type { FirmwareDeltaRecord } from '../../core/firmware/catalog.js';
import type { DeltaOutcome, FirmwareDeltaStore } from '../../core/firmware/delta/ports.js';
import type { Database, FirmwareDeltasTable } from '../schema.js';

type Row = Selectable<FirmwareDeltasTable>;

const numOrNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

function fromRow(r: Row): FirmwareDeltaRecord {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    firmwareId: r.firmware_id,
    baseFirmwareId: r.base_firmware_id,
    baseVersion: r.base_version,
    format: r.format as FirmwareDeltaRecord['format'],
    state: r.state as FirmwareDeltaRecord['state'],
    size: numOrNull(r.size),
    sha256: r.sha256,
    error: r.error,
    buildMs: numOrNull(r.build_ms),
    createdAt: Number(r.created_at),
  };
}

export class KyselyFirmwareDeltaStore implements FirmwareDeltaStore {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(d: FirmwareDeltaRecord): Promise<void> {
    await this.db
      .insertInto('firmware_deltas')
      .values({
        id: d.id,
        tenant_id: d.tenantId,
        firmware_id: d.firmwareId,
        base_firmware_id: d.baseFirmwareId,
        base_version: d.baseVersion,
        format: d.format,
        state: d.state,
        size: d.size,
        sha256: d.sha256,
        error: d.error,
        build_ms: d.buildMs,
        created_at: d.createdAt,
      })
      .execute();
  }

  async get(tenantId: string, id: string): Promise<FirmwareDeltaRecord | undefined> {
    const row = await this.db.selectFrom('firmware_deltas').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }

  async listTo(tenantId: string, firmwareId: string): Promise<FirmwareDeltaRecord[]> {
    const rows = await this.db.selectFrom('firmware_deltas').selectAll().where('tenant_id', '=', tenantId).where('firmware_id', '=', firmwareId).orderBy('created_at').orderBy('id').execute();
    return rows.map(fromRow);
  }

  async readyFrom(tenantId: string, firmwareId: string, baseVersion: string): Promise<FirmwareDeltaRecord | undefined> {
    const row = await this.db
      .selectFrom('firmware_deltas')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('firmware_id', '=', firmwareId)
      .where('base_version', '=', baseVersion)
      .where('state', '=', 'ready')
      // Versions are unique per tenant, so at most one; the smallest if a registry ever allowed more.
      .orderBy('size')
      .executeTakeFirst();
    return row ? fromRow(row) : undefined;
  }

  async building(): Promise<FirmwareDeltaRecord[]> {
    return (await this.db.selectFrom('firmware_deltas').selectAll().where('state', '=', 'building').orderBy('created_at').orderBy('id').execute()).map(fromRow);
  }

  async rebuild(tenantId: string, id: string): Promise<boolean> {
    const r = await this.db
      .updateTable('firmware_deltas')
      .set({ state: 'building', size: null, sha256: null, error: null, build_ms: null })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .where('state', '=', 'failed')
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async finish(tenantId: string, id: string, outcome: DeltaOutcome): Promise<boolean> {
    const values =
      outcome.state === 'ready'
        ? { state: 'ready', size: outcome.size, sha256: outcome.sha256, error: null, build_ms: outcome.buildMs }
        : { state: 'failed', size: outcome.size, sha256: null, error: outcome.error, build_ms: outcome.buildMs };
    const r = await this.db.updateTable('firmware_deltas').set(values).where('tenant_id', '=', tenantId).where('id', '=', id).where('state', '=', 'building').executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async deleteForImage(tenantId: string, firmwareId: string): Promise<FirmwareDeltaRecord[]> {
    const rows = await this.db
      .selectFrom('firmware_deltas')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where((eb) => eb.or([eb('firmware_id', '=', firmwareId), eb('base_firmware_id', '=', firmwareId)]))
      .execute();
    if (rows.length === 0) return [];
    await this.db
      .deleteFrom('firmware_deltas')
      .where('tenant_id', '=', tenantId)
      .where(
        'id',
        'in',
        rows.map((r) => r.id),
      )
      .execute();
    return rows.map(fromRow);
  }
}
