import type { IncomingMessage, ServerResponse } from 'node:http';
import { unknownBranchMessage } from '../domain/branches';
import type { Metrics } from '../metrics';
import type { PinsCache } from '../services/pins-cache';

/** Exported for route listings (./route-list.ts). */
export const FAST_PINS_PATH = '/v1/constraints.txt';
export const FAST_UPPER_ROUTE = '/constraints/upper/:series';
const V1 = FAST_PINS_PATH;
const UPPER = '/constraints/upper/';
const UPPER_ROUTE = FAST_UPPER_ROUTE;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The constraints files every developer machine and CI job fetches, answered before
 * express sees the request (no routing, body parsing or auth):
 *   GET /v1/constraints.txt?machine=<uuid>&branch=<b>
 *   GET /constraints/upper/<series>?machine=<uuid>   (the releases.openstack.org scheme)
 * `b`/`<series>`: master, stable/<series>, unmaintained/<series> or a release id such as
 * 2025.2 (→ stable/2025.2, then unmaintained/2025.2); none is master. Every answer carries
 * `X-Depcanary-Branch`; an unknown branch is a 404 with the usual JSON error. Unknown,
 * missing or malformed machine ids get the branch's stable file; ETag / If-None-Match → 304.
 * Returns false for any other request, which then goes to express.
 */
export function fastPins(pins: PinsCache, metrics: Metrics) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const url = req.url ?? '';
    let route: string;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path === V1) route = V1;
    else if (path.startsWith(UPPER) && path.length > UPPER.length) route = UPPER_ROUTE;
    else return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const start = process.hrtime.bigint();
    const params = q < 0 ? null : new URLSearchParams(url.slice(q + 1));
    let requested: string | null;
    if (route === V1) requested = params?.get('branch') ?? null;
    else {
      try {
        requested = decodeURIComponent(path.slice(UPPER.length));
      } catch {
        requested = path.slice(UPPER.length);
      }
    }
    const snap = pins.current();
    const branch = snap.resolve(requested);
    let status: number;
    if (!branch) {
      status = 404;
      const body = JSON.stringify({ error: { code: 'not_found', message: unknownBranchMessage(requested ?? '', snap.branchNames) } });
      res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache' })
        .end(req.method === 'HEAD' ? undefined : body);
    } else {
      const raw = params?.get('machine');
      const machine = raw && UUID.test(raw) ? raw.toLowerCase() : null;
      const c = branch.constraintsFor(machine);
      const tag = `"${c.etag}"`;
      const headers: Record<string, string | number> = {
        etag: tag,
        'cache-control': 'no-cache',
        'x-depcanary-branch': branch.branch,
        // which snapshot this process serves: equal on every replica once a change reached it
        'x-depcanary-version': snap.version,
        'x-depcanary-overrides': c.overrides.map((o) => `${o.library}=${o.version}`).join(', '),
      };
      if (notModified(req.headers['if-none-match'], tag)) {
        status = 304;
        res.writeHead(304, headers).end();
      } else {
        status = 200;
        headers['content-type'] = 'text/plain; charset=utf-8';
        headers['content-length'] = c.length;
        res.writeHead(200, headers);
        if (req.method === 'HEAD') res.end();
        else {
          // the pieces go out in one write (corked; end() uncorks), none copied into a body of its own
          res.cork();
          for (const chunk of c.chunks) res.write(chunk);
          res.end();
        }
      }
      metrics.pinsServed.inc({ endpoint: 'constraints', overridden: c.overrides.length > 0 ? 'yes' : 'no' });
    }
    metrics.httpDuration.observe({ method: req.method, route, status: String(status) }, Number(process.hrtime.bigint() - start) / 1e9);
    return true;
  };
}

function notModified(header: string | undefined, tag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || v === tag || v === `W/${tag}`;
  });
}
