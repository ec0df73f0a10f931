/**
 * A small HTTP client for the v1 API (docs/api.md), shared by the CLI and the demo.
 * Every failure becomes an ApiError carrying the HTTP status (0 when the server could not
 * be reached) and the server's `{"error": {code, message}}`, so callers print one line.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }

  /** The body a script sees with --json. */
  toJSON(): { error: { status: number; code: string; message: string; field?: string } } {
    return { error: { status: this.status, code: this.code, message: this.message, ...(this.field ? { field: this.field } : {}) } };
  }
}

export interface ClientOptions {
  url: string;
  token?: string;
  timeoutMs?: number;
}

export class ApiClient {
  readonly url: string;
  constructor(private readonly opts: ClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  /** `headers` may carry another credential (a machine's) or X-Forwarded-For (the demo's simulated networks). */
  post<T>(path: string, body: unknown, headers?: Record<string, string>): Promise<T> {
    return this.request<T>('POST', path, JSON.stringify(body), 'application/json', headers);
  }

  putText<T>(path: string, text: string): Promise<T> {
    return this.request<T>('PUT', path, text, 'text/plain; charset=utf-8');
  }

  async request<T>(method: string, path: string, body?: string, contentType?: string, extra: Record<string, string> = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (contentType) headers['content-type'] = contentType;
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    Object.assign(headers, extra);
    let res: Response;
    try {
      res = await fetch(this.url + path, {
        method,
        headers,
        body,
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 15_000),
      });
    } catch (e) {
      throw new ApiError(0, 'unreachable', `cannot reach ${this.url}: ${causeOf(e)}`);
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON: handled below */
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
      throw new ApiError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? (text.trim().slice(0, 200) || res.statusText), err?.field);
    }
    if (json === null && text) throw new ApiError(res.status, 'bad_response', `${method} ${path} answered with non-JSON: ${text.slice(0, 120)}`);
    return json as T;
  }
}

function causeOf(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError') return 'no answer in time';
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
}
