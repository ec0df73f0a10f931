import { Router } from 'express';
import { requireRole } from '../api/auth';
import { HttpError } from '../api/errors';
import type { TokenStore } from '../store/token-store';
import type { GerritWorker } from './start';

/**
 * Admin routes of the proposer:
 *   POST /v1/admin/gerrit/sync-base          (admin)  re-read the constraints file from the branch head now
 *   GET  /v1/admin/gerrit/outbox             (viewer) outbox items, newest first
 *   POST /v1/admin/gerrit/outbox/:id/retry   (admin)  make a failed or finished item due again
 *   GET  /v1/admin/gerrit/changes            (viewer) the bump changes canaried, with their rollouts
 *   POST /v1/admin/gerrit/watch              (admin)  one watch pass now
 */
export function gerritRoutes(worker: GerritWorker, tokens: TokenStore, now: () => number = Date.now): Router {
  const r = Router();
  r.post('/v1/admin/gerrit/sync-base', requireRole(tokens, 'admin'), async (_req, res) => {
    if (!worker.sending) throw new HttpError(409, 'conflict', 'Gerrit is not configured (GERRIT_URL); the base comes from DEPCANARY_CONSTRAINTS_FILE or PUT /v1/constraints');
    try {
      res.json(await worker.syncBase(true));
    } catch (e) {
      throw new HttpError(503, 'unavailable', `base refresh from Gerrit failed: ${(e as Error).message}`);
    }
  });
  r.get('/v1/admin/gerrit/outbox', requireRole(tokens, 'viewer'), async (_req, res) => {
    const items = await worker.outbox.list();
    res.json({ sending: worker.sending, items: items.map(({ payload: _p, ...rest }) => rest) });
  });
  r.post('/v1/admin/gerrit/outbox/:id/retry', requireRole(tokens, 'admin'), async (req, res) => {
    const id = String(req.params.id ?? '');
    if (!/^(rollback|promote|exclude):[A-Za-z0-9._-]{1,200}$/.test(id)) throw new HttpError(400, 'bad_request', 'id must be <rollback|promote|exclude>:<rolloutId>', 'id');
    if (!(await worker.outbox.requeue(id, now()))) throw new HttpError(404, 'not_found', `no outbox item ${id}`);
    worker.wake();
    res.status(202).json({ id, status: 'pending' });
  });
  r.get('/v1/admin/gerrit/changes', requireRole(tokens, 'viewer'), async (_req, res) => {
    res.json({ watching: worker.watcher !== null, changes: worker.watcher ? await worker.watcher.records() : [] });
  });
  r.post('/v1/admin/gerrit/watch', requireRole(tokens, 'admin'), async (req, res) => {
    if (req.body !== undefined && (typeof req.body !== 'object' || req.body === null || Object.keys(req.body).length > 0)) {
      throw new HttpError(400, 'bad_request', 'this takes no body');
    }
    if (!worker.watcher) throw new HttpError(409, 'conflict', 'Gerrit is not configured (GERRIT_URL), so no bump change is watched');
    try {
      res.json(await worker.watchNow());
    } catch (e) {
      throw new HttpError(503, 'unavailable', `the watch pass failed: ${(e as Error).message}`);
    }
  });
  return r;
}
