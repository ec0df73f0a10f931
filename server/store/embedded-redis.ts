import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';

/**
 * A private Debian `redis-server` on a unix socket under `dir`, AOF on. Used when no
 * REDIS_URL is configured (the default run, tests, benchmarks). Nothing listens on TCP.
 *
 * Supervised: when it dies without being asked to, it is started again on the same socket
 * (the AOF brings every acknowledged write back; the clients reconnect by themselves), after
 * a back-off that grows while it keeps dying young. After RESTARTS.length such restarts in a
 * row `gaveUp` is called, and the server exits non-zero so that a process supervisor takes over.
 *
 * `owner.json` beside the socket names the process that started it. A Redis found answering
 * on the socket at start is shut down only when that owner is dead (a crashed server's orphan);
 * one owned by a live process is left alone and the start fails.
 */
export interface EmbeddedRedis {
  socket: string;
  dir: string;
  /** The current redis-server child (a new one after each restart). */
  readonly process: ChildProcess;
  /** `up`, `restarting` between a death and the restarted server answering, `failed` after giving up. */
  readonly state: 'up' | 'restarting' | 'failed' | 'stopped';
  stop(): Promise<void>;
  /** SIGKILL now, paused or not (for a process that exits before `stop()` could finish); a no-op once stopped. */
  kill(): void;
}

export interface SupervisorEvents {
  exited?(info: { pid: number | undefined; code: number | null; signal: NodeJS.Signals | null; restartInMs: number }): void;
  restarted?(info: { pid: number | undefined; attempt: number }): void;
  gaveUp?(err: Error): void;
}

export interface EmbeddedRedisOptions {
  dir: string;
  /** `always` makes a 202 mean "on disk"; `everysec` trades up to 1 s of reports for speed. */
  appendfsync?: 'always' | 'everysec';
  binary?: string;
  events?: SupervisorEvents;
}

/** Delays before each restart of a Redis that died within UPTIME_RESET_MS of starting. */
export const RESTARTS = [250, 500, 1000, 2000, 4000];
const UPTIME_RESET_MS = 30_000;

interface Owner {
  pid: number;
  startTicks: string | null;
}

export async function startEmbeddedRedis(opts: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const socket = join(dir, 'redis.sock');
  const ownerFile = join(dir, 'owner.json');
  const binary = opts.binary ?? process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const logfile = join(dir, 'redis.log');
  if (existsSync(socket) && (await ping(socket))) {
    const owner = readOwner(ownerFile);
    if (owner && owner.pid !== process.pid && isAlive(owner)) {
      throw new Error(`a redis-server on ${socket} belongs to live process ${owner.pid}; not touching it (stop that process, or use another DEPCANARY_DATA_DIR)`);
    }
    // A crashed server's orphan still owns the socket: shut it down (it writes its AOF) and start our own.
    await shutdown(socket);
  }
  writeFileSync(ownerFile, `${JSON.stringify({ pid: process.pid, startTicks: startTicks(process.pid) } satisfies Owner)}\n`);
  const args = [
    '--port', '0',
    '--unixsocket', socket,
    '--unixsocketperm', '700',
    '--dir', dir,
    '--appendonly', 'yes',
    '--appendfsync', opts.appendfsync ?? 'always',
    '--save', '',
    '--daemonize', 'no',
    '--logfile', logfile,
  ];

  let child = await spawnReady(binary, args, socket, logfile);
  let state: EmbeddedRedis['state'] = 'up';
  let startedAt = Date.now();
  let young = 0;
  let stopping = false;
  let restartTimer: NodeJS.Timeout | null = null;
  /** A restart's redis-server between its spawn and its first PONG (stop() must not leave it behind). */
  let spawning: ChildProcess | null = null;

  const died = (pid: number | undefined, code: number | null, signal: NodeJS.Signals | null, why?: string) => {
    young = Date.now() - startedAt < UPTIME_RESET_MS ? young + 1 : 1;
    if (young > RESTARTS.length) {
      state = 'failed';
      opts.events?.gaveUp?.(new Error(`${binary} kept dying (${RESTARTS.length} restarts, each within ${UPTIME_RESET_MS / 1000} s of the last start; last: ${why ?? signal ?? `exit code ${code}`}); see ${logfile}`));
      return;
    }
    const delay = RESTARTS[young - 1]!;
    state = 'restarting';
    opts.events?.exited?.({ pid, code, signal, restartInMs: delay });
    restartTimer = setTimeout(() => void restart(), delay);
  };
  const supervise = (c: ChildProcess) => {
    c.once('exit', (code, signal) => {
      if (!stopping && c === child) died(c.pid, code, signal);
    });
  };
  const restart = async () => {
    restartTimer = null;
    if (stopping) return;
    startedAt = Date.now();
    let next: ChildProcess;
    try {
      next = await spawnReady(binary, args, socket, logfile, (c) => { spawning = c; });
    } catch (e) {
      if (!stopping) died(undefined, null, null, (e as Error).message);
      return;
    } finally {
      spawning = null;
    }
    child = next;
    if (stopping) {
      child.kill('SIGTERM');
      return;
    }
    state = 'up';
    supervise(child);
    opts.events?.restarted?.({ pid: child.pid, attempt: young });
  };
  supervise(child);

  let stopped: Promise<void> | null = null;
  return {
    socket,
    dir,
    get process() {
      return child;
    },
    get state() {
      return state;
    },
    stop() {
      stopped ??= (async () => {
        stopping = true;
        if (restartTimer) clearTimeout(restartTimer);
        // the current child, and a restart's child still starting (it would outlive this process)
        await Promise.all([child, spawning].map((c) => c && terminate(c)));
        state = 'stopped';
      })();
      return stopped;
    },
    kill() {
      stopping = true;
      if (restartTimer) clearTimeout(restartTimer);
      for (const c of [child, spawning]) if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    },
  };
}

/** SIGTERM makes redis fsync the AOF and exit cleanly; SIGCONT in case it was stopped; SIGKILL after 10 s. */
async function terminate(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return;
  const exited = new Promise<void>((res) => c.once('exit', () => res()));
  c.kill('SIGTERM');
  c.kill('SIGCONT');
  const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

/** Spawns redis-server and resolves once it answers PING (AOF loaded); `spawned` gets the child at once. */
async function spawnReady(binary: string, args: string[], socket: string, logfile: string, spawned?: (c: ChildProcess) => void): Promise<ChildProcess> {
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  spawned?.(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  let spawnError: Error | null = null;
  child.once('error', (e) => { spawnError = e; });
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (spawnError) {
      throw new Error(`could not start ${binary}: ${(spawnError as Error).message} (install Debian's redis-server, or set REDIS_URL)`);
    }
    if (child.exitCode !== null) {
      throw new Error(`${binary} exited with code ${child.exitCode}: ${stderr.trim()} (see ${logfile})`);
    }
    if (existsSync(socket) && (await ping(socket))) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${binary} did not answer on ${socket} within 15 s (see ${logfile})`);
    }
    await sleep(50);
  }
}

function readOwner(file: string): Owner | null {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Owner;
    return typeof v.pid === 'number' ? v : null;
  } catch {
    return null;
  }
}

/** Alive, and the same process (its start time matches where /proc tells it, so a reused pid is not taken for the owner). */
function isAlive(owner: Owner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = startTicks(owner.pid);
  return owner.startTicks === null || now === null || now === owner.startTicks;
}

function startTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime), counted after the parenthesised command name.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
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
  const c = new Redis({ path: socket, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000, commandTimeout: 2000 });
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
