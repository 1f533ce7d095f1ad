import { request } from 'node:http';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHangar, type RunningHangar } from './support/hangar-process.js';

function line(i: number): string {
  return JSON.stringify({ id: `cut-${String(i).padStart(6, '0')}`, type: 'meter', tags: { site: `s${i % 7}` } }) + '\n';
}

describe('bulk import over a real socket', () => {
  let h: RunningHangar;
  beforeAll(async () => {
    h = await startHangar();
  });
  afterAll(async () => {
    await h?.stop();
  });

  const count = async (): Promise<number> => {
    let n = 0;
    let cursor: string | null = null;
    do {
      const res = await fetch(`${h.url}/api/v1/devices?limit=1000&q=${encodeURIComponent('id ~ "cut-*"')}${cursor ? `&cursor=${cursor}` : ''}`, { headers: { authorization: `Bearer ${h.adminToken}` } });
      const body = (await res.json()) as { items: unknown[]; nextCursor: string | null };
      n += body.items.length;
      cursor = body.nextCursor;
    } while (cursor);
    return n;
  };

  it('keeps whole batches when the client is cut off half-way, and a re-run completes the import', async () => {
    const total = 5000;
    // Send 3,500 rows, then a torn line, then drop the connection.
    await new Promise<void>((resolve) => {
      const req = request(`${h.url}/api/v1/devices/import`, { method: 'POST', headers: { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/x-ndjson' } });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      for (let i = 0; i < 3500; i++) req.write(line(i));
      req.write('{"id":"cut-torn","ty');
      setTimeout(() => req.destroy(), 500);
    });
    await new Promise((r) => setTimeout(r, 500));
    const afterCut = await count();
    expect(afterCut % 1000).toBe(0);
    expect(afterCut).toBeLessThanOrEqual(3000);

    let body = '';
    for (let i = 0; i < total; i++) body += line(i);
    const res = await fetch(`${h.url}/api/v1/devices/import`, { method: 'POST', headers: { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/x-ndjson' }, body });
    const report = (await res.json()) as { created: number; unchanged: number; failed: number };
    expect(report).toMatchObject({ created: total - afterCut, unchanged: afterCut, failed: 0 });
    expect(await count()).toBe(total);

    const audit = await fetch(`${h.url}/api/v1/audit?action=device.import`, { headers: { authorization: `Bearer ${h.adminToken}` } });
    const entries = ((await audit.json()) as { items: Array<{ summary: { completed: boolean } }> }).items;
    expect(entries.map((e) => e.summary.completed)).toEqual([true, false]);
  });

  it('streams a large import without a body limit', async () => {
    async function* rows(): AsyncGenerator<Uint8Array> {
      const enc = new TextEncoder();
      for (let i = 0; i < 20; i++) {
        let chunk = '';
        for (let j = 0; j < 1000; j++) chunk += JSON.stringify({ id: `big-${i}-${j}`, attributes: { pad: 'x'.repeat(60) } }) + '\n';
        yield enc.encode(chunk);
      }
    }
    const res = await fetch(`${h.url}/api/v1/devices/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.adminToken}`, 'content-type': 'application/x-ndjson' },
      // undici streams any async iterable as the request body.
      body: Readable.from(rows()) as unknown as BodyInit,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ created: 20_000, failed: 0 });
  });
});
