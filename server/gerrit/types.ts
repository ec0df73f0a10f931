import type { ProposalKind } from '../domain/proposal';
import type { RolloutEvent, RolloutState } from '../domain/rollout';
import type { ProposalOptions } from '../services/rollouts';

/**
 * What the proposer records on a rollout (`Rollout.proposal`, shown by the API, CLI and
 * dashboard). Written whole each time, without bumping the rollout's revision.
 */
export type ProposalStatus = 'pending' | 'sent' | 'not_sent' | 'nothing_to_propose' | 'failed';

export interface ProposalRecord {
  kind: ProposalKind;
  status: ProposalStatus;
  /** Gerrit change, once sent. */
  changeNumber?: number;
  url?: string;
  changeId?: string;
  topic?: string;
  subject?: string;
  /** Full commit message (evidence included). */
  message?: string;
  /** `git diff` of the proposal (always set when there is something to propose). */
  patch?: string;
  /** Files the change touches. */
  files?: string[];
  /** The branch it targets. */
  branch?: string;
  /** Branch head the proposal was computed from (null: the local base). */
  baseRevision?: string | null;
  /** Why nothing was proposed / not sent / failed. */
  reason?: string;
  /** Last delivery error (Gerrit's text, credentials redacted). */
  lastError?: string;
  attempts: number;
  nextAttemptAt?: number;
  updatedAt: number;
  /** When the change merged (from Gerrit's `submitted`). */
  mergedAt?: number;
  abandonedAt?: number;
}

/** The payload the rollout store writes with the transition (see outbox-item.ts). */
export interface OutboxPayload {
  rollout: {
    id: string;
    library: string;
    stable: string;
    candidate: string;
    stages: number[];
    stageIndex: number;
    /** Absent in items written before branches: master. */
    branch?: string;
    requiresPython?: string | null;
    stableRequiresPython?: string | null;
    pythons?: string[];
    baseMode?: 'stable' | 'candidate';
    [k: string]: unknown;
  };
  /** The rule's explanation when the controller acted; null for a person's action. */
  decision: unknown;
  reason: string;
  actor: string;
  automatic?: boolean;
  options?: ProposalOptions;
}

export type OutboxStatus = 'pending' | 'done' | 'failed';

export interface OutboxItem {
  /** `<kind>:<rolloutId>` */
  id: string;
  kind: ProposalKind;
  rolloutId: string;
  createdAt: number;
  attempts: number;
  status: OutboxStatus;
  payload: OutboxPayload;
  lastError?: string;
  lastAttemptAt?: number;
  nextAttemptAt?: number;
  /** The record last written to the rollout. */
  result?: ProposalRecord;
}

/** Where proposal records go: the rollout store (`RolloutStore.setProposal`). */
export interface ProposalSink {
  setProposal(rolloutId: string, proposal: ProposalRecord): Promise<void>;
  /** An audit event on the rollout (and the feed webhooks read): a proposal opened or failed. */
  appendEvent?(rolloutId: string, event: RolloutEvent): Promise<void>;
}

/** The subset of pino's Logger the proposer uses. */
export interface GerritLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
