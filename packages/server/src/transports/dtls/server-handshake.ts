import { createECDH, randomBytes, sign, verify, X509Certificate, type ECDH, type KeyObject } from 'node:crypto';
import type { SecurePeer } from '../datagram-channel.js';
import { AlertDescription, certificateAlertByName } from './alerts.js';
import { Ccm8 } from './cipher-ccm8.js';
import type { DtlsServerOptions, HandshakeFailure } from './dtls-options.js';
import type { FlightSender} from './flight-sender.js';
import { type FlightEntry } from './flight-sender.js';
import {
  CipherSuite,
  DecodeError,
  ECDSA_SECP256R1_SHA256,
  encodeCertificate,
  encodeCertificateRequest,
  encodeEcdhParams,
  encodeServerHello,
  encodeServerKeyExchange,
  ExtensionType,
  HandshakeType,
  parseCertificate,
  parseCertificateVerify,
  parseEcdhClientKeyExchange,
  parseHandshakeFragments,
  parsePskClientKeyExchange,
  parseU16List,
  SECP256R1,
  vec8,
  wholeMessage,
  type ClientHello,
  type Extension,
} from './handshake-messages.js';
import { HandshakeReassembler, type HandshakeMessage } from './handshake-reassembler.js';
import { finishedVerifyData, keyBlock, masterSecret, pskPremaster, sha256, type KeyBlock } from './prf.js';
import type { RecordWriter} from './record-layer.js';
import { ContentType, RecordReader, type OpenedRecord } from './record-layer.js';
import type { SessionCache } from './session-cache.js';

/** Ends a handshake: the alert to send (if any) and why, for `onHandshakeFailure`. */
export class HandshakeAbort extends Error {
  constructor(
    readonly reason: HandshakeFailure['reason'],
    readonly alert: number | undefined,
    detail: string,
    readonly pskIdentity?: string,
  ) {
    super(detail);
  }
}

/** The server's certificate material, parsed once per `setCertificate`. */
export interface ServerCredentials {
  chain: Buffer[];
  key: KeyObject;
}

export interface HandshakeResult<P> {
  sessionId: Buffer;
  masterSecret: Buffer;
  cipherSuite: number;
  extendedMasterSecret: boolean;
  secure: SecurePeer<P>;
  reader: RecordReader;
  resumed: boolean;
}

export interface HandshakeContext<P> {
  options: DtlsServerOptions<P>;
  credentials: ServerCredentials | undefined;
  cache: SessionCache<P>;
  source: string;
  writer: RecordWriter;
  flight: FlightSender;
  maxHandshakeMessageBytes: number;
  /** The CID this server hands the client (RFC 9146), or undefined when CIDs are off. */
  ownCid: Buffer | undefined;
}

type State = 'certificate' | 'clientKeyExchange' | 'certificateVerify' | 'changeCipherSpec' | 'finished' | 'done';

/**
 * The server side of one DTLS 1.2 handshake after a valid cookie (RFC 6347 §4.2, RFC 5246 §7):
 * full PSK (RFC 4279, RFC 6655), full ECDHE_ECDSA with a required client certificate (RFC 8422,
 * RFC 7251), abbreviated by session id; extended master secret (RFC 7627) and Connection ID
 * (RFC 9146). Records in, flights out; the connection owns the socket.
 */
export class ServerHandshake<P> {
  private state: State = 'clientKeyExchange';
  private readonly transcript: Buffer[] = [];
  private readonly reassembler: HandshakeReassembler;
  private sendSeq: number;
  private readonly serverRandom = randomBytes(32);
  private sessionId = randomBytes(32);
  private cipherSuite = 0;
  private extendedMaster = false;
  private resumed = false;
  private master: Buffer | undefined;
  private keys: KeyBlock | undefined;
  private reader: RecordReader | undefined;
  private ecdh: ECDH | undefined;
  private clientChain: Buffer[] = [];
  private clientKey: KeyObject | undefined;
  private secure: SecurePeer<P> | undefined;
  /** The identity the client named, once its ClientKeyExchange arrived (for failure reports). */
  pskIdentity: string | undefined;
  /** The peer's CID for records we send (RFC 9146), once negotiated. */
  peerCid: Buffer | undefined;
  cidNegotiated = false;
  result: HandshakeResult<P> | undefined;

  constructor(
    private readonly ctx: HandshakeContext<P>,
    private readonly hello: ClientHello,
    helloMessageSeq: number,
    helloBody: Buffer,
  ) {
    this.sendSeq = helloMessageSeq;
    this.reassembler = new HandshakeReassembler(helloMessageSeq + 1, ctx.maxHandshakeMessageBytes);
    this.transcript.push(wholeMessage(HandshakeType.clientHello, helloMessageSeq, helloBody));
  }

  get established(): boolean {
    return this.state === 'done';
  }

  /** The epoch-1 read state once the client's ChangeCipherSpec is expected; the connection opens records with it. */
  get readState(): RecordReader | undefined {
    return this.reader;
  }

  /** Chooses the suite and answers the ClientHello with the server's first flight. */
  start(): void {
    try {
      this.answerHello();
    } catch (err) {
      if (err instanceof DecodeError) throw new HandshakeAbort('protocol', AlertDescription.decodeError, err.message);
      throw err;
    }
  }

  private answerHello(): void {
    const hello = this.hello;
    // DTLS versions count down: 0xfefd is 1.2, 0xfeff (1.0) and above are older.
    if (hello.version > 0xfefd) throw new HandshakeAbort('protocol', AlertDescription.protocolVersion, 'client does not offer DTLS 1.2');
    if (!hello.compressionMethods.includes(0)) throw new HandshakeAbort('protocol', AlertDescription.illegalParameter, 'null compression not offered');
    const ext = new Map(hello.extensions.map((e) => [e.type, e.data] as const));
    const reneg = ext.get(ExtensionType.renegotiationInfo);
    if (reneg && !(reneg.length === 1 && reneg[0] === 0)) {
      // RFC 5746 §3.6: on an initial handshake renegotiated_connection must be empty.
      throw new HandshakeAbort('protocol', AlertDescription.handshakeFailure, 'renegotiation_info is not empty');
    }
    this.extendedMaster = ext.has(ExtensionType.extendedMasterSecret);

    const cached = this.ctx.cache.find(hello.sessionId);
    // RFC 7627 §5.3: a session with EMS resumes only with EMS; one without it is not resumed under EMS.
    if (cached && hello.cipherSuites.includes(cached.cipherSuite) && cached.extendedMasterSecret === this.extendedMaster && this.suiteAvailable(cached.cipherSuite)) {
      this.cipherSuite = cached.cipherSuite;
      this.sessionId = Buffer.from(cached.sessionId);
      this.master = cached.masterSecret;
      this.secure = cached.secure;
      this.resumed = true;
    } else {
      this.cipherSuite = this.chooseSuite(ext);
    }

    const extensions: Extension[] = [];
    if (reneg || hello.cipherSuites.includes(CipherSuite.emptyRenegotiationInfoScsv)) {
      extensions.push({ type: ExtensionType.renegotiationInfo, data: Buffer.from([0]) });
    }
    if (this.extendedMaster) extensions.push({ type: ExtensionType.extendedMasterSecret, data: Buffer.alloc(0) });
    if (this.cipherSuite === CipherSuite.ecdheEcdsaAes128Ccm8 && ext.has(ExtensionType.ecPointFormats)) {
      extensions.push({ type: ExtensionType.ecPointFormats, data: vec8(Buffer.from([0])) });
    }
    const cidExt = ext.get(ExtensionType.connectionId);
    if (cidExt && this.ctx.ownCid) {
      if (cidExt.length < 1 || cidExt[0] !== cidExt.length - 1) throw new HandshakeAbort('protocol', AlertDescription.decodeError, 'bad connection_id extension');
      this.peerCid = cidExt.subarray(1);
      this.cidNegotiated = true;
      extensions.push({ type: ExtensionType.connectionId, data: vec8(this.ctx.ownCid) });
    }

    const serverHello = encodeServerHello(this.serverRandom, this.sessionId, this.cipherSuite, extensions);
    const flight: FlightEntry[] = [this.message(HandshakeType.serverHello, serverHello, 0)];
    if (this.resumed) {
      this.deriveKeys();
      this.ctx.writer.peerCid = this.peerCid;
      flight.push({ kind: 'changeCipherSpec', epoch: 0 });
      this.activateWrite();
      const verify = finishedVerifyData(this.master!, 'server', this.transcriptHash());
      flight.push(this.message(HandshakeType.finished, verify, 1));
      this.prepareRead();
      this.state = 'changeCipherSpec';
      this.ctx.flight.start(flight, true);
      return;
    }
    if (this.cipherSuite === CipherSuite.ecdheEcdsaAes128Ccm8) {
      const creds = this.ctx.credentials!;
      flight.push(this.message(HandshakeType.certificate, encodeCertificate(creds.chain), 0));
      this.ecdh = createECDH('prime256v1');
      this.ecdh.generateKeys();
      const params = encodeEcdhParams(this.ecdh.getPublicKey());
      const signature = sign('sha256', Buffer.concat([hello.random, this.serverRandom, params]), creds.key);
      flight.push(this.message(HandshakeType.serverKeyExchange, encodeServerKeyExchange(params, signature), 0));
      flight.push(this.message(HandshakeType.certificateRequest, encodeCertificateRequest(), 0));
      this.state = 'certificate';
    } else {
      this.state = 'clientKeyExchange';
    }
    flight.push(this.message(HandshakeType.serverHelloDone, Buffer.alloc(0), 0));
    this.ctx.flight.start(flight, true);
  }

  private suiteAvailable(suite: number): boolean {
    if (suite === CipherSuite.pskAes128Ccm8) return this.ctx.options.psk !== undefined;
    if (suite === CipherSuite.ecdheEcdsaAes128Ccm8) return this.ctx.credentials !== undefined && this.ctx.options.certificate !== undefined;
    return false;
  }

  private chooseSuite(ext: Map<number, Buffer>): number {
    for (const suite of this.hello.cipherSuites) {
      if (!this.suiteAvailable(suite)) continue;
      if (suite === CipherSuite.ecdheEcdsaAes128Ccm8) {
        const groups = ext.get(ExtensionType.supportedGroups);
        if (groups && !parseU16List(groups, 2).includes(SECP256R1)) continue;
        const algs = ext.get(ExtensionType.signatureAlgorithms);
        if (algs && !parseU16List(algs, 2).includes(ECDSA_SECP256R1_SHA256)) continue;
      }
      return suite;
    }
    throw new HandshakeAbort('protocol', AlertDescription.handshakeFailure, 'no cipher suite in common');
  }

  private message(msgType: number, body: Buffer, epoch: number): FlightEntry {
    const messageSeq = this.sendSeq++;
    this.transcript.push(wholeMessage(msgType, messageSeq, body));
    return { kind: 'handshake', msgType, messageSeq, body, epoch };
  }

  private transcriptHash(): Buffer {
    return sha256(...this.transcript);
  }

  private deriveKeys(): void {
    this.keys = keyBlock(this.master!, this.hello.random, this.serverRandom);
  }

  private activateWrite(): void {
    this.ctx.writer.activate({ epoch: 1, cipher: new Ccm8(this.keys!.serverKey, this.keys!.serverIv) });
  }

  private prepareRead(): void {
    this.reader = new RecordReader(1, new Ccm8(this.keys!.clientKey, this.keys!.clientIv), this.cidNegotiated ? this.ctx.ownCid : undefined);
  }

  /**
   * One record for this handshake: epoch 0 plaintext, or epoch 1 already opened by `readState`.
   * A repeated message of the client's previous flight makes the server resend its own (RFC 6347 §4.2.4).
   */
  async onRecord(record: OpenedRecord): Promise<void> {
    if (this.state === 'done') return;
    if (record.type === ContentType.changeCipherSpec) {
      if (record.epoch !== 0 || record.payload.length !== 1 || record.payload[0] !== 1) {
        throw new HandshakeAbort('protocol', AlertDescription.unexpectedMessage, 'malformed ChangeCipherSpec');
      }
      if (this.state !== 'changeCipherSpec') {
        // Early (its preceding messages were lost and will be retransmitted) or repeated: ignore.
        return;
      }
      this.state = 'finished';
      return;
    }
    if (record.type !== ContentType.handshake) return;
    // An epoch-1 record before the ChangeCipherSpec was reordered or its predecessors lost: the client will resend.
    if (record.epoch === 1 && this.state !== 'finished') return;
    let fragments;
    try {
      fragments = parseHandshakeFragments(record.payload);
    } catch (err) {
      throw new HandshakeAbort('protocol', AlertDescription.decodeError, (err as Error).message);
    }
    let repeated = false;
    for (const fragment of fragments) {
      // Messages after the ChangeCipherSpec must come in epoch 1, those before in epoch 0.
      const { messages, old } = this.reassemble(fragment);
      if (old) repeated = true;
      for (const message of messages) {
        const expectedEpoch = message.msgType === HandshakeType.finished ? 1 : 0;
        if (record.epoch !== expectedEpoch) throw new HandshakeAbort('protocol', AlertDescription.unexpectedMessage, 'handshake message in the wrong epoch');
        await this.onMessage(message);
        if ((this.state as State) === 'done') return;
      }
    }
    if (repeated) this.ctx.flight.resend();
  }

  private reassemble(fragment: Parameters<HandshakeReassembler['add']>[0]): ReturnType<HandshakeReassembler['add']> {
    try {
      return this.reassembler.add(fragment);
    } catch (err) {
      throw new HandshakeAbort('protocol', AlertDescription.decodeError, (err as Error).message);
    }
  }

  private async onMessage(message: HandshakeMessage): Promise<void> {
    try {
      await this.dispatch(message);
    } catch (err) {
      if (err instanceof DecodeError) throw new HandshakeAbort('protocol', AlertDescription.decodeError, err.message, this.pskIdentity);
      throw err;
    }
  }

  /** RFC 5246 §7.4.8: the client signs every handshake message before its CertificateVerify. */
  private signatureVerifies(signature: Buffer): boolean {
    try {
      return verify('sha256', Buffer.concat(this.transcript), this.clientKey!, signature);
    } catch {
      return false; // a malformed DER signature
    }
  }

  private unexpected(message: HandshakeMessage): HandshakeAbort {
    return new HandshakeAbort('protocol', AlertDescription.unexpectedMessage, `unexpected handshake message ${message.msgType} in state ${this.state}`, this.pskIdentity);
  }

  private async dispatch(message: HandshakeMessage): Promise<void> {
    const whole = wholeMessage(message.msgType, message.messageSeq, message.body);
    switch (message.msgType) {
      case HandshakeType.certificate: {
        if (this.state !== 'certificate') throw this.unexpected(message);
        const chain = parseCertificate(message.body);
        if (chain.length === 0) throw new HandshakeAbort('certificate', AlertDescription.handshakeFailure, 'a client certificate is required');
        try {
          const leaf = new X509Certificate(chain[0]!);
          const key = leaf.publicKey;
          if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
            throw new HandshakeAbort('certificate', AlertDescription.unsupportedCertificate, 'client key is not ECDSA P-256');
          }
          this.clientKey = key;
        } catch (err) {
          if (err instanceof HandshakeAbort) throw err;
          throw new HandshakeAbort('certificate', AlertDescription.badCertificate, `unreadable client certificate: ${(err as Error).message}`);
        }
        this.clientChain = chain;
        this.transcript.push(whole);
        this.state = 'clientKeyExchange';
        return;
      }
      case HandshakeType.clientKeyExchange: {
        if (this.state !== 'clientKeyExchange') throw this.unexpected(message);
        let premaster: Buffer;
        if (this.cipherSuite === CipherSuite.pskAes128Ccm8) {
          const identityBytes = parsePskClientKeyExchange(message.body);
          const identity = identityBytes.toString('utf8');
          this.pskIdentity = identity;
          const found = await this.ctx.options.psk!(identity, this.ctx.source);
          if (!found) throw new HandshakeAbort('unknown_psk_identity', AlertDescription.unknownPskIdentity, `unknown PSK identity`, identity);
          premaster = pskPremaster(found.key);
          this.secure = { method: 'psk', pskIdentity: identity, principal: found.principal };
        } else {
          const point = parseEcdhClientKeyExchange(message.body);
          try {
            premaster = this.ecdh!.computeSecret(point);
          } catch {
            throw new HandshakeAbort('protocol', AlertDescription.illegalParameter, 'invalid ECDH point');
          }
        }
        this.transcript.push(whole);
        this.master = masterSecret(
          premaster,
          this.extendedMaster ? { extended: true, sessionHash: this.transcriptHash() } : { extended: false, clientRandom: this.hello.random, serverRandom: this.serverRandom },
        );
        this.deriveKeys();
        this.prepareRead();
        this.state = this.cipherSuite === CipherSuite.ecdheEcdsaAes128Ccm8 ? 'certificateVerify' : 'changeCipherSpec';
        return;
      }
      case HandshakeType.certificateVerify: {
        if (this.state !== 'certificateVerify') throw this.unexpected(message);
        const { algorithm, signature } = parseCertificateVerify(message.body);
        if (algorithm !== ECDSA_SECP256R1_SHA256) throw new HandshakeAbort('certificate', AlertDescription.illegalParameter, 'CertificateVerify algorithm not offered');
        if (!this.signatureVerifies(signature)) throw new HandshakeAbort('decrypt_error', AlertDescription.decryptError, 'CertificateVerify signature does not verify');
        this.transcript.push(whole);
        const verdict = await this.ctx.options.certificate!.verifyClient(this.clientChain, this.ctx.source);
        if (!verdict.ok) throw new HandshakeAbort('certificate', certificateAlertByName[verdict.alert], verdict.detail);
        this.secure = { method: 'certificate', certificateDer: this.clientChain[0]!, principal: verdict.principal };
        this.state = 'changeCipherSpec';
        return;
      }
      case HandshakeType.finished: {
        if (this.state !== 'finished') throw this.unexpected(message);
        const expected = finishedVerifyData(this.master!, 'client', this.transcriptHash());
        if (message.body.length !== expected.length || !expected.equals(message.body)) {
          throw new HandshakeAbort('decrypt_error', AlertDescription.decryptError, 'client Finished does not verify', this.pskIdentity);
        }
        this.transcript.push(whole);
        if (!this.resumed) {
          this.ctx.writer.peerCid = this.peerCid;
          this.activateWrite();
          const verify = finishedVerifyData(this.master!, 'server', this.transcriptHash());
          const flight: FlightEntry[] = [{ kind: 'changeCipherSpec', epoch: 0 }, this.message(HandshakeType.finished, verify, 1)];
          // RFC 6347 §4.2.4: the last flight is resent only when the client repeats its own.
          this.ctx.flight.start(flight, false);
        } else {
          this.ctx.flight.stop();
        }
        this.state = 'done';
        this.result = {
          sessionId: this.sessionId,
          masterSecret: this.master!,
          cipherSuite: this.cipherSuite,
          extendedMasterSecret: this.extendedMaster,
          secure: this.secure!,
          reader: this.reader!,
          resumed: this.resumed,
        };
        return;
      }
      default:
        throw this.unexpected(message);
    }
  }
}
