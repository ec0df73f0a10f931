/**
 * Load benchmark (bounded): pins endpoint vs a bare node:http server returning the same
 * bytes, side by side in one run, and report ingestion into the embedded Redis.
 *   node dist/test/bench/load.js [--seconds 10] [--rounds 3] [--write-readme]
 * Medians over rounds are quoted; everything binds 127.0.0.1 and stops by itself.
 */
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPORTER_TOKEN, spawnServer, ROOT } from '../support/process';
import { replaceSection } from './readme';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const SECONDS = flag('seconds', 10);
const ROUNDS = flag('rounds', 3);
const CONNECTIONS = flag('connections', 50);
const TOKEN = 'bench-admin-token-0123456789';

type Result = { rps: number; p50: number; p99: number; errors: number; non2xx: number };

async function cannon(opts: autocannon.Options): Promise<Result> {
  const r = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...opts });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function startBaseline(file: string, etag: string): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, [join(ROOT, 'test', 'bench', 'baseline-server.js'), file, etag], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => {
    child.stdout!.on('data', (d: Buffer) => {
      const m = /listening on (\S+)/.exec(d.toString());
      if (m) resolve({ url: m[1]!, stop: () => child.kill('SIGTERM') });
    });
  });
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'depcanary-bench-'));
  const srv = await spawnServer({
    DEPCANARY_DATA_DIR: dir, DEPCANARY_ADMIN_TOKEN: TOKEN, LOG_LEVEL: 'error',
    // One load generator on one address: the per-address and per-source limits on, but never
    // reached (their cost is measured); its 1,000 machines all enrol from that one address.
    DEPCANARY_LIMIT_REPORTS_PER_MIN: '10000000',
    DEPCANARY_LIMIT_REPORTS_PER_SOURCE_PER_MIN: '10000000',
    DEPCANARY_LIMIT_ENROLMENTS_PER_ADDRESS_PER_HOUR: '0',
    DEPCANARY_LIMIT_ENROLMENTS_PER_BLOCK_PER_HOUR: '0',
    DEPCANARY_CONSTRAINTS_FILE: join(ROOT, 'data', 'upper-constraints.txt'),
  });
  let machines: string[] = [];
  try {
    // 1,000 enrolled machines (docs/trust.md), each reporting with its own credential
    const enrolled: { machine: string; credential: string }[] = [];
    for (let k = 0; k < 1000; k += 50) {
      enrolled.push(...await Promise.all(Array.from({ length: 50 }, async () => {
        const r = await fetch(`${srv.url}/v1/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
        if (r.status !== 201) throw new Error(`enrolment failed: ${r.status} ${await r.text()}`);
        return (await r.json()) as { machine: string; credential: string };
      })));
    }
    machines = enrolled.map((e) => e.machine);
    const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const created = await fetch(`${srv.url}/v1/rollouts`, { method: 'POST', headers: auth, body: JSON.stringify({ library: 'oslo.log', candidate: '8.4.0', stages: [10, 100] }) });
    if (created.status !== 201) throw new Error(`could not create a rollout: ${await created.text()}`);
    // The baseline serves the exact bytes a control machine gets.
    const sample = await fetch(`${srv.url}/v1/constraints.txt?machine=${machines[0]}`);
    const bodyFile = join(dir, 'body.txt');
    writeFileSync(bodyFile, await sample.text());
    const base = await startBaseline(bodyFile, sample.headers.get('etag') ?? '"x"');
    let i = 0;
    const pinsPath = () => `/v1/constraints.txt?machine=${machines[i++ % machines.length]}`;

    const pins: Result[] = [];
    const bare: Result[] = [];
    const ingest: Result[] = [];
    const ingestBatch: Result[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      process.stderr.write(`round ${round}/${ROUNDS}: baseline, pins, reports, report batches (${SECONDS}s each)\n`);
      bare.push(await cannon({ url: base.url, requests: [{ setupRequest: (r) => ({ ...r, path: pinsPath() }) }] }));
      pins.push(await cannon({ url: srv.url, requests: [{ setupRequest: (r) => ({ ...r, path: pinsPath() }) }] }));
      ingest.push(await cannon({
        url: `${srv.url}/v1/reports`,
        requests: [{
          method: 'POST',
          setupRequest: (r) => {
            const e = enrolled[i++ % enrolled.length]!;
            return { ...r, headers: { 'content-type': 'application/json', authorization: `Bearer ${e.credential}` }, body: JSON.stringify(report(e.machine)) };
          },
        }],
      }));
      ingestBatch.push(await cannon({
        url: `${srv.url}/v1/reports`,
        connections: 10,
        requests: [{
          method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${REPORTER_TOKEN}` },
          setupRequest: (r) => ({ ...r, body: JSON.stringify({ reports: Array.from({ length: 50 }, () => report(machines[i++ % machines.length]!)) }) }),
        }],
      }));
    }
    base.stop();
    const bad = [...pins, ...bare, ...ingest, ...ingestBatch].reduce((s, r) => s + r.errors + r.non2xx, 0);
    const row = (name: string, rs: Result[], per = 1) =>
      `| ${name} | ${fmt(median(rs.map((r) => r.rps)) * per)} | ${median(rs.map((r) => r.p50))} | ${median(rs.map((r) => r.p99))} |`;
    const ratio = median(pins.map((r) => r.rps)) / median(bare.map((r) => r.rps));
    const table = [
      `Measured ${new Date().toISOString().slice(0, 10)} on this 2-core machine, server + its Redis (appendfsync always) + load generator on one host; ${CONNECTIONS} connections, ${SECONDS} s per run, median of ${ROUNDS} rounds run side by side; ${bad} errors or non-2xx.`,
      '',
      '| endpoint | per second | p50 ms | p99 ms |',
      '|---|---|---|---|',
      row('bare `node:http`, same bytes (baseline)', bare),
      row('`GET /v1/constraints.txt` (10% rollout live)', pins),
      row('`POST /v1/reports`, one report per request, each machine\'s own credential (reports/s)', ingest),
      row('`POST /v1/reports`, 50 per request, a CI reporter token, 10 connections (reports/s)', ingestBatch, 50),
      '',
      `Pins throughput is **${ratio.toFixed(2)}×** the bare baseline (target ≥ 0.5).`,
    ].join('\n');
    console.log(table);
    if (args.includes('--write-readme')) replaceSection(join(ROOT, 'README.md'), 'bench:load', table);
    if (bad > 0) process.exitCode = 1;
  } finally {
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(machine: string) {
  return {
    id: randomUUID(), machine, outcome: Math.random() < 0.05 ? 'fail' : 'pass', installed: { 'oslo.log': '8.3.0', six: '1.17.0' },
    project: 'nova', env: 'py311', python: '3.11.7', platform: 'linux-x86_64', durationMs: 84000,
    failedTests: [], finishedAt: new Date().toISOString(),
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
