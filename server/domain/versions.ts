import * as pep440 from '@renovatebot/pep440';
import semver from 'semver';
import { invalid } from './errors';

/** True when `v` is a PEP 440 version (public or local). */
export function isPep440(v: string): boolean {
  return typeof v === 'string' && v.length <= 64 && pep440.valid(v) !== null;
}

export function assertPep440(v: string, field: string): void {
  if (!isPep440(v)) throw invalid(`${field} "${v}" is not a PEP 440 version`, { field });
}

/** PEP 440 equality: `1.0` equals `1.0.0`. */
export function sameVersion(a: string, b: string): boolean {
  if (a === b) return true;
  // every report is compared with each live rollout's two versions: the answers are kept
  const key = `${a.length}:${a}${b}`;
  let same = compared.get(key);
  if (same === undefined) {
    same = isPep440(a) && isPep440(b) && pep440.eq(a, b);
    if (compared.size >= COMPARED_KEPT) compared.clear();
    compared.set(key, same);
  }
  return same;
}

/** sameVersion's answers lately given (a pure function of its strings; bounded, as reports send any). */
const compared = new Map<string, boolean>();
const COMPARED_KEPT = 4096;

export type UpdateType = 'major' | 'minor' | 'patch' | 'other';

/**
 * Classifies S → C. Uses semver when both really are semver strings, otherwise the
 * PEP 440 release segments. Drives which default schedule a rollout gets.
 */
export function updateType(stable: string, candidate: string): UpdateType {
  if (semver.valid(stable) && semver.valid(candidate)) {
    const d = semver.diff(stable, candidate);
    if (d === 'major' || d === 'premajor') return 'major';
    if (d === 'minor' || d === 'preminor') return 'minor';
    if (d === 'patch' || d === 'prepatch') return 'patch';
    return 'other';
  }
  const a = pep440.explain(stable);
  const b = pep440.explain(candidate);
  if (!a || !b) return 'other';
  const seg = (r: number[], i: number) => r[i] ?? 0;
  if (a.epoch !== b.epoch || seg(a.release, 0) !== seg(b.release, 0)) return 'major';
  if (seg(a.release, 1) !== seg(b.release, 1)) return 'minor';
  if (seg(a.release, 2) !== seg(b.release, 2)) return 'patch';
  return 'other';
}
