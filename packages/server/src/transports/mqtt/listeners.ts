import { createServer as createTcpServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TlsOptions, type TLSSocket } from 'node:tls';
import type { MqttGateway } from './mqtt-gateway.js';

export interface MqttListener {
  server: NetServer | TlsServer;
  /** The bound port (the real one when 0 was asked for). */
  port: number;
  /** Stops accepting new connections; open ones stay (the gateway ends them on its close). */
  stopAccepting(): void;
  /** Stops accepting and destroys what is still open (e.g. a TLS handshake that never finished). */
  close(): Promise<void>;
}

/** A plain TCP server feeding every connection to `gateway`. */
export function createMqttServer(gateway: MqttGateway): NetServer {
  return createTcpServer({ noDelay: true }, (socket) => gateway.handle(socket, { remoteAddress: socket.remoteAddress ?? null }));
}

/**
 * A TLS server that asks for a client certificate but lets the handshake succeed without a
 * trusted one: the gateway's authenticator decides (tenant CAs change at run time), and
 * devices with a token need no certificate at all. `tlsOptions` gives key and cert.
 */
export function createMqttTlsServer(gateway: MqttGateway, tlsOptions: TlsOptions): TlsServer {
  const server = createTlsServer(
    { handshakeTimeout: gateway.limits.connectTimeoutMs, ...tlsOptions, requestCert: true, rejectUnauthorized: false },
    (socket: TLSSocket) => {
      const peer = socket.getPeerCertificate(true);
      const der = peer && 'raw' in peer && Buffer.isBuffer(peer.raw) && peer.raw.length > 0 ? peer.raw : undefined;
      gateway.handle(socket, { remoteAddress: socket.remoteAddress ?? null, clientCertificate: der });
    },
  );
  server.on('tlsClientError', (err, socket) => {
    gateway.logger.debug({ err: err.message, remoteAddress: socket.remoteAddress }, 'mqtts handshake failed');
    socket.destroy();
  });
  return server;
}

/**
 * Binds an MQTT (or, with `tls`, MQTTS) listener. Rejects with the listen error (e.g.
 * EADDRINUSE) so that the caller can name the flag that chose the port.
 */
export async function startMqttListener(gateway: MqttGateway, options: { port: number; host?: string | undefined; tls?: TlsOptions | undefined }): Promise<MqttListener> {
  const server = options.tls ? createMqttTlsServer(gateway, options.tls) : createMqttServer(gateway);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Sockets the gateway never saw (a TLS handshake in progress) would keep server.close() waiting.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  let closed: Promise<void> | undefined;
  const stopAccepting = (): Promise<void> => (closed ??= new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    stopAccepting: () => void stopAccepting(),
    close: async () => {
      const done = stopAccepting();
      for (const socket of sockets) socket.destroy();
      await done;
    },
  };
}
