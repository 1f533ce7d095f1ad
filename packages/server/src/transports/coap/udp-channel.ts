import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import type { DatagramChannel, DatagramHandler, DatagramPeer } from '../datagram-channel.js';

/**
 * RFC 7252 §4.6: without knowledge of the path MTU a CoAP message should fit 1152 bytes
 * (1280-byte IPv6 minimum MTU minus headers); a 1024-byte block plus its header fits.
 */
export const UDP_MAX_PAYLOAD = 1152;

/** Plain UDP: peers are "address:port" and never `secure`. */
export class UdpChannel implements DatagramChannel<never> {
  private socket: Socket | undefined;
  private handler: DatagramHandler<never> | undefined;

  constructor(private readonly logger: Logger) {}

  listen(port: number, host = '0.0.0.0'): Promise<number> {
    if (this.socket) return Promise.reject(new Error('the UDP channel is already listening'));
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
    this.socket = socket;
    return new Promise((resolve, reject) => {
      const onBindError = (err: Error): void => {
        this.socket = undefined;
        try {
          socket.close();
        } catch {
          // never bound: nothing to release
        }
        reject(err);
      };
      socket.once('error', onBindError);
      socket.bind(port, host, () => {
        socket.off('error', onBindError);
        socket.on('error', (err) => this.logger.warn({ err }, 'UDP socket error'));
        socket.on('message', (datagram, rinfo) => this.receive(datagram, rinfo));
        resolve(socket.address().port);
      });
    });
  }

  get port(): number | undefined {
    return this.socket?.address().port;
  }

  onDatagram(handler: DatagramHandler<never>): void {
    this.handler = handler;
  }

  send(datagram: Buffer, peer: DatagramPeer<never>): void {
    const socket = this.socket;
    if (!socket) return;
    socket.send(datagram, peer.port, peer.address, (err) => {
      if (err) this.logger.debug({ err, remote: peer.key }, 'UDP send failed');
    });
  }

  maxPayload(): number {
    return UDP_MAX_PAYLOAD;
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  private receive(datagram: Buffer, rinfo: RemoteInfo): void {
    const peer: DatagramPeer<never> = { address: rinfo.address, port: rinfo.port, key: rinfo.family === 'IPv6' ? `[${rinfo.address}]:${rinfo.port}` : `${rinfo.address}:${rinfo.port}` };
    try {
      this.handler?.(datagram, peer);
    } catch (err) {
      this.logger.error({ err, remote: peer.key }, 'datagram handler failed');
    }
  }
}
