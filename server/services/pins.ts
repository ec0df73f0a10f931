import { bucketOf, inCandidateArm } from '../domain/bucketing';
import { parseConstraints, pinsOf, renderConstraints, type ConstraintsFile } from '../domain/constraints';
import { currentPercent, type Rollout } from '../domain/rollout';
import { sameVersion } from '../domain/versions';
import { etagOf as etag } from '../domain/etag';
import type { Assignment } from '../store/telemetry-store';
import { segmentPolicyOf, type SegmentPolicy } from '../domain/segments';

/** An active or paused rollout as the hot path needs it. */
export interface LiveRollout {
  id: string;
  library: string;
  /** The spelling used when writing the pin (the base file's own, when it has one). */
  name: string;
  key: string;
  stable: string;
  candidate: string;
  salt: string;
  stageIndex: number;
  percent: number;
  /** The rollout's caps for segment evidence (ingestion). */
  segments: SegmentPolicy;
}

export interface PinEntry {
  library: string;
  key: string;
  version: string;
  stable: string;
  candidate: string;
  arm: 'candidate' | 'control';
  rolloutId: string;
  stage: number;
  percent: number;
}

export interface MachineConstraints {
  text: string;
  /** `text` as UTF-8, rendered once per snapshot and combination. */
  body: Buffer;
  etag: string;
  overrides: PinEntry[];
}

/**
 * An immutable view of everything pins are computed from: the parsed base, promotion
 * overrides and live rollouts. Built on each change (see PinsCache); per request it only
 * hashes the machine id once per live rollout, and renders each distinct combination of
 * candidate overrides once.
 */
export class PinsSnapshot {
  readonly stable: { text: string; body: Buffer; etag: string };
  private readonly combos = new Map<string, { text: string; body: Buffer; etag: string }>();
  private static readonly MAX_COMBOS = 1024;

  constructor(
    readonly version: number,
    readonly base: ConstraintsFile,
    readonly baseEtag: string,
    private readonly promoted: Map<string, { name: string; version: string }>,
    readonly live: LiveRollout[],
  ) {
    const text = renderConstraints(base, promoted);
    this.stable = { text, body: Buffer.from(text), etag: promoted.size === 0 && baseEtag ? baseEtag : etag(text) };
  }

  static build(version: number, baseText: string, baseEtag: string, promoted: Map<string, { name: string; version: string }>, rollouts: Rollout[]): PinsSnapshot {
    const base = parseConstraints(baseText);
    const live = rollouts
      .filter((r) => r.state === 'active' || r.state === 'paused')
      .map((r): LiveRollout => ({
        id: r.id, library: r.library, key: r.key, stable: r.stable, candidate: r.candidate, salt: r.salt,
        stageIndex: r.stageIndex, percent: currentPercent(r),
        name: pinsOf(base, r.key)[0]?.name ?? r.library,
        segments: segmentPolicyOf(r.policy),
      }));
    return new PinsSnapshot(version, base, baseEtag, promoted, live);
  }

  pinsFor(machine: string): PinEntry[] {
    return this.live.map((r) => {
      const candidate = inCandidateArm(bucketOf(r.salt, machine), r.percent);
      return {
        library: r.library, key: r.key, version: candidate ? r.candidate : r.stable, stable: r.stable, candidate: r.candidate,
        arm: candidate ? 'candidate' : 'control', rolloutId: r.id, stage: r.stageIndex, percent: r.percent,
      };
    });
  }

  constraintsFor(machine: string | null): MachineConstraints {
    if (machine === null || this.live.length === 0) return { ...this.stable, overrides: [] };
    const overrides = this.pinsFor(machine).filter((p) => p.arm === 'candidate');
    if (overrides.length === 0) return { ...this.stable, overrides };
    const comboKey = overrides.map((o) => o.rolloutId).join(',');
    let hit = this.combos.get(comboKey);
    if (!hit) {
      const map = new Map(this.promoted);
      for (const o of overrides) {
        const live = this.live.find((r) => r.id === o.rolloutId)!;
        map.set(o.key, { name: live.name, version: o.candidate });
      }
      const text = renderConstraints(this.base, map);
      hit = { text, body: Buffer.from(text), etag: etag(text) };
      if (this.combos.size >= PinsSnapshot.MAX_COMBOS) this.combos.clear();
      this.combos.set(comboKey, hit);
    }
    return { ...hit, overrides };
  }

  /**
   * Which arm a report belongs to for each live rollout of a library it concerns. The
   * version is the one installed; when the library is missing from `installed` (an `error`
   * report: the install failed), the version the client says it pinned (`pinned`), and
   * failing that, for an `error` report only, the version this machine is served now.
   */
  assign(machine: string, installed: Map<string, string>, pinned?: Map<string, string>, outcome?: string): Assignment[] {
    const out: Assignment[] = [];
    for (const r of this.live) {
      const inCandidate = inCandidateArm(bucketOf(r.salt, machine), r.percent);
      let v = installed.get(r.key) ?? pinned?.get(r.key);
      if (v === undefined && outcome === 'error') v = inCandidate ? r.candidate : r.stable;
      if (v === undefined) continue;
      let arm: Assignment['arm'] = 'mismatch';
      if (inCandidate && (v === r.candidate || sameVersion(v, r.candidate))) arm = 'candidate';
      else if (!inCandidate && (v === r.stable || sameVersion(v, r.stable))) arm = 'control';
      out.push({ rolloutId: r.id, arm, stage: r.stageIndex, segments: r.segments });
    }
    return out;
  }

}

