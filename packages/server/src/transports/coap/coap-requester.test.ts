import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoapCode, CoapOptionNumber as Opt, decodeBlock, encodeMessage, encodeUint, firstOption, parseMessage, uintOption, type CoapMessage } from '@hangar/protocol/coap';
import type { DatagramPeer } from '../datagram-channel.js';
import pino from 'pino';
import { CoapServer, type CoapRequest } from './coap-server.js';
import { CoapRequestError, isFresh, requesterByChannel, type IncomingResponse } from './coap-requester.js';
import { startLibcoapServer, startRequester, uriPath, type LibcoapServer } from './libcoap-server-fixture.js';

/** Resolves once `check` holds, polling; rejects after `timeoutMs` (generous: the machine may be loaded). */
async function until(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function text(response: IncomingResponse): string {
  return response.payload.toString('utf8');
}

describe('CoapRequester against libcoap coap-server-notls', () => {
  let requester: CoapServer<never>;
  let libcoap: LibcoapServer;

  beforeAll(async () => {
    requester = await startRequester();
    libcoap = await startLibcoapServer(requester, ['-d', '10']);
  });

  afterAll(async () => {
    await libcoap?.stop();
    await requester?.close();
  });

  it('GETs a resource (piggybacked answer)', async () => {
    const response = await requester.request(libcoap.peer, { code: CoapCode.GET });
    expect(response.code).toBe(CoapCode.Content);
    expect(text(response)).toContain('libcoap');
  });

  it('answers 4.04 as a response, not an error', async () => {
    const response = await requester.request(libcoap.peer, { code: CoapCode.GET, options: uriPath('/no/such/thing') });
    expect(response.code).toBe(CoapCode.NotFound);
  });

  it('receives a separate response after an empty ACK (libcoap /async delays its answer)', async () => {
    const response = await requester.request(libcoap.peer, { code: CoapCode.GET, options: [...uriPath('/async'), { number: Opt.UriQuery, value: Buffer.from('1') }] });
    expect(response.code).toBe(CoapCode.Content);
  });

  it('uploads by Block1 (each block waits for 2.31) and downloads by Block2, reassembled', async () => {
    const body = Buffer.from(randomBytes(3000).toString('base64'), 'utf8'); // 4000 bytes
    const put = await requester.request(libcoap.peer, { code: CoapCode.PUT, options: [...uriPath('/example_data'), { number: Opt.ContentFormat, value: encodeUint(0) }], payload: body }, { blockSize: 64 });
    expect([CoapCode.Changed, CoapCode.Created]).toContain(put.code);
    const got = await requester.request(libcoap.peer, { code: CoapCode.GET, options: uriPath('/example_data') });
    expect(got.code).toBe(CoapCode.Content);
    expect(got.payload.equals(body)).toBe(true);
    expect(firstOption({ options: got.options } as CoapMessage, Opt.Block2)).toBeUndefined();
    const small = await requester.request(libcoap.peer, { code: CoapCode.GET, options: uriPath('/example_data') }, { blockSize: 16 });
    expect(small.payload.equals(body)).toBe(true);
  });

  it('creates a dynamic resource with a large PUT (Block1 at the channel size) and reads it back', async () => {
    const body = randomBytes(5000);
    const put = await requester.request(libcoap.peer, { code: CoapCode.PUT, options: uriPath('/hangar-dyn'), payload: body });
    expect(put.code).toBe(CoapCode.Created);
    const got = await requester.request(libcoap.peer, { code: CoapCode.GET, options: uriPath('/hangar-dyn') });
    expect(got.payload.equals(body)).toBe(true);
  });

  it('refuses a Block2 answer larger than maxResponseBytes with too_large', async () => {
    const body = randomBytes(4096);
    await requester.request(libcoap.peer, { code: CoapCode.PUT, options: uriPath('/example_data'), payload: body });
    const err = await requester.request(libcoap.peer, { code: CoapCode.GET, options: uriPath('/example_data') }, { maxResponseBytes: 1500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CoapRequestError);
    expect((err as CoapRequestError).reason).toBe('too_large');
  });

  it('observes /time: first answer, notifications in order, then cancel stops them', async () => {
    const notifications: IncomingResponse[] = [];
    const observation = await requester.observe(libcoap.peer, { code: CoapCode.GET, options: uriPath('/time') }, (n) => notifications.push(n));
    expect(observation.first.code).toBe(CoapCode.Content);
    expect(uintOption({ options: observation.first.options } as CoapMessage, Opt.Observe)).toBeDefined();
    await until(() => notifications.length >= 2);
    const sequences = notifications.map((n) => uintOption({ options: n.options } as CoapMessage, Opt.Observe)!);
    expect(sequences[1]! > sequences[0]!).toBe(true);
    await observation.cancel();
    const after = notifications.length;
    // libcoap notifies /time every second: two more seconds would have brought two.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(notifications.length).toBe(after);
  });

  it('rejects an observation of a resource that is not observable, with the answer attached', async () => {
    const err = await requester.observe(libcoap.peer, { code: CoapCode.GET, options: uriPath('/no/such/thing') }, () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CoapRequestError);
    expect((err as CoapRequestError).reason).toBe('protocol');
    expect((err as CoapRequestError).response?.code).toBe(CoapCode.NotFound);
  });

  it('observes a large resource: the first answer and each notification reassembled from Block2', async () => {
    const first = Buffer.from('a'.repeat(3000), 'utf8');
    await requester.request(libcoap.peer, { code: CoapCode.PUT, options: uriPath('/example_data'), payload: first });
    const notifications: IncomingResponse[] = [];
    const observation = await requester.observe(libcoap.peer, { code: CoapCode.GET, options: uriPath('/example_data') }, (n) => notifications.push(n));
    expect(observation.first.payload.equals(first)).toBe(true);
    const second = Buffer.from('b'.repeat(2500), 'utf8');
    await requester.request(libcoap.peer, { code: CoapCode.PUT, options: uriPath('/example_data'), payload: second });
    await until(() => notifications.some((n) => n.payload.equals(second)));
    await observation.cancel();
  });
});

describe('CoapRequester against libcoap with NON notifications (-N)', () => {
  let requester: CoapServer<never>;
  let libcoap: LibcoapServer;

  beforeAll(async () => {
    requester = await startRequester();
    libcoap = await startLibcoapServer(requester, ['-N']);
  });

  afterAll(async () => {
    await libcoap?.stop();
    await requester?.close();
  });

  it('accepts non-confirmable notifications', async () => {
    const notifications: IncomingResponse[] = [];
    const observation = await requester.observe(libcoap.peer, { code: CoapCode.GET, options: uriPath('/time') }, (n) => notifications.push(n));
    await until(() => notifications.length >= 3);
    await observation.cancel();
  });
});

describe('CoapRequester when the peer never answers (libcoap dropping every datagram, -l 100%)', () => {
  let requester: CoapServer<never>;
  let libcoap: LibcoapServer;

  beforeAll(async () => {
    requester = await startRequester({ ackTimeoutMs: 50, maxRetransmit: 2 });
    libcoap = await startLibcoapServer(requester, ['-l', '100%'], false);
  });

  afterAll(async () => {
    await libcoap?.stop();
    await requester?.close();
  });

  it('retransmits, then fails with timeout', async () => {
    const err = await requester.request(libcoap.peer, { code: CoapCode.GET }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CoapRequestError);
    expect((err as CoapRequestError).reason).toBe('timeout');
  });

  it('fails a NON request with timeout after timeoutMs', async () => {
    const err = await requester.request(libcoap.peer, { code: CoapCode.GET, confirmable: false }, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect((err as CoapRequestError).reason).toBe('timeout');
  });
});

/** A scripted device for exchanges libcoap cannot be made to produce (resets, reordered notifications). */
class ScriptedPeer {
  readonly socket: Socket = createSocket('udp4');
  readonly received: CoapMessage[] = [];
  onRequest: (m: CoapMessage) => void = () => undefined;
  peer!: DatagramPeer<never>;

  async open(): Promise<void> {
    this.socket.on('message', (datagram) => {
      const message = parseMessage(datagram);
      this.received.push(message);
      if (message.code >= 1 && message.code <= 31) this.onRequest(message);
    });
    const port = await new Promise<number>((resolve) => this.socket.bind(0, '127.0.0.1', () => resolve(this.socket.address().port)));
    this.peer = { address: '127.0.0.1', port, key: `127.0.0.1:${port}` };
  }

  send(to: number, message: Partial<CoapMessage> & Pick<CoapMessage, 'type' | 'code' | 'messageId'>): void {
    this.socket.send(encodeMessage({ token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0), ...message }), to, '127.0.0.1');
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

describe('CoapRequester against a scripted peer', () => {
  let requester: CoapServer<never>;
  let device: ScriptedPeer;
  let port: number;

  beforeAll(async () => {
    requester = await startRequester({ ackTimeoutMs: 100, maxRetransmit: 2 });
    port = requester.port!;
    device = new ScriptedPeer();
    await device.open();
  });

  afterAll(async () => {
    await device?.close();
    await requester?.close();
  });

  it('fails with reset when the peer resets the request', async () => {
    device.onRequest = (m) => device.send(port, { type: 'RST', code: CoapCode.Empty, messageId: m.messageId });
    const err = await requester.request(device.peer, { code: CoapCode.GET }).catch((e: unknown) => e);
    expect((err as CoapRequestError).reason).toBe('reset');
  });

  it('takes a separate response that arrives before any ACK, and ACKs it', async () => {
    device.onRequest = (m) => device.send(port, { type: 'CON', code: CoapCode.Content, messageId: 0x4242, token: m.token, payload: Buffer.from('late') });
    const response = await requester.request(device.peer, { code: CoapCode.GET });
    expect(text(response)).toBe('late');
    await until(() => device.received.some((m) => m.type === 'ACK' && m.messageId === 0x4242));
  });

  it('answers a retransmitted separate response with the same ACK and does not deliver it twice', async () => {
    let token: Buffer = Buffer.alloc(0);
    device.onRequest = (m) => {
      token = m.token;
      device.send(port, { type: 'ACK', code: CoapCode.Empty, messageId: m.messageId });
      device.send(port, { type: 'CON', code: CoapCode.Content, messageId: 0x5151, token: m.token, payload: Buffer.from('once') });
    };
    const response = await requester.request(device.peer, { code: CoapCode.GET });
    expect(text(response)).toBe('once');
    device.send(port, { type: 'CON', code: CoapCode.Content, messageId: 0x5151, token, payload: Buffer.from('once') });
    await until(() => device.received.filter((m) => m.type === 'ACK' && m.messageId === 0x5151).length === 2);
    expect(device.received.some((m) => m.type === 'RST' && m.messageId === 0x5151)).toBe(false);
  });

  it('resets a notification whose token it does not know, CON or NON', async () => {
    device.send(port, { type: 'NON', code: CoapCode.Content, messageId: 0x6001, token: randomBytes(8), options: [{ number: Opt.Observe, value: encodeUint(7) }] });
    device.send(port, { type: 'CON', code: CoapCode.Content, messageId: 0x6002, token: randomBytes(8), options: [{ number: Opt.Observe, value: encodeUint(8) }] });
    await until(() => [0x6001, 0x6002].every((id) => device.received.some((m) => m.type === 'RST' && m.messageId === id)));
  });

  it('drops a notification older than the last (RFC 7641 §3.4), ACKs it anyway, and resets notifications after cancel', async () => {
    let token: Buffer = Buffer.alloc(0);
    device.onRequest = (m) => {
      token = m.token;
      const observe = uintOption(m, Opt.Observe);
      device.send(port, { type: 'ACK', code: CoapCode.Content, messageId: m.messageId, token: m.token, options: observe === 0 ? [{ number: Opt.Observe, value: encodeUint(10) }] : [], payload: Buffer.from('v10') });
    };
    const seen: string[] = [];
    const observation = await requester.observe(device.peer, { code: CoapCode.GET, options: uriPath('/3303/0/5700') }, (n) => seen.push(text(n)));
    expect(text(observation.first)).toBe('v10');
    const notify = (type: 'CON' | 'NON', messageId: number, seq: number): void =>
      device.send(port, { type, code: CoapCode.Content, messageId, token, options: [{ number: Opt.Observe, value: encodeUint(seq) }], payload: Buffer.from(`v${seq}`) });
    notify('CON', 0x7001, 12);
    await until(() => seen.length === 1);
    notify('CON', 0x7002, 11); // late: older than 12
    notify('NON', 0x7003, 13);
    await until(() => seen.length === 2 && device.received.some((m) => m.type === 'ACK' && m.messageId === 0x7002));
    expect(seen).toEqual(['v12', 'v13']);
    await observation.cancel();
    const cancel = device.received.filter((m) => m.code === CoapCode.GET && m.token.equals(token)).at(-1)!;
    expect(uintOption(cancel, Opt.Observe)).toBe(1);
    notify('CON', 0x7004, 14);
    await until(() => device.received.some((m) => m.type === 'RST' && m.messageId === 0x7004));
    expect(seen).toEqual(['v12', 'v13']);
  });

  it('hands a notification that overtakes a block-wise first answer to onNotify only after observe() resolved', async () => {
    let token: Buffer = Buffer.alloc(0);
    const body = Buffer.from('f'.repeat(40));
    device.onRequest = (m) => {
      const asked = firstOption(m, Opt.Block2);
      const num = asked ? decodeBlock(asked)!.num : 0;
      if (num === 0) {
        token = m.token;
        device.send(port, { type: 'ACK', code: CoapCode.Content, messageId: m.messageId, token: m.token, options: [{ number: Opt.Observe, value: encodeUint(20) }, { number: Opt.Block2, value: encodeBlock1(0, true, 0) }], payload: body.subarray(0, 16) });
        return;
      }
      if (num === 1) device.send(port, { type: 'NON', code: CoapCode.Content, messageId: 0x7201, token, options: [{ number: Opt.Observe, value: encodeUint(21) }], payload: Buffer.from('newer') });
      device.send(port, { type: 'ACK', code: CoapCode.Content, messageId: m.messageId, token: m.token, options: [{ number: Opt.Block2, value: encodeBlock1(num, (num + 1) * 16 < body.length, 0) }], payload: body.subarray(num * 16, num * 16 + 16) });
    };
    const events: string[] = [];
    const observation = await requester.observe(device.peer, { code: CoapCode.GET }, (n) => events.push(`notify ${text(n)}`));
    events.push(`first ${text(observation.first)}`);
    await until(() => events.length === 2);
    expect(events).toEqual([`first ${body.toString()}`, 'notify newer']);
    device.onRequest = (m) => device.send(port, { type: 'ACK', code: CoapCode.Content, messageId: m.messageId, token: m.token });
    await observation.cancel();
  });

  it('ends an observation on a notification without Observe (an error)', async () => {
    let token: Buffer = Buffer.alloc(0);
    device.onRequest = (m) => {
      token = m.token;
      device.send(port, { type: 'ACK', code: CoapCode.Content, messageId: m.messageId, token: m.token, options: [{ number: Opt.Observe, value: encodeUint(1) }] });
    };
    const seen: IncomingResponse[] = [];
    await requester.observe(device.peer, { code: CoapCode.GET }, (n) => seen.push(n));
    device.send(port, { type: 'CON', code: CoapCode.NotFound, messageId: 0x7101, token });
    await until(() => seen.length === 1);
    expect(seen[0]!.code).toBe(CoapCode.NotFound);
    device.send(port, { type: 'CON', code: CoapCode.Content, messageId: 0x7102, token, options: [{ number: Opt.Observe, value: encodeUint(2) }] });
    await until(() => device.received.some((m) => m.type === 'RST' && m.messageId === 0x7102));
  });

  it('restarts a Block2 transfer whose ETag changed, and refuses answers that break the block rules', async () => {
    let version = 1;
    let mode: 'etag' | 'wrong-block' | 'size2' = 'etag';
    device.onRequest = (m) => {
      const asked = firstOption(m, Opt.Block2);
      const num = asked ? decodeBlock(asked)!.num : 0;
      const body = Buffer.from(`${String(version).repeat(40)}`); // 40 bytes: three 16-byte blocks
      if (mode === 'etag' && num === 1 && version === 1) version = 2; // changes after block 0 was read
      const served = mode === 'wrong-block' && num === 1 ? 2 : num;
      const options = [
        { number: Opt.ETag, value: Buffer.from([version]) },
        { number: Opt.Block2, value: encodeBlock1(served, (served + 1) * 16 < body.length, 0) },
        ...(mode === 'size2' ? [{ number: Opt.Size2, value: encodeUint(10_000_000) }] : []),
      ];
      device.send(port, { type: 'ACK', code: CoapCode.Content, messageId: m.messageId, token: m.token, options, payload: body.subarray(served * 16, served * 16 + 16) });
    };
    const restarted = await requester.request(device.peer, { code: CoapCode.GET });
    expect(text(restarted)).toBe('2'.repeat(40));
    mode = 'wrong-block';
    const wrong = await requester.request(device.peer, { code: CoapCode.GET }).catch((e: unknown) => e);
    expect((wrong as CoapRequestError).reason).toBe('protocol');
    mode = 'size2';
    const huge = await requester.request(device.peer, { code: CoapCode.GET }).catch((e: unknown) => e);
    expect((huge as CoapRequestError).reason).toBe('too_large');
  });

  it('drops garbage datagrams and still takes the real answer', async () => {
    device.onRequest = (m) => {
      device.socket.send(Buffer.from([0x40, 0x01]), port, '127.0.0.1'); // truncated header
      device.socket.send(randomBytes(40), port, '127.0.0.1');
      device.send(port, { type: 'ACK', code: CoapCode.Content, messageId: m.messageId, token: m.token, payload: Buffer.from('real') });
    };
    expect(text(await requester.request(device.peer, { code: CoapCode.GET }))).toBe('real');
  });

  it('uses a fresh 8-byte token for every request', async () => {
    const tokens: string[] = [];
    device.onRequest = (m) => {
      tokens.push(m.token.toString('hex'));
      device.send(port, { type: 'ACK', code: CoapCode.Content, messageId: m.messageId, token: m.token });
    };
    for (let i = 0; i < 5; i += 1) await requester.request(device.peer, { code: CoapCode.GET });
    expect(new Set(tokens).size).toBe(5);
    expect(tokens.every((t) => t.length === 16)).toBe(true);
  });

  it('follows the server to a smaller Block1 size and fails a pending request with closed on close', async () => {
    const blocks: Array<{ num: number; szx: number; size: number }> = [];
    device.onRequest = (m) => {
      const b = decodeBlock(firstOption(m, Opt.Block1)!)!;
      blocks.push({ num: b.num, szx: b.szx, size: m.payload.length });
      // Ask for 32-byte blocks from the first answer on (RFC 7959 §2.5).
      const options = [{ number: Opt.Block1, value: encodeBlock1(b.num, b.more, Math.min(b.szx, 1)) }];
      device.send(port, { type: 'ACK', code: b.more ? CoapCode.Continue : CoapCode.Changed, messageId: m.messageId, token: m.token, options });
    };
    const payload = randomBytes(200);
    const response = await requester.request(device.peer, { code: CoapCode.PUT, payload }, { blockSize: 64 });
    expect(response.code).toBe(CoapCode.Changed);
    expect(blocks[0]).toEqual({ num: 0, szx: 2, size: 64 });
    expect(blocks.slice(1).every((b) => b.szx === 1)).toBe(true);
    expect(blocks.reduce((n, b) => n + b.size, 0)).toBe(200);
    expect(blocks[1]!.num).toBe(2); // offset 64 in 32-byte blocks

    device.onRequest = () => undefined;
    const before = device.received.length;
    const pending = requester.request(device.peer, { code: CoapCode.GET }, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    await until(() => device.received.slice(before).some((m) => m.code === CoapCode.GET));
    await requester.close();
    expect(((await pending) as CoapRequestError).reason).toBe('closed');
  });
});

function encodeBlock1(num: number, more: boolean, szx: number): Buffer {
  return encodeUint(num * 16 + (more ? 8 : 0) + szx);
}

describe('requests back to a peer that spoke first (the LwM2M register-then-read pattern)', () => {
  it('reaches the device through the server its request came in on, and picks the server by channel', async () => {
    const logger = pino({ level: 'silent' });
    let registered: CoapRequest<never> | undefined;
    const hangar = new CoapServer<never>({
      logger,
      handler: async (request) => {
        registered = request;
        return { code: CoapCode.Created };
      },
    });
    // The device is a CoapServer too: it answers Hangar's reads while it sends its own requests.
    const deviceServer = new CoapServer<never>({
      logger,
      handler: async (request) => ({ code: CoapCode.Content, payload: Buffer.from(`read ${request.message.options.map((o) => o.value.toString()).join('/')}`) }),
    });
    try {
      const hangarPort = await hangar.listen(0, '127.0.0.1');
      await deviceServer.listen(0, '127.0.0.1');
      const answer = await deviceServer.request({ address: '127.0.0.1', port: hangarPort, key: `127.0.0.1:${hangarPort}` }, { code: CoapCode.POST, options: uriPath('/rd') });
      expect(answer.code).toBe(CoapCode.Created);
      const { via, remote } = registered!;
      expect(text(await via.request(remote, { code: CoapCode.GET, options: uriPath('/3/0') }))).toBe('read 3/0');
      const requester = requesterByChannel<never>({ plain: hangar });
      expect(text(await requester.request(remote, { code: CoapCode.GET, options: uriPath('/5') }))).toBe('read 5');
      const secureRemote = { ...remote, secure: { method: 'psk' as const, principal: undefined as never } };
      await expect(requester.request(secureRemote, { code: CoapCode.GET })).rejects.toMatchObject({ reason: 'closed' });
    } finally {
      await deviceServer.close();
      await hangar.close();
    }
  });
});

describe('observe freshness (RFC 7641 §3.4)', () => {
  it.each([
    [1, 2, 0, 1, true],
    [2, 1, 0, 1, false],
    [0xfffff0, 3, 0, 1, true], // wrapped around 24 bits
    [3, 0xfffff0, 0, 1, false],
    [5, 4, 0, 129_000, true], // more than 128 s later: fresh whatever the number
  ])('last %i, new %i → fresh %s', (v1, v2, t1, t2, fresh) => {
    expect(isFresh(v1, v2, t1, t2)).toBe(fresh);
  });
});
