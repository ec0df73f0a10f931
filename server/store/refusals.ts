import { conflict, notFound, type DomainError } from '../domain/errors';

/**
 * Why a Lua script refused a write (it wrote nothing then): the one list of refusal codes.
 * Every script gets them as the Lua table REFUSED (store/redis.ts prepends it), so a
 * script says `return REFUSED.CONFLICT` and never a bare number; TypeScript reads a reply
 * through refusalOf() and turns it into a domain error in refuse(), the one mapping.
 */
export const REFUSED = {
  /** The record the write is about does not exist. */
  NOT_FOUND: -1,
  /** Compare-and-set lost: the revision, active rollout or cursor moved since the caller read it. */
  CONFLICT: -2,
  /** The caller's lease fence is no longer the current one (another process took the lease). */
  FENCE_LOST: -3,
  /** The rollout has ended and its evidence is retired: nothing more is counted for it. */
  ENDED: -4,
} as const;
export type Refusal = keyof typeof REFUSED;

const BY_CODE = new Map<number, Refusal>(Object.entries(REFUSED).map(([k, v]) => [v, k as Refusal]));

/** The Lua prelude defining REFUSED, from the table above. */
export function luaRefusals(): string {
  return `local REFUSED = { ${Object.entries(REFUSED).map(([k, v]) => `${k} = ${v}`).join(', ')} }\n`;
}

/** The refusal a script's reply stands for, or null when it is a result. */
export function refusalOf(reply: unknown): Refusal | null {
  return typeof reply === 'number' ? BY_CODE.get(reply) ?? null : null;
}

/** The domain error of each refusal: not found is a 404; the rest are conflicts (409: reload and retry). */
const ERROR: Record<Refusal, (message: string) => DomainError> = {
  NOT_FOUND: notFound,
  CONFLICT: conflict,
  FENCE_LOST: conflict,
  ENDED: conflict,
};

/** Default messages; a caller names the record in its own. */
const MESSAGE: Record<Refusal, string> = {
  NOT_FOUND: 'not found',
  CONFLICT: 'changed at the same time; reload and retry',
  FENCE_LOST: 'the controller lease was lost; not applied',
  ENDED: 'the rollout has ended',
};

/**
 * Throws the domain error of a refused reply (with the caller's message for it, if any);
 * returns the reply when it is a result.
 */
export function refuse<T>(reply: T, messages: Partial<Record<Refusal, string>> = {}): T {
  const r = refusalOf(reply);
  if (r === null) return reply;
  throw ERROR[r](messages[r] ?? MESSAGE[r]);
}
