import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskTelemetryBuffer, MemoryTelemetryBuffer, type TelemetryRecord } from './telemetry-buffer.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-buffer-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const rec = (n: number): TelemetryRecord => ({ ts: 1_700_000_000_000 + n, values: { n } });
const ns = (records: TelemetryRecord[]): number[] => records.map((r) => r.values.n as number);

function drain(buffer: DiskTelemetryBuffer | MemoryTelemetryBuffer, batch = 3): number[] {
  const out: number[] = [];
  while (buffer.size > 0) {
    const { records, span } = buffer.peek(batch);
    out.push(...ns(records));
    buffer.ack(span);
  }
  return out;
}

describe('DiskTelemetryBuffer', () => {
  it('gives records back in the order appended, across segments', () => {
    const b = new DiskTelemetryBuffer(dir, { maxRecords: 16 }); // segments of 2 records
    for (let i = 1; i <= 10; i += 1) b.append(rec(i));
    expect(b.size).toBe(10);
    expect(ns(b.peek(4).records)).toEqual([1, 2, 3, 4]);
    expect(drain(b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(b.dropped).toBe(0);
    b.close();
  });

  it('drops the oldest past its bound and counts them', () => {
    const b = new DiskTelemetryBuffer(dir, { maxRecords: 5 });
    for (let i = 1; i <= 12; i += 1) b.append(rec(i));
    expect(b.size).toBe(5);
    expect(b.dropped).toBe(7);
    expect(drain(b)).toEqual([8, 9, 10, 11, 12]);
    b.close();
  });

  it('survives a restart: undelivered records, their order and the drop count stay', () => {
    const first = new DiskTelemetryBuffer(dir, { maxRecords: 8 });
    for (let i = 1; i <= 10; i += 1) first.append(rec(i));
    first.ack(first.peek(3).span); // 3, 4, 5 delivered (1, 2 dropped)
    first.close();
    const second = new DiskTelemetryBuffer(dir, { maxRecords: 8 });
    expect(second.size).toBe(5);
    expect(second.dropped).toBe(2);
    second.append(rec(11));
    expect(drain(second)).toEqual([6, 7, 8, 9, 10, 11]);
    second.close();
    const third = new DiskTelemetryBuffer(dir, { maxRecords: 8 });
    expect(third.size).toBe(0);
    third.close();
  });

  it('skips a torn last line left by a crash mid-append and appends on a clean line', () => {
    const b = new DiskTelemetryBuffer(dir, { maxRecords: 100 });
    b.append(rec(1));
    b.append(rec(2));
    b.close();
    const segment = readdirSync(dir).find((f) => f.endsWith('.ndjson'))!;
    appendFileSync(join(dir, segment), '{"ts":17000000');
    const after = new DiskTelemetryBuffer(dir, { maxRecords: 100 });
    expect(after.size).toBe(2);
    after.append(rec(3));
    expect(drain(after)).toEqual([1, 2, 3]);
    after.close();
  });

  it('deletes delivered segments', () => {
    const b = new DiskTelemetryBuffer(dir, { maxRecords: 8 });
    for (let i = 1; i <= 8; i += 1) b.append(rec(i));
    expect(readdirSync(dir).filter((f) => f.endsWith('.ndjson')).length).toBe(8);
    drain(b);
    expect(readdirSync(dir).filter((f) => f.endsWith('.ndjson')).length).toBeLessThanOrEqual(1);
    b.close();
  });

  it('refuses a bound below one record', () => {
    expect(() => new DiskTelemetryBuffer(dir, { maxRecords: 0 })).toThrow(/at least 1 record/);
  });
});

describe('MemoryTelemetryBuffer', () => {
  it('keeps order and drops the oldest past its bound', () => {
    const b = new MemoryTelemetryBuffer({ maxRecords: 3 });
    for (let i = 1; i <= 5; i += 1) b.append(rec(i));
    expect(b.dropped).toBe(2);
    expect(drain(b, 2)).toEqual([3, 4, 5]);
  });
});
