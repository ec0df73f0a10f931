/**
 * The unit tests Stryker runs against mutants of server/domain/ (`make mutation`,
 * stryker.config.mjs): pure tests only, no Redis set-up. The simulation smoke test is left
 * out: it exercises the rule by the thousand and would make every mutant slow. A mutant
 * loads only the test files of its covering tests (test/support/mutation-sequencer.js), and its
 * run stops at the first failing test (test/support/mutation-environment.js).
 */
module.exports = {
  // absolute: Stryker resolves the environment itself, without <rootDir>
  testEnvironment: require('node:path').join(__dirname, 'test/support/mutation-environment.js'),
  roots: ['<rootDir>/test/unit'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', 'decision-sim-smoke'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false, isolatedModules: true }] },
  setupFiles: ['<rootDir>/test/support/mutation-setup.ts'],
  setupFilesAfterEnv: ['<rootDir>/test/support/mutation-test-files.ts'],
  testSequencer: '<rootDir>/test/support/mutation-sequencer.js',
};
