/**
 * `hangar user create|list|disable` — dashboard users of the caller's tenant (admin role).
 * Passwords never travel on the command line (they would land in shell history and `ps`):
 * they come from stdin (`--password-stdin`) or a prompt that does not echo.
 */
import type { Readable, Writable } from 'node:stream';
import { Option, type Command } from 'commander';
import { ROLES, collectAll, type Role, type User } from '../client/api-client.js';
import { printAll, printDone, printRecord } from '../client/command-kit.js';
import {
  CliError,
  addClientOptions,
  clientFor,
  formatTime,
  isTty,
  resolveIo,
  runAction,
  type CliIo,
  type ClientCommandOptions,
  type Column,
} from '../client/output.js';

interface CreateOptions extends ClientCommandOptions {
  role: Role;
  passwordStdin?: boolean;
}

const USER_COLUMNS: readonly Column<User>[] = [
  { header: 'ID', value: (u) => u.id },
  { header: 'USERNAME', value: (u) => u.username },
  { header: 'ROLE', value: (u) => u.role },
  { header: 'CREATED', value: (u) => formatTime(u.createdAt) },
  { header: 'DISABLED', value: (u) => formatTime(u.disabledAt) },
];

export function registerUserCommands(program: Command, ioOverrides: Partial<CliIo> = {}): void {
  const io = resolveIo(ioOverrides);
  const user = program.command('user').description('manage dashboard users (admin)');

  addClientOptions(
    user
      .command('create')
      .description('create a user')
      .argument('<username>', 'login name')
      .addOption(new Option('--role <role>', 'role of the user').choices(ROLES).makeOptionMandatory())
      .option('--password-stdin', 'read the password from stdin (else prompt on a terminal)'),
  ).action(async (username: string, options: CreateOptions) => {
    await runAction(io, async () => {
      const client = clientFor(options, io);
      const password = await readPassword(io, options.passwordStdin === true);
      printRecord(await client.createUser({ username, password, role: options.role }), options, io, userFields);
    });
  });

  addClientOptions(user.command('list').description('list users')).action(async (options: ClientCommandOptions) => {
    await runAction(io, async () => {
      const client = clientFor(options, io);
      const items = await collectAll((cursor) => client.listUsers(cursor !== undefined ? { cursor } : {}));
      printAll(items, options, io, { columns: USER_COLUMNS, empty: 'no users found' });
    });
  });

  addClientOptions(
    user.command('disable').description('disable a user (they can no longer log in)').argument('<id>', 'user id'),
  ).action(async (id: string, options: ClientCommandOptions) => {
    await runAction(
      io,
      async () => {
        await clientFor(options, io).disableUser(id);
        printDone(options, io, { id, disabled: true }, `disabled user "${id}"`);
      },
      { subject: { kind: 'user', id, notFoundCode: 'USER_NOT_FOUND' } },
    );
  });
}

function userFields(user: User): Array<[string, string]> {
  return [
    ['id', user.id],
    ['username', user.username],
    ['role', user.role],
    ['created', formatTime(user.createdAt)],
    ['disabled', formatTime(user.disabledAt)],
  ];
}

/** Enough for any password and small enough that a mistaken `< bigfile` fails fast. */
const MAX_PASSWORD_BYTES = 4096;

async function readPassword(io: CliIo, fromStdin: boolean): Promise<string> {
  if (fromStdin) {
    const password = await readStdinPassword(io.stdin);
    if (password.length === 0) throw new CliError('no password on stdin');
    return password;
  }
  if (!isTty(io.stdin) || !isTty(io.stderr)) {
    throw new CliError('no password: pass --password-stdin or run on a terminal to be prompted');
  }
  const password = await promptHidden(io.stdin, io.stderr, 'Password: ');
  if (password.length === 0) throw new CliError('empty password');
  const again = await promptHidden(io.stdin, io.stderr, 'Repeat password: ');
  if (again !== password) throw new CliError('the passwords do not match');
  return password;
}

/** All of stdin, minus one trailing newline (what `echo pw |` adds). */
async function readStdinPassword(stdin: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += bytes.length;
    if (size > MAX_PASSWORD_BYTES) throw new CliError(`the password on stdin is longer than ${MAX_PASSWORD_BYTES} bytes`);
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

interface RawModeStream extends Readable {
  setRawMode?: (mode: boolean) => unknown;
  isRaw?: boolean;
}

/** Reads one line from a terminal in raw mode, echoing nothing. Ctrl-C or Ctrl-D cancel. */
function promptHidden(input: RawModeStream, output: Writable, question: string): Promise<string> {
  output.write(question);
  const wasRaw = input.isRaw === true;
  input.setRawMode?.(true);
  input.setEncoding('utf8');
  input.resume();
  return new Promise<string>((resolve, reject) => {
    let value = '';
    const finish = (rest: string, error?: CliError): void => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.setRawMode?.(wasRaw);
      input.pause();
      // Typed ahead or pasted in one go: the next prompt reads what follows this line.
      if (rest.length > 0) input.unshift(rest);
      output.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string): void => {
      const chars = Array.from(chunk);
      for (const [i, ch] of chars.entries()) {
        const rest = (): string => chars.slice(i + 1).join('').replace(/^\n/, '');
        if (ch === '\r' || ch === '\n') return finish(rest());
        if (ch === '\u0003' || ch === '\u0004') return finish('', new CliError('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = Array.from(value).slice(0, -1).join('');
        else if (ch >= ' ') value += ch;
      }
    };
    const onEnd = (): void => finish('', new CliError('no password entered'));
    input.on('data', onData);
    input.once('end', onEnd);
  });
}
