import type { Decision } from '../domain/decision/types';
import type { RolloutEvent } from '../domain/rollout';
import type { RolloutView } from '../services/rollouts';

/** The Gerrit proposal a rollback (or promotion) opens; written by the proposer. */
export interface Proposal {
  status: string;
  changeNumber?: number;
  url?: string;
  reason?: string;
  lastError?: string;
  kind?: string;
}

/** A rollout as the API returns it, with the controller's decision and the proposal typed. */
export type View = Omit<RolloutView, 'decision' | 'proposal' | 'lastDecision'> & {
  decision: Decision | null;
  proposal: Proposal | null;
};

export type Event = RolloutEvent;

export type Arm = 'candidate' | 'control';
export const ARMS: readonly Arm[] = ['candidate', 'control'];
