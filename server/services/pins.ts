import { LRUCache } from 'lru-cache';
import { bucketerOf, inCandidateArm, MachineHash, type Bucketer } from '../domain/bucketing';
import { MASTER, resolveBranch } from '../domain/branches';
import { parseConstraints, type ConstraintsFile } from '../domain/constraints';
import { etagOf as etag } from '../domain/etag';
import { LineSplicer, type Splice } from '../domain/line-splice';
import { normalizeName } from '../domain/names';
import { communityPythons } from '../domain/pythons';
import { applyLineChanges, planLines, type LineChange, type RolloutLines } from '../domain/rollout-lines';
import { currentPercent, type Rollout } from '../domain/rollout';
import { sameVersion } from '../domain/versions';
import type { BaseOverride, EmergencyPin, LineOverride, StoredBase } from '../store/base-store';
import type { Assignment, RunCaps } from '../store/telemetry-store';
import { segmentPolicyOf, type SegmentPolicy } from '../domain/segments';

/** An active or paused rollout as the hot path needs it: which lines each arm gets. */
export interface LiveRollout {
  id: string;
  library: string;
  /** The spelling used in the base file (the rollout's own when the base lacks it). */
  name: string;
  key: string;
  branch: string;
  stable: string;
  candidate: string;
  salt: string;
  /** Its bucket of a machine (domain/bucketing.ts; by its salt). */
  bucket: Bucketer;
  stageIndex: number;
  percent: number;
  /** The rollout's caps for segment evidence (ingestion). */
  segments: SegmentPolicy;
  /** Its run caps per machine and per source (ingestion, docs/trust.md). */
  caps: RunCaps;
  /** Lines the candidate arm gets instead of the base's (stable → candidate). */
  candidateChanges: LineChange[];
  /** Lines the control arm gets instead of the base's (the base pins the candidate there). */
  controlChanges: LineChange[];
  /** Pythons a stable line covers on which the candidate is not served (it does not support them). */
  keptPythons: string[];
  /** The community Pythons the rollout concerns; reports from the others do not count for it. */
  servedPythons: string[];
  /** Every community Python of the branch. */
  pythons: string[];
  /** `diverged`: the base now pins neither version on the lines concerned; nothing is overridden. */
  status: 'running' | 'diverged';
}

export interface PinEntry {
  library: string;
  key: string;
  branch: string;
  /** The version this machine is served on the Pythons the rollout concerns. */
  version: string;
  stable: string;
  candidate: string;
  arm: 'candidate' | 'control';
  /** This machine's file differs from the base for this library. */
  overridden: boolean;
  /** Pythons that keep the stable whatever the arm. */
  keptPythons: string[];
  rolloutId: string;
  stage: number;
  percent: number;
}

/** An emergency pin as served: the stable for every machine while the base pins the candidate. */
export interface EmergencyPinView {
  rolloutId: string;
  library: string;
  key: string;
  branch: string;
  stable: string;
  candidate: string;
  since: number;
  reason: string;
  /** False once the base no longer pins the candidate (the pin then does nothing and is dropped). */
  inForce: boolean;
}

export interface MachineConstraints {
  /**
   * The file as UTF-8, in pieces to send one after the other (domain/line-splice.ts): the stable
   * file, or the effective base with this machine's arms' lines spliced in. `bodyOf()` joins them.
   */
  chunks: readonly Buffer[];
  /** Its size in bytes. */
  length: number;
  /**
   * The stable file's (a hash of its text), or a hash of the stable's ETag and the lines spliced
   * in: the same for the same bytes in every process and snapshot, different when they differ.
   */
  etag: string;
  /** Libraries whose lines differ from the base for this machine (rollouts and emergency pins). */
  overrides: { library: string; version: string }[];
}

/** A machine's constraints file in one buffer. */
export function bodyOf(c: Pick<MachineConstraints, 'chunks' | 'length'>): Buffer {
  return c.chunks.length === 1 ? c.chunks[0]! : Buffer.concat(c.chunks, c.length);
}

interface Rendered {
  text: string;
  body: Buffer;
  etag: string;
}

const render = (text: string): Rendered => ({ text, body: Buffer.from(text), etag: etag(text) });

/** Rendered combinations kept per branch: the last 512, and no more than 16 MiB of bodies. */
const MAX_COMBOS = 512;
const MAX_COMBO_BYTES = 16 * 2 ** 20;

/** A line one arm of a live rollout replaces: `slot` orders the lines any arm replaces, `id` names it in the snapshot. */
interface ArmSplice { slot: number; id: number; splice: Splice }

/** The rendered combinations of a branch: an LRU bounded by count and by the bytes of their bodies (a body over that bound is not kept). */
function comboCache(): LRUCache<string, { chunks: readonly Buffer[]; length: number; etag: string }> {
  return new LRUCache({ max: MAX_COMBOS, maxSize: MAX_COMBO_BYTES, sizeCalculation: (v) => Math.max(1, v.length) });
}

/**
 * Combinations asked for once, by key only: a combination is kept in comboCache the second
 * time it is asked for. With many live rollouts nearly every machine has a combination of its
 * own, and keeping each one's body only to evict it again costs more than it saves.
 */
function seenOnce(): LRUCache<string, true> {
  return new LRUCache({ max: 4 * MAX_COMBOS });
}

function linesSpec(o: Pick<LineOverride, 'key' | 'stable' | 'candidate' | 'requiresPython' | 'stableRequiresPython' | 'pythons'>, pythons: string[]): RolloutLines {
  return {
    key: o.key, stable: o.stable, candidate: o.candidate,
    pythons: o.pythons.length > 0 ? o.pythons : pythons,
    candidateRequiresPython: o.requiresPython, stableRequiresPython: o.stableRequiresPython,
  };
}

/** Rollout fields → the line plan's input. */
export function rolloutLines(r: Pick<Rollout, 'key' | 'stable' | 'candidate' | 'requiresPython' | 'stableRequiresPython' | 'pythons'>, pythons: string[]): RolloutLines {
  return linesSpec(r, pythons);
}

export interface BranchInput {
  base: StoredBase | null;
  overrides: Map<string, BaseOverride>;
  emergency: Map<string, EmergencyPin>;
}

/**
 * One branch as served: its base with promotions and emergency pins applied (what every
 * machine gets), and the live rollouts' line changes for each arm. Per request it hashes
 * the machine id once per live rollout of the branch (which arm of each it is in) and splices
 * the lines its arms replace into the effective base, cut once per snapshot at every line an
 * arm replaces (domain/line-splice.ts); the last few hundred combinations are kept.
 */
export class BranchSnapshot {
  /** The stored base, parsed. */
  readonly base: ConstraintsFile;
  /** The base with promotion overrides and emergency pins: what rollouts start from. */
  readonly effective: ConstraintsFile;
  readonly stable: Rendered;
  readonly baseEtag: string;
  readonly pythons: string[];
  readonly live: LiveRollout[];
  readonly emergency: EmergencyPinView[];
  /** Promotions not yet in the file. */
  readonly promoted: BaseOverride[];
  readonly source: string;
  readonly importedAt: number;
  private readonly emergencyOverrides: { library: string; version: string }[];
  private readonly splicer: LineSplicer;
  /** Per live rollout (same order): the lines each arm replaces, by slot. */
  private readonly arms: { candidate: ArmSplice[]; control: ArmSplice[] }[];
  private readonly slots: number;
  private readonly combos = comboCache();
  private readonly asked = seenOnce();

  constructor(readonly branch: string, input: BranchInput, rollouts: Rollout[], configuredPythons: readonly string[] | null) {
    const text = input.base?.text ?? '';
    this.base = parseConstraints(text);
    this.source = input.base?.source ?? '';
    this.importedAt = input.base?.importedAt ?? 0;
    this.pythons = communityPythons(this.base, configuredPythons);
    const changes: LineChange[] = [];
    this.promoted = [];
    for (const o of input.overrides.values()) {
      const c = planLines(this.base, linesSpec(o, this.pythons)).candidate;
      if (c.length > 0) this.promoted.push(o);
      changes.push(...c);
    }
    this.emergency = [];
    this.emergencyOverrides = [];
    for (const p of input.emergency.values()) {
      const c = planLines(this.base, linesSpec(p, this.pythons)).control;
      this.emergency.push({
        rolloutId: p.rolloutId, library: p.name, key: p.key, branch, stable: p.stable, candidate: p.candidate,
        since: p.at, reason: p.reason, inForce: c.length > 0,
      });
      if (c.length > 0) this.emergencyOverrides.push({ library: p.name, version: p.stable });
      changes.push(...c);
    }
    const stableText = changes.length === 0 ? text : applyLineChanges(this.base, dedupe(changes));
    this.effective = changes.length === 0 ? this.base : parseConstraints(stableText);
    this.baseEtag = input.base?.etag ?? '';
    this.stable = changes.length === 0 && this.baseEtag ? { text, body: Buffer.from(text), etag: this.baseEtag } : render(stableText);
    this.live = rollouts.map((r) => {
      const plan = planLines(this.effective, rolloutLines(r, this.pythons));
      const idx = this.effective.index.get(r.key);
      return {
        id: r.id, library: r.library, key: r.key, branch, stable: r.stable, candidate: r.candidate, salt: r.salt, bucket: bucketerOf(r.salt),
        stageIndex: r.stageIndex, percent: currentPercent(r),
        name: idx ? this.effective.lines[idx[0]!]!.pin!.name : r.library,
        candidateChanges: plan.candidate, controlChanges: plan.control,
        keptPythons: plan.kept,
        servedPythons: plan.served,
        pythons: this.pythons,
        segments: segmentPolicyOf(r.policy),
        caps: { machine: r.policy.cap, source: r.policy.sourceCap },
        status: plan.candidate.length + plan.control.length > 0 ? 'running' : 'diverged',
      };
    });
    this.splicer = new LineSplicer(this.effective);
    const lines = [...new Set(this.live.flatMap((r) => [...r.candidateChanges, ...r.controlChanges].map((c) => c.index)))].sort((a, b) => a - b);
    const slotOf = new Map(lines.map((index, slot) => [index, slot]));
    let id = 0;
    const arm = (changes: LineChange[]) => changes.map((c) => ({ slot: slotOf.get(c.index)!, id: id++, splice: this.splicer.splice(c) }));
    this.arms = this.live.map((r) => ({ candidate: arm(r.candidateChanges), control: arm(r.controlChanges) }));
    this.slots = lines.length;
  }

  pinsFor(machine: string): PinEntry[] {
    const m = new MachineHash(machine);
    return this.live.map((r) => {
      const candidate = inCandidateArm(r.bucket(m), r.percent);
      return {
        library: r.library, key: r.key, branch: r.branch, version: candidate ? r.candidate : r.stable, stable: r.stable, candidate: r.candidate,
        arm: candidate ? 'candidate' : 'control',
        overridden: (candidate ? r.candidateChanges : r.controlChanges).length > 0,
        keptPythons: r.keptPythons, rolloutId: r.id, stage: r.stageIndex, percent: r.percent,
      };
    });
  }

  constraintsFor(machine: string | null): MachineConstraints {
    const base = { chunks: [this.stable.body], length: this.stable.body.length, etag: this.stable.etag, overrides: this.emergencyOverrides };
    if (machine === null || this.live.length === 0) return base;
    let chosen: (ArmSplice | undefined)[] | null = null;
    let overrides: { library: string; version: string }[] | null = null;
    const m = new MachineHash(machine);
    for (let i = 0; i < this.live.length; i++) {
      const r = this.live[i]!;
      const arms = this.arms[i]!;
      if (arms.candidate.length === 0 && arms.control.length === 0) continue; // diverged: no hash needed
      const candidate = inCandidateArm(r.bucket(m), r.percent);
      const arm = candidate ? arms.candidate : arms.control;
      if (arm.length === 0) continue;
      chosen ??= new Array<ArmSplice | undefined>(this.slots);
      for (const s of arm) chosen[s.slot] = s; // a later rollout's line wins, as in applyLineChanges
      (overrides ??= [...this.emergencyOverrides]).push({ library: r.library, version: candidate ? r.candidate : r.stable });
    }
    if (overrides === null) return base;
    const picked = chosen!.filter((s): s is ArmSplice => s !== undefined); // in slot order: by line
    const key = picked.map((s) => s.id).join(',');
    let hit = this.combos.get(key);
    if (!hit) {
      const chunks = this.splicer.chunks(picked.map((s) => s.splice));
      hit = { chunks, length: chunks.reduce((n, c) => n + c.length, 0), etag: etag(this.stable.etag + picked.map((s) => s.splice.tag).join('')) };
      if (this.asked.has(key)) this.combos.set(key, hit);
      else this.asked.set(key, true);
    }
    return { ...hit, overrides };
  }

  /** How many rendered combinations are kept (tests). */
  get cachedCombinations(): number {
    return this.combos.size;
  }
}

function dedupe(changes: LineChange[]): LineChange[] {
  const seen = new Map<number, LineChange>();
  for (const c of changes) if (!seen.has(c.index)) seen.set(c.index, c);
  return [...seen.values()];
}

/**
 * An immutable view of everything pins are computed from, for every branch: built on each
 * change (see PinsCache), never touched by a request except to read.
 */
export class PinsSnapshot {
  readonly branchNames: ReadonlySet<string>;
  /** Every live rollout of every branch. */
  readonly live: LiveRollout[];
  private readonly resolved = new Map<string, string | null>();

  constructor(readonly version: number, readonly branches: ReadonlyMap<string, BranchSnapshot>) {
    this.branchNames = new Set(branches.keys());
    this.live = [...branches.values()].flatMap((b) => b.live);
  }

  static build(
    version: number,
    inputs: ReadonlyMap<string, BranchInput>,
    rollouts: Rollout[],
    configuredPythons: readonly string[] | null = null,
  ): PinsSnapshot {
    const live = rollouts.filter((r) => r.state === 'active' || r.state === 'paused');
    const out = new Map<string, BranchSnapshot>();
    for (const [branch, input] of inputs) {
      out.set(branch, new BranchSnapshot(branch, input, live.filter((r) => r.branch === branch), configuredPythons));
    }
    return new PinsSnapshot(version, out);
  }

  /** The branch a request names (`master`, `stable/2025.2`, `2025.2`, ...; none: master), or null. */
  resolve(requested: string | null | undefined): BranchSnapshot | null {
    const key = requested ?? '';
    let name = this.resolved.get(key);
    if (name === undefined) {
      name = resolveBranch(requested, this.branchNames);
      // Bounded: at most 1,000 short names (real ones are under 30 characters).
      if (key.length <= 64 && this.resolved.size < 1000) this.resolved.set(key, name);
    }
    return name === null ? null : this.branches.get(name)!;
  }

  /** master (or, with none served, an empty branch). */
  get master(): BranchSnapshot {
    return this.branches.get(MASTER) ?? this.empty();
  }

  private empty(): BranchSnapshot {
    return new BranchSnapshot(MASTER, { base: null, overrides: new Map(), emergency: new Map() }, [], null);
  }

  /**
   * Which arm a report belongs to for each live rollout of a library it concerns. The
   * version is the one installed; when the library is missing from `installed` (an `error`
   * report: the install failed), the version the client says it pinned (`pinned`), and
   * failing that, for an `error` report only, the version this machine is served now.
   * A report from a Python the rollout keeps on the stable does not concern it; with the
   * same library rolling out on several branches, a report counts for the branch it names,
   * or else for the rollouts whose versions it ran.
   */
  assign(
    machine: string, installed: Map<string, string>, pinned?: Map<string, string>, outcome?: string,
    context: { python?: string; branch?: string } = {},
  ): Assignment[] {
    const out: Assignment[] = [];
    const py = /^(\d+\.\d+)/.exec(context.python ?? '')?.[1];
    const branch = context.branch !== undefined ? (resolveBranch(context.branch, this.branchNames) ?? '') : null;
    const candidates = branch === null ? this.live : this.live.filter((r) => r.branch === branch);
    const m = new MachineHash(machine);
    for (const r of candidates) {
      if (py && r.pythons.includes(py) && !r.servedPythons.includes(py)) continue;
      const inCandidate = inCandidateArm(r.bucket(m), r.percent);
      let v = installed.get(r.key) ?? pinned?.get(r.key);
      if (v === undefined && outcome === 'error') v = inCandidate ? r.candidate : r.stable;
      if (v === undefined) continue;
      const isC = sameVersion(v, r.candidate);
      const isS = sameVersion(v, r.stable);
      if (!isC && !isS && branch === null && this.live.some((o) => o !== r && o.key === r.key && (sameVersion(v!, o.stable) || sameVersion(v!, o.candidate)))) {
        continue; // another branch's rollout of the same library
      }
      let arm: Assignment['arm'] = 'mismatch';
      if (inCandidate && isC) arm = 'candidate';
      else if (!inCandidate && isS) arm = 'control';
      out.push({ rolloutId: r.id, arm, stage: r.stageIndex, segments: r.segments, caps: r.caps });
    }
    return out;
  }

  /** A library's spelling in a branch's base, for messages. */
  nameIn(branch: string, library: string): string {
    const b = this.branches.get(branch);
    const idx = b?.effective.index.get(normalizeName(library));
    return idx ? b!.effective.lines[idx[0]!]!.pin!.name : library;
  }
}
