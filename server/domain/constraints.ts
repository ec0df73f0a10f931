import { invalid } from './errors';
import { parseMarker } from './markers';
import { normalizeName } from './names';
import { isPep440 } from './versions';

/**
 * OpenStack-style constraints files (`Name===version[;marker]`, comments, blank lines, the
 * same name on several lines with different markers). Parsing keeps every byte so that
 * rendering without changes returns the input unchanged; the rollout line plan
 * (rollout-lines.ts) rewrites only the lines it concerns.
 *
 * The parser is a single left-to-right scan of each line (no backtracking regular
 * expression), with a line-length limit checked before anything else, so hostile input
 * costs time linear in its size and an overlong line is refused at once.
 */
export interface Pin {
  /** The name as the file spells it. */
  name: string;
  /** PEP 503 normalised name. */
  key: string;
  /** `===` or `==`, as the line has it. */
  op: '===' | '==';
  version: string;
  /** The marker text after `;`, trimmed, or null. */
  marker: string | null;
  /** Offsets of the version inside the line text, for in-place replacement. */
  versionStart: number;
  versionEnd: number;
  /** What separates the version from the marker (`;`, ` ; `), '' without a marker. */
  markerSep: string;
  /** A trailing comment with the whitespace before it (`  # why`), or ''. */
  comment: string;
}

export interface ConstraintLine {
  text: string;
  /** The line ending that followed this line: '\n', '\r\n' or '' (last line without one). */
  eol: string;
  pin: Pin | null;
}

export interface ConstraintsFile {
  lines: ConstraintLine[];
  /** normalised name -> indexes into `lines`, in file order. */
  index: Map<string, number[]>;
}

export const MAX_CONSTRAINTS_BYTES = 4 * 1024 * 1024;
export const MAX_CONSTRAINTS_LINES = 50_000;
/** Real lines are under 100 characters; a marker-heavy one stays far below this. */
export const MAX_LINE_LENGTH = 2048;

export function parseConstraints(text: string): ConstraintsFile {
  if (text.length > MAX_CONSTRAINTS_BYTES) {
    throw invalid(`constraints file is larger than ${MAX_CONSTRAINTS_BYTES} bytes`);
  }
  const lines: ConstraintLine[] = [];
  const index = new Map<string, number[]>();
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl;
    const cr = end > start && text.charCodeAt(end - 1) === 13 && nl >= 0;
    const lineText = text.slice(start, cr ? end - 1 : end);
    const eol = nl < 0 ? '' : cr ? '\r\n' : '\n';
    const lineNo = lines.length + 1;
    if (lineNo > MAX_CONSTRAINTS_LINES) throw invalid(`constraints file has more than ${MAX_CONSTRAINTS_LINES} lines`);
    if (lineText.length > MAX_LINE_LENGTH) {
      throw invalid(`constraints line ${lineNo} is ${lineText.length} characters long; the limit is ${MAX_LINE_LENGTH}`, { line: lineNo });
    }
    const pin = parsePinLine(lineText, lineNo);
    if (pin) {
      const list = index.get(pin.key);
      if (list) list.push(lines.length);
      else index.set(pin.key, [lines.length]);
    }
    lines.push({ text: lineText, eol, pin });
    if (nl < 0) break;
    start = nl + 1;
  }
  return { lines, index };
}

const isSpace = (c: number) => c === 32 || c === 9 || c === 12 || c === 11;
const isAlnum = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isNameChar = (c: number) => isAlnum(c) || c === 46 || c === 95 || c === 45; // . _ -

/** One pin line: `name [extras] ===|== version [; marker] [# comment]`, or null for blanks, comments and options. */
export function parsePinLine(line: string, lineNo: number): Pin | null {
  const n = line.length;
  let i = 0;
  while (i < n && isSpace(line.charCodeAt(i))) i++;
  if (i === n || line[i] === '#' || line[i] === '-') return null;
  const bad = (why: string): never => {
    throw invalid(`constraints line ${lineNo} is not "name===version[;marker]" (${why}): ${JSON.stringify(line.slice(0, 120))}`, { line: lineNo });
  };
  const nameStart = i;
  while (i < n && isNameChar(line.charCodeAt(i))) i++;
  const name = line.slice(nameStart, i);
  if (name === '' || !isAlnum(name.charCodeAt(0)) || !isAlnum(name.charCodeAt(name.length - 1))) bad('no valid name');
  while (i < n && isSpace(line.charCodeAt(i))) i++;
  if (line[i] === '[') {
    const close = line.indexOf(']', i);
    if (close < 0) bad('unclosed extras');
    i = close + 1;
    while (i < n && isSpace(line.charCodeAt(i))) i++;
  }
  let op: Pin['op'];
  if (line.startsWith('===', i)) op = '===';
  else if (line.startsWith('==', i)) op = '==';
  else return bad('no === or == after the name');
  i += op.length;
  while (i < n && isSpace(line.charCodeAt(i))) i++;
  const versionStart = i;
  while (i < n && !isSpace(line.charCodeAt(i)) && line[i] !== ';' && line[i] !== '#') i++;
  const version = line.slice(versionStart, i);
  if (version === '') bad('no version');
  if (!isPep440(version)) {
    throw invalid(`constraints line ${lineNo}: "${version.slice(0, 80)}" is not a PEP 440 version`, { line: lineNo });
  }
  const versionEnd = i;
  // The rest: [ws] [; marker] [ws # comment]
  const hash = line.indexOf('#', i);
  const restEnd = hash < 0 ? n : hash;
  let j = i;
  while (j < restEnd && isSpace(line.charCodeAt(j))) j++;
  let marker: string | null = null;
  let markerSep = '';
  let markerEnd = j;
  if (j < restEnd) {
    if (line[j] !== ';') bad('unexpected text after the version');
    let k = j + 1;
    while (k < restEnd && isSpace(line.charCodeAt(k))) k++;
    markerSep = line.slice(versionEnd, k);
    let e = restEnd;
    while (e > k && isSpace(line.charCodeAt(e - 1))) e--;
    marker = line.slice(k, e);
    if (marker === '') bad('empty marker');
    try {
      parseMarker(marker);
    } catch (err) {
      throw invalid(`constraints line ${lineNo}: ${(err as Error).message}`, { line: lineNo });
    }
    markerEnd = e;
  }
  const comment = hash < 0 ? '' : line.slice(marker === null ? versionEnd : markerEnd);
  return { name, key: normalizeName(name), op, version, marker, versionStart, versionEnd, markerSep, comment };
}

/** All pins of one library (normalised or not), in file order. */
export function pinsOf(file: ConstraintsFile, name: string): Pin[] {
  const idx = file.index.get(normalizeName(name)) ?? [];
  return idx.map((i) => file.lines[i]!.pin!);
}

/**
 * The single version a library is pinned at, or null when it is absent. Throws when
 * marker-specific lines disagree, since then "the stable version" is ambiguous.
 */
export function pinnedVersion(file: ConstraintsFile, name: string): string | null {
  const pins = pinsOf(file, name);
  if (pins.length === 0) return null;
  const versions = new Set(pins.map((p) => p.version));
  if (versions.size > 1) {
    throw invalid(`${name} is pinned at several versions (${[...versions].join(', ')}); give the stable version explicitly`);
  }
  return pins[0]!.version;
}

/** The file's text, byte for byte. */
export function renderConstraints(file: ConstraintsFile): string {
  let out = '';
  for (const line of file.lines) out += line.text + line.eol;
  return out;
}

/** `pinnedVersion`, with null where the library is absent or its lines disagree. */
export function pinnedVersionOrNull(file: ConstraintsFile, name: string): string | null {
  try {
    return pinnedVersion(file, name);
  } catch {
    return null;
  }
}

/** "cliff===4.9.1;python_version=='3.9' and cliff===4.11.0;python_version>='3.10'": how the file pins a library. */
export function describePins(file: ConstraintsFile, name: string): string {
  const lines = (file.index.get(normalizeName(name)) ?? []).map((i) => file.lines[i]!.text.trim());
  if (lines.length === 0) return `no line for ${name}`;
  return lines.length === 1 ? lines[0]! : `${lines.slice(0, -1).join(', ')} and ${lines[lines.length - 1]}`;
}
