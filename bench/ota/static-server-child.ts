/**
 * The reference side of `bench ota`: a plain Node `http` server that streams one file with
 * `fs.createReadStream` — what a static file server does, and nothing Hangar does besides
 * (no authentication, no download token, no Range, no store). In its own process, so that its
 * CPU time is its own.
 * IPC: sends `{type:'listening', port}`; answers `stats` with the CPU time it used so far and
 * the bytes and responses it served; exits on `stop`.
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const file = process.argv[2]!;
const size = statSync(file).size;
let bytesServed = 0;
let responses = 0;

const server = createServer((req, res) => {
  if (req.method !== 'GET' || req.url !== '/image') {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
  const stream = createReadStream(file);
  stream.on('data', (chunk) => (bytesServed += chunk.length));
  stream.on('error', () => res.destroy());
  res.on('finish', () => (responses += 1));
  stream.pipe(res);
});
server.keepAliveTimeout = 5_000;
server.listen(0, '127.0.0.1', () => process.send!({ type: 'listening', port: (server.address() as AddressInfo).port }));
process.on('message', (m) => {
  if (m === 'stats') {
    const { user, system } = process.cpuUsage();
    process.send!({ type: 'stats', cpuUs: user + system, bytesServed, responses });
  } else if (m === 'stop') {
    server.close();
    process.exit(0);
  }
});
