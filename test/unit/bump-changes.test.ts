import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook as Reference } from 'standardwebhooks';
import { bumpsOf } from '../../server/domain/change-bumps';
import { renderChangeReport, renderDeferral, voteOf } from '../../server/domain/change-message';
import { parseConstraints } from '../../server/domain/constraints';
import { diffConstraints } from '../../server/domain/constraints-diff';
import { scheduleFreezeWindows } from '../../server/domain/freeze-schedule';
import { activeFreeze, gateDecision, signoffGate } from '../../server/domain/gates';
import { classify, matches } from '../../server/domain/notify-events';
import { resolvePolicy } from '../../server/domain/policy';
import { applyAction, createRollout, type Rollout, type RolloutSource } from '../../server/domain/rollout';
import { sign, verify, webhookSecret } from '../../server/notify/signing';

const FIX = join(__dirname, '..', 'fixtures');
const UC = readFileSync(join(FIX, 'upper-constraints.txt'), 'utf8');
const bumps = (before: string, after: string) => bumpsOf(diffConstraints(parseConstraints(before), parseConstraints(after)));

describe('what a bump change proposes (bumpsOf)', () => {
  test('the release job\'s one-line bump, the bundle\'s many, moved and added lines', () => {
    const after = UC.replace('os_vif===5.2.0', 'os_vif===5.3.0').replace('yarl===1.24.5', 'yarl===1.25.0')
      .replace('a2wsgi===1.10.10\n', '').replace('six===1.17.0\n', 'six===1.17.0\na2wsgi===1.10.10\nnewlib===1.0\n').replace('WebOb===1.8.11\n', '');
    const r = bumps(UC, after);
    expect(r.bumps.map((b) => [b.library, b.stable, b.candidate])).toEqual([['yarl', '1.24.5', '1.25.0'], ['os_vif', '5.2.0', '5.3.0']]);
    expect(r.skipped.map((s) => [s.library, s.reason.split(':')[0]])).toEqual([['newlib', 'added at 1.0'], ['WebOb', 'removed (was 1.8.11)']]);
  });

  test('the release team\'s hand-made split is the bump 4.9.1 → 4.10.0 (real files)', () => {
    const before = readFileSync(join(FIX, 'upper-constraints-before-cliff-split.txt'), 'utf8');
    const after = readFileSync(join(FIX, 'upper-constraints-cliff-split.txt'), 'utf8');
    expect(bumps(before, after).bumps).toEqual([{
      key: 'cliff', library: 'cliff', stable: '4.9.1', candidate: '4.10.0',
      lines: ["cliff===4.9.1;python_version=='3.9'", "cliff===4.10.0;python_version>='3.10'"],
    }]);
  });

  test('marker-only changes, two new versions at once, and several old ones are skipped with a reason', () => {
    const base = 'a===1.0\nb===1.0;python_version=="3.9"\nb===2.0;python_version>="3.10"\nc===1.0\n';
    const r = bumps(base, 'a===1.0;python_version>="3.9"\nb===3.0\nc===1.1;python_version=="3.9"\nc===1.2;python_version>="3.10"\n');
    expect(r.bumps).toEqual([]);
    expect(r.skipped.map((s) => s.library + ': ' + s.reason)).toEqual([
      'a: only its markers or spelling change (1.0): no new version',
      'b: replaces lines pinning several versions (1.0, 2.0); one canary needs one stable',
      'c: moves to several new versions at once (1.1, 1.2); one canary needs one candidate',
    ]);
  });

  test('one patch set starts at most `max` canaries; the rest are listed, not canaried', () => {
    const before = Array.from({ length: 5 }, (_, i) => `lib${i}===1.0\n`).join('');
    const after = before.replace(/===1\.0/g, '===1.1');
    const r = bumpsOf(diffConstraints(parseConstraints(before), parseConstraints(after)), 3);
    expect(r.bumps.map((b) => b.library)).toEqual(['lib0', 'lib1', 'lib2']);
    expect(r.skipped).toEqual([3, 4].map((i) => ({ key: `lib${i}`, library: `lib${i}`, reason: 'the patch set moves more than 3 libraries; only the first 3 are canaried' })));
    expect(bumpsOf(diffConstraints(parseConstraints(before), parseConstraints(after))).bumps).toHaveLength(5);
  });
});

const SOURCE: RolloutSource = { kind: 'gerrit', project: 'openstack/requirements', branch: 'master', change: 9, patchSet: 1, revision: 'r', parent: 'p', url: 'u', subject: 's', topic: 'new-release', changeId: 'I1', bundle: 1 };
function rollout(over: Partial<Parameters<typeof createRollout>[0]> = {}): Rollout {
  return createRollout({ id: 'r1', library: 'six', stable: '1.17.0', candidate: '1.18.0', stages: [1, 10, 100], salt: 's', policy: resolvePolicy(3), actor: 'a', now: 0, ...over });
}
const step = (r: Rollout, type: Parameters<typeof applyAction>[1]['type'], actor = 'x') => applyAction(r, { type, actor, reason: type }, 1).next;

describe('a change\'s canary in the state machine', () => {
  test('holds active at 100% until the change merges; a manual promote there is refused; merge completes from any stage', () => {
    const at100 = step(step(rollout({ source: SOURCE }), 'promote'), 'promote');
    expect([at100.state, at100.stageIndex]).toEqual(['active', 2]);
    expect(() => step(at100, 'promote')).toThrow(/completes when change 9 merges/);
    expect(step(at100, 'complete').state).toBe('promoted');
    const early = applyAction(rollout({ source: SOURCE }), { type: 'complete', actor: 'w', reason: 'merged early' }, 5);
    expect(early.next).toMatchObject({ state: 'promoted', stageIndex: 2, endReason: 'merged early' });
    expect(early.event).toMatchObject({ type: 'promoted', fromStage: 0, toStage: 2 });
    expect(step(rollout(), 'promote').state).toBe('active');
    expect(step(step(rollout(), 'promote'), 'promote').state).toBe('promoted'); // without a source: promoted at 100%
    expect(() => step(rollout(), 'complete')).toThrow(/no change/);
    expect(step(at100, 'abandon').state).toBe('abandoned');
  });

  test('approvals: one per person and stage, none at the last stage', () => {
    const a = step(rollout(), 'approve', 'alice');
    expect(a.approvals).toEqual([{ stageIndex: 0, actor: 'alice', at: 1, reason: 'approve' }]);
    expect(() => step(a, 'approve', 'alice')).toThrow(/already approved stage 1/);
    expect(step(a, 'approve', 'bob').approvals).toHaveLength(2);
    expect(signoffGate(a, { 1: 2 })?.reason).toBe('stage 1 (1%) needs 2 approvals from distinct release managers before it advances; it has 1 (alice)');
    expect(signoffGate(step(a, 'approve', 'bob'), { 1: 2 })).toBeNull();
    expect(signoffGate(step(a, 'promote'), { 1: 2 })).toBeNull(); // approvals are per stage; stage 2 needs none
  });
});

describe('gates', () => {
  const advance = { verdict: 'advance', rule: 'advance', reason: 'Advance: all clear.' } as never;
  const rollback = { verdict: 'rollback', rule: 'regression', reason: 'Regression.' } as never;
  const windows = [{ start: 100, end: 200, branches: ['master'], reason: 'freeze A' }, { start: 150, end: 300, branches: null, reason: 'freeze B' }];

  test('a freeze window holds an advance, never a rollback; overlapping windows hold until the last ends', () => {
    const r = rollout();
    expect(gateDecision(advance, r, { freezeWindows: windows, signoffs: {} }, 120)).toMatchObject({ verdict: 'hold', gate: { gate: 'freeze', until: 200 } });
    expect(activeFreeze(windows, 'master', 160)?.reason).toBe('freeze B');
    expect(activeFreeze(windows, 'stable/2025.2', 120)).toBeNull();
    expect(activeFreeze(windows, 'master', 300)).toBeNull();
    expect(gateDecision(rollback, r, { freezeWindows: windows, signoffs: { 1: 3 } }, 160)).toMatchObject({ verdict: 'rollback', gate: null });
    expect(gateDecision(advance, r, { freezeWindows: [], signoffs: {} }, 160)).toMatchObject({ verdict: 'advance', gate: null });
  });

  test('a change\'s canary waiting at 100%: a hold naming the change, then past maxStageAge a max_stage_age alert (rollout.held_too_long)', () => {
    const at100 = step(step(rollout({ source: SOURCE }), 'promote'), 'promote');
    const max = at100.policy.maxStageAgeSeconds;
    const notActive = { verdict: 'hold', rule: 'not_active', reason: 'Not active.', alert: false } as const;
    const waiting = gateDecision({ ...notActive, stageAgeSeconds: max - 1 } as never, at100, { freezeWindows: [], signoffs: {} }, 0);
    expect(waiting).toMatchObject({ verdict: 'hold', rule: 'not_active', alert: false, gate: { gate: 'awaiting_merge' } });
    expect(waiting.reason).toMatch(/^Holding: at 100% until change 9 merges/);
    const tooLong = gateDecision({ ...notActive, stageAgeSeconds: max } as never, at100, { freezeWindows: [], signoffs: {} }, 0);
    expect(tooLong).toMatchObject({ verdict: 'hold', rule: 'max_stage_age', alert: true, gate: { gate: 'awaiting_merge' } });
    expect(tooLong.reason).toBe(`Holding: ${waiting.reason.slice('Holding: '.length, -1)}; it has waited at 100% for 14.0 d (max 14.0 d), a human should look.`);
    expect(classify({ type: 'decision', evidence: tooLong } as never)).toMatchObject({ type: 'rollout.held_too_long' });
    // a rollback is never turned into the wait
    expect(gateDecision({ verdict: 'rollback', rule: 'regression', reason: 'R.', stageAgeSeconds: max } as never, rollout(), { freezeWindows: [], signoffs: {} }, 0).rule).toBe('regression');
  });

  test('OpenStack\'s series schedule: the requirements freeze (h-rf) through the release week', () => {
    const text = readFileSync(join(FIX, 'openstack-hibiscus-schedule.yaml'), 'utf8');
    const [w] = scheduleFreezeWindows(text, 'hibiscus/schedule.yaml');
    expect(w).toMatchObject({ start: Date.parse('2026-08-24T00:00:00Z'), end: Date.parse('2026-10-03T00:00:00Z'), branches: ['master'] });
    expect(w!.reason).toBe('requirements freeze (h-rf, hibiscus/schedule.yaml, weeks R-5 to R+0): only critical requirements and constraints changes');
    expect(() => scheduleFreezeWindows('a: [', 'x')).toThrow(/x is not YAML/);
    expect(() => scheduleFreezeWindows('name: x', 'x')).toThrow(/no "cycle" list/);
    expect(scheduleFreezeWindows('cycle: []', 'x')).toEqual([]);
  });
});

describe('the vote and the report on a change', () => {
  const r = rollout({ source: SOURCE });
  test('block on any rollback; recommend merge when every library would complete; otherwise none', () => {
    const at100 = step(step(r, 'promote'), 'promote');
    expect(voteOf([at100, step(r, 'complete')])).toBe('approve');
    expect(voteOf([at100, r])).toBeNull();
    expect(voteOf([at100, step(r, 'rollback')])).toBe('block');
    expect(voteOf([])).toBeNull();
  });
  test('only the libraries whose phase changed get a paragraph', () => {
    const other = { ...step(r, 'promote'), id: 'r2', library: 'yarl' };
    const text = renderChangeReport({ change: 9, patchSet: 2, rollouts: [r, other], changed: new Set(['r2']), skipped: [], vote: null, rolloutUrl: (id) => `https://x/rollouts/${id}` });
    expect(text).toContain('yarl 1.17.0 -> 1.18.0: advanced to stage 2 of 3 (10%).\n  Rollout: https://x/rollouts/r2');
    expect(text).not.toContain('six 1.17.0 -> 1.18.0:');
    expect(text).toContain('All libraries: six at stage 1 of 3 (1%); yarl at stage 2 of 3 (10%).');
  });
  test('a move made by hand says who and why; a vote Gerrit would not take is said, not claimed; a deferral names the window', () => {
    const at100 = { ...step(step(r, 'promote'), 'promote'), movedBy: { actor: 'alice (release-manager)', reason: 'quiet, 30 machines' } };
    const text = renderChangeReport({
      change: 9, patchSet: 2, rollouts: [at100], changed: new Set([at100.id]), skipped: [], vote: null, rolloutUrl: () => null,
      voteRefused: { label: 'Verified', value: 1, reason: 'the label Verified is not configured on this change, or depcanary-bot may not vote on it' },
    });
    expect(text).toContain('six 1.17.0 -> 1.18.0: promoted to 100% of machines by hand; this rollout would complete, merging is recommended.');
    expect(text).toContain('\n  Moved by hand by alice (release-manager): quiet, 30 machines\n');
    expect(text).toContain('depcanary would vote Verified+1 here but cannot: the label Verified is not configured on this change, or depcanary-bot may not vote on it.');
    expect(text).not.toMatch(/^Verified\+1:/m);
    const rb = { ...step(r, 'rollback'), movedBy: { actor: 'bob (release-manager)', reason: 'rollback' } };
    const rbText = renderChangeReport({ change: 9, patchSet: 2, rollouts: [rb], changed: new Set([rb.id]), skipped: [], vote: null, rolloutUrl: () => null });
    expect(rbText).toContain('\n  Moved by hand by bob (release-manager)\n'); // the reason is already on the head line
    expect(renderDeferral(3, { end: Date.UTC(2026, 2, 27), reason: 'requirements freeze (h-rf)' }))
      .toBe('depcanary canary of patch set 3 deferred: a freeze window is in force until 2026-03-27T00:00:00.000Z (requirements freeze (h-rf)).\n\nNo machine gets the versions this change pins until the window ends; the canary starts then, and reports here.\n');
  });
});

describe('the review message: evidence per segment (decision v2)', () => {
  const finding = (over: Record<string, unknown>) => ({
    family: 'project', event: 'failure', segment: 'blazar', test: null, label: 'blazar', candidateEvents: 2, controlEvents: 1,
    candidateMachines: 5, controlMachines: 61, candidateRuns: 9, controlRuns: 80, log10E: 0.9, log10Threshold: 6.12, fired: false, suspect: false, ...over,
  });
  const decision = (segments: unknown) => ({ verdict: 'advance', rule: 'advance', stageIndex: 0, percent: 1, reason: 'Advance: ...', segments });
  const report = (lastDecision: unknown) => {
    const r = { ...step(rollout({ source: SOURCE }), 'promote'), lastDecision };
    return renderChangeReport({ change: 9, patchSet: 1, rollouts: [r], changed: new Set([r.id]), skipped: [], vote: null, rolloutUrl: () => null });
  };

  test('the strongest projects, Pythons or tests against the candidate, in the rule\'s words, or that none is worse', () => {
    const python = finding({ family: 'python', event: 'error', segment: '3.13', label: 'Python 3.13', candidateEvents: 3, controlEvents: 0, log10E: 5.5, suspect: true });
    const text = report(decision({ fired: null, suspect: python, top: [python, finding({}), { junk: true }], firedTests: [] }));
    expect(text).toContain([
      '  Segments (strongest evidence against the candidate):',
      '    Python 3.13: the first run errored (install or set-up) on 3 of 5 candidate machines, 0 of 61 control machines (e = 3.2e+5, needs 1.3e+6): nearly proven worse, it holds the advance',
      '    blazar: the first run failed on 2 of 5 candidate machines, 1 of 61 control machines (e = 7.9e+0, needs 1.3e+6)',
    ].join('\n'));
    expect(report(decision({ fired: null, suspect: null, top: [], firedTests: [] }))).toContain('\n  Segments: no project, Python or failing test is worse on the candidate so far.\n');
    // A decision of v1 (no segment evidence) says nothing about segments.
    expect(report({ verdict: 'advance', rule: 'advance', stageIndex: 0 })).not.toContain('Segments');
  });

  test('a segment that decided a rollback is named once, as the segment that decided', () => {
    const fired = finding({ family: 'signature', event: 'test', test: 'blazar.tests.unit.test_leases.LeaseTest.test_create', label: 'blazar: test_create', candidateEvents: 4, controlEvents: 0, log10E: 7.77, fired: true });
    const r = { ...step(rollout({ source: SOURCE }), 'rollback'), lastDecision: { verdict: 'rollback', rule: 'segment', stageIndex: 0, percent: 1, reason: 'Segment regression', segments: { fired, suspect: null, top: [fired], firedTests: [fired.test] } } };
    const text = renderChangeReport({ change: 9, patchSet: 1, rollouts: [r], changed: new Set([r.id]), skipped: [], vote: null, rolloutUrl: () => null });
    expect(text).toContain('  Segment that decided:\n    blazar: blazar.tests.unit.test_leases.LeaseTest.test_create fails on 4\n    of 5 candidate machines, 0 of 61 control machines (e = 5.9e+7, needs');
    expect(text).not.toContain('Segments (strongest');
  });
});

describe('webhook events and signatures', () => {
  test('which events are sent, at which severity, and the filters', () => {
    expect(classify({ type: 'rolled_back' })).toEqual({ type: 'rollout.rolled_back', severity: 'critical' });
    expect(classify({ type: 'decision', evidence: { rule: 'max_stage_age' } })).toEqual({ type: 'rollout.held_too_long', severity: 'warning' });
    expect(classify({ type: 'decision', evidence: { rule: 'insufficient_soak' } })).toBeNull();
    expect(classify({ type: 'paused' })).toBeNull();
    expect(classify({ type: 'vote_posted', evidence: { intent: 'block' } })).toEqual({ type: 'vote.posted', severity: 'warning' });
    const n = { type: 'rollout.advanced' as const, severity: 'info' as const, library: 'oslo.log' };
    expect(matches({ minSeverity: 'info', libraries: ['Oslo_Log'] }, n)).toBe(true);
    expect(matches({ minSeverity: 'warning' }, n)).toBe(false);
    expect(matches({ minSeverity: 'info', events: ['rollout.*'] }, n)).toBe(true);
    expect(matches({ minSeverity: 'info', events: ['vote.posted'] }, n)).toBe(false);
    expect(matches({ minSeverity: 'info', libraries: ['six'] }, n)).toBe(false);
  });

  test('signatures agree with the Standard Webhooks reference library both ways', () => {
    const raw = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
    const secret = webhookSecret(raw);
    const ref = new Reference(raw);
    const body = '{"type":"org.depcanary.rollout.created","data":{}}';
    const ts = Math.floor(Date.now() / 1000);
    expect(sign(secret, 'evt_1-0', ts, body)).toBe(ref.sign('evt_1-0', new Date(ts * 1000), body));
    expect(verify(secret, { id: 'evt_1-0', timestamp: String(ts), signature: `v1,bogus ${ref.sign('evt_1-0', new Date(ts * 1000), body)}` }, body)).toBe(true);
    expect(verify(secret, { id: 'evt_1-0', timestamp: String(ts), signature: sign(secret, 'evt_1-0', ts, `${body} `) }, body)).toBe(false);
    expect(verify(secret, { id: 'evt_1-0', timestamp: String(ts - 3600), signature: sign(secret, 'evt_1-0', ts - 3600, body) }, body)).toBe(false);
    expect(String(secret)).toBe('[redacted]');
    expect(() => webhookSecret('whsec_c2hvcnQ=')).toThrow(/at least 24 bytes/);
    expect(() => webhookSecret('secret')).toThrow(/whsec_/);
  });
});
