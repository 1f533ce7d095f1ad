import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ERROR_CATALOG, HangarError, type ErrorCode } from '../errors.js';

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
  const { status, title } = ERROR_CATALOG[code];
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
  if (err.statusCode === 413) return problem('PAYLOAD_TOO_LARGE', err.message);
  if (err.statusCode === 415) return problem('UNSUPPORTED_MEDIA_TYPE', err.message);
  if (err.statusCode === 400) return problem('VALIDATION_FAILED', err.message);
  return undefined;
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
    if (err instanceof HangarError) p = problem(err.code, err.message, err.extra);
    else p = fromFastifyError(err as FastifyError);
    if (!p) {
      // Unknown failure: log it whole with its cause, tell the client only that it happened.
      log.error({ err, reqId: request.id, url: request.url }, 'request failed');
      p = problem('INTERNAL', `an internal error occurred (request ${request.id})`);
    }
    if (p.code === 'RATE_LIMITED' && typeof p.retryAfter === 'number') reply.header('retry-after', String(p.retryAfter));
    return sendProblem(reply, { ...p, instance: request.url.split('?')[0] });
  };
}
