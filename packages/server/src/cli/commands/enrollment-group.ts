/**
 * `hangar enrollment-group create|list|show|update|delete` — the groups through which devices
 * enroll themselves (`POST /device/v1/provision`) by claim token, group symmetric key or a
 * certificate of a registered CA (.tmp/api-identity.md). The claim token or group key is
 * answered once, by `create`.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  collectString,
  collectTag,
  confirmOrStop,
  listAll,
  printAll,
  printDone,
  printRecord,
  warnShownOnce,
} from '../client/command-kit.js';
import {
  CliError,
  addClientOptions,
  clientFor,
  formatList,
  formatTags,
  formatTime,
  formatValue,
  printFields,
  printJson,
  resolveIo,
  runAction,
  type CliIo,
  type ClientCommandOptions,
  type Column,
  type ErrorContext,
} from '../client/output.js';
import type { CreatedEnrollmentGroup, CredentialType, EnrollmentGroupPatch, EnrollmentMechanism, NewEnrollmentGroup } from '@hangar/protocol';
import { CREDENTIAL_TYPES, readInputFile } from './credentials.js';

// ---------------------------------------------------------------------------------------------
// Wire shapes

export type { CreatedEnrollmentGroup as EnrollmentGroup, EnrollmentMechanism };

export const ENROLLMENT_MECHANISMS: readonly EnrollmentMechanism[] = ['claim_token', 'symmetric_key', 'ca'];




const BASE_PATH = '/enrollment-groups';

function groupPath(id: string): string {
  return `${BASE_PATH}/${encodeURIComponent(id)}`;
}

// ---------------------------------------------------------------------------------------------
// Commands

interface CreateOptions extends ClientCommandOptions {
  name: string;
  mechanism: EnrollmentMechanism;
  ca?: string;
  credentialType?: CredentialType;
  deviceType?: string;
  tag: Record<string, string>;
  group: string[];
  desired?: string;
  limit?: number;
  expires?: string;
  disabled?: boolean;
}

interface UpdateOptions extends ClientCommandOptions {
  name?: string;
  enable?: boolean;
  disable?: boolean;
  /** `false` for --no-limit. */
  limit?: number | false;
  expires?: string;
  /** `false` for --no-expiry (commander's default for a lone negated option is `true`). */
  expiry: boolean;
  credentialType?: CredentialType;
  deviceType?: string;
  tag: Record<string, string>;
  group: string[];
  desired?: string;
}

interface DeleteOptions extends ClientCommandOptions {
  yes?: boolean;
}

export function registerEnrollmentGroupCommands(program: Command, ioOverrides: Partial<CliIo> = {}): void {
  const io = resolveIo(ioOverrides);
  const enrollmentGroup = program
    .command('enrollment-group')
    .description('manage enrollment groups: devices enroll themselves by claim token, group key or CA-signed certificate');

  addClientOptions(
    enrollmentGroup
      .command('create')
      .description('create an enrollment group; its claim token or group key is printed once')
      .requiredOption('--name <name>', 'a name unique in the tenant')
      .addOption(new Option('--mechanism <mechanism>', 'how devices prove they may enroll').choices(ENROLLMENT_MECHANISMS).makeOptionMandatory())
      .option('--ca <ca-id>', 'the registered, active CA whose device certificates it admits (mechanism ca)')
      .addOption(new Option('--credential-type <type>', 'what enrolled devices receive').choices(CREDENTIAL_TYPES))
      .option('--device-type <type>', 'type of the devices it creates')
      .option('--tag <key=value>', 'tag of the devices it creates (repeatable)', collectTag, {})
      .option('--group <group>', 'static group the devices join (repeatable)', collectString, [])
      .option('--desired <json|@file>', 'initial desired twin state, a JSON object or @FILE holding one')
      .option('--limit <n>', 'most devices that may enroll through it', parsePositiveInteger)
      .option('--expires <iso>', 'when it stops admitting devices (ISO 8601)', parseIsoTime)
      .option('--disabled', 'create it disabled'),
  ).action(async (options: CreateOptions) => {
    await runAction(io, async () => {
      const client = clientFor(options, io);
      const body: NewEnrollmentGroup = { name: options.name, mechanism: options.mechanism };
      if (options.ca !== undefined) body.caId = options.ca;
      if (options.credentialType !== undefined) body.credentialType = options.credentialType;
      if (options.deviceType !== undefined) body.deviceType = options.deviceType;
      if (Object.keys(options.tag).length > 0) body.tags = options.tag;
      if (options.group.length > 0) body.groups = options.group;
      if (options.desired !== undefined) body.initialDesired = await readDesired(options.desired);
      if (options.limit !== undefined) body.deviceLimit = options.limit;
      if (options.expires !== undefined) body.expiresAt = options.expires;
      if (options.disabled) body.enabled = false;
      const created = await client.request<CreatedEnrollmentGroup>('POST', BASE_PATH, { json: body });
      if (options.json) {
        printJson(created, io.stdout);
        return;
      }
      const secret: [string, string] | undefined =
        created.claimToken !== undefined
          ? ['claim token', created.claimToken]
          : created.groupKey !== undefined
            ? ['group key', created.groupKey]
            : undefined;
      printFields([...groupFields(created), ...(secret ? [secret] : [])], io.stdout);
      if (secret) warnShownOnce(io, `this ${secret[0]}`);
    });
  });

  addClientOptions(enrollmentGroup.command('list').description('list enrollment groups')).action(
    async (options: ClientCommandOptions) => {
      await runAction(io, async () => {
        const items = await listAll<CreatedEnrollmentGroup>(clientFor(options, io), BASE_PATH);
        printAll(items, options, io, { columns: GROUP_COLUMNS, empty: 'no enrollment groups found' });
      });
    },
  );

  addClientOptions(
    enrollmentGroup.command('show').description('show one enrollment group').argument('<id>', 'enrollment group id'),
  ).action(async (id: string, options: ClientCommandOptions) => {
    await runAction(
      io,
      async () => {
        printRecord(await clientFor(options, io).request<CreatedEnrollmentGroup>('GET', groupPath(id)), options, io, groupFields);
      },
      groupSubject(id),
    );
  });

  addClientOptions(
    enrollmentGroup
      .command('update')
      .description('change an enrollment group')
      .argument('<id>', 'enrollment group id')
      .option('--name <name>', 'new name')
      .addOption(new Option('--enable', 'admit devices again').conflicts('disable'))
      .addOption(new Option('--disable', 'stop admitting devices'))
      // One attribute for both: the last of --limit N and --no-limit wins, as commander pairs them.
      .option('--limit <n>', 'most devices that may enroll through it', parsePositiveInteger)
      .option('--no-limit', 'remove the device limit')
      .option('--expires <iso>', 'when it stops admitting devices (ISO 8601)', parseIsoTime)
      .addOption(new Option('--no-expiry', 'never expire').conflicts('expires'))
      .addOption(new Option('--credential-type <type>', 'what enrolled devices receive').choices(CREDENTIAL_TYPES))
      .option('--device-type <type>', 'type of the devices it creates')
      .option('--tag <key=value>', 'tags of the devices it creates, replacing the current ones (repeatable)', collectTag, {})
      .option('--group <group>', 'static groups the devices join, replacing the current ones (repeatable)', collectString, [])
      .option('--desired <json|@file>', 'initial desired twin state, replacing the current one'),
  ).action(async (id: string, options: UpdateOptions) => {
    await runAction(
      io,
      async () => {
        const client = clientFor(options, io);
        const patch = await groupPatch(options);
        printRecord(await client.request<CreatedEnrollmentGroup>('PATCH', groupPath(id), { json: patch }), options, io, groupFields);
      },
      groupSubject(id),
    );
  });

  addClientOptions(
    enrollmentGroup
      .command('delete')
      .description('delete an enrollment group (devices that enrolled through it stay)')
      .argument('<id>', 'enrollment group id')
      .option('-y, --yes', 'do not ask for confirmation'),
  ).action(async (id: string, options: DeleteOptions) => {
    await runAction(
      io,
      async () => {
        const client = clientFor(options, io);
        await confirmOrStop(io, { yes: options.yes, action: ['delete', 'deleted'], target: `enrollment group "${id}"` });
        await client.request<undefined>('DELETE', groupPath(id));
        printDone(options, io, { id, deleted: true }, `deleted enrollment group "${id}"`);
      },
      groupSubject(id),
    );
  });
}

async function groupPatch(options: UpdateOptions): Promise<EnrollmentGroupPatch> {
  const patch: EnrollmentGroupPatch = {};
  if (options.name !== undefined) patch.name = options.name;
  if (options.enable) patch.enabled = true;
  if (options.disable) patch.enabled = false;
  if (options.limit !== undefined) patch.deviceLimit = options.limit === false ? null : options.limit;
  if (options.expires !== undefined) patch.expiresAt = options.expires;
  if (options.expiry === false) patch.expiresAt = null;
  if (options.credentialType !== undefined) patch.credentialType = options.credentialType;
  if (options.deviceType !== undefined) patch.deviceType = options.deviceType;
  if (Object.keys(options.tag).length > 0) patch.tags = options.tag;
  if (options.group.length > 0) patch.groups = options.group;
  if (options.desired !== undefined) patch.initialDesired = await readDesired(options.desired);
  if (Object.keys(patch).length === 0) {
    throw new CliError(
      'nothing to update: pass --name, --enable, --disable, --limit, --no-limit, --expires, --no-expiry, ' +
        '--credential-type, --device-type, --tag, --group or --desired',
    );
  }
  return patch;
}

function groupSubject(id: string): ErrorContext {
  return { subject: { kind: 'enrollment group', id, notFoundCode: 'ENROLLMENT_GROUP_NOT_FOUND' } };
}

// ---------------------------------------------------------------------------------------------
// Printing

function formatEnrolled(group: CreatedEnrollmentGroup): string {
  return group.deviceLimit === null ? String(group.enrolledCount) : `${group.enrolledCount}/${group.deviceLimit}`;
}

const GROUP_COLUMNS: readonly Column<CreatedEnrollmentGroup>[] = [
  { header: 'ID', value: (g) => g.id },
  { header: 'NAME', value: (g) => g.name },
  { header: 'MECHANISM', value: (g) => g.mechanism },
  { header: 'CREDENTIAL', value: (g) => formatValue(g.credentialType) },
  { header: 'ENABLED', value: (g) => formatValue(g.enabled) },
  { header: 'ENROLLED', value: formatEnrolled },
  { header: 'EXPIRES', value: (g) => formatTime(g.expiresAt) },
];

function groupFields(group: CreatedEnrollmentGroup): Array<[string, string]> {
  return [
    ['id', group.id],
    ['name', group.name],
    ['mechanism', group.mechanism],
    ['enabled', formatValue(group.enabled)],
    ['CA', formatValue(group.caId)],
    ['credential type', formatValue(group.credentialType)],
    ['device type', formatValue(group.deviceType)],
    ['tags', formatTags(group.tags)],
    ['groups', formatList(group.groups)],
    ['initial desired', Object.keys(group.initialDesired ?? {}).length > 0 ? JSON.stringify(group.initialDesired) : '-'],
    ['device limit', formatValue(group.deviceLimit)],
    ['enrolled', String(group.enrolledCount)],
    ['expires', formatTime(group.expiresAt)],
    ['created', formatTime(group.createdAt)],
    ['updated', formatTime(group.updatedAt)],
  ];
}

// ---------------------------------------------------------------------------------------------
// Option parsers

/** `--desired '{"a":1}'` or `--desired @desired.json`: a JSON object either way. */
async function readDesired(value: string): Promise<Record<string, unknown>> {
  const fromFile = value.startsWith('@');
  const text = fromFile ? await readInputFile(value.slice(1)) : value;
  const source = fromFile ? `"${value.slice(1)}"` : '--desired';
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${source} is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CliError(`${source} must hold a JSON object, e.g. '{"interval": 60}'`);
  }
  return parsed as Record<string, unknown>;
}

function parsePositiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a whole number from 1');
  return n;
}

/** Any time `Date` reads, sent as ISO 8601 UTC so the server sees one form. */
function parseIsoTime(value: string): string {
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(ms)) {
    throw new InvalidArgumentError('expected an ISO 8601 time, e.g. 2030-01-31T00:00:00Z');
  }
  return new Date(ms).toISOString();
}
