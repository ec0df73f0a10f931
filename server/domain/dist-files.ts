import { normalizeName } from './names';
import { invalid } from './errors';
import { MAX_REQUIRES_PYTHON_LENGTH, normalizeRequiresPython } from './pythons';
import { isPep440, sameVersion } from './versions';

/**
 * Files of a project as a package index lists them (PEP 503 / PEP 691), and what they say
 * about one release's Requires-Python. Pure: server/index/ fetches and validates the pages.
 */
export interface IndexFile {
  filename: string;
  /** `data-requires-python` / `requires-python`, HTML entities already decoded; null when absent. */
  requiresPython: string | null;
  yanked: boolean;
}

const SDIST = /\.(tar\.gz|tar\.bz2|tar\.xz|tgz|zip|tar)$/i;

/** The version a distribution file is of (wheel: PEP 427 name; sdist: `name-version.ext`), or null. */
export function versionOfFile(filename: string, project: string): string | null {
  const key = normalizeName(project);
  if (filename.endsWith('.whl')) {
    const parts = filename.slice(0, -4).split('-');
    if (parts.length < 5 || parts.length > 6) return null;
    return normalizeName(parts[0]!) === key && isPep440(parts[1]!) ? parts[1]! : null;
  }
  const m = SDIST.exec(filename);
  if (!m) return null;
  const stem = filename.slice(0, -m[0].length);
  // Older sdists keep the project's own hyphens (python-novaclient-18.0.0.tar.gz).
  for (let i = stem.indexOf('-'); i > 0; i = stem.indexOf('-', i + 1)) {
    if (normalizeName(stem.slice(0, i)) === key) {
      const v = stem.slice(i + 1);
      return isPep440(v) ? v : null;
    }
  }
  return null;
}

export type RequiresPythonLookup =
  | { found: true; requiresPython: string | null; files: number }
  | { found: false; versions: number };

/**
 * Requires-Python of `version` from its files. Files that disagree are all honoured (their
 * clauses joined, each once: a Python counts as supported only when every file admits it); a
 * file that declares none adds no limit. Values that are not specifiers are an error, and so
 * are clauses that together pass the length of one value (a hostile index).
 */
export function requiresPythonOf(files: readonly IndexFile[], project: string, version: string): RequiresPythonLookup {
  const mine = files.filter((f) => {
    const v = versionOfFile(f.filename, project);
    return v !== null && sameVersion(v, version);
  });
  if (mine.length === 0) {
    const versions = new Set(files.map((f) => versionOfFile(f.filename, project)).filter((v) => v !== null));
    return { found: false, versions: versions.size };
  }
  const specs = mine.map((f) => normalizeRequiresPython(f.requiresPython, `Requires-Python of ${f.filename}`)).filter((s): s is string => s !== null);
  // every file's clauses, each once ('>=3.9,<4' and '>=3.9' give '>=3.9, <4'), in file order
  const clauses = [...new Set(specs.flatMap((s) => s.split(',').map((c) => c.replace(/\s+/g, '')).filter(Boolean)))];
  const joined = clauses.join(', ');
  if (joined.length > MAX_REQUIRES_PYTHON_LENGTH) {
    throw invalid(`Requires-Python of ${project} ${version}: its ${mine.length} files declare ${clauses.length} different clauses, together longer than ${MAX_REQUIRES_PYTHON_LENGTH} characters`, { field: 'requiresPython' });
  }
  return { found: true, requiresPython: clauses.length === 0 ? null : joined, files: mine.length };
}
