import { Router } from 'express';
import { unknownBranchMessage } from '../../domain/branches';
import type { Metrics } from '../../metrics';
import type { PinsCache } from '../../services/pins-cache';
import { HttpError } from '../errors';
import { machineId } from '../schemas';

/**
 * `GET /v1/pins?machine=<uuid>&branch=<b>`: answered from the in-memory snapshot, no Redis
 * round trip; a missing or malformed machine id is a 400 here (tools call this), an unknown
 * branch a 404. `/v1/constraints.txt` and `/constraints/upper/<series>` are served by the
 * fast path in ../fast-pins.ts.
 */
export function pinsRoutes(pins: PinsCache, metrics: Metrics): Router {
  const r = Router();

  r.get('/v1/pins', (req, res) => {
    const raw = req.query.machine;
    const parsed = machineId.safeParse(raw);
    if (typeof raw !== 'string' || !parsed.success) {
      throw new HttpError(400, 'bad_request', 'machine: a UUID machine id is required (?machine=...)', 'machine');
    }
    const requested = typeof req.query.branch === 'string' ? req.query.branch : null;
    const snap = pins.current();
    const branch = snap.resolve(requested);
    if (!branch) throw new HttpError(404, 'not_found', unknownBranchMessage(requested ?? '', snap.branchNames), 'branch');
    const list = branch.pinsFor(raw.toLowerCase());
    metrics.pinsServed.inc({ endpoint: 'pins', overridden: list.some((p) => p.overridden) ? 'yes' : 'no' });
    res.set('x-depcanary-branch', branch.branch).json({
      machine: raw.toLowerCase(), branch: branch.branch, base: { etag: branch.stable.etag }, pins: list,
      emergencyPins: branch.emergency.filter((e) => e.inForce),
    });
  });

  return r;
}
