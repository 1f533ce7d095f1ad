/**
 * `hangar logs DEVICE [--level L] [--since D] [--grep TEXT] [--follow]` — a device's uploaded
 * logs, oldest of the shown page first as `tail` prints them; `--follow` then tails the SSE
 * stream's `device.log` events. `hangar device events DEVICE` — the device's timeline.
 * See docs/logs.md.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { LogPage, LogRecord, TimelinePage } from '@hangar/protocol/rest';
import { HangarUnreachableError, normaliseBaseUrl } from '../client/api-client.js';
import { CliError, addClientOptions, clientFor, formatValue, printTable, resolveIo, runAction, sanitize, type CliIo, type ClientCommandOptions } from '../client/output.js';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

interface LogsOptions extends ClientCommandOptions {
  level?: string;
  since?: string;
  grep?: string;
  follow?: boolean;
  limit?: number;
}

interface EventsOptions extends ClientCommandOptions {
  types?: string;
  since?: string;
  limit?: number;
}

function parseLevel(value: string): string {
  const level = value.toLowerCase();
  if (!(LEVELS as readonly string[]).includes(level)) throw new InvalidArgumentError(`use one of ${LEVELS.join(', ')}`);
  return level;
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError('a whole number from 1 to 1000');
  return n;
}

/** `--since 15m` (a duration back from now) or a time the API takes (epoch ms, ISO 8601). */
export function sinceToFrom(since: string, now: number): string {
  const m = /^(\d{1,9})([smhdw])$/.exec(since.trim());
  if (m) return new Date(now - Number(m[1]) * UNIT_MS[m[2]!]!).toISOString();
  if (/^\d{1,15}$/.test(since) || /^\d{4}-\d{2}-\d{2}/.test(since)) return since;
  throw new CliError(`--since must be a duration such as 30s, 15m, 2h, 7d or a time such as 2026-01-02T03:04:05Z, not "${since}"`);
}

function formatRecord(r: Pick<LogRecord, 'ts' | 'level' | 'msg'> & { fields?: Record<string, unknown> | null | undefined; truncated?: boolean | undefined }): string {
  const fields = r.fields && Object.keys(r.fields).length > 0 ? ` ${JSON.stringify(r.fields)}` : '';
  return `${new Date(r.ts).toISOString()} ${r.level.toUpperCase().padEnd(5)} ${sanitize(r.msg)}${r.truncated ? ' [truncated]' : ''}${sanitize(fields)}\n`;
}

export function registerLogCommands(program: Command, ioOverrides: Partial<CliIo> = {}): void {
  const io = resolveIo(ioOverrides);
  addClientOptions(
    program
      .command('logs')
      .description('show a device’s logs (the newest, oldest first); --follow keeps printing new ones')
      .argument('<device>', 'device id')
      .option('--level <level>', 'the least severe level shown: debug, info, warn, error', parseLevel)
      .option('--since <duration>', 'only records newer than this: 30s, 15m, 2h, 7d, or a time')
      .option('--grep <text>', 'only records whose message contains this text (case-insensitive)')
      .option('--limit <n>', 'how many of the newest records to show (1-1000, default 100)', parseLimit)
      .option('-f, --follow', 'keep printing records as the device uploads them (Ctrl-C stops)'),
  ).action(async (deviceId: string, options: LogsOptions) => {
    await runAction(
      io,
      async () => {
        const client = clientFor(options, io);
        const from = options.since !== undefined ? sinceToFrom(options.since, Date.now()) : undefined;
        const page = await client.request<LogPage>('GET', `/devices/${encodeURIComponent(deviceId)}/logs`, {
          query: { level: options.level, q: options.grep, from, limit: options.limit ?? 100 },
        });
        const records = [...page.items].reverse();
        for (const r of records) io.stdout.write(options.json ? `${JSON.stringify(r)}\n` : formatRecord(r));
        if (options.follow) await follow(deviceId, options, io);
      },
      { subject: { kind: 'device', id: deviceId, notFoundCode: 'DEVICE_NOT_FOUND' } },
    );
  });
}

/** Tails `device.log` events of one device from the SSE stream until Ctrl-C or the server ends it. */
async function follow(deviceId: string, options: LogsOptions, io: CliIo): Promise<void> {
  const base = normaliseBaseUrl(options.url);
  const url = `${base}/api/v1/events/stream?types=device.log&device=${encodeURIComponent(deviceId)}`;
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  const min = LEVELS.indexOf((options.level ?? 'debug') as (typeof LEVELS)[number]);
  const grep = options.grep?.toLowerCase();
  try {
    let response: Response;
    try {
      response = await (io.fetch ?? fetch)(url, { headers: { authorization: `Bearer ${options.token}`, accept: 'text/event-stream', 'user-agent': 'hangar-cli' }, signal: abort.signal });
    } catch (err) {
      if (abort.signal.aborted) return;
      throw new HangarUnreachableError(base, err instanceof Error ? err.message : String(err), { cause: err });
    }
    if (!response.ok || !response.body) {
      const text = await response.text();
      let detail = text;
      try {
        detail = (JSON.parse(text) as { detail?: string }).detail ?? text;
      } catch {
        // not a problem document: the text is the message
      }
      throw new CliError(`the event stream was refused: ${detail} (${response.status})`);
    }
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          handleFrame(frame, { min, grep, json: options.json ?? false }, io);
        }
      }
    } catch (err) {
      if (abort.signal.aborted) return;
      throw err;
    }
    throw new CliError('the server ended the event stream (it may be restarting); run the command again to resume');
  } finally {
    process.off('SIGINT', onSignal);
  }
}

function handleFrame(frame: string, filter: { min: number; grep: string | undefined; json: boolean }, io: CliIo): void {
  let event = 'message';
  let data = '';
  for (const line of frame.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data += line.slice(5).trimStart();
  }
  if (data === '') return;
  if (event === 'error') throw new CliError(`the event stream failed: ${(JSON.parse(data) as { reason?: string }).reason ?? data}`);
  if (event !== 'message') return;
  const e = JSON.parse(data) as { type: string; data: { records?: Array<LogRecord & { truncated?: boolean }> } };
  if (e.type !== 'device.log') return;
  for (const r of e.data.records ?? []) {
    if (LEVELS.indexOf(r.level) < filter.min) continue;
    if (filter.grep !== undefined && !r.msg.toLowerCase().includes(filter.grep)) continue;
    io.stdout.write(filter.json ? `${JSON.stringify(r)}\n` : formatRecord(r));
  }
}

/** `hangar device events DEVICE`: the device's timeline, oldest of the page first. */
export function registerDeviceEventsCommand(device: Command, ioOverrides: Partial<CliIo> = {}): void {
  const io = resolveIo(ioOverrides);
  addClientOptions(
    device
      .command('events')
      .description('show a device’s timeline: connects, twin changes, commands, credentials, alerts, error logs')
      .argument('<id>', 'device id')
      .option('--types <list>', 'comma-separated types or prefixes, e.g. twin.*,alert.raised')
      .option('--since <duration>', 'only entries newer than this: 30s, 15m, 2h, 7d, or a time')
      .option('--limit <n>', 'how many of the newest entries to show (1-1000, default 100)', parseLimit),
  ).action(async (id: string, options: EventsOptions) => {
    await runAction(
      io,
      async () => {
        const client = clientFor(options, io);
        const from = options.since !== undefined ? sinceToFrom(options.since, Date.now()) : undefined;
        const page = await client.request<TimelinePage>('GET', `/devices/${encodeURIComponent(id)}/events`, { query: { types: options.types, from, limit: options.limit ?? 100 } });
        const entries = [...page.items].reverse();
        if (options.json) {
          io.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
          return;
        }
        printTable(
          entries,
          [
            { header: 'TIME', value: (e) => new Date(e.ts).toISOString() },
            { header: 'TYPE', value: (e) => e.type },
            { header: 'DETAILS', value: (e) => Object.entries(e.data).map(([k, v]) => `${k}=${formatValue(v)}`).join(' ') },
          ],
          io.stdout,
        );
      },
      { subject: { kind: 'device', id, notFoundCode: 'DEVICE_NOT_FOUND' } },
    );
  });
}
