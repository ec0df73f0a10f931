import express, { Router, type Request } from 'express';
import { MASTER, unknownBranchMessage } from '../../domain/branches';
import type { ConstraintsService } from '../../services/constraints';
import type { PinsCache } from '../../services/pins-cache';
import type { TokenStore } from '../../store/token-store';
import { actorOf, requireRole } from '../auth';
import { fromZod, HttpError } from '../errors';
import { branchParam, tokenBody } from '../schemas';

export function adminRoutes(constraints: ConstraintsService, tokens: TokenStore, pins: PinsCache): Router {
  const r = Router();

  /** `?branch=` resolved among the served branches (a new one is allowed for PUT). */
  const branchOf = (req: Request, allowNew: boolean): string => {
    if (req.query.branch === undefined) return MASTER;
    const p = branchParam.safeParse(req.query.branch);
    if (!p.success) throw fromZod(p.error, 'branch');
    const snap = pins.current();
    const b = snap.resolve(p.data);
    if (b) return b.branch;
    if (allowNew) return p.data;
    throw new HttpError(404, 'not_found', unknownBranchMessage(p.data, snap.branchNames), 'branch');
  };

  r.get('/v1/branches', requireRole(tokens, 'viewer'), (_req, res) => {
    const snap = pins.current();
    res.json({
      branches: [...snap.branches.values()].map((b) => ({
        branch: b.branch, etag: b.stable.etag, baseEtag: b.baseEtag, lines: b.base.lines.length, pins: b.base.index.size,
        source: b.source, importedAt: b.importedAt, pythons: b.pythons,
        liveRollouts: b.live.map((l) => l.id), promotedPending: b.promoted.map((o) => ({ library: o.name, candidate: o.candidate, rolloutId: o.rolloutId })),
        emergencyPins: b.emergency.filter((e) => e.inForce),
      })),
    });
  });

  r.get('/v1/constraints', requireRole(tokens, 'viewer'), async (req, res) => {
    const branch = branchOf(req, false);
    res.type('text/plain; charset=utf-8').set('x-depcanary-branch', branch).send(await constraints.baseText(branch));
  });

  r.put(
    '/v1/constraints',
    requireRole(tokens, 'admin'),
    express.text({ type: () => true, limit: '4mb' }),
    async (req, res) => {
      if (typeof req.body !== 'string' || req.body.length === 0) {
        throw new HttpError(400, 'bad_request', 'send the constraints file as the request body (text/plain); an empty base is never stored');
      }
      const force = req.query.force === 'true' || req.query.force === '1';
      res.json(await constraints.replace(branchOf(req, true), req.body, `api:${actorOf(req)}`, { force }));
    },
  );

  r.post('/v1/tokens', requireRole(tokens, 'admin'), async (req, res) => {
    const body = tokenBody.safeParse(req.body);
    if (!body.success) throw fromZod(body.error);
    res.status(201).json({ name: body.data.name, role: body.data.role, token: await tokens.create(body.data.name, body.data.role, actorOf(req)) });
  });

  r.get('/v1/tokens', requireRole(tokens, 'admin'), async (_req, res) => {
    res.json({ tokens: await tokens.list() });
  });

  r.delete('/v1/tokens/:name', requireRole(tokens, 'admin'), async (req, res) => {
    const name = tokenBody.shape.name.safeParse(req.params.name);
    if (!name.success) throw fromZod(name.error, 'name');
    if (!(await tokens.revoke(name.data))) throw new HttpError(404, 'not_found', `no token named "${name.data}"`);
    res.json({ name: name.data, revoked: true });
  });
  return r;
}
