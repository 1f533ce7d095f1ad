/**
 * The load side of the ingest profile harness, in its own process: raw MQTT 3.1.1 over
 * net sockets (no client library), so that as much of the shared CPU as possible is left to
 * the server being measured. Each device keeps `inflight` QoS 1 PUBLISHes of
 * `{"temp":…,"hum":…}` to `devices/{id}/telemetry` in flight and sends the next one when a
 * PUBACK arrives.
 *
 * IPC: `{type:'connected'}` once every CONNACK arrived; answers `'count'` with
 * `{type:'count', acked, refused}`; `'go'` starts publishing; `'pause'` stops sending new
 * messages; `'stop'` closes and exits.
 */
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { generate } from 'mqtt-packet';

interface Job {
  port: number;
  credentialsFile: string;
  inflight: number;
}

interface Credential {
  deviceId: string;
  token: string;
}

const job = JSON.parse(process.argv[2]!) as Job;
const credentials = JSON.parse(readFileSync(job.credentialsFile, 'utf8')) as Credential[];
const send = (m: unknown): void => void process.send!(m);

let acked = 0;
let refused = 0;
let publishing = false;

class Device {
  private buffered: Buffer | undefined;
  private nextId = 1;
  private seq = 0;
  private readonly topic: Buffer;
  connected = false;

  constructor(
    readonly socket: Socket,
    deviceId: string,
  ) {
    this.topic = Buffer.from(`devices/${deviceId}/telemetry`);
  }

  start(): void {
    this.socket.cork();
    for (let i = 0; i < job.inflight; i += 1) this.publish();
    this.socket.uncork();
  }

  onData(chunk: Buffer): void {
    let buf = this.buffered ? Buffer.concat([this.buffered, chunk]) : chunk;
    this.buffered = undefined;
    let sends = 0;
    while (buf.length >= 2) {
      // Remaining length: a variable byte integer (MQTT 3.1.1 §2.2.3).
      let len = 0;
      let mul = 1;
      let i = 1;
      let complete = false;
      while (i < buf.length && i <= 4) {
        const b = buf[i]!;
        len += (b & 0x7f) * mul;
        mul *= 128;
        i += 1;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || buf.length < i + len) break;
      const type = buf[0]! >> 4;
      if (type === 2) {
        if (buf[i + 1] !== 0) throw new Error(`CONNACK refused: ${buf[i + 1]}`);
        this.connected = true;
        onConnected();
      } else if (type === 4) {
        acked += 1;
        sends += 1;
      }
      buf = buf.subarray(i + len);
    }
    if (buf.length > 0) this.buffered = Buffer.from(buf);
    if (sends > 0 && publishing) {
      this.socket.cork();
      for (let k = 0; k < sends; k += 1) this.publish();
      this.socket.uncork();
    }
  }

  private publish(): void {
    this.seq += 1;
    const payload = Buffer.from(`{"temp":${(20 + (this.seq % 100) / 10).toFixed(1)},"hum":${40 + (this.seq % 20)}}`);
    const id = this.nextId;
    this.nextId = id === 65535 ? 1 : id + 1;
    const remaining = 2 + this.topic.length + 2 + payload.length;
    const out = Buffer.allocUnsafe(2 + remaining);
    out[0] = 0x32; // PUBLISH, QoS 1
    out[1] = remaining; // < 128 for these topics and payloads
    out.writeUInt16BE(this.topic.length, 2);
    this.topic.copy(out, 4);
    out.writeUInt16BE(id, 4 + this.topic.length);
    payload.copy(out, 6 + this.topic.length);
    this.socket.write(out);
  }
}

const devices: Device[] = [];
let connectedCount = 0;
function onConnected(): void {
  connectedCount += 1;
  if (connectedCount === credentials.length) send({ type: 'connected' });
}

async function connectAll(): Promise<void> {
  const batch = 100;
  for (let start = 0; start < credentials.length; start += batch) {
    await Promise.all(
      credentials.slice(start, start + batch).map(
        (c) =>
          new Promise<void>((resolve, reject) => {
            const socket = connect(job.port, '127.0.0.1');
            socket.setNoDelay(true);
            const d = new Device(socket, c.deviceId);
            devices.push(d);
            socket.on('data', (chunk: Buffer) => {
              d.onData(chunk);
              if (d.connected) resolve();
            });
            socket.on('error', reject);
            socket.on('close', () => {
              if (publishing) refused += 1;
            });
            socket.write(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 600, clientId: c.deviceId, username: c.deviceId, password: Buffer.from(c.token) }));
          }),
      ),
    );
  }
}

process.on('message', (m) => {
  if (m === 'go') {
    publishing = true;
    for (const d of devices) d.start();
  } else if (m === 'count') {
    send({ type: 'count', acked, refused, cpu: process.cpuUsage() });
  } else if (m === 'pause') {
    // No new messages; those in flight are still acknowledged (and counted).
    publishing = false;
  } else if (m === 'stop') {
    publishing = false;
    for (const d of devices) d.socket.destroy();
    process.disconnect?.();
    process.exit(0);
  }
});

connectAll().catch((err: unknown) => {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
