import { normalizeName } from '../names';

/**
 * Segment names and their encoding in the evidence fields (one place: the ingestion plan,
 * the in-memory ledger and the store's reader all use these). Fields are tab-separated:
 * project labels, Python versions and machine ids cannot contain a tab (reports are
 * validated at the edge), test ids cannot either, and a test id is always the last part.
 */
export const SEP = '\t';

/** Family codes in the encoded fields. */
export const CODE = { project: 'p', python: 'y', signature: 's' } as const;
export type Family = keyof typeof CODE;

/** A report's project as a segment name: PEP 503 normalised, so `oslo.config` and `oslo_config` are one segment. */
export function projectSegment(project: string): string | null {
  const name = normalizeName(project.trim());
  return name === '' ? null : name;
}

/** "3.11.7" → "3.11"; null when the version does not start with major.minor. */
export function pythonMinor(python: string): string | null {
  const m = /^(\d{1,4})\.(\d{1,4})(?!\d)/.exec(python.trim());
  return m ? `${Number(m[1])}.${Number(m[2])}` : null;
}

/** Display label of a segment: `nova`, `Python 3.11`, `nova: tests.test_x`. */
export function segmentLabel(family: Family, name: string, test?: string): string {
  if (family === 'python') return `Python ${name}`;
  if (family === 'signature') return `${name}: ${test ?? ''}`;
  return name;
}

/** Aggregate field names: `<stat>\t<code>\t<name>` (signatures: `t<stage>\ts\t<project>\t<test>`). */
export const STAT = {
  runs: 'N',
  failed: 'F',
  errored: 'E',
  firstRuns: (stage: number) => `r${stage}`,
  firstFailed: (stage: number) => `f${stage}`,
  firstErrored: (stage: number) => `e${stage}`,
  firstFailure: (stage: number) => `t${stage}`,
  /** Distinct report sources with a machine whose first run in the segment failed / errored (docs/trust.md). */
  sourcesFailed: 'SF',
  sourcesErrored: 'SE',
  /** A signature's distinct report sources with a machine's first failure of it. */
  signatureSources: 'u',
} as const;

export function field(stat: string, family: Family, ...name: string[]): string {
  return [stat, CODE[family], ...name].join(SEP);
}

export interface ParsedField {
  stat: string;
  family: Family;
  /** Project or Python name (a signature's project). */
  name: string;
  /** A signature's test id. */
  test?: string;
}

const FAMILY_OF: Record<string, Family> = { p: 'project', y: 'python', s: 'signature' };

/** Inverse of `field`; null for anything else (fields written by another version, garbage). */
export function parseField(f: string): ParsedField | null {
  const a = f.indexOf(SEP);
  const b = a < 0 ? -1 : f.indexOf(SEP, a + 1);
  if (b < 0) return null;
  const family = FAMILY_OF[f.slice(a + 1, b)];
  if (!family) return null;
  const stat = f.slice(0, a);
  const rest = f.slice(b + 1);
  if (family !== 'signature') return rest === '' ? null : { stat, family, name: rest };
  const c = rest.indexOf(SEP);
  if (c <= 0 || c === rest.length - 1) return null;
  return { stat, family, name: rest.slice(0, c), test: rest.slice(c + 1) };
}

/** The stage index of a per-stage stat (`r2` → 2), or null. */
export function stageOf(stat: string, prefix: string): number | null {
  if (stat.length < 2 || stat[0] !== prefix) return null;
  const n = Number(stat.slice(1));
  return Number.isInteger(n) && n >= 0 && n < 100 ? n : null;
}
