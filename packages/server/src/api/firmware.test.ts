import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalManifest, type FirmwareManifest } from '@hangar/protocol';
import type { DomainEvent } from '../bus/events.js';
import { STORE_KINDS } from '../testing/test-store.js';
import { startTestHangar, type TestHangar } from '../testing/test-hangar.js';

const MAX_BYTES = 1024 * 1024;
const OCTET = { 'content-type': 'application/octet-stream' };
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, tries = 200): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await read();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  return read();
}

/** Splits `/pki/{tenant}/firmware-keys.pem` into its keys by the "key id:" line before each. */
function keysOfPem(pem: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const m of pem.matchAll(/key id: (\S+)\n(-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----)/g)) keys.set(m[1]!, m[2]!);
  return keys;
}

describe.each(STORE_KINDS)('firmware registry on %s', (kind) => {
  let t: TestHangar;
  let base: string;
  let viewer: string;
  let operator: string;
  const events: DomainEvent[] = [];

  beforeAll(async () => {
    t = await startTestHangar(kind, { firmware: { artifactStore: kind === 'postgres' ? 'postgres' : 'file', maxBytes: MAX_BYTES } });
    base = await t.hangar.http.listen({ port: 0, host: '127.0.0.1' });
    viewer = (await t.call('POST', '/api/v1/api-keys', { body: { name: 'viewer', role: 'viewer' } })).body.token;
    operator = (await t.call('POST', '/api/v1/api-keys', { body: { name: 'operator', role: 'operator' } })).body.token;
    t.hangar.bus.subscribeAll((e) => {
      if (e.type.startsWith('firmware.')) events.push(e);
    });
  });
  afterAll(async () => {
    // Large objects outlive a dropped schema: remove what the tests stored.
    for (const f of (await t.call('GET', '/api/v1/firmware?limit=1000')).body.items ?? []) await t.call('DELETE', `/api/v1/firmware/${f.id}`);
    await t?.close();
  });

  const upload = (query: string, body: Buffer, token?: string): ReturnType<TestHangar['call']> =>
    t.call('POST', `/api/v1/firmware?${query}`, { payload: body, headers: OCTET, ...(token ? { token } : {}) });

  /** Every artifact stored, whatever the store: files (and partial files) or large-object rows. */
  async function artifacts(): Promise<string[]> {
    if (kind === 'postgres') return (await t.hangar.store.db.selectFrom('artifact_objects').select('key').execute()).map((r) => r.key);
    const root = join((t.hangar.artifacts as unknown as { root: string }).root);
    const walk = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name).slice(root.length + 1)])) : []);
    return walk(root);
  }

  async function versions(): Promise<string[]> {
    return ((await t.call('GET', '/api/v1/firmware?limit=1000')).body.items as Array<{ version: string }>).map((f) => f.version).sort();
  }

  async function publishedKeys(): Promise<Map<string, string>> {
    const res = await t.call('GET', '/pki/default/firmware-keys.pem', { token: null });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('application/x-pem-file');
    return keysOfPem(res.body as string);
  }

  it('stores an upload with its metadata, signs its manifest, and serves it', async () => {
    const image = randomBytes(200_000);
    const res = await upload(`version=1.0.0&deviceTypes=meter,gateway&releaseNotes=${encodeURIComponent('first release\nwith notes')}&sha256=${sha(image).toUpperCase()}`, image, operator);
    expect(res.status).toBe(201);
    const fw = res.body;
    expect(res.headers.location).toBe(`/api/v1/firmware/${fw.id}`);
    expect(fw).toMatchObject({ version: '1.0.0', deviceTypes: ['gateway', 'meter'], releaseNotes: 'first release\nwith notes', size: image.length, sha256: sha(image), signedBy: 'hangar', createdBy: expect.stringMatching(/^api_key:/) });
    expect(fw.manifest).toEqual({ v: 1, firmwareId: fw.id, version: '1.0.0', deviceTypes: ['gateway', 'meter'], size: image.length, sha256: sha(image) });
    // Anyone can check the signature with node:crypto against the published PEM.
    const pem = (await publishedKeys()).get(fw.keyId);
    expect(pem).toBeDefined();
    expect(verify(null, Buffer.from(canonicalManifest(fw.manifest as FirmwareManifest), 'utf8'), createPublicKey(pem!), Buffer.from(fw.signature, 'base64'))).toBe(true);
    // Read back: one, list, list by device type, the bytes.
    expect((await t.call('GET', `/api/v1/firmware/${fw.id}`, { token: viewer })).body).toEqual(fw);
    expect((await t.call('GET', '/api/v1/firmware?deviceType=meter', { token: viewer })).body.items.map((f: { id: string }) => f.id)).toContain(fw.id);
    expect((await t.call('GET', '/api/v1/firmware?deviceType=toaster')).body.items.map((f: { id: string }) => f.id)).not.toContain(fw.id);
    const whole = await fetch(`${base}/api/v1/firmware/${fw.id}/image`, { headers: { authorization: `Bearer ${viewer}` } });
    expect(whole.status).toBe(200);
    expect(whole.headers.get('etag')).toBe(`"${sha(image)}"`);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(whole.headers.get('content-length')).toBe(String(image.length));
    expect(Buffer.from(await whole.arrayBuffer()).equals(image)).toBe(true);
    expect(events).toContainEqual({ type: 'firmware.uploaded', tenantId: 'default', firmwareId: fw.id, version: '1.0.0' });
    const audit = (await t.call('GET', '/api/v1/audit?limit=5')).body.items;
    expect(audit.some((a: { action: string; target: { id: string } }) => a.action === 'firmware.upload' && a.target.id === fw.id)).toBe(true);
    // An image for any type is listed under every type.
    const anyType = await upload('version=1.0.1-rc.1', randomBytes(1000));
    expect(anyType.body.deviceTypes).toEqual([]);
    expect((await t.call('GET', '/api/v1/firmware?deviceType=toaster')).body.items.map((f: { id: string }) => f.id)).toEqual([anyType.body.id]);
  });

  it('refuses a second upload of a version (409) and keeps nothing of it', async () => {
    const before = await artifacts();
    for (const version of ['1.0.0', 'v1.0.0', '1.0.0+build.7']) {
      const res = await upload(`version=${encodeURIComponent(version)}`, randomBytes(5000));
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ code: 'FIRMWARE_EXISTS', status: 409 });
    }
    expect(await artifacts()).toEqual(before);
  });

  it('answers bad input with a problem and stores nothing', async () => {
    const before = { artifacts: await artifacts(), versions: await versions() };
    const bad: Array<[string, () => ReturnType<TestHangar['call']>, number, string]> = [
      ['not semver', () => upload('version=1.0', randomBytes(100)), 400, 'VALIDATION_FAILED'],
      ['leading zero', () => upload('version=01.0.0', randomBytes(100)), 400, 'VALIDATION_FAILED'],
      ['no version', () => upload('deviceTypes=a', randomBytes(100)), 400, 'VALIDATION_FAILED'],
      ['bad device type', () => upload('version=3.0.0&deviceTypes=a%20b', randomBytes(100)), 400, 'VALIDATION_FAILED'],
      ['bad sha256', () => upload('version=3.0.0&sha256=xyz', randomBytes(100)), 400, 'VALIDATION_FAILED'],
      ['unknown parameter', () => upload('version=3.0.0&colour=red', randomBytes(100)), 400, 'VALIDATION_FAILED'],
      ['empty image', () => upload('version=3.0.0', Buffer.alloc(0)), 400, 'VALIDATION_FAILED'],
      ['JSON body', () => t.call('POST', '/api/v1/firmware?version=3.0.0', { body: { image: 'x' } }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['signature without id', () => upload(`version=3.0.0&signature=${'A'.repeat(86)}==`, randomBytes(100)), 400, 'VALIDATION_FAILED'],
      ['keyId without signature', () => upload('version=3.0.0&keyId=fsk_x', randomBytes(100)), 400, 'VALIDATION_FAILED'],
      ['viewer uploading', () => upload('version=3.0.0', randomBytes(100), viewer), 403, 'FORBIDDEN'],
      ['no credentials', () => t.call('POST', '/api/v1/firmware?version=3.0.0', { payload: randomBytes(100), headers: OCTET, token: null }), 401, 'UNAUTHENTICATED'],
      ['unknown image', () => t.call('GET', '/api/v1/firmware/fw_nope'), 404, 'FIRMWARE_NOT_FOUND'],
      ['unknown image bytes', () => t.call('GET', '/api/v1/firmware/fw_nope/image'), 404, 'FIRMWARE_NOT_FOUND'],
      ['deleting an unknown image', () => t.call('DELETE', '/api/v1/firmware/fw_nope'), 404, 'FIRMWARE_NOT_FOUND'],
      ['bad cursor', () => t.call('GET', '/api/v1/firmware?cursor=abc'), 400, 'INVALID_CURSOR'],
      ['bad device type filter', () => t.call('GET', '/api/v1/firmware?deviceType=a%20b'), 400, 'VALIDATION_FAILED'],
      ['operator rotating keys', () => t.call('POST', '/api/v1/firmware/signing-keys/rotate', { token: operator }), 403, 'FORBIDDEN'],
      ['external key that is not a key', () => t.call('POST', '/api/v1/firmware/signing-keys/external', { body: { publicKeyPem: 'hello' } }), 400, 'VALIDATION_FAILED'],
      ['unknown tenant PEM', () => t.call('GET', '/pki/nobody/firmware-keys.pem', { token: null }), 404, 'TENANT_NOT_FOUND'],
    ];
    for (const [what, call, status, code] of bad) {
      const res = await call();
      expect({ what, status: res.status, code: res.body.code }).toEqual({ what, status, code });
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
    // An RSA key is not an Ed25519 key.
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const rsaRes = await t.call('POST', '/api/v1/firmware/signing-keys/external', { body: { publicKeyPem: rsa } });
    expect(rsaRes.status).toBe(400);
    expect(rsaRes.body.detail).toContain('Ed25519');
    expect({ artifacts: await artifacts(), versions: await versions() }).toEqual(before);
  });

  it('refuses an image whose bytes differ from the declared SHA-256, keeping neither row nor artifact', async () => {
    const before = await artifacts();
    const res = await upload(`version=4.0.0&sha256=${sha(Buffer.from('something else'))}`, randomBytes(50_000));
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain('not the declared');
    expect(await versions()).not.toContain('4.0.0');
    expect(await artifacts()).toEqual(before);
  });

  it('refuses an image over --firmware-max-bytes (413) whether or not it declares its length', async () => {
    const before = await artifacts();
    const declared = await upload('version=5.0.0', randomBytes(MAX_BYTES + 1));
    expect(declared.status).toBe(413);
    expect(declared.body.code).toBe('PAYLOAD_TOO_LARGE');
    // Chunked: no Content-Length, so only the store's count can stop it.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${base}/api/v1/firmware?version=5.0.0`, { method: 'POST', headers: { ...OCTET, authorization: `Bearer ${t.adminToken}`, 'transfer-encoding': 'chunked' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      for (let i = 0; i < 20; i++) req.write(randomBytes(64 * 1024));
      req.end();
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body).code).toBe('PAYLOAD_TOO_LARGE');
    expect(await versions()).not.toContain('5.0.0');
    expect(await artifacts()).toEqual(before);
    // Exactly the limit is fine.
    const edge = await upload('version=5.0.1', randomBytes(MAX_BYTES));
    expect(edge.status).toBe(201);
  });

  it('keeps nothing of an upload cut before its Content-Length', async () => {
    const before = await artifacts();
    const server = t.hangar.http.server;
    const seen = new Promise<IncomingMessage>((resolve) => {
      const onRequest = (req: IncomingMessage): void => {
        if (req.url?.startsWith('/api/v1/firmware?version=6.0.0')) {
          server.off('request', onRequest);
          resolve(req);
        }
      };
      server.on('request', onRequest);
    });
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write(`POST /api/v1/firmware?version=6.0.0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.adminToken}\r\nContent-Type: application/octet-stream\r\nContent-Length: 500000\r\n\r\n`);
    socket.write(randomBytes(200_000));
    const req = await seen;
    if (kind === 'sqlite') {
      // The bytes did start to land (a partial file) before the cut.
      await until(artifacts, (a) => a.some((f) => f.startsWith('.partial/')));
    }
    const closed = new Promise((resolve) => req.once('close', resolve));
    socket.destroy();
    await closed;
    await until(artifacts, (a) => JSON.stringify(a) === JSON.stringify(before));
    expect(await artifacts()).toEqual(before);
    expect(await versions()).not.toContain('6.0.0');
    // The server still takes uploads.
    expect((await upload('version=6.0.0', randomBytes(1000))).status).toBe(201);
  });

  it('serves ranges: 206, 416 past the end, If-Range, If-None-Match', async () => {
    const image = randomBytes(100_000);
    const fw = (await upload('version=7.0.0', image)).body;
    const url = `${base}/api/v1/firmware/${fw.id}/image`;
    const auth = { authorization: `Bearer ${viewer}` };
    const etag = `"${sha(image)}"`;
    const part = await fetch(url, { headers: { ...auth, range: 'bytes=1000-1999' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 1000-1999/${image.length}`);
    expect(part.headers.get('content-length')).toBe('1000');
    expect(Buffer.from(await part.arrayBuffer()).equals(image.subarray(1000, 2000))).toBe(true);
    // Resume from an offset to the end, as curl -C - does.
    const rest = await fetch(url, { headers: { ...auth, range: 'bytes=60000-', 'if-range': etag } });
    expect(rest.status).toBe(206);
    expect(Buffer.from(await rest.arrayBuffer()).equals(image.subarray(60000))).toBe(true);
    const suffix = await fetch(url, { headers: { ...auth, range: 'bytes=-10' } });
    expect(Buffer.from(await suffix.arrayBuffer()).equals(image.subarray(-10))).toBe(true);
    // A stale validator: the whole image instead.
    const stale = await fetch(url, { headers: { ...auth, range: 'bytes=60000-', 'if-range': '"something-old"' } });
    expect(stale.status).toBe(200);
    expect(Buffer.from(await stale.arrayBuffer()).equals(image)).toBe(true);
    const past = await fetch(url, { headers: { ...auth, range: `bytes=${image.length}-` } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${image.length}`);
    expect(((await past.json()) as { code: string }).code).toBe('RANGE_NOT_SATISFIABLE');
    const cached = await fetch(url, { headers: { ...auth, 'if-none-match': etag } });
    expect(cached.status).toBe(304);
    const head = await fetch(url, { method: 'HEAD', headers: { ...auth, range: 'bytes=10-' } });
    expect(head.status).toBe(206);
    expect(head.headers.get('content-length')).toBe(String(image.length - 10));
  });

  it('rotates the signing key: earlier images still verify with the retired key, new ones use the new key', async () => {
    const before = (await t.call('GET', '/api/v1/firmware/signing-keys', { token: viewer })).body.items as Array<{ keyId: string; kind: string; state: string }>;
    const oldKey = before.find((k) => k.kind === 'hangar' && k.state === 'active')!;
    const old = (await upload('version=8.0.0', randomBytes(3000))).body;
    expect(old.keyId).toBe(oldKey.keyId);
    const rotated = await t.call('POST', '/api/v1/firmware/signing-keys/rotate');
    expect(rotated.status).toBe(201);
    expect(rotated.body).toMatchObject({ kind: 'hangar', state: 'active', algorithm: 'ed25519', retiredAt: null });
    const keys = (await t.call('GET', '/api/v1/firmware/signing-keys')).body.items as Array<{ keyId: string; state: string; retiredAt: string | null }>;
    expect(keys.find((k) => k.keyId === oldKey.keyId)).toMatchObject({ state: 'retired', retiredAt: expect.stringMatching(/^\d{4}-/) });
    expect(keys.filter((k) => k.state === 'active' && k.keyId !== rotated.body.keyId).every((k) => !before.some((b) => b.keyId === k.keyId && b.kind === 'hangar'))).toBe(true);
    const fresh = (await upload('version=8.1.0', randomBytes(3000))).body;
    expect(fresh.keyId).toBe(rotated.body.keyId);
    const published = await publishedKeys();
    for (const fw of [old, fresh]) {
      expect(verify(null, Buffer.from(canonicalManifest(fw.manifest), 'utf8'), createPublicKey(published.get(fw.keyId)!), Buffer.from(fw.signature, 'base64'))).toBe(true);
    }
    // The old signature does not verify with the new key: the key id matters.
    expect(verify(null, Buffer.from(canonicalManifest(old.manifest), 'utf8'), createPublicKey(published.get(fresh.keyId)!), Buffer.from(old.signature, 'base64'))).toBe(false);
  });

  it('accepts a signature made with a registered external key and refuses a bad one, keeping nothing', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const added = await t.call('POST', '/api/v1/firmware/signing-keys/external', { body: { publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) } });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ kind: 'external', state: 'active' });
    const again = await t.call('POST', '/api/v1/firmware/signing-keys/external', { body: { publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) } });
    expect(again.status).toBe(409);
    const image = randomBytes(4000);
    const manifest: FirmwareManifest = { v: 1, firmwareId: `ext-${kind}-1`, version: '9.0.0', deviceTypes: ['meter'], size: image.length, sha256: sha(image) };
    const good = sign(null, Buffer.from(canonicalManifest(manifest), 'utf8'), privateKey).toString('base64');
    const before = await artifacts();
    // Signed over another version: refused.
    const wrong = sign(null, Buffer.from(canonicalManifest({ ...manifest, version: '9.9.9' }), 'utf8'), privateKey).toString('base64');
    const bad = await upload(`version=9.0.0&deviceTypes=meter&id=${manifest.firmwareId}&signature=${encodeURIComponent(wrong)}&keyId=${added.body.keyId}`, image);
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('SIGNATURE_INVALID');
    const garbage = await upload(`version=9.0.0&deviceTypes=meter&id=${manifest.firmwareId}&signature=bm9wZQ==`, image);
    expect(garbage.body.code).toBe('SIGNATURE_INVALID');
    const unknownKey = await upload(`version=9.0.0&id=${manifest.firmwareId}&signature=${encodeURIComponent(good)}&keyId=fsk_unknown`, image);
    expect(unknownKey.status).toBe(400);
    expect(await artifacts()).toEqual(before);
    expect(await versions()).not.toContain('9.0.0');
    const ok = await upload(`version=9.0.0&deviceTypes=meter&id=${manifest.firmwareId}&signature=${encodeURIComponent(good)}&keyId=${added.body.keyId}`, image);
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ id: manifest.firmwareId, signedBy: 'external', keyId: added.body.keyId, signature: good, manifest });
    // The external key is published with the others, for devices.
    expect((await publishedKeys()).has(added.body.keyId)).toBe(true);
    const taken = await upload(`version=9.0.1&id=${manifest.firmwareId}`, image);
    expect(taken.status).toBe(409);
  });

  it('hands the signing keys to devices: on the device API and at provisioning', async () => {
    await t.call('POST', '/api/v1/devices', { body: { id: `fwdev-${kind}` } });
    const token = (await t.call('POST', `/api/v1/devices/fwdev-${kind}/credentials`, { body: { type: 'token' } })).body.token as string;
    const res = await fetch(`${base}/device/v1/firmware/signing-keys`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const keys = (await res.json()) as Array<{ keyId: string; publicKeyPem: string }>;
    const all = (await t.call('GET', '/api/v1/firmware/signing-keys')).body.items as Array<{ keyId: string }>;
    expect(keys.map((k) => k.keyId).sort()).toEqual(all.map((k) => k.keyId).sort());
    expect(keys.every((k) => k.publicKeyPem.includes('BEGIN PUBLIC KEY'))).toBe(true);
    expect((await fetch(`${base}/device/v1/firmware/signing-keys`)).status).toBe(401);
    const g = await t.call('POST', '/api/v1/enrollment-groups', { body: { name: `fw line ${kind}`, mechanism: 'claim_token', credentialType: 'token' } });
    const provisioned = await t.call('POST', '/device/v1/provision', { token: null, body: { enrollmentGroupId: g.body.id, deviceId: `fwprov-${kind}`, claimToken: g.body.claimToken } });
    expect(provisioned.status).toBe(201);
    expect(provisioned.body.firmwareSigningKeys).toEqual(keys);
  });

  it('deletes an image and its bytes, but not while a rollout uses it', async () => {
    const fw = (await upload('version=10.0.0', randomBytes(2000))).body;
    const inUse = new Set([fw.id]);
    t.hangar.services.firmware.setUsage({ inUse: async (_tenant, id) => inUse.has(id) });
    const refused = await t.call('DELETE', `/api/v1/firmware/${fw.id}`, { token: operator });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('FIRMWARE_IN_USE');
    expect((await t.call('GET', `/api/v1/firmware/${fw.id}`)).status).toBe(200);
    inUse.clear();
    expect((await t.call('DELETE', `/api/v1/firmware/${fw.id}`, { token: viewer })).status).toBe(403);
    expect((await t.call('DELETE', `/api/v1/firmware/${fw.id}`, { token: operator })).status).toBe(204);
    expect((await t.call('GET', `/api/v1/firmware/${fw.id}`)).status).toBe(404);
    expect(await artifacts()).not.toContain(`firmware/${fw.id}`);
    expect(events).toContainEqual({ type: 'firmware.deleted', tenantId: 'default', firmwareId: fw.id });
  });

  it('feeds device downloads and deltas: an uploaded image downloads (with ranges) from its device URL, and a delta between two builds', async () => {
    const v1 = randomBytes(64 * 1024);
    const v2 = Buffer.from(v1);
    v2.fill(7, 1000, 1200);
    const a = (await upload('version=11.0.0', v1)).body;
    const b = (await upload('version=11.1.0', v2)).body;
    const link = t.hangar.downloadLinks.image('default', 'dev-1', b.id);
    const whole = await fetch(`${base}${link.url}`);
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(v2)).toBe(true);
    const tail = await fetch(`${base}${link.url}`, { headers: { range: 'bytes=60000-' } });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(v2.subarray(60000))).toBe(true);
    const requested = await t.call('POST', `/api/v1/firmware/${b.id}/deltas`, { body: { baseFirmwareIds: [a.id] } });
    expect(requested.status).toBeLessThan(300);
    const ready = await until(
      async () => (await t.hangar.services.firmware.image('default', b.id)) && (await t.hangar.services.deltas!.readyDelta('default', b.id, '11.0.0')),
      (d) => d !== undefined,
    );
    expect(ready).toMatchObject({ baseFirmwareId: a.id, state: 'ready' });
    expect(ready!.size!).toBeLessThan(v2.length / 4);
  });

  it('pages the list newest first', async () => {
    const all = (await t.call('GET', '/api/v1/firmware?limit=1000')).body.items as Array<{ id: string }>;
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: Array<{ id: string }>; nextCursor: string | null } = (await t.call('GET', `/api/v1/firmware?limit=2${cursor ? `&cursor=${cursor}` : ''}`)).body;
      seen.push(...page.items.map((f) => f.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.map((f) => f.id));
    expect(all.length).toBeGreaterThan(4);
  });
});
