/**
 * `hangar device credentials|decommission|recommission` — a device's identity over the REST
 * API (DESIGN.md §3, .tmp/api-identity.md): X.509 certificates, tokens and DTLS pre-shared keys
 * are issued, listed and revoked; a device is taken out of service and let back in.
 *
 * `credentials` is a command and a parent at once: `hangar device credentials ID --type …`
 * issues (DESIGN's spelling), `credentials list ID` and `credentials revoke ID CRED` manage,
 * and `credentials issue ID` spells issuing out for a device whose id is a subcommand name.
 * The parent's options stop at a subcommand name (positional options, enabled up to the
 * program), so that `credentials list ID --json` gives `--json` to `list`.
 *
 * A new credential's secret is answered once. It goes to files (`--out-dir`: the key and the
 * token mode 0600, written whole or not at all) or to stdout with a warning.
 *
 * Two CAs are involved and users mixed them up when both were "the CA": the device CA signed
 * the device's certificate (the server trusts it), the server CA signed the certificate of
 * Hangar's TLS listeners (the device trusts it: `--cafile`). `--out-dir` writes both, named so.
 */
import { randomBytes } from 'node:crypto';
import { access, chmod, constants, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Credential, CredentialType, DecommissionedDevice, Device, IssuedCredential, NewCredentialRequest, RevocationReason } from '@hangar/protocol';
import { confirmOrStop, listAll, printAll, printDone, printRecord, warnShownOnce } from '../client/command-kit.js';
import {
  CliError,
  addClientOptions,
  clientFor,
  formatTime,
  formatValue,
  printFields,
  printJson,
  resolveIo,
  runAction,
  sanitize,
  type CliIo,
  type ClientCommandOptions,
  type Column,
} from '../client/output.js';
import { deviceFields, deviceSubject } from './device.js';

// ---------------------------------------------------------------------------------------------
// Wire shapes (.tmp/api-identity.md)

export type { Credential, CredentialType, IssuedCredential as NewCredential, RevocationReason };

export const CREDENTIAL_TYPES: readonly CredentialType[] = ['x509', 'token', 'psk'];

export const REVOCATION_REASONS: readonly RevocationReason[] = ['keyCompromise', 'superseded', 'cessationOfOperation', 'unspecified'];





function credentialsPath(deviceId: string): string {
  return `/devices/${encodeURIComponent(deviceId)}/credentials`;
}

// ---------------------------------------------------------------------------------------------
// Commands

export const MAX_VALIDITY_DAYS = 3650;

interface IssueOptions extends ClientCommandOptions {
  type?: CredentialType;
  csr?: string;
  validityDays?: number;
  outDir?: string;
  identity?: string;
  key?: string;
}

interface RevokeOptions extends ClientCommandOptions {
  reason?: RevocationReason;
}

interface DecommissionOptions extends ClientCommandOptions {
  purgeData?: boolean;
  yes?: boolean;
}

/** Hangs `credentials`, `decommission` and `recommission` on the `device` command. */
export function registerDeviceIdentityCommands(device: Command, ioOverrides: Partial<CliIo> = {}): void {
  const io = resolveIo(ioOverrides);
  // `credentials` has options of its own and subcommands: its options must stop at a subcommand
  // name, which commander only does when every command above it parses positionally too
  // (else the program hands the words after `credentials` down already sorted into operands
  // and options). None of those commands has options of its own, so nothing else changes.
  for (let command: Command | null = device; command; command = command.parent) command.enablePositionalOptions();

  const credentials = addIssueOptions(
    device
      .command('credentials')
      .description('issue a credential to a device (X.509 certificate, token or DTLS pre-shared key); list and revoke its credentials')
      .usage('<id> --type x509|token|psk [--csr FILE] [--identity I] [--key HEX] [--validity-days N] [--out-dir DIR] [options]\n' +
        '       hangar device credentials list <id>\n' +
        '       hangar device credentials revoke <id> <credential-id> [--reason REASON]')
      .argument('<id>', 'device id')
      // Options given after a subcommand name belong to the subcommand.
      .enablePositionalOptions()
      .addHelpText(
        'after',
        '\nWithout --out-dir the secret (private key or token) is printed once; with it, the files\n' +
          '<id>.crt.pem, <id>.key.pem (mode 0600, not with --csr) and device-ca.pem (the CA that\n' +
          'signed the certificate), or <id>.token (mode 0600), or <id>.psk-identity and <id>.psk-key\n' +
          '(hex, mode 0600), are written there, and with a certificate or token\n' +
          'server-ca.pem: the CA of Hangar\'s TLS listeners, what a device passes to --cafile.\n' +
          '--json prints the API answer; with --out-dir the secret is left out of it and "files"\n' +
          'names what was written.\n' +
          'A device whose id is "list", "revoke" or "issue": hangar device credentials issue <id> …',
      ),
  ).action(async (id: string, options: IssueOptions) => {
    await runAction(io, () => issueCredential(id, options, io), deviceSubject(id));
  });

  addIssueOptions(
    credentials
      .command('issue')
      .description('issue a credential (the same as "hangar device credentials <id>")')
      .argument('<id>', 'device id'),
  ).action(async (id: string, options: IssueOptions) => {
    await runAction(io, () => issueCredential(id, options, io), deviceSubject(id));
  });

  addClientOptions(
    credentials.command('list').description('list the credentials of a device (secrets are never listed)').argument('<id>', 'device id'),
  ).action(async (id: string, options: ClientCommandOptions) => {
    await runAction(
      io,
      async () => {
        const items = await listAll<Credential>(clientFor(options, io), credentialsPath(id));
        printAll(items, options, io, { columns: CREDENTIAL_COLUMNS, empty: `device "${id}" has no credentials` });
      },
      deviceSubject(id),
    );
  });

  addClientOptions(
    credentials
      .command('revoke')
      .description('revoke a credential: certificates go on the CRL, live sessions using it are closed')
      .argument('<id>', 'device id')
      .argument('<credential-id>', 'credential id (see "credentials list")')
      .addOption(new Option('--reason <reason>', 'revocation reason recorded on the CRL').choices(REVOCATION_REASONS)),
  ).action(async (id: string, credentialId: string, options: RevokeOptions) => {
    // A 404 names the credential; an unknown device comes back as the server's own line.
    await runAction(
      io,
      async () => {
        await clientFor(options, io).request<undefined>('DELETE', `${credentialsPath(id)}/${encodeURIComponent(credentialId)}`, {
          query: { reason: options.reason },
        });
        printDone(options, io, { deviceId: id, id: credentialId, revoked: true }, `revoked credential "${credentialId}" of device "${id}"`);
      },
      { subject: { kind: 'credential', id: credentialId, notFoundCode: 'CREDENTIAL_NOT_FOUND' } },
    );
  });

  addClientOptions(
    device
      .command('decommission')
      .description('take a device out of service: revoke its credentials, disconnect it, keep or purge its data')
      .argument('<id>', 'device id')
      .option('--purge-data', 'also delete its telemetry, twin and logs (the audit log keeps its history)')
      .option('-y, --yes', 'do not ask for confirmation')
      .addHelpText('after', '\nA decommissioned id cannot be created or enrolled again until "hangar device recommission".'),
  ).action(async (id: string, options: DecommissionOptions) => {
    await runAction(
      io,
      async () => {
        const client = clientFor(options, io);
        const purgeData = options.purgeData === true;
        await confirmOrStop(io, {
          yes: options.yes,
          action: ['decommission', 'decommissioned'],
          target: `device "${id}"`,
          consequence: purgeData ? 'revokes its credentials and purges its data' : 'revokes its credentials, keeps its data',
        });
        const result = await client.request<DecommissionedDevice>('POST', `/devices/${encodeURIComponent(id)}/decommission`, {
          json: { purgeData },
        });
        if (options.json) {
          printJson(result, io.stdout);
          return;
        }
        const revoked = `${result.revokedCredentials} credential${result.revokedCredentials === 1 ? '' : 's'} revoked`;
        io.stdout.write(`decommissioned device "${id}" (${revoked}, data ${purgeData ? 'purged' : 'kept'})\n`);
      },
      deviceSubject(id),
    );
  });

  addClientOptions(
    device
      .command('recommission')
      .description('let a decommissioned device id live again (it needs new credentials)')
      .argument('<id>', 'device id'),
  ).action(async (id: string, options: ClientCommandOptions) => {
    await runAction(
      io,
      async () => {
        const result = await clientFor(options, io).request<Device>('POST', `/devices/${encodeURIComponent(id)}/recommission`);
        printRecord(result, options, io, deviceFields);
      },
      deviceSubject(id),
    );
  });
}

function addIssueOptions(command: Command): Command {
  return addClientOptions(
    command
      // Not mandatory to commander: it checks a parent's mandatory options before its subcommands.
      .addOption(new Option('--type <type>', 'x509 (certificate + key), token, or psk (DTLS pre-shared key) (required)').choices(CREDENTIAL_TYPES))
      .option('--csr <file>', 'PKCS#10 CSR (PEM) for --type x509: the device keeps its private key')
      .option('--identity <identity>', 'PSK identity for --type psk (default: the device id); unique in the installation')
      .option('--key <hex>', 'the key for --type psk as hex, 16-64 bytes, for a device that ships with one (default: 16 random bytes)')
      .option('--validity-days <n>', `how long the credential is valid (1-${MAX_VALIDITY_DAYS} days)`, parseValidityDays)
      .option('--out-dir <dir>', 'write the files there (created if missing) instead of printing the secret'),
  );
}

// ---------------------------------------------------------------------------------------------
// issue

async function issueCredential(deviceId: string, options: IssueOptions, io: CliIo): Promise<void> {
  if (options.type === undefined) throw new CliError("required option '--type <type>' not specified (x509, token or psk)");
  if (options.csr !== undefined && options.type !== 'x509') throw new CliError('--csr only goes with --type x509');
  if (options.identity !== undefined && options.type !== 'psk') throw new CliError('--identity only goes with --type psk');
  if (options.key !== undefined && options.type !== 'psk') throw new CliError('--key only goes with --type psk');
  const client = clientFor(options, io);
  const body: NewCredentialRequest = { type: options.type };
  // The CSR is sent as read: a file that is no CSR is refused by the server, which says why.
  if (options.csr !== undefined) body.csr = await readInputFile(options.csr);
  if (options.validityDays !== undefined) body.validityDays = options.validityDays;
  // Identity and key are checked by the server, which names what is wrong with them.
  if (options.identity !== undefined) body.identity = options.identity;
  if (options.key !== undefined) body.key = options.key;
  // Checked before issuing: a secret that cannot be written is lost.
  const outDir = options.outDir !== undefined ? await prepareOutDir(options.outDir) : undefined;
  // A PSK device talks DTLS with its key alone: it needs no CA.
  const serverCa = outDir !== undefined && options.type !== 'psk' ? await fetchServerCa(client.baseUrl) : undefined;

  const issued = await client.request<IssuedCredential>('POST', credentialsPath(deviceId), { json: body });

  if (outDir !== undefined) {
    const files = await writeCredentialFiles(outDir, deviceId, issued, serverCa ?? undefined);
    if (options.json) {
      const { privateKeyPem: _privateKey, token: _token, key: _pskKey, ...rest } = issued;
      printJson({ ...rest, files }, io.stdout);
    } else {
      printFields([...newCredentialFields(issued), ...fileFields(files)], io.stdout);
      if (serverCa === null) {
        io.stdout.write('server-ca.pem not written: this Hangar serves a TLS certificate of its operator; ask them for its CA (for --cafile)\n');
      }
    }
    return;
  }

  if (options.json) {
    printJson(issued, io.stdout);
    return;
  }
  if (issued.token !== undefined) {
    printFields([...newCredentialFields(issued), ['token', issued.token]], io.stdout);
    warnShownOnce(io, 'this token');
    return;
  }
  if (issued.key !== undefined) {
    printFields([...newCredentialFields(issued), ['key', issued.key]], io.stdout);
    warnShownOnce(io, 'this key', ' (--out-dir DIR writes it to a file)');
    return;
  }
  printFields(newCredentialFields(issued), io.stdout);
  const blocks: Array<[string, string | undefined]> = [
    ['device certificate', issued.certificatePem ?? undefined],
    ['private key', issued.privateKeyPem],
    ['device CA certificate (signed the certificate above; not for --cafile: that is GET /pki/server-ca.pem)', issued.caPem],
  ];
  for (const [label, pem] of blocks) {
    if (pem !== undefined) io.stdout.write(`\n# ${label}\n${pemText(pem)}`);
  }
  if (issued.privateKeyPem !== undefined) {
    warnShownOnce(io, 'the private key', ' (--out-dir DIR writes it to a file)');
  }
}

function newCredentialFields(issued: IssuedCredential): Array<[string, string]> {
  return [
    ['id', issued.id],
    ['type', issued.type],
    ...(issued.serial !== undefined ? [['serial', issued.serial] as [string, string]] : []),
    // sanitize: an identity is operator text and may hold anything printable.
    ...(issued.identity !== undefined ? [['identity', sanitize(issued.identity)] as [string, string]] : []),
    ['expires', formatTime(issued.expiresAt)],
  ];
}

interface WrittenFiles {
  certificate?: string;
  privateKey?: string;
  deviceCa?: string;
  serverCa?: string;
  token?: string;
  pskIdentity?: string;
  pskKey?: string;
}

function fileFields(files: WrittenFiles): Array<[string, string]> {
  const fields: Array<[string, string]> = [];
  if (files.certificate) fields.push(['certificate', files.certificate]);
  if (files.privateKey) fields.push(['private key', files.privateKey]);
  if (files.token) fields.push(['token file', files.token]);
  if (files.pskIdentity) fields.push(['identity file', files.pskIdentity]);
  if (files.pskKey) fields.push(['key file', files.pskKey]);
  if (files.serverCa) fields.push(['server CA', `${files.serverCa}  (--cafile: verifies Hangar's TLS listeners)`]);
  if (files.deviceCa) fields.push(['device CA', `${files.deviceCa}  (signed the device certificate)`]);
  return fields;
}

/**
 * The CA of Hangar's TLS listeners (`GET /pki/server-ca.pem`, public), fetched before a
 * credential is issued so that a failure loses no secret; null when the operator gave the
 * listeners a certificate of their own (the server answers 404 and names no CA).
 */
async function fetchServerCa(baseUrl: string): Promise<string | null> {
  const url = `${baseUrl.replace(/\/api\/v1$/, '')}/pki/server-ca.pem`;
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, { headers: { 'user-agent': 'hangar-cli' } });
    text = await response.text();
  } catch (err) {
    throw new CliError(`cannot fetch the server CA from ${url} (${errorCode(err)})`);
  }
  if (response.status === 404) return null;
  if (!response.ok || !text.includes('-----BEGIN CERTIFICATE-----')) {
    throw new CliError(`cannot fetch the server CA from ${url} (${response.status}: not a PEM certificate); no credential was issued`);
  }
  return text;
}

/** Creates the directory (0700 when new) and checks it can be written to. */
async function prepareOutDir(dir: string): Promise<string> {
  const path = resolve(dir);
  try {
    await mkdir(path, { recursive: true, mode: 0o700 });
    await access(path, constants.W_OK);
  } catch (err) {
    throw new CliError(`cannot write to --out-dir "${dir}" (${errorCode(err)})`);
  }
  return path;
}

async function writeCredentialFiles(dir: string, deviceId: string, issued: IssuedCredential, serverCaPem: string | undefined): Promise<WrittenFiles> {
  const plan: Array<{ key: keyof WrittenFiles; name: string; content: string | undefined; mode: number }> = [
    { key: 'certificate', name: `${deviceId}.crt.pem`, content: issued.certificatePem ?? undefined, mode: 0o644 },
    { key: 'privateKey', name: `${deviceId}.key.pem`, content: issued.privateKeyPem, mode: 0o600 },
    { key: 'token', name: `${deviceId}.token`, content: issued.token !== undefined ? `${issued.token}\n` : undefined, mode: 0o600 },
    // No newline after the identity: it is what the device sends, byte for byte (libcoap's -u reads it as given).
    { key: 'pskIdentity', name: `${deviceId}.psk-identity`, content: issued.identity, mode: 0o644 },
    { key: 'pskKey', name: `${deviceId}.psk-key`, content: issued.key !== undefined ? `${issued.key}\n` : undefined, mode: 0o600 },
    { key: 'serverCa', name: 'server-ca.pem', content: serverCaPem, mode: 0o644 },
    { key: 'deviceCa', name: 'device-ca.pem', content: issued.caPem, mode: 0o644 },
  ];
  const files: WrittenFiles = {};
  for (const { key, name, content, mode } of plan) {
    if (content === undefined) continue;
    const path = join(dir, name);
    try {
      await writeFileAtomically(path, content, mode);
    } catch (err) {
      throw new CliError(
        `cannot write "${path}" (${errorCode(err)}); credential "${issued.id}" was issued: ` +
          `revoke it with "hangar device credentials revoke ${deviceId} ${issued.id}"`,
      );
    }
    files[key] = path;
  }
  return files;
}

/**
 * Writes beside the target, then renames: a reader never sees half a key, and an existing file
 * is replaced with the new mode rather than keeping its old one.
 */
async function writeFileAtomically(path: string, content: string, mode: number): Promise<void> {
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, content, { mode, flag: 'wx' });
    await chmod(temporary, mode); // the umask may have taken bits away from a public file
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
}

/** PEM text as received, made safe for a terminal line by line, ending in one newline. */
function pemText(pem: string): string {
  return `${pem
    .trim()
    .split(/\r?\n/)
    .map((line) => sanitize(line))
    .join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// list

const CREDENTIAL_COLUMNS: readonly Column<Credential>[] = [
  { header: 'ID', value: (c) => c.id },
  { header: 'TYPE', value: (c) => c.type },
  { header: 'STATUS', value: (c) => c.status },
  { header: 'SOURCE', value: (c) => formatValue(c.source) },
  { header: 'SERIAL', value: (c) => formatValue(c.serial) },
  { header: 'IDENTITY', value: (c) => formatValue(c.identity) },
  { header: 'KEY', value: (c) => formatValue(c.keyAlgorithm) },
  { header: 'CREATED', value: (c) => formatTime(c.createdAt) },
  { header: 'EXPIRES', value: (c) => formatTime(c.expiresAt) },
  { header: 'REVOKED', value: (c) => (c.revokedAt ? `${formatTime(c.revokedAt)} ${c.revocationReason ?? ''}`.trim() : '-') },
];

// ---------------------------------------------------------------------------------------------
// Shared with the other identity commands

/** Enough for any PEM or JSON document the identity API takes (its bodies stop at 1 MiB). */
export const MAX_INPUT_FILE_BYTES = 1024 * 1024;

/** A small text input (a PEM, a JSON document); a missing, unreadable or huge file is one line. */
export async function readInputFile(file: string): Promise<string> {
  try {
    const info = await stat(file);
    if (info.isDirectory()) throw new CliError(`cannot read "${file}": it is a directory`);
    if (info.isFile() && info.size > MAX_INPUT_FILE_BYTES) {
      throw new CliError(`cannot read "${file}": it is larger than ${MAX_INPUT_FILE_BYTES / 1024} KiB`);
    }
    return await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read "${file}" (${errorCode(err)})`);
  }
}

function errorCode(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? (err instanceof Error ? err.message : String(err));
}

function parseValidityDays(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > MAX_VALIDITY_DAYS) {
    throw new InvalidArgumentError(`expected a whole number of days from 1 to ${MAX_VALIDITY_DAYS}`);
  }
  return n;
}
