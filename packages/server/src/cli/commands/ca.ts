/**
 * `hangar ca list|show|register|verify|enable|disable` — the tenant's certificate authorities:
 * its own (made by Hangar) and external ones whose device certificates enrollment groups of
 * mechanism `ca` admit (.tmp/api-identity.md). Registering an external CA takes two steps:
 * `register` answers a verification code, and `verify` sends a certificate with that code as
 * its CN signed by the CA's key, which proves the operator holds the key.
 */
import type { Ca } from '@hangar/protocol';
import type { Command } from 'commander';
import { listAll, printAll, printRecord } from '../client/command-kit.js';
import {
  addClientOptions,
  clientFor,
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
import { readInputFile } from './credentials.js';


export type { Ca as CertificateAuthority };

/** Stands for the operator's CA key file in the printed commands; they replace it. */
export const CA_KEY_PLACEHOLDER = 'CA-PRIVATE-KEY.pem';

function caPath(id: string): string {
  return `/cas/${encodeURIComponent(id)}`;
}

export function registerCaCommands(program: Command, ioOverrides: Partial<CliIo> = {}): void {
  const io = resolveIo(ioOverrides);
  const ca = program.command('ca').description('manage certificate authorities: the tenant CA and registered external CAs (admin)');

  addClientOptions(ca.command('list').description('list certificate authorities')).action(async (options: ClientCommandOptions) => {
    await runAction(io, async () => {
      const items = await listAll<Ca>(clientFor(options, io), '/cas');
      printAll(items, options, io, { columns: CA_COLUMNS, empty: 'no certificate authorities found' });
    });
  });

  addClientOptions(ca.command('show').description('show one certificate authority').argument('<id>', 'CA id')).action(
    async (id: string, options: ClientCommandOptions) => {
      await runAction(
        io,
        async () => {
          printRecord(await clientFor(options, io).request<Ca>('GET', caPath(id)), options, io, caFields);
        },
        caSubject(id),
      );
    },
  );

  addClientOptions(
    ca
      .command('register')
      .description('register an external CA (step 1 of 2): prints the verification code and how to prove you hold its key')
      .argument('<file>', 'the CA certificate (PEM)'),
  ).action(async (file: string, options: ClientCommandOptions) => {
    await runAction(io, async () => {
      const client = clientFor(options, io);
      const certificatePem = await readInputFile(file);
      const registered = await client.request<Ca>('POST', '/cas', { json: { certificatePem } });
      if (options.json) {
        printJson(registered, io.stdout);
        return;
      }
      printFields(caFields(registered), io.stdout);
      if (registered.verificationCode) io.stdout.write(verificationHowTo(registered, file));
    });
  });

  addClientOptions(
    ca
      .command('verify')
      .description('register an external CA (step 2 of 2): send the certificate whose CN is the verification code')
      .argument('<id>', 'CA id (from "ca register")')
      .argument('<file>', 'verification certificate (PEM), signed by the CA’s key'),
  ).action(async (id: string, file: string, options: ClientCommandOptions) => {
    await runAction(
      io,
      async () => {
        const client = clientFor(options, io);
        const verificationCertificatePem = await readInputFile(file);
        const verified = await client.request<Ca>('POST', `${caPath(id)}/verify`, {
          json: { verificationCertificatePem },
        });
        printRecord(verified, options, io, caFields);
      },
      caSubject(id, 'external CA'),
    );
  });

  for (const [name, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    addClientOptions(
      ca
        .command(name)
        .description(enabled ? 'admit device certificates of an external CA again' : 'stop admitting device certificates of an external CA')
        .argument('<id>', 'CA id'),
    ).action(async (id: string, options: ClientCommandOptions) => {
      await runAction(
        io,
        async () => {
          const changed = await clientFor(options, io).request<Ca>('PATCH', caPath(id), { json: { enabled } });
          printRecord(changed, options, io, caFields);
        },
        // Hangar's own CA cannot be switched off: the server does not find it among the external ones.
        caSubject(id, 'external CA'),
      );
    });
  }
}

function caSubject(id: string, kind = 'CA'): ErrorContext {
  return { subject: { kind, id, notFoundCode: 'CA_NOT_FOUND' } };
}

/** The openssl commands that make the verification certificate, and the command that sends it. */
function verificationHowTo(ca: Ca, caFile: string): string {
  const code = shellQuote(`/CN=${ca.verificationCode ?? ''}`);
  return (
    '\nProve that you hold this CA’s private key: sign a certificate whose CN is the verification\n' +
    `code with it (replace ${CA_KEY_PLACEHOLDER} with the CA’s key file), then send it to Hangar:\n\n` +
    `  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout verification.key.pem -subj ${code} -out verification.csr\n` +
    `  openssl x509 -req -in verification.csr -CA ${shellQuote(caFile)} -CAkey ${CA_KEY_PLACEHOLDER} -CAcreateserial -days 1 -sha256 -out verification.crt.pem\n` +
    `  hangar ca verify ${shellQuote(ca.id)} verification.crt.pem\n`
  );
}

/** As is when the shell reads it literally, else in single quotes. */
function shellQuote(text: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

const CA_COLUMNS: readonly Column<Ca>[] = [
  { header: 'ID', value: (c) => c.id },
  { header: 'KIND', value: (c) => c.kind },
  { header: 'STATUS', value: (c) => c.status },
  { header: 'SUBJECT', value: (c) => formatValue(c.subject) },
  { header: 'NOT AFTER', value: (c) => formatTime(c.notAfter) },
  { header: 'FINGERPRINT (SHA-256)', value: (c) => shortFingerprint(c.fingerprintSha256) },
];

function caFields(ca: Ca): Array<[string, string]> {
  return [
    ['id', ca.id],
    ['kind', ca.kind],
    ['status', ca.status],
    ['subject', formatValue(ca.subject)],
    ['fingerprint', formatValue(ca.fingerprintSha256)],
    ['not after', formatTime(ca.notAfter)],
    ['created', formatTime(ca.createdAt)],
    ...(ca.verificationCode ? [['verification code', ca.verificationCode] as [string, string]] : []),
  ];
}

/** Enough of the fingerprint to tell CAs apart in a table; `show` prints all of it. */
function shortFingerprint(fingerprint: string | null | undefined): string {
  if (!fingerprint) return '-';
  return fingerprint.length > 16 ? `${fingerprint.slice(0, 16)}…` : fingerprint;
}
