import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainEvent } from '../bus/events.js';
import { STORE_KINDS } from '../testing/test-store.js';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.each(STORE_KINDS)('the command REST API on %s', (kind) => {
  let t: TestHangar;
  let viewer: string;
  let acme: string;

  beforeAll(async () => {
    t = await startTestHangar(kind);
    for (const id of ['cm-1', 'cm-2', 'cm-3', 'cm-4', 'cm-5']) expect((await t.call('POST', '/api/v1/devices', { body: { id } })).status).toBe(201);
    viewer = (await t.call('POST', '/api/v1/api-keys', { body: { name: 'viewer', role: 'viewer' } })).body.token;
    acme = (await t.call('POST', '/api/v1/tenants', { body: { id: 'acme', name: 'Acme' } })).body.adminApiKey.token;
  });
  afterAll(async () => {
    await t.close();
  });

  const send = (id: string, body: unknown, token?: string): ReturnType<TestHangar['call']> => t.call('POST', `/api/v1/devices/${id}/commands`, { body, ...(token !== undefined ? { token } : {}) });

  it('queues a command with defaults, audits it and publishes command.queued', async () => {
    const seen: DomainEvent[] = [];
    const stop = t.hangar.bus.subscribeAll((e) => void (e.type.startsWith('command.') && seen.push(e)));
    const r = await send('cm-1', { name: 'reboot', params: { delay: 5 } });
    stop();
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ deviceId: 'cm-1', name: 'reboot', params: { delay: 5 }, state: 'queued', timeoutSec: 30, ttlSec: 86_400, result: null, error: null, sentAt: null, completedAt: null, jobId: null });
    expect(r.body.id).toMatch(/^cmd_/);
    expect(Date.parse(r.body.expiresAt) - Date.parse(r.body.createdAt)).toBe(86_400_000);
    expect(r.headers.location).toBe(`/api/v1/devices/cm-1/commands/${r.body.id}`);
    expect(seen).toEqual([{ type: 'command.queued', tenantId: 'default', deviceId: 'cm-1', commandId: r.body.id, name: 'reboot' }]);
    const audit = await t.call('GET', '/api/v1/audit?action=command.send');
    expect(audit.body.items[0]).toMatchObject({ action: 'command.send', target: { type: 'device', id: 'cm-1' }, summary: { commandId: r.body.id, name: 'reboot' } });
    const read = await t.call('GET', `/api/v1/devices/cm-1/commands/${r.body.id}`, { token: viewer });
    expect(read.body).toEqual(r.body);
  });

  it('lists a device’s commands newest first, by page and by state', async () => {
    const ids: string[] = [];
    for (const name of ['a', 'b', 'c']) ids.push((await send('cm-2', { name, timeoutSec: 5, ttlSec: 60 })).body.id);
    const first = await t.call('GET', '/api/v1/devices/cm-2/commands?limit=2', { token: viewer });
    expect(first.body.items.map((c: { id: string }) => c.id)).toEqual([ids[2], ids[1]]);
    const second = await t.call('GET', `/api/v1/devices/cm-2/commands?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body).toEqual({ items: [expect.objectContaining({ id: ids[0] })], nextCursor: null });
    await t.hangar.services.commands.take('default', 'cm-2');
    expect((await t.call('GET', '/api/v1/devices/cm-2/commands?state=sent')).body.items).toHaveLength(3);
    expect((await t.call('GET', '/api/v1/devices/cm-2/commands?state=queued')).body.items).toHaveLength(0);
  });

  it('records results, with the round trip of a ping, and refuses unknown, foreign, finished and duplicate results', async () => {
    const ping = (await send('cm-3', { name: 'ping' })).body;
    const other = (await send('cm-3', { name: 'get-system-info' })).body;
    const taken = await t.hangar.services.commands.take('default', 'cm-3');
    expect(taken).toEqual([
      { id: ping.id, name: 'ping', params: {}, expiresAt: Date.parse(ping.expiresAt), timeoutSec: 30 },
      { id: other.id, name: 'get-system-info', params: {}, expiresAt: Date.parse(other.expiresAt), timeoutSec: 30 },
    ]);
    const commands = t.hangar.services.commands;
    await expect(commands.complete('default', 'cm-3', 'cmd_nope', { status: 'succeeded' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(commands.complete('default', 'cm-4', ping.id, { status: 'succeeded' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(commands.complete('default', 'cm-3', ping.id, { status: 'done' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(commands.complete('default', 'cm-3', ping.id, [1])).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(commands.complete('default', 'cm-3', ping.id, { status: 'failed', result: 'x'.repeat(70_000) })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect((await t.call('GET', `/api/v1/devices/cm-3/commands/${ping.id}`)).body.state).toBe('sent');
    const done = await commands.complete('default', 'cm-3', ping.id, { status: 'succeeded', result: { pong: true } });
    expect(done).toMatchObject({ state: 'succeeded', result: { pong: true }, error: null });
    expect(done.roundTripMs).toBeGreaterThanOrEqual(0);
    await expect(commands.complete('default', 'cm-3', ping.id, { status: 'failed' })).rejects.toMatchObject({ code: 'CONFLICT' });
    const failed = await commands.complete('default', 'cm-3', other.id, { status: 'failed', error: 'unknown command' });
    expect(failed).toMatchObject({ state: 'failed', error: 'unknown command', roundTripMs: null });
    const read = await t.call('GET', `/api/v1/devices/cm-3/commands/${ping.id}`);
    expect(read.body).toMatchObject({ state: 'succeeded', result: { pong: true } });
    expect(typeof read.body.roundTripMs).toBe('number');
  });

  it('cancels queued and sent commands (audited), and refuses to cancel a finished one', async () => {
    const queued = (await send('cm-4', { name: 'factory-reset' })).body;
    const r = await t.call('POST', `/api/v1/devices/cm-4/commands/${queued.id}/cancel`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ state: 'cancelled' });
    expect(await t.hangar.services.commands.take('default', 'cm-4')).toEqual([]);
    const again = await t.call('POST', `/api/v1/devices/cm-4/commands/${queued.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.detail).toContain('cancelled');
    const sent = (await send('cm-4', { name: 'upload-logs' })).body;
    await t.hangar.services.commands.take('default', 'cm-4');
    expect((await t.call('POST', `/api/v1/devices/cm-4/commands/${sent.id}/cancel`)).body.state).toBe('cancelled');
    await expect(t.hangar.services.commands.complete('default', 'cm-4', sent.id, { status: 'succeeded' })).rejects.toMatchObject({ code: 'CONFLICT' });
    const audit = await t.call('GET', '/api/v1/audit?action=command.cancel');
    expect(audit.body.items).toHaveLength(2);
    expect((await t.call('POST', `/api/v1/devices/cm-4/commands/${sent.id}/cancel`, { token: viewer })).status).toBe(403);
  });

  it('expires commands not delivered within their TTL and times out sent ones without a result', async () => {
    const expiring = (await send('cm-5', { name: 'reboot', ttlSec: 1 })).body;
    const timing = (await send('cm-5', { name: 'ping', timeoutSec: 1, ttlSec: 60 })).body;
    const completed: DomainEvent[] = [];
    const stop = t.hangar.bus.subscribe('command.completed', (e) => void completed.push(e));
    await sleep(1100);
    // The expired one is no longer handed out; the other is.
    expect((await t.hangar.services.commands.take('default', 'cm-5')).map((c) => c.id)).toEqual([timing.id]);
    await sleep(1100);
    await t.hangar.services.commands.sweep();
    stop();
    expect((await t.call('GET', `/api/v1/devices/cm-5/commands/${expiring.id}`)).body).toMatchObject({ state: 'expired', sentAt: null });
    expect((await t.call('GET', `/api/v1/devices/cm-5/commands/${timing.id}`)).body).toMatchObject({ state: 'timed_out' });
    expect(completed.map((e) => (e.type === 'command.completed' ? [e.commandId, e.state] : []))).toEqual(expect.arrayContaining([[expiring.id, 'expired'], [timing.id, 'timed_out']]));
    await expect(t.hangar.services.commands.complete('default', 'cm-5', timing.id, { status: 'succeeded' })).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('refuses bad input with a clear 4xx and stores nothing', async () => {
    const before = (await t.call('GET', '/api/v1/devices/cm-1/commands')).body.items.length;
    const cases: Array<[unknown, number, string]> = [
      [{ name: 'bad name!' }, 400, 'command name'],
      [{ name: '' }, 400, 'command name'],
      [{ name: 'x'.repeat(65) }, 400, 'command name'],
      [{ name: 'reboot', params: [1, 2] }, 400, 'params must be a JSON object'],
      [{ name: 'reboot', params: 'x' }, 400, 'params must be a JSON object'],
      [{ name: 'reboot', params: { blob: 'x'.repeat(17_000) } }, 413, 'at most 16384'],
      [{ name: 'reboot', timeoutSec: 0 }, 400, 'timeoutSec'],
      [{ name: 'reboot', timeoutSec: 86_401 }, 400, 'timeoutSec'],
      [{ name: 'reboot', ttlSec: -1 }, 400, 'ttlSec'],
      [{ name: 'reboot', extra: 1 }, 400, ''],
      [{ params: {} }, 400, ''],
    ];
    for (const [body, status, detail] of cases) {
      const r = await send('cm-1', body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.headers['content-type']).toContain('application/problem+json');
      expect(r.body.detail).toContain(detail);
    }
    expect((await send('nope', { name: 'reboot' })).status).toBe(404);
    expect((await send('cm-1', { name: 'reboot' }, viewer)).status).toBe(403);
    expect((await send('cm-1', { name: 'reboot' }, acme)).status).toBe(404);
    expect((await t.call('GET', '/api/v1/devices/cm-1/commands', { token: acme })).status).toBe(404);
    expect((await t.call('GET', '/api/v1/devices/cm-1/commands/cmd_missing')).status).toBe(404);
    expect((await t.call('GET', '/api/v1/devices/cm-1/commands?state=bogus')).status).toBe(400);
    expect((await t.call('GET', '/api/v1/devices/cm-1/commands')).body.items.length).toBe(before);
  });

  it('rate-limits command creation per device without starving other devices', async () => {
    let limited: { status: number; body: any; headers: Record<string, unknown> } | undefined;
    for (let i = 0; i < 40 && !limited; i++) {
      const r = await send('cm-2', { name: 'flood' });
      if (r.status === 429) limited = r;
    }
    expect(limited?.body.code).toBe('RATE_LIMITED');
    expect(limited?.body.retryAfterMs).toBeGreaterThan(0);
    expect((await send('cm-3', { name: 'reboot' })).status).toBe(201);
  });

  it('rate-limits results per device without starving other devices, before reading anything', async () => {
    const commands = t.hangar.services.commands;
    const codes: string[] = [];
    for (let i = 0; i < 80; i++) codes.push(await commands.complete('default', 'cm-1', `cmd_flood${i}`, { status: 'succeeded' }).then(() => 'ok', (err: { code: string }) => err.code));
    expect(codes.slice(0, 10)).toEqual(Array(10).fill('NOT_FOUND'));
    expect(codes).toContain('RATE_LIMITED');
    const refused = await commands.complete('default', 'cm-1', 'cmd_x', { status: 'succeeded' }).catch((err: { code: string; extra: { retryAfterMs?: number } }) => err);
    expect(refused).toMatchObject({ code: 'RATE_LIMITED' });
    expect((refused as { extra: { retryAfterMs: number } }).extra.retryAfterMs).toBeGreaterThan(0);
    await expect(commands.complete('default', 'cm-2', 'cmd_x', { status: 'succeeded' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
