/**
 * Terminal rendering: ANSI colour only on a TTY (and never with NO_COLOR), aligned tables
 * that measure visible width, progress bars and short times.
 */
const ANSI = /\x1b\[[0-9;]*m/g;

export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
}

export function makeStyle(enabled: boolean): Style {
  const wrap = (code: string) => (s: string) => (enabled ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { bold: wrap('1'), dim: wrap('2'), red: wrap('31'), green: wrap('32'), yellow: wrap('33'), cyan: wrap('36') };
}

export function colourWanted(stream: NodeJS.WriteStream): boolean {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
}

export function visibleLength(s: string): number {
  return [...s.replace(ANSI, '')].length;
}

function padEnd(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - visibleLength(s)));
}

/** Rows of cells → aligned lines (two spaces between columns; no trailing spaces). */
export function table(header: string[], rows: string[][], style?: Style): string[] {
  const widths = header.map((h, i) => Math.max(visibleLength(h), ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]) => cells.map((c, i) => padEnd(c, widths[i]!)).join('  ').trimEnd();
  const head = line(header);
  return [style ? style.bold(head) : head, ...rows.map(line)];
}

/** A bar of `width` cells: filled share `fraction` (0..1). */
export function bar(fraction: number, width = 20): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.floor(f * width);
  const half = (f * width - full >= 0.5 || (f > 0 && full === 0)) && full < width ? 1 : 0;
  return '█'.repeat(full) + (half ? '▌' : '') + '░'.repeat(width - full - half);
}

/** ms since epoch → "2025-01-31 14:03:07" in local time. */
export function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** ms ago → "just now", "42s ago", "3m ago", "5h ago", "2d ago". */
export function ago(ms: number, now: number): string {
  const s = Math.round((now - ms) / 1000);
  if (s < 2) return 'just now';
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 172800) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** Cuts a string to `max` visible characters with an ellipsis (plain text only). */
export function truncate(s: string, max: number): string {
  return [...s].length <= max ? s : [...s].slice(0, Math.max(0, max - 1)).join('') + '…';
}

/** Word-wraps plain text to `width` columns, every line after the first indented by `indent`. */
export function wrap(text: string, width: number | undefined, indent: string): string {
  if (!width || width < indent.length + 20) return text;
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    const room = width - (lines.length === 0 ? 0 : indent.length);
    if (line && visibleLength(line) + 1 + visibleLength(word) > room) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join(`\n${indent}`);
}
