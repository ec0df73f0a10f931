#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { createLogger } from '../logger';
import { ApiClient } from '../cli/api-client';
import type { Event, View } from '../cli/types';
import { loadConfig } from '../config';
import { parseConstraints, pinnedVersion } from '../domain/constraints';
import { normalizeName } from '../domain/names';
import { defaultExtensions } from '../extensions';
import { startServer, type RunningServer } from '../runtime';
import { Fleet } from './fleet';
import { DEMO_POLICY, DEMO_STAGES, SCENARIOS } from './scenario';
import { Summary } from './summary';

/**
 * `make demo`: a server on its embedded Redis (var/demo), the shipped constraints imported,
 * two rollouts started, and a simulated fleet reporting until the healthy candidate is
 * promoted and the broken one rolled back (or DEMO_SECONDS pass). With a terminal on stdin
 * the server stays up afterwards for the dashboard until Ctrl-C.
 */
const ROOT = resolve(__dirname, '..', '..', ...(__dirname.includes(`${join('dist', 'server')}`) ? ['..'] : []));
const num = (name: string, dflt: number) => (process.env[name] ? Number(process.env[name]) : dflt);

async function main(): Promise<void> {
  // An operator's own DEPCANARY_ADMIN_TOKEN is used but never printed; only a token the demo made is shown.
  const ownToken = !process.env.DEPCANARY_ADMIN_TOKEN;
  const env: NodeJS.ProcessEnv = {
    HOST: '127.0.0.1',
    PORT: '8080',
    DEPCANARY_DATA_DIR: join(ROOT, 'var', 'demo'),
    DEPCANARY_CONSTRAINTS_FILE: join(ROOT, 'data', 'upper-constraints.txt'),
    DEPCANARY_CONTROLLER_TICK_MS: '1000',
    DEPCANARY_REDIS_FSYNC: 'everysec',
    // The whole simulated fleet reports from 127.0.0.1, as a proxy would forward it: each
    // simulated machine's own network is in X-Forwarded-For, believed from loopback only.
    DEPCANARY_LIMIT_REPORTS_PER_MIN: '0',
    DEPCANARY_TRUST_PROXY: 'loopback',
    // The fleet is simulated and needs no network: Requires-Python is not read from an index.
    DEPCANARY_INDEX_URL: 'off',
    ...process.env,
    // A fresh key prefix per run: the embedded Redis keeps earlier demos, this one starts clean.
    DEPCANARY_KEY_PREFIX: process.env.DEPCANARY_KEY_PREFIX ?? `demo${Date.now().toString(36)}`,
    DEPCANARY_ADMIN_TOKEN: process.env.DEPCANARY_ADMIN_TOKEN ?? `demo-admin-${randomBytes(12).toString('hex')}`,
  };
  const config = loadConfig(env);
  mkdirSync(config.dataDir, { recursive: true });
  const logFile = join(config.dataDir, 'demo.log');
  const logger = createLogger(config.logLevel, pino.destination({ dest: logFile, mkdir: true }), 'depcanary-demo');
  const token = config.adminToken!;
  const shown = ownToken ? token : 'the DEPCANARY_ADMIN_TOKEN you set';
  const say = (line = '') => void process.stdout.write(line + '\n');

  // Ctrl-C (or a closed terminal, or SIGTERM) ends the demo cleanly from the start, its embedded
  // Redis stopped too: while the server starts, once it is up; while the demo sets up, at once;
  // later, at the next step of the loop below. However the demo ends, the Redis goes with it.
  let server: RunningServer | null = null;
  let interrupted = false;
  let settingUp = true;
  let wake: () => void = () => undefined;
  const quit = (srv: RunningServer) => {
    process.stdout.write('\nInterrupted.\n');
    closing = srv.close().finally(() => process.exit(130));
  };
  const interrupt = () => {
    if (interrupted) return;
    interrupted = true;
    wake();
    if (server && settingUp) quit(server);
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, interrupt);
  process.on('exit', () => server?.embeddedRedis?.kill());
  try {
    server = await startServer(config, logger, defaultExtensions());
  } catch (e) {
    const msg = (e as Error).message;
    process.stderr.write(`demo: could not start the server: ${msg}${/EADDRINUSE/.test(msg) ? ` (set PORT to a free port, e.g. PORT=8099 make demo)` : ''}\n`);
    process.exit(1);
  }
  if (interrupted) return quit(server);
  const admin = new ApiClient({ url: server.url, token });
  const anonymous = new ApiClient({ url: server.url });
  const summaryStart = Date.now();
  const summary = new Summary(summaryStart, Boolean(process.stdout.isTTY) && !process.env.NO_COLOR);
  const s = summary.style;

  const text = readFileSync(config.constraintsFile, 'utf8');
  const imported = await admin.putText<{ lines: number; pins: number }>('/v1/constraints', text);
  const file = parseConstraints(text);
  const base: Record<string, string> = {};
  for (const name of ['pbr', 'oslo.config', 'oslo.utils', 'requests', ...SCENARIOS.map((x) => x.library)]) {
    const v = pinnedVersion(file, normalizeName(name));
    if (v) base[name] = v;
  }
  const started: { scenario: (typeof SCENARIOS)[number]; id: string }[] = [];
  for (const scenario of SCENARIOS) {
    const view = await admin.post<View>('/v1/rollouts', {
      library: scenario.library, candidate: scenario.candidate, stages: DEMO_STAGES, policy: DEMO_POLICY,
      reason: `demo: ${scenario.label} candidate`,
    });
    started.push({ scenario, id: view.id });
  }

  const machines = num('DEMO_MACHINES', 400);
  const limitS = num('DEMO_SECONDS', 240);
  say(s.bold('depcanary demo'));
  say(`  server     ${server.url}  (embedded Redis in ${config.dataDir}, key prefix ${config.keyPrefix}, logs in ${logFile})`);
  say(`  dashboard  ${s.cyan(`${server.url}/`)}   token: ${s.bold(shown)}`);
  say(`  CLI        DEPCANARY_URL=${server.url} DEPCANARY_TOKEN=${ownToken ? token : '"$DEPCANARY_ADMIN_TOKEN"'} bin/depcanary rollouts`);
  say(`  imported   ${config.constraintsFile}: ${imported.lines} lines, ${imported.pins} pins`);
  for (const x of started) say(`  rollout    ${x.id}  (${x.scenario.label}; stages ${DEMO_STAGES.join(' → ')}%)`);
  say(`  fleet      ${machines} simulated machines, one test run every ~${num('DEMO_RUN_INTERVAL_MS', 4000) / 1000}s each; stops when both rollouts end or after ${limitS}s`);
  say(`  gerrit     ${process.env.GERRIT_URL ? `rollbacks are proposed to ${process.env.GERRIT_URL}` : 'not configured (set GERRIT_URL, GERRIT_USER, GERRIT_PASSWORD to get a proposed rollback change)'}`);
  say();

  const fleet = new Fleet(anonymous, machines, SCENARIOS, base, num('DEMO_RUN_INTERVAL_MS', 4000));
  const networks = await fleet.enrol();
  say(`  enrolled   ${machines} machines from ${networks} simulated networks (/24s): each reports with its own credential`);
  if (interrupted) return; // interrupt() is closing the server
  settingUp = false;
  fleet.start();

  const deadline = Date.now() + limitS * 1000;
  let lastSummary = 0;
  let endedAt: number | null = null;
  let success = false;
  while (!interrupted && Date.now() < deadline) {
    await sleep(1000);
    if (interrupted) break;
    const views = await Promise.all(started.map(async (x) => ({ scenario: x.scenario, view: await admin.get<View>(`/v1/rollouts/${x.id}`) })));
    for (const { view } of views) {
      const { events } = await admin.get<{ events: Event[] }>(`/v1/rollouts/${view.id}/events`);
      for (const l of summary.news(view, events)) say(l);
    }
    const now = Date.now();
    if (now - lastSummary >= 5000) {
      lastSummary = now;
      for (const l of summary.lines(views, fleet.stats, now)) say(l);
    }
    const done = views.every(({ scenario, view }) => view.state === (scenario.label === 'healthy' ? 'promoted' : 'rolled_back'));
    if (done && endedAt === null) {
      endedAt = now;
      fleet.stop();
    }
    // With Gerrit on, wait (a little) for the rollback change to be proposed.
    const proposalSettled = !process.env.GERRIT_URL || views.every(({ view }) => view.state !== 'rolled_back' || (view.proposal && view.proposal.status !== 'pending'));
    if (endedAt !== null && (proposalSettled || now - endedAt > 30_000)) {
      success = true;
      for (const l of summary.lines(views, fleet.stats, now)) say(l);
      break;
    }
  }
  fleet.stop();
  say();
  say(success
    ? s.green(`Done after ${Math.round((Date.now() - summaryStart) / 1000)} s: the healthy candidate was promoted, the broken one rolled back.`)
    : interrupted ? 'Interrupted.' : s.red(`Stopped after ${limitS}s before both rollouts ended (see ${logFile}).`));
  if (process.stdin.isTTY && !interrupted) {
    say(`The server keeps running for the dashboard: ${s.cyan(`${server.url}/`)} (token: ${shown}). Ctrl-C to stop.`);
    await new Promise<void>((res) => {
      wake = res;
      if (interrupted) res();
    });
  }
  await server.close();
  process.exit(success ? 0 : interrupted ? 130 : 1);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Set when an interrupt during set-up closes the server (its requests in flight then fail: no error of the demo). */
let closing: Promise<void> | null = null;

main().catch((e) => {
  if (closing) return;
  process.stderr.write(`demo: ${(e as Error).message}\n`);
  process.exit(1);
});
