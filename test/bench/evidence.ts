/**
 * Evidence benchmark (bounded; issue 15): what an evaluation costs as machine-days grow, and
 * whether ingestion keeps its rate while one live rollout fills up.
 *   node dist/test/bench/evidence.js [--sizes 10000,100000,1000000] [--rollouts 50]
 *     [--evaluations 10] [--growth 300000] [--part all|evaluation|growth] [--write-readme]
 *  - evaluation: a private redis-server (no persistence); `size` machine-days spread over
 *    `rollouts` active rollouts go in through TelemetryStore.ingest (the real ingest.lua and fold, with
 *    segment plans, sources, a cap hit on every 20th machine-day); then every rollout is
 *    evaluated `evaluations` times as the controller does (evidence() + decide()): p50 / p99,
 *    and, for contrast, the machine-day read the evaluation made before (≤ 10 rollouts, once).
 *    Redis memory after loading, with what the machine records, the arm aggregates and the segment evidence take.
 *    Then `single` machine-days in one rollout, evaluated as often as all of them were.
 *  - growth: the real server (`node dist/server/main.js` on its embedded Redis, AOF
 *    everysec as `make run`), one live rollout, `growth` reports of new machines through
 *    `POST /v1/reports` (50 a request, 10 connections, a CI reporter token), each a new
 *    machine-day, while the controller evaluates after every batch: the rate per 50k.
 * Everything binds 127.0.0.1 or a unix socket in a temp dir and stops by itself.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { bucketOf, inCandidateArm } from '../../server/domain/bucketing';
import { decide, type DecisionInput } from '../../server/domain/decision';
import { resolvePolicy } from '../../server/domain/policy';
import { segmentPolicyOf } from '../../server/domain/segments';
import { createRedis, type DcRedis } from '../../server/store/redis';
import { TelemetryStore, type IngestItem } from '../../server/store/telemetry-store';
import { REPORTER_TOKEN, ROOT, spawnServer } from '../support/process';
import { children, startRedisServer } from './processes';
import { replaceSection } from './readme';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const SIZES = opt('sizes', '10000,100000,1000000').split(',').map(Number).filter((n) => n > 0);
const ROLLOUTS = Number(opt('rollouts', '50'));
/** Then all in one rollout (the case where the machine-day read cost most): 0 skips it. */
const SINGLE = Number(opt('single', '1000000'));
const EVALUATIONS = Number(opt('evaluations', '10'));
const GROWTH = Number(opt('growth', '300000'));
const PART = opt('part', 'all');
const ADMIN = 'bench-admin-token-0123456789';

const DAYS = ['2025-03-03', '2025-03-04', '2025-03-05', '2025-03-06', '2025-03-07', '2025-03-08', '2025-03-09'];
const PROJECTS = ['nova', 'neutron', 'cinder', 'glance', 'keystone'];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(bytes < 10 * 2 ** 20 ? 1 : 0)} MB`;
const ms = (x: number) => (x < 10 ? x.toFixed(2) : fmt(x));
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

/** A redis-server of its own on a unix socket, nothing persisted, and a connection to it. */
async function privateRedis(dir: string): Promise<{ redis: DcRedis; stop: () => Promise<void> }> {
  const server = await startRedisServer(dir);
  const redis = createRedis({ socket: server.socket });
  return {
    redis,
    stop: async () => {
      await redis.quit().catch(() => undefined);
      server.stop();
    },
  };
}

/** Σ MEMORY USAGE of the keys matching `pattern`. */
async function keysMemory(redis: DcRedis, pattern: string): Promise<number> {
  let cursor = '0';
  let sum = 0;
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const k of found) sum += Number(await redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0'));
  } while (cursor !== '0');
  return sum;
}

async function usedMemory(redis: DcRedis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

interface EvalRow { size: number; rollouts: number; load: number; memory: number; md: number; agg: number; seg: number; p50: number; p99: number; oldP50: number; oldMax: number; oldN: number; verdictsDiffer: number }

async function evaluation(): Promise<EvalRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'depcanary-bench-evidence-'));
  const { redis, stop } = await privateRedis(dir);
  const rows: EvalRow[] = [];
  try {
    const policy = resolvePolicy(3);
    const segments = segmentPolicyOf(policy);
    const caps = { machine: policy.cap, source: policy.sourceCap };
    const layouts = SIZES.map((size) => ({ size, rollouts: ROLLOUTS }));
    if (SINGLE > 0) layouts.push({ size: SINGLE, rollouts: 1 });
    for (const { size, rollouts } of layouts) {
      const ids = Array.from({ length: rollouts }, (_, r) => `ro${r}`);
      await redis.flushall();
      const store = new TelemetryStore(redis, 'bench');
      process.stderr.write(`evaluation: loading ${fmt(size)} machine-days into ${rollouts} rollouts\n`);
      const t0 = performance.now();
      let batch: IngestItem[] = [];
      let reports = 0;
      // two batches in flight: the next one is built while Redis runs the last
      let inFlight: Promise<unknown> = Promise.resolve();
      const flush = async () => {
        reports += batch.length;
        const sent = store.ingest(batch, Date.UTC(2025, 2, 9));
        sent.catch(() => undefined); // awaited below, after the one before it
        batch = [];
        await inFlight;
        inFlight = sent;
      };
      for (let j = 0; j < size; j++) {
        const r = j % rollouts;
        const local = Math.floor(j / rollouts);
        const mi = local >> 1; // each machine: two UTC days of the rollout
        const day = DAYS[(mi % 6) + (local & 1)]!;
        const runs = local % 20 === 0 ? 6 : 1; // every 20th machine-day passes the cap (5)
        for (let k = 0; k < runs; k++) {
          const h = ((j * 31 + k) * 2654435761) >>> 0;
          batch.push({
            id: randomUUID(), machine: `m${mi}`, day, outcome: h % 100 < 4 ? 'fail' : h % 100 < 5 ? 'error' : 'pass',
            failedTests: [], json: '{}', project: PROJECTS[mi % PROJECTS.length], python: '3.11.7', source: `net:${mi % 20000}`,
            assignments: [{ rolloutId: ids[r]!, arm: mi % 10 === 0 ? 'candidate' : 'control', stage: 0, segments, caps }],
          });
        }
        if (batch.length >= 1000) await flush();
      }
      await flush();
      await inFlight;
      const load = reports / ((performance.now() - t0) / 1000);
      const memory = await usedMemory(redis);
      // per machine: its records (evidence layout 3; layout 2 kept machine-days and machine sets apart)
      const md = await keysMemory(redis, 'bench:ro:*:mr');
      const agg = await keysMemory(redis, 'bench:ro:*:arm:*');
      const seg = await keysMemory(redis, 'bench:ro:*:sg:*');
      const rollout: DecisionInput['rollout'] = { stages: [10, 50, 100], stageIndex: 0, stageEnteredAt: Date.UTC(2025, 2, 3), q0: 0.05, policy, state: 'active', frozen: false };
      const now = Date.UTC(2025, 2, 9, 12);
      const times: number[] = [];
      const verdicts = new Map<string, string>();
      // as many evaluations whatever the layout
      for (let e = 0; e < (EVALUATIONS * ROLLOUTS) / rollouts; e++) {
        for (const id of ids) {
          const a = performance.now();
          const d = decide({ now, rollout, evidence: await store.evidence(id, policy.cap) });
          times.push(performance.now() - a);
          verdicts.set(id, `${d.verdict}/${d.rule}`);
        }
      }
      const old: number[] = [];
      let verdictsDiffer = 0;
      for (const id of ids.slice(0, 10)) {
        const a = performance.now();
        const d = decide({ now, rollout, evidence: await store.evidence(id, policy.cap, 'machine-days') });
        old.push(performance.now() - a);
        if (verdicts.get(id) !== `${d.verdict}/${d.rule}`) verdictsDiffer++;
      }
      const row = { size, rollouts, load, memory, md, agg, seg, p50: quantile(times, 0.5), p99: quantile(times, 0.99), oldP50: quantile(old, 0.5), oldMax: Math.max(...old), oldN: old.length, verdictsDiffer };
      process.stderr.write(`  ${JSON.stringify(row)}\n`);
      rows.push(row);
    }
  } finally {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

interface GrowthResult { chunks: number[]; total: number; seconds: number; rss: number; hwm: number; redisMemory: number; machineDays: number; errors: number; evaluations: number }

async function growth(): Promise<GrowthResult> {
  const dir = mkdtempSync(join(tmpdir(), 'depcanary-bench-growth-'));
  const srv = await spawnServer({ DEPCANARY_DATA_DIR: dir, DEPCANARY_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'error', DEPCANARY_CONSTRAINTS_FILE: join(ROOT, 'data', 'upper-constraints.txt') });
  children.add(srv.child); // its embedded Redis stops with it
  const redis = createRedis({ socket: join(dir, 'redis', 'redis.sock') });
  redis.on('error', () => undefined);
  try {
    const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
    // one CI reporter token is one source: its cap is turned off so that every report counts
    const res = await fetch(`${srv.url}/v1/rollouts`, { method: 'POST', headers: auth, body: JSON.stringify({ library: 'oslo.log', candidate: '8.4.0', stages: [10, 100], policy: { sourceCap: 0 } }) });
    if (res.status !== 201) throw new Error(`could not create a rollout: ${res.status} ${await res.text()}`);
    const created = (await res.json()) as { rollout?: { id: string; salt: string; stable: string } } & { id?: string; salt?: string; stable?: string };
    const r = created.rollout ?? (created as { id: string; salt: string; stable: string });
    const report = (machine: string) => ({
      id: randomUUID(), machine, outcome: 'pass', installed: { 'oslo.log': inCandidateArm(bucketOf(r.salt, machine), 10) ? '8.4.0' : r.stable },
      project: 'nova', env: 'py311', python: '3.11.7', platform: 'linux-x86_64', durationMs: 84000, failedTests: [], finishedAt: new Date().toISOString(),
    });
    const CHUNK = 50_000;
    const chunks: number[] = [];
    let sent = 0;
    let errors = 0;
    let chunkStart = performance.now();
    const t0 = chunkStart;
    const worker = async () => {
      while (sent < GROWTH) {
        const n = Math.min(50, GROWTH - sent);
        sent += n;
        const body = JSON.stringify({ reports: Array.from({ length: n }, () => report(randomUUID())) });
        const p = await fetch(`${srv.url}/v1/reports`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${REPORTER_TOKEN}` }, body });
        if (p.status !== 202 && p.status !== 200) errors++;
        await p.arrayBuffer();
        if (Math.floor(sent / CHUNK) > chunks.length && chunks.length < Math.floor(GROWTH / CHUNK)) {
          const now = performance.now();
          chunks.push(CHUNK / ((now - chunkStart) / 1000));
          process.stderr.write(`growth: ${fmt(sent)} reports, last 50k at ${fmt(chunks[chunks.length - 1]!)}/s\n`);
          chunkStart = now;
        }
      }
    };
    await Promise.all(Array.from({ length: 10 }, worker));
    const seconds = (performance.now() - t0) / 1000;
    const status = readFileSync(`/proc/${srv.child.pid}/status`, 'utf8');
    const kb = (f: string) => Number(new RegExp(`${f}:\\s+(\\d+) kB`).exec(status)![1]) * 1024;
    const store = new TelemetryStore(redis, 'dc');
    const machineDays = (await store.machineDays(r.id, 'control')).length + (await store.machineDays(r.id, 'candidate')).length;
    // evaluations the controller made meanwhile (every one is counted, holds included)
    const metrics = await (await fetch(`${srv.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
    const evaluations = [...metrics.matchAll(/^depcanary_decisions_total\{[^}]*\} (\d+)/gm)].reduce((s, m) => s + Number(m[1]), 0);
    return { chunks, total: GROWTH, seconds, rss: kb('VmRSS'), hwm: kb('VmHWM'), redisMemory: await usedMemory(redis), machineDays, errors, evaluations };
  } finally {
    await redis.quit().catch(() => undefined);
    await srv.stop();
    children.delete(srv.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const measured = `Measured ${new Date().toISOString().slice(0, 10)} with \`node dist/test/bench/evidence.js\` on this 2-core machine (shared: other work was running; figures are from one run).`;
  const write = (section: string, lines: string[]) => {
    const table = [measured, '', ...lines].join('\n').trimEnd();
    console.log(table);
    if (args.includes('--write-readme')) replaceSection(join(ROOT, 'README.md'), section, table);
  };
  if (PART === 'all' || PART === 'evaluation') {
    const rows = await evaluation();
    const lines = [
      `**Evaluation** (evidence() + decide(), as the controller runs it after a batch) with the machine-days spread over ${ROLLOUTS} active rollouts, each evaluated ${EVALUATIONS}× (${fmt(EVALUATIONS * ROLLOUTS)} evaluations), then all in one rollout evaluated as often; before: the machine-day read it replaces (≤ 10 rollouts, once each). Loaded through TelemetryStore.ingest (the real ingest.lua with segment plans; 20,000 sources; every 20th machine-day past the cap).`,
      '',
      '| machine-days | rollouts | reports loaded/s | Redis memory | of it machine records (machine-days and all else per machine) / arm aggregates / segment evidence | evaluation p50 / p99 ms | before: machine-day read p50 / max ms |',
      '|---|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${fmt(r.size)} | ${r.rollouts} | ${fmt(r.load)} | ${mb(r.memory)} | ${mb(r.md)} / ${mb(r.agg)} / ${mb(r.seg)} | ${ms(r.p50)} / ${ms(r.p99)} | ${ms(r.oldP50)} / ${ms(r.oldMax)} |`),
      '',
      'The rest of the memory is what every report keeps whatever the rollouts: its id for 35 days (replays count once), the machine\'s last 50 reports, the fleet history.',
      '',
    ];
    const bad = rows.reduce((s, r) => s + r.verdictsDiffer, 0);
    if (bad > 0) {
      console.error(`${bad} evaluations gave another verdict from the machine-days`);
      process.exitCode = 1;
    }
    const top = Math.max(...rows.map((r) => r.size));
    const worst = Math.max(...rows.filter((r) => r.size === top).map((r) => r.p99));
    lines.push(`Evaluation p99 at ${fmt(top)} machine-days: **${ms(worst)} ms** at worst (target < 50 ms at 1,000,000); the same verdicts from both reads in every contrast evaluation.`);
    write('bench:evidence-evaluation', lines);
  }
  if (PART === 'all' || PART === 'growth') {
    const g = await growth();
    const first = g.chunks[0]!;
    const lastRate = g.chunks[g.chunks.length - 1]!;
    write('bench:evidence-growth', [
      `**Ingestion while one live rollout fills up**: ${fmt(g.total)} reports of new machines through \`POST /v1/reports\` (50 a request, 10 connections) into one rollout at 10%, the controller evaluating after every batch (${fmt(g.evaluations)} evaluations); ${fmt(g.machineDays)} machine-days stored, ${g.errors} failed requests.`,
      '',
      '| 50k reports | ' + g.chunks.map((_, i) => `${fmt(i * 50)}k–${fmt((i + 1) * 50)}k`).join(' | ') + ' |',
      '|---|' + g.chunks.map(() => '---').join('|') + '|',
      '| reports/s | ' + g.chunks.map(fmt).join(' | ') + ' |',
      '',
      `Last 50k at **${(lastRate / first).toFixed(2)}×** the rate of the first (target ≥ 0.5); ${fmt(g.total / g.seconds)} reports/s overall; at the end the server held ${mb(g.rss)} (peak ${mb(g.hwm)}), its Redis ${mb(g.redisMemory)}.`,
    ]);
    if (g.errors > 0 || g.machineDays !== g.total) process.exitCode = 1;
  }
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
