import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import {
  CoapCode,
  CoapFormatError,
  codeText,
  encodeMessage,
  isRequestCode,
  parseMessage,
  type CoapMessage,
  type CoapOption,
} from '@hangar/protocol/coap';

/** A UDP peer; `key` ("address:port", "[v6]:port") identifies it in every cache. */
export interface Remote {
  address: string;
  port: number;
  key: string;
}

export interface CoapRequest {
  message: CoapMessage;
  remote: Remote;
}

export interface CoapResponse {
  code: number;
  options?: CoapOption[];
  payload?: Buffer;
}

export type CoapRequestHandler = (request: CoapRequest) => Promise<CoapResponse>;

/** What became of a confirmable message Hangar sent (a separate response, a notification). */
export type DeliveryOutcome = 'acked' | 'reset' | 'timeout' | 'closed';

/** RFC 7252 §4.8 transmission parameters; tests shorten them. */
export interface CoapTiming {
  ackTimeoutMs: number;
  ackRandomFactor: number;
  maxRetransmit: number;
  /** How long a CON request's answer is kept for retransmissions of it (§4.8.2 EXCHANGE_LIFETIME). */
  exchangeLifetimeMs: number;
  /** The same for NON requests (§4.8.2 NON_LIFETIME): duplicates are dropped, not processed twice. */
  nonLifetimeMs: number;
  /** A CON request still being handled after this long gets an empty ACK and, later, a separate response (§5.2.2). */
  separateResponseAfterMs: number;
}

export const DEFAULT_TIMING: CoapTiming = {
  ackTimeoutMs: 2000,
  ackRandomFactor: 1.5,
  maxRetransmit: 4,
  exchangeLifetimeMs: 247_000,
  nonLifetimeMs: 145_000,
  separateResponseAfterMs: 1000,
};

export interface CoapServerOptions {
  handler: CoapRequestHandler;
  logger: Logger;
  timing?: Partial<CoapTiming>;
  /** Bound on remembered exchanges (de-duplication); the oldest are forgotten first. */
  maxExchanges?: number;
}

interface Exchange {
  expiresAt: number;
  /** The datagram that answers a retransmission: the piggybacked response, or the empty ACK of a separate one. */
  reply: Buffer | undefined;
  separate: boolean;
}

interface Outstanding {
  datagram: Buffer;
  remote: Remote;
  attempts: number;
  timer: NodeJS.Timeout;
  settle: (outcome: DeliveryOutcome) => void;
}

/**
 * CoAP messaging over one UDP socket (RFC 7252 §4–5): confirmable and non-confirmable
 * requests, piggybacked and separate responses, de-duplication by message id, retransmission
 * of what Hangar sends confirmably, Reset handling, pings. It knows nothing of resources: each
 * request goes to the handler, whose answer it delivers. Malformed datagrams are dropped (or
 * answered with RST when they were confirmable, §4.2); nothing a peer sends can throw out of
 * the socket's message handler.
 */
export class CoapServer {
  private readonly timing: CoapTiming;
  private readonly maxExchanges: number;
  private readonly exchanges = new Map<string, Exchange>();
  private readonly outstanding = new Map<string, Outstanding>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly sweep: NodeJS.Timeout;
  private socket: Socket | undefined;
  private nextMessageId = randomInt(0x10000);
  private closed = false;

  constructor(private readonly options: CoapServerOptions) {
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.maxExchanges = options.maxExchanges ?? 100_000;
    this.sweep = setInterval(() => this.forgetExpired(), 5000);
    this.sweep.unref();
  }

  /** Binds the socket; resolves with the bound port (useful with port 0). */
  listen(port: number, host = '0.0.0.0'): Promise<number> {
    if (this.socket) return Promise.reject(new Error('the CoAP server is already listening'));
    const socket = createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
    this.socket = socket;
    return new Promise((resolve, reject) => {
      const onBindError = (err: Error): void => {
        this.socket = undefined;
        try {
          socket.close();
        } catch {
          // never bound: nothing to release
        }
        reject(err);
      };
      socket.once('error', onBindError);
      socket.bind(port, host, () => {
        socket.off('error', onBindError);
        socket.on('error', (err) => this.options.logger.warn({ err }, 'CoAP socket error'));
        socket.on('message', (datagram, rinfo) => this.receive(datagram, rinfo));
        resolve(socket.address().port);
      });
    });
  }

  get port(): number | undefined {
    return this.socket?.address().port;
  }

  /**
   * Stops receiving, settles every pending delivery as `closed`, and waits for requests
   * still being handled (their writes finish; their answers are dropped).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweep);
    for (const [key, o] of this.outstanding) {
      clearTimeout(o.timer);
      this.outstanding.delete(key);
      o.settle('closed');
    }
    await Promise.allSettled([...this.inFlight]);
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  /**
   * Sends a confirmable message with a fresh message id and retransmits it with exponential
   * back-off (§4.2) until the peer acknowledges or resets it, or MAX_RETRANSMIT is spent.
   */
  sendConfirmable(remote: Remote, message: { code: number; token: Buffer; options?: CoapOption[]; payload?: Buffer }): Promise<DeliveryOutcome> {
    if (this.closed) return Promise.resolve('closed');
    const messageId = this.allocateMessageId();
    const datagram = encodeMessage({ type: 'CON', code: message.code, messageId, token: message.token, options: message.options ?? [], payload: message.payload ?? Buffer.alloc(0) });
    const key = `${remote.key}#${messageId}`;
    return new Promise((resolve) => {
      const initial = this.timing.ackTimeoutMs * (1 + Math.random() * (this.timing.ackRandomFactor - 1));
      const entry: Outstanding = {
        datagram,
        remote,
        attempts: 0,
        timer: setTimeout(() => retransmit(initial), initial),
        settle: resolve,
      };
      const retransmit = (waited: number): void => {
        if (entry.attempts >= this.timing.maxRetransmit) {
          this.outstanding.delete(key);
          resolve('timeout');
          return;
        }
        entry.attempts += 1;
        this.send(datagram, remote);
        entry.timer = setTimeout(() => retransmit(waited * 2), waited * 2);
      };
      this.outstanding.set(key, entry);
      this.send(datagram, remote);
    });
  }

  /** Sends a non-confirmable message (fire and forget). */
  sendNonConfirmable(remote: Remote, message: { code: number; token: Buffer; options?: CoapOption[]; payload?: Buffer }): void {
    this.send(encodeMessage({ type: 'NON', code: message.code, messageId: this.allocateMessageId(), token: message.token, options: message.options ?? [], payload: message.payload ?? Buffer.alloc(0) }), remote);
  }

  private receive(datagram: Buffer, rinfo: RemoteInfo): void {
    const remote: Remote = { address: rinfo.address, port: rinfo.port, key: rinfo.family === 'IPv6' ? `[${rinfo.address}]:${rinfo.port}` : `${rinfo.address}:${rinfo.port}` };
    let message: CoapMessage;
    try {
      message = parseMessage(datagram);
    } catch (err) {
      if (err instanceof CoapFormatError) {
        this.options.logger.debug({ remote: remote.key, reason: err.message }, 'CoAP datagram dropped');
        // §4.2: a confirmable message that cannot be processed is rejected with a Reset.
        if (err.type === 'CON' && err.messageId !== undefined) this.sendEmpty('RST', err.messageId, remote);
      } else {
        this.options.logger.warn({ err, remote: remote.key }, 'CoAP datagram could not be read');
      }
      return;
    }
    try {
      this.dispatch(message, remote);
    } catch (err) {
      this.options.logger.error({ err, remote: remote.key }, 'CoAP message handling failed');
    }
  }

  private dispatch(message: CoapMessage, remote: Remote): void {
    if (message.type === 'ACK' || message.type === 'RST') {
      const key = `${remote.key}#${message.messageId}`;
      const entry = this.outstanding.get(key);
      if (!entry) return;
      clearTimeout(entry.timer);
      this.outstanding.delete(key);
      entry.settle(message.type === 'ACK' ? 'acked' : 'reset');
      return;
    }
    if (message.code === CoapCode.Empty) {
      // §4.3: an empty CON is a "ping"; the Reset proves liveness. An empty NON means nothing.
      if (message.type === 'CON') this.sendEmpty('RST', message.messageId, remote);
      return;
    }
    if (!isRequestCode(message.code)) {
      // A response Hangar never asked for (it sends no requests): reject it if it wants an answer.
      this.options.logger.debug({ remote: remote.key, code: codeText(message.code) }, 'unexpected CoAP response dropped');
      if (message.type === 'CON') this.sendEmpty('RST', message.messageId, remote);
      return;
    }
    this.acceptRequest(message, remote);
  }

  private acceptRequest(message: CoapMessage, remote: Remote): void {
    const key = `${remote.key}#${message.messageId}`;
    const known = this.exchanges.get(key);
    if (known) {
      // §4.5: a duplicate is not processed again. A retransmitted CON gets the same answer; if the
      // answer is not ready, the client is told (empty ACK) that a separate response will follow.
      if (message.type === 'CON') {
        if (!known.reply) {
          known.separate = true;
          known.reply = this.emptyDatagram('ACK', message.messageId);
        }
        this.send(known.reply, remote);
      }
      return;
    }
    const confirmable = message.type === 'CON';
    const exchange: Exchange = { expiresAt: Date.now() + (confirmable ? this.timing.exchangeLifetimeMs : this.timing.nonLifetimeMs), reply: undefined, separate: false };
    this.remember(key, exchange);
    const delay = confirmable
      ? setTimeout(() => {
          if (exchange.reply || this.closed) return;
          exchange.separate = true;
          exchange.reply = this.emptyDatagram('ACK', message.messageId);
          this.send(exchange.reply, remote);
        }, this.timing.separateResponseAfterMs)
      : undefined;
    const work = this.answer(message, remote).then((response) => {
      clearTimeout(delay);
      if (this.closed) return;
      const options = response.options ?? [];
      const payload = response.payload ?? Buffer.alloc(0);
      if (!confirmable) {
        this.sendNonConfirmable(remote, { code: response.code, token: message.token, options, payload });
      } else if (!exchange.separate) {
        exchange.reply = encodeMessage({ type: 'ACK', code: response.code, messageId: message.messageId, token: message.token, options, payload });
        this.send(exchange.reply, remote);
      } else {
        // §5.2.2: the separate response is itself confirmable, matched to the request by token.
        void this.sendConfirmable(remote, { code: response.code, token: message.token, options, payload }).then((outcome) => {
          if (outcome !== 'acked') this.options.logger.debug({ remote: remote.key, outcome }, 'separate CoAP response not acknowledged');
        });
      }
    });
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private async answer(message: CoapMessage, remote: Remote): Promise<CoapResponse> {
    try {
      return await this.options.handler({ message, remote });
    } catch (err) {
      this.options.logger.error({ err, remote: remote.key }, 'CoAP request handler failed');
      return { code: CoapCode.InternalServerError };
    }
  }

  private remember(key: string, exchange: Exchange): void {
    this.exchanges.set(key, exchange);
    if (this.exchanges.size > this.maxExchanges) {
      const oldest = this.exchanges.keys().next();
      if (!oldest.done) this.exchanges.delete(oldest.value);
    }
  }

  private forgetExpired(): void {
    const now = Date.now();
    // Insertion order is nearly expiry order (two lifetimes), so stop at the first live entry.
    for (const [key, exchange] of this.exchanges) {
      if (exchange.expiresAt > now) break;
      this.exchanges.delete(key);
    }
  }

  private allocateMessageId(): number {
    const id = this.nextMessageId;
    this.nextMessageId = (this.nextMessageId + 1) & 0xffff;
    return id;
  }

  private emptyDatagram(type: 'ACK' | 'RST', messageId: number): Buffer {
    return encodeMessage({ type, code: CoapCode.Empty, messageId, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) });
  }

  private sendEmpty(type: 'ACK' | 'RST', messageId: number, remote: Remote): void {
    this.send(this.emptyDatagram(type, messageId), remote);
  }

  private send(datagram: Buffer, remote: Remote): void {
    const socket = this.socket;
    if (!socket || this.closed) return;
    socket.send(datagram, remote.port, remote.address, (err) => {
      if (err) this.options.logger.debug({ err, remote: remote.key }, 'CoAP send failed');
    });
  }
}
