import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import {
  blockSize,
  CoapCode,
  CoapOptionNumber as Opt,
  codeText,
  decodeBlock,
  encodeBlock,
  encodeMessage,
  encodeUint,
  firstOption,
  MAX_SZX,
  uintOption,
  type CoapMessage,
  type CoapOption,
} from '@hangar/protocol/coap';
import type { DatagramPeer } from '../datagram-channel.js';

/** A request Hangar sends to a device (LwM2M device management). Uri-Path/Uri-Query go in `options`. */
export interface OutgoingRequest {
  code: number;
  options?: CoapOption[];
  payload?: Buffer;
  /** Default true: a CON request, retransmitted until acknowledged (RFC 7252 §4.2). */
  confirmable?: boolean;
}

/** The device's answer; a Block2 answer arrives here reassembled (its Block2 option removed). */
export interface IncomingResponse {
  code: number;
  options: CoapOption[];
  payload: Buffer;
}

export type CoapRequestErrorReason = 'timeout' | 'reset' | 'closed' | 'too_large' | 'protocol';

/** Why a request got no usable answer. `response` is the answer when there was one (e.g. an Observe refused with 4.04). */
export class CoapRequestError extends Error {
  constructor(
    readonly reason: CoapRequestErrorReason,
    message: string,
    readonly response?: IncomingResponse,
  ) {
    super(message);
    this.name = 'CoapRequestError';
  }
}

export interface RequestOptions {
  /** How long to wait for each answer (each block of a block-wise transfer); default MAX_TRANSMIT_WAIT (93 s). */
  timeoutMs?: number;
  /** Block size (16…1024) for Block1 uploads and the Block2 size asked for; default: the largest the channel carries. */
  blockSize?: number;
  /** Bound on a reassembled Block2 answer (default 1 MiB); past it the request fails with `too_large`. */
  maxResponseBytes?: number;
}

export interface Observation {
  first: IncomingResponse;
  /** RFC 7641 §3.6: a GET with Observe 1 and the same token; later notifications with the token are Reset. */
  cancel(): Promise<void>;
}

export interface CoapRequester<P = unknown> {
  /** Token-matched; CON retransmitted; separate responses; follows Block2 of the answer (payload reassembled, bounded);
   *  a payload larger than the block size is sent by Block1 (RFC 7959). */
  request(peer: DatagramPeer<P>, req: OutgoingRequest, opts?: RequestOptions): Promise<IncomingResponse>;
  /** GET/FETCH with Observe 0; resolves with the first response (rejects if it is not 2.05 with Observe);
   *  notifications in order (RFC 7641 sequence), each ACKed; cancel() = GET with Observe 1, then forget. */
  observe(peer: DatagramPeer<P>, req: OutgoingRequest, onNotify: (n: IncomingResponse) => void, opts?: { timeoutMs?: number; maxResponseBytes?: number }): Promise<Observation>;
}

/**
 * One requester over two servers (plain CoAP and DTLS): a request goes out through the server
 * whose channel the peer belongs to — DTLS when the peer carries a handshake's `secure` record.
 */
export function requesterByChannel<P>(servers: { plain: CoapRequester<P>; secure?: CoapRequester<P> | undefined }): CoapRequester<P> {
  const pick = (peer: DatagramPeer<P>): CoapRequester<P> => {
    if (!peer.secure) return servers.plain;
    if (!servers.secure) throw new CoapRequestError('closed', 'no DTLS server is running for this DTLS peer');
    return servers.secure;
  };
  return {
    request: (peer, req, opts) => {
      try {
        return pick(peer).request(peer, req, opts);
      } catch (err) {
        return Promise.reject(err);
      }
    },
    observe: (peer, req, onNotify, opts) => {
      try {
        return pick(peer).observe(peer, req, onNotify, opts);
      } catch (err) {
        return Promise.reject(err);
      }
    },
  };
}

/** What the requester needs from the messaging layer (`CoapServer`). */
export interface RequestTransport<P> {
  /** A CON with a fresh message id, retransmitted until ACK/RST or MAX_RETRANSMIT; `stop()` ends retransmission. */
  transmitConfirmable(peer: DatagramPeer<P>, message: MessageBody): { delivery: Promise<{ outcome: 'acked' | 'reset' | 'timeout' | 'closed'; ack?: CoapMessage }>; stop(): void };
  sendNonConfirmable(peer: DatagramPeer<P>, message: MessageBody): void;
  maxPayload(peer: DatagramPeer<P>): number;
}

export interface MessageBody {
  code: number;
  token: Buffer;
  options: CoapOption[];
  payload: Buffer;
}

/** What the messaging layer does with a response that is not a piggybacked ACK. */
export type ResponseVerdict = 'accept' | 'reject';

type TokenHandler = (message: CoapMessage) => void;

const TOKEN_BYTES = 8;
const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
/** Room for the header, an 8-byte token and the usual options of a block answer (the rest of a datagram is payload). */
const RESPONSE_OVERHEAD = 64;
/** A representation that changes mid-transfer (new ETag) is fetched again from block 0 this often. */
const BLOCK2_RESTARTS = 2;
/** RFC 7641 §3.4: sequence numbers are 24 bits; a notification more than 128 s after the last is fresh whatever its number. */
const OBSERVE_WRAP = 1 << 23;
const OBSERVE_FRESH_AFTER_MS = 128_000;

/**
 * Requests Hangar sends (the LwM2M server reading, writing and observing devices), over the
 * messaging layer of a `CoapServer`: tokens, separate responses (RFC 7252 §5.2.2), block-wise
 * transfers both ways (RFC 7959) and client-side observation (RFC 7641). Answers are matched by
 * token and peer; the server hands every response it receives here first.
 */
export class OutgoingRequests<P> implements CoapRequester<P> {
  private readonly byToken = new Map<string, TokenHandler>();
  private readonly aborts = new Set<(err: CoapRequestError) => void>();
  private closed = false;

  constructor(
    private readonly transport: RequestTransport<P>,
    private readonly defaultTimeoutMs: number,
    private readonly logger: Logger,
  ) {}

  async request(peer: DatagramPeer<P>, req: OutgoingRequest, opts: RequestOptions = {}): Promise<IncomingResponse> {
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    const payload = req.payload ?? Buffer.alloc(0);
    const options = req.options ?? [];
    const requested = opts.blockSize === undefined ? undefined : szxOf(opts.blockSize);
    const block1Szx = requested ?? this.requestSzx(peer, options);
    let answer: CoapMessage;
    if (payload.length > blockSize(block1Szx)) {
      answer = await this.sendBlock1(peer, req, block1Szx, timeoutMs);
    } else {
      const withBlock2 = this.withBlock2Hint(peer, req.code, options, requested);
      answer = await this.exchange(peer, { code: req.code, options: withBlock2, payload, confirmable: req.confirmable ?? true }, timeoutMs);
    }
    return this.completeBlock2(peer, req, answer, timeoutMs, opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES);
  }

  async observe(peer: DatagramPeer<P>, req: OutgoingRequest, onNotify: (n: IncomingResponse) => void, opts: { timeoutMs?: number; maxResponseBytes?: number } = {}): Promise<Observation> {
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    const maxBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const token = this.newToken(peer);
    const key = tokenKey(peer, token);
    const base = (req.options ?? []).filter((o) => o.number !== Opt.Observe);
    const state = { lastSeq: 0, lastAt: 0, generation: 0, ended: false };
    // Notifications that overtake a block-wise first answer wait until the caller has that answer.
    let early: IncomingResponse[] | undefined = [];
    const deliver = (n: IncomingResponse): void => {
      if (early) early.push(n);
      else this.deliver(onNotify, n);
    };
    const onNotification = (message: CoapMessage): void => {
      const seq = uintOption(message, Opt.Observe);
      if (seq === undefined || message.code >> 5 !== 2) {
        // §3.2: an answer without Observe (an error, or the resource gone) ends the observation.
        this.byToken.delete(key);
        state.ended = true;
        state.generation += 1;
        deliver(toResponse(message));
        return;
      }
      const now = Date.now();
      if (!isFresh(state.lastSeq, seq, state.lastAt, now)) return; // §3.4: an older notification arriving late
      state.lastSeq = seq;
      state.lastAt = now;
      const generation = ++state.generation;
      const block = blockOf(message);
      if (!block?.more) {
        deliver(toResponse(message));
        return;
      }
      // RFC 7959 §3.4: the notification carries the first block; the rest is fetched without Observe.
      this.completeBlock2(peer, { ...req, options: base }, message, timeoutMs, maxBytes).then(
        (full) => {
          if (state.generation === generation && !state.ended) deliver(full);
        },
        (err: unknown) => this.logger.debug({ err, remote: peer.key }, 'the rest of a block-wise notification could not be fetched'),
      );
    };
    const options = [...base, { number: Opt.Observe, value: encodeUint(0) }];
    const first = await this.exchange(peer, { code: req.code, options: this.withBlock2Hint(peer, req.code, options, undefined), payload: req.payload ?? Buffer.alloc(0), confirmable: req.confirmable ?? true }, timeoutMs, token, (answer) => {
      const seq = uintOption(answer, Opt.Observe);
      if (answer.code !== CoapCode.Content || seq === undefined) return undefined;
      state.lastSeq = seq;
      state.lastAt = Date.now();
      return onNotification;
    });
    const registered = first.code === CoapCode.Content && uintOption(first, Opt.Observe) !== undefined;
    if (!registered) {
      throw new CoapRequestError('protocol', `the observe request was answered ${codeText(first.code)}${first.code === CoapCode.Content ? ' without Observe' : ''}`, toResponse(first));
    }
    const firstResponse = await this.completeBlock2(peer, { ...req, options: base }, first, timeoutMs, maxBytes).catch((err: unknown) => {
      this.byToken.delete(key);
      state.ended = true;
      throw err;
    });
    const overtaking = early;
    early = undefined;
    if (overtaking.length > 0) setImmediate(() => overtaking.forEach((n) => this.deliver(onNotify, n)));
    return {
      first: firstResponse,
      cancel: async () => {
        if (state.ended) return;
        state.ended = true;
        this.byToken.delete(key);
        // §3.6: deregister with a GET carrying Observe 1 and the observation's token. Its answer is
        // of no further use; a notification the device sends later finds no token and is Reset.
        try {
          await this.exchange(peer, { code: req.code, options: [...base, { number: Opt.Observe, value: encodeUint(1) }], payload: req.payload ?? Buffer.alloc(0), confirmable: true }, timeoutMs, token);
        } catch (err) {
          this.logger.debug({ err, remote: peer.key }, 'observe cancellation got no answer');
        }
      },
    };
  }

  /**
   * Called by the messaging layer for each response that is not a piggybacked ACK (a separate
   * response, a notification): `reject` means Reset it (unknown token, RFC 7252 §5.3.2 /
   * RFC 7641 §3.6).
   */
  receive(message: CoapMessage, peer: DatagramPeer<P>): ResponseVerdict {
    const handler = this.byToken.get(tokenKey(peer, message.token));
    if (!handler) return 'reject';
    handler(message);
    return 'accept';
  }

  /** Fails every pending request with `closed` and forgets every observation. */
  close(): void {
    this.closed = true;
    for (const abort of [...this.aborts]) abort(new CoapRequestError('closed', 'the CoAP server is closing'));
    this.byToken.clear();
  }

  /**
   * One request/response exchange under one token. `then` may keep the token registered after
   * the answer (an observation), installing its handler before any later datagram is read.
   */
  private exchange(
    peer: DatagramPeer<P>,
    body: { code: number; options: CoapOption[]; payload: Buffer; confirmable: boolean },
    timeoutMs: number,
    token: Buffer = this.newToken(peer),
    then?: (answer: CoapMessage) => TokenHandler | undefined,
  ): Promise<CoapMessage> {
    if (this.closed) return Promise.reject(new CoapRequestError('closed', 'the CoAP server is closed'));
    const key = tokenKey(peer, token);
    return new Promise<CoapMessage>((resolve, reject) => {
      let settled = false;
      let stopRetransmission = (): void => undefined;
      const finish = (answer: CoapMessage | undefined, err?: CoapRequestError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        stopRetransmission();
        this.aborts.delete(abort);
        const next = answer && then ? then(answer) : undefined;
        if (next) this.byToken.set(key, next);
        else if (this.byToken.get(key) === onAnswer) this.byToken.delete(key);
        if (answer) resolve(answer);
        else reject(err);
      };
      const onAnswer: TokenHandler = (answer) => finish(answer);
      const abort = (err: CoapRequestError): void => finish(undefined, err);
      const timer = setTimeout(() => finish(undefined, new CoapRequestError('timeout', `no answer within ${timeoutMs} ms`)), timeoutMs);
      this.aborts.add(abort);
      this.byToken.set(key, onAnswer);
      const message: MessageBody = { code: body.code, token, options: body.options, payload: body.payload };
      if (!body.confirmable) {
        this.transport.sendNonConfirmable(peer, message);
        return;
      }
      const sent = this.transport.transmitConfirmable(peer, message);
      stopRetransmission = sent.stop;
      void sent.delivery.then(({ outcome, ack }) => {
        if (settled) return;
        if (outcome === 'acked') {
          // An empty ACK: the answer follows as a separate response with our token (§5.2.2).
          if (!ack || ack.code === CoapCode.Empty) return;
          if (!ack.token.equals(token)) return finish(undefined, new CoapRequestError('protocol', 'the piggybacked answer carries another token'));
          return finish(ack);
        }
        if (outcome === 'reset') return finish(undefined, new CoapRequestError('reset', 'the peer reset the request'));
        if (outcome === 'timeout') return finish(undefined, new CoapRequestError('timeout', 'the request was never acknowledged'));
        finish(undefined, new CoapRequestError('closed', 'the CoAP server is closing'));
      });
    });
  }

  /** RFC 7959 §2.5: each block waits for 2.31 Continue; a smaller size the server asks for is used from then on. */
  private async sendBlock1(peer: DatagramPeer<P>, req: OutgoingRequest, initialSzx: number, timeoutMs: number): Promise<CoapMessage> {
    const payload = req.payload ?? Buffer.alloc(0);
    const base = (req.options ?? []).filter((o) => o.number !== Opt.Block1 && o.number !== Opt.Size1);
    let szx = initialSzx;
    let offset = 0;
    for (;;) {
      const size = blockSize(szx);
      const chunk = payload.subarray(offset, offset + size);
      const more = offset + chunk.length < payload.length;
      const options = [...base, { number: Opt.Block1, value: encodeBlock({ num: offset / size, more, szx }) }];
      if (offset === 0) options.push({ number: Opt.Size1, value: encodeUint(payload.length) });
      const answer = await this.exchange(peer, { code: req.code, options, payload: chunk, confirmable: req.confirmable ?? true }, timeoutMs);
      if (!more || answer.code !== CoapCode.Continue) return answer; // the last block's answer, or a refusal
      offset += chunk.length;
      const echoed = blockOf(answer, Opt.Block1);
      if (echoed && echoed.szx < szx) szx = echoed.szx;
    }
  }

  /** RFC 7959 §2.4: fetches the remaining blocks of an answer and reassembles it, bounded by `maxBytes`. */
  private async completeBlock2(peer: DatagramPeer<P>, req: OutgoingRequest, first: CoapMessage, timeoutMs: number, maxBytes: number): Promise<IncomingResponse> {
    let answer = first;
    for (let restarts = 0; ; restarts += 1) {
      const block = blockOf(answer);
      if (!block) return toResponse(answer);
      if (block.num !== 0) throw new CoapRequestError('protocol', `a block-wise answer started at block ${block.num}`, toResponse(answer));
      const size2 = uintOption(answer, Opt.Size2);
      if (size2 !== undefined && size2 > maxBytes) throw new CoapRequestError('too_large', `the answer announces ${size2} bytes, over the limit of ${maxBytes}`);
      const etag = firstOption(answer, Opt.ETag);
      const chunks: Buffer[] = [answer.payload];
      let received = answer.payload.length;
      let current = block;
      let changed = false;
      while (current.more) {
        if (received > maxBytes) throw new CoapRequestError('too_large', `the answer exceeds the limit of ${maxBytes} bytes`);
        const szx = current.szx;
        if (received % blockSize(szx) !== 0) throw new CoapRequestError('protocol', 'a block of the answer is not a whole block');
        const options = (req.options ?? []).filter((o) => o.number !== Opt.Observe && o.number !== Opt.Block1 && o.number !== Opt.Size1 && o.number !== Opt.Block2);
        options.push({ number: Opt.Block2, value: encodeBlock({ num: received / blockSize(szx), more: false, szx }) });
        // FETCH carries its query in the payload (RFC 8132): every block request repeats it; others send none.
        const payload = req.code === CoapCode.FETCH ? (req.payload ?? Buffer.alloc(0)) : Buffer.alloc(0);
        const next = await this.exchange(peer, { code: req.code, options, payload, confirmable: req.confirmable ?? true }, timeoutMs);
        if (next.code >> 5 !== 2) throw new CoapRequestError('protocol', `block ${received / blockSize(szx)} was answered ${codeText(next.code)}`, toResponse(next));
        const nextEtag = firstOption(next, Opt.ETag);
        if (etag && nextEtag && !etag.equals(nextEtag)) {
          changed = true;
          answer = next;
          break;
        }
        const nextBlock = blockOf(next);
        if (!nextBlock || nextBlock.num * blockSize(nextBlock.szx) !== received) throw new CoapRequestError('protocol', 'the answer is not the block asked for');
        chunks.push(next.payload);
        received += next.payload.length;
        current = nextBlock;
      }
      if (!changed) {
        if (received > maxBytes) throw new CoapRequestError('too_large', `the answer exceeds the limit of ${maxBytes} bytes`);
        return { code: first.code, options: first.options.filter((o) => o.number !== Opt.Block2 && o.number !== Opt.Size2), payload: Buffer.concat(chunks) };
      }
      // The representation changed between blocks (RFC 7959 §2.4): start again from block 0.
      if (restarts >= BLOCK2_RESTARTS) throw new CoapRequestError('protocol', 'the representation kept changing during the block-wise transfer');
      const options = (req.options ?? []).filter((o) => o.number !== Opt.Observe && o.number !== Opt.Block1 && o.number !== Opt.Size1 && o.number !== Opt.Block2);
      options.push({ number: Opt.Block2, value: encodeBlock({ num: 0, more: false, szx: blockOf(answer)?.szx ?? MAX_SZX }) });
      answer = await this.exchange(peer, { code: req.code, options, payload: req.code === CoapCode.FETCH ? (req.payload ?? Buffer.alloc(0)) : Buffer.alloc(0), confirmable: req.confirmable ?? true }, timeoutMs);
      if (answer.code >> 5 !== 2) throw new CoapRequestError('protocol', `block 0 was answered ${codeText(answer.code)}`, toResponse(answer));
    }
  }

  /** GET/FETCH ask for a smaller Block2 size up front (§2.4 early negotiation) when the channel or the caller wants one. */
  private withBlock2Hint(peer: DatagramPeer<P>, code: number, options: CoapOption[], requested: number | undefined): CoapOption[] {
    if ((code !== CoapCode.GET && code !== CoapCode.FETCH) || options.some((o) => o.number === Opt.Block2)) return options;
    const fits = szxFitting(this.transport.maxPayload(peer) - RESPONSE_OVERHEAD);
    const szx = Math.min(requested ?? MAX_SZX, fits);
    if (requested === undefined && szx === MAX_SZX) return options;
    return [...options, { number: Opt.Block2, value: encodeBlock({ num: 0, more: false, szx }) }];
  }

  /** The largest Block1 size whose datagram (header, token, these options, Block1, Size1) fits the channel. */
  private requestSzx(peer: DatagramPeer<P>, options: CoapOption[]): number {
    const header = encodeMessage({ type: 'CON', code: CoapCode.PUT, messageId: 0, token: Buffer.alloc(TOKEN_BYTES), options: [...options, { number: Opt.Block1, value: Buffer.alloc(3) }, { number: Opt.Size1, value: Buffer.alloc(4) }], payload: Buffer.alloc(0) }).length + 1;
    return szxFitting(this.transport.maxPayload(peer) - header);
  }

  private newToken(peer: DatagramPeer<P>): Buffer {
    for (;;) {
      const token = randomBytes(TOKEN_BYTES);
      if (!this.byToken.has(tokenKey(peer, token))) return token;
    }
  }

  private deliver(onNotify: (n: IncomingResponse) => void, response: IncomingResponse): void {
    try {
      onNotify(response);
    } catch (err) {
      this.logger.warn({ err }, 'observe notification handler failed');
    }
  }
}

/** The block size exponent of a size the caller gives (16…1024, a power of two). */
function szxOf(size: number): number {
  for (let szx = 0; szx <= MAX_SZX; szx += 1) if (blockSize(szx) === size) return szx;
  throw new RangeError(`block size ${size} is not one of 16, 32, …, 1024`);
}

/** The largest block that fits `room` bytes (at least 16: a channel that small cannot carry CoAP anyway). */
export function szxFitting(room: number): number {
  let szx = MAX_SZX;
  while (szx > 0 && blockSize(szx) > room) szx -= 1;
  return szx;
}

/** RFC 7641 §3.4: is notification `v2` (arriving at `t2`) newer than the last one taken (`v1` at `t1`)? */
export function isFresh(v1: number, v2: number, t1: number, t2: number): boolean {
  return (v1 < v2 && v2 - v1 < OBSERVE_WRAP) || (v1 > v2 && v1 - v2 > OBSERVE_WRAP) || t2 > t1 + OBSERVE_FRESH_AFTER_MS;
}

function blockOf(message: CoapMessage, option: number = Opt.Block2): ReturnType<typeof decodeBlock> {
  const value = firstOption(message, option);
  return value === undefined ? undefined : decodeBlock(value);
}

function toResponse(message: CoapMessage): IncomingResponse {
  return { code: message.code, options: message.options, payload: message.payload };
}

function tokenKey(peer: DatagramPeer<unknown>, token: Buffer): string {
  return `${peer.key}|${token.toString('hex')}`;
}
