/**
 * Debian's `mosquitto` on a free loopback port with a generated config: the real peer of the
 * simulator's tests and the reference broker of the ingest benchmark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunningMosquitto {
  url: string;
  port: number;
  pid: number;
  process: ChildProcess;
  /** What mosquitto logged so far. */
  logs(): string;
  stop(): Promise<void>;
}

export interface MosquittoOptions {
  /** Default true; false without a password file refuses every client ("not authorized"). */
  allowAnonymous?: boolean;
  /** A given port (to restart a broker where its clients expect it); default a free one. */
  port?: number;
  /** Extra config lines. */
  extra?: string[];
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<RunningMosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-mosquitto-'));
  const port = options.port ?? (await freePort());
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [`listener ${port} 127.0.0.1`, `allow_anonymous ${options.allowAnonymous ?? true}`, 'persistence false', 'log_dest stderr', 'log_type error', 'log_type warning', ...(options.extra ?? [])].join('\n') + '\n',
  );
  const child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let logs = '';
  child.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, () => logs);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `mqtt://127.0.0.1:${port}`, port, pid: child.pid!, process: child, logs: () => logs, stop };
}

async function waitForPort(port: number, child: ChildProcess, logs: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`mosquitto exited before listening (is Debian's mosquitto installed?):\n${logs()}`);
    if (await canConnect(port)) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port} within 10 s:\n${logs()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
