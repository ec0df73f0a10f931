import { Router } from 'express';
import type { Metrics } from '../../metrics';
import type { PinsCache } from '../../services/pins-cache';
import { HttpError } from '../errors';
import { machineId } from '../schemas';

/**
 * The hot path: answered from the in-memory snapshot, no Redis round trip. An unknown,
 * missing or malformed machine id gets the stable file from /constraints.txt (a developer's
 * install must never fail because of us); /pins is for tools and says 400.
 */
export function pinsRoutes(pins: PinsCache, metrics: Metrics): Router {
  const r = Router();

  r.get('/v1/constraints.txt', (req, res) => {
    const raw = req.query.machine;
    const machine = typeof raw === 'string' && machineId.safeParse(raw).success ? raw.toLowerCase() : null;
    const c = pins.current().constraintsFor(machine);
    const tag = `"${c.etag}"`;
    res.setHeader('ETag', tag);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Depcanary-Overrides', c.overrides.map((o) => `${o.library}=${o.version}`).join(', '));
    metrics.pinsServed.inc({ endpoint: 'constraints', overridden: c.overrides.length > 0 ? 'yes' : 'no' });
    if (matches(req.headers['if-none-match'], tag)) {
      res.status(304).end();
      return;
    }
    res.type('text/plain; charset=utf-8').send(c.text);
  });

  r.get('/v1/pins', (req, res) => {
    const raw = req.query.machine;
    const parsed = machineId.safeParse(raw);
    if (typeof raw !== 'string' || !parsed.success) {
      throw new HttpError(400, 'bad_request', 'machine: a UUID machine id is required (?machine=...)', 'machine');
    }
    const snap = pins.current();
    const list = snap.pinsFor(raw.toLowerCase());
    metrics.pinsServed.inc({ endpoint: 'pins', overridden: list.some((p) => p.arm === 'candidate') ? 'yes' : 'no' });
    res.json({ machine: raw.toLowerCase(), base: { etag: snap.stable.etag }, pins: list });
  });

  return r;
}

function matches(header: string | undefined, tag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || v === tag || v === `W/${tag}`;
  });
}
