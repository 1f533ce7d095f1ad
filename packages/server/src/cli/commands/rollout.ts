/**
 * `hangar rollout create|list|show|devices|pause|resume|abort|approve` — staged firmware
 * rollouts (docs/rollouts.md) through `/api/v1/rollouts`.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Rollout, RolloutDevice, RolloutDryRun } from '@hangar/protocol/rest';
import { collectAll, type Page } from '../client/api-client.js';
import { printAll, printRecord } from '../client/command-kit.js';
import { addClientOptions, clientFor, formatTime, printFields, printJson, printTable, resolveIo, runAction, CliError, type CliIo, type ClientCommandOptions, type Column } from '../client/output.js';
import { parseDays, parseDuration, parseFailureThreshold, parseList, parseRate, parseWaves, parseWindow, type RateFlag } from './rollout-flags.js';

interface CreateOptions extends ClientCommandOptions {
  firmware: string;
  name?: string;
  query?: string;
  group?: string;
  waves?: ReturnType<typeof parseWaves>;
  maxConcurrent?: number;
  rate?: RateFlag;
  failureThreshold?: ReturnType<typeof parseFailureThreshold>;
  minFinished?: number;
  onFailure?: 'pause' | 'abort';
  successThreshold?: number;
  healthWindow?: number;
  healthAlerts?: string[];
  maxDisconnects?: number;
  timeout?: number;
  window?: { startMinute: number; endMinute: number };
  windowDays?: number[];
  approval?: boolean;
  dynamic?: boolean;
  allowDowngrade?: boolean;
  deltas?: boolean;
  dryRun?: boolean;
}

interface StateOptions extends ClientCommandOptions {
  state?: string;
}

interface ShowOptions extends ClientCommandOptions {
  watch?: boolean;
  interval?: number;
}

function parseWhole(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a whole number, at least 1');
  return Number(value);
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a whole number');
  return Number(value);
}

function parsePercent(value: string): number {
  const n = Number(value.replace(/%$/, ''));
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 100) throw new InvalidArgumentError('must be a percentage from 0 to 100');
  return n;
}

const pad = (m: number): string => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

function countsText(c: Rollout['counts']): string {
  const parts = (['pending', 'offered', 'downloading', 'downloaded', 'installing', 'verifying', 'succeeded', 'failed', 'rolled_back', 'timed_out', 'cancelled'] as const).filter((k) => c[k] > 0).map((k) => `${k} ${c[k]}`);
  return `${c.targeted} devices${parts.length > 0 ? `: ${parts.join(', ')}` : ''}`;
}

function rolloutFields(r: Rollout): Array<[string, string]> {
  const fields: Array<[string, string]> = [
    ['id', r.id],
    ['name', r.name],
    ['state', r.state],
  ];
  if (r.stateReason !== null) fields.push(['reason', r.stateReason]);
  fields.push(
    ['firmware', `${r.firmwareVersion} (${r.firmwareId})`],
    ['target', r.query !== null ? `query ${r.query}` : `group ${r.groupId ?? ''}`],
    ['waves', r.waveStates.map((w) => `${w.index + 1}: ${w.counts.succeeded}/${w.size} ${w.state}`).join('; ')],
    ['progress', countsText(r.counts)],
    ['rate', `${Math.round(r.rate.currentPerMinute * 100) / 100}/min${r.rate.exponential ? ` (from ${r.rate.perMinute}, ×${r.rate.exponential.factor} every ${r.rate.exponential.everySucceeded} succeeded, up to ${r.rate.exponential.maxPerMinute})` : ''}, at most ${r.maxConcurrent} at once`],
    ['failure threshold', `${[r.failureThreshold.count !== null ? `${r.failureThreshold.count} devices` : '', r.failureThreshold.percent !== null ? `${r.failureThreshold.percent} % of ${r.failureThreshold.minFinished}+ finished` : ''].filter(Boolean).join(' or ') || 'none'} → ${r.failureThreshold.action}`],
    ['health gate', r.healthGate.windowSec === 0 ? 'none' : `${r.healthGate.windowSec} s, ${r.healthGate.maxDisconnects} disconnects allowed${r.healthGate.alertRuleIds.length > 0 ? `, alerts ${r.healthGate.alertRuleIds.join(', ')}` : ''}`],
    ['device timeout', `${r.deviceTimeoutSec} s`],
  );
  if (r.maintenanceWindow) fields.push(['window', `${pad(r.maintenanceWindow.startMinute)}-${pad(r.maintenanceWindow.endMinute)} UTC${r.maintenanceWindow.days ? ` on days ${r.maintenanceWindow.days.join(',')}` : ''}`]);
  const flags = [r.approvalBetweenWaves && 'approval between waves', r.dynamic && 'dynamic', r.allowDowngrade && 'downgrade allowed', !r.useDeltas && 'no deltas'].filter(Boolean);
  if (flags.length > 0) fields.push(['options', flags.join(', ')]);
  fields.push(['created', formatTime(r.createdAt)], ['finished', formatTime(r.finishedAt)]);
  return fields;
}

function dryRunFields(d: RolloutDryRun): Array<[string, string]> {
  const x = d.excluded;
  return [
    ['targeted', String(d.targeted)],
    ['eligible', String(d.eligible)],
    ['excluded', `incompatible type ${x.incompatibleType}, already on version ${x.alreadyOnVersion}, downgrade ${x.downgrade}, in another rollout ${x.inOtherRollout}, decommissioned ${x.decommissioned}`],
    ['waves', d.waves.join(', ')],
    ['base versions', d.baseVersions.map((b) => `${b.version ?? 'unknown'} ×${b.devices}`).join(', ') || '-'],
  ];
}

const ROLLOUT_COLUMNS: readonly Column<Rollout>[] = [
  { header: 'ID', value: (r) => r.id },
  { header: 'NAME', value: (r) => r.name },
  { header: 'VERSION', value: (r) => r.firmwareVersion },
  { header: 'STATE', value: (r) => r.state },
  { header: 'WAVE', value: (r) => `${Math.min(r.currentWave + 1, r.waves.length)}/${r.waves.length}` },
  { header: 'TARGETED', value: (r) => String(r.counts.targeted) },
  { header: 'SUCCEEDED', value: (r) => String(r.counts.succeeded) },
  { header: 'FAILED', value: (r) => String(r.counts.failed + r.counts.rolled_back + r.counts.timed_out) },
  { header: 'CREATED', value: (r) => formatTime(r.createdAt) },
];

const DEVICE_COLUMNS: readonly Column<RolloutDevice>[] = [
  { header: 'DEVICE', value: (d) => d.deviceId },
  { header: 'WAVE', value: (d) => String(d.wave + 1) },
  { header: 'STATE', value: (d) => d.state },
  { header: 'FROM', value: (d) => d.fromVersion ?? '' },
  { header: 'PROGRESS', value: (d) => (d.progress === null ? '' : `${Math.round(d.progress * 100)}%`) },
  { header: 'REASON', value: (d) => [d.reason, d.error].filter(Boolean).join(': ') },
];

const ENDED = new Set(['completed', 'aborted']);

export function registerRolloutCommands(program: Command, ioOverrides: Partial<CliIo> = {}): void {
  const io = resolveIo(ioOverrides);
  const rollout = program.command('rollout').description('staged firmware rollouts: waves, thresholds, health gate');
  const subject = (id: string) => ({ subject: { kind: 'rollout', id, notFoundCode: 'ROLLOUT_NOT_FOUND' } });

  addClientOptions(
    rollout
      .command('create')
      .description('start a rollout (or --dry-run: how many devices it would reach now)')
      .requiredOption('--firmware <id>', 'firmware image id')
      .option('--name <name>', 'a name (default: the firmware and target)')
      .option('--query <query>', `fleet query selecting the devices, e.g. 'tags.site = "berlin"'`)
      .option('--group <id>', 'a group selecting the devices (instead of --query)')
      .option('--waves <list>', 'cumulative percentages (10%,50%,100%) or devices per wave (5,20,100); default one wave of 100%', parseWaves)
      .option('--max-concurrent <n>', 'devices between offered and verifying at once (default 100)', parseWhole)
      .option('--rate <rate>', 'offers per minute: N[/min], optionally ,exp:FACTOR:EVERY:MAX (default 60)', parseRate)
      .option('--failure-threshold <n|p%>', 'stop after this many failed devices, or this share of the finished ones', parseFailureThreshold)
      .option('--min-finished <n>', 'judge a percentage threshold from this many finished devices on (default 10)', parseWhole)
      .addOption(new Option('--on-failure <action>', 'what the failure threshold does (default pause)').choices(['pause', 'abort']))
      .option('--success-threshold <percent>', 'share of a wave that must succeed before the next (default: every device that did not fail)', parsePercent)
      .option('--health-window <duration>', 'how long an updated device must stay healthy (e.g. 10m; default none)', parseDuration)
      .option('--health-alerts <ids>', 'alert rule ids that fail a device inside the health window', parseList)
      .option('--max-disconnects <n>', 'disconnects tolerated inside the health window (default 0)', parseCount)
      .option('--timeout <duration>', 'offered → succeeded at most, per device (default 1h)', parseDuration)
      .option('--window <HH:MM-HH:MM>', 'maintenance window in UTC: offers only then', parseWindow)
      .option('--window-days <days>', 'days the window opens (mon,tue,… or 0-6); default every day', parseDays)
      .option('--approval', 'wait for `hangar rollout approve` between waves')
      .option('--dynamic', 'devices that match the target later join')
      .option('--allow-downgrade', 'offer to devices on a newer version too')
      .option('--no-deltas', 'offer the full image only')
      .option('--dry-run', 'create nothing: answer how many devices the target hits and which are excluded'),
  ).action(async (options: CreateOptions) => {
    await runAction(
      io,
      async () => {
        if ((options.query === undefined) === (options.group === undefined)) throw new CliError('give exactly one of --query and --group');
        if (options.windowDays && !options.window) throw new CliError('--window-days needs --window');
        const failureThreshold = options.failureThreshold || options.onFailure || options.minFinished ? { ...(options.failureThreshold ?? {}), ...(options.onFailure ? { action: options.onFailure } : {}), ...(options.minFinished ? { minFinished: options.minFinished } : {}) } : undefined;
        const healthGate =
          options.healthWindow !== undefined || options.healthAlerts || options.maxDisconnects !== undefined
            ? { windowSec: options.healthWindow ?? 0, ...(options.healthAlerts ? { alertRuleIds: options.healthAlerts } : {}), ...(options.maxDisconnects !== undefined ? { maxDisconnects: options.maxDisconnects } : {}) }
            : undefined;
        const body = {
          name: options.name ?? `${options.firmware} to ${options.query !== undefined ? options.query : `group ${options.group}`}`.slice(0, 200),
          firmwareId: options.firmware,
          ...(options.query !== undefined ? { query: options.query } : { groupId: options.group }),
          ...(options.waves ? { waves: options.waves } : {}),
          ...(options.maxConcurrent ? { maxConcurrent: options.maxConcurrent } : {}),
          ...(options.rate ? { rate: options.rate } : {}),
          ...(failureThreshold ? { failureThreshold } : {}),
          ...(options.successThreshold !== undefined ? { successThreshold: options.successThreshold } : {}),
          ...(healthGate ? { healthGate } : {}),
          ...(options.timeout !== undefined ? { deviceTimeoutSec: options.timeout } : {}),
          ...(options.window ? { maintenanceWindow: { ...options.window, ...(options.windowDays ? { days: options.windowDays } : {}) } } : {}),
          ...(options.approval ? { approvalBetweenWaves: true } : {}),
          ...(options.dynamic ? { dynamic: true } : {}),
          ...(options.allowDowngrade ? { allowDowngrade: true } : {}),
          ...(options.deltas === false ? { useDeltas: false } : {}),
          ...(options.dryRun ? { dryRun: true } : {}),
        };
        const answer = await clientFor(options, io).request<Rollout | RolloutDryRun>('POST', '/rollouts', { json: body });
        if ('dryRun' in answer) printRecord(answer, options, io, dryRunFields);
        else printRecord(answer, options, io, rolloutFields);
      },
      options.query !== undefined ? { query: options.query } : {},
    );
  });

  addClientOptions(rollout.command('list').description('list rollouts, newest first').option('--state <state>', 'only rollouts in this state')).action(async (options: StateOptions) => {
    await runAction(io, async () => {
      const client = clientFor(options, io);
      const items = await collectAll((cursor) => client.request<Page<Rollout>>('GET', '/rollouts', { query: { cursor, state: options.state } }));
      printAll(items, options, io, { columns: ROLLOUT_COLUMNS, empty: 'no rollouts' });
    });
  });

  addClientOptions(
    rollout
      .command('show')
      .description('a rollout: waves, counts per state, thresholds')
      .argument('<id>', 'rollout id')
      .option('--watch', 'print it again whenever it changes, until it completes or aborts')
      .addOption(new Option('--interval <ms>', 'how often --watch asks').argParser(parseWhole).default(2000).hideHelp()),
  ).action(async (id: string, options: ShowOptions) => {
    await runAction(
      io,
      async () => {
        const client = clientFor(options, io);
        const path = `/rollouts/${encodeURIComponent(id)}`;
        let shown = '';
        for (;;) {
          const r = await client.request<Rollout>('GET', path);
          const key = JSON.stringify([r.state, r.currentWave, r.counts, r.stateReason]);
          if (key !== shown) {
            if (shown !== '' && !options.json) io.stdout.write('\n');
            if (options.json) printJson(r, io.stdout);
            else printFields(rolloutFields(r), io.stdout);
            shown = key;
          }
          if (!options.watch || ENDED.has(r.state)) return;
          await new Promise((resolve) => setTimeout(resolve, options.interval ?? 2000));
        }
      },
      subject(id),
    );
  });

  addClientOptions(rollout.command('devices').description('the devices of a rollout and their update states').argument('<id>', 'rollout id').option('--state <state>', 'only devices in this state')).action(async (id: string, options: StateOptions) => {
    await runAction(
      io,
      async () => {
        const client = clientFor(options, io);
        const items = await collectAll((cursor) => client.request<Page<RolloutDevice>>('GET', `/rollouts/${encodeURIComponent(id)}/devices`, { query: { cursor, limit: 1000, state: options.state } }));
        if (options.json) printJson({ items, nextCursor: null }, io.stdout);
        else if (items.length === 0) io.stderr.write('no devices\n');
        else printTable(items, DEVICE_COLUMNS, io.stdout);
      },
      subject(id),
    );
  });

  const actions = [
    ['pause', 'stop offering (devices already offered carry on)'],
    ['resume', 'offer again; the failure threshold counts from now'],
    ['abort', 'stop for good: devices not yet downloading are cancelled'],
    ['approve', 'start the next wave of a rollout awaiting approval'],
  ] as const;
  for (const [action, description] of actions) {
    addClientOptions(rollout.command(action).description(description).argument('<id>', 'rollout id')).action(async (id: string, options: ClientCommandOptions) => {
      await runAction(io, async () => printRecord(await clientFor(options, io).request<Rollout>('POST', `/rollouts/${encodeURIComponent(id)}/${action}`), options, io, rolloutFields), subject(id));
    });
  }
}
