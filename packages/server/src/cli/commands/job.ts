/**
 * `hangar job create|list|show|cancel` — bulk command jobs (docs/commands.md) through
 * `/api/v1/jobs`: one command to every device a fleet query matches.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { Job, JobDevice } from '@hangar/protocol/rest';
import { collectAll, type Page } from '../client/api-client.js';
import { printAll, printRecord } from '../client/command-kit.js';
import { addClientOptions, clientFor, formatTime, printJson, printTable, resolveIo, runAction, type CliIo, type ClientCommandOptions, type Column } from '../client/output.js';
import { parseJsonObject, parseSeconds } from './command.js';

interface CreateOptions extends ClientCommandOptions {
  query: string;
  params?: Record<string, unknown>;
  timeout?: number;
  ttl?: number;
  rate?: number;
  concurrency?: number;
  abortFailedCount?: number;
  abortFailedPercent?: number;
  abortMinCompleted?: number;
}

interface ShowOptions extends ClientCommandOptions {
  devices?: boolean;
}

function parseWhole(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a whole number, at least 1');
  return Number(value);
}

function parsePercent(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 100) throw new InvalidArgumentError('must be a percentage above 0 and at most 100');
  return n;
}

const progressText = (j: Job): string => {
  const p = j.progress;
  const finished = p.succeeded + p.failed + p.timed_out + p.expired + p.cancelled;
  return `${finished}/${p.targeted} finished (succeeded ${p.succeeded}, failed ${p.failed}, timed out ${p.timed_out}, expired ${p.expired}, cancelled ${p.cancelled}; queued ${p.queued}, sent ${p.sent}, pending ${p.pending}, skipped ${p.skipped})`;
};

const JOB_COLUMNS: readonly Column<Job>[] = [
  { header: 'ID', value: (j) => j.id },
  { header: 'COMMAND', value: (j) => j.command.name },
  { header: 'STATE', value: (j) => j.state },
  { header: 'TARGETED', value: (j) => String(j.progress.targeted) },
  { header: 'SUCCEEDED', value: (j) => String(j.progress.succeeded) },
  { header: 'FAILED', value: (j) => String(j.progress.failed + j.progress.timed_out + j.progress.expired) },
  { header: 'CREATED', value: (j) => formatTime(j.createdAt) },
];

const DEVICE_COLUMNS: readonly Column<JobDevice>[] = [
  { header: 'DEVICE', value: (d) => d.deviceId },
  { header: 'STATE', value: (d) => d.state ?? (d.skipped !== null ? 'skipped' : 'pending') },
  { header: 'COMMAND', value: (d) => d.commandId ?? '' },
  { header: 'ERROR', value: (d) => d.error ?? d.skipped ?? '' },
];

function jobFields(j: Job): Array<[string, string]> {
  const fields: Array<[string, string]> = [
    ['id', j.id],
    ['state', j.state],
    ['query', j.query],
    ['command', `${j.command.name} ${JSON.stringify(j.command.params)}`],
    ['rate', `${j.ratePerMinute}/min, at most ${j.maxConcurrency} at once`],
    ['progress', progressText(j)],
    ['created', formatTime(j.createdAt)],
    ['finished', formatTime(j.finishedAt)],
  ];
  if (j.reason !== null) fields.push(['reason', j.reason]);
  return fields;
}

export function registerJobCommands(program: Command, ioOverrides: Partial<CliIo> = {}): void {
  const io = resolveIo(ioOverrides);
  const job = program.command('job').description('bulk jobs: one command to every device a fleet query matches');

  addClientOptions(
    job
      .command('create')
      .description('start a job')
      .argument('<name>', 'command name')
      .requiredOption('--query <query>', `fleet query selecting the devices, e.g. 'tags.site = "berlin"'`)
      .option('--params <json>', 'command parameters, a JSON object', parseJsonObject)
      .option('--timeout <seconds>', 'result wait once sent (default 30)', parseSeconds)
      .option('--ttl <seconds>', 'how long each command may wait undelivered (default 1 day)', parseSeconds)
      .option('--rate <per-minute>', 'commands issued per minute at most (default 60)', parseWhole)
      .option('--concurrency <n>', 'unfinished commands at once at most (default 10)', parseWhole)
      .option('--abort-failed-count <n>', 'abort once this many failed, timed out or expired', parseWhole)
      .option('--abort-failed-percent <p>', 'abort once this percentage of finished commands failed', parsePercent)
      .option('--abort-min-completed <n>', 'judge the percentage from this many finished on (default 10)', parseWhole),
  ).action(async (name: string, options: CreateOptions) => {
    await runAction(
      io,
      async () => {
        const abort = {
          ...(options.abortFailedCount !== undefined ? { failedCount: options.abortFailedCount } : {}),
          ...(options.abortFailedPercent !== undefined ? { failedPercent: options.abortFailedPercent } : {}),
          ...(options.abortMinCompleted !== undefined ? { minCompleted: options.abortMinCompleted } : {}),
        };
        const body = {
          query: options.query,
          command: { name, ...(options.params ? { params: options.params } : {}), ...(options.timeout ? { timeoutSec: options.timeout } : {}), ...(options.ttl ? { ttlSec: options.ttl } : {}) },
          ...(options.rate !== undefined ? { ratePerMinute: options.rate } : {}),
          ...(options.concurrency !== undefined ? { maxConcurrency: options.concurrency } : {}),
          ...(Object.keys(abort).length > 0 ? { abortThreshold: abort } : {}),
        };
        printRecord(await clientFor(options, io).request<Job>('POST', '/jobs', { json: body }), options, io, jobFields);
      },
      { query: options.query },
    );
  });

  addClientOptions(job.command('list').description('list jobs, newest first')).action(async (options: ClientCommandOptions) => {
    await runAction(io, async () => {
      const client = clientFor(options, io);
      const items = await collectAll((cursor) => client.request<Page<Job>>('GET', '/jobs', { query: { cursor } }));
      printAll(items, options, io, { columns: JOB_COLUMNS, empty: 'no jobs' });
    });
  });

  addClientOptions(job.command('show').description('a job and its progress').argument('<id>', 'job id').option('--devices', 'list its devices and their commands')).action(async (id: string, options: ShowOptions) => {
    await runAction(
      io,
      async () => {
        const client = clientFor(options, io);
        const path = `/jobs/${encodeURIComponent(id)}`;
        const shown = await client.request<Job>('GET', path);
        if (!options.devices) return printRecord(shown, options, io, jobFields);
        const devices = await collectAll((cursor) => client.request<Page<JobDevice>>('GET', `${path}/devices`, { query: { cursor, limit: 1000 } }));
        if (options.json) printJson({ ...shown, devices }, io.stdout);
        else {
          printRecord(shown, options, io, jobFields);
          io.stdout.write('\n');
          printTable(devices, DEVICE_COLUMNS, io.stdout);
        }
      },
      { subject: { kind: 'job', id, notFoundCode: 'NOT_FOUND' } },
    );
  });

  addClientOptions(job.command('cancel').description('stop a running job and cancel its unfinished commands').argument('<id>', 'job id')).action(async (id: string, options: ClientCommandOptions) => {
    await runAction(io, async () => printRecord(await clientFor(options, io).request<Job>('POST', `/jobs/${encodeURIComponent(id)}/cancel`), options, io, jobFields), { subject: { kind: 'job', id, notFoundCode: 'NOT_FOUND' } });
  });
}
