import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { AlertDescription, AlertLevel } from './alerts.js';
import { CipherSuite, encodeHandshakeHeader, ExtensionType, HandshakeType, parseHandshakeFragments, Reader, u16, vec16, vec8 } from './handshake-messages.js';
import { ContentType, encodeRecordHeader, DTLS12, parseRecords } from './record-layer.js';
import { TestDtlsClient } from './dtls-client-fixture.js';
import {
  eventually,
  makePki,
  opensslCertArgs,
  opensslPskArgs,
  PSK_IDENTITY,
  PSK_KEY,
  runClient,
  startHarness,
  UdpProxy,
  verifyBySubject,
  type Harness,
} from './dtls-fixture.js';

let harness: Harness | undefined;
const sockets: Socket[] = [];
const clients: TestDtlsClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of sockets.splice(0)) s.close();
  await harness?.close();
  harness = undefined;
});

async function rawSocket(): Promise<{ socket: Socket; inbox: Buffer[] }> {
  const socket = createSocket('udp4');
  const inbox: Buffer[] = [];
  socket.on('message', (m) => inbox.push(m));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  sockets.push(socket);
  return { socket, inbox };
}

function clientHelloDatagram(random: Buffer, cookie: Buffer, messageSeq = 0, recordSeq = 0): Buffer {
  const body = Buffer.concat([
    u16(0xfefd),
    random,
    vec8(Buffer.alloc(0)),
    vec8(cookie),
    vec16(u16(CipherSuite.pskAes128Ccm8)),
    vec8(Buffer.from([0])),
    vec16(Buffer.concat([u16(ExtensionType.extendedMasterSecret), vec16(Buffer.alloc(0))])),
  ]);
  const hs = Buffer.concat([encodeHandshakeHeader(HandshakeType.clientHello, body.length, messageSeq, 0, body.length), body]);
  return Buffer.concat([encodeRecordHeader(ContentType.handshake, DTLS12, 0, recordSeq, hs.length), hs]);
}

function cookieOf(hvr: Buffer): Buffer {
  const [record] = parseRecords(hvr, 0);
  const [fragment] = parseHandshakeFragments(record!.fragment);
  expect(fragment!.msgType).toBe(HandshakeType.helloVerifyRequest);
  return new Reader(fragment!.body.subarray(2)).vec8();
}

async function connect(port: number, extra: Partial<Parameters<typeof TestDtlsClient.connect>[0]> = {}): Promise<TestDtlsClient> {
  const client = await TestDtlsClient.connect({ port, identity: PSK_IDENTITY, key: PSK_KEY, ...extra });
  clients.push(client);
  return client;
}

describe('cookie exchange (RFC 6347 §4.2.1)', () => {
  it('answers hellos without a valid cookie with a HelloVerifyRequest no larger than the hello, and keeps no state', async () => {
    harness = await startHarness();
    const { socket, inbox } = await rawSocket();
    const sent: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const hello = clientHelloDatagram(randomBytes(32), i % 2 === 0 ? Buffer.alloc(0) : randomBytes(32));
      sent.push(hello);
      socket.send(hello, harness.port, '127.0.0.1');
    }
    await eventually(() => inbox.length === 200);
    for (const answer of inbox) expect(answer.length).toBeLessThanOrEqual(Math.min(...sent.map((s) => s.length)));
    expect(harness.server.stats()).toEqual({ sessions: 0, handshakes: 0 });
  });

  it('refuses a cookie made for another source port', async () => {
    harness = await startHarness();
    const a = await rawSocket();
    const b = await rawSocket();
    const random = randomBytes(32);
    a.socket.send(clientHelloDatagram(random, Buffer.alloc(0)), harness.port, '127.0.0.1');
    await eventually(() => a.inbox.length === 1);
    const cookie = cookieOf(a.inbox[0]!);
    b.socket.send(clientHelloDatagram(random, cookie, 1, 1), harness.port, '127.0.0.1');
    await eventually(() => b.inbox.length === 1);
    // b gets a fresh HelloVerifyRequest, not a ServerHello.
    cookieOf(b.inbox[0]!);
    expect(harness.server.stats().handshakes).toBe(0);
  });

  it('starts a handshake only once the cookie comes back, from the same address', async () => {
    harness = await startHarness();
    const a = await rawSocket();
    const random = randomBytes(32);
    a.socket.send(clientHelloDatagram(random, Buffer.alloc(0)), harness.port, '127.0.0.1');
    await eventually(() => a.inbox.length === 1);
    a.socket.send(clientHelloDatagram(random, cookieOf(a.inbox[0]!), 1, 1), harness.port, '127.0.0.1');
    await eventually(() => a.inbox.length === 2);
    const [fragment] = parseHandshakeFragments(parseRecords(a.inbox[1]!, 0)[0]!.fragment);
    expect(fragment!.msgType).toBe(HandshakeType.serverHello);
    expect(harness.server.stats().handshakes).toBe(1);
  });
});

describe('records after the handshake', () => {
  it('delivers a replayed application-data record once (anti-replay window)', async () => {
    harness = await startHarness();
    const client = await connect(harness.port);
    const first = client.send(Buffer.from('once'));
    client.sendRaw(first);
    client.sendRaw(first);
    client.send(Buffer.from('after'));
    await eventually(() => harness!.received.some((r) => r.data.toString() === 'after'));
    expect(harness.received.map((r) => r.data.toString())).toEqual(['once', 'after']);
  });

  it('delivers a burst of records in order', async () => {
    harness = await startHarness();
    const client = await connect(harness.port);
    const records = Array.from({ length: 100 }, (_, i) => client.writer.record(ContentType.applicationData, Buffer.from(`m${i}`)));
    // Several records per datagram, as RFC 6347 §4.1.1 allows.
    for (let i = 0; i < records.length; i += 4) client.sendRaw(Buffer.concat(records.slice(i, i + 4)));
    await eventually(() => harness!.received.length === 100);
    expect(harness.received.map((r) => r.data.toString())).toEqual(records.map((_, i) => `m${i}`));
  });

  it('drops a record with a bad MAC silently and keeps the session (RFC 6347 §4.1.2.7)', async () => {
    harness = await startHarness();
    const client = await connect(harness.port);
    const forged = Buffer.from(client.writer.record(ContentType.applicationData, Buffer.from('forged')));
    forged[forged.length - 1]! ^= 0xff;
    client.sendRaw(forged);
    client.send(Buffer.from('genuine'));
    await eventually(() => client.appData.some((d) => d.toString() === 'echo:genuine'));
    expect(harness.received.map((r) => r.data.toString())).toEqual(['genuine']);
    expect(client.alerts).toEqual([]);
    expect(harness.server.stats().sessions).toBe(1);
  });

  it('answers close_notify with close_notify and ends the session', async () => {
    harness = await startHarness();
    const client = await connect(harness.port);
    client.sendAlert(AlertLevel.warning, AlertDescription.closeNotify);
    await eventually(() => client.alerts.length === 1);
    expect(client.alerts[0]).toEqual({ level: AlertLevel.warning, description: AlertDescription.closeNotify });
    await eventually(() => harness!.server.stats().sessions === 0);
  });

  it('closeSessions sends close_notify to matching sessions only and returns how many', async () => {
    harness = await startHarness();
    const client = await connect(harness.port);
    expect(harness.server.closeSessions((p) => p === 'someone else')).toBe(0);
    expect(harness.server.closeSessions((p) => p === PSK_IDENTITY)).toBe(1);
    await eventually(() => client.alerts.length === 1);
    expect(client.alerts[0]!.description).toBe(AlertDescription.closeNotify);
    expect(harness.server.stats().sessions).toBe(0);
    // Nothing is delivered for the ended session any more.
    client.send(Buffer.from('late'));
    const other = await connect(harness.port);
    other.send(Buffer.from('fresh'));
    await eventually(() => harness!.received.some((r) => r.data.toString() === 'fresh'));
    expect(harness.received.map((r) => r.data.toString())).toEqual(['fresh']);
  });

  it('reports sessions as they start and end, and closeSession ends one by its key', async () => {
    const started: string[] = [];
    const ended: string[] = [];
    harness = await startHarness({ onSessionStart: (p) => started.push(p.key), onSessionEnd: (p) => ended.push(p.key) });
    await connect(harness.port);
    const second = await connect(harness.port);
    await eventually(() => started.length === 2);
    expect(started[0]).not.toBe(started[1]);
    expect(ended).toEqual([]);
    expect(harness.server.closeSession('dtls:00')).toBe(false);
    expect(harness.server.closeSession(started[1]!)).toBe(true);
    await eventually(() => second.alerts.length === 1);
    expect(second.alerts[0]!.description).toBe(AlertDescription.closeNotify);
    expect(ended).toEqual([started[1]]);
    expect(harness.server.stats().sessions).toBe(1);
  });

  it('close() sends close_notify to every session', async () => {
    harness = await startHarness();
    const client = await connect(harness.port);
    await harness.server.close();
    await eventually(() => client.alerts.length === 1);
    expect(client.alerts[0]!.description).toBe(AlertDescription.closeNotify);
    harness = undefined;
  });

  it('forgets a session idle for sessionIdleMs', async () => {
    harness = await startHarness({ limits: { sessionIdleMs: 200 } });
    await connect(harness.port);
    expect(harness.server.stats().sessions).toBe(1);
    await eventually(() => harness!.server.stats().sessions === 0);
  });
});

describe('handshake failures', () => {
  it('sends a fatal bad_record_mac when the client Finished does not authenticate, and drops the handshake', async () => {
    harness = await startHarness();
    await expect(connect(harness.port, { corruptFinished: true })).rejects.toThrow(`alert ${AlertDescription.badRecordMac}`);
    expect(harness.failures).toEqual([expect.objectContaining({ reason: 'bad_record_mac', pskIdentity: PSK_IDENTITY })]);
    expect(harness.server.stats()).toEqual({ sessions: 0, handshakes: 0 });
  });

  it('drops a handshake that stalls half-way after handshakeTimeoutMs', async () => {
    harness = await startHarness({ limits: { handshakeTimeoutMs: 300, retransmitInitialMs: 100 } });
    const a = await rawSocket();
    const random = randomBytes(32);
    a.socket.send(clientHelloDatagram(random, Buffer.alloc(0)), harness.port, '127.0.0.1');
    await eventually(() => a.inbox.length === 1);
    a.socket.send(clientHelloDatagram(random, cookieOf(a.inbox[0]!), 1, 1), harness.port, '127.0.0.1');
    await eventually(() => harness!.server.stats().handshakes === 1);
    await eventually(() => harness!.server.stats().handshakes === 0);
    expect(harness.failures).toEqual([expect.objectContaining({ reason: 'timeout' })]);
    // The server retransmitted its flight while waiting.
    expect(a.inbox.length).toBeGreaterThan(2);
  });
});

describe('handshake ended by the client', () => {
  it('drops the handshake on a fatal alert from the client', async () => {
    harness = await startHarness();
    const a = await rawSocket();
    const random = randomBytes(32);
    a.socket.send(clientHelloDatagram(random, Buffer.alloc(0)), harness.port, '127.0.0.1');
    await eventually(() => a.inbox.length === 1);
    a.socket.send(clientHelloDatagram(random, cookieOf(a.inbox[0]!), 1, 1), harness.port, '127.0.0.1');
    await eventually(() => harness!.server.stats().handshakes === 1);
    const alert = Buffer.from([AlertLevel.fatal, AlertDescription.handshakeFailure]);
    a.socket.send(Buffer.concat([encodeRecordHeader(ContentType.alert, DTLS12, 0, 2, alert.length), alert]), harness.port, '127.0.0.1');
    await eventually(() => harness!.server.stats().handshakes === 0);
    expect(harness.failures).toEqual([expect.objectContaining({ reason: 'alert' })]);
  });
});

describe('limits', () => {
  it('refuses a handshake beyond maxHandshakesPerAddress', async () => {
    harness = await startHarness({ limits: { maxHandshakesPerAddress: 1 } });
    const a = await rawSocket();
    const random = randomBytes(32);
    a.socket.send(clientHelloDatagram(random, Buffer.alloc(0)), harness.port, '127.0.0.1');
    await eventually(() => a.inbox.length === 1);
    a.socket.send(clientHelloDatagram(random, cookieOf(a.inbox[0]!), 1, 1), harness.port, '127.0.0.1');
    await eventually(() => harness!.server.stats().handshakes === 1);
    await expect(connect(harness.port, { timeoutMs: 1_000 })).rejects.toThrow(/timed out/);
    expect(harness.failures.every((f) => f.reason === 'limit' && f.detail === 'too many handshakes from this address')).toBe(true);
    expect(harness.server.stats().handshakes).toBe(1);
  });

  it('refuses a handshake beyond maxHandshakes', async () => {
    harness = await startHarness({ limits: { maxHandshakes: 1 } });
    const a = await rawSocket();
    const random = randomBytes(32);
    a.socket.send(clientHelloDatagram(random, Buffer.alloc(0)), harness.port, '127.0.0.1');
    await eventually(() => a.inbox.length === 1);
    a.socket.send(clientHelloDatagram(random, cookieOf(a.inbox[0]!), 1, 1), harness.port, '127.0.0.1');
    await eventually(() => harness!.server.stats().handshakes === 1);
    await expect(connect(harness.port, { timeoutMs: 1_000 })).rejects.toThrow(/timed out/);
    // The test client retransmits its hello: every attempt is refused.
    expect(harness.failures.length).toBeGreaterThan(0);
    expect(harness.failures.every((f) => f.reason === 'limit' && f.detail === 'too many handshakes in progress')).toBe(true);
  });

  it('refuses a session beyond maxSessionsPerAddress and accepts again once one ends', async () => {
    harness = await startHarness({ limits: { maxSessionsPerAddress: 1 } });
    const first = await connect(harness.port);
    await expect(connect(harness.port, { timeoutMs: 1_000 })).rejects.toThrow(/timed out/);
    expect(harness.failures.length).toBeGreaterThan(0);
    expect(harness.failures.every((f) => f.reason === 'limit' && f.detail === 'too many sessions from this address')).toBe(true);
    first.sendAlert(AlertLevel.warning, AlertDescription.closeNotify);
    await eventually(() => harness!.server.stats().sessions === 0);
    await connect(harness.port);
    expect(harness.server.stats().sessions).toBe(1);
  });
});

describe('Connection ID (RFC 9146)', () => {
  it('moves the session to the new address of a record carrying its CID; peer.key stays', async () => {
    harness = await startHarness();
    const client = await connect(harness.port, { cid: Buffer.alloc(0) });
    expect(client.serverCid?.length).toBe(8);
    client.send(Buffer.from('before'));
    await eventually(() => client.appData.length === 1);
    const oldPort = client.localPort;
    await client.rebind();
    client.send(Buffer.from('after'));
    // The answer reaches the new port: the server follows the session.
    await eventually(() => client.appData.length === 2);
    expect(client.appData.map((d) => d.toString())).toEqual(['echo:before', 'echo:after']);
    const [before, after] = harness.received;
    expect(after!.port).toBe(client.localPort);
    expect(before!.port).toBe(oldPort);
    expect(after!.key).toBe(before!.key);
  });

  it('uses a CID in both directions when the client asks for one, and ignores an unauthenticated CID record from elsewhere', async () => {
    harness = await startHarness();
    const client = await connect(harness.port, { cid: Buffer.from('c1d2') });
    client.send(Buffer.from('one'));
    await eventually(() => client.appData.length === 1);
    // A forged record with the server's CID from another socket must not move the session.
    const forged = Buffer.from(client.writer.record(ContentType.applicationData, Buffer.from('evil')));
    forged[forged.length - 1]! ^= 0xff;
    const attacker = await rawSocket();
    attacker.socket.send(forged, harness.port, '127.0.0.1');
    client.send(Buffer.from('two'));
    await eventually(() => client.appData.length === 2);
    expect(harness.received.map((r) => [r.data.toString(), r.port])).toEqual([
      ['one', client.localPort],
      ['two', client.localPort],
    ]);
  });

  it('moves the session when a UDP proxy rebinds its source port', async () => {
    harness = await startHarness();
    const proxy = new UdpProxy(harness.port);
    const port = await proxy.start();
    try {
      const client = await connect(port, { cid: Buffer.alloc(0) });
      client.send(Buffer.from('a'));
      await eventually(() => client.appData.length === 1);
      await proxy.rebind();
      client.send(Buffer.from('b'));
      await eventually(() => client.appData.length === 2);
      expect(harness.received[1]!.port).toBe(proxy.innerPort);
      expect(harness.received[1]!.key).toBe(harness.received[0]!.key);
    } finally {
      proxy.close();
    }
  });
});

describe('bad input', () => {
  function mutate(datagram: Buffer): Buffer[] {
    const out: Buffer[] = [];
    for (let i = 0; i < 4; i++) {
      const copy = Buffer.from(datagram);
      const flips = 1 + Math.floor(Math.random() * 3);
      for (let f = 0; f < flips; f++) copy[Math.floor(Math.random() * copy.length)] = Math.floor(Math.random() * 256);
      out.push(copy);
    }
    out.push(datagram.subarray(0, Math.floor(Math.random() * datagram.length)));
    out.push(randomBytes(1 + Math.floor(Math.random() * 200)));
    return out;
  }

  it('survives mutated records at every handshake step of its own test client and still serves a good client', async () => {
    harness = await startHarness({ limits: { handshakeTimeoutMs: 2_000, retransmitInitialMs: 100 } });
    for (let round = 0; round < 12; round++) {
      try {
        const client = await connect(harness.port, { timeoutMs: 1_000, beforeSend: mutate, cid: round % 2 === 0 ? Buffer.alloc(0) : Buffer.from('ab') });
        for (let i = 0; i < 3; i++) client.send(Buffer.from(`round ${round} ${i}`));
        client.close();
      } catch {
        // A mutation may end the handshake: that is the server's right; crashing is not.
      }
    }
    const good = await connect(harness.port);
    good.send(Buffer.from('still here'));
    await eventually(() => good.appData.some((d) => d.toString() === 'echo:still here'));
    expect(harness.errors).toEqual([]);
  }, 60_000);

  it('survives mutated copies of a real openssl exchange and still serves openssl', async () => {
    harness = await startHarness({ limits: { handshakeTimeoutMs: 2_000, retransmitInitialMs: 100 } });
    const proxy = new UdpProxy(harness.port);
    const port = await proxy.start();
    try {
      for (let round = 0; round < 12; round++) {
        proxy.beforeToServer = (d) => mutate(d);
        await runClient('openssl', opensslPskArgs(port), { input: 'hello\n', until: /echo:hello|alert|error/i, timeoutMs: 4_000 });
      }
      proxy.beforeToServer = () => [];
      const result = await runClient('openssl', opensslPskArgs(port), { input: 'hello\n', until: /echo:hello/ });
      expect(result.output).toContain('echo:hello');
      expect(harness.errors).toEqual([]);
    } finally {
      proxy.close();
    }
  }, 90_000);

  it('survives mutated copies of a real ECDHE_ECDSA exchange with a client certificate and still serves it', async () => {
    const pki = makePki();
    harness = await startHarness({
      limits: { handshakeTimeoutMs: 2_000, retransmitInitialMs: 100, maxDatagramBytes: 400 },
      certificate: { chainPem: pki.serverChainPem, keyPem: pki.serverKeyPem, verifyClient: verifyBySubject(pki) },
    });
    const proxy = new UdpProxy(harness.port);
    const port = await proxy.start();
    try {
      for (let round = 0; round < 8; round++) {
        proxy.beforeToServer = (d) => mutate(d);
        await runClient('openssl', opensslCertArgs(port, pki.bigClientCert, pki.bigClientKey, ['-cert_chain', pki.bigClientIntermediate, '-mtu', '400']), {
          input: 'hello\n',
          until: /echo:hello|alert|error/i,
          timeoutMs: 4_000,
        });
      }
      proxy.beforeToServer = () => [];
      const result = await runClient('openssl', opensslCertArgs(port, pki.clientCert, pki.clientKey), { input: 'hello\n', until: /echo:hello/ });
      expect(result.output).toContain('echo:hello');
      expect(harness.errors).toEqual([]);
    } finally {
      proxy.close();
      pki.cleanup();
    }
  }, 90_000);

  it('ignores random datagrams from anywhere', async () => {
    harness = await startHarness();
    const { socket } = await rawSocket();
    for (let i = 0; i < 300; i++) {
      const junk = randomBytes(1 + Math.floor(Math.random() * 300));
      if (i % 3 === 0) junk[0] = ContentType.handshake;
      if (i % 5 === 0) junk[0] = ContentType.tls12Cid;
      if (i % 2 === 0 && junk.length > 3) junk.writeUInt16BE(DTLS12, 1);
      socket.send(junk, harness.port, '127.0.0.1');
    }
    const good = await connect(harness.port);
    good.send(Buffer.from('ok'));
    await eventually(() => good.appData.length === 1);
    expect(harness.errors).toEqual([]);
    expect(harness.server.stats()).toEqual({ sessions: 1, handshakes: 0 });
  });
});

describe('maxPayload', () => {
  it('is the datagram budget minus the record overhead of the session', async () => {
    harness = await startHarness({ limits: { maxDatagramBytes: 500 } });
    const plain = await connect(harness.port);
    const withCid = await connect(harness.port, { cid: Buffer.from('abcd') });
    plain.send(Buffer.from('p'));
    withCid.send(Buffer.from('c'));
    await eventually(() => harness!.received.length === 2);
    const peerOf = (text: string) => {
      const r = harness!.received.find((x) => x.data.toString() === text)!;
      return { address: r.address, port: r.port, key: r.key };
    };
    expect(harness.server.maxPayload(peerOf('p'))).toBe(500 - 13 - 16);
    // RFC 9146: the CID in the header plus the inner content type.
    expect(harness.server.maxPayload(peerOf('c'))).toBe(500 - 13 - 16 - 4 - 1);
    // A full-size payload goes out as one datagram the client can open.
    harness.server.send(Buffer.alloc(harness.server.maxPayload(peerOf('c')), 1), peerOf('c'));
    await eventually(() => withCid.appData.some((d) => d.length === 500 - 34));
  });
});
