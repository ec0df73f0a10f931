import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, SETTINGS_ENV } from '../../server/config';
import { MAIN, ROOT } from '../support/process';
import { FIXTURES } from '../support/server';

/**
 * A bad value for every setting (the list comes from server/config.ts, so a new setting
 * fails this test until it has a case here): the server does not start, exits non-zero, and
 * says why in one line naming the setting, without a stack trace. Values refused by
 * loadConfig are checked in-process (main.ts prints a ConfigError's message as its one line
 * and exits 2; a few are also run for real to show it); the rest fail while starting and
 * are run as `node dist/server/main.js`, as `make run` would.
 */
const dir = mkdtempSync(join(tmpdir(), 'dc-bad-settings-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

type Case = [label: string, env: Record<string, string>, says: RegExp];
const CASES: Case[] = [
  ['HOST', { HOST: '256.0.0.1' }, /could not start: .*256\.0\.0\.1/],
  ['PORT', { PORT: 'eighty' }, /bad setting PORT/],
  ['PORT', { PORT: '70000' }, /bad setting PORT/],
  ['REDIS_URL', { REDIS_URL: 'http://localhost' }, /bad setting REDIS_URL: must start with/],
  ['DEPCANARY_DATA_DIR', { DEPCANARY_DATA_DIR: join(file('not-a-dir', ''), 'x'), REDIS_URL: '' }, /DEPCANARY_DATA_DIR: cannot create/],
  ['DEPCANARY_CONSTRAINTS_FILE', { DEPCANARY_CONSTRAINTS_FILE: '/nonexistent/uc.txt' }, /DEPCANARY_CONSTRAINTS_FILE: cannot read/],
  ['DEPCANARY_CONSTRAINTS_FILE', { DEPCANARY_CONSTRAINTS_FILE: file('nul.txt', 'six===1.0\n\0\n') }, /DEPCANARY_CONSTRAINTS_FILE .*NUL/],
  ['DEPCANARY_ADMIN_TOKEN', { DEPCANARY_ADMIN_TOKEN: 'short' }, /bad setting DEPCANARY_ADMIN_TOKEN: must be at least 16/],
  ['DEPCANARY_TOKENS_FILE', { DEPCANARY_TOKENS_FILE: '/nonexistent/tokens.json' }, /DEPCANARY_TOKENS_FILE .*ENOENT/],
  ['DEPCANARY_TOKENS_FILE', { DEPCANARY_TOKENS_FILE: file('tokens.json', '[{"name": "x", "role": "root", "sha256": "00"}]') }, /DEPCANARY_TOKENS_FILE .*role/],
  ['DEPCANARY_TOKENS_FILE', { DEPCANARY_TOKENS_FILE: file('tokens-null.json', 'null') }, /DEPCANARY_TOKENS_FILE .*array/],
  ['DEPCANARY_KEY_PREFIX', { DEPCANARY_KEY_PREFIX: 'a b' }, /bad setting DEPCANARY_KEY_PREFIX/],
  ['DEPCANARY_PUBLIC_URL', { DEPCANARY_PUBLIC_URL: 'not a url' }, /bad setting DEPCANARY_PUBLIC_URL/],
  ['DEPCANARY_REDIS_FSYNC', { DEPCANARY_REDIS_FSYNC: 'never' }, /bad setting DEPCANARY_REDIS_FSYNC/],
  ['DEPCANARY_PINS_REFRESH_MS', { DEPCANARY_PINS_REFRESH_MS: '10' }, /bad setting DEPCANARY_PINS_REFRESH_MS/],
  ['LOG_LEVEL', { LOG_LEVEL: 'verbose' }, /bad setting LOG_LEVEL: .*"info"/],
  ['DEPCANARY_REDIS_TIMEOUT_MS', { DEPCANARY_REDIS_TIMEOUT_MS: '5' }, /bad setting DEPCANARY_REDIS_TIMEOUT_MS/],
  ['DEPCANARY_INGEST_PARTS', { DEPCANARY_INGEST_PARTS: '10' }, /bad setting DEPCANARY_INGEST_PARTS/],
  ['DEPCANARY_HEADERS_TIMEOUT_MS', { DEPCANARY_HEADERS_TIMEOUT_MS: 'soon' }, /bad setting DEPCANARY_HEADERS_TIMEOUT_MS/],
  ['DEPCANARY_REQUEST_TIMEOUT_MS', { DEPCANARY_REQUEST_TIMEOUT_MS: '-1' }, /bad setting DEPCANARY_REQUEST_TIMEOUT_MS/],
  ['DEPCANARY_MAX_CONNECTIONS', { DEPCANARY_MAX_CONNECTIONS: '0' }, /bad setting DEPCANARY_MAX_CONNECTIONS/],
  ['DEPCANARY_PUBLIC_READ', { DEPCANARY_PUBLIC_READ: 'maybe' }, /bad setting DEPCANARY_PUBLIC_READ: must be one of/],
  ['DEPCANARY_TRUST_PROXY', { DEPCANARY_TRUST_PROXY: 'true' }, /bad setting DEPCANARY_TRUST_PROXY: "true" is not/],
  ['DEPCANARY_TRUST_PROXY', { DEPCANARY_TRUST_PROXY: '10.0.0.0/33' }, /bad setting DEPCANARY_TRUST_PROXY/],
  ['DEPCANARY_CONTROLLER', { DEPCANARY_CONTROLLER: 'maybe' }, /bad setting DEPCANARY_CONTROLLER: must be one of/],
  ['DEPCANARY_CONTROLLER_TICK_MS', { DEPCANARY_CONTROLLER_TICK_MS: 'x' }, /bad setting DEPCANARY_CONTROLLER_TICK_MS/],
  ['DEPCANARY_CONTROLLER_TICK_MS', { DEPCANARY_CONTROLLER_TICK_MS: '20000' }, /DEPCANARY_CONTROLLER_TICK_MS: must be shorter/],
  ['DEPCANARY_CONTROLLER_DEBOUNCE_MS', { DEPCANARY_CONTROLLER_DEBOUNCE_MS: '-5' }, /bad setting DEPCANARY_CONTROLLER_DEBOUNCE_MS/],
  ['DEPCANARY_CONTROLLER_LEASE_MS', { DEPCANARY_CONTROLLER_LEASE_MS: '10' }, /bad setting DEPCANARY_CONTROLLER_LEASE_MS/],
  ['DEPCANARY_LIMIT_REPORTS_PER_MIN', { DEPCANARY_LIMIT_REPORTS_PER_MIN: 'lots' }, /bad setting DEPCANARY_LIMIT_REPORTS_PER_MIN/],
  ['DEPCANARY_LIMIT_AUTH_FAILURES_PER_MIN', { DEPCANARY_LIMIT_AUTH_FAILURES_PER_MIN: '-1' }, /bad setting DEPCANARY_LIMIT_AUTH_FAILURES_PER_MIN/],
  ['DEPCANARY_LIMIT_AUTH_BLOCK_S', { DEPCANARY_LIMIT_AUTH_BLOCK_S: '0' }, /bad setting DEPCANARY_LIMIT_AUTH_BLOCK_S/],
  ['DEPCANARY_CONFIG', { DEPCANARY_CONFIG: file('limits.json', '{"limits": 5}') }, /bad setting limits .*must be an object/],
  // per source and address block (docs/trust.md)
  ['DEPCANARY_LIMIT_REPORTS_PER_SOURCE_PER_MIN', { DEPCANARY_LIMIT_REPORTS_PER_SOURCE_PER_MIN: 'many' }, /bad setting DEPCANARY_LIMIT_REPORTS_PER_SOURCE_PER_MIN/],
  ['DEPCANARY_LIMIT_AUTH_FAILURES_PER_BLOCK_PER_MIN', { DEPCANARY_LIMIT_AUTH_FAILURES_PER_BLOCK_PER_MIN: '-3' }, /bad setting DEPCANARY_LIMIT_AUTH_FAILURES_PER_BLOCK_PER_MIN/],
  ['DEPCANARY_LIMIT_ENROLMENTS_PER_ADDRESS_PER_HOUR', { DEPCANARY_LIMIT_ENROLMENTS_PER_ADDRESS_PER_HOUR: '1.5' }, /bad setting DEPCANARY_LIMIT_ENROLMENTS_PER_ADDRESS_PER_HOUR/],
  ['DEPCANARY_LIMIT_ENROLMENTS_PER_BLOCK_PER_HOUR', { DEPCANARY_LIMIT_ENROLMENTS_PER_BLOCK_PER_HOUR: 'x' }, /bad setting DEPCANARY_LIMIT_ENROLMENTS_PER_BLOCK_PER_HOUR/],
  ['DEPCANARY_POLICY', { DEPCANARY_POLICY: '{"sourceCap": -1}' }, /bad setting policy\.sourceCap/],
  ['DEPCANARY_POLICY', { DEPCANARY_POLICY: '{"minSources": 0}' }, /bad setting policy\.minSources/],
  ['DEPCANARY_POLICY', { DEPCANARY_POLICY: '{"rollbackMinSources": "three"}' }, /bad setting policy\.rollbackMinSources/],
  ['DEPCANARY_BRANCH_FILES', { DEPCANARY_BRANCH_FILES: 'stable/2025.2=/nonexistent/uc.txt' }, /bad setting DEPCANARY_BRANCH_FILES: stable\/2025.2: file \/nonexistent\/uc.txt does not exist/],
  ['DEPCANARY_BRANCH_FILES', { DEPCANARY_BRANCH_FILES: 'feature/x=/etc/hostname' }, /bad setting DEPCANARY_BRANCH_FILES: "feature\/x" is not a branch/],
  ['DEPCANARY_PYTHON_VERSIONS', { DEPCANARY_PYTHON_VERSIONS: '3.10,three' }, /bad setting DEPCANARY_PYTHON_VERSIONS: Python versions like 3.12/],
  ['DEPCANARY_INDEX_URL', { DEPCANARY_INDEX_URL: 'ftp://index.example' }, /bad setting DEPCANARY_INDEX_URL: must be an http\(s\) URL or off/],
  ['DEPCANARY_INDEX_TIMEOUT_MS', { DEPCANARY_INDEX_TIMEOUT_MS: '5' }, /bad setting DEPCANARY_INDEX_TIMEOUT_MS/],
  ['DEPCANARY_POLICY', { DEPCANARY_POLICY: '{' }, /DEPCANARY_POLICY is not valid JSON/],
  ['DEPCANARY_POLICY', { DEPCANARY_POLICY: '{"alpha": 2}' }, /bad setting policy\.alpha/],
  ['DEPCANARY_POLICY', { DEPCANARY_POLICY: 'null' }, /bad setting policy/],
  ['DEPCANARY_CONFIG', { DEPCANARY_CONFIG: '/nonexistent/config.json' }, /DEPCANARY_CONFIG: file \S+ does not exist/],
  ['DEPCANARY_CONFIG', { DEPCANARY_CONFIG: file('null.json', 'null') }, /must hold a JSON object of settings, not null/],
  ['DEPCANARY_CONFIG', { DEPCANARY_CONFIG: file('array.json', '[]') }, /must hold a JSON object of settings, not an array/],
  ['DEPCANARY_CONFIG', { DEPCANARY_CONFIG: file('string.json', '"port"') }, /must hold a JSON object of settings, not a string/],
  ['DEPCANARY_CONFIG', { DEPCANARY_CONFIG: file('broken.json', '{"port": ') }, /is not valid JSON/],
  ['DEPCANARY_CONFIG', { DEPCANARY_CONFIG: file('typo.json', '{"prot": 8080}') }, /bad setting : Unrecognized key: "prot"|prot/],
  ['DEPCANARY_CONFIG', { DEPCANARY_CONFIG: file('ctl-null.json', '{"controller": null}') }, /bad setting controller .*must be an object, not null/],
  ['DEPCANARY_CONFIG', { DEPCANARY_CONFIG: file('refresh.json', '{"pinsRefreshMs": "x"}') }, /bad setting DEPCANARY_PINS_REFRESH_MS/],
  ['DEPCANARY_CONFIG', { DEPCANARY_CONFIG: file('flag.json', '{"publicRead": "perhaps"}') }, /bad setting DEPCANARY_PUBLIC_READ/],
  ['DEPCANARY_FREEZE_WINDOWS', { DEPCANARY_FREEZE_WINDOWS: '[{"start": "2026-09-01T00:00:00Z", "end": "2026-08-01T00:00:00Z", "reason": "x"}]' }, /bad setting DEPCANARY_FREEZE_WINDOWS: end must be after start/],
  ['DEPCANARY_FREEZE_WINDOWS', { DEPCANARY_FREEZE_WINDOWS: '{' }, /bad setting DEPCANARY_FREEZE_WINDOWS: not valid JSON/],
  ['DEPCANARY_FREEZE_SCHEDULE', { DEPCANARY_FREEZE_SCHEDULE: file('schedule.yaml', 'cycle: 5\n') }, /DEPCANARY_FREEZE_SCHEDULE: .*no "cycle" list/],
  ['DEPCANARY_FREEZE_SCHEDULE', { DEPCANARY_FREEZE_SCHEDULE: '/nonexistent/schedule.yaml' }, /DEPCANARY_FREEZE_SCHEDULE: cannot read \/nonexistent\/schedule.yaml/],
  ['DEPCANARY_SIGNOFFS', { DEPCANARY_SIGNOFFS: '10=two' }, /bad setting DEPCANARY_SIGNOFFS/],
  ['DEPCANARY_WEBHOOKS', { DEPCANARY_WEBHOOKS: '[{"name": "ops", "url": "http://127.0.0.1:9/x", "secret": "whsec_not-base64-and-short"}]' }, /bad setting DEPCANARY_WEBHOOKS: must be whsec_ followed by at least 24 base64 bytes/],
  ['DEPCANARY_WEBHOOKS', { DEPCANARY_WEBHOOKS: '[{"name": "ops", "url": "http://127.0.0.1:9/x"}]' }, /DEPCANARY_WEBHOOKS: webhook "ops": give exactly one of secret and secretFile/],
  ['DEPCANARY_WEBHOOKS_FILE', { DEPCANARY_WEBHOOKS_FILE: file('hooks.json', '{"name": 1}') }, /DEPCANARY_WEBHOOKS_FILE: .* must hold a JSON array/],
  ['DEPCANARY_WEBHOOK_TIMEOUT_MS', { DEPCANARY_WEBHOOK_TIMEOUT_MS: '1' }, /bad setting DEPCANARY_WEBHOOK_TIMEOUT_MS/],
  // Redis Cluster and retention (README "Deployment")
  ['REDIS_CLUSTER', { REDIS_CLUSTER: '127.0.0.1:7000,redis-b' }, /bad setting REDIS_CLUSTER: "redis-b" is not host:port/],
  ['REDIS_CLUSTER', { REDIS_CLUSTER: 'redis://ops:s3cret-word@10.0.0.1' }, /bad setting REDIS_CLUSTER: "10.0.0.1" is not host:port$/],
  ['REDIS_CLUSTER', { REDIS_CLUSTER: ' , ' }, /bad setting REDIS_CLUSTER: names no node/],
  ['REDIS_CLUSTER', { REDIS_CLUSTER: '127.0.0.1:7000', REDIS_URL: 'redis://127.0.0.1:6379' }, /bad setting REDIS_CLUSTER: set REDIS_URL or REDIS_CLUSTER, not both/],
  ['REDIS_CLUSTER', { REDIS_CLUSTER: '127.0.0.1:1', REDIS_URL: '' }, /could not start: None of startup nodes is available/],
  ['DEPCANARY_RETENTION_DAYS', { DEPCANARY_RETENTION_DAYS: '0' }, /bad setting DEPCANARY_RETENTION_DAYS: must be at least 1 day/],
  ['DEPCANARY_RETENTION_DAYS', { DEPCANARY_RETENTION_DAYS: 'a month' }, /bad setting DEPCANARY_RETENTION_DAYS: must be a number of days/],
  ['DEPCANARY_RETENTION_DAYS', { DEPCANARY_RETENTION_DAYS: '1.5' }, /bad setting DEPCANARY_RETENTION_DAYS: must be a whole number of days/],
  ['GERRIT_VOTE_VALUES', { GERRIT_VOTE_VALUES: '1' }, /bad setting GERRIT_VOTE_VALUES/],
  ['GERRIT_URL', { GERRIT_URL: 'ftp://review.example' }, /bad setting GERRIT_URL/],
  ['GERRIT_URL', { GERRIT_URL: 'http://127.0.0.1:1' }, /GERRIT_USER/],
  ['GERRIT_TIMEOUT_SECONDS', { GERRIT_TIMEOUT_SECONDS: 'x' }, /bad setting GERRIT_TIMEOUT_SECONDS/],
];

function run(env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0',
      REDIS_URL: `unix://${process.env.DEPCANARY_TEST_REDIS_SOCKET}`, DEPCANARY_KEY_PREFIX: 'badsettings', DEPCANARY_CONTROLLER: '0',
      DEPCANARY_CONSTRAINTS_FILE: join(FIXTURES, 'upper-constraints.txt'), ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((res) => child.on('exit', (code) => {
    clearTimeout(t);
    res({ code, out, err });
  }));
}

describe('bad settings', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('every setting of server/config.ts has a case here', () => {
    const covered = new Set(CASES.map((c) => c[0]));
    expect(SETTINGS_ENV.filter((name) => !covered.has(name))).toEqual([]);
  });

  test(`${CASES.length} bad settings: no start, exit non-zero, one line naming the cause, no stack trace`, async () => {
    const results: string[] = [];
    const ALSO_RUN = new Set(['PORT', 'LOG_LEVEL', 'DEPCANARY_POLICY']);
    const queue = CASES.filter(([label, env, says]) => {
      let message: string | null = null;
      try {
        loadConfig({ ...env, DEPCANARY_CONSTRAINTS_FILE: env.DEPCANARY_CONSTRAINTS_FILE ?? 'x' });
      } catch (e) {
        if (!(e instanceof ConfigError)) results.push(`${label}: loadConfig threw ${String(e)}`);
        message = (e as Error).message;
      }
      if (message === null) return true; // refused while starting: run it
      if (message.includes('\n') || !says.test(`depcanary: ${message}`)) results.push(`${label} ${JSON.stringify(env)} → ${JSON.stringify(message)}`);
      if (!ALSO_RUN.has(label)) return false;
      ALSO_RUN.delete(label);
      return true;
    });
    expect(queue.length).toBeGreaterThan(8);
    expect(queue.length).toBeLessThan(30);
    await Promise.all([1, 2].map(async () => {
      for (let c = queue.shift(); c; c = queue.shift()) {
        const [label, env, says] = c;
        const r = await run(env);
        const lines = r.err.split('\n').filter((l) => l && !l.startsWith('{'));
        const ok = r.code !== 0 && r.code !== null && !r.out.includes('listening') && lines.length === 1
          && lines[0]!.startsWith('depcanary: ') && says.test(lines[0]!) && !/\n\s+at /.test(r.err);
        if (!ok) results.push(`${label} ${JSON.stringify(env)} → exit ${r.code}, stderr ${JSON.stringify(r.err.slice(0, 400))}`);
      }
    }));
    expect(results).toEqual([]);
  }, 120_000);
});
