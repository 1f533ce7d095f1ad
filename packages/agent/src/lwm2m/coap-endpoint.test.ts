import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { CoapCode, CoapOptionNumber, decodeBlock, encodeBlock, encodeMessage, firstOption, parseMessage, type CoapMessage } from '@hangar/protocol/coap';
import { startLibcoapServer, type RunningLibcoap } from '../testing/libcoap-server.js';
import { CoapEndpoint, CoapRequestError } from './coap-endpoint.js';
import { openDtlsTransport, openUdpTransport, parseCoapUri } from './transport.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function libcoap(options?: Parameters<typeof startLibcoapServer>[0]): Promise<RunningLibcoap> {
  const server = await startLibcoapServer(options);
  cleanups.push(() => server.stop());
  return server;
}

/** A bare UDP peer scripted by the test: it sees every datagram the endpoint sends. */
async function scriptedPeer(): Promise<{ socket: Socket; port: number; next(): Promise<{ message: CoapMessage; port: number }>; send(m: CoapMessage, port: number): void }> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  const queue: { message: CoapMessage; port: number }[] = [];
  const waiters: ((v: { message: CoapMessage; port: number }) => void)[] = [];
  socket.on('message', (msg, rinfo) => {
    const item = { message: parseMessage(msg), port: rinfo.port };
    const w = waiters.shift();
    if (w) w(item);
    else queue.push(item);
  });
  cleanups.push(() => new Promise((r) => socket.close(() => r())));
  return {
    socket,
    port: socket.address().port,
    next: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r))),
    send: (m, port) => socket.send(encodeMessage(m), port, '127.0.0.1'),
  };
}

async function endpointTo(port: number, options?: ConstructorParameters<typeof CoapEndpoint>[1]): Promise<CoapEndpoint> {
  const endpoint = new CoapEndpoint(await openUdpTransport('127.0.0.1', port), options);
  cleanups.push(() => endpoint.close());
  return endpoint;
}

describe('CoapEndpoint against libcoap', () => {
  it('GETs a resource of coap-server-notls over plain UDP', async () => {
    const server = await libcoap();
    const endpoint = await endpointTo(server.port);
    const response = await endpoint.request({ code: CoapCode.GET, path: ['time'] });
    expect(response.code).toBe(CoapCode.Content);
    expect(response.payload.length).toBeGreaterThan(0);
    const missing = await endpoint.request({ code: CoapCode.GET, path: ['no-such-resource'] });
    expect(missing.code).toBe(CoapCode.NotFound);
  });

  it('PUTs a body larger than a block by Block1 and reads it back by Block2 (coap-server-notls /example_data)', async () => {
    const server = await libcoap();
    const endpoint = await endpointTo(server.port);
    const body = Buffer.from(Array.from({ length: 3000 }, (_, i) => 'abcdefghijklmnopqrstuvwxyz'[i % 26]).join(''));
    const put = await endpoint.request({ code: CoapCode.PUT, path: ['example_data'], payload: body });
    expect([CoapCode.Changed, CoapCode.Created]).toContain(put.code);
    const get = await endpoint.request({ code: CoapCode.GET, path: ['example_data'], options: [{ number: CoapOptionNumber.Block2, value: encodeBlock({ num: 0, more: false, szx: 4 }) }] });
    expect(get.code).toBe(CoapCode.Content);
    expect(get.payload.equals(body)).toBe(true);
    await expect(endpoint.request({ code: CoapCode.GET, path: ['example_data'] }, { maxResponseBytes: 1000 })).rejects.toMatchObject({ reason: 'too_large' });
  });

  it('GETs over DTLS with a pre-shared key (TLS_PSK_WITH_AES_128_CCM_8, node-dtls-client) from coap-server-openssl', async () => {
    const server = await libcoap({ psk: { identityHint: 'hangar', key: 'secretPSK-0123456' } });
    const transport = await openDtlsTransport({ host: '127.0.0.1', port: server.dtlsPort, psk: { identity: 'device-1', key: Buffer.from('secretPSK-0123456') } });
    const endpoint = new CoapEndpoint(transport);
    cleanups.push(() => endpoint.close());
    expect(transport.secure).toBe(true);
    const response = await endpoint.request({ code: CoapCode.GET, path: [] });
    expect(response.code).toBe(CoapCode.Content);
    expect(response.payload.toString()).toContain('libcoap');
  });

  it('fails the DTLS handshake with a wrong key and says so', async () => {
    const server = await libcoap({ psk: { identityHint: 'hangar', key: 'secretPSK-0123456' } });
    await expect(openDtlsTransport({ host: '127.0.0.1', port: server.dtlsPort, psk: { identity: 'device-1', key: Buffer.from('wrong-key-0000000') }, timeoutMs: 3000 })).rejects.toThrow(/DTLS handshake .* failed/);
  });
});

describe('CoapEndpoint message layer', () => {
  it('retransmits an unacknowledged CON with the same message id, then takes a separate response', async () => {
    const peer = await scriptedPeer();
    const endpoint = await endpointTo(peer.port, { timing: { ackTimeoutMs: 50 } });
    const pending = endpoint.request({ code: CoapCode.POST, path: ['rd'], query: ['ep=x'] });
    const first = await peer.next();
    const again = await peer.next();
    expect(again.message.messageId).toBe(first.message.messageId);
    expect(again.message.type).toBe('CON');
    // Empty ACK: the answer comes later as a CON of its own, which the endpoint must acknowledge.
    peer.send({ type: 'ACK', code: 0, messageId: first.message.messageId, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) }, first.port);
    peer.send({ type: 'CON', code: CoapCode.Created, messageId: 999, token: first.message.token, options: [{ number: CoapOptionNumber.LocationPath, value: Buffer.from('rd') }], payload: Buffer.alloc(0) }, first.port);
    const response = await pending;
    expect(response.code).toBe(CoapCode.Created);
    let ack = await peer.next();
    while (ack.message.type === 'CON') ack = await peer.next(); // a retransmission that raced the empty ACK
    expect(ack.message).toMatchObject({ type: 'ACK', code: 0, messageId: 999 });
  });

  it('gives up after MAX_RETRANSMIT with a timeout error, and rejects on RST', async () => {
    const peer = await scriptedPeer();
    const endpoint = await endpointTo(peer.port, { timing: { ackTimeoutMs: 10, maxRetransmit: 2 } });
    await expect(endpoint.request({ code: CoapCode.GET, path: ['x'] })).rejects.toMatchObject({ reason: 'timeout' });
    const pending = endpoint.request({ code: CoapCode.GET, path: ['y'] });
    let seen = await peer.next();
    while (!seen.message.options.some((o) => o.value.toString() === 'y')) seen = await peer.next();
    peer.send({ type: 'RST', code: 0, messageId: seen.message.messageId, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) }, seen.port);
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CoapRequestError);
    expect((err as CoapRequestError).reason).toBe('reset');
  });

  it('answers requests, de-duplicates a repeated CON, and reassembles a Block1 body', async () => {
    const peer = await scriptedPeer();
    const seen: string[] = [];
    let started = 0;
    const endpoint = await endpointTo(peer.port, {
      handler: {
        handle: (req) => {
          seen.push(`${req.code} /${req.path.join('/')} ${req.payload.length}`);
          return { code: CoapCode.Changed, payload: Buffer.from('ok') };
        },
        blockTransferStarted: () => (started += 1),
      },
    });
    const localPort = endpoint.transport.localPort!;
    const put = { type: 'CON' as const, code: CoapCode.PUT, messageId: 10, token: Buffer.from([1]), options: [{ number: CoapOptionNumber.UriPath, value: Buffer.from('3') }], payload: Buffer.from('v') };
    peer.send(put, localPort);
    const a1 = await peer.next();
    peer.send(put, localPort);
    const a2 = await peer.next();
    expect(a1.message).toMatchObject({ type: 'ACK', code: CoapCode.Changed, messageId: 10 });
    expect(a2.message.payload.toString()).toBe('ok');
    expect(seen).toEqual(['3 /3 1']);

    const body = Buffer.alloc(40, 7);
    for (let num = 0; num < 3; num += 1) {
      const more = num < 2;
      peer.send(
        {
          type: 'CON',
          code: CoapCode.PUT,
          messageId: 20 + num,
          token: Buffer.from([2, num]),
          options: [
            { number: CoapOptionNumber.UriPath, value: Buffer.from('5') },
            { number: CoapOptionNumber.Block1, value: encodeBlock({ num, more, szx: 0 }) },
          ],
          payload: body.subarray(num * 16, num * 16 + 16),
        },
        localPort,
      );
      const answer = (await peer.next()).message;
      expect(answer.code).toBe(more ? CoapCode.Continue : CoapCode.Changed);
      expect(decodeBlock(firstOption(answer, CoapOptionNumber.Block1)!)).toEqual({ num, more, szx: 0 });
    }
    expect(seen).toEqual(['3 /3 1', '3 /5 40']);
    expect(started).toBe(1);
    // A block out of sequence is 4.08 (RFC 7959 §2.3), and nothing reaches the handler.
    peer.send({ type: 'CON', code: CoapCode.PUT, messageId: 40, token: Buffer.from([3]), options: [{ number: CoapOptionNumber.UriPath, value: Buffer.from('5') }, { number: CoapOptionNumber.Block1, value: encodeBlock({ num: 4, more: true, szx: 0 }) }], payload: Buffer.alloc(16) }, localPort);
    expect((await peer.next()).message.code).toBe(CoapCode.RequestEntityIncomplete);
    expect(seen).toHaveLength(2);
    // Garbage with a readable header is reset; the endpoint keeps serving.
    peer.socket.send(Buffer.from([0x40, 0x01, 0x00, 0x33, 0xf0]), localPort, '127.0.0.1');
    expect((await peer.next()).message).toMatchObject({ type: 'RST', messageId: 0x33 });
  });

  it('sends a large body by Block1 and follows the server to smaller blocks (RFC 7959 §2.5)', async () => {
    const peer = await scriptedPeer();
    const endpoint = await endpointTo(peer.port);
    const body = Buffer.from(Array.from({ length: 2000 }, (_, i) => i % 251));
    const pending = endpoint.request({ code: CoapCode.POST, path: ['dp'], payload: body });
    const received: Buffer[] = [];
    for (;;) {
      const { message, port } = await peer.next();
      const block = decodeBlock(firstOption(message, CoapOptionNumber.Block1)!)!;
      received.push(message.payload);
      // The first block came in 1024 bytes; ask for 256 from then on.
      const szx = 4;
      const reply = block.more ? CoapCode.Continue : CoapCode.Changed;
      peer.send({ type: 'ACK', code: reply, messageId: message.messageId, token: message.token, options: [{ number: CoapOptionNumber.Block1, value: encodeBlock({ num: block.num, more: block.more, szx }) }], payload: Buffer.alloc(0) }, port);
      if (received.length > 1) expect(block.szx).toBe(4);
      if (!block.more) break;
    }
    expect((await pending).code).toBe(CoapCode.Changed);
    expect(received[0]!.length).toBe(1024);
    expect(Buffer.concat(received).equals(body)).toBe(true);
  });

  it('answers a body larger than a block by Block2 in the size the client asked for', async () => {
    const peer = await scriptedPeer();
    const big = Buffer.alloc(2500, 9);
    const endpoint = await endpointTo(peer.port, { handler: { handle: () => ({ code: CoapCode.Content, payload: big }) } });
    const localPort = endpoint.transport.localPort!;
    const parts: Buffer[] = [];
    for (let num = 0; ; num += 1) {
      peer.send({ type: 'CON', code: CoapCode.GET, messageId: 100 + num, token: Buffer.from([num]), options: [{ number: CoapOptionNumber.UriPath, value: Buffer.from('big') }, ...(num === 0 ? [] : [{ number: CoapOptionNumber.Block2, value: encodeBlock({ num, more: false, szx: 6 }) }])], payload: Buffer.alloc(0) }, localPort);
      const answer = (await peer.next()).message;
      const block = decodeBlock(firstOption(answer, CoapOptionNumber.Block2)!)!;
      expect(block.num).toBe(num);
      parts.push(answer.payload);
      if (!block.more) break;
    }
    expect(Buffer.concat(parts).equals(big)).toBe(true);
  });

  it('parses coap:// and coaps:// URIs with their default ports', () => {
    expect(parseCoapUri('coap://127.0.0.1')).toMatchObject({ secure: false, host: '127.0.0.1', port: 5683 });
    expect(parseCoapUri('coaps://[::1]:6000/fw/pkg?x=1')).toMatchObject({ secure: true, host: '::1', port: 6000, path: ['fw', 'pkg'], query: ['x=1'] });
    expect(() => parseCoapUri('http://x')).toThrow(/coap/);
  });
});
