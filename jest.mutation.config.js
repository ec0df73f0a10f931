/**
 * The unit tests Stryker runs against mutants of server/domain/ (`make mutation`,
 * stryker.config.json): pure tests only, no Redis set-up. The simulation smoke tests are
 * left out: they exercise the rule by the thousand and would make every mutant slow.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/unit'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', 'decision-sim-smoke', 'segments-sim'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false, isolatedModules: true }] },
  setupFiles: ['<rootDir>/test/support/mutation-setup.ts'],
};
