import { describePins, type ConstraintLine, type ConstraintsFile, type Pin } from './constraints';
import { conflict, invalid } from './errors';
import { evaluatePartial, markerVariables, parseMarker } from './markers';
import { normalizeName } from './names';
import { nextMinor, supportsPython } from './pythons';
import { sameVersion } from './versions';

/**
 * Which lines of a branch's constraints a rollout may change, and to what. Pure.
 *
 * A line that pins the stable version gets the candidate for the community Pythons the
 * candidate supports (its Requires-Python); Pythons it does not support keep the stable,
 * so such a line is split the way the release team splits it by hand:
 *   cliff===4.9.1                    →  cliff===4.9.1;python_version=='3.9'
 *                                       cliff===4.10.0;python_version>='3.10'
 * Lines of the library pinned at another version stay byte-identical. When the base
 * already pins the candidate on a line (the bump merged before the rollout), that line is
 * the other way round: the control arm is served the stable there explicitly.
 */
export interface RolloutLines {
  key: string;
  stable: string;
  candidate: string;
  /** The community's Pythons, ascending (X.Y). */
  pythons: readonly string[];
  /** Requires-Python of the candidate and of the stable (null: none declared). */
  candidateRequiresPython: string | null;
  stableRequiresPython: string | null;
}

/** One line of the base and what replaces it (texts without line endings). */
export interface LineChange {
  index: number;
  before: string;
  after: string[];
}

export interface LinePlan {
  /** Applied for the candidate arm: stable lines → candidate (split where needed). */
  candidate: LineChange[];
  /** Applied for the control arm: lines where the base already pins the candidate → stable. */
  control: LineChange[];
  /** Community Pythons a stable line covers that keep the stable (the candidate does not support them). */
  kept: string[];
  /**
   * Community Pythons the rollout concerns: where the candidate arm gets the candidate, or
   * (the bump merged first) where the control gets the stable. Reports from the others
   * do not concern it.
   */
  served: string[];
  /** Base lines of the library at the stable, at the candidate, at neither (indexes). */
  stableLines: number[];
  candidateLines: number[];
  otherLines: number[];
}

/** The Pythons where the candidate is not served: unsupported by it, supported by the stable. */
export function keptPythons(s: Pick<RolloutLines, 'pythons' | 'candidateRequiresPython' | 'stableRequiresPython'>): string[] {
  return s.pythons.filter((py) => !supportsPython(s.candidateRequiresPython, py) && supportsPython(s.stableRequiresPython, py));
}

interface Coverage {
  /** Community Pythons the line's marker may be true on (all of them without a marker). */
  pythons: string[];
  /** The marker reads variables other than python_version. */
  otherVariables: boolean;
  /** True on Pythons newer than the community's (no marker, or e.g. >='3.10'). */
  openUpward: boolean;
}

export function coverage(pin: Pin, pythons: readonly string[]): Coverage {
  if (pin.marker === null) return { pythons: [...pythons], otherVariables: false, openUpward: true };
  const tree = parseMarker(pin.marker);
  const vars = markerVariables(tree);
  const otherVariables = [...vars].some((v) => v !== 'python_version');
  const at = (py: string) => evaluatePartial(tree, { python_version: py }) !== false;
  const top = pythons.length ? nextMinor(pythons[pythons.length - 1]!) : '3.99';
  return { pythons: pythons.filter(at), otherVariables, openUpward: at(top) && at(nextMinor(top)) };
}

export function planLines(file: ConstraintsFile, s: RolloutLines): LinePlan {
  const key = normalizeName(s.key);
  const unsupported = new Set(keptPythons(s));
  const kept = new Set<string>();
  const served = new Set<string>();
  const style = markerStyle(file);
  const plan: LinePlan = { candidate: [], control: [], kept: [], served: [], stableLines: [], candidateLines: [], otherLines: [] };
  for (const index of file.index.get(key) ?? []) {
    const line = file.lines[index]!;
    const pin = line.pin!;
    if (sameVersion(pin.version, s.stable)) {
      plan.stableLines.push(index);
      const cov = coverage(pin, s.pythons);
      const fresh = cov.pythons.filter((p) => !unsupported.has(p));
      for (const p of cov.pythons) (unsupported.has(p) ? kept : served).add(p);
      if (fresh.length === 0) continue;
      const after = fresh.length === cov.pythons.length
        ? [withVersion(line, s.candidate)]
        : splitLine(line, cov, (py) => (unsupported.has(py) ? s.stable : s.candidate), style);
      plan.candidate.push({ index, before: line.text, after });
    } else if (sameVersion(pin.version, s.candidate)) {
      plan.candidateLines.push(index);
      for (const p of coverage(pin, s.pythons).pythons) served.add(p);
      plan.control.push({ index, before: line.text, after: [withVersion(line, s.stable)] });
    } else {
      plan.otherLines.push(index);
    }
  }
  plan.kept = s.pythons.filter((p) => kept.has(p) && !served.has(p));
  plan.served = s.pythons.filter((p) => served.has(p));
  return plan;
}

/**
 * The plan a new rollout runs on, or a refusal naming what the base pins: the stable must
 * be what the base pins on the lines concerned (or the base must already pin the candidate).
 */
export function planForNewRollout(file: ConstraintsFile, s: RolloutLines & { library: string; branch: string }): LinePlan {
  const plan = planLines(file, s);
  if (plan.candidate.length > 0 || plan.control.length > 0) return plan;
  const pins = describePins(file, s.key);
  if (!file.index.has(normalizeName(s.key))) {
    throw invalid(`${s.library} is not pinned in the ${s.branch} constraints; a rollout needs the base to pin it`, { field: 'library' });
  }
  if (plan.stableLines.length > 0) {
    throw invalid(
      `${s.library} ${s.candidate} supports none of the Pythons (${plan.kept.join(', ') || 'none of the community'}) where ${s.branch} pins ${s.stable} (${pins}): Requires-Python ${s.candidateRequiresPython ?? 'none'}; nothing to roll out`,
      { field: 'candidate' },
    );
  }
  throw conflict(`stable ${s.stable} is not what ${s.branch} pins for ${s.library}: the base has ${pins}; give the pinned version as stable`, { field: 'stable' });
}

/** Replaces the version of one line, every other byte kept. */
export function withVersion(line: ConstraintLine, version: string): string {
  const p = line.pin!;
  return line.text.slice(0, p.versionStart) + version + line.text.slice(p.versionEnd);
}

export interface MarkerStyle {
  quote: string;
  /** Spaces around the comparison operator. */
  spaced: boolean;
  /** Between the version and the marker: `;` or ` ; ` as the file writes it. */
  sep: string;
}

/** How the file writes python_version markers (the release team's `;python_version=='3.9'` by default). */
export function markerStyle(file: ConstraintsFile): MarkerStyle {
  for (const line of file.lines) {
    const p = line.pin;
    if (!p?.marker) continue;
    const m = /python_version(\s*)(?:===|==|!=|<=|>=|<|>|~=)\s*(['"])/.exec(p.marker);
    if (m) return { quote: m[2]!, spaced: m[1] !== '', sep: p.markerSep };
  }
  return { quote: "'", spaced: false, sep: ';' };
}

function cmp(style: MarkerStyle, op: string, py: string): string {
  const sp = style.spaced ? ' ' : '';
  return `python_version${sp}${op}${sp}${style.quote}${py}${style.quote}`;
}

/**
 * Splits a line over its Pythons into runs that share a version, in ascending order; each
 * run gets a python_version marker in the file's style: the newest run of a line open
 * upward `>='first'`, a single Python `=='v'`, a longer run `>='first' and <'next'`.
 */
function splitLine(line: ConstraintLine, cov: Coverage, versionFor: (py: string) => string, style: MarkerStyle): string[] {
  const pin = line.pin!;
  const runs: { version: string; pythons: string[] }[] = [];
  for (const py of cov.pythons) {
    const v = versionFor(py);
    const last = runs[runs.length - 1];
    if (last && last.version === v) last.pythons.push(py);
    else runs.push({ version: v, pythons: [py] });
  }
  const prefix = line.text.slice(0, pin.versionStart);
  const sep = pin.marker === null ? style.sep : pin.markerSep;
  const keep = cov.otherVariables ? wrapped(pin.marker!) : null;
  return runs.map((run, i) => {
    const first = run.pythons[0]!;
    const lastPy = run.pythons[run.pythons.length - 1]!;
    let m: string;
    if (i === runs.length - 1 && cov.openUpward) m = cmp(style, '>=', first);
    else if (run.pythons.length === 1) m = cmp(style, '==', first);
    else m = `${cmp(style, '>=', first)} and ${cmp(style, '<', nextMinor(lastPy))}`;
    return `${prefix}${run.version}${sep}${keep ? `${keep} and ${m}` : m}${pin.comment}`;
  });
}

function wrapped(marker: string): string {
  const tree = parseMarker(marker) as { operator?: string; left?: unknown };
  return typeof tree.left !== 'string' && tree.operator === 'or' ? `(${marker})` : marker;
}

/** The file's text with `changes` applied (each by base line index); every other byte unchanged. */
export function applyLineChanges(file: ConstraintsFile, changes: readonly LineChange[]): string {
  if (changes.length === 0) return file.lines.map((l) => l.text + l.eol).join('');
  const at = new Map<number, LineChange>();
  for (const c of changes) at.set(c.index, c);
  const eol = defaultEol(file);
  let out = '';
  for (let i = 0; i < file.lines.length; i++) {
    const line = file.lines[i]!;
    const c = at.get(i);
    out += c ? changedLine(line, c, eol) : line.text + line.eol;
  }
  return out;
}

/** The line ending a change uses between its lines where the line it replaces has none (the last). */
export function defaultEol(file: ConstraintsFile): string {
  return file.lines.find((l) => l.eol !== '')?.eol ?? '\n';
}

/** What `change` puts in place of `line` (its line ending included), as applyLineChanges writes it. */
export function changedLine(line: ConstraintLine, change: LineChange, eolDefault: string): string {
  return change.after.join(line.eol === '' ? eolDefault : line.eol) + line.eol;
}

/**
 * Undoes `changes` in a file that carries them: each change's `after` lines (consecutive,
 * found by content) become its `before` line again. Changes whose lines are not there (the
 * file moved on) are reported, and the rest restored.
 */
export function revertLineChanges(text: string, changes: readonly LineChange[]): { text: string; restored: LineChange[]; missing: LineChange[] } {
  const lines = splitKeepingEol(text);
  const restored: LineChange[] = [];
  const missing: LineChange[] = [];
  for (const c of changes) {
    const at = findRun(lines, c.after);
    if (at < 0) {
      missing.push(c);
      continue;
    }
    const eol = lines[at + c.after.length - 1]!.eol;
    lines.splice(at, c.after.length, { text: c.before, eol });
    restored.push(c);
  }
  return { text: lines.map((l) => l.text + l.eol).join(''), restored, missing };
}

function splitKeepingEol(text: string): { text: string; eol: string }[] {
  const out: { text: string; eol: string }[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) {
      out.push({ text: text.slice(start), eol: '' });
      break;
    }
    const cr = nl > start && text.charCodeAt(nl - 1) === 13;
    out.push({ text: text.slice(start, cr ? nl - 1 : nl), eol: cr ? '\r\n' : '\n' });
    start = nl + 1;
  }
  return out;
}

function findRun(lines: { text: string }[], run: readonly string[]): number {
  outer: for (let i = 0; i + run.length <= lines.length; i++) {
    for (let j = 0; j < run.length; j++) if (lines[i + j]!.text !== run[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * The stable a rollout defaults to: the version of the lines that cover the newest
 * community Python (in 2025.2, cliff's `>='3.10'` line rather than its py3.9 one).
 */
export function defaultStable(file: ConstraintsFile, key: string, pythons: readonly string[]): string | null {
  const idx = file.index.get(normalizeName(key)) ?? [];
  if (idx.length === 0) return null;
  const pins = idx.map((i) => file.lines[i]!.pin!);
  const versions = new Set(pins.map((p) => p.version));
  if (versions.size === 1) return pins[0]!.version;
  for (const py of [...pythons].reverse()) {
    const at = pins.filter((p) => coverage(p, pythons).pythons.includes(py)).map((p) => p.version);
    if (new Set(at).size === 1) return at[0]!;
  }
  return null;
}
