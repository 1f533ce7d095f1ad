/**
 * `hangar twin get|set` — a device's twin over the REST API (docs/twins.md): read desired,
 * reported and the delta; change desired with a JSON merge patch, optionally only if the twin
 * is still at a given etag (`--if-match`, 412 otherwise).
 */
import { readFile, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import type { DeviceTwin } from '@hangar/protocol';
import type { ApiClient } from '../client/api-client.js';
import { printRecord } from '../client/command-kit.js';
import {
  CliError,
  addClientOptions,
  clientFor,
  formatTime,
  resolveIo,
  runAction,
  type CliIo,
  type ClientCommandOptions,
  type ErrorContext,
} from '../client/output.js';

interface SetOptions extends ClientCommandOptions {
  patch?: string;
  file?: string;
  ifMatch?: string;
}

/**
 * Far above any twin the server accepts (32 KiB a half by default) and small enough that a
 * mistaken `--file /var/log/big.log` fails here rather than after uploading it.
 */
export const MAX_PATCH_BYTES = 1024 * 1024;

export function registerTwinCommands(program: Command, ioOverrides: Partial<CliIo> = {}): Command {
  const io = resolveIo(ioOverrides);
  const twin = program.command('twin').description('read a device twin and change its desired state');

  addClientOptions(
    twin.command('get').description('show desired, reported and the delta (desired not reported yet)').argument('<device>', 'device id'),
  ).action(async (deviceId: string, options: ClientCommandOptions) => {
    await runAction(
      io,
      async () => {
        printRecord(await getTwin(clientFor(options, io), deviceId), options, io, twinFields);
      },
      twinSubject(deviceId),
    );
  });

  addClientOptions(
    twin
      .command('set')
      .description('change desired with a JSON merge patch (RFC 7396: objects merge, null deletes a property)')
      .argument('<device>', 'device id')
      .option('--patch <json>', 'the merge patch, e.g. \'{"interval":30,"debug":null}\'')
      .option('--file <file>', 'read the merge patch from a file (- for stdin)')
      .option('--if-match <etag>', 'apply only if the twin still has this etag (from `twin get`); 412 otherwise'),
  ).action(async (deviceId: string, options: SetOptions) => {
    await runAction(
      io,
      async () => {
        const patch = parsePatch(await patchText(options, io.stdin));
        const client = clientFor(options, io);
        printRecord(await setDesired(client, deviceId, patch, options.ifMatch), options, io, twinFields);
      },
      twinSubject(deviceId),
    );
  });
  return twin;
}

function getTwin(client: ApiClient, deviceId: string): Promise<DeviceTwin> {
  return client.request<DeviceTwin>('GET', `/devices/${encodeURIComponent(deviceId)}/twin`);
}

function setDesired(client: ApiClient, deviceId: string, desired: unknown, ifMatch: string | undefined): Promise<DeviceTwin> {
  return client.request<DeviceTwin>('PATCH', `/devices/${encodeURIComponent(deviceId)}/twin`, {
    json: { desired },
    ...(ifMatch !== undefined ? { headers: { 'if-match': ifMatch } } : {}),
  });
}

function twinSubject(deviceId: string): ErrorContext {
  return { subject: { kind: 'device', id: deviceId, notFoundCode: 'DEVICE_NOT_FOUND' } };
}

/** The patch's text from exactly one of `--patch` and `--file`. */
async function patchText(options: SetOptions, stdin: Readable): Promise<{ text: string; from: string }> {
  if ((options.patch === undefined) === (options.file === undefined)) {
    throw new CliError('give the merge patch with exactly one of --patch JSON and --file FILE');
  }
  if (options.patch !== undefined) return { text: options.patch, from: '--patch' };
  const file = options.file ?? '';
  if (file === '-') return { text: await readBounded(stdin), from: 'stdin' };
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (size > MAX_PATCH_BYTES) throw new CliError(`${file} is ${size} bytes; a twin patch is at most ${MAX_PATCH_BYTES} bytes`);
  return { text: await readFile(file, 'utf8'), from: file };
}

async function readBounded(stdin: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += bytes.length;
    if (size > MAX_PATCH_BYTES) throw new CliError(`the patch on stdin is longer than ${MAX_PATCH_BYTES} bytes`);
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Only JSON syntax is checked here: what a patch may hold (an object, no `$` names, the size)
 * is the server's rule, and its 400 says what is wrong.
 */
function parsePatch({ text, from }: { text: string; from: string }): unknown {
  if (text.trim() === '') throw new CliError(`the merge patch from ${from} is empty`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliError(`the merge patch from ${from} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function propertiesOf(half: DeviceTwin['desired']): Record<string, unknown> {
  return Object.fromEntries(Object.entries(half).filter(([key]) => !key.startsWith('$')));
}

function halfLine(half: DeviceTwin['desired']): string {
  const at = half.$metadata['$lastUpdated'];
  return `$version ${half.$version}${typeof at === 'string' ? `, last change ${formatTime(at)}` : ''}`;
}

function twinFields(twin: DeviceTwin): Array<[string, string]> {
  const pending = Object.keys(twin.delta);
  return [
    ['device', twin.deviceId],
    ['etag', twin.etag],
    ['desired', halfLine(twin.desired)],
    ['  properties', JSON.stringify(propertiesOf(twin.desired))],
    ['reported', halfLine(twin.reported)],
    ['  properties', JSON.stringify(propertiesOf(twin.reported))],
    ['delta', pending.length === 0 ? 'none (reported matches desired)' : JSON.stringify(twin.delta)],
  ];
}
