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
import type { DatagramChannel, DatagramPeer } from '../datagram-channel.js';
import { OutgoingRequests, type CoapRequester, type IncomingResponse, type MessageBody, type Observation, type OutgoingRequest, type RequestOptions } from './coap-requester.js';
import { UdpChannel } from './udp-channel.js';

/** A peer of the channel; `key` identifies it in every cache ("address:port" on UDP, the session over DTLS). */
export type Remote<P = unknown> = DatagramPeer<P>;

/**
 * What a resource handler may use to reach the peer later — notifications, or requests of its
 * own (LwM2M device management) — through the server the request came in on, so a device that
 * spoke over DTLS is answered over DTLS.
 */
export interface CoapSender<P = unknown> extends CoapRequester<P> {
  sendConfirmable(remote: DatagramPeer<P>, message: { code: number; token: Buffer; options?: CoapOption[]; payload?: Buffer }): Promise<DeliveryOutcome>;
  /** Largest datagram the channel carries to this peer (choose block sizes by it). */
  maxPayload(remote: DatagramPeer<P>): number;
}

export interface CoapRequest<P = unknown> {
  message: CoapMessage;
  remote: DatagramPeer<P>;
  /** The server that received the request; answers that come later (notifications) go out through it. */
  via: CoapSender<P>;
}

export interface CoapResponse {
  code: number;
  options?: CoapOption[];
  payload?: Buffer;
}

export type CoapRequestHandler<P = unknown> = (request: CoapRequest<P>) => Promise<CoapResponse>;

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

export interface CoapServerOptions<P = unknown> {
  /** What the server runs over; a new `UdpChannel` when absent. `close()` closes it. */
  channel?: DatagramChannel<P>;
  handler: CoapRequestHandler<P>;
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

interface Outstanding<P> {
  datagram: Buffer;
  remote: DatagramPeer<P>;
  attempts: number;
  timer: NodeJS.Timeout;
  settle: (outcome: DeliveryOutcome, ack?: CoapMessage) => void;
}

/**
 * CoAP messaging over one datagram channel (RFC 7252 §4–5): plain UDP or DTLS. Confirmable and
 * non-confirmable requests, piggybacked and separate responses, de-duplication by message id,
 * retransmission of what Hangar sends confirmably, Reset handling, pings. It knows nothing of
 * resources: each request goes to the handler, whose answer it delivers. It also sends requests
 * of its own (`CoapRequester`, for the LwM2M server): answers whose token matches one go there.
 * Malformed datagrams are dropped (or answered with RST when they were confirmable, §4.2);
 * nothing a peer sends can throw out of the channel's datagram handler.
 */
export class CoapServer<P = unknown> implements CoapRequester<P>, CoapSender<P> {
  private readonly timing: CoapTiming;
  private readonly maxExchanges: number;
  private readonly channel: DatagramChannel<P>;
  private readonly exchanges = new Map<string, Exchange>();
  private readonly outstanding = new Map<string, Outstanding<P>>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly requests: OutgoingRequests<P>;
  private readonly sweep: NodeJS.Timeout;
  private nextMessageId = randomInt(0x10000);
  private closed = false;

  constructor(private readonly options: CoapServerOptions<P>) {
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.maxExchanges = options.maxExchanges ?? 100_000;
    this.channel = options.channel ?? (new UdpChannel(options.logger) as DatagramChannel<P>);
    this.channel.onDatagram((datagram, peer) => this.receive(datagram, peer));
    this.requests = new OutgoingRequests<P>(
      {
        transmitConfirmable: (peer, message) => this.transmitConfirmable(peer, message),
        sendNonConfirmable: (peer, message) => this.sendNonConfirmable(peer, message),
        maxPayload: (peer) => this.channel.maxPayload(peer),
      },
      maxTransmitWait(this.timing),
      options.logger,
    );
    this.sweep = setInterval(() => this.forgetExpired(), 5000);
    this.sweep.unref();
  }

  /** Binds the channel; resolves with the bound port (useful with port 0). */
  listen(port: number, host = '0.0.0.0'): Promise<number> {
    return this.channel.listen(port, host);
  }

  get port(): number | undefined {
    return this.channel.port;
  }

  maxPayload(remote: DatagramPeer<P>): number {
    return this.channel.maxPayload(remote);
  }

  request(peer: DatagramPeer<P>, req: OutgoingRequest, opts?: RequestOptions): Promise<IncomingResponse> {
    return this.requests.request(peer, req, opts);
  }

  observe(peer: DatagramPeer<P>, req: OutgoingRequest, onNotify: (n: IncomingResponse) => void, opts?: { timeoutMs?: number; maxResponseBytes?: number }): Promise<Observation> {
    return this.requests.observe(peer, req, onNotify, opts);
  }

  /**
   * Stops receiving, settles every pending delivery as `closed`, fails pending requests, waits
   * for requests still being handled (their writes finish; their answers are dropped), then
   * closes the channel.
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
    this.requests.close();
    await Promise.allSettled([...this.inFlight]);
    await this.channel.close();
  }

  /**
   * Sends a confirmable message with a fresh message id and retransmits it with exponential
   * back-off (§4.2) until the peer acknowledges or resets it, or MAX_RETRANSMIT is spent.
   */
  sendConfirmable(remote: DatagramPeer<P>, message: { code: number; token: Buffer; options?: CoapOption[]; payload?: Buffer }): Promise<DeliveryOutcome> {
    return this.transmitConfirmable(remote, { code: message.code, token: message.token, options: message.options ?? [], payload: message.payload ?? Buffer.alloc(0) }).delivery.then((d) => d.outcome);
  }

  /** Sends a non-confirmable message (fire and forget). */
  sendNonConfirmable(remote: DatagramPeer<P>, message: { code: number; token: Buffer; options?: CoapOption[]; payload?: Buffer }): void {
    this.send(encodeMessage({ type: 'NON', code: message.code, messageId: this.allocateMessageId(), token: message.token, options: message.options ?? [], payload: message.payload ?? Buffer.alloc(0) }), remote);
  }

  private transmitConfirmable(remote: DatagramPeer<P>, message: MessageBody): { delivery: Promise<{ outcome: DeliveryOutcome; ack?: CoapMessage }>; stop(): void } {
    if (this.closed) return { delivery: Promise.resolve({ outcome: 'closed' }), stop: () => undefined };
    const messageId = this.allocateMessageId();
    const datagram = encodeMessage({ type: 'CON', code: message.code, messageId, token: message.token, options: message.options, payload: message.payload });
    const key = `${remote.key}#${messageId}`;
    let entry: Outstanding<P> | undefined;
    const delivery = new Promise<{ outcome: DeliveryOutcome; ack?: CoapMessage }>((resolve) => {
      // §4.2: the first timeout is random in [ACK_TIMEOUT, ACK_TIMEOUT × ACK_RANDOM_FACTOR], doubled on each retransmission.
      const initial = this.timing.ackTimeoutMs * (1 + Math.random() * (this.timing.ackRandomFactor - 1));
      const retransmit = (waited: number): void => {
        if (current.attempts >= this.timing.maxRetransmit) {
          this.outstanding.delete(key);
          resolve({ outcome: 'timeout' });
          return;
        }
        current.attempts += 1;
        this.send(datagram, remote);
        current.timer = setTimeout(() => retransmit(waited * 2), waited * 2);
      };
      const current: Outstanding<P> = {
        datagram,
        remote,
        attempts: 0,
        timer: setTimeout(() => retransmit(initial), initial),
        settle: (outcome, ack) => resolve(ack ? { outcome, ack } : { outcome }),
      };
      entry = current;
      this.outstanding.set(key, current);
      this.send(datagram, remote);
    });
    return {
      delivery,
      // A separate response that arrives before the ACK acknowledges the request too (§5.2.2).
      stop: () => {
        if (!entry || this.outstanding.get(key) !== entry) return;
        clearTimeout(entry.timer);
        this.outstanding.delete(key);
        entry.settle('acked');
      },
    };
  }

  private receive(datagram: Buffer, remote: DatagramPeer<P>): void {
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

  private dispatch(message: CoapMessage, remote: DatagramPeer<P>): void {
    if (message.type === 'ACK' || message.type === 'RST') {
      const key = `${remote.key}#${message.messageId}`;
      const entry = this.outstanding.get(key);
      if (!entry) return;
      clearTimeout(entry.timer);
      this.outstanding.delete(key);
      entry.settle(message.type === 'ACK' ? 'acked' : 'reset', message);
      return;
    }
    if (message.code === CoapCode.Empty) {
      // §4.3: an empty CON is a "ping"; the Reset proves liveness. An empty NON means nothing.
      if (message.type === 'CON') this.sendEmpty('RST', message.messageId, remote);
      return;
    }
    if (!isRequestCode(message.code)) {
      this.acceptResponse(message, remote);
      return;
    }
    this.acceptRequest(message, remote);
  }

  /**
   * A separate response or a notification (CON or NON). Duplicates (§4.5) get the same empty
   * ACK or RST again and are not handed on twice. One whose token matches no request Hangar sent
   * is Reset, NON included: for a notification that is how an observation is refused (RFC 7641 §3.6).
   */
  private acceptResponse(message: CoapMessage, remote: DatagramPeer<P>): void {
    const key = `${remote.key}#${message.messageId}`;
    const known = this.exchanges.get(key);
    if (known) {
      if (message.type === 'CON' && known.reply) this.send(known.reply, remote);
      return;
    }
    const verdict = this.requests.receive(message, remote);
    if (verdict === 'reject') {
      this.options.logger.debug({ remote: remote.key, code: codeText(message.code) }, 'CoAP response with an unknown token reset');
    }
    const reply = verdict === 'accept' ? (message.type === 'CON' ? this.emptyDatagram('ACK', message.messageId) : undefined) : this.emptyDatagram('RST', message.messageId);
    const confirmable = message.type === 'CON';
    this.remember(key, { expiresAt: Date.now() + (confirmable ? this.timing.exchangeLifetimeMs : this.timing.nonLifetimeMs), reply, separate: false });
    if (reply) this.send(reply, remote);
  }

  private acceptRequest(message: CoapMessage, remote: DatagramPeer<P>): void {
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

  private async answer(message: CoapMessage, remote: DatagramPeer<P>): Promise<CoapResponse> {
    try {
      return await this.options.handler({ message, remote, via: this });
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

  private sendEmpty(type: 'ACK' | 'RST', messageId: number, remote: DatagramPeer<P>): void {
    this.send(this.emptyDatagram(type, messageId), remote);
  }

  private send(datagram: Buffer, remote: DatagramPeer<P>): void {
    if (this.closed) return;
    try {
      this.channel.send(datagram, remote);
    } catch (err) {
      // Sends happen in timers and promise callbacks too: a channel that throws must not take the process down.
      this.options.logger.warn({ err, remote: remote.key }, 'CoAP datagram could not be sent');
    }
  }
}

/** RFC 7252 §4.8.2 MAX_TRANSMIT_WAIT: how long a CON request may go unanswered (93 s by default). */
function maxTransmitWait(timing: CoapTiming): number {
  return timing.ackTimeoutMs * (2 ** (timing.maxRetransmit + 1) - 1) * timing.ackRandomFactor;
}
