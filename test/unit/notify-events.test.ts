/**
 * What goes out to webhooks (server/domain/notify-events.ts): which audit events are sent at
 * which severity, the subscriptions' filters, and the CloudEvent of one feed entry, built from
 * the events the state machine, the controller, the proposal worker and the change watch write.
 */
import {
  EVENT_TYPE_PREFIX, NOTIFICATION_TYPES, classify, cloudEvent, matches, type NotificationType, type Severity, type WebhookFilter,
} from '../../server/domain/notify-events';
import { resolvePolicy } from '../../server/domain/policy';
import { applyAction, createRollout, type Rollout, type RolloutEvent, type RolloutSource } from '../../server/domain/rollout';

const SOURCE: RolloutSource = {
  kind: 'gerrit', project: 'openstack/requirements', branch: 'master', change: 9, patchSet: 1, revision: 'r', parent: 'p',
  url: 'https://review.opendev.org/c/openstack/requirements/+/9', subject: 's', topic: 'new-release', changeId: 'I1', bundle: 1,
};
function rollout(over: Partial<Parameters<typeof createRollout>[0]> = {}): Rollout {
  return createRollout({ id: 'r1', library: 'oslo.log', stable: '8.2.0', candidate: '8.3.0', stages: [1, 10, 100], salt: 's', policy: resolvePolicy(3), actor: 'alice', now: 0, ...over });
}
const AT = Date.UTC(2026, 2, 3, 12, 30, 0);

describe('classify: the webhook type and severity of an audit event', () => {
  test.each([
    ['created', 'rollout.created', 'info'],
    ['advanced', 'rollout.advanced', 'info'],
    ['promoted', 'rollout.promoted', 'info'],
    ['rolled_back', 'rollout.rolled_back', 'critical'],
    ['abandoned', 'rollout.ended', 'info'],
    ['superseded', 'rollout.ended', 'info'],
    ['proposal_opened', 'proposal.opened', 'info'],
    ['proposal_failed', 'proposal.failed', 'warning'],
  ])('%s -> %s (%s)', (type, expected, severity) => {
    expect(classify({ type })).toEqual({ type: expected, severity });
    expect(classify({ type, evidence: { rule: 'max_stage_age', intent: 'block' } })).toEqual({ type: expected, severity });
  });

  test('a decision is sent only when the stage is held too long', () => {
    expect(classify({ type: 'decision', evidence: { verdict: 'hold', rule: 'max_stage_age' } })).toEqual({ type: 'rollout.held_too_long', severity: 'warning' });
    expect(classify({ type: 'decision', evidence: { verdict: 'hold', rule: 'insufficient_soak' } })).toBeNull();
    expect(classify({ type: 'decision', evidence: { rule: 'MAX_STAGE_AGE' } })).toBeNull();
    expect(classify({ type: 'decision' })).toBeNull();
    expect(classify({ type: 'decision', evidence: null })).toBeNull();
  });

  test('a vote is a warning when it blocks, info when it recommends the merge or says nothing of its intent', () => {
    expect(classify({ type: 'vote_posted', evidence: { label: 'Verified', value: -1, intent: 'block' } })).toEqual({ type: 'vote.posted', severity: 'warning' });
    expect(classify({ type: 'vote_posted', evidence: { label: 'Verified', value: 1, intent: 'approve' } })).toEqual({ type: 'vote.posted', severity: 'info' });
    expect(classify({ type: 'vote_posted' })).toEqual({ type: 'vote.posted', severity: 'info' });
  });

  test('the events nobody subscribes to are not sent', () => {
    for (const type of ['paused', 'resumed', 'frozen', 'unfrozen', 'approved', 'bogus', '', 'rollout.created']) expect(classify({ type })).toBeNull();
  });

  test('every notification type is one classify() can produce, and the list has each once', () => {
    const produced = new Set(['created', 'advanced', 'promoted', 'rolled_back', 'abandoned', 'proposal_opened', 'proposal_failed', 'vote_posted']
      .map((type) => classify({ type })!.type));
    produced.add(classify({ type: 'decision', evidence: { rule: 'max_stage_age' } })!.type);
    expect([...NOTIFICATION_TYPES].sort()).toEqual([...produced].sort());
    expect(NOTIFICATION_TYPES).toHaveLength(9);
  });

  test('the state machine\'s own events classify as their types', () => {
    const r = rollout();
    expect(classify(applyAction(r, { type: 'promote', actor: 'alice', reason: 'quiet' }, 1).event)).toEqual({ type: 'rollout.advanced', severity: 'info' });
    expect(classify(applyAction(r, { type: 'rollback', actor: 'alice', reason: 'bad' }, 1).event)).toEqual({ type: 'rollout.rolled_back', severity: 'critical' });
    expect(classify(applyAction(r, { type: 'pause', actor: 'alice', reason: 'wait' }, 1).event)).toBeNull();
  });
});

describe('matches: a subscription\'s filters', () => {
  const n = (type: NotificationType, severity: Severity, library = 'oslo.log') => ({ type, severity, library });

  test('minSeverity: at or above it', () => {
    const cases: [Severity, Severity, boolean][] = [
      ['info', 'info', true], ['info', 'warning', true], ['info', 'critical', true],
      ['warning', 'info', false], ['warning', 'warning', true], ['warning', 'critical', true],
      ['critical', 'info', false], ['critical', 'warning', false], ['critical', 'critical', true],
    ];
    for (const [min, sev, ok] of cases) expect([min, sev, matches({ minSeverity: min }, n('rollout.advanced', sev))]).toEqual([min, sev, ok]);
  });

  test('libraries: any spelling, PEP 503 compared; an empty list matches none', () => {
    const f = (libraries: string[]): WebhookFilter => ({ minSeverity: 'info', libraries });
    expect(matches(f(['Oslo_Log']), n('rollout.advanced', 'info'))).toBe(true);
    expect(matches(f(['oslo-log']), n('rollout.advanced', 'info', 'OSLO.LOG'))).toBe(true);
    expect(matches(f(['six', 'oslo..log']), n('rollout.advanced', 'info'))).toBe(true);
    expect(matches(f(['six', 'oslo.logx']), n('rollout.advanced', 'info'))).toBe(false);
    expect(matches(f([]), n('rollout.advanced', 'info'))).toBe(false);
  });

  test('events: exact types, `*`, and `prefix.*` patterns; an empty list matches none', () => {
    const f = (events: string[]): WebhookFilter => ({ minSeverity: 'info', events });
    const adv = n('rollout.advanced', 'info');
    expect(matches(f(['rollout.advanced']), adv)).toBe(true);
    expect(matches(f(['vote.posted', 'rollout.advanced']), adv)).toBe(true);
    expect(matches(f(['*']), adv)).toBe(true);
    expect(matches(f(['rollout.*']), adv)).toBe(true);
    expect(matches(f(['vote.*']), adv)).toBe(false);
    expect(matches(f(['vote.posted']), adv)).toBe(false);
    expect(matches(f(['rollout']), adv)).toBe(false);
    expect(matches(f(['rollout.']), adv)).toBe(false);
    expect(matches(f(['rollout.adv*']), adv)).toBe(false);
    expect(matches(f(['roll.*']), adv)).toBe(false); // a prefix is a whole word: roll. is not rollout.
    expect(matches(f(['rollout.advanced.*']), adv)).toBe(false);
    expect(matches(f(['x*']), adv)).toBe(false);
    expect(matches(f([]), adv)).toBe(false);
  });

  test('all filters must agree', () => {
    const f: WebhookFilter = { minSeverity: 'warning', libraries: ['oslo.log'], events: ['rollout.*'] };
    expect(matches(f, n('rollout.rolled_back', 'critical'))).toBe(true);
    expect(matches(f, n('rollout.advanced', 'info'))).toBe(false); // severity
    expect(matches(f, n('rollout.rolled_back', 'critical', 'six'))).toBe(false); // library
    expect(matches(f, n('proposal.failed', 'warning'))).toBe(false); // event
    expect(matches({ minSeverity: 'info' }, n('vote.posted', 'info', 'anything'))).toBe(true);
  });
});

describe('cloudEvent: one feed entry as a CloudEvent', () => {
  const base = { source: 'https://depcanary.example.org', rolloutUrl: 'https://depcanary.example.org/rollouts/r1' };

  test('a promote by hand: the rollout at its new stage, the event, no detail', () => {
    const r0 = rollout({ source: SOURCE });
    const { next: r, event: e } = applyAction(r0, { type: 'promote', actor: 'alice', reason: 'quiet, 30 machines' }, AT);
    const n = classify(e)!;
    expect(cloudEvent('1700000000000-0', e, r, n, base)).toEqual({
      specversion: '1.0',
      id: 'evt_1700000000000-0',
      source: 'https://depcanary.example.org',
      type: 'org.depcanary.rollout.advanced',
      subject: 'r1',
      time: '2026-03-03T12:30:00.000Z',
      datacontenttype: 'application/json',
      severity: 'info',
      data: {
        rollout: {
          id: 'r1', library: 'oslo.log', branch: 'master', stable: '8.2.0', candidate: '8.3.0', stages: [1, 10, 100], stageIndex: 1,
          percent: 10, state: 'active', source: SOURCE, url: 'https://depcanary.example.org/rollouts/r1',
        },
        event: {
          type: 'advanced', actor: 'alice', reason: 'quiet, 30 machines', automatic: false, at: '2026-03-03T12:30:00.000Z',
          fromState: 'active', toState: 'active', fromStage: 0, toStage: 1,
        },
        detail: null,
      },
    });
    expect(EVENT_TYPE_PREFIX).toBe('org.depcanary.');
  });

  test('a decision\'s detail keeps only the listed fields; percent and state come from the event, not the rollout now', () => {
    const r = rollout();
    const e: RolloutEvent = {
      type: 'decision', rolloutId: 'r1', actor: 'controller', reason: 'Hold: stage held too long', automatic: true, at: AT,
      fromState: 'paused', toState: 'paused', fromStage: 2, toStage: 2, revision: 4,
      evidence: { verdict: 'hold', rule: 'max_stage_age', reason: 'too long', stageIndex: 2, percent: 100, candidate: { N: 100 }, D: 0.01, secret: 'x' },
    };
    const ce = cloudEvent('5-1', e, r, classify(e)!, { source: 'urn:x', rolloutUrl: null });
    expect(ce.type).toBe('org.depcanary.rollout.held_too_long');
    expect(ce.severity).toBe('warning');
    expect(ce.data.detail).toEqual({ verdict: 'hold', rule: 'max_stage_age', reason: 'too long', stageIndex: 2, percent: 100 });
    expect(ce.data.rollout).toMatchObject({ stageIndex: 2, percent: 100, state: 'paused', url: null });
    expect(ce.data.event).toMatchObject({ automatic: true, fromState: 'paused', toState: 'paused', fromStage: 2, toStage: 2 });
  });

  test('the detail of a vote and of a proposal; evidence without any listed field is no detail', () => {
    const r = rollout({ source: SOURCE });
    const ev = (type: string, evidence: unknown, toStage = 0): RolloutEvent => ({
      type, rolloutId: 'r1', actor: 'depcanary-gerrit', reason: 'x', automatic: true, at: AT, fromState: 'active', toState: 'active', fromStage: 0, toStage, revision: 1, evidence,
    });
    const vote = ev('vote_posted', { change: 9, patchSet: 2, label: 'Verified', value: -1, intent: 'block', url: 'https://r/9' });
    expect(cloudEvent('1-0', vote, r, classify(vote)!, base).data.detail).toEqual({ change: 9, patchSet: 2, label: 'Verified', value: -1, intent: 'block', url: 'https://r/9' });
    const prop = ev('proposal_opened', { kind: 'rollback', status: 'open', change: 12, url: null, extra: 1 });
    expect(cloudEvent('1-1', prop, r, classify(prop)!, base).data.detail).toEqual({ kind: 'rollback', status: 'open', change: 12, url: null });
    const none = ev('created', { actorRoles: ['release-manager'] });
    expect(cloudEvent('1-2', none, r, classify(none)!, base).data.detail).toBeNull();
    // a stage past the last (a stale event) reports the last stage's percent
    expect(cloudEvent('1-3', ev('created', undefined, 7), r, { type: 'rollout.created', severity: 'info' }, base).data.rollout.percent).toBe(100);
  });

  test('without stages the percent is the rollout\'s current one', () => {
    const r = { ...rollout(), stages: [] as number[], state: 'promoted' as const };
    const e: RolloutEvent = { type: 'promoted', rolloutId: 'r1', actor: 'a', reason: 'r', automatic: false, at: 0, fromState: 'active', toState: 'promoted', fromStage: 0, toStage: 0, revision: 1 };
    const ce = cloudEvent('0-0', e, r, classify(e)!, base);
    expect(ce.data.rollout.percent).toBe(100);
    expect(ce.time).toBe('1970-01-01T00:00:00.000Z');
  });
});
