/**
 * The datagram path between one LwM2M client and one server: a connected UDP socket, or a
 * DTLS PSK session (node-dtls-client). Both look the same to the CoAP endpoint, which only
 * sends and receives whole CoAP messages to and from that one peer.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { dtls } from 'node-dtls-client';

export interface DatagramTransport {
  send(datagram: Buffer): void;
  /** One handler; a datagram from any other peer never reaches it. */
  onDatagram(handler: (datagram: Buffer) => void): void;
  /** Called once when the transport ends by itself (DTLS alert, socket error). */
  onClose(handler: (reason: Error | undefined) => void): void;
  close(): Promise<void>;
  readonly secure: boolean;
  /** The local UDP port, for logs and tests. */
  readonly localPort: number | undefined;
}

export interface PskCredentials {
  identity: string;
  key: Buffer;
}

export class TransportError extends Error {
  override readonly name = 'TransportError';
}

/** Opens a UDP socket connected to `host:port` (the kernel then drops datagrams from other sources). */
export async function openUdpTransport(host: string, port: number): Promise<DatagramTransport> {
  const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return new UdpTransport(socket);
}

class UdpTransport implements DatagramTransport {
  readonly secure = false;
  private closed = false;
  private closeHandler: ((reason: Error | undefined) => void) | undefined;

  constructor(private readonly socket: Socket) {
    // ICMP port-unreachable surfaces as an error on a connected socket; CoAP retransmission and
    // its timeout already cover a silent server, so such errors are not fatal.
    socket.on('error', () => undefined);
  }

  get localPort(): number | undefined {
    return this.closed ? undefined : this.socket.address().port;
  }

  send(datagram: Buffer): void {
    if (this.closed) return;
    this.socket.send(datagram, () => undefined);
  }

  onDatagram(handler: (datagram: Buffer) => void): void {
    this.socket.on('message', (msg) => handler(msg));
  }

  onClose(handler: (reason: Error | undefined) => void): void {
    this.closeHandler = handler;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
    this.closeHandler?.(undefined);
  }
}

export interface DtlsTransportOptions {
  host: string;
  port: number;
  psk: PskCredentials;
  /** Handshake deadline (default 10 s). */
  timeoutMs?: number;
}

/**
 * A DTLS 1.2 session with a pre-shared key. LwM2M mandates TLS_PSK_WITH_AES_128_CCM_8
 * (LwM2M 1.1 TS-Transport §5.2.8.1, RFC 7925 §4.2), so that is the only suite offered.
 */
export async function openDtlsTransport(options: DtlsTransportOptions): Promise<DatagramTransport> {
  const socket = dtls.createSocket({
    type: isIP(options.host) === 6 ? 'udp6' : 'udp4',
    address: options.host,
    port: options.port,
    psk: { [options.psk.identity]: options.psk.key },
    timeout: options.timeoutMs ?? 10_000,
    ciphers: ['TLS_PSK_WITH_AES_128_CCM_8'],
  });
  const transport = new DtlsTransport(socket);
  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error): void => {
      cleanup();
      reject(new TransportError(`DTLS handshake with ${options.host}:${options.port} failed: ${err.message}`));
    };
    const closed = (): void => {
      cleanup();
      reject(new TransportError(`DTLS handshake with ${options.host}:${options.port} failed: the connection closed`));
    };
    const ok = (): void => {
      cleanup();
      resolve();
    };
    const cleanup = (): void => {
      socket.off('connected', ok);
      socket.off('error', fail);
      socket.off('close', closed);
    };
    socket.on('connected', ok);
    socket.on('error', fail);
    socket.on('close', closed);
  });
  transport.watch();
  return transport;
}

class DtlsTransport implements DatagramTransport {
  readonly secure = true;
  readonly localPort = undefined;
  private closed = false;
  private closeHandler: ((reason: Error | undefined) => void) | undefined;

  constructor(private readonly socket: dtls.Socket) {}

  /** After the handshake: a later error or close ends the transport. */
  watch(): void {
    this.socket.on('error', (err: Error) => this.ended(err));
    this.socket.on('close', () => this.ended(undefined));
  }

  private ended(reason: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.closeHandler?.(reason);
  }

  send(datagram: Buffer): void {
    if (this.closed) return;
    try {
      this.socket.send(datagram);
    } catch (err) {
      // node-dtls-client throws once the session is gone (an alert from the server); CoAP's timeouts report it.
      this.ended(err as Error);
    }
  }

  onDatagram(handler: (datagram: Buffer) => void): void {
    this.socket.on('message', (msg: Buffer) => handler(msg));
  }

  onClose(handler: (reason: Error | undefined) => void): void {
    this.closeHandler = handler;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // close() sends close_notify and then closes the UDP socket.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      try {
        this.socket.close(() => {
          clearTimeout(timer);
          resolve();
        });
      } catch {
        clearTimeout(timer);
        resolve();
      }
    });
    this.closeHandler?.(undefined);
  }
}

/** `coap://h:p` / `coaps://h:p` (IPv6 in brackets) → its parts; the default ports are 5683 and 5684 (RFC 7252 §6). */
export function parseCoapUri(uri: string): { secure: boolean; host: string; port: number; path: string[]; query: string[] } {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new TransportError(`not a URI: "${uri}"`);
  }
  if (url.protocol !== 'coap:' && url.protocol !== 'coaps:') throw new TransportError(`not a coap:// or coaps:// URI: "${uri}"`);
  const secure = url.protocol === 'coaps:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === '') throw new TransportError(`no host in "${uri}"`);
  const port = url.port === '' ? (secure ? 5684 : 5683) : Number(url.port);
  const path = url.pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
  const query = url.search === '' ? [] : url.search.slice(1).split('&').map(decodeURIComponent);
  return { secure, host, port, path, query };
}
