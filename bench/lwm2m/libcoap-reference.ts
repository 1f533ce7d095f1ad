/**
 * The same-run reference of `bench lwm2m`'s DTLS figure: libcoap's example server
 * `coap-server-openssl` (Debian libcoap3-bin; C, DTLS by OpenSSL) with one pre-shared key, in
 * its own process, and the bench's client (psk-handshakes.ts: the agent's node-dtls-client
 * transport) doing N full PSK handshakes, each followed by a GET of `/` (libcoap's banner).
 * libcoap listens on `port` for CoAP and on `port + 1` for DTLS; its CPU time comes from /proc.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { CoapCode } from '@hangar/protocol/coap';
import { answersPing, freePortPair } from '../../packages/agent/src/testing/libcoap-server.js';
import { track } from '../support/scratch.js';
import { startCpuSpan, type CpuSpan } from '../twin/process-cpu.js';
import { handshakeAndRequest } from './psk-handshakes.js';

export const LIBCOAP_SERVER = 'coap-server-openssl';
/** libcoap takes the key as a string (its bytes are the PSK). */
const REFERENCE_KEY = 'hangar-bench-psk';

export interface ReferenceRun extends CpuSpan {
  handshakes: number;
  failed: number;
  failures: Record<string, number>;
  version: string;
}

/** N handshakes + GET against `coap-server-openssl`, `concurrency` at once; the server's CPU over that span. */
export async function libcoapReference(o: { handshakes: number; concurrency: number }): Promise<ReferenceRun> {
  const server = await startLibcoapPsk();
  try {
    const identities = Array.from({ length: o.handshakes }, (_, i) => ({ identity: `ref-${String(i + 1).padStart(6, '0')}`, key: Buffer.from(REFERENCE_KEY) }));
    const span = startCpuSpan(server.pid);
    const run = await handshakeAndRequest({ host: '127.0.0.1', port: server.dtlsPort, credentials: identities, concurrency: o.concurrency, request: { code: CoapCode.GET, path: [] } });
    const cpu = span.stop();
    await run.close();
    return { ...cpu, wallSec: run.wallSec, handshakes: run.done, failed: run.failed, failures: run.failures, version: server.version };
  } finally {
    await server.stop();
  }
}

interface RunningLibcoap {
  pid: number;
  dtlsPort: number;
  version: string;
  stop(): Promise<void>;
}

async function startLibcoapPsk(): Promise<RunningLibcoap> {
  const port = await freePortPair();
  // -v 0: no per-session log lines, which would cost the reference time Hangar (log level warn) does not spend.
  const child = spawn(LIBCOAP_SERVER, ['-A', '127.0.0.1', '-p', String(port), '-v', '0', '-k', REFERENCE_KEY], { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
  child.once('error', (err) => (logs += `\n${err.message}`));
  const stop = track(
    async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([once(child, 'exit'), new Promise((r) => setTimeout(r, 2000).unref())]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    },
    child.pid === undefined ? undefined : { kind: 'process', pid: child.pid },
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      await stop();
      throw new Error(`${LIBCOAP_SERVER} did not start (is Debian's libcoap3-bin installed?): ${logs.trim()}`);
    }
    if (await answersPing(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${LIBCOAP_SERVER} did not answer on ${port} within 10 s: ${logs.trim()}`);
    }
  }
  return { pid: child.pid, dtlsPort: port + 1, version: await libcoapVersion(), stop };
}

/** "4.3.1", from the banner of `coap-server-openssl -h` (which exits non-zero by design). */
async function libcoapVersion(): Promise<string> {
  const child = spawn(LIBCOAP_SERVER, ['-h'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  await once(child, 'close');
  const version = / v(\d+\.\d+\.\d+)/.exec(text)?.[1] ?? 'unknown';
  const tls = /TLS Library: (OpenSSL[^\n]*)/.exec(text)?.[1]?.replace(/\s*-\s*runtime\s*/, ' ');
  return tls ? `${version} (${tls.split(',')[0]})` : version;
}

