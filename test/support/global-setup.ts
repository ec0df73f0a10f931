import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedRedis } from '../../server/store/embedded-redis';

/**
 * Starts one real redis-server for the whole jest run, on a unix socket in a temp dir.
 * Tests isolate themselves with a fresh key prefix (test/support/redis.ts).
 */
export default async function globalSetup(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'depcanary-test-redis-'));
  const redis = await startEmbeddedRedis({ dir, appendfsync: 'everysec' });
  process.env.DEPCANARY_TEST_REDIS_SOCKET = redis.socket;
  (globalThis as Record<string, unknown>).__depcanaryRedis = redis;
}
