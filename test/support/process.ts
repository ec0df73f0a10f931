import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A reporter token (a CI system's, docs/trust.md) every spawned server knows, from a tokens file. */
export const REPORTER_TOKEN = 'test-reporter-token-0123456789';

/** The tokens file holding REPORTER_TOKEN's hash (written once per process, atomically). */
function reporterTokensFile(): string {
  const file = join(tmpdir(), 'depcanary-test-reporter-tokens.json');
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify([{ name: 'test-reporter', role: 'reporter', sha256: createHash('sha256').update(REPORTER_TOKEN).digest('hex') }]));
  renameSync(tmp, file);
  return file;
}

/** The repository root, from sources (test/support) or from dist/test/support. */
export const ROOT = (() => {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) dir = join(dir, '..');
  return dir;
})();
export const MAIN = join(ROOT, 'dist', 'server', 'main.js');

/**
 * The real server as a separate process (`node dist/server/main.js`), exactly as `make run`
 * starts it. Resolves once it prints its "listening on" line.
 */
export async function spawnServer(env: Record<string, string>, timeoutMs = 30_000): Promise<{ url: string; child: ChildProcess; stderr: () => string; stdout: () => string; stop: (signal?: NodeJS.Signals) => Promise<number | null> }> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -p .)`);
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0',
      // One test client blasts from 127.0.0.1: per-address limits are off unless the test sets them.
      DEPCANARY_LIMIT_REPORTS_PER_MIN: '0', DEPCANARY_LIMIT_AUTH_FAILURES_PER_MIN: '0',
      DEPCANARY_LIMIT_REPORTS_PER_SOURCE_PER_MIN: '0', DEPCANARY_LIMIT_AUTH_FAILURES_PER_BLOCK_PER_MIN: '0',
      DEPCANARY_LIMIT_ENROLMENTS_PER_ADDRESS_PER_HOUR: '0', DEPCANARY_LIMIT_ENROLMENTS_PER_BLOCK_PER_HOUR: '0',
      // No network in tests: Requires-Python comes from the request (or the index tests' own index).
      DEPCANARY_INDEX_URL: 'off',
      // Reports need a credential: REPORTER_TOKEN is a reporter token of every spawned server.
      DEPCANARY_TOKENS_FILE: reporterTokensFile(),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not start in ${timeoutMs} ms: ${err}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /depcanary: listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => {
      clearTimeout(t);
      reject(new Error(`server exited with ${code}: ${err}`));
    });
  });
  return {
    url,
    child,
    stderr: () => err,
    stdout: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** A loopback port nothing listens on (taken from the kernel, then let go). */
export async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', () => res()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((res) => srv.close(() => res()));
  return port;
}

/** Live (not zombie) processes whose command line names `dir` (a redis-server names its socket). */
export function processesNaming(dir: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (cmd.includes(dir) && stat[stat.lastIndexOf(')') + 2] !== 'Z') out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
