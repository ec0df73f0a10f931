import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { controllerExtension } from '../../server/controller/extension';
import { webExtension } from '../../server/web/routes';
import { ROOT } from '../support/process';
import { ADMIN_TOKEN, startTestServer, type TestServer } from '../support/server';
import { feedArm } from './feed';

/**
 * The dashboard in Debian's chromium (playwright-core), against a real server with the
 * controller on a real Redis. Screenshots go to test-output/.
 */
const OUT = join(ROOT, 'test-output');
const CANDIDATE_RGB = [217, 72, 15];

describe('dashboard in a real browser', () => {
  let s: TestServer;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[];

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    s = await startTestServer({ controller: { enabled: true, tickMs: 200, debounceMs: 50, leaseMs: 5000 } }, [controllerExtension(), webExtension()]);
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });
  beforeEach(async () => {
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  });
  afterEach(async () => {
    await page.close();
  });

  async function signIn(token: string) {
    await page.goto(`${s.url}/`);
    await page.fill('#token-input', token);
    await page.click('#token-save');
  }

  test('sign in, see the rollouts with a bar per stage, promote from the rollout page, see the chart', async () => {
    const healthy = (await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0', stages: [20, 50, 100] })).json;
    const broken = (await s.req('POST', '/v1/rollouts', { library: 'stevedore', candidate: '6.0.0', stages: [20, 50, 100], policy: { minControlRuns: 20 } })).json;
    // Enough reports for a few controller evaluations of each (the default soak holds them at 20%).
    for (let round = 0; round < 3; round++) {
      await feedArm(s, healthy, 'candidate', 4, (i) => i === 0 && round === 0);
      await feedArm(s, healthy, 'control', 10, (i) => i === 0);
      await feedArm(s, broken, 'candidate', 3, (i) => i < 1, 'nova.tests.unit.test_hooks.HookTestCase.test_load');
      await feedArm(s, broken, 'control', 10, (i) => i === 0);
      await new Promise((r) => setTimeout(r, 400));
    }
    await waitFor(async () => (await s.req('GET', `/v1/rollouts/${healthy.id}/series`)).json.points.length >= 3);

    await page.goto(`${s.url}/`);
    await page.getByText('Sign in with an API token').waitFor();
    await signIn(ADMIN_TOKEN);
    const rows = page.locator('tr.rollout-row');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(2);
    const row = page.locator(`tr[data-id="${healthy.id}"]`);
    await expect(row.locator('.lib').textContent()).resolves.toBe('oslo.log');
    expect(await row.locator('.stage').count()).toBe(3);
    expect(await row.locator('.stage-current').getAttribute('data-percent')).toBe('20');
    await expect(row.locator('.col-decision .badge').textContent()).resolves.toMatch(/hold/i);
    expect(await page.evaluate('sessionStorage.getItem("depcanary.token")')).toBe(ADMIN_TOKEN);
    expect(await page.evaluate('document.cookie')).toBe('');
    await page.screenshot({ path: join(OUT, 'dashboard-list.png'), fullPage: true });

    await row.locator('.lib').click();
    await page.waitForURL(`${s.url}/rollouts/${healthy.id}`);
    await page.locator('.head-stages').getByText('20% · stage 1 of 3').waitFor();
    await page.locator('#decision .gauge').first().waitFor();
    // The chart: a canvas with the candidate's line drawn in its colour.
    const canvas = page.locator('.chart canvas');
    await canvas.waitFor();
    await waitFor(() => page.evaluate<number>(countColour(CANDIDATE_RGB)).then((n) => n > 20));
    const box = await canvas.boundingBox();
    expect(box!.width).toBeGreaterThan(300);
    expect(box!.height).toBeGreaterThan(200);
    await page.locator('table.audit').getByText('created').waitFor();

    await page.click('button[data-action="promote"]');
    await page.fill('.action-form input[name="reason"]', 'dashboard test: looks good');
    await page.click('.action-form button[type="submit"]');
    await page.locator('.head-stages').getByText('50% · stage 2 of 3').waitFor();
    await page.locator('table.audit .event-badge-advanced').waitFor();
    await page.getByText('dashboard test: looks good').first().waitFor();
    const after = (await s.req('GET', `/v1/rollouts/${healthy.id}`)).json;
    expect(after).toMatchObject({ stageIndex: 1, percent: 50, state: 'active' });
    await page.screenshot({ path: join(OUT, 'dashboard-rollout.png'), fullPage: true });

    // The broken rollout's page names the segment with the strongest evidence, as the server words it.
    await page.goto(`${s.url}/rollouts/${broken.id}`);
    const seg = page.locator('#segments ol.segments li').first();
    await seg.waitFor();
    expect(await seg.textContent()).toMatch(/^ nova: nova\.tests\.unit\.test_hooks\.HookTestCase\.test_load fails on 3 of 9 candidate machines, 0 of 30 control machines e = /);
    const view = (await s.req('GET', `/v1/rollouts/${broken.id}`)).json;
    expect(await page.locator('#decision .gauge[data-gauge="segment"]').textContent()).toContain(view.figures.gauges.find((g: { key: string }) => g.key === 'segment').text);
    expect(pageErrors).toEqual([]);
  });

  test('updates live without a reload; a viewer token gets a clear 403; a bad token a clear 401', async () => {
    const ro = (await s.req('POST', '/v1/rollouts', { library: 'requests', candidate: '2.35.0' })).json;
    const viewer = (await s.req('POST', '/v1/tokens', { name: 'dash-viewer', role: 'viewer' })).json.token as string;
    await signIn(viewer);
    await page.goto(`${s.url}/rollouts/${ro.id}`);
    await page.locator('.rollout-head .badge.state-active').waitFor();
    await page.evaluate('window.marker = 42');
    await s.req('POST', `/v1/rollouts/${ro.id}/pause`, { reason: 'paused behind the page' });
    await page.locator('.rollout-head .badge.state-paused').waitFor({ timeout: 10_000 });
    expect(await page.evaluate('window.marker')).toBe(42); // no reload happened

    await page.click('button[data-action="resume"]');
    await page.click('.action-form button[type="submit"]');
    const msg = page.locator('.action-message.error');
    await msg.waitFor();
    expect(await msg.textContent()).toBe('Resume failed (403): this needs the release-manager role; token "dash-viewer" has viewer.');

    // The Gerrit change a rollback proposed is linked from the page.
    const url = 'http://127.0.0.1:8081/c/openstack/requirements/+/42';
    await s.req('POST', `/v1/rollouts/${ro.id}/rollback`, { reason: 'breaks nova' });
    await s.server.runtime.rolloutStore.setProposal(ro.id, {
      kind: 'rollback', status: 'sent', changeNumber: 42, url, subject: 'Roll back requests to 2.34.2', files: ['upper-constraints.txt'],
      patch: '--- a/upper-constraints.txt\n+++ b/upper-constraints.txt\n', attempts: 1, updatedAt: Date.now(),
    });
    const change = page.locator('a.gerrit-link', { hasText: '#42' });
    await change.waitFor({ timeout: 10_000 });
    expect(await change.getAttribute('href')).toBe(url);
    await page.getByText('Roll back requests to 2.34.2').waitFor();
    expect(await page.locator('button[data-action="promote"]').isDisabled()).toBe(true);

    await page.fill('#token-input', 'not-a-token');
    await page.click('#token-save');
    await page.locator('#banner').getByText('The server refused the token (unknown or revoked token)').waitFor();
    expect(pageErrors.filter((e) => !/401|403/.test(e))).toEqual([]);
  });

  test('each rollout names its branch; a rollback of a merged bump shows its emergency pin', async () => {
    const onStable = (await s.req('POST', '/v1/rollouts', { library: 'numpy', candidate: '2.3.0', branch: '2025.2', requiresPython: '>=3.11' })).json;
    const bump = (await s.req('POST', '/v1/rollouts', { library: 'six', stable: '1.16.0', candidate: '1.17.0' })).json;
    await s.req('POST', `/v1/rollouts/${bump.id}/rollback`, { reason: 'six 1.17.0 breaks the py2 shims' });
    await signIn(ADMIN_TOKEN);
    const row = page.locator(`tr[data-id="${onStable.id}"]`);
    await expect(row.locator('.branch-tag').textContent()).resolves.toBe('stable/2025.2');
    await expect(page.locator(`tr[data-id="${bump.id}"] .emergency-pin`).textContent()).resolves.toBe('emergency pin: everyone on 1.16.0');
    await page.goto(`${s.url}/rollouts/${onStable.id}`);
    await page.locator('.python-support').getByText(/Requires-Python >=3\.11 \(given at start\) · Python 3\.10 keep 2\.2\.6 · candidate machines get 2\.3\.0 on 1 line/).waitFor();
    await page.goto(`${s.url}/rollouts/${bump.id}`);
    const pin = page.locator('.rollout-head .emergency-pin');
    await pin.waitFor();
    expect(await pin.textContent()).toMatch(/^⚠ Emergency pin: every machine on master gets six 1\.16\.0 until the base stops pinning 1\.17\.0 \(merge the revert\)\. Since .*: six 1\.17\.0 breaks the py2 shims$/);
    await page.screenshot({ path: join(OUT, 'dashboard-emergency-pin.png') });
    expect(pageErrors).toEqual([]);
  });
});

/** A page expression: how many pixels of the chart canvas are close to `rgb`. */
function countColour([r, g, b]: number[]): string {
  return `(() => {
    const c = document.querySelector('.chart canvas');
    if (!c) return 0;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (Math.abs(d[i] - ${r}) < 30 && Math.abs(d[i + 1] - ${g}) < 30 && Math.abs(d[i + 2] - ${b}) < 30 && d[i + 3] > 200) n++;
    }
    return n;
  })()`;
}

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 200));
  }
}
