import express, { Router } from 'express';
import type { ConstraintsService } from '../../services/constraints';
import type { TokenStore } from '../../store/token-store';
import { actorOf, requireRole } from '../auth';
import { fromZod, HttpError } from '../errors';
import { tokenBody } from '../schemas';

export function adminRoutes(constraints: ConstraintsService, tokens: TokenStore): Router {
  const r = Router();

  r.get('/v1/constraints', requireRole(tokens, 'viewer'), async (_req, res) => {
    res.type('text/plain; charset=utf-8').send(await constraints.baseText());
  });

  r.put(
    '/v1/constraints',
    requireRole(tokens, 'admin'),
    express.text({ type: () => true, limit: '4mb' }),
    async (req, res) => {
      if (typeof req.body !== 'string' || req.body.length === 0) {
        throw new HttpError(400, 'bad_request', 'send the constraints file as the request body (text/plain)');
      }
      res.json(await constraints.replace(req.body, `api:${actorOf(req)}`));
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
