import * as pep440 from '@renovatebot/pep440';
import { parsePipRequirementsLine, type EnvironmentMarker } from 'pip-requirements-js';
import { invalid } from './errors';

/**
 * PEP 508 environment markers (`python_version>='3.10'`, `sys_platform!='win32' and ...`).
 * Parsing is pip-requirements-js's (an Ohm port of PEP 508's grammar); evaluation follows
 * `packaging.markers` (what pip runs), checked against it by test/integration/markers-pip.test.ts:
 *   - for the version-valued variables (python_version, python_full_version,
 *     implementation_version, platform_release) a comparison is the PEP 440 specifier
 *     `<op><value>` applied to the variable, prereleases allowed, when `<op><value>` is a
 *     valid specifier; otherwise, and for every other variable, strings compare: `==`, `!=`,
 *     `in`, `not in` as in Python, `<=`/`>=` as equality, `<`/`>` false, and `~=`/`===` undefined.
 * Strict: an unknown variable, an undefined comparison or a marker too long or too deep is an error.
 */
export type Marker = EnvironmentMarker;

export const MAX_MARKER_LENGTH = 1000;
const VERSION_VARIABLES = new Set(['python_version', 'python_full_version', 'implementation_version', 'platform_release']);
export const MARKER_VARIABLES = new Set([
  'python_version', 'python_full_version', 'os_name', 'sys_platform', 'platform_release', 'platform_system',
  'platform_version', 'platform_machine', 'platform_python_implementation', 'implementation_name',
  'implementation_version', 'extra',
]);

const cache = new Map<string, Marker>();
const CACHE_MAX = 2000;

/** Parses a marker (the text after `;`), cached: a constraints file repeats a handful of them. */
export function parseMarker(text: string): Marker {
  const key = text.trim();
  const hit = cache.get(key);
  if (hit) return hit;
  if (key === '') throw invalid('empty environment marker');
  if (key.length > MAX_MARKER_LENGTH) throw invalid(`environment marker longer than ${MAX_MARKER_LENGTH} characters`);
  let tree: Marker | undefined;
  try {
    tree = (parsePipRequirementsLine(`x;${key}`) as { environmentMarkerTree?: Marker } | null)?.environmentMarkerTree;
  } catch (e) {
    // The parser's own message names the column of `x;<marker>`; ours names the marker.
    const msg = (e as Error).message ?? '';
    const col = /col (\d+)/.exec(msg);
    const where = col ? ` at character ${Math.max(1, Number(col[1]) - 2)}` : '';
    throw invalid(`"${key.slice(0, 120)}" is not a PEP 508 environment marker${where}`);
  }
  if (!tree) throw invalid(`"${key.slice(0, 120)}" is not a PEP 508 environment marker`);
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(key, tree);
  return tree;
}

const isLeaf = (m: Marker): m is Extract<Marker, { left: unknown; right: unknown; operator: string }> & { left: string; right: string } =>
  typeof (m as { left: unknown }).left === 'string';

const isLiteral = (s: string) => s.startsWith("'") || s.startsWith('"');
const unquote = (s: string) => s.slice(1, -1);

/** The variables a marker reads. */
export function markerVariables(m: Marker, out = new Set<string>()): Set<string> {
  if (isLeaf(m)) {
    if (!isLiteral(m.left)) out.add(m.left);
    if (!isLiteral(m.right)) out.add(m.right);
    return out;
  }
  const n = m as { left: Marker; right: Marker };
  markerVariables(n.left, out);
  markerVariables(n.right, out);
  return out;
}

/** True, false, or undefined when the value depends on a variable `env` leaves out. */
export type Tri = boolean | undefined;

/**
 * Evaluates with three values: a comparison on a variable missing from `env` is unknown,
 * and `and`/`or` combine as Kleene logic. With every variable given, the result is a boolean.
 */
export function evaluatePartial(m: Marker, env: Readonly<Record<string, string>>): Tri {
  if (isLeaf(m)) return compareLeaf(m.left, m.operator, m.right, env);
  const n = m as { operator: 'and' | 'or'; left: Marker; right: Marker };
  // Both sides always, as packaging does: an undefined comparison anywhere is an error.
  const a = evaluatePartial(n.left, env);
  const b = evaluatePartial(n.right, env);
  if (n.operator === 'and' && (a === false || b === false)) return false;
  if (n.operator === 'or' && (a === true || b === true)) return true;
  return a === undefined || b === undefined ? undefined : n.operator === 'and';
}

/** Full evaluation: every variable the marker reads must be in `env`. */
export function evaluateMarker(m: Marker | string, env: Readonly<Record<string, string>>): boolean {
  const tree = typeof m === 'string' ? parseMarker(m) : m;
  const r = evaluatePartial(tree, env);
  if (r === undefined) {
    const missing = [...markerVariables(tree)].filter((v) => env[v] === undefined);
    throw invalid(`environment marker needs ${missing.join(', ')}`);
  }
  return r;
}

function compareLeaf(left: string, op: string, right: string, env: Readonly<Record<string, string>>): Tri {
  const value = (s: string): string | undefined => (isLiteral(s) ? unquote(s) : env[s]);
  const variable = isLiteral(left) ? right : left;
  if (isLiteral(left) && isLiteral(right)) throw invalid(`environment marker compares two literals (${left} ${op} ${right})`);
  if (!MARKER_VARIABLES.has(variable)) throw invalid(`unknown environment marker variable ${variable}`);
  const lhs = value(left);
  const rhs = value(right);
  if (lhs === undefined || rhs === undefined) return undefined;
  return evalOp(lhs, op, rhs, variable);
}

function evalOp(lhs: string, op: string, rhs: string, variable: string): boolean {
  if (VERSION_VARIABLES.has(variable) && op !== 'in' && op !== 'not in') {
    const spec = `${op}${rhs}`;
    if (validSpecifier(op, rhs)) return pep440Contains(lhs, spec);
  }
  switch (op) {
    case 'in':
      return rhs.includes(lhs);
    case 'not in':
      return !rhs.includes(lhs);
    case '==':
    case '<=':
    case '>=':
      return lhs === rhs;
    case '!=':
      return lhs !== rhs;
    case '<':
    case '>':
      return false;
    default:
      throw invalid(`undefined comparison ${op} on "${lhs}" and "${rhs}"`);
  }
}

/** A PEP 440 specifier `<op><version>`, as packaging's Specifier accepts it (wildcards only with == and !=). */
function validSpecifier(op: string, rhs: string): boolean {
  if (op === '===') return rhs.length > 0 && !/\s/.test(rhs);
  if (rhs.endsWith('.*')) return (op === '==' || op === '!=') && pep440.valid(rhs.slice(0, -2)) !== null && !/[a-z+]/i.test(rhs.slice(0, -2));
  if (pep440.valid(rhs) === null) return false;
  if (op === '~=') return rhs.split('.').length >= 2 && !rhs.includes('+');
  if (op !== '==' && op !== '!=' && rhs.includes('+')) return false;
  return true;
}

function pep440Contains(version: string, spec: string): boolean {
  if (spec.startsWith('===')) return version.toLowerCase() === spec.slice(3).toLowerCase();
  if (pep440.valid(version) === null) return false;
  return pep440.satisfies(version, spec, { prereleases: true });
}
