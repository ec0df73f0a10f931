/**
 * Simulation benchmark of the decision rule (DECISION.md, "The simulation benchmark").
 *
 *   npx tsc -p . && node dist/test/bench/decision-sim.js [--rollouts 1000] [--seed 1]
 *        [--scenarios none-2,x2-5,...] [--workers 2] [--q0 history|freeze] [--write-readme]
 *
 * Drives the real decide() (server/domain/decision, public import) over a seeded fleet and
 * the naive threshold rule over the same worlds; prints a markdown table (stdout) and,
 * with --write-readme, replaces README.md's section between the bench:decision markers.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { resolvePolicy } from '../../server/domain/policy';
import { buildWorld } from './sim/fleet';
import { markdownTable, summarize, type ScenarioResult } from './sim/metrics';
import { playDepcanary, playNaive, type Q0Mode, type RolloutResult } from './sim/play';
import { Rng, seedOf } from './sim/rng';
import { SCENARIOS, scenarioByName } from './sim/scenarios';
import { buildWorld2 } from './sim2/fleet';
import { markdownTable2, summarize2, type ScenarioResult2 } from './sim2/metrics';
import { playDepcanary2, playNaive2, type RolloutResult2 } from './sim2/play';
import { SCENARIOS2, scenario2ByName } from './sim2/scenarios';

export { SCENARIOS } from './sim/scenarios';
export { SCENARIOS2 } from './sim2/scenarios';
export type { ScenarioResult } from './sim/metrics';
export type { ScenarioResult2 } from './sim2/metrics';

/** Simulation v2 (structured fleet, segments) scenarios are named v2-…. */
export const isV2 = (name: string) => name.startsWith('v2-');

export const STAGES = [1, 10, 100];

export interface RunOptions {
  rollouts?: number;
  seed?: number;
  /** 'history' (default, the server's path: q0 from the fleet's week before) or 'freeze' (the fallback without history). */
  q0?: Q0Mode;
  onProgress?: (done: number, total: number) => void;
}

export interface RangeResult {
  depcanary: RolloutResult[];
  naive: RolloutResult[];
}

export interface RangeResult2 {
  depcanary: RolloutResult2[];
  naive: RolloutResult2[];
}

/**
 * Simulates rollouts [from, to) of one scenario under both rules. Rollout i's world depends
 * only on (seed, scenario, i), so ranges can run anywhere (e.g. in worker threads) and
 * merge to the same result.
 */
export function simulateRange(name: string, seed: number, from: number, to: number, q0: Q0Mode = 'history', onEach?: () => void): RangeResult {
  if (isV2(name)) return simulateRange2(name, seed, from, to, onEach);
  const scenario = scenarioByName(name);
  const si = SCENARIOS.indexOf(scenario);
  const policy = resolvePolicy(STAGES.length);
  const out: RangeResult = { depcanary: [], naive: [] };
  for (let i = from; i < to; i++) {
    const rng = new Rng(seedOf(seed, si, i));
    const world = buildWorld(scenario, `L-${seed}-${si}-${i}`, rng);
    out.depcanary.push(playDepcanary(world, scenario, policy, STAGES, q0));
    out.naive.push(playNaive(world, scenario, policy, STAGES));
    onEach?.();
  }
  return out;
}

/** v2: rollout i's world depends only on (seed, scenario, i), as for v1. */
export function simulateRange2(name: string, seed: number, from: number, to: number, onEach?: () => void): RangeResult2 {
  const scenario = scenario2ByName(name);
  const si = 100 + SCENARIOS2.indexOf(scenario);
  const policy = resolvePolicy(STAGES.length);
  const out: RangeResult2 = { depcanary: [], naive: [] };
  for (let i = from; i < to; i++) {
    const world = buildWorld2(scenario, new Rng(seedOf(seed, si, i)));
    out.depcanary.push(playDepcanary2(world, policy, STAGES));
    out.naive.push(playNaive2(world, policy, STAGES));
    onEach?.();
  }
  return out;
}

/** Simulates `rollouts` rollouts of one v2 scenario under both rules (deterministic per seed). */
export function runScenario2(name: string, opts: { rollouts?: number; seed?: number; onProgress?: (done: number, total: number) => void } = {}): ScenarioResult2 {
  const started = Date.now();
  const rollouts = opts.rollouts ?? 1000;
  let done = 0;
  const r = simulateRange2(name, opts.seed ?? 1, 0, rollouts, () => opts.onProgress?.(++done, rollouts));
  return finish2(name, r, (Date.now() - started) / 1000);
}

function finish2(name: string, r: RangeResult2, seconds: number): ScenarioResult2 {
  const scenario = scenario2ByName(name);
  return { scenario, depcanary: summarize2(r.depcanary, scenario), naive: summarize2(r.naive, scenario), seconds };
}

/** Simulates `rollouts` rollouts of one scenario under both rules (deterministic per seed). */
export function runScenario(name: string, opts: RunOptions = {}): ScenarioResult {
  const started = Date.now();
  const rollouts = opts.rollouts ?? 1000;
  let done = 0;
  const r = simulateRange(name, opts.seed ?? 1, 0, rollouts, opts.q0 ?? 'history', () => opts.onProgress?.(++done, rollouts));
  return finish(name, r, (Date.now() - started) / 1000);
}

function finish(name: string, r: RangeResult, seconds: number): ScenarioResult {
  const scenario = scenarioByName(name);
  return { scenario, depcanary: summarize(r.depcanary, scenario.truth), naive: summarize(r.naive, scenario.truth), seconds };
}

/** Runs one scenario split over `workers` threads (this file is the worker's entry too). */
async function runScenarioParallel(
  name: string, rollouts: number, seed: number, q0: Q0Mode, workers: number, onProgress: (done: number) => void,
): Promise<ScenarioResult | ScenarioResult2> {
  const started = Date.now();
  let done = 0;
  const chunks = Array.from({ length: workers }, (_, k) => [Math.floor((k * rollouts) / workers), Math.floor(((k + 1) * rollouts) / workers)] as const);
  const parts = await Promise.all(
    chunks.map(
      ([from, to]) =>
        new Promise<RangeResult>((resolve, reject) => {
          const w = new Worker(__filename, { workerData: { name, seed, from, to, q0 } });
          w.on('message', (m: { progress?: number; result?: RangeResult }) => {
            if (m.progress) onProgress((done += m.progress));
            if (m.result) resolve(m.result);
          });
          w.on('error', reject);
          w.on('exit', (code) => (code === 0 ? undefined : reject(new Error(`worker exited with ${code}`))));
        }),
    ),
  );
  const merged: RangeResult = { depcanary: parts.flatMap((p) => p.depcanary), naive: parts.flatMap((p) => p.naive) };
  const seconds = (Date.now() - started) / 1000;
  return isV2(name) ? finish2(name, merged as RangeResult2, seconds) : finish(name, merged, seconds);
}

function workerMain(): void {
  const { name, seed, from, to, q0 } = workerData as { name: string; seed: number; from: number; to: number; q0: Q0Mode };
  let pending = 0;
  const result = simulateRange(name, seed, from, to, q0, () => {
    if (++pending === 10) {
      parentPort!.postMessage({ progress: pending });
      pending = 0;
    }
  });
  if (pending) parentPort!.postMessage({ progress: pending });
  parentPort!.postMessage({ result });
}

export const README_START = '<!-- bench:decision:start -->';
export const README_END = '<!-- bench:decision:end -->';
export const README_V2 = 'bench:decision-v2';

/** Replaces the marked section of README.md (or appends just that section when absent). */
export function writeReadmeSection(readmePath: string, table: string, section = 'bench:decision'): void {
  const start = `<!-- ${section}:start -->`;
  const end = `<!-- ${section}:end -->`;
  const body = `${start}\n${table}\n${end}`;
  const text = existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : '';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  let next: string;
  if (a >= 0 && b > a) {
    next = text.slice(0, a) + body + text.slice(b + end.length);
  } else {
    const sep = text.length === 0 ? '' : text.endsWith('\n\n') ? '' : text.endsWith('\n') ? '\n' : '\n\n';
    next = `${text}${sep}## Decision benchmark\n\n${body}\n`;
  }
  writeFileSync(readmePath, next);
}

function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + __dirname);
    dir = up;
  }
  return dir;
}

interface Args { rollouts: number; seed: number; names: string[]; writeReadme: boolean; workers: number; q0: Q0Mode }

const ALL_NAMES = () => [...SCENARIOS.map((s) => s.name), ...SCENARIOS2.map((s) => s.name)];

function parseArgs(argv: string[]): Args {
  const out: Args = { rollouts: 1000, seed: 1, names: ALL_NAMES(), writeReadme: false, workers: Math.min(2, availableParallelism()), q0: 'history' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a.startsWith('--rollouts')) out.rollouts = Number(value());
    else if (a.startsWith('--seed')) out.seed = Number(value());
    else if (a.startsWith('--scenarios')) out.names = value().split(',').map((s) => (isV2(s.trim()) ? scenario2ByName(s.trim()) : scenarioByName(s.trim())).name);
    else if (a.startsWith('--suite')) {
      const v = value();
      if (!['v1', 'v2', 'all'].includes(v)) throw new Error('--suite is v1, v2 or all');
      out.names = ALL_NAMES().filter((n) => v === 'all' || (v === 'v2') === isV2(n));
    }
    else if (a.startsWith('--workers')) out.workers = Number(value());
    else if (a.startsWith('--q0')) {
      const v = value();
      if (v !== 'freeze' && v !== 'history') throw new Error('--q0 is history or freeze');
      out.q0 = v;
    }
    else if (a === '--write-readme') out.writeReadme = true;
    else throw new Error(`unknown argument ${a} (use --rollouts N, --seed N, --scenarios a,b, --suite v1|v2|all, --workers N, --q0 history|freeze, --write-readme)`);
  }
  if (!(Number.isInteger(out.rollouts) && out.rollouts > 0)) throw new Error('--rollouts must be a positive integer');
  if (!Number.isInteger(out.seed)) throw new Error('--seed must be an integer');
  if (!(Number.isInteger(out.workers) && out.workers > 0)) throw new Error('--workers must be a positive integer');
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const results: ScenarioResult[] = [];
  const results2: ScenarioResult2[] = [];
  for (const [k, name] of args.names.entries()) {
    const tag = `scenario ${k + 1}/${args.names.length} ${name}`;
    let shown = 0;
    const progress = (done: number) => {
      if (done - shown >= args.rollouts / 20 || done === args.rollouts) {
        shown = done;
        process.stderr.write(`\r${tag}: ${done}/${args.rollouts} rollouts`);
      }
    };
    const r =
      args.workers > 1
        ? await runScenarioParallel(name, args.rollouts, args.seed, args.q0, Math.min(args.workers, args.rollouts), progress)
        : isV2(name)
          ? runScenario2(name, { rollouts: args.rollouts, seed: args.seed, onProgress: progress })
          : runScenario(name, { rollouts: args.rollouts, seed: args.seed, q0: args.q0, onProgress: progress });
    process.stderr.write(`\r${tag}: ${args.rollouts}/${args.rollouts} rollouts in ${r.seconds.toFixed(0)} s\n`);
    if (isV2(name)) results2.push(r as ScenarioResult2);
    else results.push(r as ScenarioResult);
  }
  const seconds = (Date.now() - started) / 1000;
  const path = join(repoRoot(), 'README.md');
  if (results.length > 0) {
    const table = markdownTable(results, { rollouts: args.rollouts, seed: args.seed, q0: args.q0, seconds: results.reduce((s, r) => s + r.seconds, 0) });
    process.stdout.write(table + '\n');
    if (args.writeReadme) writeReadmeSection(path, table);
  }
  if (results2.length > 0) {
    const table = markdownTable2(results2, { rollouts: args.rollouts, seed: args.seed, seconds: results2.reduce((s, r) => s + r.seconds, 0) });
    process.stdout.write('\n' + table + '\n');
    if (args.writeReadme) writeReadmeSection(path, table, README_V2);
  }
  if (args.writeReadme) process.stderr.write(`wrote the decision benchmark sections of ${path} (${Math.round(seconds)} s in all)\n`);
}

if (!isMainThread && workerData && (workerData as { name?: string }).name) {
  workerMain();
} else if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`decision-sim: ${(e as Error).message}\n`);
    process.exit(2);
  });
}
