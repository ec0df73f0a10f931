/**
 * The shards of `make mutation` (scripts/mutation.sh) and the areas its summary reports
 * (scripts/mutation-summary.js), in one place. Each shard is one Stryker run with its own
 * incremental file (var/stryker/<shard>.incremental.json) and JSON report
 * (var/stryker/<shard>.report.json), so an interrupted run keeps every shard it finished and a
 * shard can be run alone: `scripts/mutation.sh decision segments`.
 */
const SHARDS = [
  { name: 'decision', mutate: ['server/domain/decision/**/*.ts'] },
  { name: 'segments', mutate: ['server/domain/segments/**/*.ts'] },
  { name: 'rollout', mutate: ['server/domain/rollout.ts', 'server/domain/policy.ts'] },
  {
    name: 'rest',
    mutate: [
      'server/domain/**/*.ts',
      '!server/domain/decision/**',
      '!server/domain/segments/**',
      '!server/domain/rollout.ts',
      '!server/domain/policy.ts',
    ],
  },
];

const shardOf = (file) =>
  file.startsWith('server/domain/decision/') ? 'decision'
    : file.startsWith('server/domain/segments/') ? 'segments'
      : file === 'server/domain/rollout.ts' || file === 'server/domain/policy.ts' ? 'rollout'
        : 'rest';

/** Summary rows: a name, which files count, and which shards must have run for it to be complete. */
const AREAS = [
  { name: 'server/domain/ (all)', match: (f) => f.startsWith('server/domain/'), shards: ['decision', 'segments', 'rollout', 'rest'] },
  { name: 'decision code: server/domain/decision/ + segments/', match: (f) => ['decision', 'segments'].includes(shardOf(f)), shards: ['decision', 'segments'] },
  { name: 'server/domain/decision/', match: (f) => shardOf(f) === 'decision', shards: ['decision'] },
  { name: 'server/domain/segments/', match: (f) => shardOf(f) === 'segments', shards: ['segments'] },
  { name: 'server/domain/rollout.ts (state machine)', match: (f) => f === 'server/domain/rollout.ts', shards: ['rollout'] },
  { name: 'server/domain/policy.ts', match: (f) => f === 'server/domain/policy.ts', shards: ['rollout'] },
  { name: 'the rest of server/domain/', match: (f) => shardOf(f) === 'rest', shards: ['rest'] },
];

module.exports = { SHARDS, AREAS, shardOf };

if (require.main === module) {
  // `node scripts/mutation-areas.js names` | `node scripts/mutation-areas.js mutate <shard>`
  const [cmd, name] = process.argv.slice(2);
  if (cmd === 'names') process.stdout.write(SHARDS.map((s) => s.name).join(' ') + '\n');
  else if (cmd === 'mutate') {
    const shard = SHARDS.find((s) => s.name === name);
    if (!shard) {
      process.stderr.write(`unknown mutation shard "${name}"; shards: ${SHARDS.map((s) => s.name).join(', ')}\n`);
      process.exit(2);
    }
    process.stdout.write(shard.mutate.join(',') + '\n');
  } else {
    process.stderr.write('usage: mutation-areas.js names | mutate <shard>\n');
    process.exit(2);
  }
}
