/**
 * `hangar device create|list|show|update|delete|import` — device administration over the
 * REST API (DESIGN.md §3, .tmp/api-contract.md "Devices"). The identity subcommands
 * (`credentials`, `decommission`, `recommission`) hang on the same `device` command from
 * credentials.ts.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import cliProgress from 'cli-progress';
import {
  collectAll,
  type ApiClient,
  type Device,
  type DevicePatch,
  type ImportContentType,
  type ImportResult,
  type NewDevice,
} from '../client/api-client.js';
import { collectAttr, collectString, collectTag, confirmOrStop, printDone, printRecord } from '../client/command-kit.js';
import {
  CliError,
  addClientOptions,
  clientFor,
  formatList,
  formatTags,
  formatTime,
  formatValue,
  isTty,
  printJson,
  printTable,
  resolveIo,
  runAction,
  type CliIo,
  type ClientCommandOptions,
  type Column,
  type ErrorContext,
} from '../client/output.js';

/** The API's largest page; used when the CLI walks every page itself. */
export const MAX_PAGE_SIZE = 1000;
/** Per-line import errors shown in human mode; `--json` shows them all. */
export const IMPORT_ERRORS_SHOWN = 20;

/** Returns the `device` command, so that other modules can hang their subcommands on it. */
export function registerDeviceCommands(program: Command, ioOverrides: Partial<CliIo> = {}): Command {
  const io = resolveIo(ioOverrides);
  const device = program.command('device').description('create, inspect, change, import and decommission devices');

  addClientOptions(
    device
      .command('create')
      .description('create a device')
      .argument('<id>', 'device id')
      .option('--type <type>', 'device type')
      .option('--tag <key=value>', 'tag (repeatable)', collectTag, {})
      .option('--attr <key=value>', 'attribute; the value is read as JSON when it is valid JSON (repeatable)', collectAttr, {})
      .option('--group <group>', 'static group id (repeatable)', collectString, []),
  ).action(async (id: string, options: CreateOptions) => {
    // No error subject: a 404 here is about something the body names (a group), not the new device.
    await runAction(
      io,
      async () => {
        const client = clientFor(options, io);
        const body: NewDevice = { id };
        if (options.type !== undefined) body.type = options.type;
        if (Object.keys(options.tag).length > 0) body.tags = options.tag;
        if (Object.keys(options.attr).length > 0) body.attributes = options.attr;
        if (options.group.length > 0) body.groups = options.group;
        printRecord(await client.createDevice(body), options, io, deviceFields);
      },
    );
  });

  addClientOptions(
    device
      .command('list')
      .description('list devices, optionally filtered by a fleet query')
      .option('-q, --query <query>', "fleet query, e.g. 'tags.site = \"berlin\" AND online'")
      .option('--limit <n>', `page size (1-${MAX_PAGE_SIZE})`, parseLimit)
      .option('--cursor <cursor>', 'continue from a previous page')
      .option('--all', 'follow nextCursor to the last page'),
  ).action(async (options: ListOptions) => {
    await runAction(
      io,
      async () => {
        await listDevices(clientFor(options, io), io, {
          q: options.query,
          limit: options.limit,
          cursor: options.cursor,
          all: options.all,
          json: options.json,
        });
      },
      options.query !== undefined ? { query: options.query } : {},
    );
  });

  addClientOptions(
    device.command('show').description('show one device').argument('<id>', 'device id'),
  ).action(async (id: string, options: ClientCommandOptions) => {
    await runAction(
      io,
      async () => {
        printRecord(await clientFor(options, io).getDevice(id), options, io, deviceFields);
      },
      deviceSubject(id),
    );
  });

  addClientOptions(
    device
      .command('update')
      .description('change a device (tags and status are merged into what it has)')
      .argument('<id>', 'device id')
      .option('--type <type>', 'new device type')
      .option('--tag <key=value>', 'set a tag (repeatable)', collectTag, {})
      .option('--untag <key>', 'remove a tag (repeatable)', collectString, [])
      .option('--attr <key=value>', 'set an attribute, JSON when valid JSON (repeatable)', collectAttr, {})
      .option('--unset-attr <key>', 'remove an attribute (repeatable)', collectString, [])
      .addOption(new Option('--status <status>', 'operational status').choices(['active', 'suspended'])),
  ).action(async (id: string, options: UpdateOptions) => {
    await runAction(
      io,
      async () => {
        const patch = devicePatch(options);
        printRecord(await clientFor(options, io).updateDevice(id, patch), options, io, deviceFields);
      },
      deviceSubject(id),
    );
  });

  addClientOptions(
    device
      .command('delete')
      .description('delete a device')
      .argument('<id>', 'device id')
      .option('-y, --yes', 'do not ask for confirmation'),
  ).action(async (id: string, options: DeleteOptions) => {
    await runAction(
      io,
      async () => {
        const client = clientFor(options, io);
        await confirmOrStop(io, { yes: options.yes, action: ['delete', 'deleted'], target: `device "${id}"` });
        await client.deleteDevice(id);
        printDone(options, io, { id, deleted: true }, `deleted device "${id}"`);
      },
      deviceSubject(id),
    );
  });

  addClientOptions(
    device
      .command('import')
      .description('create or update devices from a CSV or NDJSON file (streamed)')
      .argument('<file>', 'FILE.csv (header: id,type,tags.K,attributes.K) or FILE.ndjson / FILE.jsonl')
      .addHelpText(
        'after',
        '\nRe-running an import is safe: existing devices are updated to the row.\n' +
          'Exits 1 when any row failed.',
      ),
  ).action(async (file: string, options: ClientCommandOptions) => {
    await runAction(io, async () => {
      await importDevices(file, options, io);
    });
  });
  return device;
}

// ---------------------------------------------------------------------------------------------
// list

interface ListOptions extends ClientCommandOptions {
  query?: string;
  limit?: number;
  cursor?: string;
  all?: boolean;
}

export interface DeviceListRequest {
  q?: string | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
  all?: boolean | undefined;
  json?: boolean | undefined;
}

/** Shared by `device list` and `query`: one page (with a next-page hint) or every page. */
export async function listDevices(client: ApiClient, io: CliIo, request: DeviceListRequest): Promise<void> {
  const fetchPage = (cursor: string | undefined): ReturnType<ApiClient['listDevices']> =>
    client.listDevices({
      ...(request.q !== undefined ? { q: request.q } : {}),
      ...(request.limit !== undefined ? { limit: request.limit } : request.all ? { limit: MAX_PAGE_SIZE } : {}),
      ...(cursor !== undefined ? { cursor } : {}),
    });

  if (request.all) {
    const items = await collectAll(fetchPage, request.cursor);
    if (request.json) printJson({ items, nextCursor: null }, io.stdout);
    else printDevices(items, io);
    return;
  }

  const page = await fetchPage(request.cursor);
  if (request.json) printJson(page, io.stdout);
  else printDevices(page.items, io);
  if (page.nextCursor) {
    io.stderr.write(`more devices: repeat with --cursor ${page.nextCursor} (or use --all)\n`);
  }
}

export const DEVICE_COLUMNS: readonly Column<Device>[] = [
  { header: 'ID', value: (d) => d.id },
  { header: 'TYPE', value: (d) => formatValue(d.type) },
  { header: 'STATUS', value: (d) => formatValue(d.status) },
  { header: 'ONLINE', value: (d) => formatValue(d.online) },
  { header: 'LAST SEEN', value: (d) => formatTime(d.lastSeen) },
  { header: 'FIRMWARE', value: (d) => formatValue(d.firmwareVersion) },
  { header: 'TAGS', value: (d) => formatTags(d.tags) },
];

function printDevices(devices: readonly Device[], io: CliIo): void {
  if (devices.length === 0) {
    io.stderr.write('no devices found\n');
    return;
  }
  printTable(devices, DEVICE_COLUMNS, io.stdout);
}

export function deviceFields(device: Device): Array<[string, string]> {
  return [
    ['id', device.id],
    ['type', formatValue(device.type)],
    ['status', formatValue(device.status)],
    ['online', formatValue(device.online)],
    ['last seen', formatTime(device.lastSeen)],
    ['firmware', formatValue(device.firmwareVersion)],
    ['tags', formatTags(device.tags)],
    ['attributes', Object.keys(device.attributes ?? {}).length > 0 ? JSON.stringify(device.attributes) : '-'],
    ['groups', formatList(device.groups)],
    ['tenant', formatValue(device.tenant)],
    ['created', formatTime(device.createdAt)],
    ['updated', formatTime(device.updatedAt)],
  ];
}

// ---------------------------------------------------------------------------------------------
// create / update / delete

interface CreateOptions extends ClientCommandOptions {
  type?: string;
  tag: Record<string, string>;
  attr: Record<string, unknown>;
  group: string[];
}

interface UpdateOptions extends ClientCommandOptions {
  type?: string;
  tag: Record<string, string>;
  untag: string[];
  attr: Record<string, unknown>;
  unsetAttr: string[];
  status?: 'active' | 'suspended';
}

interface DeleteOptions extends ClientCommandOptions {
  yes?: boolean;
}

function devicePatch(options: UpdateOptions): DevicePatch {
  const patch: DevicePatch = {};
  if (options.type !== undefined) patch.type = options.type;
  if (options.status !== undefined) patch.status = options.status;

  const tags: Record<string, string | null> = { ...options.tag };
  for (const key of options.untag) {
    if (key in options.tag) throw new CliError(`tag "${key}" is both set (--tag) and removed (--untag)`);
    tags[key] = null;
  }
  if (Object.keys(tags).length > 0) patch.tags = tags;

  const attributes: Record<string, unknown> = { ...options.attr };
  for (const key of options.unsetAttr) {
    if (key in options.attr) throw new CliError(`attribute "${key}" is both set (--attr) and removed (--unset-attr)`);
    attributes[key] = null;
  }
  if (Object.keys(attributes).length > 0) patch.attributes = attributes;

  if (Object.keys(patch).length === 0) {
    throw new CliError('nothing to update: pass --type, --tag, --untag, --attr, --unset-attr or --status');
  }
  return patch;
}

export function deviceSubject(id: string): ErrorContext {
  return { subject: { kind: 'device', id, notFoundCode: 'DEVICE_NOT_FOUND' } };
}

// ---------------------------------------------------------------------------------------------
// import

const IMPORT_TYPES = new Map<string, ImportContentType>([
  ['.csv', 'text/csv'],
  ['.ndjson', 'application/x-ndjson'],
  ['.jsonl', 'application/x-ndjson'],
]);

async function importDevices(file: string, options: ClientCommandOptions, io: CliIo): Promise<void> {
  const contentType = IMPORT_TYPES.get(extname(file).toLowerCase());
  if (!contentType) {
    throw new CliError(`cannot import "${file}": the file name must end in .csv, .ndjson or .jsonl`);
  }
  let size: number;
  try {
    const info = await stat(file);
    if (info.isDirectory()) throw new CliError(`cannot import "${file}": it is a directory`);
    // A pipe or a device has no size: no percentage then.
    size = info.isFile() ? info.size : 0;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const client = clientFor(options, io);

  const bar =
    isTty(io.stderr) && size > 0
      ? new cliProgress.SingleBar(
          {
            stream: io.stderr,
            format: 'importing [{bar}] {percentage}% | {sent} / {size}',
            hideCursor: true,
            clearOnComplete: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  bar?.start(size, 0, { sent: formatBytes(0), size: formatBytes(size) });

  // Read failures are told apart from network failures: fetch wraps both in the same TypeError.
  let readError: NodeJS.ErrnoException | undefined;
  async function* body(): AsyncGenerator<Uint8Array, void, undefined> {
    let sent = 0;
    try {
      // fetch pulls chunk by chunk, so the file is read only as fast as the upload goes.
      for await (const chunk of createReadStream(file)) {
        const bytes = chunk as Buffer;
        sent += bytes.length;
        bar?.update(sent, { sent: formatBytes(sent) });
        yield bytes;
      }
    } catch (err) {
      readError = err as NodeJS.ErrnoException;
      throw err;
    }
  }

  let result: ImportResult;
  try {
    result = await client.importDevices(body(), contentType);
  } catch (err) {
    if (readError) throw new CliError(`cannot read "${file}" (${readError.code ?? readError.message})`);
    throw err;
  } finally {
    bar?.stop();
  }

  if (options.json) {
    printJson(result, io.stdout);
  } else {
    printImportResult(result, io);
  }
  if (result.failed > 0) process.exitCode = 1;
}

function printImportResult(result: ImportResult, io: CliIo): void {
  io.stdout.write(
    `created: ${result.created}  updated: ${result.updated}  unchanged: ${result.unchanged}  failed: ${result.failed}\n`,
  );
  if (result.errors.length === 0) return;
  const shown = result.errors.slice(0, IMPORT_ERRORS_SHOWN);
  printTable(
    shown,
    [
      { header: 'LINE', value: (e) => String(e.line) },
      { header: 'ID', value: (e) => formatValue(e.id) },
      { header: 'REASON', value: (e) => e.reason },
    ],
    io.stderr,
  );
  const hidden = result.errors.length - shown.length;
  if (hidden > 0) io.stderr.write(`… and ${hidden} more errors (--json shows them all)\n`);
  if (result.errorsTruncated) io.stderr.write('the server kept only the first errors of this import\n');
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

// ---------------------------------------------------------------------------------------------
// Option parsers

export function parseLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > MAX_PAGE_SIZE) {
    throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_PAGE_SIZE}`);
  }
  return n;
}
