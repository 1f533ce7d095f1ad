/**
 * The core both REST clients share — the admin CLI (Node) and the dashboard (browser): how a
 * request is built and how an answer is read, above all how an error answer (RFC 9457 problem
 * details) becomes an `ApiError`. Only `fetch` types here; each client adds its own transport
 * concerns (the CLI its streamed uploads and unreachable-server errors, the dashboard its
 * session cookie and sign-out on 401).
 */

export const API_PREFIX = '/api/v1';

/** A field error of a validation problem. */
export interface ProblemFieldError {
  path: string;
  message: string;
}

export interface ApiErrorInit {
  status: number;
  title: string;
  detail?: string | undefined;
  code?: string | undefined;
  position?: number | undefined;
  length?: number | undefined;
  field?: string | undefined;
  errors?: ProblemFieldError[] | undefined;
}

/** An error answer of the API, decoded from `application/problem+json` when the server sent one. */
export class ApiError extends Error {
  /** The HTTP status; 0 when no answer came (the dashboard's "could not reach the server"). */
  readonly status: number;
  readonly title: string;
  readonly detail: string | undefined;
  /** Hangar's error catalog code (`DEVICE_NOT_FOUND`, `INVALID_QUERY`, …) when present. */
  readonly code: string | undefined;
  /** 0-based character offset into a fleet query, for query errors. */
  readonly position: number | undefined;
  /** Length of the offending range in a fleet query. */
  readonly length: number | undefined;
  /** The request field `position` points into (an alert rule's `condition` or `target`). */
  readonly field: string | undefined;
  /** Per-field messages of validation errors. */
  readonly errors: ProblemFieldError[];

  constructor(init: ApiErrorInit) {
    super(init.detail ?? init.title);
    this.name = 'ApiError';
    this.status = init.status;
    this.title = init.title;
    this.detail = init.detail;
    this.code = init.code;
    this.position = init.position;
    this.length = init.length;
    this.field = init.field;
    this.errors = init.errors ?? [];
  }
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}

export type QueryValue = string | number | boolean | undefined | null;

/** `root` + `path` with the query parameters that have a value (undefined and null are left out). */
export function apiUrl(root: string, path: string, query: Record<string, QueryValue> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null) params.set(key, String(value));
  }
  const qs = params.toString();
  return `${root}${path}${qs ? `?${qs}` : ''}`;
}

/** The request init of a call with an optional JSON body; the caller adds its own headers. */
export function jsonRequest(method: string, json: unknown, headers: Record<string, string> = {}): RequestInit & { headers: Record<string, string> } {
  const all: Record<string, string> = { accept: 'application/json, application/problem+json', ...headers };
  const init: RequestInit & { headers: Record<string, string> } = { method, headers: all };
  if (json !== undefined) {
    all['content-type'] = 'application/json';
    init.body = JSON.stringify(json);
  }
  return init;
}

/**
 * Reads an answer whose body text has been read: the decoded JSON (`undefined` for 204 or an
 * empty body), or an `ApiError` thrown for an error status or a success body that is not JSON.
 */
export function decodeAnswer<T>(response: Response, text: string, what: string): T {
  if (!response.ok) throw problemFromResponse(response, text);
  if (response.status === 204 || text.length === 0) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError({ status: response.status, title: 'Unexpected response', detail: `the server answered ${what} with a body that is not JSON` });
  }
}

/** An error answer as an `ApiError`: its problem document, or what a proxy or foreign server said. */
export function problemFromResponse(response: Response, text: string): ApiError {
  const fallbackTitle = response.statusText || `HTTP ${response.status}`;
  const contentType = response.headers.get('content-type') ?? '';
  if (/json/i.test(contentType)) {
    try {
      const body: unknown = JSON.parse(text);
      if (isRecord(body)) {
        return new ApiError({
          status: response.status,
          title: stringOr(body['title'], fallbackTitle),
          detail: optionalString(body['detail']),
          code: optionalString(body['code']),
          position: optionalNumber(body['position']),
          length: optionalNumber(body['length']),
          field: optionalString(body['field']),
          errors: fieldErrors(body['errors']),
        });
      }
    } catch {
      // Not JSON after all: fall through to the plain-text reading.
    }
  }
  // A proxy or a foreign server: keep a short plain-text body, it usually says what went wrong.
  const plain = /^text\/plain/i.test(contentType) ? text.trim() : '';
  return new ApiError({ status: response.status, title: fallbackTitle, detail: plain && plain.length <= 200 ? plain : undefined });
}

function fieldErrors(value: unknown): ProblemFieldError[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: ProblemFieldError[] = [];
  for (const item of value) {
    if (isRecord(item) && typeof item['message'] === 'string') {
      out.push({ path: typeof item['path'] === 'string' ? item['path'] : '', message: item['message'] });
    }
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === 'string' && value.length > 0 ? value : fallback;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function optionalNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
