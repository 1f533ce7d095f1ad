import { createHash } from 'node:crypto';
import { COAP_DEVICE_PATH, COAP_QUERY_DEVICE, COAP_QUERY_TOKEN, COAP_RESOURCES } from '@hangar/protocol';
import type { Logger } from 'pino';
import type { EventBus, Unsubscribe } from '../../bus/event-bus.js';
import type { DomainEventType } from '../../bus/events.js';
import { refusalError, type DeviceAuthenticator, type DeviceIdentity } from '../../core/identity/device-authenticator.js';
import type { OtaDevicePort } from '../../core/ota/ota-device-port.js';
import type { PresenceTracker } from '../../core/presence/presence-tracker.js';
import type { TelemetryFormat, TelemetryIngest } from '../../core/telemetry/telemetry-ingest.js';
import { AuthCache } from './auth-cache.js';
import { Block1Assembler } from './block1-assembler.js';
import { blockSize, decodeBlock, encodeBlock, MAX_SZX, type BlockValue } from '@hangar/protocol/coap';
import { Block2Cache, type Representation } from './block2-cache.js';
import { errorResponse, responseForHangarError } from './coap-errors.js';
import {
  CoapCode,
  CoapOptionNumber as Opt,
  ContentFormat,
  encodeUint,
  firstOption,
  optionValues,
  uintOption,
  type CoapMessage,
  type CoapOption,
} from '@hangar/protocol/coap';
import type { DatagramPeer } from '../datagram-channel.js';
import { CoapServer, type CoapRequest, type CoapRequestHandler, type CoapResponse, type CoapTiming } from './coap-server.js';
import { szxFitting } from './coap-requester.js';
import type { CommandReader, DeviceUplink, LogUplink, TwinReader } from './device-ports.js';
import { ObserveRegistry, type Observer } from './observe-registry.js';
import type { ArtifactDownloads } from '../../core/firmware/artifact-downloads.js';
import { firmwareBlock, isFirmwareDownload } from './firmware-download.js';

export interface CoapLimits {
  /** Largest request body (single datagram or reassembled Block1), as for the HTTP device API. */
  maxBodyBytes: number;
  /** Bytes all unfinished Block1 uploads may hold together. */
  maxUploadBytesTotal: number;
  /** Unfinished Block1 uploads one authenticated device may hold (its next one gets 5.03). */
  maxUploadsPerDevice: number;
  /** Bytes one device's unfinished uploads may hold together (raised to `maxBodyBytes` if lower). */
  maxUploadBytesPerDevice: number;
  /** An unfinished Block1 upload is dropped after this long without a block. */
  uploadIdleTimeoutMs: number;
  /** How long a Block2 transfer may read one representation. */
  block2TtlMs: number;
  maxBlock2CacheBytes: number;
  maxObservers: number;
  maxObserversPerDevice: number;
  /**
   * Observed resources are re-sent (confirmably) at least this often even when unchanged: it
   * keeps the client's copy fresh (Max-Age) and drops observers that stopped answering (RFC 7641 §4.5).
   */
  observeRefreshMs: number;
  /** How long a successful token authentication is reused (0 disables the cache). */
  authCacheMs: number;
}

export const DEFAULT_LIMITS: CoapLimits = {
  maxBodyBytes: 256 * 1024,
  maxUploadBytesTotal: 32 * 1024 * 1024,
  maxUploadsPerDevice: 2,
  maxUploadBytesPerDevice: 512 * 1024,
  uploadIdleTimeoutMs: 60_000,
  block2TtlMs: 60_000,
  maxBlock2CacheBytes: 32 * 1024 * 1024,
  maxObservers: 100_000,
  maxObserversPerDevice: 16,
  observeRefreshMs: 30 * 60_000,
  authCacheMs: 30_000,
};

export interface CoapDeviceEndpointOptions {
  authenticator: Pick<DeviceAuthenticator, 'authenticateToken'>;
  telemetry: TelemetryIngest;
  presence: PresenceTracker;
  bus: EventBus;
  logger: Logger;
  /** Serves GET twin/desired; without it that resource answers 5.01. */
  twinReader?: TwinReader | undefined;
  /** Takes twin/reported; without it that resource answers 5.01. */
  uplink?: DeviceUplink | undefined;
  /** Takes POST logs; without it that resource answers 5.01. */
  logs?: LogUplink | undefined;
  /** Serves GET commands; without it the list is empty. */
  commands?: CommandReader | undefined;
  /** Serves firmware and delta downloads (Block2, `?t=` token); without them those answer 5.01. */
  firmware?: ArtifactDownloads | undefined;
  /** Serves GET ota (observable) and takes POST ota/status; without it both answer 5.01. */
  ota?: OtaDevicePort | undefined;
  limits?: Partial<CoapLimits>;
  timing?: Partial<CoapTiming>;
}

type Method = 'GET' | 'POST' | 'PATCH';
const METHOD_OF: Record<number, Method> = { [CoapCode.GET]: 'GET', [CoapCode.POST]: 'POST', [CoapCode.PATCH]: 'PATCH' };

interface ResourceSpec {
  methods: readonly Method[];
  observable: boolean;
}

/** The device API's resources under /device/v1 (DESIGN §5); the same names as the HTTP API. */
const RESOURCES: Record<string, ResourceSpec> = {
  [COAP_RESOURCES.telemetry]: { methods: ['POST'], observable: false },
  [COAP_RESOURCES.twinReported]: { methods: ['PATCH', 'POST'], observable: false },
  [COAP_RESOURCES.twinDesired]: { methods: ['GET'], observable: true },
  [COAP_RESOURCES.commands]: { methods: ['GET'], observable: true },
  [COAP_RESOURCES.logs]: { methods: ['POST'], observable: false },
  [COAP_RESOURCES.ota]: { methods: ['GET'], observable: true },
  [COAP_RESOURCES.otaStatus]: { methods: ['POST'], observable: false },
};

/**
 * Bus events that change an observable resource. A later issue that adds an event (e.g.
 * `command.created`) gets its notifications by its name alone; events carry tenant and device.
 * The endpoint subscribes to these types only: an every-event handler would run for each
 * telemetry batch of each device.
 */
const NOTIFY_ON: ReadonlyMap<string, string> = new Map([
  ['twin.desired.changed', COAP_RESOURCES.twinDesired],
  ['command.queued', COAP_RESOURCES.commands],
  ['ota.offer.changed', COAP_RESOURCES.ota],
]);

/** `commands/{cmdId}/result`: a device answers a command (docs/commands.md). */
const COMMAND_RESULT = /^commands\/([^/]+)\/result$/;
const COMMAND_RESULT_SPEC: ResourceSpec = { methods: ['POST'], observable: false };

const TELEMETRY_FORMATS: ReadonlyMap<number, TelemetryFormat> = new Map([
  [ContentFormat.Json, 'json'],
  [ContentFormat.SenmlJson, 'senml+json'],
  [ContentFormat.SenmlCbor, 'senml+cbor'],
]);

/**
 * Critical options (odd numbers, RFC 7252 §5.4.1) this endpoint understands. Any other
 * critical option — If-Match and If-None-Match included, since no resource here is
 * conditional — is refused with 4.02 rather than silently ignored.
 */
const UNDERSTOOD_CRITICAL = new Set<number>([Opt.UriHost, Opt.UriPort, Opt.UriPath, Opt.UriQuery, Opt.Accept, Opt.Block2, Opt.Block1, Opt.ProxyUri, Opt.ProxyScheme]);

type Rendered = { ok: true; representation: Representation } | { ok: false; response: CoapResponse };

/**
 * The CoAP device API (docs/coap.md): a thin translator from CoAP requests to the core calls
 * every transport makes — authenticate, touch presence, ingest telemetry, read the twin —
 * with block-wise transfers (RFC 7959) and observation (RFC 7641) on top of the messaging
 * layer in `CoapServer`.
 */
export class CoapDeviceEndpoint {
  private readonly limits: CoapLimits;
  private readonly logger: Logger;
  /** The endpoint's own UDP server, made by `listen` (a composition root may route to `handle` instead). */
  private server: CoapServer<DeviceIdentity> | undefined;
  private readonly uploads: Block1Assembler;
  private readonly downloads: Block2Cache;
  private readonly observers: ObserveRegistry;
  private readonly auth: AuthCache;
  private readonly unsubscribe: Unsubscribe[];
  private readonly refresh: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: CoapDeviceEndpointOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.logger = options.logger.child({ transport: 'coap' });
    this.uploads = new Block1Assembler({
      maxBodyBytes: this.limits.maxBodyBytes,
      maxTotalBytes: this.limits.maxUploadBytesTotal,
      maxUploadsPerOwner: this.limits.maxUploadsPerDevice,
      maxBytesPerOwner: Math.max(this.limits.maxUploadBytesPerDevice, this.limits.maxBodyBytes),
      idleTimeoutMs: this.limits.uploadIdleTimeoutMs,
    });
    this.downloads = new Block2Cache(this.limits.block2TtlMs, this.limits.maxBlock2CacheBytes);
    this.observers = new ObserveRegistry(this.limits.maxObservers, this.limits.maxObserversPerDevice);
    this.auth = new AuthCache(this.limits.authCacheMs);
    const bus = options.bus;
    this.unsubscribe = [
      // A name not yet in the DomainEvent union is never published, so its handler waits unused.
      ...[...NOTIFY_ON].map(([type, resource]) =>
        bus.subscribe(type as DomainEventType, (event) => {
          if ('deviceId' in event) this.notify(event.tenantId, event.deviceId, resource);
        }),
      ),
      bus.subscribe('credential.revoked', (e) => {
        this.auth.forget((i) => i.credentialId === e.credentialId);
        this.endObservations((o) => o.device.credentialId === e.credentialId, CoapCode.Forbidden, 'the credential of this observation was revoked');
      }),
      bus.subscribe('device.decommissioned', (e) => {
        this.auth.forget((i) => i.tenantId === e.tenantId && i.deviceId === e.deviceId);
        this.endObservations((o) => o.device.tenantId === e.tenantId && o.device.deviceId === e.deviceId, CoapCode.Forbidden, 'the device was decommissioned');
      }),
      bus.subscribe('device.suspended', (e) => {
        this.auth.forget((i) => i.tenantId === e.tenantId && i.deviceId === e.deviceId);
        this.endObservations((o) => o.device.tenantId === e.tenantId && o.device.deviceId === e.deviceId, CoapCode.Forbidden, 'the device was suspended');
      }),
      bus.subscribe('device.deleted', (e) => {
        this.auth.forget((i) => i.tenantId === e.tenantId && i.deviceId === e.deviceId);
        this.endObservations((o) => o.device.tenantId === e.tenantId && o.device.deviceId === e.deviceId, CoapCode.NotFound, 'the device was deleted');
      }),
    ];
    this.refresh = setInterval(() => this.refreshObservers(), Math.max(1000, Math.min(60_000, this.limits.observeRefreshMs / 4)));
    this.refresh.unref();
  }

  /**
   * Serves the device API alone on its own plain UDP server; resolves with the bound port. To
   * serve it beside other APIs (LwM2M) or over DTLS, route `/device` to `handle` on a `CoapServer`
   * (`routeByFirstSegment`) instead.
   */
  async listen(port: number, host = '0.0.0.0'): Promise<number> {
    if (this.server) throw new Error('the CoAP device API is already listening');
    const server = new CoapServer<DeviceIdentity>({ handler: this.handle, logger: this.logger, timing: this.options.timing });
    this.server = server;
    try {
      const bound = await server.listen(port, host);
      this.logger.info({ port: bound, host }, 'CoAP device API listening');
      return bound;
    } catch (err) {
      this.server = undefined;
      await server.close();
      throw err;
    }
  }

  /** Stops listening; requests being handled finish their core calls first. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.unsubscribe) off();
    clearInterval(this.refresh);
    await this.server?.close();
    this.observers.clear();
    this.uploads.clear();
    this.downloads.clear();
    this.auth.clear();
  }

  get observerCount(): number {
    return this.observers.size;
  }

  /** Pending Block1 uploads (tests, metrics). */
  get pendingUploads(): number {
    return this.uploads.pending;
  }

  /** Tells the observers of one device resource that it changed (RFC 7641 §4.2). */
  notify(tenantId: string, deviceId: string, resource: string): void {
    for (const observer of this.observers.of(tenantId, deviceId, resource)) void this.pushNotification(observer);
  }

  /**
   * Answers one request under `/device/v1`. Over DTLS (`remote.secure`) the handshake's principal
   * is the device; over plain UDP the `device`/`token` query authenticates it.
   */
  readonly handle: CoapRequestHandler<DeviceIdentity> = (request) => this.handleRequest(request);

  private async handleRequest(request: CoapRequest<DeviceIdentity>): Promise<CoapResponse> {
    const message = request.message;
    for (const option of message.options) {
      if (option.number % 2 === 1 && !UNDERSTOOD_CRITICAL.has(option.number)) return errorResponse(CoapCode.BadOption, `critical option ${option.number} is not supported`);
    }
    if (firstOption(message, Opt.ProxyUri) || firstOption(message, Opt.ProxyScheme)) return errorResponse(CoapCode.ProxyingNotSupported, 'this server is not a proxy');
    const path = optionValues(message, Opt.UriPath).map((v) => v.toString('utf8'));
    const resourceName = COAP_DEVICE_PATH.every((segment, i) => path[i] === segment) ? path.slice(COAP_DEVICE_PATH.length).join('/') : undefined;
    // Firmware downloads authenticate by their download token alone (docs/ota-delivery.md).
    if (resourceName !== undefined && isFirmwareDownload(resourceName)) return this.firmwareDownload(message, resourceName, blockSzxFor(request));
    const resource = resourceName === undefined ? undefined : (RESOURCES[resourceName] ?? (COMMAND_RESULT.test(resourceName) ? COMMAND_RESULT_SPEC : undefined));
    if (resourceName === undefined || !resource) return errorResponse(CoapCode.NotFound, `no resource /${path.join('/')}; see docs/coap.md`);
    const method = METHOD_OF[message.code];
    if (!method || !resource.methods.includes(method)) return errorResponse(CoapCode.MethodNotAllowed, `/${path.join('/')} accepts ${resource.methods.join(', ')}`);
    const query = optionValues(message, Opt.UriQuery).map((v) => v.toString('utf8'));
    const authenticated = await this.authenticate(query, request.remote);
    if (!authenticated.ok) return authenticated.response;
    const device = authenticated.identity;
    this.options.presence.touched(device, 'coap', request.remote.address);
    if (method === 'GET') return this.read(request, device, resourceName, query, resource.observable);
    return this.write(request, device, resourceName, query);
  }

  private async firmwareDownload(message: CoapMessage, resource: string, maxSzx: number): Promise<CoapResponse> {
    try {
      return await firmwareBlock(this.options.firmware, message, resource, maxSzx);
    } catch (err) {
      this.logger.error({ err, resource }, 'firmware block read failed');
      return errorResponse(CoapCode.InternalServerError, 'internal error');
    }
  }

  private async authenticate(query: string[], remote: DatagramPeer<DeviceIdentity>): Promise<{ ok: true; identity: DeviceIdentity } | { ok: false; response: CoapResponse }> {
    const params = new Map<string, string>();
    for (const item of query) {
      const eq = item.indexOf('=');
      const name = eq < 0 ? item : item.slice(0, eq);
      if (name !== COAP_QUERY_DEVICE && name !== COAP_QUERY_TOKEN) continue;
      if (params.has(name)) return { ok: false, response: errorResponse(CoapCode.BadRequest, `Uri-Query "${name}" is given twice`) };
      params.set(name, eq < 0 ? '' : item.slice(eq + 1));
    }
    const deviceId = params.get(COAP_QUERY_DEVICE);
    const secure = remote.secure;
    if (secure) {
      // Over DTLS the handshake authenticated the device (PSK identity or certificate); the
      // channel ends the session when its credential is revoked. A `device` query may only repeat it.
      const identity = secure.principal;
      if (deviceId !== undefined && deviceId !== identity.deviceId) {
        this.logger.debug({ remote: remote.key, deviceId: identity.deviceId, named: deviceId }, 'CoAP request over DTLS names another device');
        return { ok: false, response: errorResponse(CoapCode.Forbidden, `this DTLS session authenticated device "${identity.deviceId}"; it cannot act as "${deviceId}"`) };
      }
      return { ok: true, identity };
    }
    const token = params.get(COAP_QUERY_TOKEN);
    if (!deviceId || !token) return { ok: false, response: errorResponse(CoapCode.Unauthorized, `credentials missing: add ?${COAP_QUERY_DEVICE}=<device id>&${COAP_QUERY_TOKEN}=<token>`) };
    const cached = this.auth.get(deviceId, token);
    if (cached) return { ok: true, identity: cached };
    // A revocation landing while the store is read must not leave its credential cached for a TTL.
    const generation = this.auth.generation;
    const result = await this.options.authenticator.authenticateToken(deviceId, token, remote.address);
    if (result.ok) {
      this.auth.set(deviceId, token, result.identity, generation);
      return { ok: true, identity: result.identity };
    }
    this.logger.debug({ remote: remote.key, deviceId, reason: result.reason }, 'CoAP device authentication refused');
    return { ok: false, response: responseForHangarError(refusalError(result), this.limits.maxBodyBytes)! };
  }

  // ---- uploads: POST telemetry, PATCH/POST twin/reported ----

  private async write(request: CoapRequest<DeviceIdentity>, device: DeviceIdentity, resource: string, query: string[]): Promise<CoapResponse> {
    const message = request.message;
    const contentFormat = uintOption(message, Opt.ContentFormat);
    let format: TelemetryFormat | 'json' | 'text';
    if (resource === COAP_RESOURCES.logs) {
      if (contentFormat !== undefined && contentFormat !== ContentFormat.Json && contentFormat !== ContentFormat.TextPlain) return errorResponse(CoapCode.UnsupportedContentFormat, 'logs are text/plain (0) or application/json (50)');
      format = contentFormat === ContentFormat.Json ? 'json' : 'text';
    } else if (resource === COAP_RESOURCES.telemetry) {
      const telemetryFormat = contentFormat === undefined ? 'json' : TELEMETRY_FORMATS.get(contentFormat);
      if (!telemetryFormat) return errorResponse(CoapCode.UnsupportedContentFormat, 'telemetry is application/json (50), application/senml+json (110) or application/senml+cbor (112)');
      format = telemetryFormat;
    } else {
      if (contentFormat !== undefined && contentFormat !== ContentFormat.Json) return errorResponse(CoapCode.UnsupportedContentFormat, `${COMMAND_RESULT.test(resource) ? 'a command result' : resource === COAP_RESOURCES.otaStatus ? 'an OTA status report' : 'reported state'} is application/json (50)`);
      format = 'json';
    }

    const block1Value = firstOption(message, Opt.Block1);
    let block1: BlockValue | undefined;
    let body: Buffer;
    if (block1Value !== undefined) {
      block1 = decodeBlock(block1Value);
      if (!block1) return errorResponse(CoapCode.BadOption, 'malformed Block1 option');
      const key = [request.remote.key, message.code, resource, ...query, hex(firstOption(message, Opt.RequestTag)), hex(firstOption(message, Opt.ETag))].join('|');
      // The quota is the authenticated device's, whatever source port or Request-Tag it uses.
      const outcome = this.uploads.offer(key, `${device.tenantId}\u0000${device.deviceId}`, block1, message.payload, uintOption(message, Opt.Size1));
      switch (outcome.kind) {
        case 'continue':
          // RFC 7959 §2.3: acknowledge the block; the client sends the next one.
          return { code: CoapCode.Continue, options: [{ number: Opt.Block1, value: encodeBlock({ num: block1.num, more: true, szx: block1.szx }) }] };
        case 'incomplete':
          return errorResponse(CoapCode.RequestEntityIncomplete, outcome.reason);
        case 'too_large':
          return errorResponse(CoapCode.RequestEntityTooLarge, outcome.reason, [{ number: Opt.Size1, value: encodeUint(this.limits.maxBodyBytes) }]);
        case 'bad_block':
          return errorResponse(CoapCode.BadRequest, outcome.reason);
        case 'busy':
          return errorResponse(CoapCode.ServiceUnavailable, outcome.reason, [{ number: Opt.MaxAge, value: encodeUint(5) }]);
        case 'complete':
          body = outcome.body;
          break;
      }
    } else {
      body = message.payload;
      if (body.length > this.limits.maxBodyBytes) return errorResponse(CoapCode.RequestEntityTooLarge, `the body exceeds the limit of ${this.limits.maxBodyBytes} bytes`, [{ number: Opt.Size1, value: encodeUint(this.limits.maxBodyBytes) }]);
    }

    const commandId = COMMAND_RESULT.exec(resource)?.[1];
    const response =
      resource === COAP_RESOURCES.logs
        ? await this.ingestLogs(device, body, format === 'json' ? 'json' : 'text')
        : resource === COAP_RESOURCES.telemetry
          ? await this.ingestTelemetry(device, body, format as TelemetryFormat)
          : commandId !== undefined
            ? await this.commandResult(device, commandId, body)
            : resource === COAP_RESOURCES.otaStatus
              ? await this.otaStatus(device, body)
              : await this.reportTwin(device, body);
    // §2.3: the response to the last block carries its Block1 option too.
    if (block1) response.options = [...(response.options ?? []), { number: Opt.Block1, value: encodeBlock({ num: block1.num, more: false, szx: block1.szx }) }];
    return response;
  }

  private async ingestTelemetry(device: DeviceIdentity, body: Buffer, format: TelemetryFormat): Promise<CoapResponse> {
    try {
      // Answered only once the readings are durable: the promise resolves after the write.
      await this.options.telemetry.ingest(device, body, format);
      return { code: CoapCode.Changed };
    } catch (err) {
      return this.failure(err, device, 'telemetry ingest failed');
    }
  }

  private async ingestLogs(device: DeviceIdentity, body: Buffer, kind: 'json' | 'text'): Promise<CoapResponse> {
    const logs = this.options.logs;
    if (!logs) return errorResponse(CoapCode.NotImplemented, 'logs are not accepted over CoAP by this server');
    try {
      await logs.ingest(device, body, kind);
      return { code: CoapCode.Changed };
    } catch (err) {
      return this.failure(err, device, 'log upload failed');
    }
  }

  private async reportTwin(device: DeviceIdentity, body: Buffer): Promise<CoapResponse> {
    const uplink = this.options.uplink;
    if (!uplink) return errorResponse(CoapCode.NotImplemented, 'reported twin state is not accepted over CoAP by this server yet');
    let patch: unknown;
    try {
      patch = JSON.parse(body.toString('utf8'));
    } catch {
      return errorResponse(CoapCode.BadRequest, 'the body is not valid JSON');
    }
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return errorResponse(CoapCode.BadRequest, 'reported state is a JSON object (a merge patch)');
    try {
      await uplink.twinReported(device, patch as Record<string, unknown>);
      return { code: CoapCode.Changed };
    } catch (err) {
      return this.failure(err, device, 'reported twin update failed');
    }
  }

  private async commandResult(device: DeviceIdentity, commandId: string, body: Buffer): Promise<CoapResponse> {
    const commands = this.options.commands;
    if (!commands) return errorResponse(CoapCode.NotImplemented, 'command results are not accepted over CoAP by this server');
    let result: unknown;
    try {
      result = JSON.parse(body.toString('utf8'));
    } catch {
      return errorResponse(CoapCode.BadRequest, 'the body is not valid JSON');
    }
    try {
      const done = await commands.complete(device, commandId, result);
      return { code: CoapCode.Changed, options: [{ number: Opt.ContentFormat, value: encodeUint(ContentFormat.Json) }], payload: Buffer.from(JSON.stringify(done), 'utf8') };
    } catch (err) {
      return this.failure(err, device, 'command result failed');
    }
  }

  private async otaStatus(device: DeviceIdentity, body: Buffer): Promise<CoapResponse> {
    const ota = this.options.ota;
    if (!ota) return errorResponse(CoapCode.NotImplemented, 'OTA status reports are not accepted by this server');
    let report: unknown;
    try {
      report = JSON.parse(body.toString('utf8'));
    } catch {
      return errorResponse(CoapCode.BadRequest, 'the body is not valid JSON');
    }
    try {
      await ota.reportStatus(device.tenantId, device.deviceId, report);
      return { code: CoapCode.Changed };
    } catch (err) {
      return this.failure(err, device, 'OTA status report failed');
    }
  }

  private failure(err: unknown, device: DeviceIdentity, what: string): CoapResponse {
    const response = responseForHangarError(err, this.limits.maxBodyBytes);
    if (response) return response;
    this.logger.error({ err, deviceId: device.deviceId }, what);
    return errorResponse(CoapCode.InternalServerError, 'internal error');
  }

  // ---- reads: GET twin/desired, commands (observable, block-wise) ----

  private async read(request: CoapRequest<DeviceIdentity>, device: DeviceIdentity, resource: string, query: string[], observable: boolean): Promise<CoapResponse> {
    const message = request.message;
    const accept = uintOption(message, Opt.Accept);
    if (accept !== undefined && accept !== ContentFormat.Json) return errorResponse(CoapCode.NotAcceptable, 'this resource is application/json (50)');
    const block2Value = firstOption(message, Opt.Block2);
    const block2 = block2Value === undefined ? undefined : decodeBlock(block2Value);
    if (block2Value !== undefined && !block2) return errorResponse(CoapCode.BadOption, 'malformed Block2 option');
    if (block2 && block2.szx > MAX_SZX) return errorResponse(CoapCode.BadOption, 'BERT block size (SZX 7) is only defined for CoAP over TCP');
    // Over DTLS a record carries less than a UDP datagram: the block size also fits the channel (RFC 7959 §2.4 lets the server pick a smaller one).
    const szx = Math.min(block2?.szx ?? MAX_SZX, MAX_SZX, blockSzxFor(request));
    const cacheKey = downloadKey(request.remote, resource, query);

    if (block2 && block2.num > 0) {
      // A later block of a transfer (RFC 7959 §2.4), possibly following a notification (§3.4):
      // served from the representation its first block came from. Observe is not re-registered.
      let representation = this.downloads.get(cacheKey);
      if (!representation) {
        const rendered = await this.render(resource, device);
        if (!rendered.ok) return rendered.response;
        representation = rendered.representation;
        this.downloads.set(cacheKey, representation);
      }
      // A smaller block than asked for: the same offset, counted in smaller blocks.
      return this.blockOf(representation, block2.num << (Math.min(block2.szx, MAX_SZX) - szx), szx, []);
    }

    const rendered = await this.render(resource, device);
    if (!rendered.ok) return rendered.response;
    const representation = rendered.representation;
    const extra: CoapOption[] = [];
    const observe = uintOption(message, Opt.Observe);
    const observerKey = ObserveRegistry.keyOf(request.remote, message.token);
    let observing = false;
    if (observe === 0 && observable) {
      const observer: Observer = { key: observerKey, remote: request.remote, via: request.via, token: message.token, resource, device, query, szx, inFlight: false, dirty: false, lastNotifiedAt: Date.now() };
      observing = this.observers.add(observer);
      if (observing) extra.push({ number: Opt.Observe, value: encodeUint(this.observers.nextSequence()) });
      else this.logger.debug({ deviceId: device.deviceId, resource }, 'observe refused: observer limit reached');
    } else if (observe !== undefined) {
      // Observe=1 deregisters (RFC 7641 §3.6); so does a plain GET with the same token (§4.1 replaces the entry).
      const existing = this.observers.get(observerKey);
      if (existing) this.observers.remove(existing);
    }
    extra.push({ number: Opt.MaxAge, value: encodeUint(observing ? this.maxAgeSeconds() : 0) });

    // §5.10.6.2: a client that holds the current representation is told so without it.
    if (optionValues(message, Opt.ETag).some((etag) => etag.equals(representation.etag))) {
      return { code: CoapCode.Valid, options: [{ number: Opt.ETag, value: representation.etag }, ...extra] };
    }
    if (representation.payload.length > blockSize(szx) || block2) {
      this.downloads.set(cacheKey, representation);
      return this.blockOf(representation, 0, szx, extra);
    }
    return { code: CoapCode.Content, options: [{ number: Opt.ContentFormat, value: encodeUint(representation.contentFormat) }, { number: Opt.ETag, value: representation.etag }, ...extra], payload: representation.payload };
  }

  private blockOf(representation: Representation, num: number, szx: number, extra: CoapOption[]): CoapResponse {
    const size = blockSize(szx);
    const offset = num * size;
    if (offset >= representation.payload.length && !(num === 0 && representation.payload.length === 0)) {
      return errorResponse(CoapCode.BadOption, `block ${num} lies beyond the ${representation.payload.length}-byte representation`);
    }
    const more = offset + size < representation.payload.length;
    const options: CoapOption[] = [
      { number: Opt.ContentFormat, value: encodeUint(representation.contentFormat) },
      { number: Opt.ETag, value: representation.etag },
      { number: Opt.Block2, value: encodeBlock({ num, more, szx }) },
      ...extra,
    ];
    // RFC 7959 §4: Size2 with the first block tells the client the whole size.
    if (num === 0) options.push({ number: Opt.Size2, value: encodeUint(representation.payload.length) });
    return { code: CoapCode.Content, options, payload: representation.payload.subarray(offset, offset + size) };
  }

  private async render(resource: string, device: DeviceIdentity): Promise<Rendered> {
    try {
      let document: unknown;
      if (resource === COAP_RESOURCES.twinDesired) {
        const reader = this.options.twinReader;
        if (!reader) return { ok: false, response: errorResponse(CoapCode.NotImplemented, 'the desired twin is not served over CoAP by this server yet') };
        document = await reader.desiredDocument(device.tenantId, device.deviceId);
      } else if (resource === COAP_RESOURCES.ota) {
        const ota = this.options.ota;
        if (!ota) return { ok: false, response: errorResponse(CoapCode.NotImplemented, 'OTA offers are not served by this server') };
        document = await ota.currentOffer(device.tenantId, device.deviceId);
      } else if (resource === COAP_RESOURCES.commands) {
        // Read = delivered: the commands in this representation are marked sent (docs/commands.md).
        document = { items: (await this.options.commands?.take(device)) ?? [] };
      } else {
        return { ok: false, response: errorResponse(CoapCode.NotFound, `no resource ${resource}`) };
      }
      const payload = Buffer.from(JSON.stringify(document), 'utf8');
      return { ok: true, representation: { payload, contentFormat: ContentFormat.Json, etag: etagOf(payload) } };
    } catch (err) {
      return { ok: false, response: this.failure(err, device, `reading ${resource} failed`) };
    }
  }

  // ---- observation ----

  /**
   * Sends the current state to one observer as a confirmable notification. At most one is in
   * flight per observer; a change meanwhile is sent once it is acknowledged, so the client always
   * ends on the newest state (RFC 7641 §4.5.2). A Reset or a notification nobody acknowledges
   * ends the observation (§3.6, §4.5).
   */
  private async pushNotification(observer: Observer): Promise<void> {
    if (this.closed || !this.observers.isCurrent(observer)) return;
    if (observer.inFlight) {
      observer.dirty = true;
      return;
    }
    observer.inFlight = true;
    observer.dirty = false;
    try {
      const rendered = await this.render(observer.resource, observer.device);
      if (!this.observers.isCurrent(observer)) return;
      if (!rendered.ok) {
        // §3.2: a notification with an error code and no Observe option ends the observation.
        this.observers.remove(observer);
        await observer.via.sendConfirmable(observer.remote, { code: rendered.response.code, token: observer.token, options: rendered.response.options ?? [], payload: rendered.response.payload ?? Buffer.alloc(0) });
        return;
      }
      const representation = rendered.representation;
      const extra: CoapOption[] = [
        { number: Opt.Observe, value: encodeUint(this.observers.nextSequence()) },
        { number: Opt.MaxAge, value: encodeUint(this.maxAgeSeconds()) },
      ];
      let response: CoapResponse;
      if (representation.payload.length > blockSize(observer.szx)) {
        // §3.4 of RFC 7959: the first block goes with the notification; the client GETs the rest.
        this.downloads.set(downloadKey(observer.remote, observer.resource, observer.query), representation);
        response = this.blockOf(representation, 0, observer.szx, extra);
      } else {
        response = { code: CoapCode.Content, options: [{ number: Opt.ContentFormat, value: encodeUint(representation.contentFormat) }, { number: Opt.ETag, value: representation.etag }, ...extra], payload: representation.payload };
      }
      observer.lastNotifiedAt = Date.now();
      const outcome = await observer.via.sendConfirmable(observer.remote, { code: response.code, token: observer.token, options: response.options ?? [], payload: response.payload ?? Buffer.alloc(0) });
      if (outcome !== 'acked') {
        this.observers.remove(observer);
        this.logger.debug({ remote: observer.remote.key, deviceId: observer.device.deviceId, resource: observer.resource, outcome }, 'CoAP observation ended');
      }
    } catch (err) {
      this.logger.warn({ err, deviceId: observer.device.deviceId, resource: observer.resource }, 'CoAP notification failed');
    } finally {
      observer.inFlight = false;
    }
    if (observer.dirty && this.observers.isCurrent(observer)) void this.pushNotification(observer);
  }

  private endObservations(match: (observer: Observer) => boolean, code: number, reason: string): void {
    for (const observer of this.observers.where(match)) {
      this.observers.remove(observer);
      void observer.via.sendConfirmable(observer.remote, { code, token: observer.token, payload: Buffer.from(reason, 'utf8') });
    }
  }

  private refreshObservers(): void {
    const due = Date.now() - this.limits.observeRefreshMs;
    for (const observer of this.observers.where((o) => o.lastNotifiedAt <= due && !o.inFlight)) void this.pushNotification(observer);
  }

  /** Notifications stay fresh until the next refresh, with a margin for its retransmissions. */
  private maxAgeSeconds(): number {
    return Math.ceil(this.limits.observeRefreshMs / 1000) + 120;
  }
}

/** RFC 7959 block sizes that fit the request's channel with room for the answer's header and options. */
const BLOCK_RESPONSE_OVERHEAD = 64;

export function blockSzxFor(request: CoapRequest<unknown>): number {
  return szxFitting(request.via.maxPayload(request.remote) - BLOCK_RESPONSE_OVERHEAD);
}

function downloadKey(remote: DatagramPeer<unknown>, resource: string, query: string[]): string {
  return [remote.key, resource, ...query].join('|');
}

function etagOf(payload: Buffer): Buffer {
  return createHash('sha256').update(payload).digest().subarray(0, 8);
}

function hex(value: Buffer | undefined): string {
  return value === undefined ? '-' : value.toString('hex');
}
