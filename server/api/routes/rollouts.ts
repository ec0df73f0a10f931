import { Router } from 'express';
import type { ActionType } from '../../domain/rollout';
import type { RolloutService } from '../../services/rollouts';
import type { RolloutStore } from '../../store/rollout-store';
import type { TokenStore } from '../../store/token-store';
import { actorOf, requireRole } from '../auth';
import { fromZod } from '../errors';
import { actionBody, createRolloutBody, rolloutIdParam } from '../schemas';

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
    res.json({ rollouts: await service.list(state) });
  });

  r.post('/v1/rollouts', requireRole(tokens, 'release-manager'), async (req, res) => {
    const body = createRolloutBody.safeParse(req.body);
    if (!body.success) throw fromZod(body.error);
    res.status(201).json(await service.create(body.data, actorOf(req)));
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
      await service.act(id, type, actorOf(req), body.data.reason, { expectedRevision: body.data.revision });
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
