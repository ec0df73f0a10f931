import type { z } from 'zod';
import type { GerritConnection } from './config';
import { redact } from './secret';

/**
 * The one place that talks HTTP to Gerrit: authenticated `/a/` requests over Node's
 * fetch with a timeout, the XSSI prefix `)]}'` stripped, every JSON answer validated with
 * a zod schema, and errors that carry Gerrit's own text with credentials redacted.
 */
export const XSSI_PREFIX = ")]}'";

export class GerritError extends Error {
  constructor(
    message: string,
    /** HTTP status, or 0 when no answer came (network error, timeout, bad answer). */
    readonly status: number,
    readonly method: string,
    readonly path: string,
    /** Gerrit's error text (redacted, truncated). */
    readonly body: string,
  ) {
    super(message);
    this.name = 'GerritError';
  }

  /**
   * Worth retrying: no answer, a server error, rate limiting, a timeout, or a 409 lock
   * failure. Other 4xx answers (bad credentials, no permission, no such project/file,
   * malformed input) will not succeed by trying again.
   */
  get retryable(): boolean {
    if (this.status === 0 || this.status >= 500 || this.status === 429 || this.status === 408) return true;
    return this.status === 409 && /lock|try again|retry/i.test(this.body);
  }
}

export function stripXssi(text: string): string {
  return text.startsWith(XSSI_PREFIX) ? text.slice(XSSI_PREFIX.length).replace(/^\r?\n/, '') : text;
}

/** Encodes one path segment (project names contain "/", which must become %2F). */
export const seg = (s: string) => encodeURIComponent(s);

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | string[]>;
  /** Statuses that are answers, not errors (e.g. 404 for "no such file"). */
  accept?: number[];
}

const MAX_ERROR_BODY = 2000;

/**
 * A file from Gerrit's `.../content` endpoints: JSON-encoded text when the request accepts
 * JSON, base64 otherwise; `X-FYI-Content-Encoding` says which.
 */
export function decodeContent(text: string, headers: Headers): string {
  const enc = headers.get('x-fyi-content-encoding');
  if (enc === 'json' || (!enc && text.trimStart().startsWith('"'))) {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'string') throw new Error('file content answer is not a JSON string');
    return v;
  }
  return Buffer.from(text.trim(), 'base64').toString('utf8');
}

export class GerritHttp {
  private readonly secrets: string[];
  private readonly auth: string;

  constructor(private readonly conn: GerritConnection) {
    const pw = conn.password.reveal();
    this.secrets = [pw, `${conn.user}:${pw}`];
    this.auth = `Basic ${Buffer.from(`${conn.user}:${pw}`).toString('base64')}`;
  }

  get baseUrl(): string {
    return this.conn.url;
  }

  redact(text: string): string {
    return redact(text, this.secrets);
  }

  /** Raw request; returns the status and body text (XSSI prefix removed). */
  async raw(method: string, path: string, opts: RequestOptions = {}): Promise<{ status: number; text: string; headers: Headers }> {
    const url = new URL(`${this.conn.url}/a${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      for (const one of Array.isArray(v) ? v : [v]) url.searchParams.append(k, one);
    }
    const headers: Record<string, string> = { Authorization: this.auth, Accept: 'application/json' };
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json; charset=UTF-8';
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(this.conn.timeoutMs),
        redirect: 'error',
      });
      text = await res.text();
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const why = err.name === 'TimeoutError' ? `no answer within ${this.conn.timeoutMs} ms` : (err.cause?.code ?? err.cause?.message ?? err.message);
      throw new GerritError(this.redact(`Gerrit ${method} ${path}: ${why}`), 0, method, path, '');
    }
    const clean = stripXssi(text);
    if (res.status >= 400 && !(opts.accept ?? []).includes(res.status)) {
      const body = this.redact(clean.trim()).slice(0, MAX_ERROR_BODY);
      throw new GerritError(`Gerrit ${method} ${path}: ${res.status} ${body || res.statusText}`, res.status, method, path, body);
    }
    return { status: res.status, text: clean, headers: res.headers };
  }

  /** JSON request validated by `schema`; a 204 or empty answer parses as null. */
  async json<T extends z.ZodTypeAny>(method: string, path: string, schema: T, opts: RequestOptions = {}): Promise<z.infer<T>> {
    const { status, text } = await this.raw(method, path, opts);
    let data: unknown = null;
    if (text.trim() !== '') {
      try {
        data = JSON.parse(text);
      } catch {
        throw new GerritError(`Gerrit ${method} ${path}: ${status} answer is not JSON: ${this.redact(text.slice(0, 200))}`, 0, method, path, '');
      }
    }
    const parsed = schema.safeParse(data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new GerritError(
        `Gerrit ${method} ${path}: unexpected answer (${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'})`,
        0, method, path, '',
      );
    }
    return parsed.data;
  }
}
