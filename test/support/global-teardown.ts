import { rmSync } from 'node:fs';
import type { EmbeddedRedis } from '../../server/store/embedded-redis';

export default async function globalTeardown(): Promise<void> {
  const redis = (globalThis as Record<string, unknown>).__depcanaryRedis as EmbeddedRedis | undefined;
  if (!redis) return;
  await redis.stop();
  rmSync(redis.dir, { recursive: true, force: true });
}
