import { ERROR_CATALOG, hasCode, retryAfterMsOf, type ErrorCode, type HangarError } from '../errors.js';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
}

/** The HTTP status of every code: the catalog's `status` (kept there, core reads it too). */
export const HTTP_STATUS: { readonly [C in ErrorCode]: number } = Object.fromEntries(Object.entries(ERROR_CATALOG).map(([code, entry]) => [code, entry.status])) as {
  [C in ErrorCode]: number;
};

/**
 * Status and headers of an error's HTTP answer. RFC 9110 §10.2.3: Retry-After in whole
 * seconds, rounded up so that a client retrying on time is not refused again.
 */
export function httpAnswerOf(err: HangarError): HttpAnswer {
  const headers: Record<string, string> = {};
  const retryAfterMs = retryAfterMsOf(err);
  if (retryAfterMs !== undefined) headers['retry-after'] = String(Math.ceil(retryAfterMs / 1000));
  // RFC 9110 §14.4: a 416 names the representation's current length.
  if (hasCode(err, 'RANGE_NOT_SATISFIABLE')) headers['content-range'] = `bytes */${err.extra.size}`;
  return { status: HTTP_STATUS[err.code], headers };
}
