import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createHangar, type Hangar } from '../app.js';
import { addTestFirmware, testOtaCatalog } from '../testing/ota-fixture.js';
import { dropSchema, STORE_KINDS, testDatabaseUrl } from '../testing/test-store.js';

/** A server restarted mid-rollout carries on exactly: waves, deadlines, health windows, progress, rate. */
describe.each(STORE_KINDS)('a rollout across a restart on %s', (kind) => {
  it('resumes where it stopped and completes', async () => {
    let clock = Date.UTC(2026, 11, 7, 12, 0);
    const catalog = testOtaCatalog(() => clock);
    const fw = addTestFirmware(catalog, { version: '2.0.0' });
    const dataDir = mkdtempSync(join(tmpdir(), 'hangar-restart-'));
    const databaseUrl = kind === 'postgres' ? testDatabaseUrl() : undefined;
    const schema = kind === 'postgres' ? `hangar_t_${randomBytes(6).toString('hex')}` : undefined;
    const adminToken = `hk_test_${randomBytes(18).toString('base64url')}`;
    const open = (): Promise<Hangar> =>
      createHangar({ dataDir, databaseUrl, databaseSchema: schema, adminToken, logger: pino({ level: 'silent' }), webRoot: join(dataDir, 'no-web'), now: () => clock, otaCatalog: catalog, rolloutTickIntervalMs: 0 });
    const call = async (h: Hangar, method: string, url: string, body?: unknown): Promise<any> => {
      const res = await h.http.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { payload: JSON.stringify(body) } : {}) });
      return res.json();
    };
    const report = (h: Hangar, deviceId: string, deploymentId: string, state: string, extra: Record<string, unknown> = {}) => h.services.ota.reportStatus('default', deviceId, { deploymentId, state, ...extra });
    let h = await open();
    try {
      for (let i = 0; i < 6; i++) {
        await call(h, 'POST', '/api/v1/devices', { id: `rs-${kind}-${i}`, tags: { fleet: 'restart' } });
        await h.services.twins.patchReported('default', `rs-${kind}-${i}`, { firmwareVersion: '1.0.0' });
      }
      await h.services.ota.idle();
      const created = await call(h, 'POST', '/api/v1/rollouts', { name: 'restart', firmwareId: fw.id, query: 'tags.fleet = "restart"', waves: [{ count: 2 }, { count: 4 }], rate: { perMinute: 6000 }, healthGate: { windowSec: 60 } });
      const id = created.id as string;
      await h.rolloutEngine.tick();
      const offered = (await call(h, 'GET', `/api/v1/rollouts/${id}/devices?state=offered`)).items.map((d: any) => d.deviceId) as string[];
      expect(offered).toHaveLength(2);
      const [a, b] = offered as [string, string];
      await report(h, a, id, 'downloading', { progress: 1, artifact: 'full' });
      await report(h, a, id, 'installing');
      await report(h, a, id, 'succeeded', { version: '2.0.0' });
      await report(h, b, id, 'downloading', { progress: 0.5 });
      const before = await call(h, 'GET', `/api/v1/rollouts/${id}`);
      const devicesBefore = await call(h, 'GET', `/api/v1/rollouts/${id}/devices`);
      await h.close();

      clock += 10_000;
      h = await open();
      expect(await call(h, 'GET', `/api/v1/rollouts/${id}`)).toEqual(before);
      expect(await call(h, 'GET', `/api/v1/rollouts/${id}/devices`)).toEqual(devicesBefore);
      expect(before).toMatchObject({ state: 'running', currentWave: 0, counts: { verifying: 1, downloading: 1, pending: 4 } });
      // The offer and its deadline survive; progress too: a repeat is still refused.
      expect((await h.services.ota.currentOffer('default', b)).deploymentId).toBe(id);
      await expect(report(h, b, id, 'downloading', { progress: 0.5 })).rejects.toMatchObject({ code: 'OTA_STATE_CONFLICT' });
      await report(h, b, id, 'downloading', { progress: 0.8 });
      await report(h, b, id, 'installing');
      await report(h, b, id, 'succeeded', { version: '2.0.0' });
      await h.rolloutEngine.tick();
      expect((await call(h, 'GET', `/api/v1/rollouts/${id}/devices?state=offered`)).items).toHaveLength(0);
      clock += 50_000; // a's health window (opened before the restart) ends
      await h.rolloutEngine.tick();
      expect((await call(h, 'GET', `/api/v1/rollouts/${id}/devices?state=succeeded`)).items.map((d: any) => d.deviceId)).toEqual([a]);
      clock += 10_000;
      await h.rolloutEngine.tick();
      const wave1 = (await call(h, 'GET', `/api/v1/rollouts/${id}/devices?state=offered`)).items.map((d: any) => d.deviceId) as string[];
      expect(wave1).toHaveLength(4);
      await h.close();

      h = await open();
      for (const d of wave1) {
        await report(h, d, id, 'installing');
        await report(h, d, id, 'succeeded', { version: '2.0.0' });
      }
      clock += 60_000;
      await h.rolloutEngine.tick();
      expect(await call(h, 'GET', `/api/v1/rollouts/${id}`)).toMatchObject({ state: 'completed', counts: { targeted: 6, succeeded: 6 } });
    } finally {
      await h.close();
      if (databaseUrl && schema) await dropSchema(databaseUrl, schema);
      rmSync(dataDir, { recursive: true, force: true });
    }
    // Three server starts (each makes or loads its TLS material) on a shared, busy machine.
  }, 120_000);
});
