/**
 * `hangar command send|list|show|cancel` — commands to one device (docs/commands.md) through
 * `/devices/{id}/commands`. `send --wait` polls the command until it finished and exits non-zero
 * unless it succeeded.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { DeviceCommand } from '@hangar/protocol/rest';
import { paginate, type ApiClient, type Page } from '../client/api-client.js';
import { printRecord } from '../client/command-kit.js';
import {
  CliError,
  addClientOptions,
  clientFor,
  formatTime,
  formatValue,
  printJson,
  printTable,
  resolveIo,
  runAction,
  type CliIo,
  type ClientCommandOptions,
  type Column,
} from '../client/output.js';

interface SendOptions extends ClientCommandOptions {
  params?: Record<string, unknown>;
  timeout?: number;
  ttl?: number;
  wait?: boolean;
}

interface ListOptions extends ClientCommandOptions {
  state?: string;
  limit?: number;
}

const FINAL = new Set(['succeeded', 'failed', 'timed_out', 'expired', 'cancelled']);

export function parseJsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgumentError('must be a JSON object, e.g. \'{"delay":5}\'');
  return parsed as Record<string, unknown>;
}

export function parseSeconds(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a whole number of seconds, at least 1');
  return Number(value);
}

function parsePositive(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a whole number, at least 1');
  return Number(value);
}

const COMMAND_COLUMNS: readonly Column<DeviceCommand>[] = [
  { header: 'ID', value: (c) => c.id },
  { header: 'NAME', value: (c) => c.name },
  { header: 'STATE', value: (c) => c.state },
  { header: 'CREATED', value: (c) => formatTime(c.createdAt) },
  { header: 'COMPLETED', value: (c) => formatTime(c.completedAt) },
  { header: 'ERROR', value: (c) => c.error ?? '' },
];

export function commandFields(c: DeviceCommand): Array<[string, string]> {
  const fields: Array<[string, string]> = [
    ['id', c.id],
    ['device', c.deviceId],
    ['name', c.name],
    ['state', c.state],
    ['params', JSON.stringify(c.params)],
    ['timeout', `${c.timeoutSec} s`],
    ['expires', formatTime(c.expiresAt)],
    ['created', formatTime(c.createdAt)],
    ['sent', formatTime(c.sentAt)],
    ['completed', formatTime(c.completedAt)],
  ];
  if (c.result !== null) fields.push(['result', formatValue(JSON.stringify(c.result))]);
  if (c.error !== null) fields.push(['error', c.error]);
  if (c.roundTripMs !== null) fields.push(['round trip', `${c.roundTripMs} ms`]);
  if (c.jobId !== null) fields.push(['job', c.jobId]);
  return fields;
}

const path = (deviceId: string, rest = ''): string => `/devices/${encodeURIComponent(deviceId)}/commands${rest}`;

async function waitForEnd(client: ApiClient, command: DeviceCommand, io: CliIo): Promise<DeviceCommand> {
  let current = command;
  // The device has the TTL to pick it up and then the timeout to answer; the server's sweeper ends it by then.
  while (!FINAL.has(current.state)) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    current = await client.request<DeviceCommand>('GET', path(current.deviceId, `/${encodeURIComponent(current.id)}`));
    if (current.state === 'sent' && command.state === 'queued') {
      io.stderr.write(`sent to ${current.deviceId}, waiting for its result…\n`);
      command = current;
    }
  }
  return current;
}

export function registerCommandCommands(program: Command, ioOverrides: Partial<CliIo> = {}): void {
  const io = resolveIo(ioOverrides);
  const command = program.command('command').description('send commands to a device and read their results');

  addClientOptions(
    command
      .command('send')
      .description('queue a command for a device (it waits until the device is online, at most --ttl)')
      .argument('<device>', 'device id')
      .argument('<name>', 'command name, e.g. reboot, ping, upload-logs, factory-reset, get-system-info')
      .option('--params <json>', 'parameters, a JSON object', parseJsonObject)
      .option('--timeout <seconds>', 'how long the device has to answer once sent (default 30)', parseSeconds)
      .option('--ttl <seconds>', 'how long it may wait undelivered (default 1 day)', parseSeconds)
      .option('--wait', 'wait until the command finished; exit 1 unless it succeeded'),
  ).action(async (deviceId: string, name: string, options: SendOptions) => {
    await runAction(
      io,
      async () => {
        const client = clientFor(options, io);
        const body = { name, ...(options.params ? { params: options.params } : {}), ...(options.timeout ? { timeoutSec: options.timeout } : {}), ...(options.ttl ? { ttlSec: options.ttl } : {}) };
        let sent = await client.request<DeviceCommand>('POST', path(deviceId), { json: body });
        if (options.wait) sent = await waitForEnd(client, sent, io);
        printRecord(sent, options, io, commandFields);
        if (options.wait && sent.state !== 'succeeded') throw new CliError(`command ${sent.id} ended ${sent.state}${sent.error ? `: ${sent.error}` : ''}`);
      },
      { subject: { kind: 'device', id: deviceId, notFoundCode: 'DEVICE_NOT_FOUND' } },
    );
  });

  addClientOptions(
    command
      .command('list')
      .description('a device’s commands, newest first')
      .argument('<device>', 'device id')
      .option('--state <state>', 'only commands in this state (queued, sent, succeeded, failed, timed_out, expired, cancelled)')
      .option('--limit <n>', 'at most this many (default 100)', parsePositive),
  ).action(async (deviceId: string, options: ListOptions) => {
    await runAction(
      io,
      async () => {
        const client = clientFor(options, io);
        const limit = options.limit ?? 100;
        const items: DeviceCommand[] = [];
        for await (const page of paginate((cursor) => client.request<Page<DeviceCommand>>('GET', path(deviceId), { query: { state: options.state, limit: Math.min(limit, 1000), cursor } }))) {
          items.push(...page.items);
          if (items.length >= limit) break;
        }
        const shown = items.slice(0, limit);
        if (options.json) printJson({ items: shown, nextCursor: null }, io.stdout);
        else if (shown.length === 0) io.stderr.write(`no commands for device "${deviceId}"\n`);
        else printTable(shown, COMMAND_COLUMNS, io.stdout);
      },
      { subject: { kind: 'device', id: deviceId, notFoundCode: 'DEVICE_NOT_FOUND' } },
    );
  });

  addClientOptions(command.command('show').description('one command with its result').argument('<device>', 'device id').argument('<command-id>', 'command id')).action(
    async (deviceId: string, id: string, options: ClientCommandOptions) => {
      await runAction(
        io,
        async () => printRecord(await clientFor(options, io).request<DeviceCommand>('GET', path(deviceId, `/${encodeURIComponent(id)}`)), options, io, commandFields),
        { subject: { kind: 'command', id, notFoundCode: 'NOT_FOUND' } },
      );
    },
  );

  addClientOptions(command.command('cancel').description('cancel a queued or sent command').argument('<device>', 'device id').argument('<command-id>', 'command id')).action(
    async (deviceId: string, id: string, options: ClientCommandOptions) => {
      await runAction(
        io,
        async () => printRecord(await clientFor(options, io).request<DeviceCommand>('POST', path(deviceId, `/${encodeURIComponent(id)}/cancel`)), options, io, commandFields),
        { subject: { kind: 'command', id, notFoundCode: 'NOT_FOUND' } },
      );
    },
  );
}
