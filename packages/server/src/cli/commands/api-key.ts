/**
 * `hangar api-key create|list|revoke` — API keys of the caller's tenant (admin role).
 */
import { Option, type Command } from 'commander';
import { ROLES, collectAll, type ApiKey, type CreatedApiKey, type Role } from '../client/api-client.js';
import { printAll, printDone, printRecord, warnShownOnce } from '../client/command-kit.js';
import {
  addClientOptions,
  clientFor,
  formatTime,
  formatValue,
  resolveIo,
  runAction,
  type CliIo,
  type ClientCommandOptions,
  type Column,
} from '../client/output.js';

interface CreateOptions extends ClientCommandOptions {
  name: string;
  role: Role;
}

const API_KEY_COLUMNS: readonly Column<ApiKey>[] = [
  { header: 'ID', value: (k) => k.id },
  { header: 'NAME', value: (k) => k.name },
  { header: 'ROLE', value: (k) => k.role },
  { header: 'PREFIX', value: (k) => formatValue(k.prefix) },
  { header: 'CREATED', value: (k) => formatTime(k.createdAt) },
  { header: 'LAST USED', value: (k) => formatTime(k.lastUsedAt) },
  { header: 'REVOKED', value: (k) => formatTime(k.revokedAt) },
];

export function registerApiKeyCommands(program: Command, ioOverrides: Partial<CliIo> = {}): void {
  const io = resolveIo(ioOverrides);
  const apiKey = program.command('api-key').description('manage API keys (admin)');

  addClientOptions(
    apiKey
      .command('create')
      .description('create an API key; its token is printed once')
      .requiredOption('--name <name>', 'what the key is for')
      .addOption(new Option('--role <role>', 'role of the key').choices(ROLES).makeOptionMandatory()),
  ).action(async (options: CreateOptions) => {
    await runAction(io, async () => {
      const created = await clientFor(options, io).createApiKey({ name: options.name, role: options.role });
      printRecord(created, options, io, createdKeyFields);
      if (!options.json) warnShownOnce(io, 'this token');
    });
  });

  addClientOptions(apiKey.command('list').description('list API keys')).action(
    async (options: ClientCommandOptions) => {
      await runAction(io, async () => {
        const client = clientFor(options, io);
        const items = await collectAll((cursor) => client.listApiKeys(cursor !== undefined ? { cursor } : {}));
        printAll(items, options, io, { columns: API_KEY_COLUMNS, empty: 'no API keys found' });
      });
    },
  );

  addClientOptions(
    apiKey.command('revoke').description('revoke an API key for good').argument('<id>', 'API key id'),
  ).action(async (id: string, options: ClientCommandOptions) => {
    await runAction(
      io,
      async () => {
        await clientFor(options, io).revokeApiKey(id);
        printDone(options, io, { id, revoked: true }, `revoked API key "${id}"`);
      },
      { subject: { kind: 'API key', id, notFoundCode: 'API_KEY_NOT_FOUND' } },
    );
  });
}

function createdKeyFields(key: CreatedApiKey): Array<[string, string]> {
  return [
    ['id', key.id],
    ['name', key.name],
    ['role', key.role],
    ['prefix', formatValue(key.prefix)],
    ['created', formatTime(key.createdAt)],
    ['token', key.token],
  ];
}
