import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type RampartApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { generateDemoData } from '../../src/modules/demo/demo.service.js';
import { insertUser } from '../../src/modules/users/users.service.js';
import { cliContext } from '../../src/shared/principal.js';
import { BROWSER_AGENT, field, freePort, launchChromium, screenshot, signedInContext, signInAsBrowser, watch } from './chromium.js';

const ADMIN = { email: 'ana.admin@example.com', name: 'Ana Admin', password: 'copper willow signal drift' };
// Support reads every contact: the one who opens a decoy.
const INSIDER = { email: 'ivo.insider@example.com', name: 'Ivo Insider', password: 'harbour violet engine tulip' };
const SELLER = { email: 'lea.seller@example.com', name: 'Lea Seller', password: 'quartz meadow lantern hinge' };

describe('alerts and detection in a browser', () => {
  let rampart: RampartApp;
  let browser: Browser;
  let baseUrl: string;
  let dataDir: string;

  const signedIn = async (who: { email: string; password: string }, locale = 'en-US'): Promise<{ context: BrowserContext; page: Page; problems: string[] }> => {
    const { context } = await signedInContext(browser, rampart.app, baseUrl, who, { locale });
    const page = await context.newPage();
    return { context, page, problems: watch(page) };
  };

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-browser-'));
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    const config = loadConfig({
      env: { RAMPART_DATA_DIR: dataDir, RAMPART_LOG_LEVEL: 'silent', RAMPART_PUBLIC_URL: baseUrl, RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000', RAMPART_DETECTION: 'on' },
      cwd: dataDir,
    });
    rampart = await buildApp(config);
    await rampart.app.listen({ host: '127.0.0.1', port });
    const ctx = cliContext('test');
    await insertUser(rampart.deps, ctx, { ...ADMIN, roles: ['admin'] });
    await insertUser(rampart.deps, ctx, { ...INSIDER, roles: ['support'] });
    await insertUser(rampart.deps, ctx, { ...SELLER, roles: ['sales'] });
    await generateDemoData(rampart.deps, cliContext('demo'), { sizes: { companies: 6, contacts: 20, deals: 5, activities: 5, tickets: 5 } });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await rampart?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('raises an alert when someone opens a honeytoken, which an administrator reverses, acknowledges and resolves', async () => {
    const { context, page, problems } = await signedIn(ADMIN);
    await page.goto(`${baseUrl}/security/detection`);
    await expect.poll(() => page.getByRole('heading', { name: 'Detection', level: 1 }).isVisible(), { timeout: 15_000 }).toBe(true);
    await expect.poll(() => page.getByRole('table', { name: 'Rules' }).isVisible()).toBe(true);
    await expect.poll(() => page.getByRole('region', { name: 'Engine' }).getByText('Running', { exact: true }).isVisible(), { timeout: 15_000 }).toBe(true);
    // The navigation offers both screens to someone who handles alerts.
    const nav = page.getByRole('navigation', { name: /main/i });
    expect(await nav.getByRole('link', { name: 'Alerts' }).isVisible()).toBe(true);
    expect(await nav.getByRole('link', { name: 'Detection' }).isVisible()).toBe(true);

    const decoys = page.getByRole('region', { name: 'Honeytokens' });
    await field(decoys, 'How many').fill('2');
    await decoys.getByRole('button', { name: 'Plant' }).click();
    await expect.poll(() => decoys.getByRole('status').textContent()).toBe('2 decoy records planted among Contacts.');
    const planted = decoys.getByRole('table', { name: 'Honeytokens' });
    await expect.poll(() => planted.locator('tbody tr').count()).toBe(2);
    await screenshot(page, 'detection');
    await page.getByRole('button', { name: 'Edit the rule Personal data read off hours' }).click();
    const editor = page.getByRole('dialog', { name: 'Rule: Personal data read off hours' });
    await expect.poll(() => editor.getByRole('group', { name: 'Working days' }).isVisible()).toBe(true);
    expect(await field(editor, 'Time zone').inputValue()).toBe('UTC');
    await page.waitForTimeout(400);
    await page.screenshot({ path: path.join(os.tmpdir(), `rampart-rule-editor-${process.pid}.png`) });
    await editor.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => editor.count()).toBe(0);
    const decoyId = ((await planted.locator('tbody tr').first().locator('td').nth(2).textContent()) ?? '').trim();
    expect(decoyId).toMatch(/^[0-9a-f-]{36}$/);

    // Someone with no business there opens the decoy.
    const insider = await signInAsBrowser(rampart.app, INSIDER.email, INSIDER.password);
    const opened = await rampart.app.inject({ method: 'GET', url: `/api/v1/contacts/${decoyId}`, headers: { cookie: insider.cookie, 'user-agent': BROWSER_AGENT } });
    expect(opened.statusCode, opened.body).toBe(200);

    await nav.getByRole('link', { name: 'Alerts' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Alerts', level: 1 }).isVisible()).toBe(true);
    const list = page.getByRole('table', { name: 'Alerts, newest first' });
    const touched = list.getByRole('link', { name: 'Honeytoken touched' });
    // The list asks again every few seconds: the alert shows up without a reload.
    await expect.poll(() => touched.isVisible(), { timeout: 20_000 }).toBe(true);
    const row = list.getByRole('row').filter({ hasText: 'Honeytoken touched' });
    expect(await row.textContent()).toContain('Critical');
    expect(await row.textContent()).toContain('Open');
    await screenshot(page, 'alerts');

    await touched.click();
    expect(page.url()).toMatch(/\/security\/alerts\/[0-9a-f-]{36}$/);
    const drawer = page.getByRole('dialog', { name: 'Honeytoken touched' });
    await expect.poll(() => drawer.getByRole('table', { name: 'Responses' }).isVisible()).toBe(true);
    const responses = drawer.getByRole('table', { name: 'Responses' });
    const lockRow = responses.getByRole('row').filter({ hasText: 'Lock the account' });
    await expect.poll(() => lockRow.textContent()).toContain('Done');
    // The entries behind it are named; an administrator without audit.read cannot open them.
    expect(await drawer.getByRole('list', { name: 'Audit entries behind this alert' }).getByRole('listitem').count()).toBeGreaterThan(0);
    expect(await drawer.getByRole('list', { name: 'Audit entries behind this alert' }).getByRole('link').count()).toBe(0);
    expect(await drawer.getByText('Reading these entries needs the permission to read the audit log.').isVisible()).toBe(true);
    await page.waitForTimeout(400);
    await screenshot(page, 'alert-drawer');

    // The insider is locked out until the lock is reversed.
    const refused = await rampart.app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'user-agent': BROWSER_AGENT }, payload: { email: INSIDER.email, password: INSIDER.password } });
    expect(refused.json().error.code).toBe('auth.account_locked');
    await lockRow.getByRole('button', { name: 'Reverse: Lock the account' }).click();
    const confirm = page.getByRole('dialog', { name: 'Reverse: Lock the account' });
    await confirm.getByRole('button', { name: 'Reverse' }).click();
    await expect.poll(() => lockRow.textContent()).toContain('Reversed');
    const again = await rampart.app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'user-agent': BROWSER_AGENT }, payload: { email: INSIDER.email, password: INSIDER.password } });
    expect(again.statusCode, again.body).toBe(200);

    await field(drawer, 'Note').fill('Insider opened a decoy; talked to their manager.');
    await drawer.getByRole('button', { name: 'Acknowledge' }).click();
    await expect.poll(() => drawer.getByRole('status').textContent()).toBe('Acknowledged.');
    await expect.poll(() => drawer.getByRole('button', { name: 'Acknowledge' }).count()).toBe(0);
    await drawer.getByRole('button', { name: 'Resolve' }).click();
    await expect.poll(() => drawer.getByText('This alert is closed.').isVisible()).toBe(true);
    expect(await drawer.textContent()).toContain('Insider opened a decoy; talked to their manager.');
    await screenshot(page, 'alert-resolved');

    // Closed, it leaves the list of what needs attention, and shows among all of them as resolved.
    await page.keyboard.press('Escape');
    await expect.poll(() => page.url()).toBe(`${baseUrl}/security/alerts`);
    await expect.poll(() => touched.count()).toBe(0);
    await page.getByLabel('Status').selectOption({ label: 'Any status' });
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect.poll(() => list.getByRole('row').filter({ hasText: 'Honeytoken touched' }).textContent()).toContain('Resolved');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('shows the lockdown banner on every screen of every user while it lasts', async () => {
    const admin = await signedIn(ADMIN);
    await admin.page.goto(`${baseUrl}/security/detection`);
    const lockdown = admin.page.getByRole('region', { name: 'Lockdown' });
    await expect.poll(() => lockdown.getByRole('button', { name: 'Start lockdown' }).isVisible(), { timeout: 15_000 }).toBe(true);
    await field(lockdown, 'Reason').fill('Investigating a touched honeytoken');
    await lockdown.getByRole('button', { name: 'Start lockdown' }).click();
    const confirm = admin.page.getByRole('dialog', { name: 'Start the lockdown?' });
    expect(await confirm.textContent()).toContain('Reason: Investigating a touched honeytoken');
    await confirm.getByRole('button', { name: 'Start lockdown' }).click();
    const adminBanner = admin.page.getByRole('status').filter({ hasText: 'Lockdown' }).filter({ hasText: 'You can still make changes.' });
    await expect.poll(() => adminBanner.isVisible()).toBe(true);
    expect(await adminBanner.getByRole('link', { name: 'Detection settings' }).isVisible()).toBe(true);
    await expect.poll(() => lockdown.getByText('In force').isVisible()).toBe(true);
    await screenshot(admin.page, 'lockdown-admin');

    const seller = await signedIn(SELLER);
    await seller.page.goto(`${baseUrl}/contacts`);
    const sellerBanner = seller.page.getByRole('status').filter({ hasText: 'The organisation is read-only for now' });
    await expect.poll(() => sellerBanner.isVisible(), { timeout: 15_000 }).toBe(true);
    // The seller has nothing of the detection screens.
    const nav = seller.page.getByRole('navigation', { name: /main/i });
    expect(await nav.getByRole('link', { name: 'Alerts' }).count()).toBe(0);
    await screenshot(seller.page, 'lockdown-seller');
    await seller.page.getByText('中文', { exact: true }).click();
    await expect.poll(() => seller.page.getByRole('status').filter({ hasText: '全局锁定' }).isVisible()).toBe(true);
    await screenshot(seller.page, 'lockdown-seller-zh');

    await lockdown.getByRole('button', { name: 'Lift lockdown' }).click();
    await admin.page.getByRole('dialog', { name: 'Lift the lockdown?' }).getByRole('button', { name: 'Lift lockdown' }).click();
    await expect.poll(() => adminBanner.count()).toBe(0);
    await expect.poll(() => lockdown.getByRole('button', { name: 'Start lockdown' }).isVisible()).toBe(true);

    // The same screens in Chinese.
    await admin.page.getByText('中文', { exact: true }).click();
    await expect.poll(() => admin.page.getByRole('heading', { name: '入侵检测', level: 1 }).isVisible()).toBe(true);
    await expect.poll(() => admin.page.getByRole('table', { name: '检测规则' }).isVisible()).toBe(true);
    await screenshot(admin.page, 'detection-zh');
    await admin.page.getByRole('navigation').getByRole('link', { name: '告警' }).click();
    await admin.page.getByLabel('状态').selectOption({ label: '任意状态' });
    await admin.page.getByRole('button', { name: '应用' }).click();
    await expect.poll(() => admin.page.getByRole('table', { name: '告警（最新在前）' }).getByRole('link', { name: '蜜罐记录被访问' }).isVisible(), { timeout: 15_000 }).toBe(true);
    await admin.page.getByRole('link', { name: '蜜罐记录被访问' }).first().click();
    await expect.poll(() => admin.page.getByRole('dialog', { name: '蜜罐记录被访问' }).getByRole('table', { name: '响应措施' }).isVisible()).toBe(true);
    await admin.page.waitForTimeout(400);
    await screenshot(admin.page, 'alert-drawer-zh');
    expect(admin.problems).toEqual([]);
    expect(seller.problems).toEqual([]);
    await admin.context.close();
    await seller.context.close();
  });
});
