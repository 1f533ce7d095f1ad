import { randomBytes } from 'node:crypto';
import coap from 'coap';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { encodeBlock, decodeBlock } from '@hangar/protocol/coap';
import { coapClient, RawPeer, startCoapHarness, writeDesired, type CoapHarness } from './coap-fixture.js';
import { CoapCode, CoapOptionNumber as Opt, encodeMessage, encodeUint, firstOption, uintOption, type CoapMessage, type CoapOption, type CoapType } from '@hangar/protocol/coap';

/**
 * Messaging behaviour a stock client does not show on demand — duplicates, resets, pings,
 * separate responses, garbage — driven from a raw UDP peer speaking the codec.
 */

let nextMid = 1;

interface Req {
  code?: number;
  type?: CoapType;
  messageId?: number;
  token?: Buffer;
  path: string;
  device: { id: string; token: string };
  options?: CoapOption[];
  payload?: Buffer | string;
}

function request(r: Req): CoapMessage {
  const options: CoapOption[] = [
    ...['device', 'v1', ...r.path.split('/')].map((segment) => ({ number: Opt.UriPath, value: Buffer.from(segment) })),
    { number: Opt.UriQuery, value: Buffer.from(`device=${r.device.id}`) },
    { number: Opt.UriQuery, value: Buffer.from(`token=${r.device.token}`) },
    ...(r.options ?? []),
  ];
  return {
    type: r.type ?? 'CON',
    code: r.code ?? CoapCode.GET,
    messageId: r.messageId ?? nextMid++,
    token: r.token ?? randomBytes(4),
    options,
    payload: typeof r.payload === 'string' ? Buffer.from(r.payload) : (r.payload ?? Buffer.alloc(0)),
  };
}

function ack(to: CoapMessage): CoapMessage {
  return { type: 'ACK', code: CoapCode.Empty, messageId: to.messageId, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) };
}

function rst(to: CoapMessage): CoapMessage {
  return { ...ack(to), type: 'RST' };
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('CoAP messaging (raw peer)', () => {
  let h: CoapHarness;
  let peer: RawPeer;
  let dev: { id: string; token: string; credentialId: string };

  beforeAll(async () => {
    // Short transmission parameters keep retransmission tests quick; behaviour is unchanged.
    h = await startCoapHarness({ timing: { separateResponseAfterMs: 150, ackTimeoutMs: 100, maxRetransmit: 2 }, limits: { maxBodyBytes: 2048 } });
    dev = await h.device('raw-dev');
  });
  afterAll(async () => {
    await h?.close();
  });
  beforeEach(async () => {
    peer = await RawPeer.open(h.port);
    h.ingest.delayMs = 0;
  });
  afterEach(async () => {
    await peer.close();
  });

  function send(message: CoapMessage): void {
    peer.sendRaw(encodeMessage(message));
  }

  it('survives garbage datagrams and keeps serving a real client between them', async () => {
    const garbage = [
      Buffer.alloc(0),
      Buffer.from([0x40]),
      randomBytes(3),
      Buffer.from('GET /device/v1/telemetry HTTP/1.1\r\n\r\n'),
      Buffer.from('ffffffffffffffff', 'hex'),
      Buffer.from('4f011234', 'hex'),
      Buffer.from('4001abcdf0', 'hex'),
      Buffer.from('40011234ff', 'hex'),
      Buffer.from('4001beefe0', 'hex'),
      ...Array.from({ length: 200 }, () => randomBytes(1 + Math.floor(Math.random() * 300))),
    ];
    const before = h.ingest.received.length;
    const client = coapClient(['-m', 'post', '-t', '50', '-e', '{"ok":true}', h.url('telemetry', dev.id, dev.token)]);
    for (const datagram of garbage) peer.sendRaw(datagram);
    expect((await client).stderr).toBe('');
    for (const datagram of garbage) peer.sendRaw(datagram);
    const again = await coapClient(['-m', 'post', '-t', '50', '-e', '{"ok":2}', h.url('telemetry', dev.id, dev.token)]);
    expect(again.stderr).toBe('');
    expect(h.ingest.received.length - before).toBe(2);
  });

  it('rejects a malformed confirmable message with a Reset (RFC 7252 §4.2)', async () => {
    peer.sendRaw(Buffer.from('49014321', 'hex')); // CON with the reserved token length 9
    const reply = await peer.next((m) => m.messageId === 0x4321);
    expect(reply.type).toBe('RST');
  });

  it('answers a CoAP ping (empty CON) with a Reset', async () => {
    send({ type: 'CON', code: CoapCode.Empty, messageId: 0x7777, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) });
    const reply = await peer.next((m) => m.messageId === 0x7777);
    expect(reply.type).toBe('RST');
  });

  it('answers a retransmitted CON from the exchange cache without handling it twice', async () => {
    const calls = h.ingest.calls;
    const req = request({ code: CoapCode.POST, path: 'telemetry', device: dev, payload: '{"dup":1}' });
    send(req);
    const first = await peer.next((m) => m.messageId === req.messageId);
    send(req);
    const second = await peer.next((m) => m.messageId === req.messageId);
    expect(first.type).toBe('ACK');
    expect(first.code).toBe(CoapCode.Changed);
    expect(encodeMessage(second)).toEqual(encodeMessage(first));
    expect(h.ingest.calls - calls).toBe(1);
  });

  it('answers a NON request with a NON response', async () => {
    const req = request({ type: 'NON', code: CoapCode.GET, path: 'commands', device: dev });
    send(req);
    const reply = await peer.next((m) => m.token.equals(req.token));
    expect(reply.type).toBe('NON');
    expect(reply.code).toBe(CoapCode.Content);
    expect(reply.payload.toString()).toBe('{"items":[]}');
  });

  it('sends an empty ACK, then a confirmable separate response, when the ingest is slow', async () => {
    h.ingest.delayMs = 600;
    const calls = h.ingest.calls;
    const req = request({ code: CoapCode.POST, path: 'telemetry', device: dev, payload: '{"slow":1}' });
    send(req);
    const emptyAck = await peer.next((m) => m.messageId === req.messageId);
    expect(emptyAck).toMatchObject({ type: 'ACK', code: CoapCode.Empty });
    // A retransmission meanwhile gets the empty ACK again and is not handled twice.
    send(req);
    expect(await peer.next((m) => m.messageId === req.messageId)).toMatchObject({ type: 'ACK', code: CoapCode.Empty });
    const response = await peer.next((m) => m.token.equals(req.token));
    expect(response).toMatchObject({ type: 'CON', code: CoapCode.Changed });
    send(ack(response));
    expect(h.ingest.calls - calls).toBe(1);
  });

  it('retransmits an unacknowledged separate response', async () => {
    h.ingest.delayMs = 300;
    const req = request({ code: CoapCode.POST, path: 'telemetry', device: dev, payload: '{"slow":2}' });
    send(req);
    const first = await peer.next((m) => m.token.equals(req.token) && m.type === 'CON');
    const again = await peer.next((m) => m.token.equals(req.token) && m.type === 'CON');
    expect(again.messageId).toBe(first.messageId);
    send(ack(again));
  });

  it('refuses an unrecognised critical option with 4.02', async () => {
    const req = request({ path: 'commands', device: dev, options: [{ number: 2049, value: Buffer.from('x') }] });
    send(req);
    const reply = await peer.next((m) => m.messageId === req.messageId);
    expect(reply.code).toBe(CoapCode.BadOption);
  });

  it('reassembles Block1 with a new token per block and no Request-Tag', async () => {
    const before = h.ingest.received.length;
    const body = Buffer.from(JSON.stringify({ text: 'abcdefghij'.repeat(20) }));
    const blocks = Math.ceil(body.length / 32);
    for (let num = 0; num < blocks; num++) {
      const more = num < blocks - 1;
      const req = request({ code: CoapCode.POST, path: 'telemetry', device: dev, options: [{ number: Opt.Block1, value: encodeBlock({ num, more, szx: 1 }) }], payload: body.subarray(num * 32, num * 32 + 32) });
      send(req);
      const reply = await peer.next((m) => m.messageId === req.messageId);
      expect(reply.code).toBe(more ? CoapCode.Continue : CoapCode.Changed);
      expect(decodeBlock(firstOption(reply, Opt.Block1)!)).toEqual({ num, more, szx: 1 });
    }
    expect(h.ingest.received.slice(before).map((r) => r.payload.toString())).toEqual([body.toString()]);
  });

  it('answers 4.08 for a block that leaves a gap, and for a continuation it never saw', async () => {
    const first = request({ code: CoapCode.POST, path: 'telemetry', device: dev, options: [{ number: Opt.Block1, value: encodeBlock({ num: 0, more: true, szx: 1 }) }], payload: Buffer.alloc(32, 0x20) });
    send(first);
    expect((await peer.next((m) => m.messageId === first.messageId)).code).toBe(CoapCode.Continue);
    const gap = request({ code: CoapCode.POST, path: 'telemetry', device: dev, options: [{ number: Opt.Block1, value: encodeBlock({ num: 2, more: false, szx: 1 }) }], payload: Buffer.from('}') });
    send(gap);
    const reply = await peer.next((m) => m.messageId === gap.messageId);
    expect(reply.code).toBe(CoapCode.RequestEntityIncomplete);
    expect(reply.payload.toString()).toMatch(/block 2 starts at byte 64/);
    const orphan = request({ code: CoapCode.POST, path: 'telemetry', device: dev, options: [{ number: Opt.Block1, value: encodeBlock({ num: 5, more: false, szx: 1 }) }], payload: Buffer.from('}') });
    send(orphan);
    expect((await peer.next((m) => m.messageId === orphan.messageId)).code).toBe(CoapCode.RequestEntityIncomplete);
  });

  it('answers 4.13 with Size1 once blocks exceed the cap without announcing a size', async () => {
    const calls = h.ingest.calls;
    let last: CoapMessage | undefined;
    for (let num = 0; num < 5; num++) {
      const req = request({ code: CoapCode.POST, path: 'telemetry', device: dev, options: [{ number: Opt.Block1, value: encodeBlock({ num, more: true, szx: 6 }) }], payload: Buffer.alloc(1024, 0x20) });
      send(req);
      last = await peer.next((m) => m.messageId === req.messageId);
      if (last.code !== CoapCode.Continue) break;
    }
    expect(last!.code).toBe(CoapCode.RequestEntityTooLarge);
    expect(uintOption(last!, Opt.Size1)).toBe(2048);
    expect(h.ingest.calls).toBe(calls);
    expect(h.endpoint.pendingUploads).toBe(0);
  });

  it('answers 4.13 for a single datagram over the cap', async () => {
    const req = request({ code: CoapCode.POST, path: 'telemetry', device: dev, payload: Buffer.alloc(3000, 0x20) });
    send(req);
    expect((await peer.next((m) => m.messageId === req.messageId)).code).toBe(CoapCode.RequestEntityTooLarge);
  });

  it('answers 4.06 for an Accept other than JSON', async () => {
    const req = request({ path: 'twin/desired', device: dev, options: [{ number: Opt.Accept, value: encodeUint(60) }] });
    send(req);
    expect((await peer.next((m) => m.messageId === req.messageId)).code).toBe(CoapCode.NotAcceptable);
  });

  it('refuses to bind a port already taken, with the errno the CLI explains', async () => {
    const { CoapDeviceEndpoint } = await import('./device-endpoint.js');
    const other = new CoapDeviceEndpoint({ authenticator: { authenticateToken: async () => ({ ok: false, reason: 'bad_credentials', detail: '' }) }, telemetry: h.ingest, presence: h.presence, bus: h.t.hangar.bus, logger: h.t.hangar.logger });
    await expect(other.listen(h.port, '127.0.0.1')).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await other.close();
  });

  it('answers 2.03 Valid when the client already holds the current representation (ETag)', async () => {
    const get = request({ path: 'commands', device: dev });
    send(get);
    const content = await peer.next((m) => m.messageId === get.messageId);
    const etag = firstOption(content, Opt.ETag)!;
    const revalidate = request({ path: 'commands', device: dev, options: [{ number: Opt.ETag, value: etag }] });
    send(revalidate);
    const valid = await peer.next((m) => m.messageId === revalidate.messageId);
    expect(valid.code).toBe(CoapCode.Valid);
    expect(valid.payload.length).toBe(0);
  });

  describe('observe', () => {
    async function observe(device: { id: string; token: string }): Promise<CoapMessage> {
      const req = request({ path: 'twin/desired', device, options: [{ number: Opt.Observe, value: encodeUint(0) }] });
      send(req);
      const reply = await peer.next((m) => m.messageId === req.messageId);
      expect(reply.code).toBe(CoapCode.Content);
      expect(firstOption(reply, Opt.Observe)).toBeDefined();
      return req;
    }

    async function change(deviceId: string, desired: Record<string, unknown>): Promise<number> {
      const version = await writeDesired(h.t.hangar.store.db, 'default', deviceId, desired);
      h.t.hangar.bus.publish({ type: 'twin.desired.changed', tenantId: 'default', deviceId, version });
      return version;
    }

    it('sends increasing observe sequence numbers and coalesces changes while one is unacknowledged', async () => {
      const d = await h.device('raw-obs-seq');
      const reg = await observe(d);
      await change(d.id, { n: 1 });
      const first = await peer.next((m) => m.token.equals(reg.token) && m.type === 'CON');
      // Two more changes before the first is acknowledged: the client gets the newest once.
      await change(d.id, { n: 2 });
      await change(d.id, { n: 3 });
      send(ack(first));
      const next = await peer.next((m) => m.token.equals(reg.token) && m.type === 'CON' && m.messageId !== first.messageId);
      send(ack(next));
      expect(JSON.parse(next.payload.toString())).toMatchObject({ n: 3 });
      expect(uintOption(next, Opt.Observe)!).toBeGreaterThan(uintOption(first, Opt.Observe)!);
    });

    it('ends an observation when the client answers a notification with Reset', async () => {
      const d = await h.device('raw-obs-rst');
      const reg = await observe(d);
      const before = h.endpoint.observerCount;
      await change(d.id, { a: 1 });
      const note = await peer.next((m) => m.token.equals(reg.token) && m.type === 'CON');
      send(rst(note));
      await waitFor(() => h.endpoint.observerCount === before - 1, 'the observer to go');
      await change(d.id, { a: 2 });
      await expect(peer.next((m) => m.token.equals(reg.token), 400)).rejects.toThrow();
    });

    it('ends an observation on a GET with Observe=1 (deregistration)', async () => {
      const d = await h.device('raw-obs-dereg');
      const reg = await observe(d);
      const before = h.endpoint.observerCount;
      const dereg = request({ path: 'twin/desired', device: d, token: reg.token, options: [{ number: Opt.Observe, value: encodeUint(1) }] });
      send(dereg);
      const reply = await peer.next((m) => m.messageId === dereg.messageId);
      expect(reply.code).toBe(CoapCode.Content);
      expect(firstOption(reply, Opt.Observe)).toBeUndefined();
      expect(h.endpoint.observerCount).toBe(before - 1);
    });

    it('drops an observer that never acknowledges its notifications', async () => {
      const d = await h.device('raw-obs-silent');
      await observe(d);
      const before = h.endpoint.observerCount;
      await change(d.id, { silent: true });
      await waitFor(() => h.endpoint.observerCount === before - 1, 'the silent observer to be dropped');
    });

    it('ends the observation with 4.03 when the credential is revoked', async () => {
      const d = await h.device('raw-obs-revoke');
      const reg = await observe(d);
      await h.t.call('DELETE', `/api/v1/devices/${d.id}/credentials/${d.credentialId}`);
      const final = await peer.next((m) => m.token.equals(reg.token) && m.type === 'CON');
      send(ack(final));
      expect(final.code).toBe(CoapCode.Forbidden);
      expect(firstOption(final, Opt.Observe)).toBeUndefined();
    });
  });
});

describe('CoAP Block1 quotas per device (raw peer)', () => {
  let h: CoapHarness;
  let peer: RawPeer;

  beforeAll(async () => {
    // A global buffer of four 1 KiB blocks: without a per-device quota one device fills it.
    h = await startCoapHarness({ limits: { maxBodyBytes: 2048, maxUploadBytesTotal: 4096 } });
    peer = await RawPeer.open(h.port);
  });
  afterAll(async () => {
    await peer?.close();
    await h?.close();
  });

  async function block(device: { id: string; token: string }, tag: string, num: number, more: boolean, payload: Buffer): Promise<CoapMessage> {
    const req = request({
      code: CoapCode.POST,
      path: 'telemetry',
      device,
      options: [
        { number: Opt.Block1, value: encodeBlock({ num, more, szx: 6 }) },
        { number: Opt.RequestTag, value: Buffer.from(tag) },
      ],
      payload,
    });
    peer.sendRaw(encodeMessage(req));
    return peer.next((m) => m.messageId === req.messageId);
  }

  it('refuses a device its third unfinished upload with 5.03 while another device still uploads', async () => {
    const greedy = await h.device('quota-greedy');
    const other = await h.device('quota-other');
    expect((await block(greedy, 'a', 0, true, Buffer.alloc(1024, 0x20))).code).toBe(CoapCode.Continue);
    expect((await block(greedy, 'b', 0, true, Buffer.alloc(1024, 0x20))).code).toBe(CoapCode.Continue);
    for (const tag of ['c', 'd']) {
      const refused = await block(greedy, tag, 0, true, Buffer.alloc(1024, 0x20));
      expect(refused.code).toBe(CoapCode.ServiceUnavailable);
      expect(uintOption(refused, Opt.MaxAge)).toBeGreaterThan(0);
      expect(refused.payload.toString()).toMatch(/this device already has 2 unfinished block-wise uploads/);
    }
    expect(h.endpoint.pendingUploads).toBe(2);

    const before = h.ingest.received.length;
    const body = Buffer.from(JSON.stringify({ text: 'x'.repeat(1500) }));
    expect((await block(other, 'a', 0, true, body.subarray(0, 1024))).code).toBe(CoapCode.Continue);
    expect((await block(other, 'a', 1, false, body.subarray(1024))).code).toBe(CoapCode.Changed);
    expect(h.ingest.received.slice(before).map((r) => r.payload.toString())).toEqual([body.toString()]);

    // Once one of its uploads completes, the device may start another.
    expect((await block(greedy, 'a', 1, false, Buffer.from('}'))).code).toBe(CoapCode.BadRequest); // not JSON: answered, upload done
    expect((await block(greedy, 'c', 0, true, Buffer.alloc(1024, 0x20))).code).toBe(CoapCode.Continue);
  });
});

describe('CoAP device API with the coap npm client', () => {
  let h: CoapHarness;
  beforeAll(async () => {
    h = await startCoapHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  function call(params: Record<string, unknown>, body?: string): Promise<{ code: string; payload: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = coap.request({ hostname: '127.0.0.1', port: h.port, ...params });
      req.on('response', (res: { code: string; payload: Buffer }) => resolve({ code: res.code, payload: res.payload }));
      req.on('error', reject);
      req.end(body);
    });
  }

  it('posts telemetry and reads the desired twin', async () => {
    const d = await h.device('npm-dev');
    const query = `device=${d.id}&token=${d.token}`;
    const posted = await call({ method: 'POST', pathname: '/device/v1/telemetry', query, options: { 'Content-Format': 'application/json' } }, '{"volts":3.3}');
    expect(posted.code).toBe('2.04');
    expect(h.ingest.received.at(-1)!.payload.toString()).toBe('{"volts":3.3}');
    await writeDesired(h.t.hangar.store.db, 'default', d.id, { led: 'on' });
    const got = await call({ method: 'GET', pathname: '/device/v1/twin/desired', query });
    expect(got.code).toBe('2.05');
    expect(JSON.parse(got.payload.toString())).toEqual({ $version: 1, led: 'on' });
    const refused = await call({ method: 'POST', pathname: '/device/v1/telemetry', query: `device=${d.id}&token=nope` }, '{}');
    expect(refused.code).toBe('4.01');
  });
});
