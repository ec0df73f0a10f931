// `make mutation` (scripts/mutation.sh): mutation testing of server/domain/ with the unit tests
// (jest.mutation.config.js), Stryker 8.x (9+ needs Node 22). One run per shard
// (scripts/mutation-areas.js), chosen by DEPCANARY_MUTATION_SHARD; each shard keeps its own
// incremental file and report under var/stryker/, so shards run one after another or side by
// side and an interrupted run loses only the shard in progress. Without the variable: all of
// server/domain/ in one run (var/stryker/all.*; the README summary reads the shards only).
import { createRequire } from 'node:module';

const { SHARDS } = createRequire(import.meta.url)('./scripts/mutation-areas.js');
const name = process.env.DEPCANARY_MUTATION_SHARD || 'all';
const shard = SHARDS.find((s) => s.name === name);
if (name !== 'all' && !shard) throw new Error(`unknown mutation shard "${name}"; shards: ${SHARDS.map((s) => s.name).join(', ')}`);

export default {
  packageManager: 'npm',
  testRunner: 'jest',
  // The sequencer of jest.mutation.config.js picks a mutant's test files itself: no findRelatedTests.
  jest: { configFile: 'jest.mutation.config.js', enableFindRelatedTests: false },
  mutate: shard ? shard.mutate : ['server/domain/**/*.ts'],
  coverageAnalysis: 'perTest',
  concurrency: 2,
  timeoutMS: 8000,
  timeoutFactor: 1.5,
  incremental: true,
  incrementalFile: `var/stryker/${name}.incremental.json`,
  tempDirName: 'var/stryker/tmp',
  ignorePatterns: ['var', 'dist', 'test-output', 'client-plugin', 'docs', 'coverage', '*.war'],
  reporters: ['progress', 'json', 'html'],
  jsonReporter: { fileName: `var/stryker/${name}.report.json` },
  htmlReporter: { fileName: `test-output/mutation/${name}.html` },
  thresholds: { high: 85, low: 80, break: null },
  // Static mutants (module-level constants) would need every test per mutant; they are left out.
  ignoreStatic: true,
  // ts-jest runs with diagnostics off (isolatedModules): a mutant that does not type-check still runs.
  disableTypeChecks: 'server/**/*.ts',
  cleanTempDir: 'always',
};
