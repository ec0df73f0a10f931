import type { Request, RequestHandler } from 'express';
import { addressKey, type RateLimits } from '../services/rate-limits';
import { ROLE_RANK, type Role, type TokenEntry, type TokenStore } from '../store/token-store';
import { HttpError } from './errors';

declare module 'express-serve-static-core' {
  interface Request {
    principal?: TokenEntry;
    /** The server's rate limits (set by app.ts for every request). */
    limits?: RateLimits;
  }
}

/** The middleware of requireRole carries the role it needs, so route listings (and tests) can read it. */
export type RoleGuard = RequestHandler & { requiredRole: Role };

/**
 * Bearer-token auth: 401 without a valid token, 403 when the token's role is too low. A
 * request with no Authorization header at all gets `tokens.publicRole` when the server is in
 * public read mode (viewer routes only); a bad token is refused in every mode. Presented
 * credentials that fail count against the client address; over the limit, every request
 * from it that carries credentials gets 429 (before any lookup) until the block ends.
 */
export function requireRole(tokens: TokenStore, role: Role): RoleGuard {
  const guard: RequestHandler = async (req, _res, next) => {
    const header = req.headers.authorization;
    if (header === undefined && tokens.publicRole && ROLE_RANK[tokens.publicRole] >= ROLE_RANK[role]) {
      req.principal = { name: 'anonymous', role: tokens.publicRole, sha256: '' };
      return next();
    }
    const address = addressKey(req.ip);
    const failed = async () => req.limits?.consume('auth-failures-per-address', address);
    if (header !== undefined) await req.limits?.check('auth-failures-per-address', address);
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!m) {
      if (header !== undefined) await failed();
      throw new HttpError(401, 'unauthorized', 'missing bearer token (Authorization: Bearer <token>)');
    }
    const entry = await tokens.lookup(m[1]!);
    if (!entry) {
      await failed();
      throw new HttpError(401, 'unauthorized', 'unknown or revoked token');
    }
    if (ROLE_RANK[entry.role] < ROLE_RANK[role]) {
      throw new HttpError(403, 'forbidden', `this needs the ${role} role; token "${entry.name}" has ${entry.role}`);
    }
    req.principal = entry;
    next();
  };
  return Object.assign(guard, { requiredRole: role });
}

export function actorOf(req: Request): string {
  return req.principal ? `${req.principal.name} (${req.principal.role})` : 'anonymous';
}
