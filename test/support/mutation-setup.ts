/**
 * Set-up of the mutation run (jest.mutation.config.js): property tests sample less, so each of
 * thousands of mutants runs its covering tests in seconds. A killed mutant needs one failing
 * sample; the full sample sizes run in `make test`.
 */
import fc from 'fast-check';

process.env.DEPCANARY_MUTATION = '1';
fc.configureGlobal({ numRuns: 25 });
