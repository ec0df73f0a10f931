/**
 * The Gerrit proposal tests: a real Gerrit started once per run (test/gerrit/global-setup.ts
 * via scripts/ensure-gerrit.sh) and a real Redis. Files run one at a time because one of
 * them stops and restarts Gerrit.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/gerrit'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  globalSetup: '<rootDir>/test/gerrit/global-setup.ts',
  globalTeardown: '<rootDir>/test/gerrit/global-teardown.ts',
  testTimeout: 240_000,
  maxWorkers: 1,
};
