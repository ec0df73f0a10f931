import * as pep440 from '@renovatebot/pep440';
import type { ConstraintsFile } from './constraints';
import { invalid } from './errors';
import { parseMarker, type Marker } from './markers';

/**
 * Python versions as constraints files and Requires-Python speak of them: `X.Y` strings.
 * The community's Pythons are a setting (DEPCANARY_PYTHON_VERSIONS); without it each branch
 * takes the Pythons its base's markers name, joined to DEFAULT_PYTHONS.
 */
export const DEFAULT_PYTHONS: readonly string[] = ['3.10', '3.11', '3.12', '3.13'];
const PY = /^(\d{1,2})\.(\d{1,3})$/;
export const MAX_REQUIRES_PYTHON_LENGTH = 200;

export function isPython(v: string): boolean {
  return PY.test(v);
}

export function comparePython(a: string, b: string): number {
  const [, am = '0', an = '0'] = PY.exec(a) ?? [];
  const [, bm = '0', bn = '0'] = PY.exec(b) ?? [];
  return Number(am) - Number(bm) || Number(an) - Number(bn);
}

export function sortPythons(vs: Iterable<string>): string[] {
  return [...new Set(vs)].sort(comparePython);
}

/** The minor after `v` (3.13 → 3.14): a stand-in for "every later Python". */
export function nextMinor(v: string): string {
  const [, m = '3', n = '0'] = PY.exec(v) ?? [];
  return `${m}.${Number(n) + 1}`;
}

/**
 * Validates a Requires-Python value. '' (or null) means none declared (every Python).
 * Returns the trimmed specifier, or null for none.
 */
export function normalizeRequiresPython(spec: string | null | undefined, field = 'requiresPython'): string | null {
  if (spec === null || spec === undefined) return null;
  const s = spec.trim();
  if (s === '') return null;
  if (s.length > MAX_REQUIRES_PYTHON_LENGTH) throw invalid(`${field} is longer than ${MAX_REQUIRES_PYTHON_LENGTH} characters`, { field });
  if (!pep440.validRange(s.replace(/\s+/g, ''))) throw invalid(`${field} "${s.slice(0, 80)}" is not a PEP 440 specifier like ">=3.10"`, { field });
  return s;
}

/** Whether Requires-Python admits Python X.Y (pip checks the interpreter's version; X.Y means X.Y.0 here). */
export function supportsPython(requiresPython: string | null, py: string): boolean {
  if (requiresPython === null) return true;
  return pep440.satisfies(py, requiresPython.replace(/\s+/g, ''), { prereleases: true });
}

/** `python_version` values named by the file's markers (`=='3.9'` → 3.9, `>='3.10'` → 3.10). */
export function pythonsNamedBy(file: ConstraintsFile): string[] {
  const out = new Set<string>();
  const seen = new Set<string>();
  for (const line of file.lines) {
    const m = line.pin?.marker;
    if (!m || seen.has(m)) continue;
    seen.add(m);
    collect(parseMarker(m), out);
  }
  return sortPythons(out);
}

function collect(m: Marker, out: Set<string>): void {
  const leaf = m as { left: unknown; right: unknown };
  if (typeof leaf.left === 'string' && typeof leaf.right === 'string') {
    const [v, lit] = leaf.left === 'python_version' ? [leaf.left, leaf.right] : [leaf.right, leaf.left];
    // Only X.Y literals (isPython): '3.99999' would sort as 0.0 and start communityPythons' range at 3.1.
    const py = /^['"].*['"]$/.test(lit as string) ? (lit as string).slice(1, -1) : '';
    if (v === 'python_version' && isPython(py)) out.add(py);
    return;
  }
  collect(leaf.left as Marker, out);
  collect(leaf.right as Marker, out);
}

/**
 * The community's Pythons for a branch: the setting when given, else every minor from the
 * lowest one the base's markers name (or DEFAULT_PYTHONS' lowest) up to the highest of
 * those and DEFAULT_PYTHONS.
 */
export function communityPythons(file: ConstraintsFile, configured: readonly string[] | null): string[] {
  if (configured && configured.length > 0) return sortPythons(configured);
  const named = pythonsNamedBy(file).filter((v) => v.startsWith('3.'));
  const all = sortPythons([...DEFAULT_PYTHONS, ...named]);
  const lo = all[0]!;
  const hi = all[all.length - 1]!;
  const out: string[] = [];
  for (let v = lo; comparePython(v, hi) <= 0; v = nextMinor(v)) out.push(v);
  return out;
}
