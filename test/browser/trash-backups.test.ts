import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type RampartApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { insertUser } from '../../src/modules/users/users.service.js';
import { cliContext } from '../../src/shared/principal.js';
import { BROWSER_AGENT, field, freePort, launchChromium, screenshot, signedInContext, signInAsBrowser, watch } from './chromium.js';

const ADMIN = { email: 'ada.admin@example.com', name: 'Ada Admin', password: 'copper willow signal drift' };
// Sales deletes and restores its own records, and needs no second factor.
const SELLER = { email: 'sam.seller@example.com', name: 'Sam Seller', password: 'quartz meadow lantern hinge' };
const PEOPLE = ['Ahn', 'Baker', 'Chen', 'Dubois', 'Eze'];
// More records than this at once need a second person's approval; three is not more.
const APPROVAL_ABOVE = 3;

describe('bulk delete, the trash and backups in a browser', () => {
  let rampart: RampartApp;
  let browser: Browser;
  let baseUrl: string;
  let dataDir: string;
  let backupDir: string;

  const signedIn = async (who: { email: string; password: string }): Promise<{ context: BrowserContext; page: Page; problems: string[]; recoveryCodes: string[] }> => {
    const { context, session } = await signedInContext(browser, rampart.app, baseUrl, who);
    const page = await context.newPage();
    return { context, page, problems: watch(page), recoveryCodes: [...session.recoveryCodes] };
  };

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-browser-'));
    backupDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-backups-'));
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    const config = loadConfig({
      env: { RAMPART_DATA_DIR: dataDir, RAMPART_LOG_LEVEL: 'silent', RAMPART_PUBLIC_URL: baseUrl, RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000', RAMPART_BACKUP_DIR: backupDir, RAMPART_BULK_APPROVAL_RECORDS: String(APPROVAL_ABOVE) },
      cwd: dataDir,
    });
    rampart = await buildApp(config);
    await rampart.app.listen({ host: '127.0.0.1', port });
    const ctx = cliContext('test');
    await insertUser(rampart.deps, ctx, { ...ADMIN, roles: ['admin'] });
    await insertUser(rampart.deps, ctx, { ...SELLER, roles: ['sales'] });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await rampart?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    if (backupDir) fs.rmSync(backupDir, { recursive: true, force: true });
  });

  it('selects contacts, moves them to the trash in one step, and restores one from the Trash page', async () => {
    const { context, page, problems } = await signedIn(SELLER);
    // The seller's own contacts, made through the API as the seller.
    const { csrfToken } = await (await page.request.get(`${baseUrl}/api/v1/auth/session`)).json();
    for (const lastName of PEOPLE) {
      const created = await page.request.post(`${baseUrl}/api/v1/contacts`, { headers: { 'x-csrf-token': csrfToken, 'user-agent': BROWSER_AGENT }, data: { firstName: 'Pat', lastName } });
      expect(created.status(), await created.text()).toBe(201);
    }

    await page.goto(`${baseUrl}/contacts`);
    const list = page.getByRole('table', { name: 'Contacts you can see' });
    await expect.poll(() => list.getByRole('link', { name: 'Pat Chen' }).isVisible(), { timeout: 15_000 }).toBe(true);
    for (const name of ['Pat Ahn', 'Pat Baker', 'Pat Chen']) await list.getByRole('checkbox', { name: `Select ${name}` }).check();
    const bar = page.getByRole('group', { name: 'With the selected records' });
    await expect.poll(() => bar.textContent()).toContain('3 selected');
    await screenshot(page, 'list-selection');

    await bar.getByRole('button', { name: 'Delete' }).click();
    const confirm = page.getByRole('dialog', { name: 'Move 3 contacts to the trash?' });
    await confirm.getByRole('button', { name: 'Move to the trash' }).click();
    await expect.poll(() => page.getByText('3 contacts moved to the trash.').isVisible()).toBe(true);
    await expect.poll(() => list.getByRole('link', { name: 'Pat Chen' }).count()).toBe(0);
    expect(await list.getByRole('link', { name: 'Pat Dubois' }).isVisible()).toBe(true);

    await page.getByRole('navigation', { name: /main/i }).getByRole('link', { name: 'Trash' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Trash', level: 1 }).isVisible()).toBe(true);
    await page.getByRole('tab', { name: 'Contacts (3)' }).click();
    const trash = page.getByRole('table', { name: 'Contacts in the trash' });
    await expect.poll(() => trash.getByRole('row').count()).toBe(4);
    const baker = trash.getByRole('row', { name: /Pat Baker/ });
    expect(await baker.textContent()).toContain('in 30 days');
    expect(await baker.textContent()).toContain(SELLER.name);
    // Sales may restore its own records but not purge them.
    expect(await trash.getByRole('button', { name: /^Purge/ }).count()).toBe(0);
    await trash.getByRole('button', { name: 'Restore Pat Baker' }).click();
    await expect.poll(() => page.getByText('Pat Baker is back in its list.').isVisible()).toBe(true);
    await expect.poll(() => trash.getByRole('row').count()).toBe(3);
    await expect.poll(() => page.getByRole('tab', { name: 'Contacts (2)' }).isVisible()).toBe(true);
    await screenshot(page, 'trash');

    await page.getByText('中文', { exact: true }).click();
    await expect.poll(() => page.getByRole('heading', { name: '回收站', level: 1 }).isVisible()).toBe(true);
    await screenshot(page, 'trash-zh');
    await page.getByText('English', { exact: true }).click();

    await page.getByRole('navigation', { name: /main/i }).getByRole('link', { name: 'Contacts' }).click();
    await expect.poll(() => list.getByRole('link', { name: 'Pat Baker' }).isVisible(), { timeout: 10_000 }).toBe(true);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('shows an administrator the backups, who backs up now and sees the run succeed', async () => {
    const { context, page, problems, recoveryCodes } = await signedIn(ADMIN);
    await page.goto(`${baseUrl}/admin/backups`);
    await expect.poll(() => page.getByRole('heading', { name: 'Backups', level: 1 }).isVisible(), { timeout: 15_000 }).toBe(true);
    const freshness = page.getByRole('region', { name: 'Freshness' });
    await expect.poll(() => freshness.textContent()).toContain('Stale');
    expect(await page.getByText('No backup folder is configured').count()).toBe(0);
    expect(await page.getByRole('navigation', { name: 'Administration sections' }).getByRole('link', { name: 'Backups' }).isVisible()).toBe(true);

    await page.getByRole('button', { name: 'Back up now' }).click();
    // A recent second factor is asked for, unless the sign-in's still counts.
    const stepUp = page.getByRole('dialog', { name: 'Confirm it is you' });
    const runs = page.getByRole('table', { name: 'Recent runs' });
    await expect.poll(async () => (await stepUp.isVisible()) || (await runs.isVisible())).toBe(true);
    if (await stepUp.isVisible()) {
      await field(stepUp, 'Code or recovery code').fill(recoveryCodes[0]!);
      await stepUp.getByRole('button', { name: 'Verify' }).click();
    }
    const latest = runs.getByRole('row').nth(1);
    await expect.poll(() => latest.textContent(), { timeout: 60_000 }).toContain('Succeeded');
    expect(await latest.textContent()).toContain('Backup');
    expect(await latest.textContent()).toContain(ADMIN.name);
    await expect.poll(() => freshness.textContent(), { timeout: 10_000 }).toContain('Fresh');
    await expect.poll(() => page.getByRole('region', { name: 'Last backup' }).textContent()).toContain('Read back whole');
    expect(fs.readdirSync(backupDir).length).toBeGreaterThan(0);
    await screenshot(page, 'backups');

    await page.getByText('中文', { exact: true }).click();
    await expect.poll(() => page.getByRole('heading', { name: '备份', level: 1 }).isVisible()).toBe(true);
    await screenshot(page, 'backups-zh');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('asks a second person\'s approval for a larger delete, which the seller runs once it is approved', async () => {
    const { context, page, problems } = await signedIn(SELLER);
    const { csrfToken } = await (await page.request.get(`${baseUrl}/api/v1/auth/session`)).json();
    for (const lastName of ['Fox', 'Gray']) {
      const created = await page.request.post(`${baseUrl}/api/v1/contacts`, { headers: { 'x-csrf-token': csrfToken, 'user-agent': BROWSER_AGENT }, data: { firstName: 'Pat', lastName } });
      expect(created.status(), await created.text()).toBe(201);
    }
    await page.goto(`${baseUrl}/contacts`);
    const list = page.getByRole('table', { name: 'Contacts you can see' });
    await expect.poll(() => list.getByRole('link', { name: 'Pat Baker' }).isVisible(), { timeout: 15_000 }).toBe(true);
    const live = await list.locator('tbody tr').count();
    expect(live).toBeGreaterThan(APPROVAL_ABOVE);
    await list.getByRole('checkbox', { name: 'Select every record on this page' }).check();
    const bar = page.getByRole('group', { name: 'With the selected records' });
    await expect.poll(() => bar.textContent()).toContain(`${live} selected`);
    await bar.getByRole('button', { name: 'Delete' }).click();
    const confirm = page.getByRole('dialog', { name: `Move ${live} contacts to the trash?` });
    await confirm.getByRole('button', { name: 'Move to the trash' }).click();
    // Over the threshold the server wants a reason for the approver.
    await expect.poll(() => confirm.getByText("needs a second person's approval", { exact: false }).first().isVisible()).toBe(true);
    await field(confirm, 'Why').fill('Duplicates imported twice from the fair');
    await confirm.getByRole('button', { name: 'Ask for approval' }).click();
    const notice = page.getByRole('status').filter({ hasText: `Awaiting approval: Move ${live} contacts to the trash` });
    await expect.poll(() => notice.isVisible()).toBe(true);
    expect(await list.getByRole('link', { name: 'Pat Baker' }).isVisible()).toBe(true);
    await screenshot(page, 'list-awaiting-approval');

    // The Trash page lists it too, from the server, for as long as it waits.
    const nav = page.getByRole('navigation', { name: /main/i });
    await nav.getByRole('link', { name: 'Trash' }).click();
    const waiting = page.getByRole('table', { name: /Mass changes you asked for/ });
    await expect.poll(() => waiting.getByRole('row').filter({ hasText: `Move ${live} contacts to the trash` }).textContent()).toContain('Awaiting approval');
    await screenshot(page, 'trash-waiting');
    await nav.getByRole('link', { name: 'Contacts' }).click();
    await expect.poll(() => notice.isVisible()).toBe(true);

    // The administrator approves it (a second factor was given at sign-in, minutes ago).
    const admin = await signInAsBrowser(rampart.app, ADMIN.email, ADMIN.password);
    const headers = { cookie: admin.cookie, 'x-csrf-token': admin.csrf, 'user-agent': BROWSER_AGENT };
    const pending = await rampart.app.inject({ method: 'GET', url: '/api/v1/approvals?status=pending&kind=bulk_delete', headers });
    expect(pending.statusCode, pending.body).toBe(200);
    const [asked] = pending.json().items;
    expect(asked.reason).toBe('Duplicates imported twice from the fair');
    const approved = await rampart.app.inject({ method: 'POST', url: `/api/v1/approvals/${asked.id}/approve`, headers, payload: {} });
    expect(approved.statusCode, approved.body).toBe(200);

    await notice.getByRole('button', { name: 'Check now' }).click();
    const ready = page.getByRole('status').filter({ hasText: `Approved: Move ${live} contacts to the trash` });
    await expect.poll(() => ready.isVisible()).toBe(true);
    expect(await ready.textContent()).toContain('Approved by Ada Admin');
    await screenshot(page, 'list-approved');
    await ready.getByRole('button', { name: 'Run approved change' }).click();
    await expect.poll(() => page.getByText(`The approved change ran: ${live} records.`).isVisible()).toBe(true);
    await expect.poll(() => list.getByRole('link', { name: 'Pat Baker' }).count()).toBe(0);
    expect(problems).toEqual([]);
    await context.close();
  });
});
