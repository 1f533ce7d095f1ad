import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHangar, type Hangar } from '../../app.js';
import type { DomainEvent, TelemetryScalar } from '../../bus/events.js';

/**
 * The evaluator drops a reading without queueing it when no rule of the tenant reads its keys,
 * judged from its cached rules. These tests keep the cache for an hour, and have neither a
 * sweep timer nor a coalescing delay: an alert raised or cleared after a rule change can only
 * come from the reading's event, judged by the rules as they are after the change. The cache
 * does not depend on the store, so SQLite alone (api/alerts.test.ts runs both stores).
 */
describe('alert evaluator and the rules it caches', () => {
  let hangar: Hangar;
  let dataDir: string;
  let adminToken: string;
  const events: DomainEvent[] = [];

  async function call(method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = { authorization: `Bearer ${adminToken}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await hangar.http.inject({ method: method as 'GET', url, headers, ...(body !== undefined ? { payload: JSON.stringify(body) } : {}) });
    return { status: res.statusCode, body: res.body === '' ? undefined : JSON.parse(res.body) };
  }

  /** A reading through the real telemetry pipeline: durable, then its event, then its evaluation. */
  async function report(deviceId: string, values: Record<string, TelemetryScalar>): Promise<void> {
    await hangar.services.telemetry.ingest({ tenantId: 'default', deviceId, credentialId: 'test' }, Buffer.from(JSON.stringify(values)), 'json');
    await hangar.alertEvaluator.idle();
  }

  async function device(id: string): Promise<void> {
    expect((await call('POST', '/api/v1/devices', { id, type: 'sensor' })).status).toBe(201);
    await hangar.alertEvaluator.idle();
  }

  async function rule(name: string, condition: string, over: Record<string, unknown> = {}): Promise<string> {
    const res = await call('POST', '/api/v1/alert-rules', { name, severity: 'major', condition, ...over });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    await hangar.alertEvaluator.idle();
    return res.body.id;
  }

  function alertEvents(deviceId: string): string[] {
    return events.flatMap((e) => (e.type.startsWith('alert.') && 'deviceId' in e && e.deviceId === deviceId ? [`${e.type} ${'ruleName' in e ? e.ruleName : ''}`.trim()] : []));
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'hangar-evaluator-'));
    adminToken = `hk_test_${randomBytes(18).toString('base64url')}`;
    hangar = await createHangar({
      dataDir,
      adminToken,
      logger: pino({ level: 'silent' }),
      webRoot: join(dataDir, 'no-web'),
      alerts: { sweepIntervalMs: 0, coalesceMs: 0, ruleCacheMs: 3_600_000 },
    });
    hangar.bus.subscribeAll((e) => void events.push(e));
  });

  afterAll(async () => {
    await hangar?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('raises on a rule created after telemetry began, while readings before it were dropped', async () => {
    await device('late-rule');
    // The tenant has no rule yet: the first reading loads the rules, the next ones are dropped.
    await report('late-rule', { temp: 20 });
    await report('late-rule', { temp: 21 });
    await rule('Hot', 'telemetry.temp > 80', { target: 'id = "late-rule"' });
    expect(alertEvents('late-rule')).toEqual([]);
    await report('late-rule', { temp: 90 });
    expect(alertEvents('late-rule')).toEqual(['alert.raised Hot']);
    await report('late-rule', { temp: 10 });
    expect(alertEvents('late-rule')).toEqual(['alert.raised Hot', 'alert.cleared']);
  });

  it('follows a rule changed to read another key, and a rule deleted and replaced', async () => {
    await device('changed-rule');
    const id = await rule('Humid', 'telemetry.temp > 1000', { target: 'id = "changed-rule"' });
    await report('changed-rule', { hum: 70 });
    expect(alertEvents('changed-rule')).toEqual([]);
    expect((await call('PATCH', `/api/v1/alert-rules/${id}`, { condition: 'telemetry.hum > 50' })).status).toBe(200);
    await hangar.alertEvaluator.idle();
    // The change's own sweep raised it (hum is 70 now); a reading below clears it through its event.
    expect(alertEvents('changed-rule')).toEqual(['alert.raised Humid']);
    await report('changed-rule', { hum: 40 });
    expect(alertEvents('changed-rule')).toEqual(['alert.raised Humid', 'alert.cleared']);
    expect((await call('DELETE', `/api/v1/alert-rules/${id}`)).status).toBe(204);
    await hangar.alertEvaluator.idle();
    await report('changed-rule', { hum: 90, pressure: 1000 });
    expect(alertEvents('changed-rule')).toEqual(['alert.raised Humid', 'alert.cleared']);
    await rule('Low pressure', 'telemetry.pressure < 900', { target: 'id = "changed-rule"' });
    await report('changed-rule', { pressure: 850 });
    expect(alertEvents('changed-rule')).toEqual(['alert.raised Humid', 'alert.cleared', 'alert.raised Low pressure']);
  });

  it('starts judging readings for a rule once it is enabled', async () => {
    await device('enabled-later');
    const id = await rule('Cold', 'telemetry.cold_temp < 0', { target: 'id = "enabled-later"', enabled: false });
    await report('enabled-later', { cold_temp: 5 });
    expect((await call('PATCH', `/api/v1/alert-rules/${id}`, { enabled: true })).status).toBe(200);
    await hangar.alertEvaluator.idle();
    expect(alertEvents('enabled-later')).toEqual([]);
    await report('enabled-later', { cold_temp: -3 });
    expect(alertEvents('enabled-later')).toEqual(['alert.raised Cold']);
  });
});
