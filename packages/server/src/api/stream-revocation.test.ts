import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORE_KINDS } from '../testing/test-store.js';
import { SseClient, startListeningHangar, type ListeningHangar } from './events-fixture.js';

/** Resolves once the server has ended the stream; fails if that takes longer than `ms`. */
async function endsWithin(client: SseClient, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!client.ended) {
    if (Date.now() > deadline) throw new Error(`the stream was still open ${ms} ms later`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.each(STORE_KINDS)('open event streams end with the access they were opened with, on %s', (kind) => {
  let t: ListeningHangar;

  beforeAll(async () => {
    t = await startListeningHangar(kind);
  });
  afterAll(async () => {
    await t?.close();
  });

  async function newKey(name: string): Promise<{ id: string; token: string }> {
    const res = await t.call('POST', '/api/v1/api-keys', { body: { name, role: 'viewer' } });
    expect(res.status).toBe(201);
    return { id: res.body.id as string, token: res.body.token as string };
  }

  async function signIn(body: Record<string, string>): Promise<string> {
    const res = await fetch(`${t.base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    return res.headers.get('set-cookie')!.split(';')[0]!;
  }

  async function newUser(username: string): Promise<string> {
    const res = await t.call('POST', '/api/v1/users', { body: { username, password: 'correct-horse-1', role: 'viewer' } });
    expect(res.status).toBe(201);
    return res.body.id as string;
  }

  it('ends a stream opened with an API key when the key is revoked', async () => {
    const key = await newKey('revoked-bearer');
    const other = await newKey('kept-bearer');
    const stream = await SseClient.open(t.base, '/api/v1/events/stream', { authorization: `Bearer ${key.token}` });
    const kept = await SseClient.open(t.base, '/api/v1/events/stream', { authorization: `Bearer ${other.token}` });
    expect(stream.status).toBe(200);
    expect((await t.call('DELETE', `/api/v1/api-keys/${key.id}`)).status).toBe(204);
    await endsWithin(stream, 1000);
    expect(stream.frames.map((f) => f.event)).toContain('revoked');
    expect(kept.ended).toBe(false);
    kept.close();
    // And it cannot come back.
    expect((await SseClient.open(t.base, '/api/v1/events/stream', { authorization: `Bearer ${key.token}` })).status).toBe(401);
  });

  it('ends a stream opened with the session cookie a revoked key signed in', async () => {
    const key = await newKey('revoked-session');
    const cookie = await signIn({ apiKey: key.token });
    const stream = await SseClient.open(t.base, '/api/v1/events/stream', { cookie });
    expect(stream.status).toBe(200);
    expect((await t.call('DELETE', `/api/v1/api-keys/${key.id}`)).status).toBe(204);
    await endsWithin(stream, 1000);
  });

  it('ends the streams of a user who is deleted (disabled)', async () => {
    const userId = await newUser('streaming-ada');
    const cookie = await signIn({ username: 'streaming-ada', password: 'correct-horse-1' });
    const stream = await SseClient.open(t.base, '/api/v1/events/stream', { cookie });
    expect(stream.status).toBe(200);
    expect((await t.call('DELETE', `/api/v1/users/${userId}`)).status).toBe(204);
    await endsWithin(stream, 1000);
  });

  it('ends the stream of a session that signs out, and only that one', async () => {
    await newUser('streaming-bob');
    const cookie = await signIn({ username: 'streaming-bob', password: 'correct-horse-1' });
    const otherCookie = await signIn({ username: 'streaming-bob', password: 'correct-horse-1' });
    const stream = await SseClient.open(t.base, '/api/v1/events/stream', { cookie });
    const kept = await SseClient.open(t.base, '/api/v1/events/stream', { cookie: otherCookie });
    const out = await fetch(`${t.base}/api/v1/auth/logout`, { method: 'POST', headers: { cookie } });
    expect(out.status).toBe(204);
    await endsWithin(stream, 1000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(kept.ended).toBe(false);
    kept.close();
  });
});
