import type { LibraryChange } from './constraints-diff';
import { sameVersion } from './versions';

/**
 * What a bump change proposes, library by library: the per-library differences between
 * the constraints file at the change's parent and at its patch set (diffConstraints) become
 * one canary each, stable from the parent and candidate from the patch set. Pure.
 *
 * A library qualifies when the lines the change replaces pin one version (the stable) and
 * the lines it writes pin exactly one version that was not there before (the candidate),
 * whatever its markers: the release team's hand-made split of `cliff===4.9.1` into
 * `cliff===4.9.1;python_version=='3.9'` and `cliff===4.10.0;python_version>='3.10'` is the
 * bump 4.9.1 → 4.10.0. Lines moved without a change of text are no change at all.
 */
export interface Bump {
  key: string;
  library: string;
  stable: string;
  candidate: string;
  /** The change's own lines for the library (what it would merge). */
  lines: string[];
}

export interface Skipped {
  key: string;
  library: string;
  reason: string;
}

/** `max`: bumps beyond it (in file order) are skipped with a reason: one patch set cannot start unbounded rollouts. */
export function bumpsOf(changes: readonly LibraryChange[], max = Number.POSITIVE_INFINITY): { bumps: Bump[]; skipped: Skipped[] } {
  const bumps: Bump[] = [];
  const skipped: Skipped[] = [];
  for (const c of changes) {
    const skip = (reason: string) => skipped.push({ key: c.key, library: c.name, reason });
    if (c.before.length === 0) {
      skip(`added at ${c.candidate.join(', ')}: a new pin has no stable to compare with`);
      continue;
    }
    if (c.after.length === 0) {
      skip(`removed (was ${c.stable.join(', ')}): nothing to canary`);
      continue;
    }
    const kept = new Set(c.after.map((l) => l.text));
    const replaced = c.before.filter((l) => !kept.has(l.text));
    const old = [...new Set(replaced.map((l) => l.version))];
    const written = c.after.filter((l) => !c.before.some((b) => b.text === l.text));
    const fresh = [...new Set(written.map((l) => l.version))].filter((v) => !c.before.some((b) => sameVersion(b.version, v)));
    if (fresh.length === 0) {
      skip(`only its markers or spelling change (${c.candidate.join(', ')}): no new version`);
      continue;
    }
    if (fresh.length > 1) {
      skip(`moves to several new versions at once (${fresh.join(', ')}); one canary needs one candidate`);
      continue;
    }
    const stable = old.length === 1 ? old[0]! : c.stable.length === 1 ? c.stable[0]! : null;
    if (stable === null) {
      skip(`replaces lines pinning several versions (${old.join(', ')}); one canary needs one stable`);
      continue;
    }
    if (sameVersion(stable, fresh[0]!)) {
      skip(`${fresh[0]} is the version it already pins`);
      continue;
    }
    if (bumps.length >= max) {
      skip(`the patch set moves more than ${max} libraries; only the first ${max} are canaried`);
      continue;
    }
    bumps.push({ key: c.key, library: c.name, stable, candidate: fresh[0]!, lines: c.after.map((l) => l.text) });
  }
  return { bumps, skipped };
}
