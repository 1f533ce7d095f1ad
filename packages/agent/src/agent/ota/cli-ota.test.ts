/**
 * `hangar-agent` itself installing an update: the real CLI process, a real broker and firmware
 * server. With `--no-reexec` it exits 75 after the install and the test restarts it as a
 * supervisor would; by default it re-executes itself, and the new process boots the new slot.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectAsync, type MqttClient } from 'mqtt';
import type { OtaActiveOffer } from '@hangar/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFirmwareServer, type FirmwareServer } from '../../testing/firmware-server.js';
import { manifestFor, signManifest, testSigner } from '../../testing/firmware-signing.js';
import { startMosquitto, type RunningMosquitto } from '../../testing/mosquitto.js';

const AGENT_BIN = fileURLToPath(new URL('../../../bin/hangar-agent.js', import.meta.url));
let broker: RunningMosquitto;
let hangar: MqttClient;
let fw: FirmwareServer;
let dir: string;
const inbox: { topic: string; body: Record<string, unknown> }[] = [];
const signer = testSigner('k1');
const image = randomBytes(100_000);
const started: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hangar-cli-ota-'));
  broker = await startMosquitto();
  fw = await startFirmwareServer();
  fw.serve('/device/v1/firmware/fw_1/image', image, 'tok');
  writeFileSync(join(dir, 'keys.pem'), signer.publicKey.publicKeyPem);
  hangar = await connectAsync(broker.url, { clientId: 'hangar-side' });
  hangar.on('message', (topic, payload) => inbox.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown> }));
  await hangar.subscribeAsync(['devices/+/ota/status', 'devices/+/twin/reported'], { qos: 1 });
});

afterAll(async () => {
  for (const c of started) if (c.exitCode === null) c.kill('SIGTERM');
  await hangar?.endAsync(true);
  await broker?.stop();
  await fw?.close();
  rmSync(dir, { recursive: true, force: true });
});

function agentProcess(deviceId: string, extra: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(
    process.execPath,
    [AGENT_BIN, '--server', broker.url, '--device-id', deviceId, '--token', 't', '--http-url', fw.url, '--state-dir', join(dir, deviceId), '--metrics-interval', '0', '--firmware-version', '1.0.0', '--firmware-keys', join(dir, 'keys.pem'), ...extra],
    { env: { ...process.env, HANGAR_FROM_SOURCE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  started.push(child);
  let output = '';
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  return { child, output: () => output, exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; inbox: ${JSON.stringify(inbox).slice(0, 1500)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function offer(deploymentId: string): OtaActiveOffer {
  const manifest = manifestFor(image, '2.0.0');
  return { deploymentId, manifest, signature: signManifest(manifest, signer), keyId: 'pinned', url: '/device/v1/firmware/fw_1/image?t=tok', delta: null, urlExpiresAt: Date.now() + 60_000, deadline: Date.now() + 600_000 };
}

const statusOf = (id: string): Record<string, unknown>[] => inbox.filter((m) => m.topic === `devices/${id}/ota/status`).map((m) => m.body);

describe('hangar-agent OTA', () => {
  it('with --no-reexec exits 75 after the install; started again, it self-tests and commits', async () => {
    const first = agentProcess('cli-1', ['--no-reexec', '--self-test', 'test "$HANGAR_OTA_VERSION" = 2.0.0']);
    await until('online', () => inbox.some((m) => m.topic === 'devices/cli-1/twin/reported' && m.body.firmwareVersion === '1.0.0'));
    await hangar.publishAsync('devices/cli-1/ota', JSON.stringify(offer('dep-cli-1')), { qos: 1, retain: true });
    expect(await first.exited).toBe(75);
    expect(statusOf('cli-1').map((r) => r.state)).toContain('installing');
    const second = agentProcess('cli-1', ['--no-reexec', '--self-test', 'test "$HANGAR_OTA_VERSION" = 2.0.0']);
    await until('succeeded', () => statusOf('cli-1').some((r) => r.state === 'succeeded'));
    expect(statusOf('cli-1').at(-1)).toEqual({ deploymentId: 'dep-cli-1', state: 'succeeded', version: '2.0.0', artifact: 'full' });
    await until('firmwareVersion 2.0.0', () => inbox.some((m) => m.topic === 'devices/cli-1/twin/reported' && m.body.firmwareVersion === '2.0.0'));
    const slots = JSON.parse(readFileSync(join(dir, 'cli-1', 'ota', 'slots.json'), 'utf8')) as { active: string };
    expect(slots.active).toBe('b');
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    await hangar.publishAsync('devices/cli-1/ota', '', { qos: 1, retain: true });
  });

  it('re-executes itself into the new slot; a failing self-test rolls back', async () => {
    const first = agentProcess('cli-2', ['--self-test', 'exit 1']);
    await until('online', () => inbox.some((m) => m.topic === 'devices/cli-2/twin/reported' && m.body.firmwareVersion === '1.0.0'));
    await hangar.publishAsync('devices/cli-2/ota', JSON.stringify(offer('dep-cli-2')), { qos: 1, retain: true });
    expect(await first.exited).toBe(0);
    // The re-executed process (same command line) is a child we did not get a handle on: find it by its state dir.
    await until('rolled_back', () => statusOf('cli-2').some((r) => r.state === 'rolled_back'));
    expect(statusOf('cli-2').at(-1)).toMatchObject({ deploymentId: 'dep-cli-2', state: 'rolled_back', reason: 'self_test', version: '1.0.0' });
    const pid = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .find((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(join(dir, 'cli-2'));
        } catch {
          return false;
        }
      });
    expect(pid).toBeDefined();
    process.kill(Number(pid), 'SIGTERM');
    await hangar.publishAsync('devices/cli-2/ota', '', { qos: 1, retain: true });
  });
});
