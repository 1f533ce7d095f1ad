import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import pino from 'pino';
import { CoapCode, CoapOptionNumber as Opt, type CoapOption } from '@hangar/protocol/coap';
import type { DatagramPeer } from '../datagram-channel.js';
import { CoapServer, type CoapTiming } from './coap-server.js';
import { CoapRequestError } from './coap-requester.js';

/**
 * Test support for the requester: libcoap's `coap-server-notls` (Debian libcoap3-bin) as the
 * independent peer, and a Hangar CoapServer on loopback to send requests from.
 */

export interface LibcoapServer {
  peer: DatagramPeer<never>;
  port: number;
  stop(): Promise<void>;
}

/** A port free for UDP and TCP (libcoap binds both). */
async function freePort(): Promise<number> {
  for (;;) {
    const udp = createSocket('udp4');
    const port = await new Promise<number>((resolve) => udp.bind(0, '127.0.0.1', () => resolve(udp.address().port)));
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    const tcpFree = await new Promise<boolean>((resolve) => {
      const tcp = createServer();
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => tcp.close(() => resolve(true)));
    });
    if (tcpFree) return port;
  }
}

/** Starts `coap-server-notls` with `args` and waits until it answers a GET / (unless `ready` is false: a server that drops everything). */
export async function startLibcoapServer(client: CoapServer<never>, args: string[] = [], ready = true): Promise<LibcoapServer> {
  for (let attempt = 0; ; attempt += 1) {
    const port = await freePort();
    const child: ChildProcess = spawn('coap-server-notls', ['-A', '127.0.0.1', '-p', String(port), '-v', '0', ...args], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const peer: DatagramPeer<never> = { address: '127.0.0.1', port, key: `127.0.0.1:${port}` };
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    };
    if (!ready) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return { peer, port, stop };
    }
    for (let i = 0; i < 50 && child.exitCode === null; i += 1) {
      try {
        await client.request(peer, { code: CoapCode.GET }, { timeoutMs: 200 });
        return { peer, port, stop };
      } catch (err) {
        if (!(err instanceof CoapRequestError)) throw err;
      }
    }
    await stop();
    if (attempt >= 3) throw new Error('coap-server-notls did not start');
  }
}

/** A Hangar CoapServer on loopback that answers nothing itself (4.04): the side that sends requests. */
export async function startRequester(timing: Partial<CoapTiming> = {}): Promise<CoapServer<never>> {
  const server = new CoapServer<never>({
    handler: async () => ({ code: CoapCode.NotFound }),
    logger: pino({ level: process.env.COAP_TEST_LOG ?? 'silent' }),
    timing: { ackTimeoutMs: 300, ackRandomFactor: 1.5, maxRetransmit: 4, ...timing },
  });
  await server.listen(0, '127.0.0.1');
  return server;
}

/** Uri-Path options of "/a/b". */
export function uriPath(path: string): CoapOption[] {
  return path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => ({ number: Opt.UriPath, value: Buffer.from(s, 'utf8') }));
}
