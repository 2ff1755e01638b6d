import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type RampartApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { generateDemoData } from '../../src/modules/demo/demo.service.js';
import { listTeams } from '../../src/modules/teams/teams.service.js';
import { insertUser } from '../../src/modules/users/users.service.js';
import { cliContext } from '../../src/shared/principal.js';
import { field, freePort, launchChromium, screenshot, signedInContext, watch } from './chromium.js';

const ADMIN = { email: 'ada.admin@example.com', name: 'Ada Admin', password: 'lantern copper meadow hinge' };
const SELLER = { email: 'wei.seller@example.com', name: '魏销售', password: 'harbour violet engine tulip' };


describe('administration and the dashboard in a browser', () => {
  let rampart: RampartApp;
  let browser: Browser;
  let baseUrl: string;
  let dataDir: string;

  /** A browser signed in (as the administrator unless told), second factor set up and proved just now. */
  const signedIn = async (who = ADMIN, locale = 'en-US'): Promise<{ context: BrowserContext; page: Page; problems: string[] }> => {
    const { context } = await signedInContext(browser, rampart.app, baseUrl, who, { locale });
    const page = await context.newPage();
    return { context, page, problems: watch(page) };
  };

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-browser-'));
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    const config = loadConfig({ env: { RAMPART_DATA_DIR: dataDir, RAMPART_LOG_LEVEL: 'silent', RAMPART_PUBLIC_URL: baseUrl, RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000' }, cwd: dataDir });
    rampart = await buildApp(config);
    await rampart.app.listen({ host: '127.0.0.1', port });
    await insertUser(rampart.deps, cliContext('test'), { ...ADMIN, roles: ['admin'] });
    await generateDemoData(rampart.deps, cliContext('x'), { sizes: { companies: 12, contacts: 30, deals: 40, activities: 60, tickets: 25 } });
    const team = (await listTeams(rampart.deps, cliContext('test'))).find((t) => t.name.includes('East China'))!;
    await insertUser(rampart.deps, cliContext('test'), { ...SELLER, roles: ['sales'], teamId: team.id, locale: 'zh-CN' });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await rampart?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('renders the dashboard charts for sample data, on a laptop and a tablet', async () => {
    const { context, page, problems } = await signedIn();
    await page.goto(`${baseUrl}/`);
    await expect.poll(() => page.getByRole('heading', { name: `Welcome, ${ADMIN.name}` }).isVisible()).toBe(true);
    for (const title of ['Pipeline value by stage', 'Deals won and lost', 'Tickets', 'Activities per person']) {
      await expect.poll(() => page.getByRole('heading', { name: title, exact: true }).isVisible(), { message: title }).toBe(true);
    }
    // Every card draws its chart: bars, areas, the donut's sectors.
    await expect.poll(() => page.locator('.recharts-surface').count()).toBeGreaterThanOrEqual(4);
    await expect.poll(() => page.locator('.recharts-bar-rectangle').count()).toBeGreaterThan(0);
    await expect.poll(() => page.locator('.recharts-pie-sector').count()).toBeGreaterThan(0);
    await page.waitForTimeout(600);
    await screenshot(page, 'dashboard-laptop');
    await page.setViewportSize({ width: 768, height: 1024 });
    await page.waitForTimeout(600);
    await screenshot(page, 'dashboard-tablet');
    expect(problems).toEqual([]);
    await context.close();
  });

  it("shows a sales user their team's figures in Chinese, and no administration", async () => {
    const { context, page, problems } = await signedIn(SELLER, 'zh-CN');
    await page.goto(`${baseUrl}/`);
    await expect.poll(() => page.getByRole('heading', { name: `欢迎，${SELLER.name}` }).isVisible()).toBe(true);
    await expect.poll(() => page.getByRole('heading', { name: '各阶段商机金额' }).isVisible()).toBe(true);
    await expect.poll(() => page.locator('.recharts-surface').count()).toBeGreaterThanOrEqual(3);
    expect(await page.getByRole('link', { name: '系统管理' }).count()).toBe(0);
    await page.waitForTimeout(600);
    await screenshot(page, 'dashboard-sales-zh');
    await page.goto(`${baseUrl}/admin/users`);
    await expect.poll(() => page.getByRole('heading', { name: '系统管理' }).isVisible()).toBe(true);
    expect(await page.getByRole('table').count()).toBe(0);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('creates a user, a custom field and a role whose matrix change sticks after a reload', async () => {
    const { context, page, problems } = await signedIn();
    await page.goto(`${baseUrl}/admin`);
    await expect.poll(() => page.getByRole('heading', { name: 'Users', exact: true }).isVisible()).toBe(true);

    // A user, with the API's word on a password that is too short beside the field.
    await page.getByRole('button', { name: 'New user' }).click();
    const userForm = page.getByRole('form', { name: 'New user' });
    await field(userForm, 'Email').fill('li.lei@example.com');
    await field(userForm, 'Name').fill('Li Lei');
    await field(userForm, 'First password').fill('too short');
    await field(userForm, 'Roles').click();
    await page.getByRole('option', { name: 'Sales' }).click();
    await page.keyboard.press('Escape');
    await userForm.getByRole('button', { name: 'Create user' }).click();
    await expect.poll(() => userForm.getByRole('alert').isVisible()).toBe(true);
    await expect.poll(async () => (await field(userForm, 'First password').getAttribute('aria-invalid')) === 'true').toBe(true);
    await screenshot(page, 'admin-user-form');
    await field(userForm, 'First password').fill('orbit lantern cobalt harbour');
    await userForm.getByRole('button', { name: 'Create user' }).click();
    await expect.poll(() => page.getByRole('cell', { name: 'li.lei@example.com', exact: true }).isVisible()).toBe(true);
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
    await screenshot(page, 'admin-users');

    // A custom field on contacts.
    await page.getByRole('navigation', { name: 'Administration sections' }).getByRole('link', { name: 'Custom fields' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Custom fields', exact: true }).isVisible()).toBe(true);
    await page.getByRole('button', { name: 'New custom field' }).click();
    const fieldForm = page.getByRole('form', { name: 'New custom field' });
    await field(fieldForm, 'Label').fill('Loyalty tier');
    await field(fieldForm, 'Key').fill('loyaltyTier');
    await fieldForm.getByRole('button', { name: 'Create field' }).click();
    await expect.poll(() => page.getByRole('cell', { name: 'Loyalty tier', exact: true }).isVisible()).toBe(true);
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
    await screenshot(page, 'admin-custom-fields');

    // A custom role, then a change to its matrix.
    await page.getByRole('navigation', { name: 'Administration sections' }).getByRole('link', { name: 'Roles' }).click();
    await page.getByRole('button', { name: 'New role' }).click();
    const roleForm = page.getByRole('form', { name: 'New role' });
    await field(roleForm, 'Role id').fill('key_accounts');
    await field(roleForm, 'Name').fill('Key accounts');
    await roleForm.getByRole('button', { name: 'Create role' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Role: Key accounts' }).isVisible()).toBe(true);
    await page.getByLabel('Deals: Read').selectOption('team');
    await page.getByLabel('Deals: Update').selectOption('own');
    await page.getByRole('checkbox', { name: /Manage tags/ }).check();
    await page.getByRole('button', { name: 'Save role' }).click();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'The role is saved' }).isVisible()).toBe(true);
    await page.reload();
    await expect.poll(() => page.getByRole('heading', { name: 'Role: Key accounts' }).isVisible()).toBe(true);
    await expect.poll(() => page.getByLabel('Deals: Read').inputValue()).toBe('team');
    expect(await page.getByLabel('Deals: Update').inputValue()).toBe('own');
    expect(await page.getByLabel('Deals: Delete').inputValue()).toBe('none');
    expect(await page.getByRole('checkbox', { name: /Manage tags/ }).isChecked()).toBe(true);
    await screenshot(page, 'admin-role-matrix');
    await page.setViewportSize({ width: 768, height: 1024 });
    await screenshot(page, 'admin-role-matrix-tablet');
    await page.setViewportSize({ width: 1280, height: 900 });

    // A shipped role offers only what the API lets change.
    await page.goto(`${baseUrl}/admin/roles/sales`);
    await expect.poll(() => page.getByRole('heading', { name: 'Role: Sales' }).isVisible()).toBe(true);
    expect(await page.getByLabel('Deals: Read').isDisabled()).toBe(true);
    expect(await page.getByLabel('Counts only from').isDisabled()).toBe(false);

    // Teams as a tree.
    await page.goto(`${baseUrl}/admin/teams`);
    const teamForm = page.getByRole('form', { name: 'New team' });
    await field(teamForm, 'Team name').fill('North region');
    await teamForm.getByRole('button', { name: 'Create team' }).click();
    await expect.poll(() => page.locator('.admin-tree').getByText('North region', { exact: true }).isVisible()).toBe(true);
    await field(teamForm, 'Team name').fill('Seattle office');
    await field(teamForm, 'Parent team').click();
    await page.getByRole('option', { name: 'North region' }).click();
    await teamForm.getByRole('button', { name: 'Create team' }).click();
    // The new team sits under its parent.
    await expect.poll(() => page.locator('.admin-tree .admin-tree').getByText('Seattle office', { exact: true }).isVisible()).toBe(true);
    await screenshot(page, 'admin-teams');
    expect(problems).toEqual([]);
    await context.close();
  });
});
