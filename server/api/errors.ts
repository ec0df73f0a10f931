import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { ZodError } from 'zod';
import { DomainError, type DomainErrorCode } from '../domain/errors';
import { LIMIT_SUBJECT, RateLimited } from '../services/rate-limits';
import { IngestBusy } from '../services/reports';

/** The one place where errors become HTTP responses: `{"error": {code, message, field?}}`. */
export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly field?: string, readonly headers?: Record<string, string>) {
    super(message);
  }
}

const STATUS: Record<DomainErrorCode, [number, string]> = {
  invalid: [400, 'bad_request'],
  not_found: [404, 'not_found'],
  conflict: [409, 'conflict'],
  unauthorized: [401, 'unauthorized'],
  forbidden: [403, 'forbidden'],
};

export function fromZod(err: ZodError, prefix = ''): HttpError {
  const issue = err.issues[0];
  const path = [prefix, ...(issue?.path ?? []).map(String)].filter(Boolean).join('.');
  const message = issue ? `${path || 'body'}: ${issue.message}` : 'invalid request';
  return new HttpError(400, 'bad_request', message, path || undefined);
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let e: HttpError;
    if (err instanceof HttpError) e = err;
    else if (err instanceof DomainError) {
      const [status, code] = STATUS[err.code];
      e = new HttpError(status, code, err.message, typeof err.details?.field === 'string' ? err.details.field : undefined);
    } else if (err instanceof RateLimited) {
      e = new HttpError(429, 'rate_limited', `too many ${LIMIT_SUBJECT[err.limit]} (${err.limit}); retry after ${err.retryAfterSeconds} s`, undefined, { 'retry-after': String(err.retryAfterSeconds) });
    } else if (err?.type === 'entity.too.large') e = new HttpError(413, 'payload_too_large', `request body is larger than ${err.limit} bytes`);
    else if (err?.type === 'entity.parse.failed') e = new HttpError(400, 'bad_request', 'body is not valid JSON');
    else if (err?.type === 'charset.unsupported' || err?.type === 'encoding.unsupported') e = new HttpError(415, 'unsupported_media_type', err.message);
    else if (isStoreUnavailable(err)) e = new HttpError(503, 'unavailable', 'storage is unavailable; retry later');
    else if (err instanceof IngestBusy) e = new HttpError(503, 'unavailable', err.message, undefined, { 'retry-after': '1' });
    else if (clientError(err)) e = clientError(err)!;
    else {
      logger.error({ err: { message: err?.message, stack: err?.stack }, path: req.path }, 'unhandled error');
      e = new HttpError(500, 'internal', 'internal error');
    }
    if (res.headersSent) return;
    if (e.headers) res.set(e.headers);
    res.status(e.status).json({ error: { code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}) } });
  };
}

/**
 * Redis could not answer: the connection is down or closed, the command timed out or ran
 * out of reconnect attempts (ioredis), or Redis said it cannot serve now (loading its AOF,
 * busy with a script, disk errors, a read-only replica).
 */
export function isStoreUnavailable(err: { message?: unknown; name?: unknown; code?: unknown } | undefined): boolean {
  if (!err || typeof err !== 'object') return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  if (typeof err.code === 'string' && /^(ECONNREFUSED|ECONNRESET|ENOENT|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)$/.test(err.code)) return true;
  const m = typeof err.message === 'string' ? err.message : '';
  return /^(Command timed out|Connection is closed\.|Stream isn't writeable|Reached the max retries per request limit)/.test(m)
    || (err.name === 'ReplyError' && /^(LOADING|BUSY|MISCONF|TRYAGAIN|MASTERDOWN|READONLY|NOREPLICAS|OOM) /.test(m));
}

const CLIENT_CODES: Record<number, string> = { 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 413: 'payload_too_large', 415: 'unsupported_media_type' };

/**
 * Errors of the HTTP layer that carry their own 4xx status (http-errors): a path whose
 * %-escapes do not decode (router), a body that cannot be read or inflated (body-parser:
 * broken gzip, a short body, an aborted upload). Never a 500.
 */
function clientError(err: { status?: unknown; message?: unknown } | undefined): HttpError | null {
  const status = typeof err?.status === 'number' ? err.status : null;
  if (status === null || status < 400 || status > 499) return null;
  const message = String(err?.message ?? '').replace(/\s+/g, ' ').slice(0, 200);
  if (err instanceof URIError || message.startsWith('Failed to decode param')) return new HttpError(400, 'bad_request', 'the path has a malformed %-escape');
  if (status === 400) return new HttpError(400, 'bad_request', `the request body could not be read (${message || 'bad request'}); check Content-Encoding and Content-Length`);
  return new HttpError(status, CLIENT_CODES[status] ?? 'bad_request', message || 'bad request');
}

export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json({ error: { code: 'not_found', message: `no route for ${req.method} ${req.path}` } });
};
