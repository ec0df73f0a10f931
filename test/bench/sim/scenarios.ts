/** The benchmark's scenarios (DECISION.md, "The simulation benchmark"). */
export type Effect =
  | { kind: 'none' }
  | { kind: 'times'; factor: number }
  | { kind: 'plus'; points: number }
  /** Every candidate run errors (C does not even install). */
  | { kind: 'hard' };

/**
 * good: the candidate is no worse (a rollback is a false rollback).
 * bad: the candidate is worse than the final stage's margin (a promotion is a missed regression).
 * small: worse, but within the final margin (neither verdict is wrong).
 */
export type Truth = 'good' | 'bad' | 'small';

export interface Scenario {
  name: string;
  label: string;
  /** Mean per-run flaky failure rate of the fleet on the stable version. */
  baseline: number;
  effect: Effect;
  truth: Truth;
  /** One candidate machine (in the first stage) sends 50 failing runs within an hour on day 1. */
  spam?: boolean;
  /** Another library B with a bad candidate (×2 failures) is parked at 10%. */
  otherBad?: 'independent' | 'shared';
}

const none: Effect = { kind: 'none' };

export const SCENARIOS: Scenario[] = [
  { name: 'none-2', label: 'no regression, 2%', baseline: 0.02, effect: none, truth: 'good' },
  { name: 'none-5', label: 'no regression, 5%', baseline: 0.05, effect: none, truth: 'good' },
  { name: 'none-15', label: 'no regression, 15%', baseline: 0.15, effect: none, truth: 'good' },
  { name: 'x2-2', label: '×2 at 2%', baseline: 0.02, effect: { kind: 'times', factor: 2 }, truth: 'bad' },
  { name: 'x2-5', label: '×2 at 5%', baseline: 0.05, effect: { kind: 'times', factor: 2 }, truth: 'bad' },
  { name: 'x2-15', label: '×2 at 15%', baseline: 0.15, effect: { kind: 'times', factor: 2 }, truth: 'bad' },
  { name: 'plus1-2', label: '+1 pt at 2%', baseline: 0.02, effect: { kind: 'plus', points: 0.01 }, truth: 'small' },
  { name: 'plus1-5', label: '+1 pt at 5%', baseline: 0.05, effect: { kind: 'plus', points: 0.01 }, truth: 'small' },
  { name: 'hard-break', label: 'hard break (5%)', baseline: 0.05, effect: { kind: 'hard' }, truth: 'bad' },
  { name: 'spam', label: 'spamming machine (5%)', baseline: 0.05, effect: none, truth: 'good', spam: true },
  { name: 'other-bad', label: 'B bad, own salt (5%)', baseline: 0.05, effect: none, truth: 'good', otherBad: 'independent' },
  { name: 'other-bad-shared', label: 'B bad, shared salt (5%)', baseline: 0.05, effect: none, truth: 'good', otherBad: 'shared' },
];

export function scenarioByName(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`unknown scenario "${name}" (known: ${SCENARIOS.map((x) => x.name).join(', ')})`);
  return s;
}
