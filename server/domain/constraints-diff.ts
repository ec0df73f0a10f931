import type { ConstraintsFile } from './constraints';

/**
 * Per-library differences between two constraints files: the stable and candidate versions
 * and the marker lines on each side. Pure; used to read what a bump change (or a merged
 * bump commit) did, e.g. to revert exactly its lines, and to canary a proposed change.
 */
export interface PinLine {
  /** 0-based line index in its file. */
  index: number;
  text: string;
  version: string;
  marker: string | null;
}

export interface LibraryChange {
  key: string;
  /** The spelling of the newer file (of the older one when the library was removed). */
  name: string;
  before: PinLine[];
  after: PinLine[];
  /** Distinct versions on each side, in file order. */
  stable: string[];
  candidate: string[];
}

function pinLines(file: ConstraintsFile, key: string): PinLine[] {
  return (file.index.get(key) ?? []).map((index) => {
    const line = file.lines[index]!;
    return { index, text: line.text, version: line.pin!.version, marker: line.pin!.marker };
  });
}

const distinct = (xs: string[]) => [...new Set(xs)];

/** Libraries whose lines differ (text or count), in the newer file's order, removed ones last. */
export function diffConstraints(before: ConstraintsFile, after: ConstraintsFile): LibraryChange[] {
  const keys = [...after.index.keys(), ...[...before.index.keys()].filter((k) => !after.index.has(k))];
  const out: LibraryChange[] = [];
  for (const key of keys) {
    const a = pinLines(before, key);
    const b = pinLines(after, key);
    if (a.length === b.length && a.every((l, i) => l.text === b[i]!.text)) continue;
    const name = (after.lines[b[0]?.index ?? -1]?.pin ?? before.lines[a[0]?.index ?? -1]?.pin)!.name;
    out.push({ key, name, before: a, after: b, stable: distinct(a.map((l) => l.version)), candidate: distinct(b.map((l) => l.version)) });
  }
  return out;
}

/**
 * `file` with one library's lines replaced by `lines`: they take the place of its first
 * line, its other lines go; a library the file lacks is appended. Other bytes unchanged.
 */
export function replaceLibraryLines(file: ConstraintsFile, key: string, lines: readonly string[]): string {
  const idx = file.index.get(key) ?? [];
  const defaultEol = file.lines.find((l) => l.eol !== '')?.eol ?? '\n';
  let out = '';
  file.lines.forEach((line, i) => {
    if (i === idx[0]) {
      if (lines.length > 0) out += lines.join(line.eol === '' ? defaultEol : line.eol) + line.eol;
    } else if (!idx.includes(i)) out += line.text + line.eol;
  });
  if (idx.length === 0 && lines.length > 0) {
    if (out !== '' && !out.endsWith('\n')) out += defaultEol;
    out += lines.join(defaultEol) + defaultEol;
  }
  return out;
}
