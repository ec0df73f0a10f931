import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { webExtension } from '../../server/web/routes';
import { ROOT } from '../support/process';
import { ADMIN_TOKEN, startTestServer, type TestServer } from '../support/server';

/**
 * The dashboard's side of bump-change canaries, signoffs and freeze windows, in Debian's
 * chromium against a real server: the change a canary comes from (linked), the signoff a
 * stage still needs, approving it from the page, the approvals given and the freeze window.
 */
const OUT = join(ROOT, 'test-output');

describe('dashboard: source change, signoffs, freeze', () => {
  let s: TestServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  let alice: string;

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    s = await startTestServer({
      signoffs: { 1: 2 },
      freezeWindows: [{ start: Date.now() - 60_000, end: Date.now() + 3_600_000, reason: 'Requirements freeze (2026.1 hibiscus)' }],
    }, [webExtension()]);
    alice = (await s.req('POST', '/v1/tokens', { name: 'alice', role: 'release-manager' })).json.token;
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  });
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  async function signIn(token: string) {
    await page.goto(`${s.url}/`);
    await page.fill('#token-input', token);
    await page.click('#token-save');
  }

  test('a bump change\'s canary links its change, says what signoff it needs, and is approved from the page', async () => {
    const url = 'https://review.opendev.org/c/openstack/requirements/+/4711';
    const ro = await s.server.runtime.rollouts.create({
      library: 'tzdata', candidate: '2026.4', reason: 'canary of change 4711 patch set 2',
      source: {
        kind: 'gerrit', project: 'openstack/requirements', branch: 'master', change: 4711, patchSet: 2, revision: 'a'.repeat(40), parent: 'b'.repeat(40),
        url, subject: 'Updated from generate-constraints', topic: 'openstack/requirements/constraints', changeId: `I${'c'.repeat(40)}`, bundle: 3,
      },
    }, 'depcanary-change-watch');
    const manual = (await s.req('POST', '/v1/rollouts', { library: 'six', candidate: '1.18.0', stages: [50, 100] })).json;

    await signIn(alice);
    const tag = page.locator(`tr[data-id="${ro.id}"] .change-tag`);
    await tag.waitFor();
    expect(await tag.textContent()).toBe('change 4711/2');
    expect(await page.locator(`tr[data-id="${manual.id}"] .change-tag`).count()).toBe(0);

    await page.goto(`${s.url}/rollouts/${ro.id}`);
    const source = page.locator('.rollout-head .change-source');
    await source.waitFor();
    expect(await source.textContent()).toBe('Canary of change #4711, patch set 2 on master · topic openstack/requirements/constraints · one of the 3 libraries it moves · Updated from generate-constraints');
    expect(await source.locator('a.gerrit-link').getAttribute('href')).toBe(url);
    await page.getByText('No change of its own: its verdict is the vote on change #4711.').waitFor();
    const need = page.locator('.rollout-head .signoff-needed');
    expect(await need.textContent()).toBe('stage 1 (1%) needs 2 approvals from distinct release managers before it advances: 0 so far');
    expect(await page.locator('.rollout-head .freeze').textContent()).toMatch(/^❄ Freeze window: no automatic advance until .+: Requirements freeze \(2026\.1 hibiscus\)$/);

    await page.click('button[data-action="approve"]');
    await page.fill('.action-form input[name="reason"]', 'nova and neutron runs are clean');
    await page.click('.action-form button[type="submit"]');
    await page.locator('.action-message.ok').getByText('Approve stage: done').waitFor();
    await page.locator('.approvals li').getByText('stage 1 (1%) approved by alice (release-manager)').waitFor();
    expect(await need.textContent()).toBe('stage 1 (1%) needs 2 approvals from distinct release managers before it advances: 1 so far (alice (release-manager))');
    await page.locator('table.audit .event-badge-approved').waitFor();

    // The same person cannot approve twice: a clear 409.
    await page.click('button[data-action="approve"]');
    await page.fill('.action-form input[name="reason"]', 'again');
    await page.click('.action-form button[type="submit"]');
    await page.locator('.action-message.error').getByText(/already approved stage 1/).waitFor();

    await signIn(ADMIN_TOKEN);
    await page.goto(`${s.url}/rollouts/${ro.id}`);
    await page.click('button[data-action="approve"]');
    await page.fill('.action-form input[name="reason"]', 'second signoff');
    await page.click('.action-form button[type="submit"]');
    await page.locator('.rollout-head .signoff-met').waitFor();
    expect(await page.locator('.approvals li').count()).toBe(2);
    await page.screenshot({ path: join(OUT, 'dashboard-signoff.png'), fullPage: true });

    // Without a signoff policy on its stage, a rollout has no Approve button and no signoff line.
    await page.goto(`${s.url}/rollouts/${manual.id}`);
    await page.locator('.rollout-head .freeze').waitFor();
    expect(await page.locator('button[data-action="approve"]').isHidden()).toBe(true);
    expect(await page.locator('.rollout-head .signoff').count()).toBe(0);
    expect(await page.locator('.rollout-head .change-source').count()).toBe(0);
    expect(pageErrors.filter((e) => !/409/.test(e))).toEqual([]);
  });
});
