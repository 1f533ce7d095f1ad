/** Test support: a DTLS server with an echo/CoAP responder, a throwaway P-256 PKI, and third-party clients as child processes. */
import { execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { CoapCode, encodeMessage, parseMessage } from '@hangar/protocol/coap';
import type { DtlsServerOptions, HandshakeFailure, ClientCertificateVerdict } from './dtls-options.js';
import { DtlsServer } from './dtls-server.js';

export const PSK_IDENTITY = 'device-1';
/** ASCII so that libcoap's -k can take it as is. */
export const PSK_KEY = Buffer.from('secretkey0123456', 'ascii');

export interface Harness {
  server: DtlsServer<string>;
  port: number;
  failures: HandshakeFailure[];
  received: Array<{ data: Buffer; key: string; address: string; port: number; principal: string | undefined }>;
  /** Log lines at level error or above: a server that "never throws" logs none. */
  errors: string[];
  close(): Promise<void>;
}

/**
 * Answers a CoAP request with 2.05 "hello <principal>" (for libcoap), anything else with "echo:" + data.
 */
export async function startHarness(options: Partial<DtlsServerOptions<string>> = {}): Promise<Harness> {
  const failures: HandshakeFailure[] = [];
  const received: Harness['received'] = [];
  const errors: string[] = [];
  const logger = pino(
    { level: process.env.DTLS_TEST_LOG ?? 'warn' },
    pino.multistream([
      { level: 'error', stream: { write: (line: string) => void errors.push(line) } },
      ...(process.env.DTLS_TEST_LOG ? [{ level: 'trace' as const, stream: process.stderr }] : []),
    ]),
  );
  const server = new DtlsServer<string>({
    logger,
    psk: async (identity) => (identity === PSK_IDENTITY ? { key: PSK_KEY, principal: identity } : undefined),
    onHandshakeFailure: (f) => failures.push(f),
    ...options,
  });
  server.onDatagram((data, peer) => {
    received.push({ data, key: peer.key, address: peer.address, port: peer.port, principal: peer.secure?.principal });
    let answer: Buffer;
    try {
      const request = parseMessage(data);
      if (request.type !== 'CON' && request.type !== 'NON') throw new Error('not a request');
      answer = encodeMessage({
        type: request.type === 'CON' ? 'ACK' : 'NON',
        code: CoapCode.Content,
        messageId: request.messageId,
        token: request.token,
        options: [],
        payload: Buffer.from(`hello ${peer.secure?.principal ?? '?'}`),
      });
    } catch {
      answer = Buffer.concat([Buffer.from('echo:'), data]);
    }
    server.send(answer, peer);
  });
  const port = await server.listen(0, '127.0.0.1');
  return { server, port, failures, received, errors, close: () => server.close() };
}

export interface Pki {
  dir: string;
  caPem: string;
  serverChainPem: string;
  serverKeyPem: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate whose chain (leaf + padded intermediate) is larger than one datagram. */
  bigClientCert: string;
  bigClientIntermediate: string;
  bigClientKey: string;
  cleanup(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function issue(dir: string, name: string, issuer: string, extra: string[] = []): void {
  openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`]);
  openssl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`, '-CAcreateserial', '-days', '2', '-out', `${name}.pem`, ...extra]);
}

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-dtls-pki-'));
  openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ca.key']);
  openssl(dir, ['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=Test CA', '-days', '2', '-out', 'ca.pem']);
  issue(dir, 'server', 'ca');
  issue(dir, 'client', 'ca');
  // An intermediate with a long subject alternative name list makes the chain exceed one datagram.
  const sans = Array.from({ length: 60 }, (_, i) => `DNS:padding-${i}.intermediate.example.org`).join(',');
  execFileSync('sh', ['-c', `printf 'basicConstraints=CA:TRUE\\nsubjectAltName=${sans}\\n' > inter.ext`], { cwd: dir });
  issue(dir, 'inter', 'ca', ['-extfile', 'inter.ext']);
  issue(dir, 'bigclient', 'inter');
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  return {
    dir,
    caPem: read('ca.pem'),
    serverChainPem: read('server.pem') + read('ca.pem'),
    serverKeyPem: read('server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
    bigClientCert: join(dir, 'bigclient.pem'),
    bigClientIntermediate: join(dir, 'inter.pem'),
    bigClientKey: join(dir, 'bigclient.key'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Trusts certificates issued (directly or through the test intermediate) under the test CA, by subject. */
export function verifyBySubject(pki: Pki, refuse?: ClientCertificateVerdict<string>): (chain: Buffer[]) => Promise<ClientCertificateVerdict<string>> {
  const ca = new X509Certificate(pki.caPem);
  return async (chain) => {
    if (refuse) return refuse;
    const certs = chain.map((der) => new X509Certificate(der));
    for (let i = 0; i < certs.length; i++) {
      const issuer = certs[i + 1] ?? ca;
      if (!certs[i]!.checkIssued(issuer) || !certs[i]!.verify(issuer.publicKey)) return { ok: false, alert: 'unknown_ca', detail: 'not issued by the test CA' };
    }
    if (certs.length > 1 && !certs[certs.length - 1]!.verify(ca.publicKey)) return { ok: false, alert: 'unknown_ca', detail: 'chain does not end at the test CA' };
    return { ok: true, principal: certs[0]!.subject };
  };
}

export interface ProcessResult {
  output: string;
  code: number | null;
}

/**
 * Runs a client, writes `input` (if any), and ends it once its output contains `until` (or it exits,
 * or after `timeoutMs`, a safety net only: tests assert on the output).
 */
export function runClient(command: string, args: string[], opts: { input?: string; until?: RegExp; timeoutMs?: number } = {}): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let finished = false;
    const finish = (code: number | null): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      resolve({ output, code });
    };
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (opts.until?.test(output)) child.kill('SIGTERM');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (code) => finish(code));
    if (opts.input !== undefined) child.stdin.write(opts.input);
    else child.stdin.end();
  });
}

export function opensslPskArgs(port: number, extra: string[] = []): string[] {
  return [
    's_client', '-dtls1_2', '-connect', `127.0.0.1:${port}`,
    '-psk_identity', PSK_IDENTITY, '-psk', PSK_KEY.toString('hex'),
    '-cipher', 'PSK-AES128-CCM8@SECLEVEL=0', ...extra,
  ];
}

export function opensslCertArgs(port: number, cert: string, key: string, extra: string[] = []): string[] {
  return ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${port}`, '-cert', cert, '-key', key, '-cipher', 'ECDHE-ECDSA-AES128-CCM8@SECLEVEL=0', ...extra];
}

/** Resolves when `check` holds, polling (conditions, not fixed sleeps). */
export async function eventually(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A UDP relay between one client and the server: `dropToClient`/`dropToServer` decide per datagram
 * (with its index in that direction) whether it is lost.
 */
export class UdpProxy {
  private readonly outer = createSocket('udp4');
  private inner = createSocket('udp4');
  private client: { address: string; port: number } | undefined;
  port = 0;
  toClient = 0;
  toServer = 0;
  dropToClient: (datagram: Buffer, index: number) => boolean = () => false;
  dropToServer: (datagram: Buffer, index: number) => boolean = () => false;
  /** Extra datagrams sent to the server before a genuine one (fuzzing with a real client's exchange). */
  beforeToServer: (datagram: Buffer, index: number) => Buffer[] = () => [];

  constructor(private readonly serverPort: number) {}

  async start(): Promise<number> {
    await new Promise<void>((r) => this.outer.bind(0, '127.0.0.1', r));
    await this.bindInner();
    this.outer.on('message', (msg, rinfo) => {
      this.client = { address: rinfo.address, port: rinfo.port };
      const index = this.toServer++;
      for (const extra of this.beforeToServer(msg, index)) this.inner.send(extra, this.serverPort, '127.0.0.1');
      if (this.dropToServer(msg, index)) return;
      this.inner.send(msg, this.serverPort, '127.0.0.1');
    });
    this.port = this.outer.address().port;
    return this.port;
  }

  private async bindInner(): Promise<void> {
    const inner = createSocket('udp4');
    await new Promise<void>((r) => inner.bind(0, '127.0.0.1', r));
    inner.on('message', (msg) => {
      if (!this.client) return;
      if (this.dropToClient(msg, this.toClient++)) return;
      this.outer.send(msg, this.client.port, this.client.address);
    });
    this.inner = inner;
  }

  /** The server now sees the client at a new source port (a NAT rebinding). */
  async rebind(): Promise<void> {
    const old = this.inner;
    await this.bindInner();
    old.close();
  }

  get innerPort(): number {
    return this.inner.address().port;
  }

  close(): void {
    this.outer.close();
    this.inner.close();
  }
}
