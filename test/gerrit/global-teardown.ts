import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { EmbeddedRedis } from '../../server/store/embedded-redis';

export default async function globalTeardown(): Promise<void> {
  const g = globalThis as Record<string, unknown>;
  const gerrit = g.__depcanaryGerritSite as { site: string; ownSite: boolean } | undefined;
  if (gerrit) {
    try {
      execFileSync(join(__dirname, '..', '..', 'scripts', 'ensure-gerrit.sh'), ['stop', gerrit.site], { stdio: 'inherit' });
    } finally {
      if (gerrit.ownSite) rmSync(gerrit.site, { recursive: true, force: true });
    }
  }
  const redis = g.__depcanaryRedis as EmbeddedRedis | undefined;
  if (redis) {
    await redis.stop();
    rmSync(redis.dir, { recursive: true, force: true });
  }
}
