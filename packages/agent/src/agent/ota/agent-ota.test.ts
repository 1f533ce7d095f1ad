/**
 * OTA through the whole agent: the offer arrives on `devices/{id}/ota` (Debian's mosquitto
 * carries it, a test client plays Hangar), the image comes from a real HTTP firmware server,
 * status reports go out on `devices/{id}/ota/status` in order, the agent restarts its
 * connection into the new slot and reports `firmwareVersion` in its twin. Then the same over
 * the HTTP fallback (`GET /device/v1/ota` long-poll, `POST /device/v1/ota/status`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import type { OtaActiveOffer, OtaStatusReport } from '@hangar/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFirmwareServer, type FirmwareServer } from '../../testing/firmware-server.js';
import { manifestFor, signManifest, testSigner } from '../../testing/firmware-signing.js';
import { freePort, startMosquitto, type RunningMosquitto } from '../../testing/mosquitto.js';
import { Agent } from '../agent.js';
import { FilePlatform } from './platform.js';
import { KeyRing } from './verifier.js';

let broker: RunningMosquitto;
let hangar: MqttClient;
let fw: FirmwareServer;
let dir: string;
const inbox: { topic: string; body: Record<string, unknown> }[] = [];
const signer = testSigner('k1');
const image = randomBytes(200_000);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-agent-ota-'));
  broker = await startMosquitto();
  fw = await startFirmwareServer();
  fw.signingKeys = [signer.publicKey];
  fw.serve('/device/v1/firmware/fw_1/image', image, 'tok');
  hangar = await connectAsync(broker.url, { clientId: 'hangar-side' });
  hangar.on('message', (topic, payload) => inbox.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown> }));
  await hangar.subscribeAsync(['devices/+/ota/status', 'devices/+/twin/reported'], { qos: 1 });
});

afterAll(async () => {
  await hangar?.endAsync(true);
  await broker?.stop();
  await fw?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; inbox: ${JSON.stringify(inbox).slice(0, 1500)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function offer(deploymentId: string): OtaActiveOffer {
  const manifest = manifestFor(image, '2.0.0');
  return { deploymentId, manifest, signature: signManifest(manifest, signer), keyId: 'k1', url: '/device/v1/firmware/fw_1/image?t=tok', delta: null, urlExpiresAt: Date.now() + 60_000, deadline: Date.now() + 600_000 };
}

const statesOf = (reports: OtaStatusReport[]): string[] => reports.map((r) => r.state).filter((s, i, all) => s !== 'downloading' || all[i - 1] !== 'downloading');

describe('Agent OTA', () => {
  it('installs an offer received over MQTT, restarts into the new slot and reports every state', async () => {
    const transports: string[] = [];
    const agent = new Agent({
      deviceId: 'ota-1',
      credential: { kind: 'token', token: 'x' },
      server: broker.url,
      httpUrl: fw.url,
      backoff: { initialMs: 50, maxMs: 200 },
      facts: { agentVersion: 'test' },
      ota: { platform: new FilePlatform({ dir: join(dir, 'ota-1'), firmwareVersion: '1.0.0', selfTestCmd: 'true' }), keys: new KeyRing(), firmwareVersion: '1.0.0' },
    });
    agent.on('transport', (t) => transports.push(t));
    try {
      agent.start();
      await until('firmwareVersion 1.0.0 reported', () => inbox.some((m) => m.topic === 'devices/ota-1/twin/reported' && m.body.firmwareVersion === '1.0.0'));
      // A retained state message, as Hangar publishes offers.
      await hangar.publishAsync('devices/ota-1/ota', JSON.stringify(offer('dep-mqtt')), { qos: 1, retain: true });
      await until('succeeded', () => inbox.some((m) => m.topic === 'devices/ota-1/ota/status' && m.body.state === 'succeeded'));
      const reports = inbox.filter((m) => m.topic === 'devices/ota-1/ota/status').map((m) => m.body as unknown as OtaStatusReport);
      expect(statesOf(reports)).toEqual(['downloading', 'downloaded', 'installing', 'succeeded']);
      expect(reports.at(-1)).toEqual({ deploymentId: 'dep-mqtt', state: 'succeeded', version: '2.0.0', artifact: 'full' });
      expect(reports.every((r) => r.deploymentId === 'dep-mqtt')).toBe(true);
      // The key list was fetched from the device API (none was known), then the image.
      expect(fw.requests.map((r) => r.path)).toEqual(['/device/v1/firmware/signing-keys', '/device/v1/firmware/fw_1/image']);
      expect(fw.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from('ota-1:x').toString('base64')}`);
      // "Restarts into the new slot": the connection went down and came back.
      expect(transports.filter((t) => t === 'mqtt').length).toBe(2);
      await until('firmwareVersion 2.0.0 reported', () => inbox.some((m) => m.topic === 'devices/ota-1/twin/reported' && m.body.firmwareVersion === '2.0.0'));
      expect(agent.ota?.version).toBe('2.0.0');
      // The retained offer redelivered on the new connection is not installed again.
      await new Promise((r) => setTimeout(r, 300));
      expect(inbox.filter((m) => m.topic === 'devices/ota-1/ota/status' && m.body.state === 'succeeded')).toHaveLength(1);
    } finally {
      await hangar.publishAsync('devices/ota-1/ota', '', { qos: 1, retain: true });
      await agent.stop();
    }
  });

  it('over the HTTP fallback: long-polls the offer and posts each status', async () => {
    const posted: OtaStatusReport[] = [];
    const polls: (string | null)[] = [];
    fw.requests.length = 0;
    fw.extra = (req, res, body) => {
      const u = new URL(req.url!, 'http://x');
      if (req.method === 'POST' && u.pathname === '/device/v1/ota/status') {
        posted.push(JSON.parse(body) as OtaStatusReport);
        res.writeHead(204).end();
        return true;
      }
      if (req.method === 'GET' && u.pathname === '/device/v1/ota') {
        polls.push(u.searchParams.get('deploymentId'));
        if (u.searchParams.get('deploymentId') === 'dep-http') setTimeout(() => res.writeHead(204).end(), 200);
        else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(offer('dep-http')));
        return true;
      }
      if (u.pathname.startsWith('/device/v1/') && u.pathname !== '/device/v1/firmware/signing-keys' && !u.pathname.startsWith('/device/v1/firmware/fw_')) {
        setTimeout(() => res.writeHead(204).end(), 200);
        return true;
      }
      return false;
    };
    const agent = new Agent({
      deviceId: 'ota-2',
      credential: { kind: 'token', token: 'y' },
      server: `mqtt://127.0.0.1:${await freePort()}`, // nothing listens: MQTT is "blocked"
      httpUrl: fw.url,
      backoff: { initialMs: 50, maxMs: 200 },
      httpFallbackAfter: 1,
      httpIdlePollMs: 100,
      ota: { platform: new FilePlatform({ dir: join(dir, 'ota-2'), firmwareVersion: '1.0.0' }), keys: new KeyRing([signer.publicKey]), firmwareVersion: '1.0.0' },
    });
    try {
      agent.start();
      await until('succeeded over HTTP', () => posted.some((r) => r.state === 'succeeded'));
      expect(statesOf(posted)).toEqual(['downloading', 'downloaded', 'installing', 'succeeded']);
      expect(posted.at(-1)).toMatchObject({ deploymentId: 'dep-http', version: '2.0.0' });
      expect(polls[0]).toBeNull();
      expect(polls).toContain('dep-http');
    } finally {
      fw.extra = undefined;
      await agent.stop();
    }
  });
});
