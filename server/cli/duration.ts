/**
 * Durations for flags such as `--soak 24h`: a number with an optional unit (s, m, h, d, w),
 * or several in a row (`1h30m`). A bare number is seconds. Returns whole seconds.
 */
const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

export function parseDuration(text: string): number {
  const t = text.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t));
  if (!/^(\d+(\.\d+)?[smhdw])+$/.test(t)) {
    throw new Error(`"${text}" is not a duration (examples: 30s, 90m, 24h, 2d, 1h30m)`);
  }
  let total = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)([smhdw])/g)) total += Number(m[1]) * UNIT[m[2]!]!;
  return Math.round(total);
}

/** 90 → "1m30s", 86400 → "1d", for people (the one format of server/presentation/figures.ts). */
export { duration as formatDuration } from '../presentation/figures';
