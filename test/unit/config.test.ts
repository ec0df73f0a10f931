import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/config';
import { hashToken } from '../../server/store/token-store';
import { staticTokens } from '../../server/tokens-file';

describe('config', () => {
  test('defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8080, keyPrefix: 'dc', redisFsync: 'always', controller: { enabled: true } });
    expect(c.redisUrl).toBeUndefined();
    expect(c.constraintsFile).toMatch(/data\/upper-constraints.txt$/);
    // The stable branches shipped beside the master file, an index, the Pythons per branch.
    expect(Object.keys(c.branchFiles)).toEqual(['stable/2025.1', 'stable/2025.2', 'stable/2026.1']);
    expect(c.index).toEqual({ url: 'https://pypi.org/simple/', timeoutMs: 10_000 });
    expect(c.pythonVersions).toBeUndefined();
    const set = loadConfig({ DEPCANARY_BRANCH_FILES: 'none', DEPCANARY_INDEX_URL: 'off', DEPCANARY_PYTHON_VERSIONS: '3.12, 3.11' });
    expect([set.branchFiles, set.index.url, set.pythonVersions]).toEqual([{}, 'off', ['3.12', '3.11']]);
  });

  test.each([
    [{ PORT: 'eighty' }, /PORT/],
    [{ PORT: '70000' }, /PORT/],
    [{ REDIS_URL: 'http://x' }, /REDIS_URL/],
    [{ DEPCANARY_ADMIN_TOKEN: 'short' }, /DEPCANARY_ADMIN_TOKEN.*16/],
    [{ DEPCANARY_CONTROLLER_TICK_MS: '20000' }, /TICK_MS/],
    [{ DEPCANARY_POLICY: '{"alpha": 2}' }, /policy.alpha/],
    [{ DEPCANARY_POLICY: 'not json' }, /DEPCANARY_POLICY/],
    [{ DEPCANARY_CONFIG: '/nonexistent.json' }, /does not exist/],
    [{ DEPCANARY_INDEX_URL: 'ftp://index' }, /DEPCANARY_INDEX_URL.*http\(s\) URL or off/],
    [{ DEPCANARY_INDEX_TIMEOUT_MS: '5' }, /DEPCANARY_INDEX_TIMEOUT_MS/],
    [{ DEPCANARY_PYTHON_VERSIONS: '3.10,three' }, /DEPCANARY_PYTHON_VERSIONS.*like 3.12/],
    [{ DEPCANARY_BRANCH_FILES: 'stable/2025.2=/nonexistent.txt' }, /DEPCANARY_BRANCH_FILES: stable\/2025.2: file \/nonexistent.txt does not exist/],
    [{ DEPCANARY_BRANCH_FILES: 'feature/x=data/upper-constraints.txt' }, /DEPCANARY_BRANCH_FILES.*stable\/2025.2/],
  ])('a bad setting names itself: %j', (env, msg) => {
    expect(() => loadConfig(env)).toThrow(msg);
  });

  test('Redis Cluster seed nodes and retention', () => {
    const c = loadConfig({ REDIS_CLUSTER: '10.0.0.1:7000, redis://ops:p%40ss@redis-b.internal:7001,[::1]:7002' });
    expect(c.redisCluster).toEqual({
      nodes: [{ host: '10.0.0.1', port: 7000 }, { host: 'redis-b.internal', port: 7001 }, { host: '::1', port: 7002 }], username: 'ops', password: 'p@ss',
    });
    expect(c.retentionDays).toBe(30);
    expect(loadConfig({ DEPCANARY_RETENTION_DAYS: '7' }).retentionDays).toBe(7);
    expect(loadConfig({}).redisCluster).toBeUndefined();
    // the message never carries a password
    expect(() => loadConfig({ REDIS_CLUSTER: 'redis://ops:topsecret@10.0.0.1:99999' })).toThrow(/^bad setting REDIS_CLUSTER: "10.0.0.1:99999" is not host:port$/);
  });

  test('server edges: defaults, flags in any case, trust proxy forms', () => {
    expect(loadConfig({})).toMatchObject({ logLevel: 'info', redisTimeoutMs: 2000, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, maxConnections: 4096, publicRead: false, trustProxy: false });
    expect(loadConfig({ DEPCANARY_PUBLIC_READ: 'Yes', DEPCANARY_CONTROLLER: 'OFF', LOG_LEVEL: 'DEBUG' })).toMatchObject({ publicRead: true, logLevel: 'debug', controller: { enabled: false } });
    expect(loadConfig({ DEPCANARY_TRUST_PROXY: 'loopback, 10.0.0.0/8,::1' }).trustProxy).toEqual(['loopback', '10.0.0.0/8', '::1']);
    expect(loadConfig({ DEPCANARY_TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ DEPCANARY_TRUST_PROXY: 'off' }).trustProxy).toBe(false);
    for (const bad of ['true', '*', '11', '10.0.0.0/40', 'example.com', '1.2.3.4/8/9']) expect(() => loadConfig({ DEPCANARY_TRUST_PROXY: bad })).toThrow(/DEPCANARY_TRUST_PROXY/);
  });

  test('a JSON config file, overridden by env', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dc-config-'));
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ port: 9000, keyPrefix: 'prod', controller: { tickMs: 1000 } }));
    const c = loadConfig({ DEPCANARY_CONFIG: file, PORT: '9100' });
    expect(c).toMatchObject({ port: 9100, keyPrefix: 'prod', controller: { tickMs: 1000, enabled: true } });
    writeFileSync(file, JSON.stringify({ prot: 9000 }));
    expect(() => loadConfig({ DEPCANARY_CONFIG: file })).toThrow(/prot/);
  });

  test('tokens file holds hashes only and is validated', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dc-tokens-'));
    const file = join(dir, 't.json');
    writeFileSync(file, JSON.stringify([{ name: 'rm', role: 'release-manager', sha256: hashToken('secret-token') }]));
    const entries = staticTokens('admin-token-0123456789', file);
    expect(entries.map((e) => e.role)).toEqual(['admin', 'release-manager']);
    expect(JSON.stringify(entries)).not.toContain('admin-token-0123456789');
    writeFileSync(file, JSON.stringify([{ name: 'rm', role: 'root', sha256: 'x' }]));
    expect(() => staticTokens(undefined, file)).toThrow(/DEPCANARY_TOKENS_FILE.*role/);
  });
});
