import { requiresPythonOf, type IndexFile } from '../domain/dist-files';
import { normalizeName } from '../domain/names';
import { ACCEPT, BadIndexResponse, JSON_TYPE, parseHtmlPage, parseJsonPage } from './simple-api';

/**
 * Reads Requires-Python from a package index's simple API: the project page
 * `<index>/<normalised name>/`, asked for as PEP 691 JSON (PEP 503 HTML accepted), with a
 * timeout, a size bound, and ETag revalidation (If-None-Match; a 304 reuses the page).
 * Anything that keeps a clear answer from coming back (no connection, timeout, 5xx, a
 * page that is not a simple-API page) is an IndexUnavailable: callers refuse, never guess.
 */
export interface IndexSettings {
  /** Base URL of the simple API, e.g. https://pypi.org/simple/ ; null: no index (off). */
  url: string | null;
  timeoutMs: number;
  maxBytes: number;
}

export const DEFAULT_INDEX_URL = 'https://pypi.org/simple/';
export const DEFAULT_INDEX_MAX_BYTES = 32 * 1024 * 1024;

export class IndexUnavailable extends Error {}
/** The index answered: no such project, or no such release of it. */
export class NotOnIndex extends Error {}

export interface ReleaseSupport {
  project: string;
  version: string;
  requiresPython: string | null;
  /** Where it was read. */
  url: string;
}

interface CachedPage {
  etag: string;
  files: IndexFile[];
}

export class IndexClient {
  private readonly cache = new Map<string, CachedPage>();
  private static readonly CACHE_MAX = 500;
  /** Requests answered 304 from the cache, for the metrics and tests. */
  revalidated = 0;

  constructor(readonly settings: IndexSettings, private readonly fetchFn: typeof fetch = fetch) {}

  get enabled(): boolean {
    return this.settings.url !== null;
  }

  projectUrl(project: string): string {
    if (!this.settings.url) throw new IndexUnavailable('no package index is configured (DEPCANARY_INDEX_URL=off)');
    return `${this.settings.url.replace(/\/+$/, '')}/${encodeURIComponent(normalizeName(project))}/`;
  }

  /** Requires-Python of each version (one page fetch); a version the index lacks is null in `missing`. */
  async requiresPython(project: string, versions: string[]): Promise<{ url: string; releases: Map<string, ReleaseSupport>; missing: string[] }> {
    const url = this.projectUrl(project);
    const files = await this.page(url);
    const releases = new Map<string, ReleaseSupport>();
    const missing: string[] = [];
    for (const version of versions) {
      let r;
      try {
        r = requiresPythonOf(files, project, version);
      } catch (e) {
        throw new IndexUnavailable(`${url}: ${(e as Error).message}`);
      }
      if (r.found) releases.set(version, { project, version, requiresPython: r.requiresPython, url });
      else missing.push(version);
    }
    return { url, releases, missing };
  }

  private async page(url: string): Promise<IndexFile[]> {
    const cached = this.cache.get(url);
    const headers: Record<string, string> = { accept: ACCEPT, 'user-agent': 'depcanary (requires-python lookup)' };
    if (cached) headers['if-none-match'] = cached.etag;
    let res: Response;
    const signal = AbortSignal.timeout(this.settings.timeoutMs);
    try {
      res = await this.fetchFn(url, { headers, signal, redirect: 'follow' });
    } catch (e) {
      const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
      const why = err.name === 'TimeoutError' ? `no answer within ${this.settings.timeoutMs} ms` : (err.cause?.code ?? err.cause?.message ?? err.message ?? String(e));
      throw new IndexUnavailable(`cannot reach ${url}: ${why}`);
    }
    try {
      if (res.status === 304 && cached) {
        this.revalidated++;
        return cached.files;
      }
      if (res.status === 404) throw new NotOnIndex(`${url} does not exist (404): the index has no such project`);
      if (res.status !== 200) throw new IndexUnavailable(`${url} answered ${res.status} ${res.statusText}`.trim());
      const text = await readBounded(res, this.settings.maxBytes, signal, url);
      const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      let files: IndexFile[];
      if (type === JSON_TYPE) files = parseJsonPage(text);
      else if (type === 'application/vnd.pypi.simple.v1+html' || type === 'text/html') files = parseHtmlPage(text);
      else throw new IndexUnavailable(`${url} answered with content type "${type.slice(0, 80)}", not a simple-API page`);
      const etag = res.headers.get('etag');
      if (etag && etag.length <= 200) {
        if (this.cache.size >= IndexClient.CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(url, { etag, files });
      } else this.cache.delete(url);
      return files;
    } catch (e) {
      if (e instanceof BadIndexResponse) throw new IndexUnavailable(`${url}: ${e.message}`);
      if (e instanceof IndexUnavailable || e instanceof NotOnIndex) throw e;
      const err = e as { name?: string; message?: string };
      throw new IndexUnavailable(`${url}: ${err.name === 'TimeoutError' ? `no complete answer within ${this.settings.timeoutMs} ms` : err.message}`);
    }
  }
}

async function readBounded(res: Response, max: number, signal: AbortSignal, url: string): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw new IndexUnavailable(`${url}: the page is ${declared} bytes, more than the ${max} allowed`);
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    if (signal.aborted) throw Object.assign(new Error('aborted'), { name: 'TimeoutError' });
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw new IndexUnavailable(`${url}: the page is more than the ${max} bytes allowed`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
