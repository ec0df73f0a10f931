import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../support/process';

const DEMO = join(ROOT, 'dist', 'server', 'demo', 'main.js');

/**
 * `make demo` as a newcomer runs it (node dist/server/demo/main.js), without a terminal on
 * stdin, on a free port and the jest run's real Redis.
 */
function runDemo(env: Record<string, string>, onOutput?: (out: string, kill: (sig: NodeJS.Signals) => void) => void) {
  if (!existsSync(DEMO)) throw new Error(`${DEMO} is missing: build first (npx tsc -p .)`);
  const socket = process.env.DEPCANARY_TEST_REDIS_SOCKET!;
  const child = spawn(process.execPath, [DEMO], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', REDIS_URL: `unix://${socket}`,
      DEPCANARY_DATA_DIR: mkdtempSync(join(tmpdir(), 'depcanary-demo-')), ...env,
    } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    onOutput?.(out, (sig) => child.kill(sig));
  });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<{ code: number | null; out: string; err: string }>((resolve) => child.on('exit', (code) => resolve({ code, out, err })));
  return Object.assign(exited, { child });
}

/** Processes whose command line names `text` (the embedded redis-server names its socket there). */
function processesNaming(text: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(text)) pids.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

describe('make demo', () => {
  test('imports the constraints, starts two rollouts; the healthy one is promoted, the broken one rolled back', async () => {
    const r = await runDemo({ DEMO_SECONDS: '230' });
    expect(r.err).toBe('');
    expect(r.out).toMatch(/dashboard {2}http:\/\/127\.0\.0\.1:\d+\/ {3}token: demo-admin-[0-9a-f]{24}\n/);
    expect(r.out).toMatch(/imported {3}\S+data\/upper-constraints\.txt: \d+ lines, \d+ pins/);
    // every simulated machine enrols from its own network and reports with its own credential
    expect(r.out).toMatch(/enrolled {3}400 machines from 100 simulated networks \(\/24s\): each reports with its own credential\n/);
    expect(r.out).toMatch(/★ stevedore rolled back at 5%: every machine is back on 5\.9\.1 \(controller\)\n\s+(Regression|Hard break|Segment regression)/);
    expect(r.out).toMatch(/★ oslo\.log advanced 5% → 25% \(controller\)/);
    expect(r.out).toMatch(/★ oslo\.log promoted to 100%: 8\.4\.0 is now the base pin \(controller\)/);
    expect(r.out).toMatch(/healthy oslo\.log 8\.3\.0 → 8\.4\.0 .* PROMOTED/);
    expect(r.out).toMatch(/Done after \d+ s: the healthy candidate was promoted, the broken one rolled back\.\n$/);
    expect(r.code).toBe(0);
  }, 270_000);

  test('Ctrl-C stops it cleanly with exit code 130; an operator\'s own admin token is never printed', async () => {
    let sent = false;
    const operatorToken = 'operator-admin-token-5f3a9c1e7b';
    const r = await runDemo({ DEMO_MACHINES: '50', DEPCANARY_ADMIN_TOKEN: operatorToken }, (out, kill) => {
      if (!sent && /fleet: \d+ runs reported/.test(out)) {
        sent = true;
        kill('SIGINT');
      }
    });
    expect(r.out).toMatch(/Interrupted\.\n$/);
    expect(r.out).toMatch(/token: the DEPCANARY_ADMIN_TOKEN you set\n/);
    expect(r.out + r.err).not.toContain(operatorToken);
    expect(r.code).toBe(130);
  }, 60_000);

  test('a SIGTERM while the server starts on its embedded Redis stops both, with exit code 130', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'depcanary-demo-embedded-'));
    const sock = join(dir, 'redis', 'redis.sock');
    const run = runDemo({ DEPCANARY_DATA_DIR: dir, REDIS_URL: undefined as unknown as string, DEMO_MACHINES: '20' });
    // the embedded redis-server is up (its socket exists) before the server has started
    const deadline = Date.now() + 20_000;
    while (!existsSync(sock) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(existsSync(sock)).toBe(true);
    run.child.kill('SIGTERM');
    const r = await run;
    expect(r.code).toBe(130);
    expect(r.out).toMatch(/Interrupted\.\n$/);
    expect(processesNaming(sock)).toEqual([]);
  }, 60_000);
});
