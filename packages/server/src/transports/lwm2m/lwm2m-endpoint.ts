import type { Logger } from 'pino';
import { CoapCode, CoapOptionNumber as Opt, decodeUint, encodeUint, optionValues, uintOption } from '@hangar/protocol/coap';
import { isValidDeviceId } from '@hangar/protocol';
import { decodeContent, Lwm2mCodecError, Lwm2mContentFormat as Cf, parseRegistrationLinks, type Lwm2mValue } from '@hangar/protocol/lwm2m';
import { HangarError } from '../../errors.js';
import type { BootstrapService } from '../../core/lwm2m/bootstrap-service.js';
import type { Lwm2mMapping } from '../../core/lwm2m/lwm2m-mapping.js';
import type { ObjectModelService } from '../../core/lwm2m/object-models.js';
import type { Lwm2mContact, RegisteredObjectLinks } from '../../core/lwm2m/ports.js';
import type { RegistrationService } from '../../core/lwm2m/registration-service.js';
import { identityOf } from '../../core/lwm2m/registration-service.js';
import type { DeviceIdentity } from '../../core/identity/device-authenticator.js';
import type { DatagramPeer } from '../datagram-channel.js';
import { errorResponse, responseForHangarError } from '../coap/coap-errors.js';
import type { CoapRequest, CoapRequestHandler, CoapResponse } from '../coap/index.js';
import type { CoapDeviceLink } from './coap-device-link.js';

/** A registration's link list or a Send fits in a few datagrams; more is not a constrained device. */
export const MAX_LWM2M_PAYLOAD_BYTES = 16 * 1024;

export interface Lwm2mEndpointOptions {
  registrations: RegistrationService;
  bootstrap: BootstrapService;
  mapping: Lwm2mMapping;
  models: ObjectModelService;
  link: CoapDeviceLink;
  logger: Logger;
  maxPayloadBytes?: number | undefined;
}

type Query = Map<string, string | true>;

/**
 * The LwM2M 1.1 interfaces a device calls (TS-Transport §6): `rd` registration (Register,
 * Update, De-register), `bs` Bootstrap-Request, `dp` Send. Thin: each handler decodes the CoAP
 * request, calls the core service, and encodes its answer; the rules (who may register as which
 * endpoint, lifetimes, bootstrap plans, mapping) live in `core/lwm2m`.
 */
export class Lwm2mEndpoint {
  readonly handlers: Record<'rd' | 'bs' | 'dp', CoapRequestHandler>;
  private readonly maxPayload: number;
  /** Which device registered from which peer: a Send over plain CoAP names no endpoint. */
  private readonly devicesByPeer = new Map<string, { tenantId: string; deviceId: string }>();

  constructor(private readonly options: Lwm2mEndpointOptions) {
    this.maxPayload = options.maxPayloadBytes ?? MAX_LWM2M_PAYLOAD_BYTES;
    this.handlers = {
      rd: (request) => this.guard(request, () => this.registration(request)),
      bs: (request) => this.guard(request, () => this.bootstrapRequest(request)),
      dp: (request) => this.guard(request, () => this.send(request)),
    };
  }

  private async guard(request: CoapRequest, work: () => Promise<CoapResponse>): Promise<CoapResponse> {
    try {
      if (optionValues(request.message, Opt.Block1).length > 0 || request.message.payload.length > this.maxPayload) {
        // LwM2M payloads toward the server are small; Block1 uploads are not taken here.
        return errorResponse(CoapCode.RequestEntityTooLarge, `LwM2M payloads are limited to ${this.maxPayload} bytes in one message`, [{ number: Opt.Size1, value: encodeUint(this.maxPayload) }]);
      }
      return await work();
    } catch (err) {
      const answer = responseForHangarError(err, this.maxPayload);
      if (answer) return answer;
      this.options.logger.error({ err, remote: request.remote.key }, 'lwm2m: request failed');
      return { code: CoapCode.InternalServerError };
    }
  }

  // --- rd: TS-Core §6.2, TS-Transport §6.2 ---

  private async registration(request: CoapRequest): Promise<CoapResponse> {
    const path = uriPath(request);
    const method = request.message.code;
    const principal = principalOf(request.remote);
    const contact = contactOf(request.remote);
    if (path.length === 1) {
      if (method !== CoapCode.POST) return errorResponse(CoapCode.MethodNotAllowed, 'register with POST /rd?ep=…');
      const q = query(request);
      const endpoint = q.get('ep');
      if (typeof endpoint !== 'string' || endpoint === '') throw invalid('Register needs the endpoint name: ?ep=<device id>');
      if (!isValidDeviceId(endpoint)) throw invalid(`endpoint name "${endpoint.slice(0, 64)}" is not a device id (A-Z a-z 0-9 . _ : -, up to 128)`);
      const links = readLinks(request);
      const registration = await this.options.registrations.register({
        endpoint,
        lifetimeSec: intParam(q, 'lt'),
        lwm2mVersion: strParam(q, 'lwm2m'),
        binding: strParam(q, 'b'),
        queueMode: q.get('Q') === true,
        smsNumber: strParam(q, 'sms'),
        rootPath: links.rootPath,
        objects: links.objects,
        contentFormats: links.contentFormats,
        contact,
        principal,
      });
      // Only a device that was let in is reached again through this peer.
      this.options.link.remember(request.remote, request.via);
      this.devicesByPeer.set(request.remote.key, { tenantId: registration.tenantId, deviceId: registration.deviceId });
      return { code: CoapCode.Created, options: [{ number: Opt.LocationPath, value: Buffer.from('rd') }, { number: Opt.LocationPath, value: Buffer.from(registration.id) }] };
    }
    if (path.length !== 2) return errorResponse(CoapCode.NotFound, 'registration paths are /rd and /rd/{location}');
    const registrationId = path[1]!;
    if (method === CoapCode.DELETE) {
      await this.options.registrations.deregister(registrationId, principal, contact);
      this.options.link.forget(request.remote.key);
      this.devicesByPeer.delete(request.remote.key);
      return { code: CoapCode.Deleted };
    }
    if (method !== CoapCode.POST) return errorResponse(CoapCode.MethodNotAllowed, 'update with POST /rd/{location}, de-register with DELETE');
    const q = query(request);
    const links = request.message.payload.length > 0 ? readLinks(request) : undefined;
    const updated = await this.options.registrations.update({
      registrationId,
      lifetimeSec: intParam(q, 'lt'),
      binding: strParam(q, 'b'),
      queueMode: q.has('Q') ? true : undefined,
      smsNumber: strParam(q, 'sms'),
      rootPath: links?.rootPath,
      objects: links?.objects,
      contact,
      principal,
    });
    this.options.link.remember(request.remote, request.via);
    this.devicesByPeer.set(request.remote.key, { tenantId: updated.tenantId, deviceId: updated.deviceId });
    return { code: CoapCode.Changed };
  }

  // --- bs: TS-Core §6.1.3 ---

  private async bootstrapRequest(request: CoapRequest): Promise<CoapResponse> {
    if (request.message.code !== CoapCode.POST || uriPath(request).length !== 1) return errorResponse(CoapCode.MethodNotAllowed, 'bootstrap with POST /bs?ep=…');
    const endpoint = query(request).get('ep');
    if (typeof endpoint !== 'string' || !isValidDeviceId(endpoint)) throw invalid('Bootstrap-Request needs the endpoint name: ?ep=<device id>');
    // §6.1.3 (1.1): `pct` is the content format the client prefers for the bootstrap writes.
    const pct = query(request).get('pct');
    if (pct !== undefined && (typeof pct !== 'string' || !/^\d{1,5}$/.test(pct))) throw invalid('pct must be a Content-Format number');
    const session = await this.options.bootstrap.request({ endpoint, principal: principalOf(request.remote), contact: contactOf(request.remote), ...(pct !== undefined ? { preferredFormat: Number(pct) } : {}) });
    this.options.link.remember(request.remote, request.via);
    // The writes begin once the 2.04 is on its way (the device expects them after it).
    setImmediate(() => session.start());
    return { code: CoapCode.Changed };
  }

  // --- dp: Send, TS-Core §6.4.6 / TS-Transport §6.5 ---

  private async send(request: CoapRequest): Promise<CoapResponse> {
    if (request.message.code !== CoapCode.POST || uriPath(request).length !== 1) return errorResponse(CoapCode.MethodNotAllowed, 'Send is POST /dp');
    const principal = principalOf(request.remote);
    const device = principal ?? this.devicesByPeer.get(request.remote.key);
    const registration = device ? await this.options.registrations.get(device.tenantId, device.deviceId) : undefined;
    // Over plain CoAP the address is all that names the sender: it must be the registration's.
    if (!registration || (!principal && registration.contact.key !== request.remote.key)) throw new HangarError('FORBIDDEN', 'Send from a client that is not registered: register first');
    const format = uintOption(request.message, Opt.ContentFormat);
    if (format !== Cf.senmlJson && format !== Cf.senmlCbor) return errorResponse(CoapCode.UnsupportedContentFormat, 'Send takes SenML JSON (110) or SenML CBOR (112)');
    const registry = await this.options.models.registryFor(registration.tenantId);
    let values: Lwm2mValue[];
    try {
      values = decodeContent(format, request.message.payload, {}, registry);
    } catch (err) {
      if (err instanceof Lwm2mCodecError) throw invalid(`the Send payload could not be read: ${err.message}`);
      throw err;
    }
    await this.options.mapping.pushedValues(identityOf(registration), values, registry);
    return { code: CoapCode.Changed };
  }
}

function invalid(detail: string): HangarError {
  return new HangarError('VALIDATION_FAILED', detail);
}

function uriPath(request: CoapRequest): string[] {
  return optionValues(request.message, Opt.UriPath).map((v) => v.toString('utf8'));
}

function query(request: CoapRequest): Query {
  const q: Query = new Map();
  for (const raw of optionValues(request.message, Opt.UriQuery)) {
    const text = raw.toString('utf8');
    const eq = text.indexOf('=');
    const key = eq < 0 ? text : text.slice(0, eq);
    if (q.has(key)) throw invalid(`query parameter "${key.slice(0, 32)}" is given twice`);
    q.set(key, eq < 0 ? true : text.slice(eq + 1));
  }
  return q;
}

function strParam(q: Query, key: string): string | undefined {
  const v = q.get(key);
  if (v === undefined) return undefined;
  if (v === true) throw invalid(`query parameter "${key}" needs a value`);
  return v;
}

function intParam(q: Query, key: string): number | undefined {
  const v = strParam(q, key);
  if (v === undefined) return undefined;
  if (!/^[0-9]{1,10}$/.test(v)) throw invalid(`query parameter "${key}" must be a whole number, not "${v.slice(0, 32)}"`);
  return Number(v);
}

function readLinks(request: CoapRequest): { rootPath: string; objects: RegisteredObjectLinks[]; contentFormats?: number[] } {
  const cf = optionValues(request.message, Opt.ContentFormat)[0];
  if (cf !== undefined && decodeUint(cf) !== Cf.linkFormat) throw new HangarError('UNSUPPORTED_MEDIA_TYPE', 'the object links of a registration are CoRE link format (40)');
  const text = request.message.payload.toString('utf8');
  try {
    return parseRegistrationLinks(text);
  } catch (err) {
    if (err instanceof Lwm2mCodecError) throw invalid(`the object links could not be read: ${err.message}`);
    throw err;
  }
}

function principalOf(peer: DatagramPeer): DeviceIdentity | undefined {
  return peer.secure?.principal as DeviceIdentity | undefined;
}

function contactOf(peer: DatagramPeer): Lwm2mContact {
  return { key: peer.key, address: peer.address, port: peer.port, secure: peer.secure !== undefined };
}
