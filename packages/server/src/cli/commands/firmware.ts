/**
 * `hangar firmware upload|list|show|delete|download|manifest|keys` — the firmware registry
 * (docs/firmware.md) through `/api/v1/firmware`. Uploads and downloads stream: an image is
 * never held whole in memory, and a TTY shows a progress bar.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { InvalidArgumentError, type Command } from 'commander';
import cliProgress from 'cli-progress';
import { canonicalManifest } from '@hangar/protocol';
import type { Firmware, SigningKey } from '@hangar/protocol/rest';
import { collectAll, type Page } from '../client/api-client.js';
import { confirmOrStop, printAll, printDone, printRecord } from '../client/command-kit.js';
import { CliError, addClientOptions, clientFor, formatTime, isTty, resolveIo, runAction, type CliIo, type ClientCommandOptions, type Column } from '../client/output.js';

interface UploadOptions extends ClientCommandOptions {
  version: string;
  deviceTypes?: string;
  releaseNotes?: string;
  sha256?: string;
  signature?: string;
  keyId?: string;
  id?: string;
}

interface ManifestOptions {
  version: string;
  id: string;
  deviceTypes?: string;
}

const subject = (id: string): { subject: { kind: string; id: string; notFoundCode: string } } => ({ subject: { kind: 'firmware', id, notFoundCode: 'FIRMWARE_NOT_FOUND' } });

const FIRMWARE_COLUMNS: readonly Column<Firmware>[] = [
  { header: 'ID', value: (f) => f.id },
  { header: 'VERSION', value: (f) => f.version },
  { header: 'DEVICE TYPES', value: (f) => (f.deviceTypes.length === 0 ? 'any' : f.deviceTypes.join(',')) },
  { header: 'SIZE', value: (f) => formatBytes(f.size) },
  { header: 'SIGNED BY', value: (f) => `${f.signedBy} ${f.keyId}` },
  { header: 'CREATED', value: (f) => formatTime(f.createdAt) },
];

const KEY_COLUMNS: readonly Column<SigningKey>[] = [
  { header: 'KEY ID', value: (k) => k.keyId },
  { header: 'KIND', value: (k) => k.kind },
  { header: 'STATE', value: (k) => k.state },
  { header: 'CREATED', value: (k) => formatTime(k.createdAt) },
  { header: 'RETIRED', value: (k) => formatTime(k.retiredAt) },
];

function firmwareFields(f: Firmware): Array<[string, string]> {
  return [
    ['id', f.id],
    ['version', f.version],
    ['device types', f.deviceTypes.length === 0 ? 'any' : f.deviceTypes.join(', ')],
    ['size', `${f.size} bytes (${formatBytes(f.size)})`],
    ['sha256', f.sha256],
    ['signed by', `${f.signedBy} key ${f.keyId}`],
    ['signature', f.signature],
    ['created', `${formatTime(f.createdAt)} by ${f.createdBy}`],
    ['release notes', f.releaseNotes === '' ? '-' : f.releaseNotes],
  ];
}

function keyFields(k: SigningKey): Array<[string, string]> {
  return [
    ['key id', k.keyId],
    ['kind', k.kind],
    ['state', k.state],
    ['created', formatTime(k.createdAt)],
    ['public key', k.publicKeyPem.trim()],
  ];
}

function parseSha256(value: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new InvalidArgumentError('must be 64 hexadecimal characters');
  return value.toLowerCase();
}

export function registerFirmwareCommands(program: Command, ioOverrides: Partial<CliIo> = {}): void {
  const io = resolveIo(ioOverrides);
  const firmware = program.command('firmware').description('the firmware registry: upload, list, download images; signing keys');

  addClientOptions(
    firmware
      .command('upload')
      .description('upload an image (streamed, with a progress bar on a terminal)')
      .argument('<file>', 'the image')
      .requiredOption('--version <semver>', 'its version (SemVer, unique in the tenant)')
      .option('--device-types <a,b>', 'device types it may be installed on (default: any)')
      .option('--release-notes <text|@file>', 'release notes, or @FILE to read them from a file')
      .option('--sha256 <hex>', 'the SHA-256 you expect: the upload is refused when the bytes differ', parseSha256)
      .option('--signature <base64>', 'your own Ed25519 signature of the manifest (see `hangar firmware manifest`) instead of Hangar signing it')
      .option('--key-id <id>', 'the external key that made --signature (default: the only one registered)')
      .option('--id <id>', 'the image id (needed with --signature: the signed manifest names it)'),
  ).action(async (file: string, options: UploadOptions) => {
    await runAction(io, async () => {
      if (options.keyId !== undefined && options.signature === undefined) throw new CliError('--key-id names the key of --signature: pass --signature too');
      if (options.signature !== undefined && options.id === undefined) throw new CliError('--signature needs --id: the signed manifest names the image (see `hangar firmware manifest`)');
      const releaseNotes = options.releaseNotes?.startsWith('@') ? await readText(options.releaseNotes.slice(1)) : options.releaseNotes;
      const size = await fileSize(file);
      const client = clientFor(options, io);
      const progress = uploadProgress(io.stderr, size);
      let readError: NodeJS.ErrnoException | undefined;
      async function* body(): AsyncGenerator<Uint8Array, void, undefined> {
        let sent = 0;
        try {
          // fetch pulls chunk by chunk, so the file is read only as fast as the upload goes.
          for await (const chunk of createReadStream(file, { highWaterMark: 256 * 1024 })) {
            sent += (chunk as Buffer).length;
            progress.update(sent);
            yield chunk as Buffer;
          }
        } catch (err) {
          readError = err as NodeJS.ErrnoException;
          throw err;
        }
      }
      let uploaded: Firmware;
      try {
        uploaded = await client.request<Firmware>('POST', '/firmware', {
          query: { version: options.version, deviceTypes: options.deviceTypes, releaseNotes, sha256: options.sha256, signature: options.signature, keyId: options.keyId, id: options.id },
          stream: { body: body(), contentType: 'application/octet-stream' },
        });
      } catch (err) {
        if (readError) throw new CliError(`cannot read "${file}" (${readError.code ?? readError.message})`);
        throw err;
      } finally {
        progress.stop();
      }
      printRecord(uploaded, options, io, firmwareFields);
    });
  });

  addClientOptions(firmware.command('list').description('list images, newest first').option('--device-type <type>', 'only those installable on this device type')).action(
    async (options: ClientCommandOptions & { deviceType?: string }) => {
      await runAction(io, async () => {
        const client = clientFor(options, io);
        const items = await collectAll((cursor) => client.request<Page<Firmware>>('GET', '/firmware', { query: { cursor, deviceType: options.deviceType } }));
        printAll(items, options, io, { columns: FIRMWARE_COLUMNS, empty: 'no firmware' });
      });
    },
  );

  addClientOptions(firmware.command('show').description('one image with its signed manifest').argument('<id>')).action(async (id: string, options: ClientCommandOptions) => {
    await runAction(io, async () => printRecord(await clientFor(options, io).request<Firmware>('GET', `/firmware/${encodeURIComponent(id)}`), options, io, firmwareFields), subject(id));
  });

  addClientOptions(firmware.command('delete').description('delete an image and its bytes (refused while a rollout uses it)').argument('<id>').option('-y, --yes', 'do not ask for confirmation')).action(
    async (id: string, options: ClientCommandOptions & { yes?: boolean }) => {
      await runAction(
        io,
        async () => {
          const client = clientFor(options, io);
          await confirmOrStop(io, { yes: options.yes, action: ['delete', 'deleted'], target: `firmware "${id}"` });
          await client.request<undefined>('DELETE', `/firmware/${encodeURIComponent(id)}`);
          printDone(options, io, { id, deleted: true }, `deleted firmware "${id}"`);
        },
        subject(id),
      );
    },
  );

  addClientOptions(firmware.command('download').description('download an image; its SHA-256 is checked').argument('<id>').option('-o, --output <file>', 'where to write it ("-": standard output; default <id>.bin)')).action(
    async (id: string, options: ClientCommandOptions & { output?: string }) => {
      await runAction(
        io,
        async () => {
          const client = clientFor(options, io);
          const response = await client.download(`/firmware/${encodeURIComponent(id)}/image`);
          const size = Number(response.headers.get('content-length') ?? 0);
          const expected = (response.headers.get('etag') ?? '').replace(/"/g, '');
          const output = options.output ?? `${id}.bin`;
          const toStdout = output === '-';
          const progress = uploadProgress(io.stderr, size, 'downloading');
          const hash = createHash('sha256');
          let received = 0;
          const target: Writable = toStdout ? io.stdout : createWriteStream(output, { flags: 'w' });
          try {
            await pipeline(
              Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
              async function* (source: AsyncIterable<Buffer>) {
                for await (const chunk of source) {
                  hash.update(chunk);
                  received += chunk.length;
                  progress.update(received);
                  yield chunk;
                }
              },
              target,
              ...(toStdout ? [{ end: false }] : []),
            );
          } catch (err) {
            if (!toStdout) await rm(output, { force: true });
            throw new CliError(`the download of firmware "${id}" failed: ${(err as Error).message}`);
          } finally {
            progress.stop();
          }
          const actual = hash.digest('hex');
          if (expected !== '' && actual !== expected) {
            if (!toStdout) await rm(output, { force: true });
            throw new CliError(`the downloaded bytes have SHA-256 ${actual}, not ${expected}: removed`);
          }
          if (!toStdout) printDone(options, io, { id, file: output, size: received, sha256: actual }, `wrote ${output} (${received} bytes, sha256 ${actual})`);
        },
        subject(id),
      );
    },
  );

  firmware
    .command('manifest')
    .description('print the canonical manifest of an image, the exact bytes an external signature covers (docs/firmware.md)')
    .argument('<file>', 'the image')
    .requiredOption('--version <semver>', 'the version it will be uploaded as')
    .requiredOption('--id <id>', 'the id it will be uploaded with (--id of upload)')
    .option('--device-types <a,b>', 'its device types (as for upload)')
    .action(async (file: string, options: ManifestOptions) => {
      await runAction(io, async () => {
        await fileSize(file);
        const hash = createHash('sha256');
        let size = 0;
        for await (const chunk of createReadStream(file)) {
          hash.update(chunk as Buffer);
          size += (chunk as Buffer).length;
        }
        const deviceTypes = [...new Set((options.deviceTypes ?? '').split(',').map((t) => t.trim()).filter((t) => t !== ''))];
        // No newline after it: the bytes printed are the bytes to sign.
        io.stdout.write(canonicalManifest({ v: 1, firmwareId: options.id, version: options.version, deviceTypes, size, sha256: hash.digest('hex') }));
      });
    });

  const keys = firmware.command('keys').description('the signing keys of firmware manifests');
  const listKeys = async (options: ClientCommandOptions): Promise<void> => {
    await runAction(io, async () => {
      const page = await clientFor(options, io).request<Page<SigningKey>>('GET', '/firmware/signing-keys');
      printAll(page.items, options, io, { columns: KEY_COLUMNS, empty: 'no signing keys' });
    });
  };
  addClientOptions(keys.command('list', { isDefault: true }).description('list the keys: Hangar’s (active and retired) and external ones')).action(listKeys);
  addClientOptions(keys.command('rotate').description('make a new active key and retire the current one (admin)')).action(async (options: ClientCommandOptions) => {
    await runAction(io, async () => printRecord(await clientFor(options, io).request<SigningKey>('POST', '/firmware/signing-keys/rotate'), options, io, keyFields));
  });
  addClientOptions(keys.command('add-external').description('register your own Ed25519 public key (SPKI PEM file) to sign uploads with (admin)').argument('<pemfile>')).action(
    async (pemFile: string, options: ClientCommandOptions) => {
      await runAction(io, async () => {
        const publicKeyPem = await readText(pemFile);
        printRecord(await clientFor(options, io).request<SigningKey>('POST', '/firmware/signing-keys/external', { json: { publicKeyPem } }), options, io, keyFields);
      });
    },
  );
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

async function fileSize(file: string): Promise<number> {
  try {
    const info = await stat(file);
    if (info.isDirectory()) throw new CliError(`"${file}" is a directory, not an image`);
    return info.isFile() ? info.size : 0;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

interface Progress {
  update(done: number): void;
  stop(): void;
}

/** Off a terminal, transfers smaller than this go without progress lines: they end before anyone reads one. */
const PLAIN_PROGRESS_MIN_BYTES = 1024 * 1024;

/** A bar on a terminal; otherwise a plain line at every tenth, so logs show progress without control characters. */
function uploadProgress(stderr: Writable, size: number, verb = 'uploading'): Progress {
  if (size <= 0 || (!isTty(stderr) && size < PLAIN_PROGRESS_MIN_BYTES)) return { update: () => undefined, stop: () => undefined };
  if (isTty(stderr)) {
    const bar = new cliProgress.SingleBar(
      { stream: stderr, format: `${verb} [{bar}] {percentage}% | {done} / {size}`, hideCursor: true, clearOnComplete: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(size, 0, { done: formatBytes(0), size: formatBytes(size) });
    return { update: (done) => bar.update(done, { done: formatBytes(done) }), stop: () => bar.stop() };
  }
  let shown = 0;
  return {
    update(done) {
      const tenth = Math.floor((done * 10) / size);
      if (tenth > shown) {
        shown = tenth;
        stderr.write(`${verb} ${tenth * 10}% (${formatBytes(done)} of ${formatBytes(size)})\n`);
      }
    },
    stop: () => undefined,
  };
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}
