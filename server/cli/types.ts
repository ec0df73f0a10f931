import type { Decision } from '../domain/decision/types';
import type { RolloutEvent } from '../domain/rollout';
import type { RolloutView } from '../services/rollouts';

/** The Gerrit proposal a rollback (or promotion) opens; written by the proposer. */
export interface Proposal {
  kind?: 'rollback' | 'promote' | 'exclude';
  branch?: string;
  status: 'pending' | 'sent' | 'not_sent' | 'nothing_to_propose' | 'failed' | string;
  changeNumber?: number;
  url?: string;
  subject?: string;
  files?: string[];
  reason?: string;
  lastError?: string;
  attempts?: number;
  mergedAt?: number;
  abandonedAt?: number;
}

/** A rollout as the API returns it, with the controller's decision and the proposal typed. */
export type View = Omit<RolloutView, 'decision' | 'proposal' | 'lastDecision' | 'exclusion'> & {
  decision: Decision | null;
  proposal: Proposal | null;
  /** The separate exclusion change of a rollback. */
  exclusion: Proposal | null;
};

export type Event = RolloutEvent;

export type Arm = 'candidate' | 'control';
export const ARMS: readonly Arm[] = ['candidate', 'control'];
