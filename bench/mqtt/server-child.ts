/**
 * The server side of `bench mqtt-broker`, one contender per child process so that its RSS is
 * its own: `aedes` (1.2, no-op authentication and authorization) or `gateway` (Hangar's
 * MqttGateway with an accept-all authenticator and a TelemetryIngest that resolves at once).
 * IPC: sends `{type:'listening', port}`; answers `measure` with memory after a forced GC and
 * `cpu` with the CPU time it used so far; exits on `stop`.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Aedes } from 'aedes';
import pino from 'pino';
import { MqttGateway } from '../../packages/server/src/transports/mqtt/mqtt-gateway.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const which = process.argv[2];

let handle: (socket: Socket) => void;
if (which === 'aedes') {
  const broker = await Aedes.createBroker({
    authenticate: (_client, _username, _password, done) => done(null, true),
    authorizePublish: (_client, _packet, done) => done(null),
  });
  handle = (socket) => broker.handle(socket);
} else {
  const gateway = new MqttGateway({
    authenticator: {
      authenticateToken: async (deviceId) => ({ ok: true, identity: { tenantId: 'bench', deviceId, credentialId: 'cred' } }),
      authenticateCertificate: async () => ({ ok: false, reason: 'bad_credentials', detail: 'bench' }),
    },
    // Completes at once, through the callback form the gateway prefers (as aedes' hooks are callbacks).
    telemetry: { ingest: async () => ({ accepted: 1 }), submit: (_device, _payload, _format, done) => done(undefined) },
    presence: { connected: async () => 'sid', disconnected: async () => undefined, seen: () => undefined },
    liveSessions: { add: () => () => undefined },
    logger: pino({ level: 'silent' }),
  });
  handle = (socket) => gateway.handle(socket, { remoteAddress: socket.remoteAddress ?? null });
}

const server = createServer({ noDelay: true }, handle);
server.listen(0, '127.0.0.1', () => process.send!({ type: 'listening', port: (server.address() as AddressInfo).port }));
process.on('message', (m) => {
  if (m === 'measure') {
    gc();
    const { rss, heapUsed } = process.memoryUsage();
    process.send!({ type: 'memory', rss, heapUsed });
  } else if (m === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.send!({ type: 'cpu', us: user + system });
  } else if (m === 'stop') {
    process.exit(0);
  }
});
