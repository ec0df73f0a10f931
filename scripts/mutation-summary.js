#!/usr/bin/env node
/**
 * Mutation scores per area from the shards' Stryker JSON reports (var/stryker/<shard>.report.json,
 * scripts/mutation-areas.js): score = (killed + timeout) / (killed + timeout + survived + no
 * coverage), the standard mutation score (mutants no test covers count as survivors). An area
 * whose shards have not all run shows as not run. Prints a markdown table; with --write-readme,
 * replaces README.md's <!-- mutation:start --> … <!-- mutation:end --> section.
 */
const { readFileSync, writeFileSync, existsSync, statSync } = require('node:fs');
const { join } = require('node:path');
const { SHARDS, AREAS } = require('./mutation-areas');

const root = join(__dirname, '..');
const reports = new Map();
for (const { name } of SHARDS) {
  const path = join(root, 'var/stryker', `${name}.report.json`);
  if (existsSync(path)) reports.set(name, { report: JSON.parse(readFileSync(path, 'utf8')), date: statSync(path).mtime });
}
const tally = () => ({ killed: 0, timeout: 0, survived: 0, noCoverage: 0, other: 0 });
const rows = AREAS.map(({ name, match, shards }) => {
  const missing = shards.filter((s) => !reports.has(s));
  const t = tally();
  for (const { report } of reports.values()) {
    for (const [file, data] of Object.entries(report.files)) {
      const rel = file.replace(/\\/g, '/').replace(/^.*?(server\/domain\/)/, '$1');
      if (!match(rel)) continue;
      for (const m of data.mutants) {
        if (m.status === 'Killed') t.killed++;
        else if (m.status === 'Timeout') t.timeout++;
        else if (m.status === 'Survived') t.survived++;
        else if (m.status === 'NoCoverage') t.noCoverage++;
        else t.other++;
      }
    }
  }
  const detected = t.killed + t.timeout;
  const valid = detected + t.survived + t.noCoverage;
  return { name, missing, ...t, score: valid ? (100 * detected) / valid : null };
});
const cell = (r, v) => (r.missing.length ? '—' : String(v));
const table = [
  '| area | mutation score | killed | timeout | survived | no coverage |',
  '|---|---|---|---|---|---|',
  ...rows.map((r) => {
    const score = r.missing.length ? `not run (shard ${r.missing.join(', ')})` : r.score === null ? '—' : `${r.score.toFixed(1)}%`;
    return `| ${r.name} | ${score} | ${cell(r, r.killed)} | ${cell(r, r.timeout)} | ${cell(r, r.survived)} | ${cell(r, r.noCoverage)} |`;
  }),
].join('\n');
process.stdout.write(table + '\n');
if (process.argv.includes('--write-readme')) {
  const path = join(root, 'README.md');
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const start = '<!-- mutation:start -->';
  const end = '<!-- mutation:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`README.md has no ${start} … ${end} section`);
  const ran = [...reports.entries()].map(([s, { date }]) => `${s} ${date.toISOString().slice(0, 10)}`).join(', ') || 'no shard yet';
  const stamp = `Stryker ${require('@stryker-mutator/core/package.json').version}, \`make mutation\` (shards run: ${ran}):`;
  writeFileSync(path, `${text.slice(0, a + start.length)}\n${stamp}\n\n${table}\n${text.slice(b)}`);
  process.stderr.write('wrote the mutation section of README.md\n');
}
