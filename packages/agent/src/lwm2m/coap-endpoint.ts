/**
 * One CoAP endpoint of an LwM2M client over one transport (UDP or DTLS): it is a CoAP client
 * for the requests the device sends (Register, Update, De-register, Send, firmware pulls) and
 * a CoAP server for the requests the LwM2M server sends it (Read, Write, Execute, Observe …).
 * RFC 7252 message layer (CON retransmission, de-duplication, piggybacked and separate
 * responses), RFC 7641 notifications and RFC 7959 block-wise transfer in both directions.
 */
import { randomBytes, randomInt } from 'node:crypto';
import {
  CoapCode,
  CoapFormatError,
  CoapOptionNumber,
  blockSize,
  codeText,
  decodeBlock,
  encodeBlock,
  encodeMessage,
  encodeUint,
  firstOption,
  isRequestCode,
  optionValues,
  parseMessage,
  type CoapMessage,
  type CoapOption,
  type CoapType,
} from '@hangar/protocol/coap';
import type { DatagramTransport } from './transport.js';

export interface CoapTiming {
  /** RFC 7252 §4.8 ACK_TIMEOUT (2 s), ACK_RANDOM_FACTOR (1.5), MAX_RETRANSMIT (4). */
  ackTimeoutMs: number;
  ackRandomFactor: number;
  maxRetransmit: number;
  /** How long a response to a request (or a separate response after an empty ACK) is awaited. */
  exchangeTimeoutMs: number;
}

export const DEFAULT_TIMING: CoapTiming = { ackTimeoutMs: 2000, ackRandomFactor: 1.5, maxRetransmit: 4, exchangeTimeoutMs: 93_000 };

export interface OutgoingRequest {
  code: number;
  path?: string[];
  query?: string[];
  /** Further options (Content-Format, Accept, Observe …); Uri-Path and Uri-Query come from `path` and `query`. */
  options?: CoapOption[];
  payload?: Buffer;
  /** CON (default) or NON. */
  confirmable?: boolean;
}

export interface CoapResponse {
  code: number;
  options: CoapOption[];
  payload: Buffer;
}

export interface IncomingRequest {
  code: number;
  path: string[];
  query: string[];
  options: CoapOption[];
  /** The whole body: Block1 transfers are reassembled before the handler sees them. */
  payload: Buffer;
  token: Buffer;
  confirmable: boolean;
}

export interface ResponseToSend {
  code: number;
  options?: CoapOption[];
  payload?: Buffer;
}

export interface IncomingHandler {
  handle(request: IncomingRequest): Promise<ResponseToSend> | ResponseToSend;
  /** False while the device sleeps (LwM2M queue mode): requests are then not heard at all. */
  accepting?(): boolean;
  /** The first block of a Block1 transfer arrived (firmware push: State goes to Downloading). */
  blockTransferStarted?(request: IncomingRequest): void;
  /** A block of a Block1 transfer arrived in sequence (the first one included). */
  blockReceived?(request: IncomingRequest): void;
}

export class CoapRequestError extends Error {
  override readonly name = 'CoapRequestError';
  constructor(
    message: string,
    readonly reason: 'timeout' | 'reset' | 'closed' | 'too_large' | 'protocol',
  ) {
    super(message);
  }
}

export interface CoapEndpointOptions {
  handler?: IncomingHandler;
  timing?: Partial<CoapTiming>;
  /** Largest reassembled Block1 body accepted (default 16 MiB); past it: 4.13. */
  maxBodyBytes?: number;
  /** Block size exponent of outgoing Block1 bodies and Block2 answers (default 6: 1024 bytes). */
  blockSzx?: number;
  /** The server reset a notification: it no longer wants that observation (RFC 7641 §3.6). */
  onReset?(token: Buffer): void;
}

interface PendingCon {
  datagram: Buffer;
  attempts: number;
  timer: NodeJS.Timeout | undefined;
  /** Empty ACK or piggybacked response arrived. */
  onAck(message: CoapMessage): void;
  onReset(): void;
  onGiveUp(): void;
}

interface AwaitedResponse {
  resolve(message: CoapMessage): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

interface Block1Body {
  key: string;
  parts: Buffer[];
  size: number;
  nextNum: number;
}

const DEDUP_ENTRIES = 256;
const NON_RESET_MEMORY = 256;

export class CoapEndpoint {
  private readonly timing: CoapTiming;
  private nextMessageId = randomInt(0, 0x10000);
  private tokenCounter = randomInt(0, 0x1000000);
  private readonly tokenPrefix = randomBytes(4);
  private readonly cons = new Map<number, PendingCon>();
  private readonly awaited = new Map<string, AwaitedResponse>();
  /** Incoming request message ids → the datagram answered (undefined while the handler runs). */
  private readonly answered = new Map<number, Buffer | undefined>();
  /** NON notifications recently sent: message id → token, to map an RST onto its observation. */
  private readonly nonSent = new Map<number, Buffer>();
  private block1: Block1Body | undefined;
  private closed = false;
  private readonly maxBodyBytes: number;
  private readonly blockSzx: number;
  handler: IncomingHandler | undefined;

  constructor(
    readonly transport: DatagramTransport,
    private readonly options: CoapEndpointOptions = {},
  ) {
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.handler = options.handler;
    this.maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
    this.blockSzx = options.blockSzx ?? 6;
    transport.onDatagram((d) => this.receive(d));
    transport.onClose(() => this.shutdown());
  }

  /**
   * Sends a request and resolves with its response: CON retransmitted, piggybacked or separate
   * responses, a payload larger than a block sent by Block1, a Block2 answer followed to its end.
   */
  async request(req: OutgoingRequest, opts: { timeoutMs?: number; maxResponseBytes?: number } = {}): Promise<CoapResponse> {
    const base: CoapOption[] = [
      ...(req.path ?? []).map((s) => ({ number: CoapOptionNumber.UriPath, value: Buffer.from(s) })),
      ...(req.query ?? []).map((s) => ({ number: CoapOptionNumber.UriQuery, value: Buffer.from(s) })),
      ...(req.options ?? []),
    ];
    const payload = req.payload ?? Buffer.alloc(0);
    const size = blockSize(this.blockSzx);
    let response: CoapMessage;
    if (payload.length <= size) {
      response = await this.exchange({ code: req.code, options: base, payload }, req.confirmable !== false, opts.timeoutMs);
    } else {
      // RFC 7959 §2.5: each block is its own request; the server answers 2.31 until the last.
      const requestTag = randomBytes(4);
      let szx = this.blockSzx;
      for (let num = 0; ; num += 1) {
        const size = blockSize(szx);
        const chunk = payload.subarray(num * size, (num + 1) * size);
        const more = (num + 1) * size < payload.length;
        const options = [
          ...base,
          { number: CoapOptionNumber.Block1, value: encodeBlock({ num, more, szx }) },
          { number: CoapOptionNumber.RequestTag, value: requestTag },
          ...(num === 0 ? [{ number: CoapOptionNumber.Size1, value: encodeUint(payload.length) }] : []),
        ];
        response = await this.exchange({ code: req.code, options, payload: chunk }, req.confirmable !== false, opts.timeoutMs);
        if (!more) break;
        if (response.code !== CoapCode.Continue) return toResponse(response);
        // RFC 7959 §2.5: the server may ask for smaller blocks; carry on from the same byte.
        const echoed = firstOption(response, CoapOptionNumber.Block1);
        const asked = echoed === undefined ? undefined : decodeBlock(echoed);
        if (asked && asked.szx < szx) {
          num = ((num + 1) * size) / blockSize(asked.szx) - 1;
          szx = asked.szx;
        }
      }
    }
    return this.followBlock2(req, base, response!, opts);
  }

  private async followBlock2(req: OutgoingRequest, base: CoapOption[], first: CoapMessage, opts: { timeoutMs?: number; maxResponseBytes?: number }): Promise<CoapResponse> {
    const limit = opts.maxResponseBytes ?? 64 * 1024 * 1024;
    const block2Raw = firstOption(first, CoapOptionNumber.Block2);
    const block = block2Raw === undefined ? undefined : decodeBlock(block2Raw);
    if (!block || !block.more) {
      if (first.payload.length > limit) throw new CoapRequestError(`response of ${first.payload.length} bytes exceeds ${limit}`, 'too_large');
      return toResponse(first);
    }
    const parts = [first.payload];
    let received = first.payload.length;
    const szx = block.szx;
    let num = block.num;
    const onward = base.filter((o) => o.number !== CoapOptionNumber.Observe && o.number !== CoapOptionNumber.Block1 && o.number !== CoapOptionNumber.Block2 && o.number !== CoapOptionNumber.Size1);
    for (;;) {
      num += 1;
      const next = await this.exchange(
        { code: req.code, options: [...onward, { number: CoapOptionNumber.Block2, value: encodeBlock({ num, more: false, szx }) }], payload: req.code === CoapCode.FETCH ? (req.payload ?? Buffer.alloc(0)) : Buffer.alloc(0) },
        true,
        opts.timeoutMs,
      );
      if (next.code >> 5 !== 2) return toResponse(next);
      const raw = firstOption(next, CoapOptionNumber.Block2);
      const b = raw === undefined ? undefined : decodeBlock(raw);
      if (!b || b.num !== num) throw new CoapRequestError(`expected Block2 number ${num} in the answer`, 'protocol');
      received += next.payload.length;
      if (received > limit) throw new CoapRequestError(`response exceeds ${limit} bytes`, 'too_large');
      parts.push(next.payload);
      if (!b.more) return { code: first.code, options: first.options.filter((o) => o.number !== CoapOptionNumber.Block2), payload: Buffer.concat(parts) };
    }
  }

  /** One request message and its response (piggybacked, or separate after an empty ACK). */
  private exchange(body: { code: number; options: CoapOption[]; payload: Buffer }, confirmable: boolean, timeoutMs?: number): Promise<CoapMessage> {
    if (this.closed) return Promise.reject(new CoapRequestError('the endpoint is closed', 'closed'));
    const token = this.newToken();
    const messageId = this.newMessageId();
    const datagram = encodeMessage({ type: confirmable ? 'CON' : 'NON', code: body.code, messageId, token, options: body.options, payload: body.payload });
    return new Promise<CoapMessage>((resolve, reject) => {
      const key = token.toString('hex');
      const done = (): void => {
        clearTimeout(waiting.timer);
        this.awaited.delete(key);
        this.dropCon(messageId);
      };
      const waiting: AwaitedResponse = {
        resolve: (m) => {
          done();
          resolve(m);
        },
        reject: (e) => {
          done();
          reject(e);
        },
        timer: setTimeout(() => waiting.reject(new CoapRequestError(`no response within ${timeoutMs ?? this.timing.exchangeTimeoutMs} ms`, 'timeout')), timeoutMs ?? this.timing.exchangeTimeoutMs),
      };
      this.awaited.set(key, waiting);
      if (confirmable) {
        this.sendCon(messageId, datagram, {
          onAck: (m) => {
            if (m.code !== CoapCode.Empty) waiting.resolve(m);
          },
          onReset: () => waiting.reject(new CoapRequestError('the server reset the request', 'reset')),
          onGiveUp: () => waiting.reject(new CoapRequestError(`no acknowledgement after ${this.timing.maxRetransmit} retransmissions`, 'timeout')),
        });
      } else {
        this.transport.send(datagram);
      }
    });
  }

  /**
   * Sends a notification of an observation (RFC 7641 §4.2) with the observation's token. CON
   * resolves once acknowledged; a reset rejects with reason `reset` (the observer is gone).
   */
  notify(token: Buffer, response: ResponseToSend, confirmable: boolean): Promise<void> {
    if (this.closed) return Promise.reject(new CoapRequestError('the endpoint is closed', 'closed'));
    const messageId = this.newMessageId();
    const datagram = encodeMessage({ type: confirmable ? 'CON' : 'NON', code: response.code, messageId, token, options: response.options ?? [], payload: response.payload ?? Buffer.alloc(0) });
    if (!confirmable) {
      this.nonSent.set(messageId, token);
      if (this.nonSent.size > NON_RESET_MEMORY) this.nonSent.delete(this.nonSent.keys().next().value!);
      this.transport.send(datagram);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.sendCon(messageId, datagram, {
        onAck: () => {
          this.dropCon(messageId);
          resolve();
        },
        onReset: () => {
          this.dropCon(messageId);
          this.options.onReset?.(token);
          reject(new CoapRequestError('the server reset the notification', 'reset'));
        },
        onGiveUp: () => reject(new CoapRequestError('notification not acknowledged', 'timeout')),
      });
    });
  }

  async close(): Promise<void> {
    this.shutdown();
    await this.transport.close();
  }

  private shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    for (const con of this.cons.values()) clearTimeout(con.timer);
    const cons = [...this.cons.values()];
    this.cons.clear();
    for (const con of cons) con.onGiveUp();
    for (const waiting of [...this.awaited.values()]) waiting.reject(new CoapRequestError('the endpoint closed', 'closed'));
  }

  private sendCon(messageId: number, datagram: Buffer, handlers: Pick<PendingCon, 'onAck' | 'onReset' | 'onGiveUp'>): void {
    const pending: PendingCon = { datagram, attempts: 0, timer: undefined, ...handlers };
    this.cons.set(messageId, pending);
    // RFC 7252 §4.2: the first timeout is random in [ACK_TIMEOUT, ACK_TIMEOUT × ACK_RANDOM_FACTOR], then doubles.
    let timeout = this.timing.ackTimeoutMs * (1 + Math.random() * (this.timing.ackRandomFactor - 1));
    const transmit = (): void => {
      if (this.cons.get(messageId) !== pending) return;
      if (pending.attempts > this.timing.maxRetransmit) {
        this.cons.delete(messageId);
        pending.onGiveUp();
        return;
      }
      pending.attempts += 1;
      this.transport.send(datagram);
      pending.timer = setTimeout(transmit, timeout);
      timeout *= 2;
    };
    transmit();
  }

  private dropCon(messageId: number): void {
    const pending = this.cons.get(messageId);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.cons.delete(messageId);
  }

  private newMessageId(): number {
    this.nextMessageId = (this.nextMessageId + 1) & 0xffff;
    return this.nextMessageId;
  }

  /** A counter behind a random per-endpoint prefix (RFC 7252 §5.3.1: tokens need not be unguessable on a secured or connected path). */
  private newToken(): Buffer {
    this.tokenCounter = (this.tokenCounter + 1) >>> 0;
    const token = Buffer.alloc(8);
    this.tokenPrefix.copy(token, 0);
    token.writeUInt32BE(this.tokenCounter, 4);
    return token;
  }

  private receive(datagram: Buffer): void {
    if (this.closed) return;
    let message: CoapMessage;
    try {
      message = parseMessage(datagram);
    } catch (err) {
      // RFC 7252 §4.2/§4.3: a malformed CON or NON is rejected with RST when its id is readable.
      if (err instanceof CoapFormatError && err.messageId !== undefined && (err.type === 'CON' || err.type === 'NON')) this.sendEmpty('RST', err.messageId);
      return;
    }
    if (message.type === 'ACK' || message.type === 'RST') return this.onAckOrReset(message);
    if (message.code === CoapCode.Empty) {
      // A CON ping (§4.3) is answered with RST.
      if (message.type === 'CON') this.sendEmpty('RST', message.messageId);
      return;
    }
    if (isRequestCode(message.code)) {
      if (this.handler?.accepting?.() === false) return;
      void this.onRequest(message);
      return;
    }
    // A separate response (§5.2.2): acknowledge a CON, then match its token.
    const waiting = this.awaited.get(message.token.toString('hex'));
    if (!waiting) {
      if (message.type === 'CON') this.sendEmpty('RST', message.messageId);
      return;
    }
    if (message.type === 'CON') this.sendEmpty('ACK', message.messageId);
    waiting.resolve(message);
  }

  private onAckOrReset(message: CoapMessage): void {
    const pending = this.cons.get(message.messageId);
    if (message.type === 'RST') {
      if (pending) {
        this.dropCon(message.messageId);
        pending.onReset();
        return;
      }
      const token = this.nonSent.get(message.messageId);
      if (token) {
        this.nonSent.delete(message.messageId);
        this.options.onReset?.(token);
      }
      return;
    }
    if (!pending) return;
    clearTimeout(pending.timer);
    pending.timer = undefined;
    // Stop retransmitting; the exchange stays awaited until its (separate) response.
    this.cons.delete(message.messageId);
    pending.onAck(message);
  }

  private async onRequest(message: CoapMessage): Promise<void> {
    // §4.5: a duplicate CON gets the same answer again; a duplicate still being handled is dropped.
    if (this.answered.has(message.messageId)) {
      const previous = this.answered.get(message.messageId);
      if (previous) this.transport.send(previous);
      return;
    }
    this.answered.set(message.messageId, undefined);
    if (this.answered.size > DEDUP_ENTRIES) this.answered.delete(this.answered.keys().next().value!);
    let response: ResponseToSend;
    try {
      response = await this.respond(message);
    } catch {
      response = { code: CoapCode.InternalServerError };
    }
    const type: CoapType = message.type === 'CON' ? 'ACK' : 'NON';
    const datagram = encodeMessage({
      type,
      code: response.code,
      messageId: type === 'ACK' ? message.messageId : this.newMessageId(),
      token: message.token,
      options: response.options ?? [],
      payload: response.payload ?? Buffer.alloc(0),
    });
    this.answered.set(message.messageId, datagram);
    if (!this.closed) this.transport.send(datagram);
  }

  private async respond(message: CoapMessage): Promise<ResponseToSend> {
    const request: IncomingRequest = {
      code: message.code,
      path: optionValues(message, CoapOptionNumber.UriPath).map((v) => v.toString('utf8')),
      query: optionValues(message, CoapOptionNumber.UriQuery).map((v) => v.toString('utf8')),
      options: message.options,
      payload: message.payload,
      token: message.token,
      confirmable: message.type === 'CON',
    };
    const block1Raw = firstOption(message, CoapOptionNumber.Block1);
    let block1Echo: CoapOption | undefined;
    if (block1Raw !== undefined) {
      const block = decodeBlock(block1Raw);
      if (!block || block.szx > 6) return { code: CoapCode.BadOption };
      const key = `${message.code}|${request.path.join('/')}|${request.query.join('&')}`;
      const size = blockSize(block.szx);
      if (block.num === 0) {
        this.block1 = { key, parts: [], size: 0, nextNum: 0 };
        this.handler?.blockTransferStarted?.(request);
      }
      const body = this.block1;
      // RFC 7959 §2.3: a block out of sequence (or of another transfer) is 4.08.
      if (!body || body.key !== key || block.num !== body.nextNum || (block.more && message.payload.length !== size)) {
        return { code: CoapCode.RequestEntityIncomplete };
      }
      body.size += message.payload.length;
      if (body.size > this.maxBodyBytes) {
        this.block1 = undefined;
        return { code: CoapCode.RequestEntityTooLarge, options: [{ number: CoapOptionNumber.Size1, value: encodeUint(this.maxBodyBytes) }] };
      }
      body.parts.push(message.payload);
      body.nextNum = block.num + 1;
      this.handler?.blockReceived?.(request);
      block1Echo = { number: CoapOptionNumber.Block1, value: encodeBlock({ num: block.num, more: block.more, szx: block.szx }) };
      if (block.more) return { code: CoapCode.Continue, options: [block1Echo] };
      this.block1 = undefined;
      request.payload = Buffer.concat(body.parts);
      request.options = message.options.filter((o) => o.number !== CoapOptionNumber.Block1);
    }
    if (!this.handler) return { code: CoapCode.NotFound };
    const response = await this.handler.handle(request);
    const options = [...(response.options ?? []), ...(block1Echo ? [block1Echo] : [])];
    const payload = response.payload ?? Buffer.alloc(0);
    // RFC 7959 §2.4: a body larger than a block goes by Block2, in the size the client asked for.
    const block2Raw = firstOption(message, CoapOptionNumber.Block2);
    const wanted = block2Raw === undefined ? undefined : decodeBlock(block2Raw);
    const szx = Math.min(wanted?.szx ?? this.blockSzx, this.blockSzx);
    const size = blockSize(szx);
    if (payload.length > size || (wanted && wanted.num > 0)) {
      const num = wanted?.num ?? 0;
      if (num * size >= payload.length && num > 0) return { code: CoapCode.BadOption };
      const more = (num + 1) * size < payload.length;
      return {
        code: response.code,
        options: [
          ...options.filter((o) => o.number !== CoapOptionNumber.Observe || num === 0),
          { number: CoapOptionNumber.Block2, value: encodeBlock({ num, more, szx }) },
          ...(num === 0 ? [{ number: CoapOptionNumber.Size2, value: encodeUint(payload.length) }] : []),
        ],
        payload: payload.subarray(num * size, (num + 1) * size),
      };
    }
    return { code: response.code, options, payload };
  }

  private sendEmpty(type: 'ACK' | 'RST', messageId: number): void {
    this.transport.send(encodeMessage({ type, code: CoapCode.Empty, messageId, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) }));
  }
}

function toResponse(message: CoapMessage): CoapResponse {
  return { code: message.code, options: message.options, payload: message.payload };
}

/** `4.04 Not Found`-style description of a failed response, for errors. */
export function describeResponse(response: CoapResponse): string {
  const text = response.payload.length > 0 && response.payload.length < 200 ? `: ${response.payload.toString('utf8')}` : '';
  return `${codeText(response.code)}${text}`;
}
