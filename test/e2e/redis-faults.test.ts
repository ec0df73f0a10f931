import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { startEmbeddedRedis } from '../../server/store/embedded-redis';
import { keys } from '../../server/store/keys';
import { MAIN, processesNaming, REPORTER_TOKEN, ROOT, spawnServer } from '../support/process';
import { FIXTURES, report } from '../support/server';

/**
 * The real server process on its real embedded redis-server, with faults done to that
 * Redis while reports flow (bounded: two loops, seconds, loopback): SIGKILL (the supervisor
 * restarts it), SIGSTOP for 10 s (command timeouts turn the stall into 503s), SIGTERM to the
 * server while Redis is stopped, a Redis that keeps dying (the server exits non-zero), and
 * two servers on one data dir. After each: every acknowledged report is stored, and the
 * counters agree with the stored report ids (nothing half-written, nothing counted twice).
 * Nothing outlives a test: a server it left running is stopped, and a redis-server still
 * running on one of its data dirs is killed and fails it.
 */
const TOKEN = 'faults-test-admin-token';
const TIMEOUT_MS = 1000;

interface Sent {
  at: number;
  ms: number;
  status: number;
  code?: string;
  ids: string[];
  /** The reports posted (a 503 is resent as it was, the way the plugin does). */
  reports: Record<string, unknown>[];
  body: unknown;
}

function serverEnv(dir: string, extra: Record<string, string> = {}) {
  return {
    DEPCANARY_DATA_DIR: dir,
    DEPCANARY_ADMIN_TOKEN: TOKEN,
    DEPCANARY_CONSTRAINTS_FILE: join(FIXTURES, 'upper-constraints.txt'),
    DEPCANARY_CONTROLLER: '0',
    DEPCANARY_REDIS_TIMEOUT_MS: String(TIMEOUT_MS),
    ...extra,
  };
}

async function call(url: string, method: string, path: string, body?: unknown) {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(15_000),
  });
  return { status: res.status, json: (await res.json().catch(() => null)) as any };
}

/** Two loops posting batches of 5 reports until stopped; /healthz polled beside them. */
function flow(url: string, versions: string[]) {
  const sent: Sent[] = [];
  const health: { at: number; status: number }[] = [];
  let running = true;
  const batch = () => Array.from({ length: 5 }, (_, i) => report({ machine: randomUUID(), installed: { 'oslo.log': versions[i % versions.length]! } }));
  const post = async (reports: unknown[]) => {
    const at = Date.now();
    try {
      const r = await fetch(`${url}/v1/reports`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${REPORTER_TOKEN}` }, body: JSON.stringify({ reports }), signal: AbortSignal.timeout(20_000),
      });
      const body = (await r.json().catch(() => null)) as any;
      return { at, ms: Date.now() - at, status: r.status, code: body?.error?.code, body };
    } catch (e) {
      return { at, ms: Date.now() - at, status: 0, body: String(e) };
    }
  };
  const loop = async () => {
    while (running) {
      const reports = batch();
      const r = await post(reports);
      sent.push({ ...r, ids: reports.map((x) => x.id as string), reports });
      if (r.status !== 202) await sleep(50);
    }
  };
  const poll = async () => {
    while (running) {
      const at = Date.now();
      const status = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) }).then((r) => r.status, () => 0);
      health.push({ at, status });
      await sleep(50);
    }
  };
  const done = Promise.all([loop(), loop(), poll()]);
  return {
    sent,
    health,
    /** Resolves once `n` more reports batches were acknowledged after `since`. */
    async acceptedAfter(since: number, n = 5, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (sent.filter((s) => s.at >= since && s.status === 202).length < n) {
        if (Date.now() > deadline) throw new Error(`no ${n} accepted batches after the fault within ${timeoutMs} ms`);
        await sleep(50);
      }
    },
    async stop() {
      running = false;
      await done;
    },
    resend: post,
  };
}

async function redisOf(dir: string) {
  const r = new Redis({ path: join(dir, 'redis', 'redis.sock'), maxRetriesPerRequest: 1, retryStrategy: () => null });
  r.on('error', () => undefined);
  return r;
}

async function redisPid(dir: string): Promise<number> {
  const r = await redisOf(dir);
  try {
    return Number(/process_id:(\d+)/.exec(await r.info('server'))![1]);
  } finally {
    r.disconnect();
  }
}

/** The UTC days the reports finished on (their fleet and rollout dedupe sets). */
function daysOf(sent: Sent[]): string[] {
  return [...new Set(sent.flatMap((s) => s.reports.map((r) => String(r.finishedAt).slice(0, 10))))];
}

/**
 * Every acknowledged id counted in the fleet history and in the rollout; each part counted
 * every report of its dedupe set exactly once (the rollout's counted + mismatched + capped =
 * its set). `complete`: every report was acknowledged in the end (503s resent), so both
 * parts hold the same reports.
 */
async function expectConsistent(dir: string, acked: string[], rolloutId: string, days: string[], complete = false) {
  const r = await redisOf(dir);
  const k = keys('dc');
  try {
    const members = async (names: string[]) => new Set((await Promise.all(names.map((n) => r.smembers(n)))).flat());
    const fleet = await members(days.map((d) => k.fleetSeen(d)));
    const rollout = await members(days.map((d) => k.rolloutSeen(rolloutId, d)));
    expect(acked.filter((id) => !fleet.has(id) || !rollout.has(id))).toEqual([]);
    const meta = await r.hgetall(k.rolloutMeta(rolloutId));
    // each report counted once for the rollout: in an arm, as a mismatch, or over its source's cap
    const inRollout = Number(meta.counted ?? 0) + Number(meta.mismatched ?? 0) + Number(meta.sourceCapped ?? 0);
    expect(inRollout).toBe(rollout.size);
    expect(rollout.size).toBeGreaterThanOrEqual(new Set(acked).size);
    if (complete) expect([...fleet].sort()).toEqual([...rollout].sort());
  } finally {
    r.disconnect();
  }
}

/** Resends every batch that was not acknowledged, as it was, until it is (a client's retry). */
async function resendUnacknowledged(f: ReturnType<typeof flow>): Promise<number> {
  let n = 0;
  for (const s of f.sent.filter((x) => x.status !== 202)) {
    for (let attempt = 0; ; attempt++) {
      const again = await f.resend(s.reports);
      if (again.status === 202) break;
      if (attempt > 50) throw new Error(`a resend kept failing: ${again.status} ${JSON.stringify(again.body)}`);
      await sleep(100);
    }
    n++;
  }
  return n;
}

/**
 * /healthz follows its probe (once a second): wait for it to say 503 after `since` (the fault seen),
 * then 200 after that (the recovery seen), not for a fixed time.
 */
async function untilHealthy(f: ReturnType<typeof flow>, since: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  const firstDown = () => f.health.find((h) => h.at >= since && h.status === 503);
  while (Date.now() < deadline) {
    const down = firstDown();
    if (down && f.health.some((h) => h.at > down.at && h.status === 200)) return;
    await sleep(50);
  }
}

function expectOnly202or503(sent: Sent[]) {
  const other = sent.filter((s) => s.status !== 202 && !(s.status === 503 && s.code === 'unavailable'));
  expect(other.map((s) => `${s.status} ${JSON.stringify(s.body)}`)).toEqual([]);
  for (const s of sent.filter((x) => x.status === 503)) {
    expect(s.body).toEqual({ error: { code: 'unavailable', message: expect.any(String) } });
  }
}

/** Every server a test started, stopped after it whatever happened. */
const servers: Awaited<ReturnType<typeof spawnServer>>[] = [];
async function startServer(env: Record<string, string>) {
  const srv = await spawnServer(env);
  servers.push(srv);
  return srv;
}

async function startWithRollout(dir: string, extra: Record<string, string> = {}) {
  const srv = await startServer(serverEnv(dir, extra));
  const ro = (await call(srv.url, 'POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0', stages: [50, 100] })).json;
  return { srv, ro, versions: [ro.stable as string, ro.candidate as string] };
}

/** A server with a rollout, reports flowing and acknowledged, and its Redis's pid. */
async function startFlowing(dir: string) {
  const started = await startWithRollout(dir);
  const f = flow(started.srv.url, started.versions);
  try {
    await f.acceptedAfter(0, 10);
    return { ...started, f, pid: await redisPid(dir) };
  } catch (e) {
    await f.stop();
    await started.srv.stop();
    throw e;
  }
}

describe('faults of the embedded Redis while reports flow', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'depcanary-faults-'));
    dirs.push(d);
    return d;
  };
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    const left = dirs.flatMap((d) => processesNaming(d));
    for (const pid of left) process.kill(pid, 'SIGKILL'); // paused or not
    expect(left).toEqual([]);
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('SIGKILL: 503 or accepted (never 500, never a hang), restarted by itself, no acknowledged report lost', async () => {
    const dir = tmp();
    const { srv, ro, f, pid } = await startFlowing(dir);
    try {
      const killedAt = Date.now();
      process.kill(pid, 'SIGKILL');
      await f.acceptedAfter(killedAt + 100, 10);
      await untilHealthy(f, killedAt);
      await f.stop();
      expect(await redisPid(dir)).not.toBe(pid);
      expectOnly202or503(f.sent);
      expect(Math.max(...f.sent.map((s) => s.ms))).toBeLessThan(TIMEOUT_MS + 4000);
      expect(f.health.some((h) => h.at >= killedAt && h.status === 503)).toBe(true);
      expect(f.health.at(-1)!.status).toBe(200);
      const days = daysOf(f.sent);
      await expectConsistent(dir, f.sent.filter((s) => s.status === 202).flatMap((s) => s.ids), ro.id, days);
      // the batches that got a 503 may be counted in some parts: resent as they were, each part counts them once
      await resendUnacknowledged(f);
      await expectConsistent(dir, f.sent.flatMap((s) => s.ids), ro.id, days, true);
      expect(srv.stderr()).toMatch(/embedded redis-server died; restarting it/);
      expect(srv.stderr()).not.toContain(TOKEN);
    } finally {
      await srv.stop();
    }
  }, 90_000);

  test('SIGSTOP for 10 s: 503 within the command timeout, /healthz 503, recovery by itself; resent reports count once', async () => {
    const dir = tmp();
    const { srv, ro, versions, f, pid } = await startFlowing(dir);
    try {
      const stoppedAt = Date.now();
      process.kill(pid, 'SIGSTOP');
      await sleep(10_000);
      process.kill(pid, 'SIGCONT');
      const contAt = Date.now();
      await f.acceptedAfter(contAt, 10);
      await untilHealthy(f, stoppedAt);
      await f.stop();
      expect(await redisPid(dir)).toBe(pid);
      expectOnly202or503(f.sent);
      const during = f.sent.filter((s) => s.at >= stoppedAt + 100 && s.at + s.ms < contAt);
      expect(during.length).toBeGreaterThan(4);
      for (const s of during) {
        expect(s.status).toBe(503);
        expect(s.ms).toBeLessThan(TIMEOUT_MS + 1500);
      }
      expect(f.health.some((h) => h.at > stoppedAt && h.at < contAt && h.status === 503)).toBe(true);
      expect(f.health.at(-1)!.status).toBe(200);
      // A 503 is not an acknowledgement: the client resends, and a report Redis did apply late is a duplicate.
      let resentAccepted = 0;
      for (const s of f.sent.filter((x) => x.status === 503)) {
        const again = await f.resend(s.ids.map((id) => ({ ...report({ machine: randomUUID(), installed: { 'oslo.log': versions[0]! } }), id })));
        expect(again.status).toBe(202);
        expect((again.body as any).accepted + (again.body as any).duplicates).toBe(5);
        resentAccepted += (again.body as any).accepted;
      }
      expect(resentAccepted).toBeGreaterThanOrEqual(0);
      await expectConsistent(dir, f.sent.flatMap((s) => s.ids), ro.id, daysOf(f.sent), true);
    } finally {
      await srv.stop();
    }
  }, 90_000);

  test('SIGTERM while Redis is stopped: the server exits 0 within seconds', async () => {
    const dir = tmp();
    const srv = await startServer(serverEnv(dir));
    const pid = await redisPid(dir);
    process.kill(pid, 'SIGSTOP');
    await sleep(300);
    const t0 = Date.now();
    const code = await srv.stop('SIGTERM');
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(alive(pid)).toBe(false);
  }, 30_000);

  test('a Redis that keeps dying: the server gives up and exits 1, saying so', async () => {
    const dir = tmp();
    const flag = join(dir, 'break-redis');
    const wrapper = join(dir, 'redis-server-wrapper.sh');
    writeFileSync(wrapper, `#!/bin/sh\nif [ -e '${flag}' ]; then echo 'redis wrapper: refusing to start' >&2; exit 1; fi\nexec redis-server "$@"\n`);
    chmodSync(wrapper, 0o755);
    const srv = await startServer(serverEnv(dir, { REDIS_SERVER_BIN: wrapper }));
    writeFileSync(flag, '');
    const t0 = Date.now();
    process.kill(await redisPid(dir), 'SIGKILL');
    const code = await srv.stop('SIGCONT'); // a no-op signal: just wait for the exit
    expect(code).toBe(1);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(srv.stderr()).toMatch(/depcanary: stopping: \S+redis-server-wrapper\.sh kept dying .*refusing to start/);
  }, 60_000);

  test('two servers on one data dir: the second exits 1 naming the first, which keeps its Redis and keeps working', async () => {
    const dir = tmp();
    const { srv, ro, versions } = await startWithRollout(dir);
    try {
      const pid = await redisPid(dir);
      const second = await runToExit(serverEnv(dir));
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(new RegExp(`^depcanary: could not start: data dir \\S+ is in use by depcanary process ${srv.child.pid} \\(${srv.url.replace(/[.]/g, '\\.')}\\), running since \\S+; stop it first, or give this server its own DEPCANARY_DATA_DIR\\n$`));
      // The lower guard too: a Redis owned by a live process is never shut down as an orphan.
      const lower = startEmbeddedRedis({ dir: join(dir, 'redis') });
      lower.then((r) => r.stop(), () => undefined); // had it started one, that one is stopped
      await expect(lower).rejects.toThrow(/belongs to live process \d+; not touching it/);
      expect(await redisPid(dir)).toBe(pid);
      const reports = [report({ machine: randomUUID(), installed: { 'oslo.log': versions[1]! } })];
      expect((await fetch(`${srv.url}/v1/reports`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${REPORTER_TOKEN}` }, body: JSON.stringify({ reports }) })).status).toBe(202);
      await expectConsistent(dir, reports.map((r) => r.id as string), ro.id, [String(reports[0]!.finishedAt).slice(0, 10)], true);
    } finally {
      await srv.stop();
    }
    // Once the first is gone (even by kill -9), the data dir is free again.
    const again = await startServer(serverEnv(dir));
    const orphan = await redisPid(dir);
    again.child.kill('SIGKILL');
    await again.stop();
    const third = await startServer(serverEnv(dir));
    expect(alive(orphan)).toBe(false);
    // stopped the moment it is listening: it stops its Redis and exits 0 (not ended by the signal)
    expect(await third.stop()).toBe(0);
  }, 90_000);
});

function runToExit(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((res) => child.on('exit', (code) => res({ code, stderr })));
}

/** Running (a zombie waiting for a reaper counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
