import { Router } from 'express';
import type { ActionType } from '../../domain/rollout';
import { RequiresPythonUnavailable, type ProposalOptions, type RolloutService } from '../../services/rollouts';
import type { RolloutStore } from '../../store/rollout-store';
import type { TokenStore } from '../../store/token-store';
import { actorOf, requireRole } from '../auth';
import { fromZod, HttpError } from '../errors';
import { actionBody, approveBody, branchParam, changeParam, createRolloutBody, rolloutIdParam } from '../schemas';

const ACTIONS: Record<string, { type: ActionType; role: 'release-manager' | 'admin' }> = {
  promote: { type: 'promote', role: 'release-manager' },
  pause: { type: 'pause', role: 'release-manager' },
  resume: { type: 'resume', role: 'release-manager' },
  rollback: { type: 'rollback', role: 'release-manager' },
  freeze: { type: 'freeze', role: 'admin' },
  unfreeze: { type: 'unfreeze', role: 'admin' },
};

export function rolloutRoutes(service: RolloutService, store: RolloutStore, tokens: TokenStore): Router {
  const r = Router();
  const viewer = requireRole(tokens, 'viewer');

  r.get('/v1/rollouts', viewer, async (req, res) => {
    const state = typeof req.query.state === 'string' ? req.query.state : undefined;
    let branch: string | undefined;
    if (req.query.branch !== undefined) {
      const b = branchParam.safeParse(req.query.branch);
      if (!b.success) throw fromZod(b.error, 'branch');
      branch = b.data;
    }
    let change: number | undefined;
    if (req.query.change !== undefined) {
      const c = changeParam.safeParse(req.query.change);
      if (!c.success) throw fromZod(c.error, 'change');
      change = c.data;
    }
    res.json({ rollouts: await service.list({ state, branch, change }) });
  });

  // Signoffs (docs/operations.md): a release manager approves the current stage; audited.
  r.post('/v1/rollouts/:id/approve', requireRole(tokens, 'release-manager'), async (req, res) => {
    const id = parseId(req.params.id);
    const body = approveBody.safeParse(req.body ?? {});
    if (!body.success) throw fromZod(body.error);
    res.json(await service.approve(id, actorOf(req), body.data.reason, body.data.revision));
  });

  r.post('/v1/rollouts', requireRole(tokens, 'release-manager'), async (req, res) => {
    const body = createRolloutBody.safeParse(req.body);
    if (!body.success) throw fromZod(body.error);
    try {
      res.status(201).json(await service.create(body.data, actorOf(req)));
    } catch (e) {
      if (e instanceof RequiresPythonUnavailable) throw new HttpError(503, 'unavailable', e.message, 'requiresPython');
      throw e;
    }
  });

  r.post('/v1/rollouts/:id/lift-pin', requireRole(tokens, 'release-manager'), async (req, res) => {
    const id = parseId(req.params.id);
    const body = actionBody.pick({ reason: true }).safeParse(req.body ?? {});
    if (!body.success) throw fromZod(body.error);
    res.json(await service.liftPin(id, actorOf(req), body.data.reason));
  });

  r.get('/v1/rollouts/:id', viewer, async (req, res) => {
    res.json(await service.view(parseId(req.params.id)));
  });

  r.get('/v1/rollouts/:id/events', viewer, async (req, res) => {
    const id = parseId(req.params.id);
    await store.require(id);
    res.json({ events: await store.events(id) });
  });

  r.get('/v1/rollouts/:id/segments', viewer, async (req, res) => {
    const limit = Math.min(Math.max(Number(req.query.limit ?? 50) || 50, 1), 2000);
    res.json(await service.segments(parseId(req.params.id), limit));
  });

  r.get('/v1/rollouts/:id/series', viewer, async (req, res) => {
    const id = parseId(req.params.id);
    await store.require(id);
    res.json({ points: await store.series(id) });
  });

  for (const [name, { type, role }] of Object.entries(ACTIONS)) {
    r.post(`/v1/rollouts/:id/${name}`, requireRole(tokens, role), async (req, res) => {
      const id = parseId(req.params.id);
      const body = actionBody.safeParse(req.body ?? {});
      if (!body.success) throw fromZod(body.error);
      const { exclude, bug } = body.data;
      if ((exclude !== undefined || bug !== undefined) && type !== 'rollback') {
        throw new HttpError(400, 'bad_request', '"exclude" and "bug" only go with a rollback', exclude !== undefined ? 'exclude' : 'bug');
      }
      const proposal: ProposalOptions = {
        ...(exclude !== undefined ? { exclude } : {}),
        ...(bug ? { bug: 'closes' in bug ? { kind: 'closes' as const, id: bug.closes.replace(/^#/, '') } : { kind: 'related' as const, id: bug.related.replace(/^#/, '') } } : {}),
      };
      await service.act(id, type, actorOf(req), body.data.reason, { expectedRevision: body.data.revision, proposal });
      res.json(await service.view(id));
    });
  }
  return r;
}

function parseId(raw: unknown): string {
  const p = rolloutIdParam.safeParse(raw);
  if (!p.success) throw fromZod(p.error, 'id');
  return p.data;
}
