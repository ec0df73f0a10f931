import { createHash } from 'node:crypto';
import { mkdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';

/**
 * One server per data dir. The lock is a unix socket the holder listens on: on Linux in the
 * abstract namespace, named after the data dir's real path, so the kernel releases it the
 * moment the holder dies, however it dies (kill -9 included), and taking it is atomic. A
 * second starter that finds it taken connects and asks the holder who it is, so the refusal
 * names the live process. (Elsewhere the socket is a file in the data dir; a file left by a
 * dead holder refuses connections and is replaced.) `server.pid` in the data dir repeats the
 * holder's facts for people; it is information, not the lock.
 */
export interface LockHolder {
  pid: number;
  startedAt: string;
  url?: string;
  cwd?: string;
}

export class DataDirLockedError extends Error {
  constructor(readonly dataDir: string, readonly holder: LockHolder | null) {
    super(holder
      ? `data dir ${dataDir} is in use by depcanary process ${holder.pid}${holder.url ? ` (${holder.url})` : ''}, running since ${holder.startedAt}; stop it first, or give this server its own DEPCANARY_DATA_DIR`
      : `data dir ${dataDir} is in use by another depcanary process; stop it first, or give this server its own DEPCANARY_DATA_DIR`);
  }
}

export interface DataDirLock {
  readonly dataDir: string;
  /** Adds facts (the URL once listening) to what the holder tells a second starter. */
  describe(extra: Partial<LockHolder>): void;
  release(): Promise<void>;
}

export async function lockDataDir(dir: string): Promise<DataDirLock> {
  let dataDir: string;
  try {
    mkdirSync(dir, { recursive: true });
    dataDir = realpathSync(dir);
  } catch (e) {
    throw new Error(`DEPCANARY_DATA_DIR: cannot create ${dir}: ${(e as Error).message}`);
  }
  const address = lockAddress(dataDir);
  const info: LockHolder = { pid: process.pid, startedAt: new Date().toISOString(), cwd: process.cwd() };
  const server = createServer((c) => {
    c.on('error', () => undefined);
    c.end(JSON.stringify(info));
  });
  server.unref();
  for (let attempt = 0; ; attempt++) {
    const err = await listen(server, address);
    if (!err) break;
    if (err.code !== 'EADDRINUSE') throw new Error(`could not lock data dir ${dataDir}: ${err.message}`);
    const holder = await ask(address);
    if (holder !== 'refused') throw new DataDirLockedError(dataDir, holder);
    // Only a socket file (not Linux) can outlive its holder: it refuses connections; replace it once.
    if (address.startsWith('\0') || attempt > 0) throw new DataDirLockedError(dataDir, null);
    rmSync(address, { force: true });
  }
  const pidFile = join(dataDir, 'server.pid');
  const writeInfo = () => writeFileSync(pidFile, `${JSON.stringify(info)}\n`);
  writeInfo();
  let released: Promise<void> | null = null;
  return {
    dataDir,
    describe(extra) {
      Object.assign(info, extra);
      writeInfo();
    },
    release() {
      released ??= new Promise<void>((res) => {
        rmSync(pidFile, { force: true });
        server.close(() => res());
      });
      return released;
    },
  };
}

function lockAddress(dataDir: string): string {
  const digest = createHash('sha256').update(dataDir).digest('hex').slice(0, 40);
  return process.platform === 'linux' ? `\0depcanary-data-dir-${digest}` : join(dataDir, 'server.lock');
}

function listen(server: Server, address: string): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const onError = (e: NodeJS.ErrnoException) => resolve(e);
    server.once('error', onError);
    server.listen(address, () => {
      server.off('error', onError);
      resolve(null);
    });
  });
}

/** What the holder says about itself; null when it did not say in time; 'refused' when nobody listens. */
function ask(address: string): Promise<LockHolder | null | 'refused'> {
  return new Promise((resolve) => {
    const c = createConnection(address);
    let data = '';
    const done = (v: LockHolder | null | 'refused') => {
      clearTimeout(t);
      c.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(null), 2000);
    c.on('data', (d: Buffer) => { data += d.toString(); });
    c.on('end', () => {
      try {
        const v = JSON.parse(data) as LockHolder;
        done(typeof v.pid === 'number' ? v : null);
      } catch {
        done(null);
      }
    });
    c.on('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' || e.code === 'ENOENT' ? 'refused' : null));
  });
}
