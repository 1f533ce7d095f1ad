/**
 * The bench's leftovers, and a janitor process that removes them when the bench dies without
 * doing so itself. `npm run bench` runs under the tsx CLI, which SIGKILLs its child when a
 * Ctrl-C is not acknowledged within 30 ms — and a bench in the middle of a large SQLite
 * statement cannot acknowledge it. So the bench tells a detached janitor (its own process
 * group: Ctrl-C does not reach it) what it creates and removes; when the bench's end of the
 * pipe closes, for whatever reason, the janitor removes whatever is still listed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export type Leftover = { kind: 'dir'; path: string } | { kind: 'schema'; baseUrl: string; schema: string } | { kind: 'process'; pid: number };

type Message = { op: 'add'; id: number; leftover: Leftover } | { op: 'remove'; id: number };

export async function removeLeftover(leftover: Leftover): Promise<void> {
  switch (leftover.kind) {
    case 'dir':
      rmSync(leftover.path, { recursive: true, force: true });
      return;
    case 'schema': {
      const client = new pg.Client({ connectionString: leftover.baseUrl });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${leftover.schema}" CASCADE`);
      } finally {
        await client.end();
      }
      return;
    }
    case 'process':
      try {
        process.kill(leftover.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      return;
  }
}

let janitor: ChildProcess | undefined;
let nextId = 1;

function send(message: Message): void {
  if (!janitor) {
    janitor = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), fileURLToPath(import.meta.url)], { detached: true, stdio: ['pipe', 'ignore', 'inherit'] });
    janitor.unref();
    // The pipe must not keep the bench alive; it only has to close when the bench is gone.
    (janitor.stdin as Socket).unref();
  }
  janitor.stdin!.write(`${JSON.stringify(message)}\n`);
}

/** Lists `leftover` with the janitor; returns the id to `forget` it by once it is removed. */
export function entrust(leftover: Leftover): number {
  const id = nextId++;
  send({ op: 'add', id, leftover });
  return id;
}

export function forget(id: number): void {
  send({ op: 'remove', id });
}

async function runJanitor(): Promise<void> {
  // Detached already; ignore a group signal anyway, so that only the closed pipe ends us.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => undefined);
  const listed = new Map<number, Leftover>();
  for await (const line of createInterface({ input: process.stdin })) {
    const message = JSON.parse(line) as Message;
    if (message.op === 'add') listed.set(message.id, message.leftover);
    else listed.delete(message.id);
  }
  // Newest first: a server process before the schema it uses.
  for (const leftover of [...listed.values()].reverse()) {
    await removeLeftover(leftover).catch((err: unknown) => process.stderr.write(`bench janitor: could not remove ${JSON.stringify(leftover)}: ${String(err)}\n`));
  }
  if (listed.size > 0) process.stderr.write(`bench janitor: removed ${listed.size} leftover(s) of an interrupted bench run\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runJanitor();
