/**
 * Mutation run only (jest.mutation.config.js): the node test environment, plus "stop at the
 * first kill". Stryker counts a mutant as killed when any covering test fails, and jest cannot
 * bail programmatically, so once a test fails under the active mutant the rest of that run's
 * tests are skipped (jest-circus skips a test whose mode is 'skip' at test_start). The flag is
 * reset per run by the sequencer (test/support/mutation-sequencer.js), which jest makes once
 * per run, and only ever set while a mutant is active: the initial run is never cut short.
 */
const { TestEnvironment } = require('jest-environment-node');

const ACTIVE = '__STRYKER_ACTIVE_MUTANT__';
const KILLED = Symbol.for('depcanary.mutation.killed');

class MutationEnvironment extends TestEnvironment {
  async handleTestEvent(event) {
    const active = process.env[ACTIVE];
    if (active === undefined) return;
    if (event.name === 'test_start' && globalThis[KILLED] === active) event.test.mode = 'skip';
    if (event.name === 'test_done' && event.test.errors.length > 0) globalThis[KILLED] = active;
  }
}

MutationEnvironment.KILLED = KILLED;
module.exports = MutationEnvironment;
