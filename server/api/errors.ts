import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { ZodError } from 'zod';
import { DomainError, type DomainErrorCode } from '../domain/errors';

/** The one place where errors become HTTP responses: `{"error": {code, message, field?}}`. */
export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly field?: string) {
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
    } else if (err?.type === 'entity.too.large') e = new HttpError(413, 'payload_too_large', `request body is larger than ${err.limit} bytes`);
    else if (err?.type === 'entity.parse.failed') e = new HttpError(400, 'bad_request', 'body is not valid JSON');
    else if (err?.type === 'charset.unsupported' || err?.type === 'encoding.unsupported') e = new HttpError(415, 'unsupported_media_type', err.message);
    else if (isRedisDown(err)) e = new HttpError(503, 'unavailable', 'storage is unavailable; retry later');
    else {
      logger.error({ err: { message: err?.message, stack: err?.stack }, path: req.path }, 'unhandled error');
      e = new HttpError(500, 'internal', 'internal error');
    }
    if (res.headersSent) return;
    res.status(e.status).json({ error: { code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}) } });
  };
}

function isRedisDown(err: { message?: string; name?: string } | undefined): boolean {
  const m = err?.message ?? '';
  return /Connection is closed|ECONNREFUSED|ENOENT.*sock|MaxRetriesPerRequest|Stream isn't writeable/.test(m);
}

export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json({ error: { code: 'not_found', message: `no route for ${req.method} ${req.path}` } });
};
