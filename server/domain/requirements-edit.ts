import * as pep440 from '@renovatebot/pep440';
import { normalizeName } from './names';

/**
 * A careful editor for requirements files in the global-requirements.txt style
 * (`name[extras]spec[;marker]  # comment`), used to exclude one bad version with `!=V`.
 * It touches only the specifier of the named library's lines; every other byte of the
 * file, line endings included, is kept. Lines it does not understand (`-r`, `-e`, URLs)
 * are left alone and reported.
 */

// lead, name, extras, gap, specifier, rest (marker and/or comment, with their whitespace)
const REQ_LINE =
  /^(\s*)([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(\s*\[[^\]]*\])?(\s*)((?:(?:===|==|!=|<=|>=|~=|<|>)\s*[^\s,;#]+)(?:\s*,\s*(?:===|==|!=|<=|>=|~=|<|>)\s*[^\s,;#]+)*)?(\s*(?:;[^#]*)?(?:\s*#.*)?)$/;

export interface RequirementLine {
  /** 0-based line index in the file. */
  index: number;
  name: string;
  /** The specifier as written (may be ''). */
  specifier: string;
}

export interface ExcludeResult {
  /** The new file text (identical to the input when nothing changed). */
  text: string;
  /** Lines that named the library, before the edit. */
  found: RequirementLine[];
  /** 0-based indexes of the lines that gained `!=version`. */
  changed: number[];
  /** Lines naming the library that could not be parsed, left as they were. */
  unparsed: number[];
}

interface SplitLine {
  text: string;
  eol: string;
}

export function splitLines(text: string): SplitLine[] {
  const out: SplitLine[] = [];
  const re = /\r?\n/g;
  let start = 0;
  for (;;) {
    const m = re.exec(text);
    if (!m) {
      if (start < text.length) out.push({ text: text.slice(start), eol: '' });
      return out;
    }
    out.push({ text: text.slice(start, m.index), eol: m[0] });
    start = re.lastIndex;
  }
}

/** The name a requirement line is about, or null for comments, blanks and options. */
function lineName(line: string): string | null {
  const t = line.trim();
  if (t === '' || t.startsWith('#') || t.startsWith('-')) return null;
  const m = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)/.exec(t);
  return m ? m[1]! : null;
}

/** True when the specifier already refuses `version` (so `!=version` would add nothing). */
export function specifierExcludes(specifier: string, version: string): boolean {
  const spec = specifier.replace(/\s+/g, '');
  if (spec === '' || !pep440.validRange(spec)) return false;
  return !pep440.satisfies(version, spec);
}

/** Adds `!=version` to every line of `library` whose specifier still admits `version`. */
export function excludeVersion(text: string, library: string, version: string): ExcludeResult {
  const key = normalizeName(library);
  const lines = splitLines(text);
  const found: RequirementLine[] = [];
  const changed: number[] = [];
  const unparsed: number[] = [];
  let out = '';
  lines.forEach((line, index) => {
    const name = lineName(line.text);
    if (name === null || normalizeName(name) !== key) {
      out += line.text + line.eol;
      return;
    }
    const m = REQ_LINE.exec(line.text);
    if (!m) {
      unparsed.push(index);
      out += line.text + line.eol;
      return;
    }
    const [, lead = '', nm = '', extras = '', gap = '', spec = '', rest = ''] = m;
    found.push({ index, name: nm, specifier: spec });
    if (specifierExcludes(spec, version)) {
      out += line.text + line.eol;
      return;
    }
    const newSpec = spec === '' ? `!=${version}` : `${spec},!=${version}`;
    // A bare name keeps the whitespace that separated it from the marker or comment.
    out += lead + nm + extras + (spec === '' ? '' : gap) + newSpec + (spec === '' ? gap : '') + rest + line.eol;
    changed.push(index);
  });
  return { text: out, found, changed, unparsed };
}
