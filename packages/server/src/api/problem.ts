import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ERROR_CATALOG, HangarError, type ErrorCode } from '../errors.js';
import { HTTP_STATUS, httpAnswerOf } from '../errors/http-wire.js';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  instance?: string;
  [extra: string]: unknown;
}

/** RFC 9457 problem document for an error code; `type` links to the catalog in the docs. */
export function problem(code: ErrorCode, detail: string, extra: Record<string, unknown> = {}): Problem {
  const status = HTTP_STATUS[code];
  const { title } = ERROR_CATALOG[code];
  return { type: `https://hangar.dev/problems/${code.toLowerCase().replace(/_/g, '-')}`, title, status, detail, code, ...extra };
}

/** Maps Fastify's own errors (parsing, limits, validation) onto the catalog. */
function fromFastifyError(err: FastifyError): Problem | undefined {
  if (err.validation) {
    const errors = err.validation.map((v) => ({
      path: `${err.validationContext ?? 'body'}${v.instancePath || ''}`,
      message: describeValidation(v as unknown as { keyword: string; message?: string; params: Record<string, unknown> }),
    }));
    return problem('VALIDATION_FAILED', errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors });
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return problem('INVALID_JSON', err.message);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem('PAYLOAD_TOO_LARGE', 'the request body is larger than 1 MiB');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return problem('UNSUPPORTED_MEDIA_TYPE', err.message);
    case 'FST_ERR_CTP_EMPTY_TYPE':
      return problem('UNSUPPORTED_MEDIA_TYPE', 'the request has a body but no Content-Type');
  }
  if (err instanceof SyntaxError && err.statusCode === 400) return problem('INVALID_JSON', err.message);
  return fromClientStatus(err.statusCode, err.message);
}

/**
 * A 4xx that Fastify or a plugin raised about the request itself (a dashboard file path that
 * climbs out of its root, a range that cannot be served): the client's fault, so a 4xx with
 * the catalog's nearest code, never an internal error.
 */
function fromClientStatus(status: number | undefined, message: string): Problem | undefined {
  if (status === undefined || status < 400 || status >= 500) return undefined;
  switch (status) {
    case 401:
      return problem('UNAUTHENTICATED', message);
    // @fastify/static answers 403 for a path that climbs out of its root: there is nothing there.
    case 403:
    case 404:
      return problem('NOT_FOUND', 'no such file or route');
    case 405:
      return problem('METHOD_NOT_ALLOWED', message);
    case 413:
      return problem('PAYLOAD_TOO_LARGE', message);
    case 414:
      return problem('URI_TOO_LONG', message);
    case 415:
      return problem('UNSUPPORTED_MEDIA_TYPE', message);
    case 429:
      return problem('RATE_LIMITED', message);
    case 431:
      return problem('HEADERS_TOO_LARGE', message);
    default:
      return problem('VALIDATION_FAILED', message);
  }
}

/**
 * Errors Fastify meets before any route runs (`frameworkErrors`): a path whose percent-escapes
 * are not UTF-8 (`%ff`), a path parameter over the router's length limit.
 */
export function frameworkErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const p =
    err.code === 'FST_ERR_BAD_URL'
      ? problem('VALIDATION_FAILED', 'the request path is not valid: its percent-escapes must encode UTF-8 text')
      : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? problem('URI_TOO_LONG', 'a segment of the request path is too long')
        : (fromClientStatus(err.statusCode, err.message) ?? problem('VALIDATION_FAILED', err.message));
  return sendProblem(reply, { ...p, instance: pathOf(request.url) });
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (an HTTP/2 preface, headers or a
 * request line over the size limit, bytes that are not HTTP): one problem document, then the
 * connection closes, since the parser cannot find where the next request would start.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const p =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? problem('HEADERS_TOO_LARGE', 'the request line and headers are larger than the server accepts')
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? problem('REQUEST_TIMEOUT', 'the request was not received in time')
        : problem('VALIDATION_FAILED', 'the request is not HTTP/1.1 this server can parse (HTTP/2 needs TLS with ALPN here)');
  if (socket.writable) {
    const body = JSON.stringify(p);
    socket.write(`HTTP/1.1 ${p.status} ${STATUS_CODES[p.status] ?? ''}\r\nContent-Type: application/problem+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroySoon();
}

function pathOf(url: string): string {
  return url.split('?')[0] ?? '/';
}

function describeValidation(v: { keyword: string; message?: string; params: Record<string, unknown> }): string {
  if (v.keyword === 'additionalProperties') return `unknown field "${String(v.params.additionalProperty)}"`;
  if (v.keyword === 'required') return `missing field "${String(v.params.missingProperty)}"`;
  return v.message ?? v.keyword;
}

export function sendProblem(reply: FastifyReply, p: Problem): FastifyReply {
  return reply.code(p.status).type('application/problem+json').send(p);
}

export function errorHandler(log: Logger) {
  return (err: FastifyError | HangarError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    let p: Problem | undefined;
    if (err instanceof HangarError) {
      const answer = httpAnswerOf(err);
      reply.headers(answer.headers);
      p = problem(err.code, err.message, err.extra);
    } else {
      p = fromFastifyError(err as FastifyError);
    }
    if (!p) {
      // Unknown failure: log it whole with its cause, tell the client only that it happened.
      log.error({ err, reqId: request.id, url: request.url }, 'request failed');
      p = problem('INTERNAL', `an internal error occurred (request ${request.id})`);
    }
    return sendProblem(reply, { ...p, instance: pathOf(request.url) });
  };
}
