import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedRedis } from '../../server/store/embedded-redis';
import { GerritAdmin } from './support/admin';

/**
 * Starts one real Gerrit (scripts/ensure-gerrit.sh: init --batch --dev, loopback, free
 * port) and one real Redis for the whole Gerrit test run, and gives the admin a generated
 * HTTP password through the REST API. Tests read GERRIT_TEST_* and
 * DEPCANARY_TEST_REDIS_SOCKET. The site is DEPCANARY_GERRIT_SITE (set by scripts/test.sh so
 * its trap can stop Gerrit however the run ends) or a new temp dir.
 */
export const ROOT = join(__dirname, '..', '..');

export default async function globalSetup(): Promise<void> {
  const t0 = Date.now();
  const g = globalThis as Record<string, unknown>;
  const redisDir = mkdtempSync(join(tmpdir(), 'depcanary-gerrit-redis-'));
  const redis = await startEmbeddedRedis({ dir: redisDir, appendfsync: 'everysec' });
  g.__depcanaryRedis = redis;
  process.env.DEPCANARY_TEST_REDIS_SOCKET = redis.socket;

  const ownSite = !process.env.DEPCANARY_GERRIT_SITE;
  const site = process.env.DEPCANARY_GERRIT_SITE ?? mkdtempSync(join(tmpdir(), 'depcanary-gerrit-site-'));
  g.__depcanaryGerritSite = { site, ownSite };
  process.stderr.write(`\ngerrit tests: starting Gerrit in ${site}\n`);
  let url: string | undefined;
  try {
    const out = execFileSync(join(ROOT, 'scripts', 'ensure-gerrit.sh'), ['start', site, '--owner-pid', String(process.pid)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
    });
    url = /url=(\S+)/.exec(out)?.[1];
    if (!url) throw new Error(`ensure-gerrit.sh start printed no url: ${out}`);
  } catch (e) {
    // jest skips the teardown when the set-up fails: clean up here.
    await redis.stop();
    rmSync(redisDir, { recursive: true, force: true });
    if (ownSite) rmSync(site, { recursive: true, force: true });
    throw e;
  }

  // A reused site already had its admin password replaced; keep using that one.
  const pwFile = join(site, 'depcanary-admin-password');
  let admin: GerritAdmin;
  if (existsSync(pwFile)) admin = new GerritAdmin(url, 'admin', readFileSync(pwFile, 'utf8').trim());
  else {
    admin = await GerritAdmin.bootstrap(url);
    writeFileSync(pwFile, admin.password, { mode: 0o600 });
  }
  process.env.GERRIT_TEST_URL = url;
  process.env.GERRIT_TEST_SITE = site;
  process.env.GERRIT_TEST_OWNER_PID = String(process.pid);
  process.env.GERRIT_TEST_ADMIN_PASSWORD = admin.password;
  process.stderr.write(`gerrit tests: Gerrit and Redis ready in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}
