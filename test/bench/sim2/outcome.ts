/**
 * The outcome of one simulated run of v2: a deterministic function of the run's seed, the
 * world and the version it ran. Every uniform is drawn in a fixed order whatever the
 * version, so a run differs between the stable and the candidate only by the candidate's
 * effect (common random numbers between the two rules and between the arms).
 */
import { FLEET2, INVENTED_TEST, K_CLUSTER, K_EPISODE, K_FAKE, K_NORMAL, K_SPAM, pickAlias, type Day2, type World2 } from './fleet';

const { imul, exp, floor } = Math;

export interface RunOutcome {
  /** 0 pass, 1 fail, 2 error. */
  result: 0 | 1 | 2;
  /** Failing test ids (project-local indices), ids[0 .. n). */
  n: number;
  ids: Int32Array;
}

export function newOutcome(): RunOutcome {
  return { result: 0, n: 0, ids: new Int32Array(256) };
}

let state = 0;
function next(): number {
  state = (state + 0x6d2b79f5) | 0;
  let t = state;
  t = imul(t ^ (t >>> 15), t | 1);
  t ^= t + imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

function add(o: RunOutcome, id: number): void {
  for (let i = 0; i < o.n; i++) if (o.ids[i] === id) return;
  if (o.n < o.ids.length) o.ids[o.n++] = id;
}

function addAll(o: RunOutcome, ids: ArrayLike<number>): void {
  for (let i = 0; i < ids.length; i++) add(o, ids[i]!);
}

/** Fills `o` with event e of day `d` (day index dayNo from the rollout start) on the candidate (onC) or the stable. */
export function outcome2(w: World2, d: Day2, dayNo: number, e: number, onC: boolean, o: RunOutcome): void {
  o.n = 0;
  o.result = 0;
  const kind = d.kind[e]!;
  const project = d.project[e]!;
  const T = FLEET2.testsPerProject;
  if (kind !== K_NORMAL) {
    if (kind === K_EPISODE) {
      // a broken checkout fails the same ids on every run, whatever the version
      const m = d.mach[e]!;
      for (let j = 0; j < FLEET2.episodeIds; j++) add(o, (m * 7919 + j * 104_729) % T);
    } else if (kind === K_SPAM || kind === K_CLUSTER) {
      addAll(o, w.trap.ids);
    } else if (kind === K_FAKE) {
      add(o, INVENTED_TEST);
    }
    o.result = 1;
    return;
  }
  state = d.seed[e]!;
  const s = w.scenario;
  const eff = s.effect;
  const times = eff.kind === 'times' ? eff.factor : 1;
  const mult = onC ? times : 1;
  const m = d.mach[e]!;
  const factor = m >= 0 ? w.dev.factor[m]! : 1;
  const pm = w.projects[project]!;
  let error = next() < FLEET2.setupErrorRate * mult;
  // flaky ids: Poisson(times · rate) draws, each kept on the stable with probability 1/times
  const lambda = factor * pm.rate * times;
  let n = 0;
  let p = exp(-lambda);
  let cdf = p;
  const u = next();
  while (u > cdf && n < 50) {
    n++;
    p *= lambda / n;
    cdf += p;
  }
  for (let k = 0; k < n; k++) {
    const id = pm.aliasId[pickAlias(pm.aliasProb, pm.aliasIdx, next())]!;
    const mark = next();
    if (onC || mark * times < 1) add(o, id);
  }
  for (const c of pm.clusters) if (next() < FLEET2.clusterRate * factor * mult) addAll(o, c);
  // healthy traps: both arms
  const uTrap = next();
  if (s.trap === 'flaky-id' && project === w.trap.project && uTrap < 0.12) addAll(o, w.trap.ids);
  if (s.trap === 'bad-commit' && project === w.trap.project && floor(dayNo) === 1) addAll(o, w.trap.ids);
  if (s.trap === 'other-bad' && project === w.trap.project && d.bBucket[e]! < 1000) addAll(o, w.trap.ids);
  // the candidate's effect
  const u1 = next();
  const u2 = next();
  if (onC) {
    switch (eff.kind) {
      case 'break-project':
        if (project === eff.project) addAll(o, w.trap.ids);
        break;
      case 'partial': {
        const at = eff.projects.indexOf(project);
        if (at >= 0) {
          // the project's broken ids, each failing on `share` of the runs
          const ids = w.trap.ids;
          if (u1 < eff.share) add(o, ids[at * eff.ids]!);
          if (eff.ids > 1 && u2 < eff.share) add(o, ids[at * eff.ids + 1]!);
        }
        break;
      }
      case 'plus':
        if (u1 < eff.points) add(o, floor(u2 * T));
        break;
      case 'python-error':
        if (d.python[e] === eff.python) error = true;
        break;
      case 'hard':
        error = true;
        break;
      default:
        break;
    }
  }
  if (error) {
    o.n = 0;
    o.result = 2;
  } else {
    o.result = o.n > 0 ? 1 : 0;
  }
}
