import type { FailingTest } from '../evidence';
import type { NewInCandidate } from './types';

/**
 * "New in candidate" failing tests, for people: for each test id, the distinct candidate
 * machines failing it against the number expected from the control arm, i.e. control
 * machines failing it × G_T / G_K. Only ids over-represented in the candidate are listed,
 * largest excess first (ties: more candidate machines, then id). The store caps both
 * lists, so an id missing from the control list is treated as failing on no control machine.
 */
export function newInCandidate(
  candidate: FailingTest[],
  control: FailingTest[],
  candidateMachines: number,
  controlMachines: number,
  limit = 10,
): NewInCandidate[] {
  const ctrl = new Map<string, number>();
  for (const t of control) ctrl.set(t.id, Math.max(ctrl.get(t.id) ?? 0, t.machines));
  const scale = controlMachines > 0 ? candidateMachines / controlMachines : 0;
  const seen = new Set<string>();
  const out: NewInCandidate[] = [];
  for (const t of candidate) {
    if (seen.has(t.id) || !(t.machines > 0)) continue;
    seen.add(t.id);
    const expected = (ctrl.get(t.id) ?? 0) * scale;
    if (t.machines > expected) {
      out.push({ id: t.id, candidateMachines: t.machines, expectedMachines: Math.round(expected * 100) / 100 });
    }
  }
  out.sort(
    (a, b) =>
      b.candidateMachines - b.expectedMachines - (a.candidateMachines - a.expectedMachines) ||
      b.candidateMachines - a.candidateMachines ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  return out.slice(0, limit);
}
