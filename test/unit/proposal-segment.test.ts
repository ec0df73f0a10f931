/** The Gerrit message names the segment that decided a segment rollback (decision v2). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildProposal, type ProposalInput } from '../../server/domain/proposal';
import { readEvidence } from '../../server/domain/proposal-evidence';

const UC = readFileSync(join(__dirname, '../fixtures/upper-constraints.txt'), 'utf8');

const FIRED = {
  family: 'signature', event: 'test', segment: 'blazar', test: 'blazar.tests.unit.test_leases.LeaseTest.test_create',
  label: 'blazar: blazar.tests.unit.test_leases.LeaseTest.test_create', candidateEvents: 4, controlEvents: 0,
  candidateMachines: 4, controlMachines: 61, candidateRuns: 5, controlRuns: 80, log10E: 7.77, log10Threshold: 6.12, fired: true, suspect: false,
};

const DECISION = {
  verdict: 'rollback', rule: 'segment', stageIndex: 0, percent: 1,
  reason: 'Segment regression: blazar: 2 tests fail on 4 of 4 candidate machines, 0 of 61 control machines (e = 5.9e+7, needs 1.3e+6); the whole arms: …',
  segments: {
    fired: FIRED, suspect: null, top: [FIRED],
    firedTests: ['blazar.tests.unit.test_leases.LeaseTest.test_create', 'blazar.tests.unit.test_hosts.HostTest.test_list'],
  },
};

function input(decision: unknown): ProposalInput {
  return {
    kind: 'rollback',
    rollout: { id: 'r-1', library: 'oslo.log', stable: '8.2.0', candidate: '8.3.0', stages: [1, 10, 100], stageIndex: 0 },
    decision, actor: 'controller', reason: 'automatic rollback', constraints: { path: 'upper-constraints.txt', text: UC }, requirements: null, rolloutUrl: null,
  };
}

describe('Gerrit message: the segment that decided', () => {
  test('the project, how many tests on how many machines, and the tests', () => {
    const p = buildProposal(input(DECISION));
    if (!p.propose) throw new Error(p.reason);
    expect(p.message).toContain([
      'Segment that decided:',
      '  blazar: 2 tests fail on 4 of 4 candidate machines, 0 of 61 control',
      '  machines (e = 5.9e+7, needs 1.3e+6)',
      '  Failing tests:',
      '    blazar.tests.unit.test_leases.LeaseTest.test_create',
      '    blazar.tests.unit.test_hosts.HostTest.test_list',
    ].join('\n'));
  });

  test('a Python segment, and a single test named in the sentence, need no list', () => {
    const py = { ...FIRED, family: 'python', event: 'error', segment: '3.10', test: null, label: 'Python 3.10' };
    expect(readEvidence({ ...DECISION, segments: { ...DECISION.segments, fired: py, firedTests: [] } })!.segment).toEqual({
      sentence: 'Python 3.10: the first run errored (install or set-up) on 4 of 4 candidate machines, 0 of 61 control machines',
      figure: 'e = 5.9e+7, needs 1.3e+6', tests: [],
    });
    const one = buildProposal(input({ ...DECISION, segments: { ...DECISION.segments, firedTests: [FIRED.test] } }));
    if (!one.propose) throw new Error(one.reason);
    expect(one.message).toContain('  blazar: blazar.tests.unit.test_leases.LeaseTest.test_create fails on 4\n  of 4 candidate machines');
    expect(one.message).not.toContain('Failing tests:');
  });

  test('no segment line for other rules or a malformed segment', () => {
    expect(readEvidence({ verdict: 'rollback', rule: 'regression' })!.segment).toBeUndefined();
    for (const fired of [null, 3, { ...FIRED, family: 'planet' }, { ...FIRED, log10E: 'big' }, { ...FIRED, segment: 1 }, { ...FIRED, event: 'x' }, { ...FIRED, candidateEvents: Infinity }]) {
      expect(readEvidence({ ...DECISION, segments: { ...DECISION.segments, fired } })!.segment).toBeUndefined();
      const p = buildProposal(input({ ...DECISION, segments: { fired } }));
      if (!p.propose) throw new Error(p.reason);
      expect(p.message).not.toContain('Segment that decided');
      expect(p.message).not.toContain('undefined');
    }
    // a segment without its test list or with junk in it
    expect(readEvidence({ ...DECISION, segments: { fired: FIRED, firedTests: [3, '', 'x'] } })!.segment!.tests).toEqual(['x']);
    expect(readEvidence({ ...DECISION, segments: { fired: { ...FIRED, candidateMachines: 'x' } } })!.segment!.sentence).toBe(
      'blazar: blazar.tests.unit.test_leases.LeaseTest.test_create fails on 4 candidate machines, 0 of 61 control machines');
  });
});
