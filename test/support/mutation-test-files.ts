/**
 * Mutation run only (jest.mutation.config.js, setupFilesAfterEnv): during Stryker's initial
 * test run, which records the tests that cover each mutant, note which file holds each test
 * (Stryker's own test id) in <root>/.mutation-test-files.jsonl of the sandbox. The sequencer
 * (test/support/mutation-sequencer.js) then loads only the files of a mutant's covering tests
 * instead of every related test file: most of a mutant's cost is loading test files.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

const file = join(__dirname, '..', '..', '.mutation-test-files.jsonl');
afterEach(() => {
  const id = (globalThis as { __stryker__?: { currentTestId?: string } }).__stryker__?.currentTestId;
  if (id !== undefined) appendFileSync(file, JSON.stringify([id, expect.getState().testPath]) + '\n');
});
