import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHangar } from '../app.js';
import type { CallContext } from '../core/context.js';
import { STORE_KINDS } from '../testing/test-store.js';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';
import { startMqttListener, type MqttListener } from '../transports/mqtt/listeners.js';

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, tries = 300): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await read();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  return read();
}

describe.each(STORE_KINDS)('bulk jobs on %s', (kind) => {
  let t: TestHangar;
  let listener: MqttListener;
  let viewer: string;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    t = await startTestHangar(kind);
    listener = await startMqttListener(t.hangar.mqtt, { port: 0, host: '127.0.0.1' });
    viewer = (await t.call('POST', '/api/v1/api-keys', { body: { name: 'viewer', role: 'viewer' } })).body.token;
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await listener?.close();
    await t?.close();
  });

  async function device(id: string, tags: Record<string, string>): Promise<string> {
    expect((await t.call('POST', '/api/v1/devices', { body: { id, tags } })).status).toBe(201);
    return (await t.call('POST', `/api/v1/devices/${id}/credentials`, { body: { type: 'token' } })).body.token as string;
  }

  /** A real MQTT device that answers every command, failed when `fail` says so. */
  async function agent(id: string, token: string, fail: boolean): Promise<void> {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${listener.port}`, { protocolVersion: 5, clientId: id, username: id, password: token, reconnectPeriod: 0 });
    clients.push(c);
    c.on('message', (topic, payload) => {
      const cmdId = topic.split('/')[3]!;
      const { name } = JSON.parse(payload.toString('utf8')) as { name: string };
      const answer = fail ? { status: 'failed', error: `${name} is not supported here` } : { status: 'succeeded', result: { by: id } };
      void c.publishAsync(`devices/${id}/commands/${cmdId}/result`, JSON.stringify(answer), { qos: 1 });
    });
    await c.subscribeAsync(`devices/${id}/commands/+`, { qos: 1 });
  }

  it('sends one command to every matching MQTT device and ends with exact counts', async () => {
    for (let i = 0; i < 12; i++) {
      const id = `jb-${kind}-${i}`;
      await agent(id, await device(id, { fleet: 'j1' }), i % 4 === 0);
    }
    await device(`jb-${kind}-other`, { fleet: 'elsewhere' });
    const created = await t.call('POST', '/api/v1/jobs', { body: { query: 'tags.fleet = "j1"', command: { name: 'get-system-info', params: { full: true } }, ratePerMinute: 6000, maxConcurrency: 4 } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ state: 'running', query: 'tags.fleet = "j1"', command: { name: 'get-system-info', params: { full: true }, timeoutSec: 30, ttlSec: 86_400 }, ratePerMinute: 6000, maxConcurrency: 4 });
    expect(created.body.progress.targeted).toBe(12);
    const done = await until(
      async () => (await t.call('GET', `/api/v1/jobs/${created.body.id}`, { token: viewer })).body,
      (j) => j.state !== 'running',
    );
    expect(done.state).toBe('completed');
    expect(done.progress).toEqual({ targeted: 12, pending: 0, skipped: 0, queued: 0, sent: 0, succeeded: 9, failed: 3, timed_out: 0, expired: 0, cancelled: 0 });
    const devices = await t.call('GET', `/api/v1/jobs/${created.body.id}/devices?limit=100`);
    expect(devices.body.items).toHaveLength(12);
    expect(devices.body.items.find((d: { deviceId: string }) => d.deviceId === `jb-${kind}-0`)).toMatchObject({ state: 'failed', error: 'get-system-info is not supported here' });
    expect(devices.body.items.find((d: { deviceId: string }) => d.deviceId === `jb-${kind}-1`)).toMatchObject({ state: 'succeeded', result: { by: `jb-${kind}-1` } });
    // Each device's own command list shows the job's command.
    const own = await t.call('GET', `/api/v1/devices/jb-${kind}-1/commands`);
    expect(own.body.items[0]).toMatchObject({ name: 'get-system-info', jobId: created.body.id, state: 'succeeded' });
    expect((await t.call('GET', '/api/v1/jobs')).body.items[0].id).toBe(created.body.id);
  });

  it('aborts when the failure threshold is crossed and issues nothing more', async () => {
    for (let i = 0; i < 6; i++) await device(`ab-${kind}-${i}`, { fleet: 'j2' });
    const created = (await t.call('POST', '/api/v1/jobs', { body: { query: 'tags.fleet = "j2"', command: { name: 'reboot' }, ratePerMinute: 6000, maxConcurrency: 2, abortThreshold: { failedCount: 2 } } })).body;
    const commands = t.hangar.services.commands;
    const issued = async (): Promise<Array<{ deviceId: string; commandId: string | null }>> => (await t.call('GET', `/api/v1/jobs/${created.id}/devices`)).body.items.filter((d: { commandId: string | null }) => d.commandId !== null);
    const firstTwo = await until(issued, (d) => d.length === 2);
    expect(firstTwo).toHaveLength(2);
    for (const d of firstTwo) {
      await commands.take('default', d.deviceId);
      await commands.complete('default', d.deviceId, d.commandId!, { status: 'failed', error: 'boom' });
    }
    const done = await until(async () => (await t.call('GET', `/api/v1/jobs/${created.id}`)).body, (j) => j.state !== 'running');
    expect(done.state).toBe('aborted');
    expect(done.reason).toContain('2 commands failed');
    await t.hangar.services.jobs.tick();
    const after = (await t.call('GET', `/api/v1/jobs/${created.id}`)).body;
    expect(after.progress.failed).toBe(2);
    expect(after.progress.pending + after.progress.cancelled).toBe(4);
    expect(after.progress.queued + after.progress.sent).toBe(0);
  });

  it('cancels a running job and its unfinished commands', async () => {
    for (let i = 0; i < 3; i++) await device(`cn-${kind}-${i}`, { fleet: 'j3' });
    const created = (await t.call('POST', '/api/v1/jobs', { body: { query: 'tags.fleet = "j3"', command: { name: 'upload-logs' }, ratePerMinute: 6000, maxConcurrency: 2 } })).body;
    expect((await t.call('POST', `/api/v1/jobs/${created.id}/cancel`, { token: viewer })).status).toBe(403);
    await until(async () => (await t.call('GET', `/api/v1/jobs/${created.id}`)).body.progress.queued, (n) => n === 2);
    const cancelled = await t.call('POST', `/api/v1/jobs/${created.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ state: 'cancelled', progress: { cancelled: 2, pending: 1, queued: 0 } });
    expect((await t.call('POST', `/api/v1/jobs/${created.id}/cancel`)).status).toBe(409);
    const audit = await t.call('GET', '/api/v1/audit?action=job.cancel');
    expect(audit.body.items[0]).toMatchObject({ target: { type: 'job', id: created.id } });
  });

  it('refuses bad jobs with a clear 4xx and creates nothing', async () => {
    const before = (await t.call('GET', '/api/v1/jobs')).body.items.length;
    const parse = await t.call('POST', '/api/v1/jobs', { body: { query: 'tags.site = ', command: { name: 'reboot' } } });
    expect(parse.status).toBe(400);
    expect(parse.body.code).toBe('INVALID_QUERY');
    expect(typeof parse.body.position).toBe('number');
    const cases: Array<[unknown, number]> = [
      [{ query: '', command: { name: 'reboot' } }, 400],
      [{ query: 'id ~ "*"', command: { name: 'bad name' } }, 400],
      [{ query: 'id ~ "*"', command: { name: 'reboot', params: [1] } }, 400],
      [{ query: 'id ~ "*"', command: { name: 'reboot' }, ratePerMinute: 0 }, 400],
      [{ query: 'id ~ "*"', command: { name: 'reboot' }, maxConcurrency: 100_000 }, 400],
      [{ query: 'id ~ "*"', command: { name: 'reboot' }, abortThreshold: { failedPercent: 150 } }, 400],
      [{ query: 'id ~ "*"', command: { name: 'reboot' }, abortThreshold: { minCompleted: 3 } }, 400],
      [{ query: 'id ~ "*"' }, 400],
    ];
    for (const [body, status] of cases) {
      const r = await t.call('POST', '/api/v1/jobs', { body });
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.body.detail.length).toBeGreaterThan(0);
    }
    expect((await t.call('POST', '/api/v1/jobs', { body: { query: 'id ~ "*"', command: { name: 'reboot' } }, token: viewer })).status).toBe(403);
    expect((await t.call('GET', '/api/v1/jobs/job_nope')).status).toBe(404);
    expect((await t.call('GET', '/api/v1/jobs')).body.items.length).toBe(before);
  });
});

const ctx: CallContext = { principal: { tenantId: 'default', type: 'system', id: 'test', name: 'test', role: 'admin' } };

describe('a bulk job across a server restart', () => {
  it('resumes from the store: issued commands are kept and the rest are issued', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hangar-jobs-'));
    const open = (): ReturnType<typeof createHangar> => createHangar({ dataDir, adminToken: 'hk_test_restart_admin_token_000000', logger: pino({ level: 'silent' }), webRoot: join(dataDir, 'no-web') });
    try {
      let h = await open();
      for (const id of ['rs-1', 'rs-2', 'rs-3']) await h.services.devices.create(ctx, { id, tags: { fleet: 'r' } });
      const job = await h.services.jobs.create(ctx, { query: 'tags.fleet = "r"', command: { name: 'ping' }, ratePerMinute: 6000, maxConcurrency: 1 });
      await until(async () => (await h.services.jobs.get(ctx, job.id)).progress.queued, (n) => n === 1);
      await h.close();
      h = await open();
      const resumed = await h.services.jobs.get(ctx, job.id);
      expect(resumed).toMatchObject({ state: 'running', progress: { queued: 1, pending: 2 } });
      for (let round = 0; round < 3; round++) {
        const page = await h.services.jobs.devices(ctx, job.id, undefined, 10);
        const open1 = await until(async () => (await h.services.jobs.devices(ctx, job.id, undefined, 10)).items.find((d) => d.state === 'queued'), (d) => d !== undefined);
        expect(page.items.length).toBe(3);
        await h.services.commands.take('default', open1!.deviceId);
        await h.services.commands.complete('default', open1!.deviceId, open1!.commandId!, { status: 'succeeded' });
      }
      const done = await until(() => h.services.jobs.get(ctx, job.id), (j) => j.state !== 'running');
      expect(done).toMatchObject({ state: 'completed', progress: { succeeded: 3, pending: 0 } });
      await h.close();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
