import type { Readable } from 'node:stream';
import { HangarError } from '../../errors.js';
import type { Stores } from '../stores.js';
import { recordAudit } from '../audit/audit-service.js';
import type { CallContext } from '../context.js';
import { ChangeEvents } from '../events/change-events.js';
import { requireRole } from '../tenancy/principal.js';
import type { Device } from './device.js';
import { checkAttributes, checkDeviceId, checkTags, checkType, mergePatch, sameJson } from './device-rules.js';
import { DEFAULT_DEVICE_TYPE, newDevice, registerDevices, type Registration } from './register-device.js';
import { csvRows, ndjsonRows, type ImportFormat, type ImportRow } from './import-rows.js';

export interface ImportError {
  line: number;
  id?: string;
  reason: string;
}

export interface ImportReport {
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
  errors: ImportError[];
  errorsTruncated: boolean;
}

const BATCH_ROWS = 1000;
const MAX_REPORTED_ERRORS = 1000;

interface CheckedRow {
  line: number;
  id: string;
  type?: string;
  tags: Record<string, string>;
  attributes: Record<string, unknown>;
}

/**
 * Bulk import: streams rows, checks each, and commits them in batches of BATCH_ROWS, one
 * transaction per batch. A batch is all-or-nothing, so an import cut off half-way leaves
 * whole batches stored and nothing half-written; re-running it converges (existing devices
 * of the tenant are brought to the row's values, identical rows count as unchanged).
 */
export class DeviceImportService {
  constructor(
    private readonly stores: Stores,
    private readonly now: () => number = Date.now,
    private readonly events: ChangeEvents = new ChangeEvents(undefined),
  ) {}

  async import(ctx: CallContext, input: Readable, format: ImportFormat, onProgress?: (report: ImportReport) => void): Promise<ImportReport> {
    requireRole(ctx.principal, 'operator');
    const report: ImportReport = { created: 0, updated: 0, unchanged: 0, failed: 0, errors: [], errorsTruncated: false };
    const fail = (e: ImportError): void => {
      report.failed += 1;
      if (report.errors.length < MAX_REPORTED_ERRORS) report.errors.push(e);
      else report.errorsTruncated = true;
    };
    let batch: CheckedRow[] = [];
    let completed = false;
    try {
      const rows: AsyncIterable<ImportRow> = format === 'csv' ? csvRows(input) : ndjsonRows(input);
      for await (const row of rows) {
        if (row.error !== undefined || !row.fields) {
          fail({ line: row.line, reason: row.error ?? 'unreadable row' });
          if (row.fatal) break;
          continue;
        }
        const checked = checkRow(row);
        if ('reason' in checked) {
          fail(checked);
          continue;
        }
        batch.push(checked);
        if (batch.length >= BATCH_ROWS) {
          await this.applyBatch(ctx, batch, report, fail);
          batch = [];
          onProgress?.(report);
        }
      }
      if (batch.length > 0) await this.applyBatch(ctx, batch, report, fail);
      completed = true;
      // Row faults are found as rows are read, store faults as batches commit: report in file order.
      report.errors.sort((a, b) => a.line - b.line);
      return report;
    } finally {
      // The import is one call, so it gets one audit entry — also when the client went away.
      await recordAudit(
        this.stores.audit,
        ctx,
        {
          action: 'device.import',
          target: { type: 'device', id: '*' },
          summary: { format, created: report.created, updated: report.updated, unchanged: report.unchanged, failed: report.failed, completed },
        },
        this.now(),
      ).catch(() => undefined);
    }
  }

  private async applyBatch(ctx: CallContext, rows: CheckedRow[], report: ImportReport, fail: (e: ImportError) => void): Promise<void> {
    const tenantId = ctx.principal.tenantId;
    // A file that names an id twice within one batch: the first row wins, later ones are reported.
    const firstLine = new Map<string, number>();
    const unique: CheckedRow[] = [];
    for (const r of rows) {
      const seen = firstLine.get(r.id);
      if (seen !== undefined) {
        fail({ line: r.line, id: r.id, reason: `duplicate id in this file (first on line ${seen})` });
        continue;
      }
      firstLine.set(r.id, r.line);
      unique.push(r);
    }
    const events = await this.stores.transaction(async (tx) => {
      const owners = await tx.devices.findOwners(unique.map((r) => r.id));
      const now = this.now();
      const inserts: Registration[] = [];
      const updates: Device[] = [];
      let unchanged = 0;
      const failures: ImportError[] = [];
      for (const r of unique) {
        const existing = owners.get(r.id);
        if (!existing) {
          inserts.push({ device: { ...newDevice(tenantId, { id: r.id }, now), type: r.type ?? DEFAULT_DEVICE_TYPE, tags: r.tags, attributes: r.attributes }, groups: [] });
          continue;
        }
        if (existing.tenantId !== tenantId) {
          failures.push({ line: r.line, id: r.id, reason: 'device id is already taken' });
          continue;
        }
        if (existing.status === 'decommissioned') {
          failures.push({ line: r.line, id: r.id, reason: 'device is decommissioned' });
          continue;
        }
        const next: Device = {
          ...existing,
          type: r.type ?? existing.type,
          tags: { ...existing.tags, ...r.tags },
          attributes: mergePatch(existing.attributes, r.attributes) as Record<string, unknown>,
        };
        if (next.type === existing.type && sameJson(next.tags, existing.tags) && sameJson(next.attributes, existing.attributes)) {
          unchanged += 1;
          continue;
        }
        if (Object.keys(next.tags).length > 64) {
          failures.push({ line: r.line, id: r.id, reason: 'a device has at most 64 tags' });
          continue;
        }
        updates.push({ ...next, updatedAt: now });
      }
      // The import is audited once, as one call (below), not per device.
      const registered = await registerDevices(tx, inserts, { groups: 'refuse', idsChecked: true, now });
      for (const { registration, error } of registered.refused) failures.push({ line: firstLine.get(registration.device.id) ?? 0, id: registration.device.id, reason: error.message });
      await this.events.stage(tx, registered.events);
      for (const d of updates) await tx.devices.update(d);
      // Counted only once the batch's transaction is sure to commit.
      report.created += registered.registered.length;
      report.updated += updates.length;
      report.unchanged += unchanged;
      for (const f of failures) fail(f);
      return registered.events;
    });
    // Alert rules, live-session tombstones, streams and webhooks hear of imported devices as of any other.
    this.events.publish(events);
  }
}

function checkRow(row: ImportRow): CheckedRow | ImportError {
  const f = row.fields!;
  const idText = typeof f.id === 'string' ? f.id : undefined;
  try {
    if (f.id === undefined || f.id === '') throw new HangarError('VALIDATION_FAILED', 'missing id');
    const id = checkDeviceId(f.id);
    const out: CheckedRow = {
      line: row.line,
      id,
      tags: (f.tags === undefined ? {} : checkTags(f.tags, false)) as Record<string, string>,
      attributes: f.attributes === undefined ? {} : checkAttributes(f.attributes),
    };
    if (f.type !== undefined) out.type = checkType(f.type);
    return out;
  } catch (err) {
    if (err instanceof HangarError) return { line: row.line, ...(idText !== undefined && idText !== '' ? { id: idText.slice(0, 128) } : {}), reason: err.message };
    throw err;
  }
}
