import { Router } from 'express';
import type { Metrics } from '../../metrics';
import type { PinsCache } from '../../services/pins-cache';
import { HttpError } from '../errors';
import { machineId } from '../schemas';

/**
 * `GET /v1/pins`: answered from the in-memory snapshot, no Redis round trip; a missing or
 * malformed machine id is a 400 here (tools call this). `/v1/constraints.txt` is served
 * by the fast path in ../fast-pins.ts.
 */
export function pinsRoutes(pins: PinsCache, metrics: Metrics): Router {
  const r = Router();

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
