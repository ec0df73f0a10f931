import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ROOT } from './process';

/**
 * A real package index for the tests: devpi-server from PyPI (venv by
 * scripts/ensure-index-server.sh), on 127.0.0.1 at a free port, offline (no mirroring of
 * the public index), with one private index `root/toy` that has no bases (so no fallback)
 * and the toy wheels the test uploads, each with its own Requires-Python in its METADATA.
 * Its simple API is `<url>/root/toy/+simple/`: PEP 691 JSON and PEP 503 HTML.
 * Always `await index.stop()`.
 */
export interface IndexServer {
  url: string;
  simple: string;
  upload(name: string, version: string, requiresPython?: string): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function startIndexServer(timeoutMs = 60_000): Promise<IndexServer> {
  const venv = join(ROOT, execFileSync(join(ROOT, 'scripts', 'ensure-index-server.sh'), { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim());
  const dir = mkdtempSync(join(tmpdir(), 'depcanary-devpi-'));
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  execFileSync(join(venv, 'bin', 'devpi-init'), ['--serverdir', join(dir, 'server'), '--root-passwd', password], { stdio: 'ignore' });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // The argon2 settings devpi's own tests use: its defaults (512 MiB, time cost 16) take
  // ~25 s of the machine's CPU at every start to derive the login-token key.
  const argon2 = ['--argon2-memory-cost', '8192', '--argon2-time-cost', '1', '--argon2-parallelism', '1'];
  const child: ChildProcess = spawn(join(venv, 'bin', 'devpi-server'), ['--serverdir', join(dir, 'server'), '--host', '127.0.0.1', '--port', String(port), '--offline-mode', ...argon2], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`devpi-server exited: ${err}`);
      try {
        if ((await fetch(`${url}/+api`)).ok) break;
      } catch {
        /* not up yet */
      }
      if (Date.now() > deadline) throw new Error(`devpi-server did not start in ${timeoutMs} ms: ${err}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const login = await (await fetch(`${url}/+login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'root', password }) })).json() as { result: { password: string } };
    const auth = { 'x-devpi-auth': Buffer.from(`root:${login.result.password}`).toString('base64') };
    const made = await fetch(`${url}/root/toy`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'stage', bases: [], volatile: true }) });
    if (!made.ok) throw new Error(`cannot create root/toy: ${made.status} ${await made.text()}`);
    const wheels = join(dir, 'wheels');
    return {
      url,
      simple: `${url}/root/toy/+simple/`,
      async upload(name, version, requiresPython = '') {
        const path = execFileSync(join(venv, 'bin', 'python'), [join(ROOT, 'test', 'index', 'toy_wheel.py'), wheels, name, version, requiresPython], { encoding: 'utf8' }).trim();
        // The upload form twine sends: the metadata from the wheel, then the file.
        const form = new FormData();
        form.set(':action', 'file_upload');
        form.set('name', name);
        form.set('version', version);
        form.set('metadata_version', '2.1');
        if (requiresPython) form.set('requires_python', requiresPython);
        form.set('content', new Blob([readFileSync(path)]), basename(path));
        const res = await fetch(`${url}/root/toy/`, { method: 'POST', headers: auth, body: form });
        if (!res.ok) throw new Error(`upload of ${basename(path)} failed: ${res.status} ${await res.text()}`);
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
