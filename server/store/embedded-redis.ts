import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';

/**
 * A private Debian `redis-server` on a unix socket under `dir`, AOF on. Used when no
 * REDIS_URL is configured (the default run, tests, benchmarks). Nothing listens on TCP.
 */
export interface EmbeddedRedis {
  socket: string;
  dir: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface EmbeddedRedisOptions {
  dir: string;
  /** `always` makes a 202 mean "on disk"; `everysec` trades up to 1 s of reports for speed. */
  appendfsync?: 'always' | 'everysec';
  binary?: string;
}

export async function startEmbeddedRedis(opts: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const socket = join(dir, 'redis.sock');
  const binary = opts.binary ?? process.env.REDIS_SERVER_BIN ?? 'redis-server';
  // A redis-server left behind by a crashed server process still owns the socket: shut
  // it down (it writes its AOF) and start our own.
  if (existsSync(socket) && (await ping(socket))) await shutdown(socket);
  const args = [
    '--port', '0',
    '--unixsocket', socket,
    '--unixsocketperm', '700',
    '--dir', dir,
    '--appendonly', 'yes',
    '--appendfsync', opts.appendfsync ?? 'always',
    '--save', '',
    '--daemonize', 'no',
    '--logfile', join(dir, 'redis.log'),
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  let spawnError: Error | null = null;
  child.once('error', (e) => { spawnError = e; });

  const deadline = Date.now() + 15_000;
  for (;;) {
    if (spawnError) {
      throw new Error(`could not start ${binary}: ${(spawnError as Error).message} (install Debian's redis-server, or set REDIS_URL)`);
    }
    if (child.exitCode !== null) {
      throw new Error(`${binary} exited with code ${child.exitCode}: ${stderr.trim()} (see ${join(dir, 'redis.log')})`);
    }
    if (existsSync(socket) && (await ping(socket))) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${binary} did not answer on ${socket} within 15 s (see ${join(dir, 'redis.log')})`);
    }
    await sleep(50);
  }
  let stopped: Promise<void> | null = null;
  return {
    socket,
    dir,
    process: child,
    stop() {
      // SIGTERM makes redis fsync the AOF and exit cleanly.
      stopped ??= (async () => {
        if (child.exitCode === null) child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      })();
      return stopped;
    },
  };
}

async function shutdown(socket: string): Promise<void> {
  const c = new Redis({ path: socket, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on('error', () => {});
  try {
    await c.connect();
    await c.call('SHUTDOWN').catch(() => undefined);
  } finally {
    c.disconnect();
  }
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && (await ping(socket))) await sleep(50);
}

async function ping(socket: string): Promise<boolean> {
  const c = new Redis({ path: socket, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on('error', () => {});
  try {
    await c.connect();
    // AOF loading answers LOADING; wait until it is done.
    return (await c.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}
