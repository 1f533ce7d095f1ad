import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { DatagramChannel, DatagramHandler, DatagramPeer } from '../datagram-channel.js';
import { AlertDescription, AlertLevel } from './alerts.js';
import { CCM8_OVERHEAD } from './cipher-ccm8.js';
import { CookieJar } from './cookie.js';
import type { DtlsLimits, DtlsServerOptions, HandshakeFailure } from './dtls-options.js';
import { FlightSender } from './flight-sender.js';
import {
  clientHelloCookieInput,
  encodeHandshakeHeader,
  encodeHelloVerifyRequest,
  HandshakeType,
  parseClientHello,
  parseHandshakeFragments,
  type ClientHello,
} from './handshake-messages.js';
import { ContentType, encodeRecordHeader, parseRecords, RECORD_HEADER, RecordWriter, DTLS12, type DtlsRecord, type RecordReader } from './record-layer.js';
import { HandshakeAbort, ServerHandshake, type ServerCredentials } from './server-handshake.js';
import { SessionCache } from './session-cache.js';

export const DEFAULT_DTLS_LIMITS: DtlsLimits = {
  maxSessions: 100_000,
  maxSessionsPerAddress: 10_000,
  maxHandshakes: 1_000,
  maxHandshakesPerAddress: 625,
  handshakeTimeoutMs: 30_000,
  sessionIdleMs: 30 * 60_000,
  retransmitInitialMs: 1_000,
  retransmitMaxMs: 60_000,
  maxDatagramBytes: 1_280,
  maxHandshakeMessageBytes: 16_384,
  connectionIdLength: 8,
  resumptionCacheSize: 10_000,
  resumptionTtlMs: 24 * 3_600_000,
  cookieSecretRotationMs: 5 * 60_000,
};

/** A client's repeated final flight is answered this many times at most (RFC 6347 §4.2.4). */
const MAX_FINAL_FLIGHT_RESENDS = 8;
/** Records queued behind a slow callback (PSK lookup, verifyClient) per connection before more are dropped. */
const MAX_QUEUED_RECORDS = 64;

interface Connection<P> {
  address: string;
  port: number;
  source: string;
  writer: RecordWriter;
  flight: FlightSender;
  handshake?: ServerHandshake<P> | undefined;
  helloRandom?: Buffer;
  handshakeTimer?: NodeJS.Timeout | undefined;
  reader?: RecordReader;
  peer?: DatagramPeer<P>;
  sessionId?: Buffer;
  ownCid?: Buffer | undefined;
  lastActivity: number;
  queue: Promise<void>;
  queued: number;
  finalResends: number;
  counted?: { kind: 'handshake' | 'session'; address: string };
  closed: boolean;
}

function sourceOf(address: string, port: number): string {
  return isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * DTLS 1.2 server (RFC 6347, profile of RFC 7925) as a `DatagramChannel`: stateless cookies, the
 * handshakes of `server-handshake.ts`, sessions demultiplexed by address or Connection ID
 * (RFC 9146), and the limits of `DtlsLimits`. See docs/dtls.md.
 */
export class DtlsServer<P> implements DatagramChannel<P> {
  private socket: Socket | undefined;
  private handler: DatagramHandler<P> | undefined;
  private readonly limits: DtlsLimits;
  private readonly now: () => number;
  private readonly cookies: CookieJar;
  private readonly cache: SessionCache<P>;
  private credentials: ServerCredentials | undefined;
  private readonly byAddress = new Map<string, Connection<P>>();
  private readonly byCid = new Map<string, Connection<P>>();
  private readonly byKey = new Map<string, Connection<P>>();
  private readonly counts = { handshake: new Map<string, number>(), session: new Map<string, number>() };
  private totals = { handshake: 0, session: 0 };
  private sweeper: NodeJS.Timeout | undefined;
  private boundPort: number | undefined;

  constructor(private readonly options: DtlsServerOptions<P>) {
    this.limits = { ...DEFAULT_DTLS_LIMITS, ...options.limits };
    this.now = options.now ?? Date.now;
    this.cookies = new CookieJar(this.limits.cookieSecretRotationMs, this.now);
    this.cache = new SessionCache(this.limits.resumptionCacheSize, this.limits.resumptionTtlMs, this.now);
    if (options.certificate) this.setCertificate(options.certificate.chainPem, options.certificate.keyPem);
  }

  get port(): number | undefined {
    return this.boundPort;
  }

  onDatagram(handler: DatagramHandler<P>): void {
    this.handler = handler;
  }

  listen(port: number, host = '0.0.0.0'): Promise<number> {
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    this.socket = socket;
    socket.on('message', (msg, rinfo) => {
      try {
        this.onMessage(msg, rinfo);
      } catch (err) {
        this.options.logger.error({ err, source: sourceOf(rinfo.address, rinfo.port) }, 'dtls: datagram handling failed');
      }
    });
    socket.on('error', (err) => this.options.logger.warn({ err }, 'dtls: socket error'));
    const sweepEvery = Math.max(50, Math.min(this.limits.sessionIdleMs / 2, 5_000));
    this.sweeper = setInterval(() => this.sweepIdle(), sweepEvery);
    this.sweeper.unref();
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        this.boundPort = socket.address().port;
        resolve(this.boundPort);
      });
    });
  }

  setCertificate(chainPem: string, keyPem: string): void {
    const blocks = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) throw new Error('DTLS certificate chain has no certificate');
    const chain = blocks.map((pem) => new X509Certificate(pem).raw);
    const key = createPrivateKey(keyPem);
    // RFC 7925 §4.4.2: the server's key is ECDSA on secp256r1.
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new Error('DTLS server key must be ECDSA P-256');
    }
    if (!new X509Certificate(blocks[0]!).checkPrivateKey(key)) throw new Error('DTLS server key does not match the leaf certificate');
    this.credentials = { chain, key };
  }

  stats(): { sessions: number; handshakes: number } {
    return { sessions: this.totals.session, handshakes: this.totals.handshake };
  }

  send(datagram: Buffer, peer: DatagramPeer<P>): void {
    const conn = this.byKey.get(peer.key);
    if (!conn || !conn.reader || conn.closed) return;
    this.transmit(conn, [conn.writer.record(ContentType.applicationData, datagram)]);
  }

  maxPayload(peer: DatagramPeer<P>): number {
    const conn = this.byKey.get(peer.key);
    return this.limits.maxDatagramBytes - (conn ? conn.writer.overhead() : RECORD_HEADER + CCM8_OVERHEAD);
  }

  /** Ends one session (close_notify) and forgets its resumption entry; false when it is not live. */
  closeSession(key: string): boolean {
    const conn = this.byKey.get(key);
    if (!conn || conn.closed) return false;
    this.sendAlert(conn, AlertLevel.warning, AlertDescription.closeNotify);
    this.forgetResumption(conn);
    this.remove(conn);
    return true;
  }

  closeSessions(match: (principal: P) => boolean): number {
    let n = 0;
    for (const conn of new Set(this.byKey.values())) {
      if (conn.peer?.secure && match(conn.peer.secure.principal)) {
        this.sendAlert(conn, AlertLevel.warning, AlertDescription.closeNotify);
        this.forgetResumption(conn);
        this.remove(conn);
        n++;
      }
    }
    this.cache.forgetMatching(match);
    return n;
  }

  async close(): Promise<void> {
    const socket = this.socket;
    const sent: Array<Promise<void>> = [];
    for (const conn of new Set(this.byAddress.values())) {
      if (socket && conn.reader && !conn.handshake) {
        const alert = conn.writer.record(ContentType.alert, Buffer.from([AlertLevel.warning, AlertDescription.closeNotify]));
        sent.push(new Promise((resolve) => socket.send(alert, conn.port, conn.address, () => resolve())));
      }
      this.remove(conn);
    }
    // The close_notify alerts leave before the socket closes.
    await Promise.all(sent);
    if (this.sweeper) clearInterval(this.sweeper);
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  // ---- datagrams in

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const records = parseRecords(msg, this.limits.connectionIdLength);
    const source = sourceOf(rinfo.address, rinfo.port);
    for (const record of records) {
      if (record.type === ContentType.tls12Cid) {
        const conn = record.cid ? this.byCid.get(record.cid.toString('hex')) : undefined;
        if (conn) this.enqueue(conn, record, rinfo);
        continue;
      }
      const conn = this.byAddress.get(source);
      if (record.epoch === 0 && record.type === ContentType.handshake && record.fragment[0] === HandshakeType.clientHello) {
        const hello = this.readClientHello(record);
        if (!hello) continue;
        if (conn?.helloRandom?.equals(hello.hello.random)) {
          // A repeated hello: the handshake resends its flight; a session ignores it (a replay must not end it).
          if (conn.handshake) this.enqueue(conn, record, rinfo);
        } else {
          this.onClientHello(hello, record, rinfo, msg.length);
        }
        continue;
      }
      if (conn) this.enqueue(conn, record, rinfo);
    }
  }

  private readClientHello(record: DtlsRecord): { hello: ClientHello; body: Buffer; messageSeq: number } | undefined {
    try {
      const fragments = parseHandshakeFragments(record.fragment);
      const first = fragments[0];
      // A ClientHello is taken whole in one record: the cookie exchange keeps no state to reassemble it.
      if (fragments.length !== 1 || !first || first.fragmentOffset !== 0 || first.body.length !== first.length) return undefined;
      return { hello: parseClientHello(first.body), body: first.body, messageSeq: first.messageSeq };
    } catch {
      return undefined;
    }
  }

  /** RFC 6347 §4.2.1: no state and no crypto until the client returns a cookie bound to its address. */
  private onClientHello(input: { hello: ClientHello; body: Buffer; messageSeq: number }, record: DtlsRecord, rinfo: RemoteInfo, datagramBytes: number): void {
    const source = sourceOf(rinfo.address, rinfo.port);
    const fields = clientHelloCookieInput(input.hello);
    if (input.hello.cookie.length === 0 || !this.cookies.verify(source, fields, input.hello.cookie)) {
      const body = encodeHelloVerifyRequest(this.cookies.make(source, fields));
      const handshake = Buffer.concat([encodeHandshakeHeader(HandshakeType.helloVerifyRequest, body.length, input.messageSeq, 0, body.length), body]);
      const datagram = Buffer.concat([encodeRecordHeader(ContentType.handshake, DTLS12, 0, record.seq, handshake.length), handshake]);
      // No amplification: the answer is never larger than what provoked it.
      if (datagram.length <= datagramBytes) this.socket?.send(datagram, rinfo.port, rinfo.address);
      return;
    }
    const existing = this.byAddress.get(source);
    const refusal = this.refuseNewHandshake(rinfo.address, existing);
    if (refusal) {
      this.reportFailure({ source: rinfo.address, reason: 'limit', detail: refusal });
      return;
    }
    // A valid cookie proves the client owns this address: a new hello replaces what the address had
    // (a rebooted device starts over, RFC 6347 §4.2.8).
    if (existing) this.remove(existing);

    const writer = new RecordWriter(record.seq);
    const conn: Connection<P> = {
      address: rinfo.address,
      port: rinfo.port,
      source,
      writer,
      flight: undefined as unknown as FlightSender,
      helloRandom: Buffer.from(input.hello.random),
      lastActivity: this.now(),
      queue: Promise.resolve(),
      queued: 0,
      finalResends: 0,
      closed: false,
    };
    conn.flight = new FlightSender(writer, (datagrams) => this.transmit(conn, datagrams), {
      initialMs: this.limits.retransmitInitialMs,
      maxMs: this.limits.retransmitMaxMs,
      maxDatagramBytes: this.limits.maxDatagramBytes,
    });
    const ownCid = this.limits.connectionIdLength > 0 ? this.newCid() : undefined;
    conn.ownCid = ownCid;
    conn.handshake = new ServerHandshake<P>(
      {
        options: this.options,
        credentials: this.credentials,
        cache: this.cache,
        source: rinfo.address,
        writer,
        flight: conn.flight,
        maxHandshakeMessageBytes: this.limits.maxHandshakeMessageBytes,
        ownCid,
      },
      input.hello,
      input.messageSeq,
      Buffer.from(input.body),
    );
    this.byAddress.set(source, conn);
    this.count(conn, 'handshake');
    conn.handshakeTimer = setTimeout(() => {
      if (conn.handshake && !conn.closed) this.failHandshake(conn, new HandshakeAbort('timeout', undefined, 'handshake not finished in time'));
    }, this.limits.handshakeTimeoutMs);
    conn.handshakeTimer.unref();
    try {
      conn.handshake.start();
      // RFC 9146 §6: the client's Finished already carries the CID.
      if (conn.handshake.cidNegotiated && ownCid) this.byCid.set(ownCid.toString('hex'), conn);
    } catch (err) {
      this.failHandshake(conn, err);
    }
  }

  private refuseNewHandshake(address: string, replacing: Connection<P> | undefined): string | undefined {
    const minus = (kind: 'handshake' | 'session'): number => (replacing?.counted?.kind === kind && replacing.counted.address === address ? 1 : 0);
    if (this.totals.handshake - minus('handshake') >= this.limits.maxHandshakes) return 'too many handshakes in progress';
    if ((this.counts.handshake.get(address) ?? 0) - minus('handshake') >= this.limits.maxHandshakesPerAddress) return 'too many handshakes from this address';
    if (this.totals.session - minus('session') >= this.limits.maxSessions) return 'too many sessions';
    if ((this.counts.session.get(address) ?? 0) - minus('session') >= this.limits.maxSessionsPerAddress) return 'too many sessions from this address';
    return undefined;
  }

  private newCid(): Buffer {
    for (;;) {
      const cid = randomBytes(this.limits.connectionIdLength);
      if (!this.byCid.has(cid.toString('hex'))) return cid;
    }
  }

  private enqueue(conn: Connection<P>, record: DtlsRecord, rinfo: RemoteInfo): void {
    if (!conn.handshake && conn.queued === 0) {
      // An established session's records need no callback: handled at once, in arrival order, unbounded.
      try {
        this.onSessionRecord(conn, record, rinfo);
      } catch (err) {
        this.options.logger.error({ err, source: conn.source }, 'dtls: record handling failed');
      }
      return;
    }
    if (conn.queued >= MAX_QUEUED_RECORDS) return;
    conn.queued++;
    conn.queue = conn.queue
      .then(() => (conn.closed ? undefined : this.onRecord(conn, record, rinfo)))
      .catch((err: unknown) => {
        if (conn.handshake) this.failHandshake(conn, err);
        else this.options.logger.error({ err, source: conn.source }, 'dtls: record handling failed');
      })
      .finally(() => {
        conn.queued--;
      });
  }

  private async onRecord(conn: Connection<P>, record: DtlsRecord, rinfo: RemoteInfo): Promise<void> {
    const handshake = conn.handshake;
    if (handshake) {
      if (record.epoch === 0) {
        if (record.type === ContentType.alert) return this.onHandshakeAlert(conn, record.fragment);
        await handshake.onRecord({ type: record.type, epoch: 0, seq: record.seq, payload: record.fragment });
      } else {
        const reader = handshake.readState;
        if (!reader) return;
        const opened = reader.open(record);
        if (!opened) {
          if (record.epoch !== reader.epoch || reader.window.check(record.seq) === false) return;
          // RFC 6347 §4.1.2.7 lets a failed record end the association; during the handshake it does.
          throw new HandshakeAbort('bad_record_mac', AlertDescription.badRecordMac, 'a record of the handshake did not authenticate', handshake.pskIdentity);
        }
        if (opened.type === ContentType.alert) return this.onHandshakeAlert(conn, opened.payload);
        await handshake.onRecord(opened);
      }
      if (handshake.established && !conn.closed) this.promote(conn, handshake);
      return;
    }
    this.onSessionRecord(conn, record, rinfo);
  }

  private onSessionRecord(conn: Connection<P>, record: DtlsRecord, rinfo: RemoteInfo): void {
    const reader = conn.reader;
    if (!reader) return;
    if (record.epoch === 0) {
      // The client repeating its final flight (it missed our Finished): answer with ours again.
      if (record.type === ContentType.handshake) this.resendFinalFlight(conn);
      return;
    }
    const newest = record.seq > reader.window.latest;
    const opened = reader.open(record);
    if (!opened) return; // RFC 6347 §4.1.2.7: invalid records after the handshake are dropped silently.
    conn.lastActivity = this.now();
    if (record.type === ContentType.tls12Cid && newest && (rinfo.address !== conn.address || rinfo.port !== conn.port)) {
      this.migrate(conn, rinfo);
    }
    switch (opened.type) {
      case ContentType.applicationData:
        if (conn.peer && this.handler && opened.payload.length > 0) {
          try {
            this.handler(opened.payload, conn.peer);
          } catch (err) {
            this.options.logger.error({ err, source: conn.source }, 'dtls: datagram handler threw');
          }
        }
        return;
      case ContentType.alert:
        return this.onSessionAlert(conn, opened.payload);
      case ContentType.handshake:
        // A retransmitted client Finished; renegotiation (a HelloRequest/ClientHello in epoch 1) is not supported.
        if (opened.payload[0] === HandshakeType.finished) this.resendFinalFlight(conn);
        else this.sendAlert(conn, AlertLevel.warning, 100 /* no_renegotiation */);
        return;
      default:
        return;
    }
  }

  private resendFinalFlight(conn: Connection<P>): void {
    if (conn.finalResends >= MAX_FINAL_FLIGHT_RESENDS) return;
    conn.finalResends++;
    conn.flight.resend();
  }

  private onHandshakeAlert(conn: Connection<P>, payload: Buffer): void {
    const description = payload[1] ?? -1;
    this.failHandshake(conn, new HandshakeAbort('alert', undefined, `client sent alert ${description}`));
  }

  private onSessionAlert(conn: Connection<P>, payload: Buffer): void {
    if (payload.length !== 2) return;
    const [level, description] = [payload[0]!, payload[1]!];
    if (description === AlertDescription.closeNotify) {
      // RFC 5246 §7.2.1: answer close_notify with close_notify.
      this.sendAlert(conn, AlertLevel.warning, AlertDescription.closeNotify);
      this.remove(conn);
      return;
    }
    if (level === AlertLevel.fatal) {
      // RFC 5246 §7.2.2: a fatal alert invalidates the session for resumption too.
      this.forgetResumption(conn);
      this.remove(conn);
    }
  }

  // ---- state changes

  private promote(conn: Connection<P>, handshake: ServerHandshake<P>): void {
    const result = handshake.result!;
    if (conn.handshakeTimer) clearTimeout(conn.handshakeTimer);
    conn.handshake = undefined;
    conn.reader = result.reader;
    conn.sessionId = result.sessionId;
    const key = `dtls:${result.sessionId.toString('hex')}`;
    // A resumed session takes over the key of the connection it resumes (same device, new association).
    const previous = this.byKey.get(key);
    if (previous && previous !== conn) this.remove(previous);
    conn.peer = { address: conn.address, port: conn.port, key, secure: result.secure };
    this.byKey.set(key, conn);
    if (handshake.cidNegotiated && conn.ownCid) this.byCid.set(conn.ownCid.toString('hex'), conn);
    else conn.ownCid = undefined;
    this.uncount(conn);
    this.count(conn, 'session');
    conn.lastActivity = this.now();
    this.cache.store({
      sessionId: result.sessionId,
      masterSecret: result.masterSecret,
      cipherSuite: result.cipherSuite,
      extendedMasterSecret: result.extendedMasterSecret,
      secure: result.secure,
      storedAt: this.now(),
    });
    this.options.logger.debug({ source: conn.source, method: result.secure.method, resumed: result.resumed, cid: handshake.cidNegotiated }, 'dtls: session established');
    this.notify('onSessionStart', conn.peer);
  }

  private migrate(conn: Connection<P>, rinfo: RemoteInfo): void {
    const source = sourceOf(rinfo.address, rinfo.port);
    const occupant = this.byAddress.get(source);
    if (occupant && occupant !== conn) this.remove(occupant);
    if (this.byAddress.get(conn.source) === conn) this.byAddress.delete(conn.source);
    this.uncount(conn);
    conn.address = rinfo.address;
    conn.port = rinfo.port;
    conn.source = source;
    this.byAddress.set(source, conn);
    this.count(conn, 'session');
    if (conn.peer) {
      conn.peer.address = rinfo.address;
      conn.peer.port = rinfo.port;
    }
    this.options.logger.debug({ source, key: conn.peer?.key }, 'dtls: session moved to a new address (connection id)');
  }

  private failHandshake(conn: Connection<P>, err: unknown): void {
    const abort =
      err instanceof HandshakeAbort ? err : new HandshakeAbort('protocol', AlertDescription.internalError, `internal error: ${err instanceof Error ? err.message : String(err)}`);
    if (!(err instanceof HandshakeAbort)) this.options.logger.error({ err, source: conn.source }, 'dtls: handshake failed unexpectedly');
    if (abort.alert !== undefined) this.sendAlert(conn, AlertLevel.fatal, abort.alert);
    this.reportFailure({ source: conn.address, reason: abort.reason, detail: abort.message, ...(abort.pskIdentity !== undefined ? { pskIdentity: abort.pskIdentity } : {}) });
    this.remove(conn);
  }

  private reportFailure(failure: HandshakeFailure): void {
    this.options.logger.debug({ ...failure }, 'dtls: handshake failed');
    try {
      this.options.onHandshakeFailure?.(failure);
    } catch (err) {
      this.options.logger.error({ err }, 'dtls: onHandshakeFailure threw');
    }
  }

  private forgetResumption(conn: Connection<P>): void {
    if (conn.sessionId) this.cache.forget(conn.sessionId);
  }

  private remove(conn: Connection<P>): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.flight.stop();
    if (conn.handshakeTimer) clearTimeout(conn.handshakeTimer);
    if (this.byAddress.get(conn.source) === conn) this.byAddress.delete(conn.source);
    if (conn.ownCid && this.byCid.get(conn.ownCid.toString('hex')) === conn) this.byCid.delete(conn.ownCid.toString('hex'));
    if (conn.peer && this.byKey.get(conn.peer.key) === conn) this.byKey.delete(conn.peer.key);
    this.uncount(conn);
    if (conn.peer && conn.reader) this.notify('onSessionEnd', conn.peer);
  }

  private notify(hook: 'onSessionStart' | 'onSessionEnd', peer: DatagramPeer<P>): void {
    try {
      this.options[hook]?.(peer);
    } catch (err) {
      this.options.logger.error({ err }, `dtls: ${hook} threw`);
    }
  }

  private count(conn: Connection<P>, kind: 'handshake' | 'session'): void {
    conn.counted = { kind, address: conn.address };
    this.counts[kind].set(conn.address, (this.counts[kind].get(conn.address) ?? 0) + 1);
    this.totals[kind]++;
  }

  private uncount(conn: Connection<P>): void {
    const counted = conn.counted;
    if (!counted) return;
    conn.counted = undefined;
    const n = (this.counts[counted.kind].get(counted.address) ?? 1) - 1;
    if (n <= 0) this.counts[counted.kind].delete(counted.address);
    else this.counts[counted.kind].set(counted.address, n);
    this.totals[counted.kind]--;
  }

  private sweepIdle(): void {
    const now = this.now();
    for (const conn of new Set(this.byKey.values())) {
      if (now - conn.lastActivity > this.limits.sessionIdleMs) this.remove(conn);
    }
  }

  // ---- datagrams out

  private sendAlert(conn: Connection<P>, level: number, description: number): void {
    try {
      this.transmit(conn, [conn.writer.record(ContentType.alert, Buffer.from([level, description]))]);
    } catch (err) {
      this.options.logger.debug({ err }, 'dtls: could not send alert');
    }
  }

  private transmit(conn: Connection<P>, datagrams: Buffer[]): void {
    const socket = this.socket;
    if (!socket) return;
    for (const datagram of datagrams) socket.send(datagram, conn.port, conn.address);
  }
}
