/**
 * A small typed client of the Hangar REST API (`/api/v1`, .tmp/api-contract.md) over the
 * global `fetch`. It is the only place where the CLI speaks HTTP. It never imports server
 * code: the CLI is a client like any other and sees only the wire shapes of `@hangar/protocol`.
 *
 * Failures come out as two error classes:
 * - `ApiError`: the server answered with an error status (RFC 9457 problem details, with
 *   Hangar's `code` and, for fleet-query errors, `position`/`length`);
 * - `HangarUnreachableError`: no answer at all (connection refused, DNS, reset, bad URL).
 */

// ---------------------------------------------------------------------------------------------
// Wire shapes (derived from the server's schemas in @hangar/protocol; times are ISO 8601 UTC strings)

import {
  API_PREFIX,
  ApiError,
  apiUrl,
  decodeAnswer,
  jsonRequest,
  type ApiKey,
  type CreatedApiKey,
  type Device,
  type DevicePatch,
  type DeviceStatus,
  type ImportLineError,
  type ImportResult,
  type NewApiKey,
  type NewDevice,
  type NewUser,
  type Page,
  type ProblemFieldError,
  type QueryValue,
  type Role,
  type User,
} from '@hangar/protocol';

export type { ApiKey, CreatedApiKey, Device, DevicePatch, DeviceStatus, ImportLineError, ImportResult, NewDevice, NewUser, Page, ProblemFieldError, Role, User };
export { ApiError };

export const ROLES: readonly Role[] = ['admin', 'operator', 'viewer'];

export interface PageParams {
  limit?: number;
  cursor?: string;
}

export interface DeviceListParams extends PageParams {
  /** Fleet query (DESIGN.md §7). */
  q?: string;
}

export type ImportContentType = 'text/csv' | 'application/x-ndjson';

// ---------------------------------------------------------------------------------------------
// Errors

/** No HTTP answer at all. `reason` is the system error code when there is one (`ECONNREFUSED`). */
export class HangarUnreachableError extends Error {
  readonly baseUrl: string;
  readonly reason: string;

  constructor(baseUrl: string, reason: string, options?: ErrorOptions) {
    super(`cannot reach Hangar at ${baseUrl} (${reason})`, options);
    this.name = 'HangarUnreachableError';
    this.baseUrl = baseUrl;
    this.reason = reason;
  }
}

// ---------------------------------------------------------------------------------------------
// Client

export interface ApiClientOptions {
  /** Where Hangar listens, e.g. `http://localhost:8080` (a path prefix is kept for proxies). */
  baseUrl: string;
  /** API key sent as `Authorization: Bearer …`. */
  token: string;
  /** Replaceable for tests; the global `fetch` otherwise. */
  fetch?: typeof fetch;
}

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as is with `duplex: 'half'`, so a large body is streamed rather than buffered. */
  stream?: { body: AsyncIterable<Uint8Array>; contentType: string };
  /** Extra request headers (`If-Match` of a conditional twin patch). */
  headers?: Record<string, string>;
}

export class ApiClient {
  /** Normalised base URL, without a trailing slash; used in messages. */
  readonly baseUrl: string;
  private readonly apiRoot: string;
  private readonly token: string;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ApiClientOptions) {
    this.baseUrl = normaliseBaseUrl(options.baseUrl);
    this.apiRoot = this.baseUrl.endsWith(API_PREFIX) ? this.baseUrl : this.baseUrl + API_PREFIX;
    this.token = options.token;
    this.fetchImpl = options.fetch ?? globalThis.fetch;
  }

  // Devices -----------------------------------------------------------------------------------

  listDevices(params: DeviceListParams = {}): Promise<Page<Device>> {
    return this.request<Page<Device>>('GET', '/devices', {
      query: { q: params.q, limit: params.limit, cursor: params.cursor },
    });
  }

  getDevice(id: string): Promise<Device> {
    return this.request<Device>('GET', `/devices/${encodeURIComponent(id)}`);
  }

  createDevice(device: NewDevice): Promise<Device> {
    return this.request<Device>('POST', '/devices', { json: device });
  }

  updateDevice(id: string, patch: DevicePatch): Promise<Device> {
    return this.request<Device>('PATCH', `/devices/${encodeURIComponent(id)}`, { json: patch });
  }

  async deleteDevice(id: string): Promise<void> {
    await this.request<undefined>('DELETE', `/devices/${encodeURIComponent(id)}`);
  }

  /** Streams `body` to the server as it is read; nothing is buffered here. */
  importDevices(body: AsyncIterable<Uint8Array>, contentType: ImportContentType): Promise<ImportResult> {
    return this.request<ImportResult>('POST', '/devices/import', { stream: { body, contentType } });
  }

  // API keys ----------------------------------------------------------------------------------

  listApiKeys(params: PageParams = {}): Promise<Page<ApiKey>> {
    return this.requestPage<ApiKey>('/api-keys', params);
  }

  createApiKey(body: NewApiKey): Promise<CreatedApiKey> {
    return this.request<CreatedApiKey>('POST', '/api-keys', { json: body });
  }

  async revokeApiKey(id: string): Promise<void> {
    await this.request<undefined>('DELETE', `/api-keys/${encodeURIComponent(id)}`);
  }

  // Users -------------------------------------------------------------------------------------

  listUsers(params: PageParams = {}): Promise<Page<User>> {
    return this.requestPage<User>('/users', params);
  }

  createUser(body: NewUser): Promise<User> {
    return this.request<User>('POST', '/users', { json: body });
  }

  async disableUser(id: string): Promise<void> {
    await this.request<undefined>('DELETE', `/users/${encodeURIComponent(id)}`);
  }

  // Plumbing ----------------------------------------------------------------------------------

  /**
   * One API call. Resolves with the decoded JSON body (`undefined` for 204), rejects with
   * `ApiError` for an error status and `HangarUnreachableError` when no answer came.
   */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const init = jsonRequest(method, options.json, { ...options.headers, authorization: `Bearer ${this.token}`, 'user-agent': 'hangar-cli' });
    if (options.stream) {
      init.headers['content-type'] = options.stream.contentType;
      init.body = options.stream.body;
      // Required by fetch for a streamed request body; the answer is read after the upload.
      init.duplex = 'half';
    }

    let text: string;
    let response: Response;
    try {
      response = await this.fetchImpl(apiUrl(this.apiRoot, path, options.query), init);
      text = await response.text();
    } catch (err) {
      throw new HangarUnreachableError(this.baseUrl, networkReason(err), { cause: err });
    }
    return decodeAnswer<T>(response, text, `${method} ${path}`);
  }

  /**
   * A GET whose answer is bytes (a firmware image): the Response with its body unread, for the
   * caller to stream. Error statuses reject with `ApiError` as `request` does.
   */
  async download(path: string, headers: Record<string, string> = {}): Promise<Response> {
    let response: Response;
    try {
      response = await this.fetchImpl(apiUrl(this.apiRoot, path), { method: 'GET', headers: { ...headers, authorization: `Bearer ${this.token}`, 'user-agent': 'hangar-cli' } });
    } catch (err) {
      throw new HangarUnreachableError(this.baseUrl, networkReason(err), { cause: err });
    }
    if (!response.ok) decodeAnswer(response, await response.text(), `GET ${path}`);
    return response;
  }

  /** Lists answer `{items, nextCursor}`; a bare array is accepted too and read as one page. */
  private async requestPage<T>(path: string, params: PageParams): Promise<Page<T>> {
    const body = await this.request<Page<T> | T[]>('GET', path, {
      query: { limit: params.limit, cursor: params.cursor },
    });
    return Array.isArray(body) ? { items: body, nextCursor: null } : body;
  }
}

/** Follows `nextCursor` from `cursor` (or the start) to the last page. */
export async function* paginate<T>(
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
  cursor?: string,
): AsyncGenerator<Page<T>, void, undefined> {
  let next: string | undefined = cursor;
  for (;;) {
    const page = await fetchPage(next);
    yield page;
    if (!page.nextCursor) return;
    next = page.nextCursor;
  }
}

/** Every item of every page, in order. */
export async function collectAll<T>(
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
  cursor?: string,
): Promise<T[]> {
  const items: T[] = [];
  for await (const page of paginate(fetchPage, cursor)) items.push(...page.items);
  return items;
}

/** Validates and normalises a `--url`; throws a plain Error with a readable message. */
export function normaliseBaseUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new Error(`invalid Hangar URL "${baseUrl}": expected http(s)://host[:port]`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`invalid Hangar URL "${baseUrl}": only http and https are supported`);
  }
  url.search = '';
  url.hash = '';
  return url.toString().replace(/\/+$/, '');
}

function networkReason(err: unknown): string {
  // undici wraps the system error: TypeError('fetch failed', { cause: Error{code} | AggregateError })
  const cause = isRecord(err) && 'cause' in err ? err['cause'] : undefined;
  for (const candidate of [cause, err]) {
    if (!isRecord(candidate)) continue;
    if (typeof candidate['code'] === 'string') return candidate['code'];
    const inner = candidate['errors'];
    if (Array.isArray(inner)) {
      const first: unknown = inner[0];
      if (isRecord(first) && typeof first['code'] === 'string') return first['code'];
    }
  }
  if (cause instanceof Error && cause.message) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
