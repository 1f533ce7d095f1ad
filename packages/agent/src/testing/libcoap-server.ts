/**
 * Debian's libcoap example server (`coap-server-notls`, or `coap-server-openssl` with a PSK)
 * on free loopback ports: a CoAP peer nobody here wrote, for the LwM2M client's transport tests.
 * libcoap listens on `port` for UDP (and TCP) and on `port + 1` for DTLS (and TLS).
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { CoapCode, encodeMessage, parseMessage } from '@hangar/protocol/coap';

export interface RunningLibcoap {
  port: number;
  dtlsPort: number;
  logs(): string;
  stop(): Promise<void>;
}

export async function startLibcoapServer(options: { psk?: { identityHint: string; key: string } } = {}): Promise<RunningLibcoap> {
  const port = await freePortPair();
  const binary = options.psk ? 'coap-server-openssl' : 'coap-server-notls';
  const args = ['-A', '127.0.0.1', '-p', String(port), ...(options.psk ? ['-h', options.psk.identityHint, '-k', options.psk.key] : [])];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${binary} exited before listening (is Debian's libcoap3-bin installed?):\n${logs}`);
    if (await answersPing(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${binary} did not answer on ${port} within 10 s:\n${logs}`);
    }
  }
  return { port, dtlsPort: port + 1, logs: () => logs, stop };
}

/** A CoAP ping (empty CON) is answered with RST by a listening server (RFC 7252 §4.3). */
export function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      socket.close();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), 200);
    socket.on('error', () => finish(false));
    socket.on('message', (msg) => {
      try {
        finish(parseMessage(msg).type === 'RST');
      } catch {
        finish(false);
      }
    });
    socket.send(encodeMessage({ type: 'CON', code: CoapCode.Empty, messageId: 7, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) }), port, '127.0.0.1');
  });
}

/** A port P with P and P+1 free for both UDP and TCP (libcoap binds all four). */
export async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const p = (server.address() as { port: number }).port;
        server.close(() => resolve(p));
      });
    });
    if (port >= 65535) continue;
    const free = await Promise.all([udpFree(port), udpFree(port + 1), tcpFree(port + 1)]);
    if (free.every(Boolean)) return port;
  }
  throw new Error('no free port pair for libcoap');
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
