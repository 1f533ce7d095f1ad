/**
 * Object 5, Firmware Update (LwM2M 1.1 TS-Core §E.6): the State machine Idle(0) → Downloading(1)
 * → Downloaded(2) → Updating(3) → Idle with an Update Result, over a push (Block1 write of
 * /5/0/0) or a pull (Package URI over CoAP Block2, CoAPS, HTTP or HTTPS). A simulated device:
 * "installing" sets the firmware version, with optional failures injected for tests and load.
 */
import { CoapCode } from '@hangar/protocol/coap';
import { CoapEndpoint, describeResponse } from './coap-endpoint.js';
import { Lwm2mOperationError, type ObjectInstance, type StoredValue } from './object-tree.js';
import { openDtlsTransport, openUdpTransport, parseCoapUri, type PskCredentials } from './transport.js';

export const FirmwareState = { Idle: 0, Downloading: 1, Downloaded: 2, Updating: 3 } as const;

/** Update Result values (Core §E.6, resource 5). */
export const UpdateResult = {
  Initial: 0,
  Success: 1,
  NotEnoughFlash: 2,
  OutOfRam: 3,
  ConnectionLost: 4,
  IntegrityCheckFailure: 5,
  UnsupportedPackageType: 6,
  InvalidUri: 7,
  UpdateFailed: 8,
  UnsupportedProtocol: 9,
} as const;

export interface FirmwareFailures {
  /** The download breaks off: Update Result 4 (connection lost). */
  download?: boolean;
  /** The package fails its integrity check: Update Result 5. */
  integrity?: boolean;
  /** Installing fails: back to Downloaded with Update Result 8. */
  update?: boolean;
}

export interface FirmwareUpdateOptions {
  /** Largest package accepted (default 16 MiB); a larger one is Update Result 2 (not enough flash). */
  maxPackageBytes?: number;
  failures?: FirmwareFailures;
  /** PSK for coaps:// package URIs (the device's own). */
  psk?: PskCredentials;
  /** A push whose next block does not come within this many ms is abandoned: Idle, Update Result 4 (default 60 000). */
  pushStallMs?: number;
  /** How long an update "installs" before the result (default 0 ms: at once, but after the Execute answer). */
  installMs?: number;
  /** Restart (and so register again) after a successful update, as devices do (default true): a server reads Object 3 on Register. */
  rebootAfterUpdate?: boolean;
  /** The version a package installs; default: a version named in the Package URI, else in the package's first bytes, else the current one with `+1`. */
  versionOf?(pkg: Buffer, uri: string | undefined, current: string): string;
}

export class FirmwareUpdate {
  state: number = FirmwareState.Idle;
  result: number = UpdateResult.Initial;
  private packageBytes: Buffer | undefined;
  private uri = '';
  private pkgVersion = '';
  private download: AbortController | undefined;
  private pushStall: NodeJS.Timeout | undefined;

  constructor(
    private readonly instance: ObjectInstance,
    private readonly options: FirmwareUpdateOptions,
    private readonly device: { firmwareVersion(): string; setFirmwareVersion(v: string): void; reboot(): void },
    /** A resource of /5/0 changed (observers are told). */
    private readonly changed: (resourceId: number) => void,
  ) {
    instance
      .hook(0, { write: (v) => this.writePackage(v) })
      .hook(1, { read: () => this.uri, write: (v) => this.writeUri(v) })
      .hook(2, { execute: () => this.executeUpdate() })
      .hook(3, { read: () => this.state })
      .hook(5, { read: () => this.result })
      .hook(6, { read: () => (this.packageBytes ? 'firmware' : '') })
      .hook(7, { read: () => this.pkgVersion })
      // Protocol support (resource 8): 0 CoAP, 1 CoAPS, 2 HTTP 1.1, 3 HTTPS 1.1.
      .set(8, new Map([[0, 0], [1, 1], [2, 2], [3, 3]]))
      // Delivery method (resource 9): 2 = pull and push.
      .set(9, 2);
  }

  /** The first block of a Block1 push arrived. */
  pushStarted(): void {
    if (this.state === FirmwareState.Idle) this.setState(FirmwareState.Downloading, UpdateResult.Initial);
  }

  /** A block of a push arrived: the push is alive; one that stalls goes back to Idle (connection lost). */
  pushProgress(): void {
    clearTimeout(this.pushStall);
    if (this.state !== FirmwareState.Downloading || this.download) return;
    this.pushStall = setTimeout(() => {
      if (this.state === FirmwareState.Downloading && !this.download) this.setState(FirmwareState.Idle, UpdateResult.ConnectionLost);
    }, this.options.pushStallMs ?? 60_000);
    this.pushStall.unref();
  }

  cancelDownload(): void {
    clearTimeout(this.pushStall);
    this.download?.abort();
  }

  private writePackage(value: StoredValue): void {
    if (!Buffer.isBuffer(value)) throw new Lwm2mOperationError(CoapCode.BadRequest, 'the Package is opaque bytes');
    // Core §E.6: writing an empty package (or URI) resets the state machine.
    if (value.length === 0) return this.reset();
    if (this.state !== FirmwareState.Idle && this.state !== FirmwareState.Downloading) throw new Lwm2mOperationError(CoapCode.MethodNotAllowed, `a package cannot be written in state ${this.state}`);
    this.accept(value, undefined);
  }

  private writeUri(value: StoredValue): void {
    if (typeof value !== 'string') throw new Lwm2mOperationError(CoapCode.BadRequest, 'the Package URI is a string');
    if (value === '') return this.reset();
    if (this.state !== FirmwareState.Idle) throw new Lwm2mOperationError(CoapCode.MethodNotAllowed, `a package URI cannot be written in state ${this.state}`);
    this.uri = value;
    this.changed(1);
    this.setState(FirmwareState.Downloading, UpdateResult.Initial);
    const abort = new AbortController();
    this.download = abort;
    void this.pull(value, abort.signal);
  }

  private async pull(uri: string, signal: AbortSignal): Promise<void> {
    let pkg: Buffer;
    try {
      pkg = await fetchPackage(uri, { maxBytes: this.maxBytes(), psk: this.options.psk, signal });
      if (this.options.failures?.download) throw new PackageError(UpdateResult.ConnectionLost, 'injected: the download broke off');
    } catch (err) {
      if (signal.aborted) return;
      this.setState(FirmwareState.Idle, err instanceof PackageError ? err.result : UpdateResult.ConnectionLost);
      return;
    } finally {
      if (this.download?.signal === signal) this.download = undefined;
    }
    if (signal.aborted) return;
    this.accept(pkg, uri);
  }

  private accept(pkg: Buffer, uri: string | undefined): void {
    clearTimeout(this.pushStall);
    if (pkg.length > this.maxBytes()) return this.setState(FirmwareState.Idle, UpdateResult.NotEnoughFlash);
    if (this.options.failures?.integrity) return this.setState(FirmwareState.Idle, UpdateResult.IntegrityCheckFailure);
    this.packageBytes = pkg;
    const current = this.device.firmwareVersion();
    this.pkgVersion = this.options.versionOf?.(pkg, uri, current) ?? defaultVersionOf(pkg, uri, current);
    this.changed(7);
    this.setState(FirmwareState.Downloaded, UpdateResult.Initial);
  }

  private executeUpdate(): void {
    if (this.state !== FirmwareState.Downloaded) throw new Lwm2mOperationError(CoapCode.MethodNotAllowed, `Update needs state 2 (Downloaded), the state is ${this.state}`);
    this.setState(FirmwareState.Updating, this.result);
    // The answer to Execute goes out first; the device then installs and reports the result.
    setTimeout(() => {
      if (this.state !== FirmwareState.Updating) return;
      if (this.options.failures?.update) return this.setState(FirmwareState.Downloaded, UpdateResult.UpdateFailed);
      this.device.setFirmwareVersion(this.pkgVersion);
      this.packageBytes = undefined;
      this.setState(FirmwareState.Idle, UpdateResult.Success);
      // The notifications of the new state go out before the restart.
      if (this.options.rebootAfterUpdate !== false) setTimeout(() => this.device.reboot(), 50).unref();
    }, this.options.installMs ?? 0).unref();
  }

  private reset(): void {
    clearTimeout(this.pushStall);
    this.download?.abort();
    this.download = undefined;
    this.packageBytes = undefined;
    this.uri = '';
    this.pkgVersion = '';
    this.setState(FirmwareState.Idle, UpdateResult.Initial);
  }

  private setState(state: number, result: number): void {
    const stateChanged = state !== this.state;
    const resultChanged = result !== this.result;
    this.state = state;
    this.result = result;
    if (resultChanged) this.changed(5);
    if (stateChanged) this.changed(3);
  }

  private maxBytes(): number {
    return this.options.maxPackageBytes ?? 16 * 1024 * 1024;
  }
}

class PackageError extends Error {
  constructor(
    readonly result: number,
    message: string,
  ) {
    super(message);
  }
}

/** Downloads a package: CoAP(S) GET following Block2, or HTTP(S) GET. Failures carry their Update Result. */
export async function fetchPackage(uri: string, options: { maxBytes: number; psk?: PskCredentials | undefined; signal?: AbortSignal }): Promise<Buffer> {
  let scheme: string;
  try {
    scheme = new URL(uri).protocol;
  } catch {
    throw new PackageError(UpdateResult.InvalidUri, `not a URI: ${uri}`);
  }
  if (scheme === 'http:' || scheme === 'https:') {
    let response: Response;
    try {
      response = await fetch(uri, { signal: options.signal ?? null });
    } catch (err) {
      throw new PackageError(UpdateResult.ConnectionLost, `GET ${uri}: ${(err as Error).message}`);
    }
    if (response.status === 404 || response.status === 400) throw new PackageError(UpdateResult.InvalidUri, `GET ${uri}: ${response.status}`);
    if (!response.ok) throw new PackageError(UpdateResult.ConnectionLost, `GET ${uri}: ${response.status}`);
    const length = Number(response.headers.get('content-length') ?? '0');
    if (length > options.maxBytes) throw new PackageError(UpdateResult.NotEnoughFlash, `${length} bytes exceed ${options.maxBytes}`);
    const body = Buffer.from(await response.arrayBuffer());
    if (body.length > options.maxBytes) throw new PackageError(UpdateResult.NotEnoughFlash, `${body.length} bytes exceed ${options.maxBytes}`);
    return body;
  }
  if (scheme !== 'coap:' && scheme !== 'coaps:') throw new PackageError(UpdateResult.UnsupportedProtocol, `unsupported scheme ${scheme}`);
  const target = parseCoapUri(uri);
  if (target.secure && !options.psk) throw new PackageError(UpdateResult.UnsupportedProtocol, 'coaps:// needs a pre-shared key');
  let endpoint: CoapEndpoint;
  try {
    const transport = target.secure ? await openDtlsTransport({ host: target.host, port: target.port, psk: options.psk! }) : await openUdpTransport(target.host, target.port);
    endpoint = new CoapEndpoint(transport, { timing: { exchangeTimeoutMs: 30_000 } });
  } catch (err) {
    throw new PackageError(UpdateResult.ConnectionLost, (err as Error).message);
  }
  const onAbort = (): void => void endpoint.close();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const response = await endpoint.request({ code: CoapCode.GET, path: target.path, query: target.query }, { maxResponseBytes: options.maxBytes });
    if (response.code === CoapCode.NotFound || response.code === CoapCode.BadRequest) throw new PackageError(UpdateResult.InvalidUri, `GET ${uri}: ${describeResponse(response)}`);
    if (response.code !== CoapCode.Content) throw new PackageError(UpdateResult.ConnectionLost, `GET ${uri}: ${describeResponse(response)}`);
    return response.payload;
  } catch (err) {
    if (err instanceof PackageError) throw err;
    const tooLarge = (err as { reason?: string }).reason === 'too_large';
    throw new PackageError(tooLarge ? UpdateResult.NotEnoughFlash : UpdateResult.ConnectionLost, (err as Error).message);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await endpoint.close();
  }
}

const VERSION = /(\d+\.\d+(?:\.\d+)?(?:[-+][0-9A-Za-z.-]+)?)/g;

function defaultVersionOf(pkg: Buffer, uri: string | undefined, current: string): string {
  const fromUri = uri ? [...decodeURIComponent(new URL(uri).pathname + new URL(uri).search).matchAll(VERSION)].pop()?.[1] : undefined;
  if (fromUri) return fromUri;
  const head = pkg.subarray(0, 256).toString('latin1');
  const named = /version[=: ]+([0-9A-Za-z.+-]+)/i.exec(head)?.[1];
  if (named) return named;
  return `${current}+1`;
}
