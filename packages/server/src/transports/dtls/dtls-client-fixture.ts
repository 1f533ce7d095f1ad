/**
 * A minimal DTLS 1.2 PSK client for tests, built from this folder's codecs: it offers what no
 * third-party client here does (RFC 9146 Connection ID; OpenSSL 3.0 has none) and lets tests send
 * raw, replayed or forged records. Not for production: no reassembly, a crude retransmission.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { Ccm8 } from './cipher-ccm8.js';
import {
  CipherSuite,
  encodeHandshakeHeader,
  ExtensionType,
  HandshakeType,
  parseHandshakeFragments,
  Reader,
  u16,
  vec16,
  vec8,
  wholeMessage,
} from './handshake-messages.js';
import { finishedVerifyData, keyBlock, masterSecret, pskPremaster, sha256 } from './prf.js';
import { ContentType, parseRecords, RecordReader, RecordWriter } from './record-layer.js';

export interface TestClientOptions {
  port: number;
  identity: string;
  key: Buffer;
  /** Offer RFC 9146 with this CID for records the server sends us (empty: "I send CIDs, you don't"). */
  cid?: Buffer;
  extendedMasterSecret?: boolean;
  timeoutMs?: number;
  /** Extra datagrams sent before each genuine one (fuzzing the server at every step). */
  beforeSend?: (datagram: Buffer) => Buffer[];
  /** Flips a byte of the Finished record's ciphertext (a bad MAC during the handshake). */
  corruptFinished?: boolean;
}

export class TestDtlsClient {
  socket: Socket;
  readonly writer = new RecordWriter();
  private reader: RecordReader | undefined;
  private readonly inbox: Buffer[] = [];
  private waiters: Array<() => void> = [];
  readonly appData: Buffer[] = [];
  readonly alerts: Array<{ level: number; description: number }> = [];
  serverCid: Buffer | undefined;
  sessionId: Buffer = Buffer.alloc(0);

  private constructor(
    private readonly opts: TestClientOptions,
    socket: Socket,
  ) {
    this.socket = socket;
    this.listen(socket);
  }

  private listen(socket: Socket): void {
    socket.on('message', (msg) => {
      this.inbox.push(msg);
      if (this.reader) this.drainEstablished();
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async connect(opts: TestClientOptions): Promise<TestDtlsClient> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const client = new TestDtlsClient(opts, socket);
    await client.handshake();
    return client;
  }

  /** Moves the client to a new local port (a NAT rebinding), keeping its session. */
  async rebind(): Promise<void> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    this.socket.close();
    this.socket = socket;
    this.listen(socket);
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  sendRaw(datagram: Buffer): void {
    for (const extra of this.opts.beforeSend?.(datagram) ?? []) this.socket.send(extra, this.opts.port, '127.0.0.1');
    this.socket.send(datagram, this.opts.port, '127.0.0.1');
  }

  /** Sends application data; returns the datagram (a test may replay it). */
  send(data: Buffer): Buffer {
    const record = this.writer.record(ContentType.applicationData, data);
    this.sendRaw(record);
    return record;
  }

  sendAlert(level: number, description: number): void {
    this.sendRaw(this.writer.record(ContentType.alert, Buffer.from([level, description])));
  }

  async waitFor<T>(check: () => T | undefined, timeoutMs = this.opts.timeoutMs ?? 5_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error('timed out waiting for the server');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.close();
  }

  private drainEstablished(): void {
    for (const msg of this.inbox.splice(0)) {
      for (const record of parseRecords(msg, this.opts.cid?.length ?? 0)) {
        const opened = this.reader!.open(record);
        if (!opened) continue;
        if (opened.type === ContentType.applicationData) this.appData.push(opened.payload);
        if (opened.type === ContentType.alert) this.alerts.push({ level: opened.payload[0]!, description: opened.payload[1]! });
      }
    }
  }

  /** The next datagram's records; resends `lastFlight` every 400 ms until one comes (lost datagrams). */
  private async nextRecords(): Promise<ReturnType<typeof parseRecords>> {
    const deadline = this.handshakeDeadline;
    for (;;) {
      try {
        const msg = await this.waitFor(() => this.inbox.shift(), Math.min(400, deadline - Date.now()));
        return parseRecords(msg, this.opts.cid?.length ?? 0);
      } catch (err) {
        if (Date.now() >= deadline) throw err;
        if (this.lastFlight) this.socket.send(this.lastFlight, this.opts.port, '127.0.0.1');
      }
    }
  }

  private lastFlight: Buffer | undefined;
  private handshakeDeadline = 0;

  private sendFlight(datagram: Buffer): void {
    this.lastFlight = datagram;
    this.sendRaw(datagram);
  }

  private clientHello(random: Buffer, cookie: Buffer): Buffer {
    const extensions: Buffer[] = [];
    const ext = (type: number, data: Buffer): Buffer => Buffer.concat([u16(type), vec16(data)]);
    if (this.opts.extendedMasterSecret !== false) extensions.push(ext(ExtensionType.extendedMasterSecret, Buffer.alloc(0)));
    if (this.opts.cid) extensions.push(ext(ExtensionType.connectionId, vec8(this.opts.cid)));
    return Buffer.concat([
      u16(0xfefd),
      random,
      vec8(this.sessionId),
      vec8(cookie),
      vec16(Buffer.concat([u16(CipherSuite.pskAes128Ccm8), u16(CipherSuite.emptyRenegotiationInfoScsv)])),
      vec8(Buffer.from([0])),
      vec16(Buffer.concat(extensions)),
    ]);
  }

  private handshakeRecord(msgType: number, seq: number, body: Buffer, epoch = 0): Buffer {
    return this.writer.record(ContentType.handshake, Buffer.concat([encodeHandshakeHeader(msgType, body.length, seq, 0, body.length), body]), epoch);
  }

  private async handshake(): Promise<void> {
    this.handshakeDeadline = Date.now() + (this.opts.timeoutMs ?? 5_000);
    const random = randomBytes(32);
    this.sendFlight(this.handshakeRecord(HandshakeType.clientHello, 0, this.clientHello(random, Buffer.alloc(0))));
    let cookie: Buffer | undefined;
    while (!cookie) {
      for (const record of await this.nextRecords()) {
        if (record.type === ContentType.alert) throw new Error(`alert ${record.fragment[1]}`);
        const [fragment] = parseHandshakeFragments(record.fragment);
        if (fragment?.msgType === HandshakeType.helloVerifyRequest) cookie = new Reader(fragment.body.subarray(2)).vec8();
      }
    }
    const hello2 = this.clientHello(random, cookie);
    const transcript = [wholeMessage(HandshakeType.clientHello, 1, hello2)];
    this.sendFlight(this.handshakeRecord(HandshakeType.clientHello, 1, hello2));
    let serverRandom: Buffer | undefined;
    let ems = false;
    let done = false;
    while (!done) {
      for (const record of await this.nextRecords()) {
        if (record.type === ContentType.alert) throw new Error(`alert ${record.fragment[1]}`);
        for (const f of parseHandshakeFragments(record.fragment)) {
          transcript.push(wholeMessage(f.msgType, f.messageSeq, f.body));
          if (f.msgType === HandshakeType.serverHello) {
            const r = new Reader(f.body);
            r.u16();
            serverRandom = r.bytes(32);
            this.sessionId = r.vec8();
            r.u16();
            r.u8();
            const er = new Reader(r.remaining > 0 ? r.vec16() : Buffer.alloc(0));
            while (er.remaining > 0) {
              const type = er.u16();
              const data = er.vec16();
              if (type === ExtensionType.extendedMasterSecret) ems = true;
              if (type === ExtensionType.connectionId) this.serverCid = new Reader(data).vec8();
            }
          }
          if (f.msgType === HandshakeType.serverHelloDone) done = true;
        }
      }
    }
    const identity = Buffer.from(this.opts.identity, 'utf8');
    const cke = vec16(identity);
    transcript.push(wholeMessage(HandshakeType.clientKeyExchange, 2, cke));
    const premaster = pskPremaster(this.opts.key);
    const master = masterSecret(premaster, ems ? { extended: true, sessionHash: sha256(...transcript) } : { extended: false, clientRandom: random, serverRandom: serverRandom! });
    const keys = keyBlock(master, random, serverRandom!);
    const ckeRecord = this.handshakeRecord(HandshakeType.clientKeyExchange, 2, cke);
    const ccs = this.writer.record(ContentType.changeCipherSpec, Buffer.from([1]));
    this.writer.peerCid = this.serverCid;
    this.writer.activate({ epoch: 1, cipher: new Ccm8(keys.clientKey, keys.clientIv) });
    const verify = finishedVerifyData(master, 'client', sha256(...transcript));
    transcript.push(wholeMessage(HandshakeType.finished, 3, verify));
    const finished = this.handshakeRecord(HandshakeType.finished, 3, verify, 1);
    if (this.opts.corruptFinished) finished[finished.length - 1]! ^= 0x01;
    this.sendFlight(Buffer.concat([ckeRecord, ccs, finished]));
    const reader = new RecordReader(1, new Ccm8(keys.serverKey, keys.serverIv), this.opts.cid && this.opts.cid.length > 0 ? this.opts.cid : undefined);
    const expected = finishedVerifyData(master, 'server', sha256(...transcript));
    for (;;) {
      for (const record of await this.nextRecords()) {
        if (record.epoch === 0 && record.type === ContentType.alert) throw new Error(`alert ${record.fragment[1]}`);
        if (record.epoch !== 1) continue;
        const opened = reader.open(record);
        if (!opened) throw new Error('server record did not authenticate');
        if (opened.type === ContentType.alert) throw new Error(`alert ${opened.payload[1]}`);
        if (opened.type !== ContentType.handshake) continue;
        const [f] = parseHandshakeFragments(opened.payload);
        if (f?.msgType !== HandshakeType.finished || !f.body.equals(expected)) throw new Error('server Finished does not verify');
        this.reader = reader;
        return;
      }
    }
  }
}
