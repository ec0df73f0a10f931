import type { Request, RequestHandler } from 'express';
import { addressKey, type RateLimits } from '../services/rate-limits';
import { addressBlock, tokenSource } from '../services/sources';
import { CREDENTIAL_PREFIX, type EnrolmentStore } from '../store/enrolment-store';
import { ROLE_RANK, type Role, type TokenEntry, type TokenStore } from '../store/token-store';
import { HttpError } from './errors';

/** Who sent a report: an enrolled machine (only its own reports) or a CI system's reporter token. */
export type Reporter =
  | { kind: 'machine'; machine: string; source: string }
  | { kind: 'token'; name: string; source: string };

declare module 'express-serve-static-core' {
  interface Request {
    principal?: TokenEntry;
    reporter?: Reporter;
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
    const entry = await tokens.lookup(await bearer(req, 'missing bearer token (Authorization: Bearer <token>)', 'missing bearer token (Authorization: Bearer <token>)'));
    if (!entry) return refuse(req, 'unknown or revoked token');
    if (ROLE_RANK[entry.role] < ROLE_RANK[role]) {
      throw new HttpError(403, 'forbidden', `this needs the ${role} role; token "${entry.name}" has ${entry.role}`);
    }
    req.principal = entry;
    next();
  };
  return Object.assign(guard, { requiredRole: role });
}

/**
 * The credential of `Authorization: Bearer <credential>`. No header: 401 with `missing`
 * (nothing presented, nothing counted). Otherwise a client over a failed-credentials limit
 * gets 429 before any lookup, and a header that is not a bearer credential is a failed
 * credential: counted, then 401 with `malformed`.
 */
async function bearer(req: Request, missing: string, malformed: string): Promise<string> {
  const header = req.headers.authorization;
  if (header === undefined) throw new HttpError(401, 'unauthorized', missing);
  await checkAuthFailures(req);
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return refuse(req, malformed);
  return m[1]!;
}

/** A presented credential that is not known: counted as a failed credential, then 401. */
async function refuse(req: Request, message: string): Promise<never> {
  await authFailed(req);
  throw new HttpError(401, 'unauthorized', message);
}

/** Presented credentials that failed count against the client address and its address block. */
async function authFailed(req: Request): Promise<void> {
  await req.limits?.consume('auth-failures-per-address', addressKey(req.ip));
  await req.limits?.consume('auth-failures-per-block', addressBlock(req.ip));
}

/** Over either failed-credentials limit, every credentialed request gets 429 until the block ends. */
async function checkAuthFailures(req: Request): Promise<void> {
  await req.limits?.check('auth-failures-per-address', addressKey(req.ip));
  await req.limits?.check('auth-failures-per-block', addressBlock(req.ip));
}

export const NO_REPORT_CREDENTIAL =
  'reports count only from an enrolled source: send Authorization: Bearer <credential> with the credential ' +
  'POST /v1/enrol gave this machine (the depcanary plugin enrols at opt-in), or a reporter token (CI systems)';

/**
 * POST /v1/reports: 401 without a credential or with a bad one (counted as a failed
 * credential), 403 for a token of another role than `reporter`. Sets `req.reporter`.
 */
export function requireReporter(tokens: TokenStore, enrolments: EnrolmentStore): RoleGuard {
  const guard: RequestHandler = async (req, _res, next) => {
    const presented = await bearer(req, NO_REPORT_CREDENTIAL, `malformed Authorization header; ${NO_REPORT_CREDENTIAL}`);
    if (presented.startsWith(CREDENTIAL_PREFIX)) {
      const e = await enrolments.lookup(presented);
      if (!e) return refuse(req, 'unknown or forgotten machine credential: enrol again (POST /v1/enrol)');
      req.reporter = { kind: 'machine', machine: e.machine, source: e.source };
      return next();
    }
    const entry = await tokens.lookup(presented);
    if (!entry) return refuse(req, 'unknown or revoked token');
    if (entry.role !== 'reporter') {
      throw new HttpError(403, 'forbidden', `reports need a reporter token or an enrolled machine's credential; token "${entry.name}" has ${entry.role}`);
    }
    req.principal = entry;
    req.reporter = { kind: 'token', name: entry.name, source: tokenSource(entry.name) };
    next();
  };
  return Object.assign(guard, { requiredRole: 'reporter' as const });
}

export function actorOf(req: Request): string {
  return req.principal ? `${req.principal.name} (${req.principal.role})` : 'anonymous';
}
