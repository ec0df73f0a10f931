import { readFileSync, writeFileSync } from 'node:fs';

/** Replaces the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` in a file. */
export function replaceSection(file: string, name: string, body: string): void {
  const text = readFileSync(file, 'utf8');
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${file} has no ${start} … ${end} section`);
  writeFileSync(file, `${text.slice(0, a + start.length)}\n${body}\n${text.slice(b)}`);
}
