/**
 * The agent's outbox of telemetry records: every reading is appended here first and sent from
 * here in order, so that readings taken offline (or while a send is failing) are replayed in
 * the order they were taken, and nothing is lost between "taken" and "acknowledged".
 *
 * The disk form is append-only NDJSON segment files plus a small cursor file, not SQLite: the
 * agent must run on devices without a native module toolchain, and the only operations are
 * "append at the tail" and "forget at the head". An append is one write + fsync of a whole
 * line, so a crash leaves at worst a torn last line, which is recognised (no newline / not
 * JSON) and skipped on the next start. The cursor (first undelivered record, records dropped
 * so far) is replaced by write-to-temp + fsync + rename, which is atomic. A crash between a
 * send and the cursor write resends those records once more (at-least-once), which readings
 * carrying their own `ts` tolerate.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** One reading as it goes on the wire: `{"ts":ms,"values":{…}}`. */
export interface TelemetryRecord {
  ts: number;
  values: Record<string, unknown>;
}

export interface TelemetryBuffer {
  /** Appends a record; past the bound the oldest record is dropped (and counted). */
  append(record: TelemetryRecord): void;
  /** Up to `max` of the oldest records, without removing them; `span` is what to `ack` once they are delivered (it counts unreadable lines too). */
  peek(max: number): { records: TelemetryRecord[]; span: number };
  /** Forgets the `count` oldest records (they were delivered). */
  ack(count: number): void;
  readonly size: number;
  /** Records dropped because the buffer was full, since it was first created. */
  readonly dropped: number;
  close(): void;
}

export interface BufferLimits {
  /** Records kept at most; the oldest go first. */
  maxRecords: number;
}

export const DEFAULT_BUFFER_LIMITS: BufferLimits = { maxRecords: 100_000 };

/** The simulator's virtual agents keep their outbox in memory: thousands of them share one disk. */
export class MemoryTelemetryBuffer implements TelemetryBuffer {
  private records: TelemetryRecord[] = [];
  private droppedCount = 0;

  constructor(private readonly limits: BufferLimits = DEFAULT_BUFFER_LIMITS) {}

  append(record: TelemetryRecord): void {
    this.records.push(record);
    while (this.records.length > this.limits.maxRecords) {
      this.records.shift();
      this.droppedCount += 1;
    }
  }

  peek(max: number): { records: TelemetryRecord[]; span: number } {
    const records = this.records.slice(0, max);
    return { records, span: records.length };
  }

  ack(count: number): void {
    this.records.splice(0, count);
  }

  get size(): number {
    return this.records.length;
  }

  get dropped(): number {
    return this.droppedCount;
  }

  close(): void {}
}

interface Segment {
  seq: number;
  /** Complete lines in the file (including ones before the cursor). */
  lines: number;
}

interface Cursor {
  /** Segment holding the first undelivered record, and how many of its lines are done. */
  seq: number;
  line: number;
  dropped: number;
}

const SEGMENT_NAME = /^(\d{12})\.ndjson$/;
const CURSOR_FILE = 'cursor.json';

export class DiskTelemetryBuffer implements TelemetryBuffer {
  private readonly segments: Segment[] = [];
  private cursor: Cursor;
  private tailFd: number | undefined;
  private total = 0;
  /** The head segment's parsed lines, read once per segment rather than once per peek. */
  private headCache: { seq: number; records: (TelemetryRecord | undefined)[] } | undefined;
  private readonly segmentLines: number;

  constructor(
    private readonly dir: string,
    private readonly limits: BufferLimits = DEFAULT_BUFFER_LIMITS,
  ) {
    if (!Number.isInteger(limits.maxRecords) || limits.maxRecords < 1) throw new Error(`the buffer holds at least 1 record, not ${limits.maxRecords}`);
    // Small enough that dropping or delivering frees disk soon, large enough to keep files few.
    this.segmentLines = Math.max(1, Math.min(1000, Math.ceil(limits.maxRecords / 8)));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.cursor = this.readCursor();
    for (const name of readdirSync(dir).sort()) {
      const m = SEGMENT_NAME.exec(name);
      if (!m) continue;
      const seq = Number(m[1]);
      if (seq < this.cursor.seq) {
        rmSync(join(dir, name), { force: true });
        continue;
      }
      this.segments.push({ seq, lines: this.completeLines(seq) });
    }
    if (this.segments.length === 0 || this.segments[0]!.seq !== this.cursor.seq) {
      // The cursor's segment is gone (all delivered): start at the first one there is.
      this.cursor = { seq: this.segments[0]?.seq ?? this.cursor.seq, line: 0, dropped: this.cursor.dropped };
    }
    this.total = this.segments.reduce((n, s) => n + s.lines, 0) - this.cursor.line;
    if (this.total < 0) this.total = 0;
    this.enforceLimit();
  }

  get size(): number {
    return this.total;
  }

  get dropped(): number {
    return this.cursor.dropped;
  }

  append(record: TelemetryRecord): void {
    let tail = this.segments[this.segments.length - 1];
    if (!tail || tail.lines >= this.segmentLines) {
      this.closeTail();
      tail = { seq: (tail?.seq ?? this.cursor.seq - 1) + 1, lines: 0 };
      this.segments.push(tail);
    }
    if (this.tailFd === undefined) this.tailFd = openSync(this.segmentPath(tail.seq), 'a', 0o600);
    writeSync(this.tailFd, `${JSON.stringify(record)}\n`);
    fsyncSync(this.tailFd);
    tail.lines += 1;
    this.total += 1;
    if (this.headCache?.seq === tail.seq) this.headCache.records.push(record);
    this.enforceLimit();
  }

  peek(max: number): { records: TelemetryRecord[]; span: number } {
    const out: TelemetryRecord[] = [];
    let span = 0;
    for (const segment of this.segments) {
      if (span >= max) break;
      const records = segment.seq === this.cursor.seq ? this.headRecords() : this.readSegment(segment.seq);
      for (let i = segment.seq === this.cursor.seq ? this.cursor.line : 0; i < segment.lines && span < max; i += 1) {
        span += 1;
        const r = records[i];
        if (r) out.push(r);
      }
    }
    return { records: out, span };
  }

  ack(count: number): void {
    this.advance(count, false);
  }

  close(): void {
    this.closeTail();
  }

  /**
   * Moves the cursor past `count` records (delivered, or dropped when `dropping`), deleting the
   * segments left behind. Unreadable lines count as records here: they were appended as records.
   */
  private advance(count: number, dropping: boolean): void {
    let left = Math.min(count, this.total);
    if (left <= 0) return;
    this.total -= left;
    if (dropping) this.cursor.dropped += left;
    while (left > 0) {
      const head = this.segments[0]!;
      const remaining = head.lines - this.cursor.line;
      if (left < remaining) {
        this.cursor.line += left;
        left = 0;
      } else {
        left -= remaining;
        if (this.segments.length === 1) {
          // Keep the emptied tail: the next append continues it (its lines stay counted as done).
          this.cursor.line = head.lines;
        } else {
          this.segments.shift();
          rmSync(this.segmentPath(head.seq), { force: true });
          this.headCache = undefined;
          this.cursor.seq = this.segments[0]!.seq;
          this.cursor.line = 0;
        }
      }
    }
    if (this.total === 0 && this.segments.length === 1 && this.segments[0]!.lines >= this.segmentLines) {
      // The one segment is done and full: start the next one fresh.
      const head = this.segments.shift()!;
      this.closeTail();
      rmSync(this.segmentPath(head.seq), { force: true });
      this.headCache = undefined;
      this.cursor.seq = head.seq + 1;
      this.cursor.line = 0;
    }
    this.writeCursor();
  }

  private enforceLimit(): void {
    const excess = this.total - this.limits.maxRecords;
    if (excess > 0) this.advance(excess, true);
  }

  private headRecords(): (TelemetryRecord | undefined)[] {
    if (this.headCache?.seq !== this.cursor.seq) this.headCache = { seq: this.cursor.seq, records: this.readSegment(this.cursor.seq) };
    return this.headCache.records;
  }

  private readSegment(seq: number): (TelemetryRecord | undefined)[] {
    const text = this.readText(seq);
    const lines = text.split('\n');
    lines.pop(); // after the last newline: empty, or a torn line
    return lines.map(parseRecord);
  }

  /** Counts lines that end in a newline; a torn last line (crash mid-append) is cut off so appends continue on a clean line. */
  private completeLines(seq: number): number {
    const text = this.readText(seq);
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) {
      // Rewrite the good prefix (temp + rename) so that the next append starts on a fresh line.
      const tmp = `${this.segmentPath(seq)}.tmp`;
      const out = openSync(tmp, 'w', 0o600);
      try {
        writeSync(out, text.slice(0, end));
        fsyncSync(out);
      } finally {
        closeSync(out);
      }
      renameSync(tmp, this.segmentPath(seq));
    }
    let n = 0;
    for (let i = 0; i < end; i += 1) if (text.charCodeAt(i) === 10) n += 1;
    return n;
  }

  private readText(seq: number): string {
    try {
      return readFileSync(this.segmentPath(seq), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw err;
    }
  }

  private readCursor(): Cursor {
    const file = join(this.dir, CURSOR_FILE);
    if (!existsSync(file)) return { seq: 0, line: 0, dropped: 0 };
    try {
      const c = JSON.parse(readFileSync(file, 'utf8')) as Partial<Cursor>;
      const ok = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0;
      if (ok(c.seq) && ok(c.line) && ok(c.dropped)) return { seq: c.seq, line: c.line, dropped: c.dropped };
    } catch {
      // fall through: an unreadable cursor replays from the first segment (at-least-once)
    }
    return { seq: 0, line: 0, dropped: 0 };
  }

  private writeCursor(): void {
    const file = join(this.dir, CURSOR_FILE);
    const tmp = `${file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(this.cursor));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  }

  private closeTail(): void {
    if (this.tailFd !== undefined) closeSync(this.tailFd);
    this.tailFd = undefined;
  }

  private segmentPath(seq: number): string {
    return join(this.dir, `${String(seq).padStart(12, '0')}.ndjson`);
  }
}

function parseRecord(line: string): TelemetryRecord | undefined {
  try {
    const r = JSON.parse(line) as TelemetryRecord;
    return typeof r === 'object' && r !== null && typeof r.ts === 'number' && typeof r.values === 'object' ? r : undefined;
  } catch {
    return undefined;
  }
}
