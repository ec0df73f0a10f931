import { parse } from 'yaml';
import type { FreezeWindow } from './gates';

/**
 * Freeze windows from an OpenStack series schedule (openstack/releases
 * doc/source/<series>/schedule.yaml): a `cycle` of weeks, each `{start, end, name,
 * x-project: [...]}` with dates `YYYY-MM-DD`. The cycle's requirements freeze is the week
 * whose x-project names `<x>-rf` ("After the milestone-3, only critical requirements and
 * constraints changes will be allowed"); it lasts through the release week (`<x>-final`).
 * That span becomes a freeze window of master. Pure: the caller reads the file.
 */
const DAY = 86_400_000;

interface Week { start: string; end: string; name?: string; 'x-project'?: unknown }

export class ScheduleError extends Error {}

export function scheduleFreezeWindows(text: string, label: string): FreezeWindow[] {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 50 });
  } catch (e) {
    throw new ScheduleError(`${label} is not YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const cycle = (doc as { cycle?: unknown } | null)?.cycle;
  if (!Array.isArray(cycle)) throw new ScheduleError(`${label} has no "cycle" list of weeks (an openstack/releases schedule.yaml)`);
  const date = (v: unknown, what: string): number => {
    const t = typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) ? Date.parse(`${v}T00:00:00Z`) : NaN;
    if (!Number.isFinite(t)) throw new ScheduleError(`${label}: ${what} is not a date like 2026-08-24`);
    return t;
  };
  const weeks = cycle as Week[];
  const tagged = (suffix: string, from = 0) => {
    const i = weeks.findIndex((w, j) => j >= from && Array.isArray(w?.['x-project']) && (w['x-project'] as unknown[]).some((x) => typeof x === 'string' && x.endsWith(suffix)));
    return i < 0 ? null : { week: weeks[i]!, index: i };
  };
  const found = tagged('-rf');
  if (!found) return [];
  const rf = found.week;
  // The release week after the freeze (the first week may name the previous series' final).
  const final = tagged('-final', found.index)?.week ?? weeks[weeks.length - 1];
  const start = date(rf.start, 'the requirements-freeze week\'s start');
  const end = date(final?.end, 'the release week\'s end') + DAY;
  if (end <= start) throw new ScheduleError(`${label}: the release week ends before the requirements freeze starts`);
  const tag = ((rf['x-project'] as string[]).find((x) => x.endsWith('-rf')) ?? 'rf').slice(0, 40);
  return [{
    start, end, branches: ['master'],
    reason: `requirements freeze (${tag}, ${label}, weeks ${rf.name ?? rf.start} to ${final?.name ?? final?.end}): only critical requirements and constraints changes`,
  }];
}
