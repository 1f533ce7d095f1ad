import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { decode as decodeCbor } from 'cbor-x';
import type { Kysely } from 'kysely';
import pino from 'pino';
import type { DeviceIdentity } from '../../core/identity/device-authenticator.js';
import { DeviceAuthenticator } from '../../core/identity/device-authenticator.js';
import type { PresenceTracker } from '../../core/presence/presence-tracker.js';
import type { TelemetryFormat, TelemetryIngest } from '../../core/telemetry/telemetry-ingest.js';
import type { DeviceProtocol } from '../../bus/events.js';
import { HangarError } from '../../errors.js';
import type { Database } from '../../testing/test-store.js';
import { startTestHangar, type TestHangar } from '../../testing/test-hangar.js';
import { encodeMessage, parseMessage, type CoapMessage } from '@hangar/protocol/coap';
import { CoapDeviceEndpoint, type CoapDeviceEndpointOptions } from './device-endpoint.js';
import type { DeviceUplink } from './device-ports.js';

/**
 * Test support for the CoAP endpoint: recording stand-ins for the telemetry ingest and presence
 * tracker (the real ones are wired by their own issue), the core twin service as twin reader, a
 * raw UDP client speaking the codec, and a runner for libcoap's `coap-client-notls`.
 */

export class RecordingIngest implements TelemetryIngest {
  readonly received: Array<{ device: DeviceIdentity; payload: Buffer; format: TelemetryFormat }> = [];
  /** Simulates a slow store (separate responses). */
  delayMs = 0;
  /** Calls seen, including refused ones. */
  calls = 0;

  async ingest(device: DeviceIdentity, payload: Uint8Array, format: TelemetryFormat): Promise<{ accepted: number }> {
    this.calls += 1;
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    const body = Buffer.from(payload);
    if (body.length > 256 * 1024) throw new HangarError('PAYLOAD_TOO_LARGE', 'telemetry body over 256 KiB');
    let doc: unknown;
    try {
      doc = format === 'senml+cbor' ? decodeCbor(body) : JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new HangarError('VALIDATION_FAILED', `telemetry is not valid ${format}: ${(err as Error).message}`);
    }
    if (format !== 'json' && !Array.isArray(doc)) throw new HangarError('VALIDATION_FAILED', 'SenML is an array of records');
    if (format === 'json' && (typeof doc !== 'object' || doc === null)) throw new HangarError('VALIDATION_FAILED', 'telemetry is a JSON object or array');
    this.received.push({ device, payload: body, format });
    return { accepted: Array.isArray(doc) ? doc.length : 1 };
  }
}

export class RecordingPresence implements PresenceTracker {
  readonly touches: Array<{ deviceId: string; protocol: DeviceProtocol; remoteAddress: string | null }> = [];

  async connected(): Promise<string> {
    return 'session';
  }

  async disconnected(): Promise<void> {}

  touched(device: DeviceIdentity, protocol: DeviceProtocol, remoteAddress: string | null): void {
    this.touches.push({ deviceId: device.deviceId, protocol, remoteAddress });
  }

  seen(): void {}
}

export class RecordingUplink implements DeviceUplink {
  readonly reported: Array<{ deviceId: string; patch: Record<string, unknown> }> = [];

  async twinReported(device: DeviceIdentity, patch: Record<string, unknown>): Promise<void> {
    this.reported.push({ deviceId: device.deviceId, patch });
  }
}

/** Writes a desired twin straight into the table (the twin service arrives with its issue). */
export async function writeDesired(db: Kysely<Database>, tenantId: string, deviceId: string, desired: Record<string, unknown>): Promise<number> {
  const row = await db.selectFrom('device_twins').select('desired_version').where('device_id', '=', deviceId).executeTakeFirst();
  const version = row ? Number(row.desired_version) + 1 : 1;
  if (row) await db.updateTable('device_twins').set({ desired: JSON.stringify(desired), desired_version: version, updated_at: Date.now() }).where('device_id', '=', deviceId).execute();
  else await db.insertInto('device_twins').values({ tenant_id: tenantId, device_id: deviceId, desired: JSON.stringify(desired), reported: '{}', desired_version: version, reported_version: 0, updated_at: Date.now() }).execute();
  return version;
}

export interface CoapHarness {
  t: TestHangar;
  endpoint: CoapDeviceEndpoint;
  port: number;
  ingest: RecordingIngest;
  presence: RecordingPresence;
  uplink: RecordingUplink;
  /** Creates a device and issues it a token credential. */
  device(id: string): Promise<{ id: string; token: string; credentialId: string }>;
  url(path: string, deviceId: string, token: string): string;
  close(): Promise<void>;
}

export async function startCoapHarness(overrides: Partial<CoapDeviceEndpointOptions> = {}): Promise<CoapHarness> {
  const t = await startTestHangar('sqlite');
  const ingest = new RecordingIngest();
  const presence = new RecordingPresence();
  const uplink = new RecordingUplink();
  const endpoint = new CoapDeviceEndpoint({
    authenticator: new DeviceAuthenticator(t.hangar.stores),
    telemetry: ingest,
    presence,
    bus: t.hangar.bus,
    logger: pino({ level: process.env.COAP_TEST_LOG ?? 'silent' }),
    twinReader: t.hangar.services.twins,
    uplink,
    ...overrides,
  });
  const port = await endpoint.listen(0, '127.0.0.1');
  return {
    t,
    endpoint,
    port,
    ingest,
    presence,
    uplink,
    async device(id) {
      const created = await t.call('POST', '/api/v1/devices', { body: { id } });
      if (created.status !== 201) throw new Error(`device create: ${created.status} ${JSON.stringify(created.body)}`);
      const cred = await t.call('POST', `/api/v1/devices/${id}/credentials`, { body: { type: 'token' } });
      if (cred.status !== 201) throw new Error(`credential: ${cred.status} ${JSON.stringify(cred.body)}`);
      return { id, token: cred.body.token as string, credentialId: cred.body.id as string };
    },
    url(path, deviceId, token) {
      return `coap://127.0.0.1:${port}/device/v1/${path}?device=${encodeURIComponent(deviceId)}&token=${encodeURIComponent(token)}`;
    },
    async close() {
      await endpoint.close();
      await t.close();
    },
  };
}

export interface ClientRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs libcoap's client; resolves when it exits (kill after `timeoutMs`). */
export function coapClient(args: string[], options: { timeoutMs?: number; input?: Buffer } = {}): Promise<ClientRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('coap-client-notls', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // libcoap stops reading standard input after 20000 bytes; a larger input belongs in a file.
    child.stdin.on('error', () => undefined);
    if (options.input) child.stdin.end(options.input);
    else child.stdin.end();
  });
}

/** A bare UDP peer for exchanges libcoap cannot be made to produce (duplicates, resets, garbage). */
export class RawPeer {
  private readonly socket: Socket;
  private readonly inbox: CoapMessage[] = [];
  private readonly waiters: Array<{ match: (m: CoapMessage) => boolean; resolve: (m: CoapMessage) => void }> = [];

  private constructor(private readonly port: number) {
    this.socket = createSocket('udp4');
    this.socket.on('message', (datagram) => {
      let message: CoapMessage;
      try {
        message = parseMessage(datagram);
      } catch {
        return;
      }
      const i = this.waiters.findIndex((w) => w.match(message));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(message);
      else this.inbox.push(message);
    });
  }

  static async open(serverPort: number): Promise<RawPeer> {
    const peer = new RawPeer(serverPort);
    await new Promise<void>((resolve) => peer.socket.bind(0, '127.0.0.1', () => resolve()));
    return peer;
  }

  sendRaw(datagram: Buffer): void {
    this.socket.send(datagram, this.port, '127.0.0.1');
  }

  send(message: Partial<CoapMessage> & Pick<CoapMessage, 'code' | 'messageId'>): void {
    this.sendRaw(encodeMessage({ type: 'CON', token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0), ...message }));
  }

  /** The next message matching, whether it already arrived or arrives within `timeoutMs`. */
  next(match: (m: CoapMessage) => boolean = () => true, timeoutMs = 10_000): Promise<CoapMessage> {
    const i = this.inbox.findIndex(match);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (m: CoapMessage) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error('no matching CoAP message arrived'));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Messages received and not yet taken. */
  get pending(): readonly CoapMessage[] {
    return this.inbox;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
