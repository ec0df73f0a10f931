#!/usr/bin/env node
/**
 * Mutation scores per area from Stryker's JSON report (test-output/mutation/mutation.json):
 * score = (killed + timeout) / (killed + timeout + survived + no coverage), the standard
 * mutation score (mutants no test covers count as survivors). Prints a markdown table;
 * with --write-readme, replaces README.md's <!-- mutation:start --> … <!-- mutation:end --> section.
 */
const { readFileSync, writeFileSync, existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const report = JSON.parse(readFileSync(join(root, 'test-output/mutation/mutation.json'), 'utf8'));
const AREAS = [
  ['server/domain/ (all)', (f) => f.startsWith('server/domain/')],
  ['decision code: server/domain/decision/ + segments/', (f) => f.startsWith('server/domain/decision/') || f.startsWith('server/domain/segments/')],
  ['server/domain/decision/', (f) => f.startsWith('server/domain/decision/')],
  ['server/domain/segments/', (f) => f.startsWith('server/domain/segments/')],
  ['server/domain/rollout.ts (state machine)', (f) => f === 'server/domain/rollout.ts'],
  ['server/domain/policy.ts', (f) => f === 'server/domain/policy.ts'],
];
const tally = () => ({ killed: 0, timeout: 0, survived: 0, noCoverage: 0, other: 0 });
const rows = AREAS.map(([name, match]) => {
  const t = tally();
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
  const detected = t.killed + t.timeout;
  const valid = detected + t.survived + t.noCoverage;
  return { name, ...t, score: valid ? (100 * detected) / valid : null };
});
const table = [
  '| area | mutation score | killed | timeout | survived | no coverage |',
  '|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.name} | ${r.score === null ? '—' : `${r.score.toFixed(1)}%`} | ${r.killed} | ${r.timeout} | ${r.survived} | ${r.noCoverage} |`),
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
  const stamp = `Stryker ${require('@stryker-mutator/core/package.json').version}, \`make mutation\`, ${new Date().toISOString().slice(0, 10)}:`;
  writeFileSync(path, `${text.slice(0, a + start.length)}\n${stamp}\n\n${table}\n${text.slice(b)}`);
  process.stderr.write('wrote the mutation section of README.md\n');
}
