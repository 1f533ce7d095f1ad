/**
 * `hangar config create|list|show|devices|update|delete` — configurations (docs/configurations.md):
 * desired twin content applied to every device a fleet query targets, by priority.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Configuration, ConfigurationDevice, ConfigurationPatch, NewConfiguration } from '@hangar/protocol/rest';
import { collectTag, confirmOrStop, listAll, printAll, printDone, printRecord } from '../client/command-kit.js';
import {
  CliError,
  addClientOptions,
  clientFor,
  formatTags,
  formatTime,
  resolveIo,
  runAction,
  type CliIo,
  type ClientCommandOptions,
  type Column,
  type ErrorContext,
} from '../client/output.js';
import { collectAll, type Page } from '../client/api-client.js';
import { readInputFile } from './credentials.js';

const BASE_PATH = '/configurations';

function configPath(id: string): string {
  return `${BASE_PATH}/${encodeURIComponent(id)}`;
}

interface CreateOptions extends ClientCommandOptions {
  name: string;
  target: string;
  content: string;
  priority?: number;
  label: Record<string, string>;
}

interface UpdateOptions extends ClientCommandOptions {
  target?: string;
  priority?: number;
  label: Record<string, string>;
}

interface DevicesOptions extends ClientCommandOptions {
  status?: string;
}

interface DeleteOptions extends ClientCommandOptions {
  yes?: boolean;
}

export function registerConfigCommands(program: Command, ioOverrides: Partial<CliIo> = {}): void {
  const io = resolveIo(ioOverrides);
  const config = program.command('config').description('manage configurations: desired twin content applied to the devices a fleet query targets');

  addClientOptions(
    config
      .command('create')
      .description('create a configuration; it is applied to every device its target selects, now and later')
      .requiredOption('--name <name>', 'a name unique in the tenant')
      .requiredOption('--target <query>', `fleet query selecting the devices, e.g. 'tags.site = "berlin"' ('' for all)`)
      .requiredOption('--content <file|json>', 'content {"desired": {…}} as JSON, or a file holding it (@file also works)')
      .option('--priority <n>', 'higher wins where two configurations set a property (default 0)', parseInteger)
      .option('--label <key=value>', 'label (repeatable)', collectTag, {}),
  ).action(async (options: CreateOptions) => {
    await runAction(io, async () => {
      const body: NewConfiguration = { name: options.name, target: options.target, content: await readContent(options.content) };
      if (options.priority !== undefined) body.priority = options.priority;
      if (Object.keys(options.label).length > 0) body.labels = options.label;
      const created = await clientFor(options, io).request<Configuration>('POST', BASE_PATH, { json: body });
      printRecord(created, options, io, configFields);
    });
  });

  addClientOptions(config.command('list').description('list configurations with their metrics')).action(async (options: ClientCommandOptions) => {
    await runAction(io, async () => {
      const items = await listAll<Configuration>(clientFor(options, io), BASE_PATH);
      printAll(items, options, io, { columns: COLUMNS, empty: 'no configurations found' });
    });
  });

  addClientOptions(config.command('show').description('show one configuration with its content and metrics').argument('<id>', 'configuration id')).action(
    async (id: string, options: ClientCommandOptions) => {
      await runAction(
        io,
        async () => {
          printRecord(await clientFor(options, io).request<Configuration>('GET', configPath(id)), options, io, configFields);
        },
        subject(id),
      );
    },
  );

  addClientOptions(
    config
      .command('devices')
      .description('list the devices a configuration targets, with whether each has applied it')
      .argument('<id>', 'configuration id')
      .addOption(new Option('--status <status>', 'only applied, pending or conflicting devices').choices(['applied', 'pending', 'conflicting'])),
  ).action(async (id: string, options: DevicesOptions) => {
    await runAction(
      io,
      async () => {
        const client = clientFor(options, io);
        const items = await collectAll((cursor) => client.request<Page<ConfigurationDevice>>('GET', `${configPath(id)}/devices`, { query: { cursor, status: options.status } }));
        printAll(items, options, io, { columns: DEVICE_COLUMNS, empty: 'no devices found' });
      },
      subject(id),
    );
  });

  addClientOptions(
    config
      .command('update')
      .description('change a configuration’s target, priority or labels (content cannot change: create a new configuration)')
      .argument('<id>', 'configuration id')
      .option('--target <query>', 'new fleet query')
      .option('--priority <n>', 'new priority', parseInteger)
      .option('--label <key=value>', 'labels, replacing the current ones (repeatable)', collectTag, {}),
  ).action(async (id: string, options: UpdateOptions) => {
    await runAction(
      io,
      async () => {
        const patch: ConfigurationPatch = {};
        if (options.target !== undefined) patch.target = options.target;
        if (options.priority !== undefined) patch.priority = options.priority;
        if (Object.keys(options.label).length > 0) patch.labels = options.label;
        if (Object.keys(patch).length === 0) throw new CliError('nothing to update: pass --target, --priority or --label');
        printRecord(await clientFor(options, io).request<Configuration>('PATCH', configPath(id), { json: patch }), options, io, configFields);
      },
      subject(id),
    );
  });

  addClientOptions(
    config
      .command('delete')
      .description('delete a configuration; the properties it set are removed from desired unless another configuration provides them or an operator changed them')
      .argument('<id>', 'configuration id')
      .option('-y, --yes', 'do not ask for confirmation'),
  ).action(async (id: string, options: DeleteOptions) => {
    await runAction(
      io,
      async () => {
        const client = clientFor(options, io);
        await confirmOrStop(io, { yes: options.yes, action: ['delete', 'deleted'], target: `configuration "${id}"` });
        await client.request<undefined>('DELETE', configPath(id));
        printDone(options, io, { id, deleted: true }, `deleted configuration "${id}"`);
      },
      subject(id),
    );
  });
}

function subject(id: string): ErrorContext {
  return { subject: { kind: 'configuration', id, notFoundCode: 'NOT_FOUND' } };
}

const COLUMNS: readonly Column<Configuration>[] = [
  { header: 'ID', value: (c) => c.id },
  { header: 'NAME', value: (c) => c.name },
  { header: 'PRIORITY', value: (c) => String(c.priority) },
  { header: 'TARGET', value: (c) => c.target || '(all devices)' },
  { header: 'TARGETED', value: (c) => String(c.metrics.targeted) },
  { header: 'APPLIED', value: (c) => String(c.metrics.applied) },
  { header: 'PENDING', value: (c) => String(c.metrics.pending) },
  { header: 'CONFLICTING', value: (c) => String(c.metrics.conflicting) },
];

const DEVICE_COLUMNS: readonly Column<ConfigurationDevice>[] = [
  { header: 'DEVICE', value: (d) => d.deviceId },
  { header: 'STATUS', value: (d) => d.status },
  { header: 'CONFLICTING', value: (d) => (d.conflicting ? 'yes' : 'no') },
  { header: 'UPDATED', value: (d) => formatTime(d.updatedAt) },
];

function configFields(c: Configuration): Array<[string, string]> {
  return [
    ['id', c.id],
    ['name', c.name],
    ['target', c.target || '(all devices)'],
    ['priority', String(c.priority)],
    ['labels', formatTags(c.labels)],
    ['content', JSON.stringify(c.content)],
    ['targeted', String(c.metrics.targeted)],
    ['applied', String(c.metrics.applied)],
    ['pending', String(c.metrics.pending)],
    ['conflicting', String(c.metrics.conflicting)],
    ['created', formatTime(c.createdAt)],
    ['updated', formatTime(c.updatedAt)],
  ];
}

/** JSON when it looks like JSON (`{…}`), else a file name (optionally `@file`). */
async function readContent(value: string): Promise<unknown> {
  const inline = value.trimStart().startsWith('{');
  const file = value.startsWith('@') ? value.slice(1) : value;
  const text = inline ? value : await readInputFile(file);
  const source = inline ? '--content' : `"${file}"`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${source} is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new CliError(`${source} must hold a JSON object {"desired": {…}}`);
  return parsed;
}

function parseInteger(value: string): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a whole number');
  return n;
}
