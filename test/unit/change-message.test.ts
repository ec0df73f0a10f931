/**
 * The review message depcanary posts on a bump change it canaries, and its vote
 * (server/domain/change-message.ts): every phase of a library's rollout, the evidence of real
 * decide() decisions, the segments, the bundle's summary, the vote and the vote Gerrit would
 * not take, the deferral. Rollouts come from the state machine, decisions from decide() on
 * the reference fleet of decision-fixtures.ts (control180: 5% failing), as change-watch.ts
 * builds them (the moving event's decision is the rollout's lastDecision).
 */
import { phaseOf, renderChangeReport, renderDeferral, voteOf, type ChangeReport, type ChangeRollout } from '../../server/domain/change-message';
import { decide } from '../../server/domain/decision';
import { resolvePolicy } from '../../server/domain/policy';
import { applyAction, createRollout, type Rollout, type RolloutSource } from '../../server/domain/rollout';
import { emptySegmentEvidence, type SignatureStats } from '../../server/domain/segments';
import { HOUR_MS, T0, control180, evidence, fleet, policy, rollout as decisionRollout } from './decision-fixtures';

const SOURCE: RolloutSource = { kind: 'gerrit', project: 'openstack/requirements', branch: 'master', change: 9, patchSet: 1, revision: 'r', parent: 'p', url: 'u', subject: 's', topic: 'new-release', changeId: 'I1', bundle: 1 };
function rollout(over: Partial<Parameters<typeof createRollout>[0]> = {}): Rollout {
  return createRollout({ id: 'r1', library: 'six', stable: '1.17.0', candidate: '1.18.0', stages: [1, 10, 100], salt: 's', policy: resolvePolicy(3), actor: 'a', now: 0, source: SOURCE, ...over });
}
const step = (r: Rollout, type: Parameters<typeof applyAction>[1]['type'], reason: string = type) => applyAction(r, { type, actor: 'x', reason }, 1).next;
const URL = (id: string) => `https://depcanary.example.org/rollouts/${id}`;
function report(rollouts: ChangeRollout[], over: Partial<ChangeReport> = {}): string {
  return renderChangeReport({ change: 9, patchSet: 1, rollouts, changed: new Set(rollouts.map((r) => r.id)), skipped: [], vote: null, rolloutUrl: () => null, ...over });
}

// Real decisions (decision-segments.test.ts' set-up: the segment families on).
const SOAKED = T0 + 48 * HOUR_MS;
const RO = decisionRollout({ stages: [1, 10, 100], policy: policy({ projectAlpha: 0.0005, pythonAlpha: 0.0005, signatureAlpha: 0.0015 }) });
const sig = (candidate: number[]): SignatureStats => ({ project: 'blazar', test: 'tests.t', candidate, control: [] });
const withSegments = (signatures: SignatureStats[]) => ({ ...evidence(fleet('t', 20, 20, 1), control180()), segments: { ...emptySegmentEvidence(), signatures } });
const ADVANCE = decide({ now: SOAKED, rollout: RO, evidence: evidence(fleet('t', 20, 20, 1), control180()) });
const ADVANCE_SEGMENTS = decide({ now: SOAKED, rollout: RO, evidence: withSegments([]) });
const REGRESSION = decide({ now: T0 + HOUR_MS, rollout: RO, evidence: evidence(fleet('t', 20, 20, 4), control180()) });
const SEGMENT = decide({ now: SOAKED, rollout: RO, evidence: withSegments([sig([4])]) });
const SUSPECT = decide({ now: SOAKED, rollout: RO, evidence: withSegments([sig([3])]) });

const ARMS_CLEAR = [
  '  Evidence at this stage (candidate against the concurrent control arm):',
  '    arm        version  runs  machines  failed  errored  failure rate',
  '    candidate  1.18.0    400        20      20        0          5.0%',
  '    control    1.17.0   3600       180     180        0          5.0%',
  '    difference 0.0 points (interval -6.5 to +6.4, margin 10.0)',
  '    (failure rate: failed or errored runs, runs capped per machine-day)',
];
const ADVANCE_REASON = [
  '  Decision: advance (rule: advance)',
  '    Advance from 1%: after 2.0 d, candidate 5.0% of 100 capped runs on 20',
  '    machines vs control 5.0% of 900 on 180 (D = +0.0 pts, always-valid',
  '    interval −6.5 pts to +6.4 pts); the upper bound +6.4 pts is below the',
  '    10.0-point margin.',
];

test('the decisions are the ones the messages below describe', () => {
  expect([ADVANCE.verdict, ADVANCE.rule, ADVANCE.segments]).toEqual(['advance', 'advance', null]);
  expect([ADVANCE_SEGMENTS.verdict, ADVANCE_SEGMENTS.segments?.top]).toEqual(['advance', []]);
  expect([REGRESSION.verdict, REGRESSION.rule, SEGMENT.rule, SUSPECT.rule]).toEqual(['rollback', 'regression', 'segment', 'segment_suspect']);
});

describe('phaseOf and voteOf', () => {
  test('a phase is the state and the stage', () => {
    expect(phaseOf(rollout())).toBe('active:0');
    expect(phaseOf(step(step(rollout(), 'promote'), 'pause'))).toBe('paused:1');
    expect(phaseOf(step(rollout(), 'rollback'))).toBe('rolled_back:0');
  });

  test('block on any rollback, approve when every one would complete, otherwise none', () => {
    const at100 = step(step(rollout(), 'promote'), 'promote');
    const pausedAt100 = step(at100, 'pause');
    const done = step(rollout(), 'complete');
    const rb = step(rollout(), 'rollback');
    expect(voteOf([])).toBeNull();
    expect(voteOf([at100])).toBe('approve');
    expect(voteOf([pausedAt100])).toBe('approve');
    expect(voteOf([done])).toBe('approve');
    expect(voteOf([at100, done, pausedAt100])).toBe('approve');
    expect(voteOf([rb])).toBe('block');
    expect(voteOf([at100, done, rb])).toBe('block');
    expect(voteOf([at100, step(rollout(), 'promote')])).toBeNull();
    expect(voteOf([rollout()])).toBeNull();
    expect(voteOf([step(rollout(), 'abandon')])).toBeNull();
    expect(voteOf([step(rollout(), 'supersede')])).toBeNull();
    // without a change (no source) 100% is promoted, never "awaiting the merge"
    expect(voteOf([{ ...at100, source: null }])).toBeNull();
  });
});

describe('the canary starts', () => {
  const six = rollout();
  const yarl = rollout({ id: 'r2', library: 'yarl', stable: '1.24.5', candidate: '1.25.0', stages: [0.5, 10, 100] });
  const skipped = [{ library: 'newlib', reason: 'added at 1.0' }, { library: 'WebOb', reason: 'removed (was 1.8.11)' }];

  test('a new patch set of a bundle: what restarts, each library\'s start and link, what is not canaried, all libraries', () => {
    expect(report([six, yarl], { patchSet: 3, replaced: 2, skipped, rolloutUrl: URL })).toBe([
      'depcanary canary of patch set 3 (2 libraries):',
      '',
      'Patch set 3 replaces patch set 2: its canaries restart on the versions it pins.',
      '',
      'six 1.17.0 -> 1.18.0: canary started: 1% of machines get 1.18.0, the others stay on 1.17.0 as the concurrent control (stages 1%, 10%, 100%).',
      '  Rollout: https://depcanary.example.org/rollouts/r1',
      '',
      'yarl 1.24.5 -> 1.25.0: canary started: 0.5% of machines get 1.25.0, the others stay on 1.24.5 as the concurrent control (stages 0.5%, 10%, 100%).',
      '  Rollout: https://depcanary.example.org/rollouts/r2',
      '',
      'Not canaried:',
      '  newlib: added at 1.0',
      '  WebOb: removed (was 1.8.11)',
      '',
      'All libraries: six at stage 1 of 3 (1%); yarl at stage 1 of 3 (0.5%).',
      '',
    ].join('\n'));
  });

  test('one library, a first patch set, no link: singular, no restart, no summary', () => {
    expect(report([six], { replaced: null })).toBe([
      'depcanary canary of patch set 1 (1 library):',
      '',
      'six 1.17.0 -> 1.18.0: canary started: 1% of machines get 1.18.0, the others stay on 1.17.0 as the concurrent control (stages 1%, 10%, 100%).',
      '',
    ].join('\n'));
  });

  test('the restart and what is not canaried are said only in the starting report', () => {
    const moved = step(six, 'promote');
    const later = report([moved], { patchSet: 3, replaced: 2, skipped });
    expect(later).toBe('depcanary canary of patch set 3 (1 library):\n\nsix 1.17.0 -> 1.18.0: advanced to stage 2 of 3 (10%).\n');
    // one of the libraries moved on: no longer the starting report
    const mixed = report([six, { ...moved, id: 'r2', library: 'yarl' }], { patchSet: 3, replaced: 2, skipped });
    expect(mixed).not.toContain('replaces patch set');
    expect(mixed).not.toContain('Not canaried');
    // a library whose phase did not change: neither its paragraph nor the starting lines
    const unchanged = report([six, yarl], { patchSet: 3, replaced: 2, skipped, changed: new Set(['r1']) });
    expect(unchanged).toBe([
      'depcanary canary of patch set 3 (2 libraries):',
      '',
      'six 1.17.0 -> 1.18.0: canary started: 1% of machines get 1.18.0, the others stay on 1.17.0 as the concurrent control (stages 1%, 10%, 100%).',
      '',
      'All libraries: six at stage 1 of 3 (1%); yarl at stage 1 of 3 (0.5%).',
      '',
    ].join('\n'));
    // a paused start is not a start, a held one (a decision at stage 1) neither
    expect(report([step(six, 'pause')], { skipped })).toBe('depcanary canary of patch set 1 (1 library):\n\nsix 1.17.0 -> 1.18.0: paused at stage 1 of 3 (1%).\n');
    expect(report([{ ...six, lastDecision: { verdict: 'hold' } }], { skipped })).toBe('depcanary canary of patch set 1 (1 library):\n\nsix 1.17.0 -> 1.18.0: advanced to stage 1 of 3 (1%).\n\n  Decision: hold\n');
  });

  test('a patch set that canaries nothing says why, at most 50 lines', () => {
    const many = Array.from({ length: 60 }, (_, i) => ({ library: `lib${i}`, reason: 'added at 1.0' }));
    const text = report([], { skipped: many });
    expect(text.startsWith('depcanary canary of patch set 1 (0 libraries):\n\nNot canaried:\n  lib0: added at 1.0\n  lib1: added at 1.0\n')).toBe(true);
    expect(text.endsWith('\n  lib49: added at 1.0\n')).toBe(true);
    expect(text.split('\n')).toHaveLength(3 + 50 + 1);
    expect(report([])).toBe('depcanary canary of patch set 1 (0 libraries):\n');
    // nothing restarts when nothing is canaried
    expect(report([], { patchSet: 3, replaced: 2, skipped: many.slice(0, 1) })).toBe('depcanary canary of patch set 3 (0 libraries):\n\nNot canaried:\n  lib0: added at 1.0\n');
  });
});

describe('a stage passed or held: the evidence of the decision', () => {
  const at2 = (lastDecision: unknown, state: 'active' | 'paused' = 'active') => {
    const r = { ...step(rollout(), 'promote'), lastDecision };
    return state === 'paused' ? { ...step(r, 'pause'), lastDecision } : r;
  };

  test('an automatic advance: the arms and the decision, no segments without segment evidence', () => {
    expect(report([at2(ADVANCE)], { rolloutUrl: URL })).toBe([
      'depcanary canary of patch set 1 (1 library):',
      '',
      'six 1.17.0 -> 1.18.0: advanced to stage 2 of 3 (10%).',
      '',
      ...ARMS_CLEAR,
      '',
      ...ADVANCE_REASON,
      '  Rollout: https://depcanary.example.org/rollouts/r1',
      '',
    ].join('\n'));
  });

  test('with segment evidence and none worse, it says so', () => {
    const text = report([at2(ADVANCE_SEGMENTS)]);
    expect(text.endsWith('10.0-point margin.\n\n  Segments: no project, Python or failing test is worse on the candidate so far.\n')).toBe(true);
  });

  test('paused, held by a suspect segment: the segment that holds the advance', () => {
    const text = report([at2(SUSPECT, 'paused')]);
    expect(text).toBe([
      'depcanary canary of patch set 1 (1 library):',
      '',
      'six 1.17.0 -> 1.18.0: paused at stage 2 of 3 (10%).',
      '',
      ...ARMS_CLEAR,
      '',
      '  Decision: hold (rule: segment_suspect)',
      '    Hold: a segment is nearly proven worse (blazar: tests.t fails on 3',
      '    candidate machines, 0 control machines; e = 6.2e+5, needs 1.3e+6);',
      '    candidate 5.0% of 100 capped runs on 20 machines vs control 5.0% of',
      '    900 on 180 (D = +0.0 pts, always-valid interval −6.5 pts to +6.4 pts).',
      '',
      '  Segments (strongest evidence against the candidate):',
      '    blazar: tests.t fails on 3 candidate machines, 0 control machines (e = 6.2e+5, needs 1.3e+6): nearly proven worse, it holds the advance',
      '',
    ].join('\n'));
  });

  test('the three strongest segments only, junk skipped, each line at most 600 characters', () => {
    const finding = (over: Record<string, unknown>) => ({
      family: 'project', event: 'failure', segment: 'blazar', test: null, label: 'blazar', candidateEvents: 2, controlEvents: 1,
      candidateMachines: 5, controlMachines: 61, candidateRuns: 9, controlRuns: 80, log10E: 0.9, log10Threshold: 6.12, fired: false, suspect: false, ...over,
    });
    const top = [{ junk: 1 }, finding({ label: 'a' }), null, finding({ label: 'b', suspect: true, fired: true }), finding({ family: 'signature', event: 'test', segment: 's'.repeat(200), test: 't'.repeat(512), label: 'l' }), finding({ label: 'd' })];
    const text = report([at2({ verdict: 'hold', rule: 'insufficient_soak', segments: { fired: null, suspect: null, top, firedTests: [] } })]);
    const lines = text.split('\n');
    const at = lines.indexOf('  Segments (strongest evidence against the candidate):');
    expect(lines.slice(at + 1, at + 3)).toEqual([
      '    a: the first run failed on 2 of 5 candidate machines, 1 of 61 control machines (e = 7.9e+0, needs 1.3e+6)',
      // suspect but fired: not "nearly proven"
      '    b: the first run failed on 2 of 5 candidate machines, 1 of 61 control machines (e = 7.9e+0, needs 1.3e+6)',
    ]);
    expect(lines[at + 3]).toBe(`    ${'s'.repeat(200)}: ${'t'.repeat(394)}`); // 600 characters, the figure cut off
    expect(lines.slice(at + 4)).toEqual(['']);
  });

  test('at 100%: merging is recommended, automatically or by hand, active or paused', () => {
    const at100 = { ...step(step(rollout(), 'promote'), 'promote'), lastDecision: ADVANCE };
    expect(report([at100])).toBe([
      'depcanary canary of patch set 1 (1 library):',
      '',
      'six 1.17.0 -> 1.18.0: at 100% of machines without evidence of a regression; this rollout would complete, merging is recommended. It holds at 100% until the change merges.',
      '',
      ...ARMS_CLEAR,
      '',
      ...ADVANCE_REASON,
      '',
    ].join('\n'));
    const byHand = { ...step(at100, 'pause'), lastDecision: null, movedBy: { actor: 'alice (release-manager)', reason: 'quiet, 30 machines' } };
    expect(report([byHand], { vote: { label: 'Verified', value: 1, intent: 'approve' } })).toBe([
      'depcanary canary of patch set 1 (1 library):',
      '',
      'six 1.17.0 -> 1.18.0: promoted to 100% of machines by hand; this rollout would complete, merging is recommended. It holds at 100% until the change merges.',
      '  Moved by hand by alice (release-manager): quiet, 30 machines',
      '',
      'Verified+1: every library\'s canary would complete; merging is recommended.',
      '',
    ].join('\n'));
  });

  test('who moved it by hand: without a reason, and cut at 600 characters', () => {
    const r = { ...step(rollout(), 'promote'), movedBy: { actor: 'bob', reason: '' } };
    expect(report([r])).toBe('depcanary canary of patch set 1 (1 library):\n\nsix 1.17.0 -> 1.18.0: advanced to stage 2 of 3 (10%).\n  Moved by hand by bob\n');
    const long = report([{ ...r, movedBy: { actor: 'bob', reason: 'y'.repeat(1000) } }]).split('\n');
    expect(long[3]).toBe(`  Moved by hand by bob: ${'y'.repeat(600 - '  Moved by hand by bob: '.length)}`);
    expect(long[3]).toHaveLength(600);
  });
});

describe('a rollout ended', () => {
  test('rolled back by the run-level rule: why, what it means for the change, the evidence once, the block', () => {
    const rb = { ...step(step(rollout(), 'promote'), 'rollback', REGRESSION.reason), lastDecision: REGRESSION };
    expect(report([rb], { vote: { label: 'Verified', value: -1, intent: 'block' }, rolloutUrl: URL })).toBe([
      'depcanary canary of patch set 1 (1 library):',
      '',
      'six 1.17.0 -> 1.18.0: rolled back at stage 2 of 3 (10%): Regression: candidate 20.0% of 100 capped runs on 20 machines vs control 5.0% of 900 on 180 (D = +15.0 pts, always-valid interval +8.5 pts to +21.4 pts); the always-valid lower bound +8.5 pts is above zero.',
      '  1.18.0 is no longer served; nothing needs reverting, since this change has not merged.',
      '',
      '  Evidence at this stage (candidate against the concurrent control arm):',
      '    arm        version  runs  machines  failed  errored  failure rate',
      '    candidate  1.18.0    400        20      80        0         20.0%',
      '    control    1.17.0   3600       180     180        0          5.0%',
      '    difference +15.0 points (interval +8.5 to +21.4, margin 10.0)',
      '    (failure rate: failed or errored runs, runs capped per machine-day)',
      '',
      '  Decision: rollback (rule: regression)',
      '  Rollout: https://depcanary.example.org/rollouts/r1',
      '',
      'Verified-1: a library\'s canary was rolled back; this change should not merge as it is.',
      '',
    ].join('\n'));
  });

  test('rolled back by a segment: the segment that decided, not the strongest segments', () => {
    const rb = { ...step(step(rollout(), 'promote'), 'rollback', SEGMENT.reason), lastDecision: SEGMENT };
    const text = report([rb]);
    expect(text.endsWith([
      '  Decision: rollback (rule: segment)',
      '',
      '  Segment that decided:',
      '    blazar: tests.t fails on 4 candidate machines, 0 control machines (e =',
      '    5.9e+7, needs 1.3e+6)',
      '',
    ].join('\n'))).toBe(true);
    expect(text).not.toContain('Segments');
    expect(text.split('\n')[2]).toBe(`six 1.17.0 -> 1.18.0: rolled back at stage 2 of 3 (10%): ${SEGMENT.reason}`);
  });

  test('rolled back by hand: who, the reason said once; and without any reason', () => {
    const rb = { ...step(rollout(), 'rollback', 'tox fails in nova'), movedBy: { actor: 'bob', reason: 'tox fails in nova' } };
    expect(report([rb])).toBe([
      'depcanary canary of patch set 1 (1 library):',
      '',
      'six 1.17.0 -> 1.18.0: rolled back at stage 1 of 3 (1%): tox fails in nova',
      '  1.18.0 is no longer served; nothing needs reverting, since this change has not merged.',
      '  Moved by hand by bob',
      '',
    ].join('\n'));
    expect(report([{ ...rb, endReason: null, movedBy: null }]).split('\n')[2]).toBe('six 1.17.0 -> 1.18.0: rolled back at stage 1 of 3 (1%):');
  });

  test('completed, abandoned, superseded: one line each', () => {
    const merged = step(rollout(), 'complete', 'change 9 merged');
    expect(report([merged], { rolloutUrl: URL })).toBe('depcanary canary of patch set 1 (1 library):\n\nsix 1.17.0 -> 1.18.0: completed: change 9 merged\n  Rollout: https://depcanary.example.org/rollouts/r1\n');
    expect(report([{ ...merged, endReason: null, lastDecision: ADVANCE }])).toBe('depcanary canary of patch set 1 (1 library):\n\nsix 1.17.0 -> 1.18.0: completed: the change merged\n');
    expect(report([{ ...step(rollout(), 'abandon', 'change 9 abandoned'), lastDecision: ADVANCE }])).toBe('depcanary canary of patch set 1 (1 library):\n\nsix 1.17.0 -> 1.18.0: ended (abandoned): change 9 abandoned\n');
    expect(report([{ ...step(rollout(), 'supersede', 'patch set 2'), endReason: null }])).toBe('depcanary canary of patch set 1 (1 library):\n\nsix 1.17.0 -> 1.18.0: ended (superseded):\n');
  });
});

describe('a bundle, the vote, and the vote Gerrit would not take', () => {
  test('all libraries, each as it stands', () => {
    const base = rollout();
    const lib = (id: string, library: string, r: Rollout) => ({ ...r, id, library });
    const rollouts = [
      lib('a', 'six', step(base, 'promote')),
      lib('b', 'yarl', step(step(base, 'promote'), 'promote')),
      lib('c', 'cliff', step(base, 'pause')),
      lib('d', 'os_vif', step(base, 'rollback')),
      lib('e', 'oslo.log', step(base, 'complete')),
      lib('f', 'WebOb', step(base, 'supersede')),
    ];
    const text = report(rollouts, { changed: new Set() });
    expect(text).toBe('depcanary canary of patch set 1 (6 libraries):\n\nAll libraries: six at stage 2 of 3 (10%); yarl at 100%, waiting for the merge; cliff paused; os_vif rolled back; oslo.log promoted; WebOb superseded.\n');
  });

  test('a stage past the last is shown as the last', () => {
    const r = { ...step(rollout(), 'promote'), stageIndex: 5, source: null };
    expect(report([r, { ...r, id: 'r2' }], { changed: new Set(['r1']) })).toBe([
      'depcanary canary of patch set 1 (2 libraries):',
      '',
      'six 1.17.0 -> 1.18.0: advanced to stage 3 of 3 (100%).',
      '',
      'All libraries: six at stage 3 of 3 (100%); six at stage 3 of 3 (100%).',
      '',
    ].join('\n'));
  });

  test('a vote Gerrit would not take is said, not claimed, with the value\'s sign', () => {
    const rb = step(rollout(), 'rollback', 'bad');
    const text = report([rb], { changed: new Set(), voteRefused: { label: 'Verified', value: -1, reason: 'the label Verified is not configured on this change' } });
    expect(text).toBe('depcanary canary of patch set 1 (1 library):\n\ndepcanary would vote Verified-1 here but cannot: the label Verified is not configured on this change. Its operators set the label and values (GERRIT_VOTE_LABEL, GERRIT_VOTE_VALUES).\n');
    const both = report([rb], { changed: new Set(), vote: { label: 'Code-Review', value: -2, intent: 'block' }, voteRefused: { label: 'Verified', value: 2, reason: 'value not permitted' } });
    expect(both).toBe([
      'depcanary canary of patch set 1 (1 library):',
      '',
      'Code-Review-2: a library\'s canary was rolled back; this change should not merge as it is.',
      '',
      'depcanary would vote Verified+2 here but cannot: value not permitted. Its operators set the label and values (GERRIT_VOTE_LABEL, GERRIT_VOTE_VALUES).',
      '',
    ].join('\n'));
  });
});

test('a deferral names the window\'s end and reason', () => {
  expect(renderDeferral(12, { end: Date.UTC(2026, 8, 30, 18, 5, 7), reason: 'release week' })).toBe([
    'depcanary canary of patch set 12 deferred: a freeze window is in force until 2026-09-30T18:05:07.000Z (release week).',
    '',
    'No machine gets the versions this change pins until the window ends; the canary starts then, and reports here.',
    '',
  ].join('\n'));
});
