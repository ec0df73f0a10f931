import { splitLines } from './requirements-edit';

/**
 * `git diff`-style unified diffs of whole-file edits, for showing a proposal that was not
 * sent and for Gerrit's apply-patch endpoints (which take `git diff` output). Proposals
 * rewrite lines in place, so equal line counts diff line by line (several hunks);
 * otherwise one hunk covers everything between the common prefix and suffix.
 */
export interface FileEdit {
  path: string;
  before: string;
  after: string;
}

const CONTEXT = 3;

interface Region {
  /** 0-based [start, end) in the old and new line arrays. */
  oldStart: number;
  oldEnd: number;
  newStart: number;
  newEnd: number;
}

type Line = { text: string; eol: string };

const same = (a: Line | undefined, b: Line | undefined) => !!a && !!b && a.text === b.text && a.eol === b.eol;

function changedRegions(a: Line[], b: Line[]): Region[] {
  if (a.length === b.length) {
    const regions: Region[] = [];
    for (let i = 0; i < a.length; i++) {
      if (same(a[i], b[i])) continue;
      let j = i;
      while (j < a.length && !same(a[j], b[j])) j++;
      regions.push({ oldStart: i, oldEnd: j, newStart: i, newEnd: j });
      i = j;
    }
    return regions;
  }
  let p = 0;
  while (p < a.length && p < b.length && same(a[p], b[p])) p++;
  let s = 0;
  while (s < a.length - p && s < b.length - p && same(a[a.length - 1 - s], b[b.length - 1 - s])) s++;
  return [{ oldStart: p, oldEnd: a.length - s, newStart: p, newEnd: b.length - s }];
}

function renderLine(prefix: string, line: Line): string {
  // A last line without a newline is marked the way git marks it.
  return line.eol === '' ? `${prefix}${line.text}\n\\ No newline at end of file\n` : `${prefix}${line.text}${line.eol}`;
}

// git omits a count of 1; a count of 0 names the line before the (empty) range.
const range = (start: number, count: number) => (count === 1 ? `${start}` : `${start},${count}`);

/** The diff of one file, '' when the texts are equal. */
export function unifiedDiff(edit: FileEdit): string {
  if (edit.before === edit.after) return '';
  const a = splitLines(edit.before);
  const b = splitLines(edit.after);
  const regions = changedRegions(a, b);
  // Merge regions whose context would overlap into hunks.
  const hunks: Region[][] = [];
  for (const r of regions) {
    const last = hunks[hunks.length - 1];
    const prev = last?.[last.length - 1];
    if (last && prev && r.oldStart - prev.oldEnd <= 2 * CONTEXT) last.push(r);
    else hunks.push([r]);
  }
  let out = `diff --git a/${edit.path} b/${edit.path}\n--- a/${edit.path}\n+++ b/${edit.path}\n`;
  for (const hunk of hunks) {
    const first = hunk[0]!;
    const last = hunk[hunk.length - 1]!;
    const oldFrom = Math.max(0, first.oldStart - CONTEXT);
    const oldTo = Math.min(a.length, last.oldEnd + CONTEXT);
    const newFrom = first.newStart - (first.oldStart - oldFrom);
    const newTo = last.newEnd + (oldTo - last.oldEnd);
    const oldCount = oldTo - oldFrom;
    const newCount = newTo - newFrom;
    out += `@@ -${range(oldCount === 0 ? oldFrom : oldFrom + 1, oldCount)} +${range(newCount === 0 ? newFrom : newFrom + 1, newCount)} @@\n`;
    let i = oldFrom;
    for (const r of hunk) {
      for (; i < r.oldStart; i++) out += renderLine(' ', a[i]!);
      for (let k = r.oldStart; k < r.oldEnd; k++) out += renderLine('-', a[k]!);
      for (let k = r.newStart; k < r.newEnd; k++) out += renderLine('+', b[k]!);
      i = r.oldEnd;
    }
    for (; i < oldTo; i++) out += renderLine(' ', a[i]!);
  }
  return out;
}

/**
 * Diffs of several files in path order, as git and Gerrit order them (Gerrit compares the
 * patch it was given with the one it produced and flags any difference in the commit
 * message). Files without changes are skipped.
 */
export function unifiedDiffs(edits: FileEdit[]): string {
  return [...edits].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map(unifiedDiff).join('');
}
