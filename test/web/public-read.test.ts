import { chromium, type Browser } from 'playwright-core';
import { webExtension } from '../../server/web/routes';
import { startTestServer, type TestServer } from '../support/server';

/**
 * DEPCANARY_PUBLIC_READ in a real browser: the dashboard shows the rollouts without a token
 * (no sign-in card), and an action from it is refused with the 401 hint.
 */
describe('dashboard in public read mode', () => {
  let s: TestServer;
  let browser: Browser;
  beforeAll(async () => {
    s = await startTestServer({ publicRead: true }, [webExtension()]);
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

  test('rollouts are shown without a token; acting still needs one', async () => {
    const ro = (await s.req('POST', '/v1/rollouts', { library: 'oslo.log', candidate: '8.4.0' })).json;
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${s.url}/`);
    await page.locator(`tr[data-id="${ro.id}"]`).waitFor();
    expect(await page.getByText('Sign in with an API token').count()).toBe(0);
    expect(await page.getAttribute('#token-input', 'placeholder')).toBe('read-only · API token to act');
    await page.goto(`${s.url}/rollouts/${ro.id}`);
    await page.click('button[data-action="pause"]');
    await page.fill('.action-form input[name="reason"]', 'anonymous try');
    await page.click('.action-form button[type="submit"]');
    await page.locator('.action-message.error').getByText(/Pause failed \(401\).*Enter a valid token/).waitFor();
    expect((await s.req('GET', `/v1/rollouts/${ro.id}`)).json.state).toBe('active');
    expect(errors).toEqual([]);
    await page.close();
  });
});
