/**
 * What the benchmarks start and must stop: their child processes (killed on SIGINT and SIGTERM
 * too), and a redis-server of their own on a unix socket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRedis } from '../../server/store/redis';

export const children = new Set<ChildProcess>();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const c of children) c.kill('SIGTERM');
    process.exit(130);
  });
}

/**
 * A redis-server in `dir` on a unix socket, nothing persisted or (`aof`) an AOF fsynced every
 * second as the embedded one; resolves once it answers.
 */
export async function startRedisServer(dir: string, aof = false): Promise<{ socket: string; stop: () => void }> {
  const socket = join(dir, 'redis.sock');
  const persistence = aof ? ['--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--appendonly', 'no'];
  const child = spawn('redis-server', ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--save', '', ...persistence, '--dir', dir], { stdio: 'ignore' });
  children.add(child);
  const probe = createRedis({ socket });
  probe.on('error', () => undefined); // until it listens; then ping() reports failures
  try {
    for (let i = 0; ; i++) {
      try {
        await probe.ping();
        break;
      } catch (e) {
        if (i > 100) throw e;
        await sleep(100);
      }
    }
  } finally {
    probe.disconnect();
  }
  return { socket, stop: () => { child.kill('SIGTERM'); children.delete(child); } };
}
