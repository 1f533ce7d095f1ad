import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

describe('the OpenAPI document', () => {
  let t: TestHangar;
  let doc: { info: { description?: string }; paths: Record<string, Record<string, { operationId?: string }>> };

  beforeAll(async () => {
    t = await startTestHangar('sqlite');
    doc = (await t.call('GET', '/api/v1/openapi.json', { token: null })).body;
  });
  afterAll(async () => {
    await t.close();
  });

  it('names every operation with a unique camelCase operationId', () => {
    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => METHODS.includes(method))
        .map(([method, op]) => ({ route: `${method.toUpperCase()} ${path}`, id: op.operationId })),
    );
    expect(operations.length).toBeGreaterThan(50);
    expect(operations.filter((o) => o.id === undefined).map((o) => o.route)).toEqual([]);
    expect(operations.filter((o) => !/^[a-z][a-zA-Z0-9]*$/.test(o.id ?? '')).map((o) => o.route)).toEqual([]);
    const seen = new Map<string, string>();
    const duplicates = operations.filter((o) => seen.has(o.id!) || !seen.set(o.id!, o.route)).map((o) => `${o.id}: ${seen.get(o.id!)} and ${o.route}`);
    expect(duplicates).toEqual([]);
    expect(doc.paths['/api/v1/devices']?.['get']?.operationId).toBe('listDevices');
    expect(doc.paths['/api/v1/devices']?.['post']?.operationId).toBe('createDevice');
  });

  it('describes every area of the API', () => {
    const description = doc.info.description ?? '';
    for (const area of ['registry', 'fleet queries', 'credentials', 'enrollment', 'presence', 'telemetry', 'alert', 'webhooks', 'events', 'audit', '/device/v1', 'problem details']) {
      expect(description).toContain(area);
    }
  });
});
