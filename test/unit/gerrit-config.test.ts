import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { backoffMs } from '../../server/gerrit/backoff';
import { GerritConfigError, loadGerritConfig, proposalTopic } from '../../server/gerrit/config';
import { withChangeId, withoutChangeId } from '../../server/gerrit/deliver';
import { decodeContent, GerritError, stripXssi } from '../../server/gerrit/http';
import { parseGerritTime } from '../../server/gerrit/schemas';
import { redact, Secret } from '../../server/gerrit/secret';

const PW = 'hunter2-very-secret-token';

describe('Gerrit settings', () => {
  test('defaults without GERRIT_URL: proposals are built but not sent', () => {
    const s = loadGerritConfig({});
    expect(s.connection).toBeNull();
    expect(s).toMatchObject({
      project: 'openstack/requirements', branch: 'master', constraintsPath: 'upper-constraints.txt',
      requirementsPath: null, topicPrefix: 'depcanary-', hashtags: ['depcanary'], reviewers: [],
      proposePromotions: false, baseRefreshSeconds: 300,
      branches: ['master'], proposeExclusion: true, signedOffBy: null,
    });
    expect(loadGerritConfig({ GERRIT_BRANCHES: 'master, stable/2025.2', GERRIT_SIGNED_OFF_BY: 'depcanary bot <bot@example.org>', GERRIT_PROPOSE_EXCLUSION: 'no' })).toMatchObject({
      branch: 'master', branches: ['master', 'stable/2025.2'], signedOffBy: 'depcanary bot <bot@example.org>', proposeExclusion: false,
    });
  });

  test('env over the config file; lists, booleans and a password file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gcfg-'));
    writeFileSync(join(dir, 'pw'), `${PW}\n`);
    const s = loadGerritConfig(
      {
        GERRIT_URL: 'https://review.example.org/', GERRIT_USER: 'bot', GERRIT_PASSWORD_FILE: join(dir, 'pw'),
        GERRIT_REVIEWERS: 'a@example.org, b ', GERRIT_PROPOSE_PROMOTIONS: 'yes',
      },
      { GERRIT_PROJECT: 'x/req', GERRIT_BRANCH: 'stable/2025.1', GERRIT_REQUIREMENTS_PATH: 'global-requirements.txt', GERRIT_BASE_REFRESH_SECONDS: 60, GERRIT_REVIEWERS: 'ignored' },
    );
    expect(s.connection?.url).toBe('https://review.example.org');
    expect(s.connection?.password.reveal()).toBe(PW);
    expect(s).toMatchObject({ project: 'x/req', branch: 'stable/2025.1', requirementsPath: 'global-requirements.txt', reviewers: ['a@example.org', 'b'], proposePromotions: true, baseRefreshSeconds: 60 });
    expect(proposalTopic(s, 'rollback', 'oslo-log-6.1.0-abc')).toBe('depcanary-rollback-oslo-log-6.1.0-abc');
  });

  test.each([
    [{ GERRIT_URL: 'https://g.example.org' }, /GERRIT_USER: required/],
    [{ GERRIT_URL: 'https://g.example.org', GERRIT_USER: 'u' }, /GERRIT_PASSWORD: required/],
    [{ GERRIT_URL: `https://u:${PW}@g.example.org`, GERRIT_USER: 'u', GERRIT_PASSWORD: PW }, /GERRIT_URL: must not contain credentials/],
    [{ GERRIT_URL: 'ftp://g.example.org', GERRIT_USER: 'u', GERRIT_PASSWORD: PW }, /GERRIT_URL: must be an http/],
    [{ GERRIT_URL: 'https://g', GERRIT_USER: 'u', GERRIT_PASSWORD: PW, GERRIT_PASSWORD_FILE: '/x' }, /not both/],
    [{ GERRIT_URL: 'https://g', GERRIT_USER: 'u', GERRIT_PASSWORD_FILE: '/nonexistent/pw' }, /GERRIT_PASSWORD_FILE: cannot read \/nonexistent\/pw \(ENOENT\)/],
    [{ GERRIT_CONSTRAINTS_PATH: '../etc/passwd' }, /GERRIT_CONSTRAINTS_PATH: must be a relative path/],
    [{ GERRIT_REQUIREMENTS_PATH: 'upper-constraints.txt' }, /must differ/],
    [{ GERRIT_TOPIC_PREFIX: 'a b' }, /GERRIT_TOPIC_PREFIX/],
    [{ GERRIT_SIGNED_OFF_BY: 'just a name' }, /GERRIT_SIGNED_OFF_BY: must be "Name <email>"/],
    [{ GERRIT_BRANCHES: 'master,has space' }, /GERRIT_BRANCHES/],
  ])('refuses %o', (env, msg) => {
    let err: unknown;
    try {
      loadGerritConfig(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GerritConfigError);
    expect((err as Error).message).toMatch(msg);
    expect((err as Error).message).not.toContain(PW);
  });

  test('the password never prints', () => {
    const s = loadGerritConfig({ GERRIT_URL: 'https://g.example.org', GERRIT_USER: 'u', GERRIT_PASSWORD: PW });
    for (const out of [JSON.stringify(s), inspect(s, { depth: 10 }), String(s.connection?.password), `${s.connection?.password}`]) {
      expect(out).not.toContain(PW);
    }
    expect(new Secret('x').reveal()).toBe('x');
  });
});

describe('redaction and Gerrit answers', () => {
  test('redact removes the secret, its encodings and any Basic credentials', () => {
    const b64 = Buffer.from(`bot:${PW}`).toString('base64');
    const text = `pw=${PW} enc=${encodeURIComponent(PW)} hdr=Basic ${b64} raw=${b64} other=Basic dXNlcjpwYXNzd29yZA==`;
    const out = redact(text, [PW, `bot:${PW}`]);
    expect(out).not.toContain(PW);
    expect(out).not.toContain(b64);
    expect(out).not.toContain('dXNlcjpwYXNzd29yZA==');
  });

  test('XSSI prefix and file contents', () => {
    expect(stripXssi(")]}'\n{\"a\":1}")).toBe('{"a":1}');
    expect(stripXssi('{"a":1}')).toBe('{"a":1}');
    expect(decodeContent('"a\\u003d\\u003d\\u003d1\\n"', new Headers({ 'x-fyi-content-encoding': 'json' }))).toBe('a===1\n');
    expect(decodeContent('YT09PTEK', new Headers({ 'x-fyi-content-encoding': 'base64' }))).toBe('a===1\n');
  });

  test('what is worth retrying', () => {
    const e = (status: number, body = '') => new GerritError('x', status, 'GET', '/p', body);
    expect([0, 500, 502, 503, 429, 408].map((s) => e(s).retryable)).toEqual([true, true, true, true, true, true]);
    expect([400, 401, 403, 404, 405, 422].map((s) => e(s).retryable)).toEqual([false, false, false, false, false, false]);
    expect(e(409, 'Cannot lock ref, try again').retryable).toBe(true);
    expect(e(409, 'change is closed').retryable).toBe(false);
  });

  test('Change-Id footers and timestamps', () => {
    const id = `I${'a'.repeat(40)}`;
    const stored = `Subject\n\nBody\n\nChange-Id: ${id}\nDepcanary-Rollout: r1\n`;
    expect(withoutChangeId(stored)).toBe('Subject\n\nBody\n\nDepcanary-Rollout: r1\n');
    expect(withChangeId('Subject\n\nDepcanary-Rollout: r1\n', id)).toBe(`Subject\n\nDepcanary-Rollout: r1\nChange-Id: ${id}\n`);
    expect(withoutChangeId(withChangeId('S\n\nDepcanary-Rollout: r1\n', id))).toBe('S\n\nDepcanary-Rollout: r1\n');
    expect(parseGerritTime('2026-11-22 04:31:44.848000000')).toBe(Date.UTC(2026, 10, 22, 4, 31, 44, 848));
    expect(parseGerritTime('nonsense')).toBeNull();
  });
});

describe('backoff', () => {
  test('doubles from the base, capped, jittered within [cap/2, cap]', () => {
    const p = { baseMs: 1000, maxMs: 60_000 };
    expect(backoffMs(1, p, () => 1)).toBe(1000);
    expect(backoffMs(1, p, () => 0)).toBe(500);
    expect(backoffMs(4, p, () => 1)).toBe(8000);
    expect(backoffMs(50, p, () => 1)).toBe(60_000);
    expect(backoffMs(50, p, () => 0)).toBe(30_000);
    for (let a = 1; a < 40; a++) expect(backoffMs(a)).toBeLessThanOrEqual(5 * 60_000);
  });
});
