/**
 * One jest run covers unit (pure domain), integration (real Redis started by
 * test/support/global-setup.ts) and end-to-end tests. Gerrit tests have their own
 * config (jest.gerrit.config.js) because they start a real Gerrit once per run.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/test/gerrit/', '/test/bench/'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
};
