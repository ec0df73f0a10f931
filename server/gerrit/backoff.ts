/**
 * Delay before retry number `attempt` (1 = first retry): exponential from `baseMs`,
 * capped, with "full jitter" in [cap/2, cap] so that many items failing together (a Gerrit
 * outage) do not all come back at once. `random` is injected for tests.
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 2_000, maxMs: 5 * 60_000 };

export function backoffMs(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const exp = policy.baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30);
  const cap = Math.min(policy.maxMs, exp);
  return Math.round(cap / 2 + random() * (cap / 2));
}
