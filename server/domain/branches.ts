import { invalid } from './errors';

/**
 * Branches of the constraints repository, one base each: `master`, `stable/<series>`,
 * `unmaintained/<series>`. A request may name a branch or a series the way
 * releases.openstack.org/constraints/upper/<series> does: `master` is master, a release id
 * or series name (`2025.2`, `zed`) is `stable/<id>`, else `unmaintained/<id>`.
 */
export const MASTER = 'master';
const SERIES = /^[a-z0-9][a-z0-9._-]{0,39}$/;
const BRANCH = /^(master|(stable|unmaintained)\/[a-z0-9][a-z0-9._-]{0,39})$/;
const COMMIT = /^[0-9a-f]{40}$/;

export function isBranchName(b: string): boolean {
  return BRANCH.test(b);
}

export function assertBranchName(b: string, field = 'branch'): void {
  if (!isBranchName(b)) throw invalid(`${field} "${b.slice(0, 60)}" is not master, stable/<series> or unmaintained/<series>`, { field });
}

/** The branch a request means among the served ones, or null when none matches. */
export function resolveBranch(requested: string | null | undefined, served: ReadonlySet<string>): string | null {
  const r = (requested ?? '').trim();
  if (r === '' || r === MASTER) return served.has(MASTER) ? MASTER : null;
  if (BRANCH.test(r)) return served.has(r) ? r : null;
  if (COMMIT.test(r) || !SERIES.test(r)) return null;
  for (const b of [`stable/${r}`, `unmaintained/${r}`]) if (served.has(b)) return b;
  return null;
}

/** Why `requested` matched no branch: one sentence for a 404. */
export function unknownBranchMessage(requested: string, served: ReadonlySet<string>): string {
  const r = requested.trim().slice(0, 80);
  const list = [...served].sort().join(', ') || 'none';
  if (COMMIT.test(r)) return `constraints at a commit id are not served; served branches: ${list}`;
  return `no constraints for branch "${r}" (served: ${list}; a series like 2025.2 means stable/2025.2, then unmaintained/2025.2)`;
}

/** `upper-constraints-stable-2025.2.txt` → stable/2025.2 (the file names data/ ships). */
export function branchOfFileName(name: string): string | null {
  const m = /^upper-constraints-(stable|unmaintained)-([a-z0-9][a-z0-9._-]{0,39})\.txt$/.exec(name);
  return m ? `${m[1]}/${m[2]}` : null;
}
