/**
 * Simulation v2 scenarios (DECISION.md, "The simulation, v2"): regressions that break some
 * consumers, today's fleet-wide effects on the structured fleet, and healthy traps.
 */
import type { Truth } from '../sim/scenarios';

export type Effect2 =
  | { kind: 'none' }
  /** Two solid-pass test ids of one project fail on every candidate run of that project. */
  | { kind: 'break-project'; project: number; ids: number }
  /** In each project, `ids` solid-pass test ids fail on half of the candidate runs (independently). */
  | { kind: 'partial'; projects: number[]; ids: number; share: number }
  /** Every candidate run on this Python errors (Requires-Python: the candidate does not install). */
  | { kind: 'python-error'; python: number }
  /** Every flaky rate, cluster and set-up error rate multiplied on the candidate. */
  | { kind: 'times'; factor: number }
  /** Each candidate run also fails one random test id of its project with this probability. */
  | { kind: 'plus'; points: number }
  /** Every candidate run errors. */
  | { kind: 'hard' };

export type Trap =
  /** One id of the largest project fails 12% of runs, in both arms. */
  | 'flaky-id'
  /** One candidate machine fails the same dozen ids on a dozen runs within one hour of day 1. */
  | 'cluster-machine'
  /** A project's own bad commit: three of its ids fail every run, in both arms, on day 2. */
  | 'bad-commit'
  /** Another library B's bad candidate, parked at 10% with its own salt, breaks two ids of one project. */
  | 'other-bad'
  /** One candidate machine sends 50 failing runs within one hour of day 1. */
  | 'spam'
  /** 30 made-up machine ids replay one failing report (an invented test id of a real project) within an hour. */
  | 'fake';

export interface Scenario2 {
  name: string;
  label: string;
  effect: Effect2;
  truth: Truth;
  trap?: Trap;
  /** Which runs belong to the affected segment (for "candidate runs of the affected segment"). */
  affected?: { projects?: number[]; python?: number };
}

/** Project indices (0-based ranks of the Zipf shares; see fleet.ts for their shares). */
export const SMALL_PROJECT = 11; // 2.09% of runs
export const PARTIAL_PROJECTS = [4, 7, 14]; // 5.0%, 3.1%, 1.7%
export const OLDEST_PYTHON = 0; // 3.10

const none: Effect2 = { kind: 'none' };

export const SCENARIOS2: Scenario2[] = [
  { name: 'v2-none', label: 'v2: no regression', effect: none, truth: 'good' },
  {
    name: 'v2-one-project', label: 'v2: one project (2.1% of runs) broken', truth: 'bad',
    effect: { kind: 'break-project', project: SMALL_PROJECT, ids: 2 }, affected: { projects: [SMALL_PROJECT] },
  },
  {
    name: 'v2-three-partial', label: 'v2: three projects, ids fail half the runs', truth: 'bad',
    effect: { kind: 'partial', projects: PARTIAL_PROJECTS, ids: 2, share: 0.5 }, affected: { projects: PARTIAL_PROJECTS },
  },
  {
    name: 'v2-python', label: 'v2: install fails on Python 3.10', truth: 'bad',
    effect: { kind: 'python-error', python: OLDEST_PYTHON }, affected: { python: OLDEST_PYTHON },
  },
  { name: 'v2-x2', label: 'v2: ×2 everywhere', effect: { kind: 'times', factor: 2 }, truth: 'bad' },
  { name: 'v2-plus1', label: 'v2: +1 pt everywhere', effect: { kind: 'plus', points: 0.01 }, truth: 'small' },
  { name: 'v2-hard', label: 'v2: hard break', effect: { kind: 'hard' }, truth: 'bad' },
  { name: 'v2-flaky-id', label: 'v2 trap: an id flaky at 12% in both arms', effect: none, truth: 'good', trap: 'flaky-id' },
  { name: 'v2-cluster', label: 'v2 trap: a dozen ids on one machine for an hour', effect: none, truth: 'good', trap: 'cluster-machine' },
  { name: 'v2-bad-commit', label: "v2 trap: a project's own bad commit for a day", effect: none, truth: 'good', trap: 'bad-commit' },
  { name: 'v2-other-bad', label: 'v2 trap: library B bad at 10%, own salt', effect: none, truth: 'good', trap: 'other-bad' },
  { name: 'v2-spam', label: 'v2 trap: spamming machine', effect: none, truth: 'good', trap: 'spam' },
  { name: 'v2-fake', label: 'v2 trap: 30 fake machines', effect: none, truth: 'good', trap: 'fake' },
];

export function scenario2ByName(name: string): Scenario2 {
  const s = SCENARIOS2.find((x) => x.name === name);
  if (!s) throw new Error(`unknown scenario "${name}" (known: ${SCENARIOS2.map((x) => x.name).join(', ')})`);
  return s;
}
