/**
 * A minimal LwM2M server for the client's tests, written directly on `@hangar/protocol/coap`
 * and a UDP socket (the real Hangar server is another package the agent must not import):
 * it accepts Register/Update/De-register, Bootstrap-Request and Send, and sends requests to a
 * registered client (CON with retransmission, Block1 for large bodies, observations).
 */
import { createSocket, type Socket } from 'node:dgram';
import {
  CoapCode,
  CoapOptionNumber,
  blockSize,
  encodeBlock,
  encodeMessage,
  encodeUint,
  isRequestCode,
  optionValues,
  parseMessage,
  uintOption,
  type CoapMessage,
  type CoapOption,
} from '@hangar/protocol/coap';

export interface Peer {
  address: string;
  port: number;
}

export interface ReceivedRequest {
  code: number;
  path: string[];
  query: string[];
  options: CoapOption[];
  payload: Buffer;
  peer: Peer;
}

export interface ServerRequest {
  code: number;
  path: string[];
  query?: string[];
  options?: CoapOption[];
  payload?: Buffer;
  /** Send the payload by Block1 in blocks of 2^(szx+4) bytes. */
  block1Szx?: number;
}

export interface Notification {
  code: number;
  options: CoapOption[];
  payload: Buffer;
  observe: number | undefined;
}

type Responder = (req: ReceivedRequest) => { code: number; options?: CoapOption[]; payload?: Buffer } | undefined;

export class Lwm2mTestServer {
  readonly received: ReceivedRequest[] = [];
  private socket!: Socket;
  private messageId = 1;
  private tokenCounter = 1;
  private readonly pending = new Map<string, (m: CoapMessage) => void>();
  private readonly observers = new Map<string, (n: Notification) => void>();
  private readonly waiters: { match: (r: ReceivedRequest) => boolean; resolve: (r: ReceivedRequest) => void }[] = [];
  private registrations = 0;
  /** Overrides the default answer to a request from a client (return undefined for the default). */
  responder: Responder | undefined;

  async listen(): Promise<number> {
    this.socket = createSocket('udp4');
    this.socket.on('message', (msg, rinfo) => this.receive(msg, { address: rinfo.address, port: rinfo.port }));
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', () => r()));
    return this.port;
  }

  get port(): number {
    return this.socket.address().port;
  }

  get uri(): string {
    return `coap://127.0.0.1:${this.port}`;
  }

  close(): Promise<void> {
    return new Promise((r) => this.socket.close(() => r()));
  }

  /** Resolves with the first request (already received or to come) that matches. */
  waitFor(match: (r: ReceivedRequest) => boolean): Promise<ReceivedRequest> {
    const seen = this.received.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  /** A request to a client; CON retransmitted every 300 ms, Block1 when asked. */
  async request(peer: Peer, req: ServerRequest): Promise<{ code: number; options: CoapOption[]; payload: Buffer }> {
    const base = [
      ...req.path.map((s) => ({ number: CoapOptionNumber.UriPath, value: Buffer.from(s) })),
      ...(req.query ?? []).map((s) => ({ number: CoapOptionNumber.UriQuery, value: Buffer.from(s) })),
      ...(req.options ?? []),
    ];
    const payload = req.payload ?? Buffer.alloc(0);
    if (req.block1Szx === undefined) return this.exchange(peer, req.code, base, payload);
    const size = blockSize(req.block1Szx);
    for (let num = 0; ; num += 1) {
      const more = (num + 1) * size < payload.length;
      const response = await this.exchange(peer, req.code, [...base, { number: CoapOptionNumber.Block1, value: encodeBlock({ num, more, szx: req.block1Szx }) }], payload.subarray(num * size, (num + 1) * size));
      if (!more || response.code !== CoapCode.Continue) return response;
    }
  }

  /** GET with Observe 0; notifications go to `onNotify`; `cancel` sends GET with Observe 1. */
  async observe(peer: Peer, req: ServerRequest, onNotify: (n: Notification) => void): Promise<{ first: Notification; cancel(): Promise<Notification> }> {
    const token = this.newToken();
    const options = [...(req.options ?? []), { number: CoapOptionNumber.Observe, value: encodeUint(0) }];
    const path = req.path.map((s) => ({ number: CoapOptionNumber.UriPath, value: Buffer.from(s) }));
    const first = await this.exchange(peer, req.code, [...path, ...options], req.payload ?? Buffer.alloc(0), token);
    this.observers.set(token.toString('hex'), onNotify);
    return {
      first: toNotification(first),
      cancel: async () => {
        this.observers.delete(token.toString('hex'));
        const opts = [...(req.options ?? []), { number: CoapOptionNumber.Observe, value: encodeUint(1) }];
        return toNotification(await this.exchange(peer, req.code, [...path, ...opts], req.payload ?? Buffer.alloc(0), token));
      },
    };
  }

  private exchange(peer: Peer, code: number, options: CoapOption[], payload: Buffer, token = this.newToken()): Promise<CoapMessage> {
    const messageId = this.messageId++ & 0xffff;
    const datagram = encodeMessage({ type: 'CON', code, messageId, token, options, payload });
    return new Promise((resolve, reject) => {
      let attempts = 0;
      const send = (): void => {
        if (attempts++ > 8) {
          this.pending.delete(token.toString('hex'));
          reject(new Error(`no answer from ${peer.address}:${peer.port}`));
          return;
        }
        this.socket.send(datagram, peer.port, peer.address);
        timer = setTimeout(send, 300);
      };
      let timer: NodeJS.Timeout;
      this.pending.set(token.toString('hex'), (m) => {
        clearTimeout(timer);
        this.pending.delete(token.toString('hex'));
        resolve(m);
      });
      send();
    });
  }

  private newToken(): Buffer {
    const t = Buffer.alloc(4);
    t.writeUInt32BE(this.tokenCounter++);
    return t;
  }

  private receive(datagram: Buffer, peer: Peer): void {
    let message: CoapMessage;
    try {
      message = parseMessage(datagram);
    } catch {
      return;
    }
    if (message.type === 'ACK' && message.code === CoapCode.Empty) return;
    if (message.type === 'RST') return;
    if (isRequestCode(message.code)) return this.onRequest(message, peer);
    if (message.type === 'CON') this.send(peer, { type: 'ACK', code: CoapCode.Empty, messageId: message.messageId, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) });
    const key = message.token.toString('hex');
    const pending = this.pending.get(key);
    if (pending) return pending(message);
    const observer = this.observers.get(key);
    if (observer) observer(toNotification(message));
    else if (message.type === 'NON') this.send(peer, { type: 'RST', code: CoapCode.Empty, messageId: message.messageId, token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) });
  }

  private onRequest(message: CoapMessage, peer: Peer): void {
    const req: ReceivedRequest = {
      code: message.code,
      path: optionValues(message, CoapOptionNumber.UriPath).map((v) => v.toString()),
      query: optionValues(message, CoapOptionNumber.UriQuery).map((v) => v.toString()),
      options: message.options,
      payload: message.payload,
      peer,
    };
    this.received.push(req);
    const answer = this.responder?.(req) ?? this.defaultAnswer(req);
    this.send(peer, { type: message.type === 'CON' ? 'ACK' : 'NON', code: answer.code, messageId: message.type === 'CON' ? message.messageId : this.messageId++ & 0xffff, token: message.token, options: answer.options ?? [], payload: answer.payload ?? Buffer.alloc(0) });
    for (const w of [...this.waiters]) {
      if (w.match(req)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(req);
      }
    }
  }

  private defaultAnswer(req: ReceivedRequest): { code: number; options?: CoapOption[]; payload?: Buffer } {
    const [first, second] = req.path;
    if (first === 'rd' && req.code === CoapCode.POST && second === undefined) {
      this.registrations += 1;
      return { code: CoapCode.Created, options: ['rd', `r${this.registrations}`].map((s) => ({ number: CoapOptionNumber.LocationPath, value: Buffer.from(s) })) };
    }
    if (first === 'rd' && req.code === CoapCode.POST) return { code: CoapCode.Changed };
    if (first === 'rd' && req.code === CoapCode.DELETE) return { code: CoapCode.Deleted };
    if (first === 'bs' && req.code === CoapCode.POST) return { code: CoapCode.Changed };
    if (first === 'dp' && req.code === CoapCode.POST) return { code: CoapCode.Changed };
    return { code: CoapCode.NotFound };
  }

  private send(peer: Peer, message: CoapMessage): void {
    this.socket.send(encodeMessage(message), peer.port, peer.address);
  }
}

function toNotification(m: CoapMessage): Notification {
  return { code: m.code, options: m.options, payload: m.payload, observe: uintOption(m, CoapOptionNumber.Observe) };
}

/** Content-Format of a response, for assertions. */
export function contentFormatOf(options: CoapOption[]): number | undefined {
  return uintOption({ type: 'ACK', code: 0, messageId: 0, token: Buffer.alloc(0), options, payload: Buffer.alloc(0) }, CoapOptionNumber.ContentFormat);
}

