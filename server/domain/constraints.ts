import { invalid } from './errors';
import { normalizeName } from './names';
import { isPep440 } from './versions';

/**
 * OpenStack-style constraints files (`Name===version[;marker]`, comments, blank lines, the
 * same name on several lines with different markers). Parsing keeps every byte so that
 * rendering without overrides returns the input unchanged; an override replaces only the
 * version characters of the lines of one library.
 */
export interface Pin {
  /** The name as the file spells it. */
  name: string;
  /** PEP 503 normalised name. */
  key: string;
  version: string;
  marker: string | null;
  /** Offsets of the version inside the line text, for in-place replacement. */
  versionStart: number;
  versionEnd: number;
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

// name [extras] ===|== version [; marker] [# comment]
const PIN_LINE =
  /^(\s*)([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)(\s*(?:\[[^\]]*\])?\s*)(===|==)(\s*)([^\s;#]+)(\s*(?:;([^#]*))?)?(\s*#.*)?$/;

export const MAX_CONSTRAINTS_BYTES = 4 * 1024 * 1024;
export const MAX_CONSTRAINTS_LINES = 50_000;

export function parseConstraints(text: string): ConstraintsFile {
  if (text.length > MAX_CONSTRAINTS_BYTES) {
    throw invalid(`constraints file is larger than ${MAX_CONSTRAINTS_BYTES} bytes`);
  }
  const lines: ConstraintLine[] = [];
  const index = new Map<string, number[]>();
  const re = /\r?\n/g;
  let start = 0;
  for (;;) {
    const m = re.exec(text);
    const end = m ? m.index : text.length;
    if (!m && start === text.length) break;
    const lineText = text.slice(start, end);
    const eol = m ? m[0] : '';
    const pin = parsePinLine(lineText, lines.length + 1);
    if (pin) {
      const list = index.get(pin.key) ?? [];
      list.push(lines.length);
      index.set(pin.key, list);
    }
    lines.push({ text: lineText, eol, pin });
    if (lines.length > MAX_CONSTRAINTS_LINES) {
      throw invalid(`constraints file has more than ${MAX_CONSTRAINTS_LINES} lines`);
    }
    if (!m) break;
    start = re.lastIndex;
  }
  return { lines, index };
}

function parsePinLine(line: string, lineNo: number): Pin | null {
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('-')) return null;
  const m = PIN_LINE.exec(line);
  if (!m) throw invalid(`constraints line ${lineNo} is not "name===version[;marker]": ${JSON.stringify(line.slice(0, 120))}`, { line: lineNo });
  const [, lead = '', name = '', mid = '', op = '', sp = '', version = '', , marker] = m;
  if (!isPep440(version)) {
    throw invalid(`constraints line ${lineNo}: "${version}" is not a PEP 440 version`, { line: lineNo });
  }
  const versionStart = lead.length + name.length + mid.length + op.length + sp.length;
  return {
    name,
    key: normalizeName(name),
    version,
    marker: marker?.trim() || null,
    versionStart,
    versionEnd: versionStart + version.length,
  };
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

/**
 * Renders the file with `overrides` (normalised name -> version) applied to every line of
 * each overridden library; every other byte is unchanged. A library that the file does not
 * pin is appended as `name===version` so that the override still takes effect.
 */
export function renderConstraints(
  file: ConstraintsFile,
  overrides: ReadonlyMap<string, { name: string; version: string }> = new Map(),
): string {
  let out = '';
  for (const line of file.lines) {
    const o = line.pin ? overrides.get(line.pin.key) : undefined;
    if (o && line.pin) {
      out += line.text.slice(0, line.pin.versionStart) + o.version + line.text.slice(line.pin.versionEnd) + line.eol;
    } else {
      out += line.text + line.eol;
    }
  }
  for (const [key, o] of overrides) {
    if (!file.index.has(key)) {
      if (out.length > 0 && !out.endsWith('\n')) out += '\n';
      out += `${o.name}===${o.version}\n`;
    }
  }
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
