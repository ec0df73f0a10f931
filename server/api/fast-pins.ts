import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from '../metrics';
import type { PinsCache } from '../services/pins-cache';

/** Exported for route listings (./route-list.ts). */
export const FAST_PINS_PATH = '/v1/constraints.txt';
const PATH = FAST_PINS_PATH;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `GET /v1/constraints.txt` answered before express sees the request: it is the one
 * endpoint every developer machine and CI job hits, and it needs neither routing, body
 * parsing nor auth. Same contract as the rest of the API (see docs/api.md): unknown,
 * missing or malformed machine ids get the stable file; ETag / If-None-Match → 304.
 * Returns false for any other request, which then goes to express.
 */
export function fastPins(pins: PinsCache, metrics: Metrics) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url ?? '';
    if (!url.startsWith(PATH) || (url.length > PATH.length && url[PATH.length] !== '?')) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const start = process.hrtime.bigint();
    const machine = machineFrom(url);
    const c = pins.current().constraintsFor(machine);
    const tag = `"${c.etag}"`;
    const overridden = c.overrides.length > 0;
    const headers: Record<string, string | number> = {
      etag: tag,
      'cache-control': 'no-cache',
      'x-depcanary-overrides': overridden ? c.overrides.map((o) => `${o.library}=${o.version}`).join(', ') : '',
    };
    let status = 200;
    if (notModified(req.headers['if-none-match'], tag)) {
      status = 304;
      res.writeHead(304, headers).end();
    } else {
      headers['content-type'] = 'text/plain; charset=utf-8';
      headers['content-length'] = c.body.length;
      res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : c.body);
    }
    metrics.pinsServed.inc({ endpoint: 'constraints', overridden: overridden ? 'yes' : 'no' });
    metrics.httpDuration.observe({ method: req.method, route: PATH, status: String(status) }, Number(process.hrtime.bigint() - start) / 1e9);
    return true;
  };
}

function machineFrom(url: string): string | null {
  const q = url.indexOf('?');
  if (q < 0) return null;
  const v = new URLSearchParams(url.slice(q + 1)).get('machine');
  return v !== null && UUID.test(v) ? v.toLowerCase() : null;
}

function notModified(header: string | undefined, tag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || v === tag || v === `W/${tag}`;
  });
}
