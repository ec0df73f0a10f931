import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RESTARTS, startEmbeddedRedis } from '../../server/store/embedded-redis';
import { processesNaming } from '../support/process';

/**
 * The supervisor of the embedded Debian redis-server (real processes, a private dir). The
 * wrapper makes each start take a second, so a stop can land while a restart is starting.
 */
describe('embedded Redis supervisor (real redis-server)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dc-embedded-'));
  });
  afterEach(() => {
    for (const pid of processesNaming(dir)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('a stop while a restart is still starting leaves no redis-server behind', async () => {
    const wrapper = join(dir, 'slow-redis-server.sh');
    writeFileSync(wrapper, '#!/bin/sh\nsleep 1\nexec redis-server "$@"\n');
    chmodSync(wrapper, 0o755);
    let exited!: () => void;
    const died = new Promise<void>((res) => { exited = res; });
    const redis = await startEmbeddedRedis({ dir: join(dir, 'redis'), binary: wrapper, events: { exited: () => exited() } });
    expect(processesNaming(dir)).toHaveLength(1);
    redis.process.kill('SIGKILL');
    await died;
    await sleep(RESTARTS[0]! + 300); // the restart's child is in its one-second start
    expect(redis.state).toBe('restarting');
    expect(processesNaming(dir)).toHaveLength(1);
    await redis.stop();
    expect(processesNaming(dir)).toEqual([]); // stop() resolves once both children are gone: the server may exit now
    await sleep(1500); // past the wrapper's sleep: an orphan would have become a redis-server by now
    expect(processesNaming(dir)).toEqual([]);
    expect(redis.state).toBe('stopped');
  }, 30_000);
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
