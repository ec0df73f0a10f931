/**
 * Scale benchmark (bounded; issue 15): what live rollouts, replicas and a large fleet cost.
 *   node dist/test/bench/scale.js [--seconds 10] [--rounds 3] [--part all|rollouts|store|pins|replicas|memory]
 *     [--machines 100000] [--memory-rollouts 500] [--pins-rate 2000] [--replica-rollouts 1] [--write-readme]
 *  - rollouts: one server (`node dist/server/main.js` on its embedded Redis, AOF everysec as
 *    `make run`), 1 and then 40 live rollouts at 10% that every report concerns: report
 *    ingestion (50 a request, a CI reporter token, 10 connections) and pins (`GET
 *    /v1/constraints.txt`, as the plugin asks, a new machine per request, 50 connections),
 *    median of `rounds` runs of `seconds` each, the server left to settle between runs.
 *  - store: report ingestion straight through TelemetryStore.ingest (the real ingest.lua and fold) on a
 *    private redis-server (no persistence), 1 and then 40 rollouts with segment evidence that
 *    every report concerns, batches of 50, 4 at once, 2,000 machines: reports/s and the CPU
 *    Redis and the counting process each spent per report (what the HTTP figures are made of).
 *  - pins (not in `all`, never written to the README): the pins half of `rollouts` alone, 1 and then
 *    40 live rollouts at 10%, no reports: to measure the constraints path without ingestion's load;
 *    each run then again paced at `pins-rate` requests/s, for the p99 below saturation.
 *  - replicas: one redis-server (AOF everysec) and 1, then 3 server processes on it, one live
 *    rollout (`replica-rollouts` of them, every report concerning each); the same load spread
 *    over the replicas (the same connections in all).
 *  - memory: one server, `memory-rollouts` live rollouts (one per library of
 *    data/upper-constraints.txt), `machines` new machines, each reporting once and one in 10
 *    asking for its constraints file first (10 of the rollouts' libraries installed, as a project uses a few
 *    of the constraints): the server's resident memory (and its peak) and its Redis' at the end.
 * Everything binds 127.0.0.1 or a unix socket in a temp dir and stops by itself.
 */
import autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { bucketOf, inCandidateArm } from '../../server/domain/bucketing';
import { resolvePolicy } from '../../server/domain/policy';
import { segmentPolicyOf } from '../../server/domain/segments';
import { createRedis } from '../../server/store/redis';
import { TelemetryStore, type IngestItem } from '../../server/store/telemetry-store';
import { REPORTER_TOKEN, ROOT, spawnServer } from '../support/process';
import { pacedGetsApart } from './paced-client';
import { children, startRedisServer } from './processes';
import { replaceSection } from './readme';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : dflt;
};
const SECONDS = Number(opt('seconds', '10'));
const ROUNDS = Number(opt('rounds', '3'));
const PART = opt('part', 'all');
const MACHINES = Number(opt('machines', '100000'));
const MEMORY_ROLLOUTS = Number(opt('memory-rollouts', '500'));
/** Live rollouts of the replicas part (every report concerns each). */
const REPLICA_ROLLOUTS = Number(opt('replica-rollouts', '1'));
if (!Number.isInteger(REPLICA_ROLLOUTS) || REPLICA_ROLLOUTS < 1 || REPLICA_ROLLOUTS > 500) {
  throw new Error(`--replica-rollouts must be a whole number from 1 to 500, not ${opt('replica-rollouts', '1')}`);
}
/** The pins part's paced rate (requests/s over all connections), below what one server answers here. */
const PINS_RATE = Number(opt('pins-rate', '2000'));
const ADMIN = 'bench-admin-token-0123456789';
const UC = join(ROOT, 'data', 'upper-constraints.txt');
/** The bench's reports come from one CI reporter token (one source): no source cap, so every one counts. */
const SERVER_ENV = {
  DEPCANARY_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'error', DEPCANARY_CONSTRAINTS_FILE: UC, DEPCANARY_POLICY: JSON.stringify({ sourceCap: 0 }),
};

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The libraries of the constraints file with their pinned versions (no environment markers). */
function libraries(): { library: string; stable: string }[] {
  const out: { library: string; stable: string }[] = [];
  for (const line of readFileSync(UC, 'utf8').split('\n')) {
    const m = /^([A-Za-z0-9._-]+)===([^;\s]+)$/.exec(line.trim());
    if (m) out.push({ library: m[1]!, stable: m[2]! });
  }
  return out;
}

interface Live { id: string; library: string; salt: string; stable: string; candidate: string; percent: number }

async function createRollouts(url: string, libs: { library: string; stable: string }[], percent = 10): Promise<Live[]> {
  const out: Live[] = [];
  const auth = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  for (let i = 0; i < libs.length; i += 20) {
    out.push(...await Promise.all(libs.slice(i, i + 20).map(async ({ library, stable }) => {
      // a release newer than the pin (the index is off: the bench names it)
      const candidate = `${/^\d+(\.\d+)*/.exec(stable)?.[0] ?? '0'}.9999`;
      const res = await fetch(`${url}/v1/rollouts`, { method: 'POST', headers: auth, body: JSON.stringify({ library, candidate, stages: [percent, 100], policy: { sourceCap: 0 } }) });
      if (res.status !== 201) throw new Error(`could not create the rollout of ${library}: ${res.status} ${await res.text()}`);
      const r = (await res.json()) as { id: string; salt: string; stable: string };
      return { id: r.id, library, salt: r.salt, stable: r.stable, candidate, percent };
    })));
  }
  return out;
}

/** What `machine` has installed of the given rollouts' libraries: its arm's version of each. */
function fleetOf(machine: string, live: Live[]): { machine: string; installed: Record<string, string> } {
  const installed: Record<string, string> = {};
  for (const r of live) installed[r.library] = inCandidateArm(bucketOf(r.salt, machine), r.percent) ? r.candidate : r.stable;
  return { machine, installed };
}

/** `n` new machines and what each has installed of the given rollouts' libraries. */
function fleet(n: number, live: Live[]): { machine: string; installed: Record<string, string> }[] {
  return Array.from({ length: n }, () => fleetOf(randomUUID(), live));
}

function report(m: { machine: string; installed: Record<string, string> }) {
  return {
    id: randomUUID(), machine: m.machine, outcome: Math.random() < 0.03 ? 'fail' : 'pass', installed: m.installed,
    project: 'nova', env: 'py311', python: '3.11.7', platform: 'linux-x86_64', durationMs: 84000, failedTests: [], finishedAt: new Date().toISOString(),
  };
}

type Result = { rps: number; p99: number; bad: number };

/** autocannon on each url at once (the connections split between them): summed rate, worst p99. */
async function cannon(urls: string[], connections: number, opts: (url: string) => autocannon.Options): Promise<Result> {
  const rs = await Promise.all(urls.map((url) => autocannon({ ...opts(url), connections: Math.max(1, Math.round(connections / urls.length)), duration: SECONDS })));
  for (const r of rs) {
    const odd = Object.entries(r.statusCodeStats ?? {}).filter(([code]) => !code.startsWith('2'));
    if (odd.length || r.errors || r.timeouts) process.stderr.write(`  ${r.url}: status ${JSON.stringify(Object.fromEntries(odd.map(([c, v]) => [c, v.count])))}, ${r.errors} errors, ${r.timeouts} timeouts\n`);
  }
  return {
    rps: rs.reduce((s, r) => s + r.requests.average, 0),
    p99: Math.max(...rs.map((r) => r.latency.p99)),
    bad: rs.reduce((s, r) => s + r.errors + r.timeouts + r.non2xx, 0),
  };
}

/** Reports of the given fleet, 50 a request, 10 connections: reports/s and request p99. */
function ingestion(urls: string[], machines: ReturnType<typeof fleet>): Promise<Result> {
  let i = 0;
  return cannon(urls, 10, (url) => ({
    url,
    requests: [{
      method: 'POST', path: '/v1/reports', headers: { 'content-type': 'application/json', authorization: `Bearer ${REPORTER_TOKEN}` },
      setupRequest: (r) => ({ ...r, body: JSON.stringify({ reports: Array.from({ length: 50 }, () => report(machines[i++ % machines.length]!)) }) }),
    }],
  })).then((r) => ({ ...r, rps: r.rps * 50 }));
}

/**
 * Pins as the plugin asks for them (`GET /v1/constraints.txt`), a new machine per request, 50
 * connections: as fast as they are answered, or (`rate`) paced at that many requests a second
 * over all connections, for the latency below saturation.
 */
function pins(urls: string[]): Promise<Result> {
  return cannon(urls, 50, (url) => ({ url, requests: [{ setupRequest: (r) => ({ ...r, path: `/v1/constraints.txt?machine=${randomUUID()}` }) }] }));
}

/**
 * Pins paced at `rate` requests a second for SECONDS (open loop: each request is due at its
 * time, and its latency counts from then, so a server that falls behind is not let off), a new
 * machine per request, over at most 50 keep-alive connections (./paced-client.ts: a client that
 * allocates little, in a process of its own after 3 s of warm-up, so that its own pauses stay
 * out of the server's tail). autocannon's own pacing
 * sends each second's quota in a burst, which measures a queue rather than the latency below
 * saturation.
 */
async function paced(urls: string[], rate: number): Promise<Result & { p50: number; p90: number }> {
  const r = await pacedGetsApart(urls, rate, SECONDS, '/v1/constraints.txt?machine=');
  process.stderr.write(`  paced: ${fmt(r.rps)}/s answered, p50 ${r.p50} ms, p90 ${r.p90} ms, p99 ${r.p99} ms, ${r.bad} bad\n`);
  return r;
}

interface Row { name: string; ingest: Result; pins: Result }

/** Waits until each server answers quickly again (the reports still queued when a run ends are counted first), at most 60 s. */
async function settle(urls: string[]): Promise<void> {
  for (const url of urls) {
    const until = Date.now() + 60_000;
    for (let quick = 0; quick < 3 && Date.now() < until;) {
      const t = Date.now();
      await (await fetch(`${url}/healthz`)).arrayBuffer();
      quick = Date.now() - t < 20 ? quick + 1 : 0;
      await sleep(100);
    }
  }
}

async function rounds(name: string, urls: string[], machines: ReturnType<typeof fleet>): Promise<Row> {
  const ing: Result[] = [];
  const pin: Result[] = [];
  for (let k = 1; k <= ROUNDS; k++) {
    process.stderr.write(`${name}: round ${k}/${ROUNDS} (${SECONDS}s reports, ${SECONDS}s pins)\n`);
    ing.push(await ingestion(urls, machines));
    await settle(urls);
    pin.push(await pins(urls));
    await settle(urls);
  }
  const med = (rs: Result[]) => ({ rps: median(rs.map((r) => r.rps)), p99: median(rs.map((r) => r.p99)), bad: rs.reduce((s, r) => s + r.bad, 0) });
  return { name, ingest: med(ing), pins: med(pin) };
}

/** The pins half of rounds(): no reports sent; each round also paced at PINS_RATE (its p99: `pacedP99`). */
async function pinsRounds(name: string, urls: string[]): Promise<Result & { pacedP99: number; pacedRps: number }> {
  const pin: Result[] = [];
  const pacedRuns: Result[] = [];
  for (let k = 1; k <= ROUNDS; k++) {
    process.stderr.write(`${name}: round ${k}/${ROUNDS} (${SECONDS}s pins, then ${SECONDS}s at ${fmt(PINS_RATE)}/s)\n`);
    pin.push(await pins(urls));
    await settle(urls);
    pacedRuns.push(await paced(urls, PINS_RATE));
    await settle(urls);
  }
  return {
    rps: median(pin.map((r) => r.rps)), p99: median(pin.map((r) => r.p99)), bad: [...pin, ...pacedRuns].reduce((s, r) => s + r.bad, 0),
    pacedP99: median(pacedRuns.map((r) => r.p99)), pacedRps: median(pacedRuns.map((r) => r.rps)),
  };
}

async function server(dir: string, env: Record<string, string> = {}) {
  const srv = await spawnServer({ ...SERVER_ENV, DEPCANARY_DATA_DIR: dir, ...env });
  children.add(srv.child);
  return srv;
}

async function liveRollouts(): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'depcanary-bench-scale-'));
  const srv = await server(dir);
  try {
    const libs = libraries();
    const one = await createRollouts(srv.url, libs.slice(0, 1));
    const a = await rounds('1 live rollout', [srv.url], fleet(2000, one));
    const forty = [...one, ...await createRollouts(srv.url, libs.slice(1, 40))];
    const b = await rounds('40 live rollouts', [srv.url], fleet(2000, forty));
    return [a, b];
  } finally {
    await srv.stop();
    children.delete(srv.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

type PinsResult = Awaited<ReturnType<typeof pinsRounds>>;

async function pinsOnly(): Promise<[PinsResult, PinsResult]> {
  const dir = mkdtempSync(join(tmpdir(), 'depcanary-bench-pins-'));
  const srv = await server(dir);
  try {
    const libs = libraries();
    await createRollouts(srv.url, libs.slice(0, 1));
    const a = await pinsRounds('1 live rollout', [srv.url]);
    await createRollouts(srv.url, libs.slice(1, 40));
    const b = await pinsRounds('40 live rollouts', [srv.url]);
    return [a, b];
  } finally {
    await srv.stop();
    children.delete(srv.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function replicas(): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'depcanary-bench-replicas-'));
  const redis = await startRedisServer(dir, true);
  const servers: Awaited<ReturnType<typeof server>>[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const d = join(dir, `replica-${i}`);
      servers.push(await server(mkdtempSync(d), { REDIS_URL: `unix://${redis.socket}` }));
    }
    const live = await createRollouts(servers[0]!.url, libraries().slice(0, REPLICA_ROLLOUTS));
    await sleep(1000); // every replica's pins hold it (the refresh bound is 500 ms)
    const machines = fleet(2000, live);
    const a = await rounds('1 replica', [servers[0]!.url], machines);
    const b = await rounds('3 replicas', servers.map((s) => s.url), machines);
    return [a, b];
  } finally {
    for (const s of servers) {
      await s.stop();
      children.delete(s.child);
    }
    redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface StoreResult { rollouts: number; rps: number; redisUsPerReport: number; nodeUsPerReport: number }

/** Redis' own CPU so far (s), from INFO cpu. */
async function redisCpu(r: ReturnType<typeof createRedis>): Promise<number> {
  const info = await r.info('cpu');
  return Number(/used_cpu_user:([\d.]+)/.exec(info)![1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)![1]);
}

/** TelemetryStore.ingest on a private redis-server: `n` rollouts every report concerns, batches of 50, 4 at once. */
async function storeIngestion(n: number): Promise<StoreResult> {
  const dir = mkdtempSync(join(tmpdir(), 'depcanary-bench-store-'));
  const rs = await startRedisServer(dir);
  const redis = createRedis({ socket: rs.socket });
  try {
    const store = new TelemetryStore(redis, 'bench');
    const policy = resolvePolicy(2);
    const segments = segmentPolicyOf(policy);
    const caps = { machine: policy.cap, source: 0 };
    const ids = Array.from({ length: n }, (_, i) => `bench-${i}`);
    const machines = Array.from({ length: 2000 }, () => randomUUID());
    const day = new Date().toISOString().slice(0, 10);
    let m = 0;
    const batch = (): IngestItem[] => Array.from({ length: 50 }, () => {
      const machine = machines[m++ % machines.length]!;
      return {
        id: randomUUID(), machine, outcome: Math.random() < 0.03 ? 'fail' : 'pass', day, failedTests: [], json: '{}', project: 'nova', python: '3.11', source: 'ci:bench',
        assignments: ids.map((rolloutId, i) => ({ rolloutId, arm: inCandidateArm(bucketOf(`s${i}`, machine), 10) ? 'candidate' : 'control', stage: 0, segments, caps })),
      };
    });
    const runs: StoreResult[] = [];
    for (let k = 1; k <= ROUNDS; k++) {
      process.stderr.write(`store, ${n} rollout${n > 1 ? 's' : ''}: round ${k}/${ROUNDS} (${SECONDS}s)\n`);
      let reports = 0;
      const t0 = performance.now();
      const [r0, c0] = [await redisCpu(redis), process.cpuUsage()];
      await Promise.all(Array.from({ length: 4 }, async () => {
        while (performance.now() - t0 < SECONDS * 1000) {
          const items = batch();
          await store.ingest(items, Date.now());
          reports += items.length;
        }
      }));
      const s = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      runs.push({ rollouts: n, rps: reports / s, redisUsPerReport: ((await redisCpu(redis)) - r0) * 1e6 / reports, nodeUsPerReport: (c.user + c.system) / reports });
    }
    const med = (f: (r: StoreResult) => number) => median(runs.map(f));
    return { rollouts: n, rps: med((r) => r.rps), redisUsPerReport: med((r) => r.redisUsPerReport), nodeUsPerReport: med((r) => r.nodeUsPerReport) };
  } finally {
    redis.disconnect();
    rs.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface MemoryResult { rollouts: number; machines: number; rss: number; hwm: number; redis: number; seconds: number; bad: number; codes: Record<string, number> }

async function memory(): Promise<MemoryResult> {
  const dir = mkdtempSync(join(tmpdir(), 'depcanary-bench-memory-'));
  const srv = await server(dir);
  const t0 = Date.now();
  try {
    const live = await createRollouts(srv.url, libraries().slice(0, MEMORY_ROLLOUTS));
    process.stderr.write(`memory: ${live.length} live rollouts; ${fmt(MACHINES)} new machines, a report each (one in 10 asks for its constraints file)\n`);
    let done = 0;
    let bad = 0;
    /** The unexpected answers by what they were ("GET 503", "POST 429"). */
    const codes: Record<string, number> = {};
    const odd = (what: string, status: number) => {
      bad++;
      codes[`${what} ${status}`] = (codes[`${what} ${status}`] ?? 0) + 1;
    };
    const worker = async () => {
      while (done < MACHINES) {
        const n = Math.min(50, MACHINES - done);
        done += n;
        const batch = await Promise.all(Array.from({ length: n }, async (_, k) => {
          const machine = randomUUID();
          // the plugin's request, for one machine in 10 (with 500 live rollouts a constraints file
          // costs 500 hashes; the server keeps nothing per machine either way)
          if (k % 10 === 0) {
            const res = await fetch(`${srv.url}/v1/constraints.txt?machine=${machine}`);
            if (res.status !== 200) odd('GET', res.status);
            await res.arrayBuffer();
          }
          // its project installs 10 of the libraries under rollout: its arm's version of each
          const at = Math.floor(Math.random() * (live.length - 10));
          return report(fleetOf(machine, live.slice(at, at + 10)));
        }));
        const res = await fetch(`${srv.url}/v1/reports`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${REPORTER_TOKEN}` }, body: JSON.stringify({ reports: batch }) });
        if (res.status !== 202) odd('POST', res.status);
        await res.arrayBuffer();
        if (done % 10_000 < 50) process.stderr.write(`memory: ${fmt(done)} machines\n`);
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    const status = readFileSync(`/proc/${srv.child.pid}/status`, 'utf8');
    const kb = (f: string) => Number(new RegExp(`${f}:\\s+(\\d+) kB`).exec(status)![1]) * 1024;
    const r = createRedis({ socket: join(dir, 'redis', 'redis.sock') });
    const info = await r.info('memory');
    await r.quit();
    return { rollouts: live.length, machines: MACHINES, rss: kb('VmRSS'), hwm: kb('VmHWM'), redis: Number(/used_memory:(\d+)/.exec(info)![1]), seconds: (Date.now() - t0) / 1000, bad, codes };
  } finally {
    await srv.stop();
    children.delete(srv.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const measured = `Measured ${new Date().toISOString().slice(0, 10)} with \`node dist/test/bench/scale.js\` on this 2-core machine: servers, Redis and the load generator on one host; ${SECONDS} s per run, median of ${ROUNDS} rounds.`;
  const write = (section: string, lines: string[]) => {
    const table = [measured, '', ...lines].join('\n').trimEnd();
    console.log(table);
    if (args.includes('--write-readme')) replaceSection(join(ROOT, 'README.md'), section, table);
  };
  const failed = (rows: Row[]) => rows.reduce((n, r) => n + r.ingest.bad + r.pins.bad, 0);
  const table = (rows: Row[]) => [
    '| setup | reports/s (50 a request, 10 connections) | report request p99 ms | pins/s (`/v1/constraints.txt`, a new machine each, 50 connections) | pins p99 ms | errors or non-2xx |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.name} | ${fmt(r.ingest.rps)} | ${r.ingest.p99} | ${fmt(r.pins.rps)} | ${r.pins.p99} | ${failed([r])} |`),
  ];
  let bad = 0;
  if (PART === 'all' || PART === 'rollouts') {
    const [a, b] = await liveRollouts();
    bad += failed([a!, b!]);
    write('bench:scale-rollouts', [
      '**Live rollouts**: one server on its embedded Redis, every report concerning every live rollout (at 10%), every pins request from a machine it has not seen.',
      '',
      ...table([a!, b!]),
      '',
      `With 40 live rollouts: ingestion **${fmt(b!.ingest.rps)} reports/s** (target ≥ 2,000), report request p99 ${b!.ingest.p99} ms (target < 100); pins at **${(b!.pins.rps / a!.pins.rps).toFixed(2)}×** the rate with 1 (target ≥ 0.5), p99 ${b!.pins.p99} ms (target < 10).`,
    ]);
  }
  if (PART === 'all' || PART === 'store') {
    const rows = [await storeIngestion(1), await storeIngestion(40)];
    write('bench:scale-store', [
      '**Counting in Redis**: `TelemetryStore.ingest` straight on a private redis-server (no HTTP, no persistence), rollouts with segment evidence that every report concerns, batches of 50, 4 at once, 2,000 machines.',
      '',
      '| rollouts a report concerns | reports/s | Redis CPU per report (µs) | counting process CPU per report (µs) |',
      '|---|---|---|---|',
      ...rows.map((r) => `| ${r.rollouts} | ${fmt(r.rps)} | ${fmt(r.redisUsPerReport)} | ${fmt(r.nodeUsPerReport)} |`),
      '',
      `With 40: ${fmt(rows[1]!.redisUsPerReport / 40)} µs of Redis CPU per rollout a report concerns; 2,000 reports/s would need ${(2000 * rows[1]!.redisUsPerReport / 1e6).toFixed(1)} Redis cores.`,
    ]);
  }
  if (PART === 'pins') {
    const [a, b] = await pinsOnly();
    bad += a.bad + b.bad;
    console.log([
      '| live rollouts | pins/s (a new machine each, 50 connections) | pins p99 ms | errors or non-2xx |', '|---|---|---|---|',
      `| 1 | ${fmt(a.rps)} | ${a.p99} | ${a.bad} |`, `| 40 | ${fmt(b.rps)} | ${b.p99} | ${b.bad} |`, '',
      `40 at ${(b.rps / a.rps).toFixed(2)}× the rate of 1 (target ≥ 0.5), p99 ${b.p99} ms (target < 10); ${SECONDS} s per run, median of ${ROUNDS}.`,
      `Paced at ${fmt(PINS_RATE)} requests/s (open loop, up to 50 connections): p99 ${a.pacedP99} ms with 1 live rollout (${fmt(a.pacedRps)}/s answered), ${b.pacedP99} ms with 40 (${fmt(b.pacedRps)}/s).`,
    ].join('\n'));
  }
  if (PART === 'all' || PART === 'replicas') {
    const [a, b] = await replicas();
    bad += failed([a!, b!]);
    write('bench:scale-replicas', [
      `**Replicas**: one redis-server (AOF everysec), 1 then 3 server processes on it, ${REPLICA_ROLLOUTS === 1 ? 'one live rollout' : `${REPLICA_ROLLOUTS} live rollouts every report concerns`}; the same load and connections spread over the replicas.`,
      '',
      ...table([a!, b!]),
      '',
      `3 replicas: ingestion ${(b!.ingest.rps / a!.ingest.rps).toFixed(2)}×, pins ${(b!.pins.rps / a!.pins.rps).toFixed(2)}× one replica's, on 2 cores that the replicas, Redis and the load generator share.`,
    ]);
  }
  if (PART === 'all' || PART === 'memory') {
    const m = await memory();
    bad += m.bad;
    write('bench:scale-memory', [
      `**Memory**: one server, ${fmt(m.rollouts)} live rollouts, ${fmt(m.machines)} new machines each reporting once (10 of the rollouts' libraries installed), one in 10 asking for its constraints file first, in ${fmt(m.seconds)} s.`,
      '',
      `Server resident memory at the end **${mb(m.rss)}** (peak ${mb(m.hwm)}; target < 300 MB); its Redis ${mb(m.redis)}; ${m.bad} errors or non-2xx${m.bad ? ` (${Object.entries(m.codes).map(([k, n]) => `${n} × ${k}`).join(', ')})` : ''}.`,
    ]);
  }
  if (bad > 0) process.exitCode = 1;
}

void main().catch((e) => {
  console.error(e);
  for (const c of children) c.kill('SIGTERM');
  process.exit(1);
});
