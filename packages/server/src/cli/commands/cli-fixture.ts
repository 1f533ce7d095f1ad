/**
 * What the CLI command tests share: a fake Hangar on a real socket (each suite answers its own
 * routes), the helpers that write its answers, and a runner that parses one command line
 * in-process with captured streams and reports the exit code the real process would have.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough, Readable, Writable } from 'node:stream';
import { Command, CommanderError } from 'commander';
import type { CliIo } from '../client/output.js';

export const TOKEN = 'test-admin-token';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

// ---------------------------------------------------------------------------------------------
// A fake Hangar

/** Listens on 127.0.0.1 on a free port; a handler that throws answers 500. */
export abstract class FakeServer {
  private server: Server | undefined;
  url = '';

  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => problem(res, 500, 'INTERNAL', 'Internal error', String(err)));
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** An RFC 9457 problem document with Hangar's `code`. */
export function problem(
  res: ServerResponse,
  status: number,
  code: string,
  title: string,
  detail?: string,
  extra: Record<string, unknown> = {},
): void {
  res
    .writeHead(status, { 'content-type': 'application/problem+json' })
    .end(JSON.stringify({ type: 'about:blank', title, status, code, ...(detail ? { detail } : {}), ...extra }));
}

export async function readJson(req: IncomingMessage): Promise<unknown> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Running the CLI in-process

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface RunOptions {
  /** What stdin holds; a string is written and ended, a stream is used as is. */
  stdin?: string | Readable;
  stdinTty?: boolean;
  stderrTty?: boolean;
  /** Appended to the arguments: usually `--url … --token …`. */
  connection?: readonly string[];
}

/** A stream that keeps what is written, a terminal or not. */
export class Capture extends Writable {
  text = '';
  isTTY: boolean;
  columns = 100;
  constructor(tty = false) {
    super();
    this.isTTY = tty;
  }
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += String(chunk);
    cb();
  }
}

/** Parses `hangar ARGS` with the commands `register` adds, as main.ts would, without exiting. */
export async function runCli(
  register: (program: Command, io: Partial<CliIo>) => void,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const stdout = new Capture();
  const stderr = new Capture(options.stderrTty ?? false);
  let stdin: Readable;
  if (options.stdin instanceof Readable) {
    stdin = options.stdin;
  } else {
    const pass = new PassThrough();
    pass.end(options.stdin ?? '');
    stdin = pass;
  }
  if (options.stdinTty) Object.assign(stdin, { isTTY: true, setRawMode: () => stdin });

  const program = new Command('hangar')
    .exitOverride()
    .configureOutput({ writeOut: (s) => stdout.write(s), writeErr: (s) => stderr.write(s) });
  register(program, { stdout, stderr, stdin });

  process.exitCode = undefined;
  let exitCode: number;
  try {
    await program.parseAsync(['node', 'hangar', ...args, ...(options.connection ?? [])]);
    exitCode = typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    exitCode = err.exitCode;
  } finally {
    process.exitCode = undefined;
  }
  return { stdout: stdout.text, stderr: stderr.text, exitCode };
}

/** The non-empty lines of an output. */
export function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0);
}
