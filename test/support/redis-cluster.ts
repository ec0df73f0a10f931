import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { closedPort } from './process';

const run = promisify(execFile);

export interface TestCluster {
  /** `127.0.0.1:<port>` of each master, for REDIS_CLUSTER. */
  nodes: string[];
  dir: string;
  processes: ChildProcess[];
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of `masters` Debian `redis-server`s on loopback (free ports, their bus
 * ports chosen too, a private dir, no persistence), made with `redis-cli --cluster create`;
 * resolves once every node says `cluster_state:ok`. Always `await c.stop()`.
 */
export async function startRedisCluster(masters = 3): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'depcanary-cluster-'));
  const processes: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(processes.map((p) => new Promise<void>((res) => {
      if (p.exitCode !== null || p.signalCode !== null) return res();
      p.once('exit', () => res());
      p.kill('SIGKILL');
    })));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const nodes: string[] = [];
    for (let i = 0; i < masters; i++) {
      const [port, bus] = [await closedPort(), await closedPort()];
      const d = join(dir, String(port));
      mkdirSync(d);
      const p = spawn('redis-server', [
        '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-port', String(bus),
        '--cluster-config-file', join(d, 'nodes.conf'), '--cluster-node-timeout', '5000', '--dir', d,
        '--appendonly', 'no', '--save', '', '--daemonize', 'no', '--logfile', join(d, 'redis.log'),
      ], { stdio: 'ignore' });
      processes.push(p);
      nodes.push(`127.0.0.1:${port}`);
    }
    for (const n of nodes) await until(async () => (await cli(n, 'PING')) === 'PONG', `${n} did not start (see ${dir})`);
    await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    for (const n of nodes) await until(async () => /cluster_state:ok/.test(await cli(n, 'CLUSTER', 'INFO')), `${n} never reached cluster_state:ok`);
    return { nodes, dir, processes, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function cli(node: string, ...args: string[]): Promise<string> {
  const [host, port] = node.split(':');
  const c = new Redis({ host, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return String(await c.call(args[0]!, ...args.slice(1)));
  } catch {
    return '';
  } finally {
    c.disconnect();
  }
}

async function until(ok: () => Promise<boolean>, message: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(message);
    await sleep(100);
  }
}
