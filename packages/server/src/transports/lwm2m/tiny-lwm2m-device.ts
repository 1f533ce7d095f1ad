import pino from 'pino';
import { CoapCode, CoapOptionNumber as Opt, encodeUint, optionValues, uintOption, type CoapOption } from '@hangar/protocol/coap';
import {
  builtinObjectRegistry,
  decodeCompositePaths,
  decodeContent,
  encodeContent,
  formatLinkFormat,
  formatPath,
  isWithinPath,
  Lwm2mContentFormat as Cf,
  type Lwm2mPath,
  type Lwm2mValue,
} from '@hangar/protocol/lwm2m';
import type { DatagramPeer } from '../datagram-channel.js';
import { CoapServer, type CoapRequest, type CoapResponse, type IncomingResponse } from '../coap/index.js';

/**
 * Test support: a tiny LwM2M client written with the CoAP stack and the shared codecs, so the
 * server's tests need no simulator. It holds a flat map of values, answers Read (TLV, SenML JSON),
 * Write, Execute, Create, Delete, Discover, Write-Attributes, Read-Composite and Observe, and sends
 * Register, Update, De-register, Bootstrap-Request and Send. Everything it was asked is in `log`.
 */
export class TinyLwm2mDevice {
  readonly registry = builtinObjectRegistry();
  readonly values = new Map<string, Lwm2mValue>();
  readonly log: Array<{ method: number; path: string; query: string[]; payload: Buffer; format?: number }> = [];
  /** Answer these paths with this code instead (e.g. 0x84 4.04); `garbage` answers 2.05 with an unreadable TLV. */
  readonly faults = new Map<string, number | 'garbage' | 'silent'>();
  private readonly server: CoapServer;
  private readonly observers = new Map<string, { token: Buffer; peer: DatagramPeer; seq: number; paths: Lwm2mPath[] }>();
  private hangar: DatagramPeer | undefined;
  location: string | undefined;
  port = 0;

  constructor() {
    this.server = new CoapServer({ handler: (r) => this.answer(r), logger: pino({ level: 'silent' }), timing: { ackTimeoutMs: 300, maxRetransmit: 2 } });
    const v = (path: Lwm2mPath, type: Lwm2mValue['type'], value: Lwm2mValue['value']): void => this.set({ path, type, value });
    v({ objectId: 3, instanceId: 0, resourceId: 0 }, 'String', 'Acme');
    v({ objectId: 3, instanceId: 0, resourceId: 1 }, 'String', 'T-1');
    v({ objectId: 3, instanceId: 0, resourceId: 2 }, 'String', 'SN-0001');
    v({ objectId: 3, instanceId: 0, resourceId: 3 }, 'String', '1.2.3');
    v({ objectId: 3, instanceId: 0, resourceId: 9 }, 'Integer', 87);
    v({ objectId: 3303, instanceId: 0, resourceId: 5700 }, 'Float', 21.5);
    v({ objectId: 3303, instanceId: 0, resourceId: 5701 }, 'String', 'Cel');
    v({ objectId: 3303, instanceId: 0, resourceId: 5750 }, 'String', 'outdoor');
  }

  async start(): Promise<void> {
    this.port = await this.server.listen(0, '127.0.0.1');
  }

  async stop(): Promise<void> {
    await this.server.close();
  }

  set(v: Lwm2mValue): void {
    this.values.set(formatPath(v.path), v);
  }

  objectLinks(): string {
    const instances = new Set([...this.values.values()].map((v) => `</${v.path.objectId}/${v.path.instanceId}>`));
    return ['</>;rt="oma.lwm2m";ct="110 11542"', '</1/0>', ...instances].join(',');
  }

  /** Sends a CoAP request to Hangar from the device's socket (the address Hangar will reach it at). */
  async send(hangarPort: number, code: number, path: string[], query: string[] = [], payload?: Buffer, extra: CoapOption[] = []): Promise<IncomingResponse> {
    this.hangar = { address: '127.0.0.1', port: hangarPort, key: `127.0.0.1:${hangarPort}` };
    const options: CoapOption[] = [...path.map((p) => ({ number: Opt.UriPath, value: Buffer.from(p) })), ...query.map((q) => ({ number: Opt.UriQuery, value: Buffer.from(q) })), ...extra];
    return this.server.request(this.hangar, { code, options, ...(payload ? { payload } : {}) }, { timeoutMs: 10_000 });
  }

  async register(hangarPort: number, endpoint: string, query: string[] = ['lt=60', 'lwm2m=1.1', 'b=U']): Promise<IncomingResponse> {
    const res = await this.send(hangarPort, CoapCode.POST, ['rd'], [`ep=${endpoint}`, ...query], Buffer.from(this.objectLinks()), [{ number: Opt.ContentFormat, value: encodeUint(Cf.linkFormat) }]);
    if (res.code === CoapCode.Created) this.location = res.options.filter((o) => o.number === Opt.LocationPath).map((o) => o.value.toString()).join('/');
    return res;
  }

  async update(hangarPort: number, query: string[] = []): Promise<IncomingResponse> {
    return this.send(hangarPort, CoapCode.POST, this.location!.split('/'), query);
  }

  async deregister(hangarPort: number): Promise<IncomingResponse> {
    return this.send(hangarPort, CoapCode.DELETE, this.location!.split('/'));
  }

  /** Sends a notification to every observer of a path that holds `path`. */
  async notify(path: Lwm2mPath): Promise<void> {
    for (const o of this.observers.values()) {
      if (!o.paths.some((p) => isWithinPath(path, p))) continue;
      o.seq += 1;
      const values = o.paths.flatMap((p) => this.valuesUnder(p));
      await this.server.sendConfirmable(o.peer, { code: CoapCode.Content, token: o.token, options: [{ number: Opt.Observe, value: encodeUint(o.seq) }, { number: Opt.ContentFormat, value: encodeUint(Cf.senmlJson) }], payload: encodeContent(Cf.senmlJson, values, {}, this.registry) });
    }
  }

  private valuesUnder(path: Lwm2mPath): Lwm2mValue[] {
    return [...this.values.values()].filter((v) => isWithinPath(v.path, path));
  }

  private async answer(request: CoapRequest): Promise<CoapResponse> {
    const m = request.message;
    const segments = optionValues(m, Opt.UriPath).map((v) => v.toString());
    const query = optionValues(m, Opt.UriQuery).map((v) => v.toString());
    const format = uintOption(m, Opt.ContentFormat);
    const textPath = `/${segments.join('/')}`;
    this.log.push({ method: m.code, path: textPath, query, payload: m.payload, ...(format !== undefined ? { format } : {}) });
    const fault = this.faults.get(textPath);
    if (fault === 'silent') return new Promise(() => undefined);
    if (fault === 'garbage') return { code: CoapCode.Content, options: [{ number: Opt.ContentFormat, value: encodeUint(Cf.tlv) }], payload: Buffer.from([0xc8, 0x00, 0x7f]) };
    if (typeof fault === 'number') return { code: fault, payload: Buffer.from('fault injected') };
    if (segments[0] === 'bs') return { code: CoapCode.Changed };
    const path: Lwm2mPath = {};
    const ids = segments.map(Number);
    if (ids[0] !== undefined) path.objectId = ids[0];
    if (ids[1] !== undefined) path.instanceId = ids[1];
    if (ids[2] !== undefined) path.resourceId = ids[2];
    const observe = uintOption(m, Opt.Observe);
    const accept = uintOption(m, Opt.Accept);
    const content = (values: Lwm2mValue[], fmt: number, extra: CoapOption[] = []): CoapResponse => ({ code: CoapCode.Content, options: [...extra, { number: Opt.ContentFormat, value: encodeUint(fmt) }], payload: encodeContent(fmt, values, fmt === Cf.senmlJson ? {} : path, this.registry) });
    switch (m.code) {
      case CoapCode.GET: {
        if (accept === Cf.linkFormat) {
          const entries = [{ target: textPath, attributes: {} }, ...this.valuesUnder(path).map((v) => ({ target: formatPath(v.path), attributes: {} }))];
          return { code: CoapCode.Content, options: [{ number: Opt.ContentFormat, value: encodeUint(Cf.linkFormat) }], payload: Buffer.from(formatLinkFormat(entries)) };
        }
        const values = this.valuesUnder(path);
        if (values.length === 0) return { code: CoapCode.NotFound };
        if (observe === 0) {
          this.observers.set(m.token.toString('hex'), { token: m.token, peer: request.remote, seq: 1, paths: [path] });
          return content(values, Cf.senmlJson, [{ number: Opt.Observe, value: encodeUint(1) }]);
        }
        if (observe === 1) this.observers.delete(m.token.toString('hex'));
        return content(values, accept ?? Cf.tlv);
      }
      case CoapCode.FETCH: {
        const paths = decodeCompositePaths(format ?? Cf.senmlJson, m.payload);
        const values = paths.flatMap((p) => this.valuesUnder(p));
        if (observe === 0) {
          this.observers.set(m.token.toString('hex'), { token: m.token, peer: request.remote, seq: 1, paths });
          return content(values, Cf.senmlJson, [{ number: Opt.Observe, value: encodeUint(1) }]);
        }
        return content(values, Cf.senmlJson);
      }
      case CoapCode.PUT:
      case CoapCode.POST: {
        if (m.payload.length === 0 || format === undefined) {
          // Execute, or Write-Attributes (PUT with a query only).
          return { code: CoapCode.Changed };
        }
        const values = decodeContent(format, m.payload, format === Cf.senmlJson ? {} : path, this.registry);
        for (const v of values) this.set(v);
        if (m.code === CoapCode.POST && path.instanceId === undefined) {
          const instanceId = values[0]?.path.instanceId ?? 0;
          return { code: CoapCode.Created, options: [{ number: Opt.LocationPath, value: Buffer.from(String(path.objectId)) }, { number: Opt.LocationPath, value: Buffer.from(String(instanceId)) }] };
        }
        return { code: CoapCode.Changed };
      }
      case CoapCode.DELETE: {
        const gone = this.valuesUnder(path);
        if (gone.length === 0) return { code: CoapCode.NotFound };
        for (const v of gone) this.values.delete(formatPath(v.path));
        return { code: CoapCode.Deleted };
      }
      default:
        return { code: CoapCode.MethodNotAllowed };
    }
  }
}
