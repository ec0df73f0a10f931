import { hash } from 'node:crypto';

/** Buckets are basis points: 0..9999. */
export const BUCKETS = 10_000;

/**
 * Deterministic bucket of a machine for one rollout: sha256("salt:machine") read as an
 * unsigned 48-bit integer, modulo 10,000 (bias < 1e-10). Each rollout has its own salt,
 * so buckets are independent across rollouts; the same inputs give the same bucket in
 * every process and after every restart.
 */
export function bucketOf(salt: string, machineId: string): number {
  // One-shot hash: the same digest as createHash().update(salt).update(':').update(id), half the
  // cost. 'binary' (latin1) output: one character per byte, so the first 6 characters are the
  // first 6 bytes (48 bits is exact in a double); cheaper to make and read than hex or a Buffer
  // (a pins request hashes once per live rollout).
  const d = hash('sha256', `${salt}:${machineId}`, 'binary');
  let v = 0;
  for (let i = 0; i < 6; i++) v = v * 256 + d.charCodeAt(i);
  return v % BUCKETS;
}

/** Percent (0..100, may be fractional like 0.5) to basis points. */
export function percentToBasisPoints(percent: number): number {
  return Math.round(percent * 100);
}

/**
 * A machine is in the candidate arm iff its bucket is below the stage percent in basis
 * points. Monotone: raising the percent never moves a machine out of the candidate arm.
 */
export function inCandidateArm(bucket: number, percent: number): boolean {
  return bucket < percentToBasisPoints(percent);
}
