/**
 * A simulated LwM2M 1.1 device (OMA-TS-LightweightM2M_Core-V1_1_1): bootstrap, registration
 * (register, periodic update, de-register), the device-management operations a server sends
 * (Read, Write, Execute, Create, Delete, Discover, Write-Attributes, Observe, Read- and
 * Observe-Composite), and Send. Objects: Security, Server, Device, Firmware Update, Temperature.
 * Used by the simulator (`hangar-agent simulate --protocol lwm2m`) and the LwM2M benchmark.
 */
import { CoapCode, CoapOptionNumber, decodeUint, encodeUint, type CoapOption } from '@hangar/protocol/coap';
import {
  Lwm2mCodecError,
  Lwm2mContentFormat,
  builtinObjectRegistry,
  decodeCompositePaths,
  decodeContent,
  encodeContent,
  formatLinkFormat,
  parseWriteAttributes,
  pathFromUriPath,
  type LinkAttributes,
  type LinkEntry,
  type Lwm2mPath,
  type Lwm2mValue,
  type ObjectRegistry,
} from '@hangar/protocol/lwm2m';
import { CoapEndpoint, describeResponse, type CoapTiming, type IncomingHandler, type IncomingRequest, type ResponseToSend } from './coap-endpoint.js';
import { FirmwareUpdate, type FirmwareUpdateOptions } from './firmware-update.js';
import { Lwm2mOperationError, ObjectTree, pathText } from './object-tree.js';
import { Observations, type NotificationTiming } from './observations.js';
import { SecurityMode, SimulatedDevice, TemperatureSensor, addServerAccount, type DeviceInfo } from './standard-objects.js';
import { openDtlsTransport, openUdpTransport, parseCoapUri, type PskCredentials } from './transport.js';

export interface Lwm2mClientOptions {
  /** The endpoint name (Hangar: the device id). */
  endpointName: string;
  /** The management server, `coap://host:port` or `coaps://host:port` (then `psk` is required). */
  serverUri?: string;
  /** A bootstrap server instead: the client bootstraps first and registers where it was told. */
  bootstrapUri?: string;
  psk?: PskCredentials;
  /** Registration lifetime in seconds (default 300). */
  lifetimeSec?: number;
  /** Queue mode (Core §6.5): registers with `Q` and answers requests only for `queueAwakeMs` after it last sent something. */
  queueMode?: boolean;
  queueAwakeMs?: number;
  /** Seconds between updates (default 90 % of the lifetime). */
  updateIntervalSec?: number;
  device?: DeviceInfo;
  firmware?: FirmwareUpdateOptions;
  /** Milliseconds between temperature readings (default 0: the value changes only through `readTemperature()`). */
  temperatureIntervalMs?: number;
  timing?: Partial<CoapTiming>;
  registry?: ObjectRegistry;
  /** DTLS handshake deadline (default 10 s). */
  handshakeTimeoutMs?: number;
  /** How long to wait for Bootstrap-Finish (default 60 s). */
  bootstrapTimeoutMs?: number;
  onEvent?(event: Lwm2mClientEvent): void;
}

export type Lwm2mClientEvent =
  | { type: 'bootstrapped' }
  | { type: 'registered'; location: string }
  | { type: 'updated' }
  | { type: 'registration_failed'; error: string }
  | { type: 'deregistered' }
  | { type: 'rebooting' }
  | { type: 'changed'; path: string };

export interface Lwm2mClientStats {
  registrations: number;
  registrationFailures: number;
  updates: number;
  notificationsSent: number;
  sends: number;
  requestsAnswered: number;
}

export class Lwm2mClientError extends Error {
  override readonly name = 'Lwm2mClientError';
}

/** Formats the client encodes and decodes (Core §7.4). */
const SINGLE_VALUE_FORMATS = new Set<number>([Lwm2mContentFormat.text, Lwm2mContentFormat.opaque, Lwm2mContentFormat.cbor]);
const MULTI_VALUE_FORMATS = new Set<number>([Lwm2mContentFormat.tlv, Lwm2mContentFormat.senmlJson, Lwm2mContentFormat.senmlCbor, Lwm2mContentFormat.lwm2mJson]);
const ALL_FORMATS = [...SINGLE_VALUE_FORMATS, ...MULTI_VALUE_FORMATS].sort((a, b) => a - b);

interface ServerTarget {
  uri: string;
  psk: PskCredentials | undefined;
  shortServerId: number;
  lifetimeSec: number;
  binding: string;
}

export class Lwm2mClient implements IncomingHandler {
  readonly tree: ObjectTree;
  readonly device: SimulatedDevice;
  readonly temperature: TemperatureSensor;
  readonly firmware: FirmwareUpdate;
  readonly stats: Lwm2mClientStats = { registrations: 0, registrationFailures: 0, updates: 0, notificationsSent: 0, sends: 0, requestsAnswered: 0 };
  private readonly registry: ObjectRegistry;
  private readonly observations: Observations;
  private readonly attributes = new Map<string, LinkAttributes>();
  private endpoint: CoapEndpoint | undefined;
  private role: 'bootstrap' | 'server' = 'server';
  private bootstrapFinished: (() => void) | undefined;
  private location: string[] | undefined;
  private registeredLifetime = 0;
  private linksChanged = false;
  private updateTimer: NodeJS.Timeout | undefined;
  private temperatureTimer: NodeJS.Timeout | undefined;
  private awakeUntil = 0;
  private stopped = false;

  constructor(private readonly options: Lwm2mClientOptions) {
    if (options.serverUri && options.bootstrapUri) throw new Lwm2mClientError('give serverUri or bootstrapUri, not both');
    if (!options.serverUri && !options.bootstrapUri) throw new Lwm2mClientError('serverUri or bootstrapUri is required');
    for (const uri of [options.serverUri, options.bootstrapUri]) {
      if (uri && parseCoapUri(uri).secure && !options.psk) throw new Lwm2mClientError(`${uri} is coaps://: a PSK (identity and key) is required`);
    }
    this.registry = options.registry ?? builtinObjectRegistry();
    this.tree = new ObjectTree(this.registry);
    this.tree.support(0);
    this.tree.support(1);
    const lifetimeSec = options.lifetimeSec ?? 300;
    const binding = 'U';
    if (options.serverUri) {
      addServerAccount(this.tree, 0, { uri: options.serverUri, shortServerId: 1, bootstrap: false, lifetimeSec, binding, ...(options.psk ? { psk: options.psk } : {}) });
    } else {
      addServerAccount(this.tree, 0, { uri: options.bootstrapUri!, shortServerId: 0, bootstrap: true, lifetimeSec, binding, ...(options.psk ? { psk: options.psk } : {}) });
    }
    this.device = new SimulatedDevice(options.device ?? {}, options.endpointName);
    this.device.install(this.tree, () => this.reboot());
    this.temperature = new TemperatureSensor();
    this.temperature.install(this.tree, (rid) => this.changed({ objectId: 3303, instanceId: 0, resourceId: rid }));
    this.firmware = new FirmwareUpdate(
      this.tree.addInstance(5, 0),
      { ...(options.firmware ?? {}), ...(options.psk && !options.firmware?.psk ? { psk: options.psk } : {}) },
      {
        firmwareVersion: () => this.device.firmwareVersion,
        setFirmwareVersion: (v) => {
          this.device.firmwareVersion = v;
          this.changed({ objectId: 3, instanceId: 0, resourceId: 3 });
        },
        reboot: () => this.reboot(),
      },
      (rid) => this.changed({ objectId: 5, instanceId: 0, resourceId: rid }),
    );
    this.observations = new Observations({
      endpoint: () => (this.role === 'server' ? this.endpoint : undefined),
      content: (paths, format, composite) => this.observedContent(paths, format, composite),
      timing: (paths) => this.notificationTiming(paths),
      notified: () => {
        this.stats.notificationsSent += 1;
        this.awake();
      },
    });
  }

  get registered(): boolean {
    return this.location !== undefined;
  }

  /** The registration's location (`/rd/…`), once registered. */
  get registrationLocation(): string | undefined {
    return this.location ? `/${this.location.join('/')}` : undefined;
  }

  get observationCount(): number {
    return this.observations.size;
  }

  /** Bootstraps when configured to, then registers; rejects when either is refused or times out. */
  async start(): Promise<void> {
    this.stopped = false;
    if (!this.serverTarget()) await this.bootstrap();
    await this.register();
    const interval = this.options.temperatureIntervalMs ?? 0;
    if (interval > 0 && !this.temperatureTimer) this.temperatureTimer = setInterval(() => this.readTemperature(), interval);
  }

  /** De-registers (Core §6.2.3) and closes the socket. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.updateTimer);
    clearInterval(this.temperatureTimer);
    this.temperatureTimer = undefined;
    this.observations.clear();
    this.firmware.cancelDownload();
    const endpoint = this.endpoint;
    if (endpoint && this.location && this.role === 'server') {
      try {
        const response = await endpoint.request({ code: CoapCode.DELETE, path: this.location }, { timeoutMs: 5000 });
        if (response.code === CoapCode.Deleted) this.emit({ type: 'deregistered' });
      } catch {
        // The server is gone; the registration expires with its lifetime.
      }
    }
    this.location = undefined;
    await this.disconnect();
  }

  /** A new temperature reading; observers of /3303/0/5700 are notified per their attributes. */
  readTemperature(): void {
    for (const rid of this.temperature.step()) this.changed({ objectId: 3303, instanceId: 0, resourceId: rid });
    this.device.readings += 1;
    if (this.device.readings % 100 === 0 && this.device.batteryLevel > 0) {
      this.device.batteryLevel -= 1;
      this.changed({ objectId: 3, instanceId: 0, resourceId: 9 });
    }
  }

  /** Send (Core §6.4.1): the values under `paths` to /dp as SenML CBOR. */
  async send(paths: string[]): Promise<void> {
    const endpoint = this.requireRegistered();
    const values = paths.flatMap((p) => this.tree.read(pathFromUriPath(p.split('/').filter((s) => s !== '')), 'server'));
    const payload = encodeContent(Lwm2mContentFormat.senmlCbor, values, {}, this.registry);
    const response = await endpoint.request({ code: CoapCode.POST, path: ['dp'], options: [contentFormat(Lwm2mContentFormat.senmlCbor)], payload });
    this.awake();
    if (response.code !== CoapCode.Changed) throw new Lwm2mClientError(`Send refused: ${describeResponse(response)}`);
    this.stats.sends += 1;
  }

  /** Registration Update (Core §6.2.2) now; re-registers when the server no longer knows the registration. */
  async update(): Promise<void> {
    const endpoint = this.requireRegistered();
    const target = this.serverTarget()!;
    const query: string[] = [];
    if (target.lifetimeSec !== this.registeredLifetime) query.push(`lt=${target.lifetimeSec}`);
    const links = this.linksChanged;
    const response = await endpoint.request({
      code: CoapCode.POST,
      path: this.location!,
      query,
      ...(links ? { options: [contentFormat(Lwm2mContentFormat.linkFormat)], payload: Buffer.from(this.registrationPayload()) } : {}),
    });
    this.awake();
    if (response.code === CoapCode.Changed) {
      this.registeredLifetime = target.lifetimeSec;
      if (links) this.linksChanged = false;
      this.stats.updates += 1;
      this.emit({ type: 'updated' });
      this.scheduleUpdate();
      return;
    }
    if (response.code === CoapCode.NotFound) {
      this.location = undefined;
      await this.register();
      return;
    }
    throw new Lwm2mClientError(`Update refused: ${describeResponse(response)}`);
  }

  /** Register (Core §6.2.1). */
  async register(): Promise<void> {
    const target = this.serverTarget();
    if (!target) throw new Lwm2mClientError('no management server account (bootstrap first)');
    try {
      const endpoint = await this.connect(target.uri, target.psk, 'server');
      const query = [`ep=${this.options.endpointName}`, `lt=${target.lifetimeSec}`, 'lwm2m=1.1', `b=${target.binding.replace('Q', '')}`];
      // LwM2M 1.1 signals queue mode with a `Q` parameter (1.0 used the binding `UQ`).
      if (this.options.queueMode || target.binding.includes('Q')) query.push('Q');
      const response = await endpoint.request({
        code: CoapCode.POST,
        path: ['rd'],
        query,
        options: [contentFormat(Lwm2mContentFormat.linkFormat)],
        payload: Buffer.from(this.registrationPayload()),
      });
      this.awake();
      if (response.code !== CoapCode.Created) throw new Lwm2mClientError(`Register refused: ${describeResponse(response)}`);
      const location = response.options.filter((o) => o.number === CoapOptionNumber.LocationPath).map((o) => o.value.toString('utf8'));
      if (location.length === 0) throw new Lwm2mClientError('Register answered 2.01 without a Location-Path');
      this.location = location;
      this.registeredLifetime = target.lifetimeSec;
      this.linksChanged = false;
      this.stats.registrations += 1;
      this.emit({ type: 'registered', location: `/${location.join('/')}` });
      this.scheduleUpdate();
    } catch (err) {
      this.stats.registrationFailures += 1;
      this.emit({ type: 'registration_failed', error: (err as Error).message });
      throw err;
    }
  }

  /** Client-initiated bootstrap (Core §6.1.3): POST /bs?ep=, then the server's writes until Bootstrap-Finish. */
  async bootstrap(): Promise<void> {
    const account = this.tree.instances(0).find((i) => i.get(1) === true);
    if (!account) throw new Lwm2mClientError('no bootstrap server account');
    const endpoint = await this.connect(String(account.get(0)), pskOf(account.get(2), account.get(3), account.get(5)), 'bootstrap');
    const finished = new Promise<void>((resolve) => (this.bootstrapFinished = resolve));
    const response = await endpoint.request({ code: CoapCode.POST, path: ['bs'], query: [`ep=${this.options.endpointName}`, `pct=${Lwm2mContentFormat.senmlCbor}`] });
    if (response.code !== CoapCode.Changed) {
      await this.disconnect();
      throw new Lwm2mClientError(`Bootstrap-Request refused: ${describeResponse(response)}`);
    }
    const timeoutMs = this.options.bootstrapTimeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([finished, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Lwm2mClientError(`no Bootstrap-Finish within ${timeoutMs} ms`)), timeoutMs)))]);
    } finally {
      clearTimeout(timer);
      this.bootstrapFinished = undefined;
      await this.disconnect();
    }
    this.emit({ type: 'bootstrapped' });
  }

  // ——— requests from the server ———

  /** Queue mode: a sleeping device does not hear requests (they wait at the server for its next update). */
  accepting(): boolean {
    return !this.options.queueMode || Date.now() < this.awakeUntil;
  }

  blockTransferStarted(request: IncomingRequest): void {
    if (request.path.join('/') === '5/0/0') this.firmware.pushStarted();
  }

  blockReceived(request: IncomingRequest): void {
    if (request.path.join('/') === '5/0/0') this.firmware.pushProgress();
  }

  handle(request: IncomingRequest): ResponseToSend {
    this.stats.requestsAnswered += 1;
    this.awake();
    try {
      if (this.role === 'bootstrap') return this.handleBootstrap(request);
      return this.handleManagement(request);
    } catch (err) {
      if (err instanceof Lwm2mOperationError) return failure(err.code, err.message);
      if (err instanceof Lwm2mCodecError) return failure(CoapCode.BadRequest, err.message);
      throw err;
    }
  }

  private handleManagement(request: IncomingRequest): ResponseToSend {
    const path = pathOfRequest(request);
    const accept = optionUint(request.options, CoapOptionNumber.Accept);
    const observe = optionUint(request.options, CoapOptionNumber.Observe);
    switch (request.code) {
      case CoapCode.GET: {
        if (accept === Lwm2mContentFormat.linkFormat) {
          const links = this.tree.discover(path, (p) => this.attributes.get(pathText(p)) ?? {});
          return { code: CoapCode.Content, options: [contentFormat(Lwm2mContentFormat.linkFormat)], payload: Buffer.from(formatLinkFormat(links)) };
        }
        if (observe === 1) this.observations.cancel(request.token);
        const values = this.tree.read(path, 'server');
        const format = chooseFormat(path, values, accept);
        const payload = this.encode(format, values, path);
        const options: CoapOption[] = [contentFormat(format)];
        if (observe === 0) options.unshift({ number: CoapOptionNumber.Observe, value: encodeUint(this.observations.add(request.token, [path], format, false)) });
        return { code: CoapCode.Content, options, payload };
      }
      case CoapCode.FETCH: {
        const requestFormat = optionUint(request.options, CoapOptionNumber.ContentFormat) ?? Lwm2mContentFormat.senmlCbor;
        const paths = decodeCompositePaths(requestFormat, request.payload);
        if (observe === 1) this.observations.cancel(request.token);
        const format = accept ?? requestFormat;
        if (format !== Lwm2mContentFormat.senmlJson && format !== Lwm2mContentFormat.senmlCbor) return failure(CoapCode.NotAcceptable, 'composite content is SenML JSON or SenML CBOR');
        const values = paths.flatMap((p) => this.tree.read(p, 'server'));
        const payload = this.encode(format, values, {});
        const options: CoapOption[] = [contentFormat(format)];
        if (observe === 0) options.unshift({ number: CoapOptionNumber.Observe, value: encodeUint(this.observations.add(request.token, paths, format, true)) });
        return { code: CoapCode.Content, options, payload };
      }
      case CoapCode.PUT: {
        if (request.payload.length === 0 && request.query.length > 0) return this.writeAttributes(path, request.query);
        const values = this.decode(request, path);
        this.tree.write(path, values, { replace: true, caller: 'server' });
        this.afterWrite(path, values);
        return { code: CoapCode.Changed };
      }
      case CoapCode.POST: {
        if (path.objectId === undefined) return failure(CoapCode.MethodNotAllowed, 'POST on the root');
        if (path.objectId === 1 && path.instanceId !== undefined && path.resourceId === 8 && this.tree.instance(1, path.instanceId)) {
          // Registration Update Trigger (Core §E.2, resource 8): an Update right after the answer.
          setImmediate(() => void this.update().catch(() => this.reregisterLater(1)));
          return { code: CoapCode.Changed };
        }
        if (path.resourceId !== undefined) {
          this.tree.execute(path, request.payload.toString('utf8'));
          return { code: CoapCode.Changed };
        }
        if (path.instanceId !== undefined) {
          const values = this.decode(request, path);
          this.tree.write(path, values, { replace: false, caller: 'server' });
          this.afterWrite(path, values);
          return { code: CoapCode.Changed };
        }
        const values = request.payload.length === 0 ? [] : this.decode(request, path);
        const instanceId = this.tree.create(path.objectId, values);
        this.linksChanged = true;
        return { code: CoapCode.Created, options: [String(path.objectId), String(instanceId)].map((s) => ({ number: CoapOptionNumber.LocationPath, value: Buffer.from(s) })) };
      }
      case CoapCode.DELETE: {
        if (path.objectId === undefined || path.instanceId === undefined || path.resourceId !== undefined) return failure(CoapCode.MethodNotAllowed, 'Delete takes /object/instance');
        if ([0, 1, 3, 5].includes(path.objectId)) return failure(CoapCode.MethodNotAllowed, `instances of object ${path.objectId} cannot be deleted by a management server`);
        if (!this.tree.deleteInstance(path.objectId, path.instanceId)) return failure(CoapCode.NotFound, `${pathText(path)} does not exist`);
        this.linksChanged = true;
        return { code: CoapCode.Deleted };
      }
      default:
        return failure(CoapCode.MethodNotAllowed, 'not an LwM2M operation');
    }
  }

  /** Bootstrap interface (Core §6.1.7): Write, Read (Server object), Discover, Delete and Finish. */
  private handleBootstrap(request: IncomingRequest): ResponseToSend {
    if (request.code === CoapCode.POST && request.path.length === 1 && request.path[0] === 'bs') {
      // Core §6.1.7.7: finishing with no usable management server account is 4.06.
      if (!this.serverTarget()) return failure(CoapCode.NotAcceptable, 'no management server account was written');
      setImmediate(() => this.bootstrapFinished?.());
      return { code: CoapCode.Changed };
    }
    const path = pathOfRequest(request);
    const accept = optionUint(request.options, CoapOptionNumber.Accept);
    switch (request.code) {
      case CoapCode.PUT: {
        if (path.objectId === undefined) return failure(CoapCode.BadRequest, 'Bootstrap-Write needs an object');
        const values = this.decode(request, path);
        this.tree.write(path, values, { replace: true, caller: 'bootstrap' });
        return { code: CoapCode.Changed };
      }
      case CoapCode.GET: {
        if (accept === Lwm2mContentFormat.linkFormat) {
          const links = this.tree.bootstrapDiscover().filter((l) => path.objectId === undefined || l.target === '/' || l.target.split('/')[1] === String(path.objectId));
          return { code: CoapCode.Content, options: [contentFormat(Lwm2mContentFormat.linkFormat)], payload: Buffer.from(formatLinkFormat(links)) };
        }
        // Bootstrap-Read is for the Server and Access Control objects only (Core §6.1.7.2).
        if (path.objectId !== 1 && path.objectId !== 2) return failure(CoapCode.BadRequest, 'Bootstrap-Read reads objects 1 and 2 only');
        const values = this.tree.read(path, 'bootstrap');
        const format = chooseFormat(path, values, accept);
        return { code: CoapCode.Content, options: [contentFormat(format)], payload: this.encode(format, values, path) };
      }
      case CoapCode.DELETE: {
        this.bootstrapDelete(path);
        return { code: CoapCode.Deleted };
      }
      default:
        return failure(CoapCode.MethodNotAllowed, 'not a bootstrap operation');
    }
  }

  /** Bootstrap-Delete (Core §6.1.7.6): everything but the bootstrap account and the Device object. */
  private bootstrapDelete(path: Lwm2mPath): void {
    const objectIds = path.objectId === undefined ? this.tree.objectIds() : [path.objectId];
    for (const objectId of objectIds) {
      if (objectId === 3 || objectId === 5 || objectId === 3303) continue;
      for (const instance of this.tree.instances(objectId)) {
        if (path.instanceId !== undefined && instance.id !== path.instanceId) continue;
        if (objectId === 0 && instance.get(1) === true) continue;
        this.tree.deleteInstance(objectId, instance.id);
      }
    }
  }

  private writeAttributes(path: Lwm2mPath, query: string[]): ResponseToSend {
    if (path.objectId === undefined) return failure(CoapCode.MethodNotAllowed, 'Write-Attributes on the root');
    this.tree.read(path, 'server');
    const key = pathText(path);
    const next: LinkAttributes = { ...(this.attributes.get(key) ?? {}) };
    // Core §5.1: an attribute without a value is removed; parseWriteAttributes refuses the rest (4.00).
    for (const [name, value] of Object.entries(parseWriteAttributes(query))) {
      if (value === null) delete next[name];
      else next[name] = value;
    }
    if (typeof next.pmin === 'number' && typeof next.pmax === 'number' && next.pmax < next.pmin) return failure(CoapCode.BadRequest, 'pmax is smaller than pmin');
    this.attributes.set(key, next);
    return { code: CoapCode.Changed };
  }

  /** pmin/pmax of the most specific path that sets them, then the Server object's defaults (Core §5.1.2, §E.2 resources 2 and 3). */
  private notificationTiming(paths: Lwm2mPath[]): NotificationTiming {
    const lookup = (name: string): number | undefined => {
      for (const path of paths) {
        const chain = [path, { ...path, resourceInstanceId: undefined }, { objectId: path.objectId, instanceId: path.instanceId }, { objectId: path.objectId }];
        for (const p of chain) {
          const v = this.attributes.get(pathText(p))?.[name];
          if (typeof v === 'number') return v;
        }
      }
      return undefined;
    };
    const server = this.tree.instances(1)[0];
    const defaultPmin = server?.get(2);
    const defaultPmax = server?.get(3);
    return {
      pmin: lookup('pmin') ?? (typeof defaultPmin === 'number' ? defaultPmin : 0),
      pmax: lookup('pmax') ?? (typeof defaultPmax === 'number' ? defaultPmax : undefined),
      confirmable: lookup('con') === 1,
    };
  }

  private observedContent(paths: Lwm2mPath[], format: number, composite: boolean): ResponseToSend {
    try {
      const values = paths.flatMap((p) => this.tree.read(p, 'server'));
      return { code: CoapCode.Content, options: [contentFormat(format)], payload: this.encode(format, values, composite ? {} : paths[0]!) };
    } catch (err) {
      return failure(err instanceof Lwm2mOperationError ? err.code : CoapCode.InternalServerError, (err as Error).message);
    }
  }

  private afterWrite(path: Lwm2mPath, values: Lwm2mValue[]): void {
    for (const v of values) this.changed(v.path);
    if (path.objectId === 1 && values.some((v) => v.path.resourceId === 1)) this.scheduleUpdate();
  }

  private changed(path: Lwm2mPath): void {
    this.observations.changed(path);
    this.options.onEvent?.({ type: 'changed', path: pathText(path) });
  }

  private decode(request: IncomingRequest, path: Lwm2mPath): Lwm2mValue[] {
    const format = optionUint(request.options, CoapOptionNumber.ContentFormat);
    if (format === undefined) throw new Lwm2mOperationError(CoapCode.BadRequest, 'a write needs a Content-Format');
    if (!SINGLE_VALUE_FORMATS.has(format) && !MULTI_VALUE_FORMATS.has(format)) throw new Lwm2mOperationError(CoapCode.UnsupportedContentFormat, `content format ${format} is not supported`);
    return decodeContent(format, request.payload, path, this.registry);
  }

  private encode(format: number, values: Lwm2mValue[], path: Lwm2mPath): Buffer {
    try {
      return encodeContent(format, values, path, this.registry);
    } catch (err) {
      if (err instanceof Lwm2mCodecError) throw new Lwm2mOperationError(CoapCode.NotAcceptable, err.message);
      throw err;
    }
  }

  // ——— connection and registration plumbing ———

  private serverTarget(): ServerTarget | undefined {
    const security = this.tree.instances(0).find((i) => i.get(1) !== true && typeof i.get(0) === 'string' && i.get(0) !== '');
    if (!security) return undefined;
    const ssid = security.get(10);
    const server = this.tree.instances(1).find((i) => i.get(0) === ssid) ?? this.tree.instances(1)[0];
    if (!server) return undefined;
    const lifetime = server.get(1);
    const binding = server.get(7);
    return {
      uri: String(security.get(0)),
      psk: pskOf(security.get(2), security.get(3), security.get(5)),
      shortServerId: typeof ssid === 'number' ? ssid : 0,
      lifetimeSec: typeof lifetime === 'number' && lifetime > 0 ? lifetime : (this.options.lifetimeSec ?? 300),
      binding: typeof binding === 'string' && binding !== '' ? binding : 'U',
    };
  }

  private async connect(uri: string, psk: PskCredentials | undefined, role: 'bootstrap' | 'server'): Promise<CoapEndpoint> {
    await this.disconnect();
    const target = parseCoapUri(uri);
    if (target.secure && !psk) throw new Lwm2mClientError(`${uri} is coaps:// but the account has no PSK`);
    const transport = target.secure ? await openDtlsTransport({ host: target.host, port: target.port, psk: psk!, timeoutMs: this.options.handshakeTimeoutMs ?? 10_000 }) : await openUdpTransport(target.host, target.port);
    const endpoint = new CoapEndpoint(transport, {
      handler: this,
      ...(this.options.timing ? { timing: this.options.timing } : {}),
      onReset: (token) => this.observations.cancel(token),
    });
    this.endpoint = endpoint;
    this.role = role;
    return endpoint;
  }

  private async disconnect(): Promise<void> {
    const endpoint = this.endpoint;
    this.endpoint = undefined;
    this.observations.clear();
    if (endpoint) await endpoint.close();
  }

  private scheduleUpdate(): void {
    clearTimeout(this.updateTimer);
    if (this.stopped || !this.location) return;
    const lifetime = this.serverTarget()?.lifetimeSec ?? 300;
    // Update before the lifetime ends (Core §6.2.2), leaving room for retransmissions.
    const seconds = this.options.updateIntervalSec ?? Math.max(1, lifetime * 0.9);
    this.updateTimer = setTimeout(() => {
      this.update().catch(() => this.reregisterLater(1));
    }, seconds * 1000);
    this.updateTimer.unref();
  }

  /** After a failed update: register again, backing off up to a minute. */
  private reregisterLater(attempt: number): void {
    if (this.stopped) return;
    this.location = undefined;
    const delay = Math.min(60_000, 1000 * 2 ** (attempt - 1));
    this.updateTimer = setTimeout(() => {
      this.register().catch(() => this.reregisterLater(attempt + 1));
    }, delay);
    this.updateTimer.unref();
  }

  /** Execute /3/0/4: the simulated device restarts and registers again. */
  private reboot(): void {
    if (this.stopped) return;
    this.emit({ type: 'rebooting' });
    this.location = undefined;
    clearTimeout(this.updateTimer);
    void this.disconnect().then(() => this.register().catch(() => this.reregisterLater(1)));
  }

  private requireRegistered(): CoapEndpoint {
    if (!this.endpoint || !this.location || this.role !== 'server') throw new Lwm2mClientError('not registered');
    return this.endpoint;
  }

  private registrationPayload(): string {
    const root: LinkEntry = { target: '/', attributes: { rt: 'oma.lwm2m', ct: ALL_FORMATS.join(' ') } };
    return formatLinkFormat([root, ...this.tree.registrationLinks()]);
  }

  private awake(): void {
    if (this.options.queueMode) this.awakeUntil = Date.now() + (this.options.queueAwakeMs ?? 93_000);
  }

  private emit(event: Lwm2mClientEvent): void {
    this.options.onEvent?.(event);
  }
}

function contentFormat(format: number): CoapOption {
  return { number: CoapOptionNumber.ContentFormat, value: encodeUint(format) };
}

function failure(code: number, diagnostic: string): ResponseToSend {
  // RFC 7252 §5.5.2: a diagnostic payload in UTF-8 with an error response.
  return { code, payload: Buffer.from(diagnostic.slice(0, 200), 'utf8') };
}

function pathOfRequest(request: IncomingRequest): Lwm2mPath {
  try {
    return pathFromUriPath(request.path);
  } catch (err) {
    throw new Lwm2mOperationError(CoapCode.NotFound, `no such path /${request.path.join('/')}: ${(err as Error).message}`);
  }
}

function optionUint(options: CoapOption[], number: number): number | undefined {
  const option = options.find((o) => o.number === number);
  return option === undefined ? undefined : decodeUint(option.value);
}

/** Accept when given (4.06 if the client cannot), else text/opaque for one value and TLV for more. */
function chooseFormat(path: Lwm2mPath, values: Lwm2mValue[], accept: number | undefined): number {
  const singleValue = path.resourceId !== undefined && values.length === 1 && (values[0]!.path.resourceInstanceId === undefined || path.resourceInstanceId !== undefined);
  if (accept !== undefined) {
    if (MULTI_VALUE_FORMATS.has(accept)) return accept;
    if (SINGLE_VALUE_FORMATS.has(accept) && singleValue) return accept;
    throw new Lwm2mOperationError(CoapCode.NotAcceptable, `content format ${accept} cannot carry ${pathText(path)}`);
  }
  if (singleValue) return values[0]!.type === 'Opaque' ? Lwm2mContentFormat.opaque : Lwm2mContentFormat.text;
  return Lwm2mContentFormat.tlv;
}

function pskOf(mode: unknown, identity: unknown, key: unknown): PskCredentials | undefined {
  if (mode !== SecurityMode.Psk || !Buffer.isBuffer(identity) || !Buffer.isBuffer(key) || key.length === 0) return undefined;
  return { identity: identity.toString('utf8'), key };
}

