import type { Logger } from 'pino';
import { CoapCode, CoapOptionNumber as Opt, decodeUint, encodeUint, type CoapOption } from '@hangar/protocol/coap';
import { decodeContent, encodeCompositePaths, encodeContent, Lwm2mCodecError, Lwm2mContentFormat as Cf, parseLinkFormat, type Lwm2mPath, type Lwm2mValue } from '@hangar/protocol/lwm2m';
import { HangarError } from '../../errors.js';
import type { Lwm2mContact, Lwm2mDeviceLink, Lwm2mRequest, Lwm2mResponse, Lwm2mTarget } from '../../core/lwm2m/ports.js';
import type { DatagramPeer } from '../datagram-channel.js';
import { CoapRequestError, type CoapRequester, type IncomingResponse, type OutgoingRequest } from '../coap/index.js';

/** Content formats Hangar encodes, best first, when the device announced which it reads (TS-Core §6.2.1.1 `ct`). */
// Leshan's order: the compact 1.1 format first, then SenML JSON, then the 1.0 formats.
const WRITE_PREFERENCE = [Cf.senmlCbor, Cf.senmlJson, Cf.tlv, Cf.lwm2mJson] as const;
const COMPOSITE_FORMATS = new Set<number>([Cf.senmlCbor, Cf.senmlJson]);

export interface CoapDeviceLinkOptions {
  /** Reaches peers this link has not seen come in (plain UDP after a restart); set later with `useRequester`. */
  requester?: CoapRequester | undefined;
  logger?: Logger | undefined;
  /** Per answer (each block); default the requester's (MAX_TRANSMIT_WAIT). */
  timeoutMs?: number | undefined;
  /** Bound on a reassembled answer (default 1 MiB). */
  maxResponseBytes?: number | undefined;
}

/** "4.04" from 0x84 (RFC 7252 §3: class.detail). */
export function codeText(code: number): string {
  return `${code >> 5}.${String(code & 0x1f).padStart(2, '0')}`;
}

/**
 * The core's `Lwm2mDeviceLink` over CoAP (LwM2M 1.1 TS-Transport §6): each operation becomes a
 * CoAP request to the device through the server's `CoapRequester`, values are encoded and decoded
 * with the shared codecs (`@hangar/protocol/lwm2m`). The peers of live devices are remembered as
 * they speak (`remember`), since a DTLS peer is a session, not an address.
 */
export class CoapDeviceLink implements Lwm2mDeviceLink {
  private readonly peers = new Map<string, { peer: DatagramPeer; via: CoapRequester | undefined }>();
  private fallback: CoapRequester | undefined;

  constructor(private readonly options: CoapDeviceLinkOptions) {
    this.fallback = options.requester;
  }

  /** How long to wait for each answer (tests and operators shorten MAX_TRANSMIT_WAIT). */
  setTimeout(timeoutMs: number): void {
    this.options.timeoutMs = timeoutMs;
  }

  /** The requester for peers not seen (the plain CoAP server), when it exists only after this link. */
  useRequester(requester: CoapRequester): void {
    this.fallback = requester;
  }

  /**
   * The transport saw this peer (register, update, bootstrap request): reach the device through
   * it, and through the server it came in on (`via`: the UDP or the DTLS CoapServer).
   */
  remember(peer: DatagramPeer, via?: unknown): void {
    this.peers.delete(peer.key);
    this.peers.set(peer.key, { peer, via: isRequester(via) ? via : undefined });
    // Bounded: a long-gone peer is rebuilt from its address (plain UDP) when needed.
    if (this.peers.size > 200_000) {
      const oldest = this.peers.keys().next();
      if (!oldest.done) this.peers.delete(oldest.value);
    }
  }

  forget(key: string): void {
    this.peers.delete(key);
  }

  async request(target: Lwm2mTarget, req: Lwm2mRequest): Promise<Lwm2mResponse> {
    const { outgoing, path } = this.encodeChecked(target, req);
    const answer = await this.send(target.contact, outgoing);
    return this.decode(target, req, path, answer);
  }

  async observe(target: Lwm2mTarget, req: Lwm2mRequest, onNotify: (values: Lwm2mValue[]) => void): Promise<{ first: Lwm2mResponse; cancel(): Promise<void> }> {
    if (req.op !== 'observe' && req.op !== 'observe-composite') throw new HangarError('VALIDATION_FAILED', `${req.op} is not an observation`);
    const { outgoing, path } = this.encodeChecked(target, req);
    const { peer, requester } = this.route(target.contact);
    try {
      const observation = await requester.observe(
        peer,
        outgoing,
        (n) => {
          try {
            const r = this.decode(target, req, path, n);
            if (r.values) onNotify(r.values);
          } catch (err) {
            this.options.logger?.debug({ err, deviceId: target.deviceId }, 'lwm2m: unreadable notification dropped');
          }
        },
        { ...(this.options.timeoutMs !== undefined ? { timeoutMs: this.options.timeoutMs } : {}) },
      );
      return { first: this.decode(target, req, path, observation.first), cancel: () => observation.cancel() };
    } catch (err) {
      // A refused Observe (4.04, 4.05) is the device's answer, not a failure of the link.
      if (err instanceof CoapRequestError && err.response) return { first: this.decode(target, req, path, err.response), cancel: async () => {} };
      throw linkError(err, target.deviceId);
    }
  }

  private async send(contact: Lwm2mContact, outgoing: OutgoingRequest): Promise<IncomingResponse> {
    const { peer, requester } = this.route(contact);
    try {
      return await requester.request(peer, outgoing, {
        ...(this.options.timeoutMs !== undefined ? { timeoutMs: this.options.timeoutMs } : {}),
        ...(this.options.maxResponseBytes !== undefined ? { maxResponseBytes: this.options.maxResponseBytes } : {}),
      });
    } catch (err) {
      throw linkError(err, undefined);
    }
  }

  private route(contact: Lwm2mContact): { peer: DatagramPeer; requester: CoapRequester } {
    const known = this.peers.get(contact.key);
    const requester = known?.via ?? this.fallback;
    if (known && requester) return { peer: known.peer, requester };
    if (contact.secure || !requester) throw new HangarError('LWM2M_DEVICE_UNREACHABLE', 'the device\'s session is not known to this server: it is reachable again after its next update');
    return { peer: { address: contact.address, port: contact.port, key: contact.key }, requester };
  }

  /** A value the codecs cannot write (wrong type, a format they lack) is the caller's error, not the device's. */
  private encodeChecked(target: Lwm2mTarget, req: Lwm2mRequest): { outgoing: OutgoingRequest; path: Lwm2mPath } {
    try {
      return this.encode(target, req);
    } catch (err) {
      if (err instanceof Lwm2mCodecError) throw new HangarError('VALIDATION_FAILED', `the request cannot be encoded: ${err.message}`);
      throw err;
    }
  }

  private encode(target: Lwm2mTarget, req: Lwm2mRequest): { outgoing: OutgoingRequest; path: Lwm2mPath } {
    const root = target.rootPath === '/' ? [] : target.rootPath.split('/').filter((s) => s !== '');
    const uri = (path: Lwm2mPath): CoapOption[] =>
      [...root, ...[path.objectId, path.instanceId, path.resourceId, path.resourceInstanceId].filter((id): id is number => id !== undefined).map(String)].map((s) => ({ number: Opt.UriPath, value: Buffer.from(s, 'utf8') }));
    const uint = (number: number, v: number): CoapOption => ({ number, value: encodeUint(v) });
    const accept = (format: number | undefined): CoapOption[] => (format !== undefined ? [uint(Opt.Accept, format)] : []);
    switch (req.op) {
      case 'read':
        return { path: req.path, outgoing: { code: CoapCode.GET, options: [...uri(req.path), ...accept(req.format ?? announcedFormat(target))] } };
      case 'observe':
        return { path: req.path, outgoing: { code: CoapCode.GET, options: [uint(Opt.Observe, 0), ...uri(req.path), ...accept(req.format ?? announcedFormat(target))] } };
      case 'discover':
        return { path: req.path, outgoing: { code: CoapCode.GET, options: [...uri(req.path), uint(Opt.Accept, Cf.linkFormat)] } };
      case 'write':
      case 'create': {
        const format = req.format ?? writeFormat(target);
        const payload = encodeContent(format, req.values, req.path, target.registry);
        // TS-Transport §6.4: Write-Replace is PUT, Write-Partial-Update and Create are POST.
        const code = req.op === 'write' && req.mode === 'replace' ? CoapCode.PUT : CoapCode.POST;
        return { path: req.path, outgoing: { code, options: [...uri(req.path), uint(Opt.ContentFormat, format)], payload } };
      }
      case 'write-attributes': {
        const query = Object.entries(req.attributes).map(([k, v]) => ({ number: Opt.UriQuery, value: Buffer.from(v === null ? k : `${k}=${v}`, 'utf8') }));
        return { path: req.path, outgoing: { code: CoapCode.PUT, options: [...uri(req.path), ...query] } };
      }
      case 'execute':
        return { path: req.path, outgoing: { code: CoapCode.POST, options: uri(req.path), ...(req.args ? { payload: Buffer.from(req.args, 'utf8') } : {}) } };
      case 'delete':
        return { path: req.path, outgoing: { code: CoapCode.DELETE, options: uri(req.path) } };
      case 'read-composite':
      case 'observe-composite': {
        const format = req.format ?? compositeFormat(target);
        const payload = encodeCompositePaths(format, req.paths);
        const observe = req.op === 'observe-composite' ? [uint(Opt.Observe, 0)] : [];
        // TS-Transport §6.4.4: FETCH on the root path with the paths as SenML.
        return { path: {}, outgoing: { code: CoapCode.FETCH, options: [...observe, ...uri({}), uint(Opt.ContentFormat, format), uint(Opt.Accept, format)], payload } };
      }
      case 'bootstrap-finish':
        return { path: {}, outgoing: { code: CoapCode.POST, options: [{ number: Opt.UriPath, value: Buffer.from('bs') }] } };
    }
  }

  private decode(target: Lwm2mTarget, req: Lwm2mRequest, path: Lwm2mPath, answer: IncomingResponse): Lwm2mResponse {
    const code = codeText(answer.code);
    const success = answer.code >> 5 === 2;
    if (!success) return { code, success, ...(answer.payload.length > 0 ? { diagnostic: answer.payload.toString('utf8').slice(0, 512) } : {}) };
    const response: Lwm2mResponse = { code, success };
    if (answer.code === CoapCode.Created) {
      const location = answer.options.filter((o) => o.number === Opt.LocationPath).map((o) => o.value.toString('utf8'));
      if (location.length > 0) response.location = `/${location.join('/')}`;
    }
    if (answer.code !== CoapCode.Content || answer.payload.length === 0) return response;
    const cf = answer.options.find((o) => o.number === Opt.ContentFormat);
    const format = cf === undefined ? Cf.text : decodeUint(cf.value);
    try {
      if (req.op === 'discover' || format === Cf.linkFormat) response.links = parseLinkFormat(answer.payload.toString('utf8'));
      else response.values = decodeContent(format, answer.payload, path, target.registry);
    } catch (err) {
      if (err instanceof Lwm2mCodecError) throw new HangarError('LWM2M_BAD_DEVICE_RESPONSE', `device "${target.deviceId}" answered ${code} with a payload that could not be read: ${err.message}`);
      throw err;
    }
    return response;
  }
}

function writeFormat(target: Lwm2mTarget): number {
  for (const f of WRITE_PREFERENCE) if (target.contentFormats.includes(f)) return f;
  // Nothing announced: TLV is what 1.0 devices must read, and what 1.1 devices commonly still do.
  return Cf.tlv;
}

/**
 * A read names the format the device announced (`</>;ct=…`), as Leshan does: without an Accept a
 * device answers in its default, which may be one it was built without (Wakaama's example
 * client, built with SenML JSON only, answers 5.00 then). Nothing announced: the device chooses.
 */
function announcedFormat(target: Lwm2mTarget): number | undefined {
  return WRITE_PREFERENCE.find((f) => target.contentFormats.includes(f));
}

function compositeFormat(target: Lwm2mTarget): number {
  return target.contentFormats.find((f) => COMPOSITE_FORMATS.has(f)) ?? Cf.senmlJson;
}

function linkError(err: unknown, deviceId: string | undefined): unknown {
  if (!(err instanceof CoapRequestError)) return err;
  const who = deviceId !== undefined ? `device "${deviceId}"` : 'the device';
  if (err.reason === 'too_large' || err.reason === 'protocol') return new HangarError('LWM2M_BAD_DEVICE_RESPONSE', `${who}: ${err.message}`);
  return new HangarError('LWM2M_DEVICE_UNREACHABLE', `${who} did not answer (${err.reason}): ${err.message}`);
}

function isRequester(v: unknown): v is CoapRequester {
  return typeof v === 'object' && v !== null && typeof (v as { request?: unknown }).request === 'function' && typeof (v as { observe?: unknown }).observe === 'function';
}
