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
import type { SignedIn } from '../support/sign-in.js';
import { BROWSER_AGENT, field, freePort, launchChromium, screenshot, signedInContext, watch } from './chromium.js';

// Marketing exports contacts and companies without a second factor; the administrator decides
// approvals; the auditor traces files.
const MARKETER = { email: 'mia.marketing@example.com', name: 'Mia Marketing', password: 'juniper canvas orbit mellow' };
const ADMIN = { email: 'ana.admin@example.com', name: 'Ana Admin', password: 'copper willow signal drift' };
const AUDITOR = { email: 'otto.auditor@example.com', name: 'Otto Auditor', password: 'granite pepper solace rivet' };
// Exports of more than this many rows wait for approval: the 6 demo companies do not, the 20 contacts do.
const APPROVAL_ROWS = 6;

describe('governed exports in a browser', () => {
  let rampart: RampartApp;
  let browser: Browser;
  let baseUrl: string;
  let dataDir: string;

  const signedIn = async (who: { email: string; password: string }, locale = 'en-US'): Promise<{ context: BrowserContext; page: Page; problems: string[]; session: SignedIn }> => {
    const { context, session } = await signedInContext(browser, rampart.app, baseUrl, who, { locale, acceptDownloads: true });
    const page = await context.newPage();
    return { context, page, problems: watch(page), session };
  };

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-browser-'));
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    const config = loadConfig({
      env: { RAMPART_DATA_DIR: dataDir, RAMPART_LOG_LEVEL: 'silent', RAMPART_PUBLIC_URL: baseUrl, RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000', RAMPART_EXPORT_APPROVAL_ROWS: String(APPROVAL_ROWS) },
      cwd: dataDir,
    });
    rampart = await buildApp(config);
    await rampart.app.listen({ host: '127.0.0.1', port });
    const ctx = cliContext('test');
    await insertUser(rampart.deps, ctx, { ...MARKETER, roles: ['marketing'] });
    await insertUser(rampart.deps, ctx, { ...ADMIN, roles: ['admin'] });
    await insertUser(rampart.deps, ctx, { ...AUDITOR, roles: ['auditor'] });
    await generateDemoData(rampart.deps, cliContext('demo'), { sizes: { companies: 6, contacts: 20, deals: 2, activities: 2, tickets: 2 } });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await rampart?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('downloads a small export at once', async () => {
    const { context, page, problems } = await signedIn(MARKETER);
    await page.goto(`${baseUrl}/companies`);
    await page.getByRole('button', { name: 'Export', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Export Companies' });
    await expect.poll(() => dialog.isVisible(), { timeout: 15_000 }).toBe(true);
    await dialog.getByLabel('JSON').check();
    await field(dialog, 'Reason').fill('Company list for the partner fair');
    const [download] = await Promise.all([page.waitForEvent('download'), dialog.getByRole('button', { name: /^Export/ }).click()]);
    expect(download.suggestedFilename()).toMatch(/^companies-\d+-\d{4}-\d{2}-\d{2}\.json$/);
    const saved = JSON.parse(fs.readFileSync((await download.path())!, 'utf8')) as unknown;
    expect(Array.isArray(saved) || typeof saved === 'object').toBe(true);
    await expect.poll(() => dialog.count()).toBe(0);
    // The page's address never carried anything of the export.
    expect(page.url()).toBe(`${baseUrl}/companies`);

    await page.getByRole('navigation', { name: /main/i }).getByRole('link', { name: 'Exports' }).click();
    const mine = page.getByRole('table', { name: 'Your exports, newest first' });
    await expect.poll(() => mine.getByRole('row').filter({ hasText: 'Companies, JSON' }).textContent(), { timeout: 15_000 }).toContain('Downloaded');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('asks for approval above the threshold; a second person approves after a step-up; the file downloads once', async () => {
    const marketer = await signedIn(MARKETER);
    await marketer.page.goto(`${baseUrl}/contacts`);
    await marketer.page.getByRole('button', { name: 'Export', exact: true }).click();
    const dialog = marketer.page.getByRole('dialog', { name: 'Export Contacts' });
    await expect.poll(() => dialog.isVisible(), { timeout: 15_000 }).toBe(true);
    await field(dialog, 'Reason').fill('Newsletter consent review for the quarter');
    await marketer.page.waitForTimeout(400);
    await screenshot(marketer.page, 'export-dialog');
    await dialog.getByRole('button', { name: /^(Export|Request approval)/ }).click();
    await expect.poll(() => marketer.page.getByText('Waiting for approval').isVisible(), { timeout: 15_000 }).toBe(true);
    await expect.poll(() => dialog.count()).toBe(0);

    // The notice leads to the Exports page.
    await marketer.page.getByRole('link', { name: 'Open Exports' }).click();
    await expect.poll(() => marketer.page.url()).toBe(`${baseUrl}/exports`);
    const mine = marketer.page.getByRole('table', { name: 'Your exports, newest first' });
    const pendingRow = mine.getByRole('row').filter({ hasText: 'Contacts, CSV' });
    await expect.poll(() => pendingRow.textContent(), { timeout: 15_000 }).toContain('Pending approval');
    expect(await pendingRow.textContent()).toContain('Newsletter consent review for the quarter');
    expect(await pendingRow.getByRole('button', { name: /^Download/ }).count()).toBe(0);
    // Someone without approvals.decide has no inbox.
    expect(await marketer.page.getByRole('tab', { name: 'To approve' }).count()).toBe(0);
    await screenshot(marketer.page, 'exports-page');

    // The administrator approves it in the browser, with a step-up: the second factor of the
    // sign-in is made ten minutes old, so approving asks for it again.
    const admin = await signedIn(ADMIN);
    await rampart.deps.db.updateTable('sessions').set({ mfa_at: new Date(Date.now() - 10 * 60_000).toISOString() }).where('mfa_at', 'is not', null).execute();
    await admin.page.goto(`${baseUrl}/exports`);
    await admin.page.getByRole('tab', { name: 'To approve' }).click();
    await expect.poll(() => admin.page.url()).toBe(`${baseUrl}/exports/approvals`);
    const inbox = admin.page.getByRole('table', { name: 'Requests waiting for a decision, newest first' });
    const request = inbox.getByRole('row').filter({ hasText: 'Newsletter consent review' });
    await expect.poll(() => request.textContent(), { timeout: 15_000 }).toContain('Mia Marketing');
    expect(await request.textContent()).toContain('Contacts as CSV, 20 rows');
    await screenshot(admin.page, 'approvals-inbox');
    await request.getByRole('button', { name: 'Approve the request of Mia Marketing' }).click();
    const decision = admin.page.getByRole('dialog', { name: 'Approve this request?' });
    await field(decision, 'Note (optional)').fill('Fine: consent review');
    await decision.getByRole('button', { name: 'Approve' }).click();
    const stepUp = admin.page.getByRole('dialog', { name: /Confirm/i });
    await expect.poll(() => stepUp.isVisible(), { timeout: 15_000 }).toBe(true);
    await stepUp.getByLabel(/code/i).fill(admin.session.recoveryCodes[0]!);
    await stepUp.getByRole('button', { name: /Verify/i }).click();
    await expect.poll(() => decision.count(), { timeout: 15_000 }).toBe(0);
    await expect.poll(() => request.count(), { timeout: 15_000 }).toBe(0);

    // The requester downloads it once.
    await marketer.page.reload();
    const readyRow = mine.getByRole('row').filter({ hasText: 'Contacts, CSV' });
    await expect.poll(() => readyRow.textContent(), { timeout: 15_000 }).toContain('Ready');
    expect(await readyRow.textContent()).toContain('Ana Admin: “Fine: consent review”');
    const exportNo = /#(\d+)/.exec((await readyRow.textContent()) ?? '')![1]!;
    const [download] = await Promise.all([marketer.page.waitForEvent('download'), readyRow.getByRole('button', { name: `Download export #${exportNo}` }).click()]);
    const file = (await download.path())!;
    const text = fs.readFileSync(file, 'utf8');
    expect(text.split('\n').filter((line) => line.trim() !== '').length).toBeGreaterThan(20);
    await expect.poll(() => readyRow.textContent(), { timeout: 15_000 }).toContain('Downloaded');
    expect(await readyRow.getByRole('button', { name: /^Download/ }).count()).toBe(0);

    await marketer.page.getByText('中文', { exact: true }).click();
    await expect.poll(() => marketer.page.getByRole('table', { name: '您的导出（最新在前）' }).getByRole('row').filter({ hasText: '联系人，CSV' }).textContent()).toContain('已下载');
    await screenshot(marketer.page, 'exports-page-zh');

    // A second download is refused.
    const listed = await rampart.app.inject({ method: 'GET', url: '/api/v1/exports?mine=true', headers: { cookie: marketer.session.cookie, 'user-agent': BROWSER_AGENT } });
    const taken = (listed.json().items as { id: string; exportNo: number }[]).find((item) => String(item.exportNo) === exportNo)!;
    const again = await rampart.app.inject({ method: 'GET', url: `/api/v1/exports/${taken.id}/download`, headers: { cookie: marketer.session.cookie, 'user-agent': BROWSER_AGENT } });
    expect(again.statusCode).toBe(410);
    expect(again.json().error.code).toBe('export.already_downloaded');

    // The inbox in Chinese, now empty.
    await admin.page.getByText('中文', { exact: true }).click();
    await expect.poll(() => admin.page.getByText('没有等待决定的申请。').isVisible(), { timeout: 15_000 }).toBe(true);
    await screenshot(admin.page, 'approvals-inbox-zh');

    // The auditor traces the file back to its export.
    const auditor = await signedIn(AUDITOR);
    await auditor.page.goto(`${baseUrl}/security/trace`);
    await expect.poll(() => auditor.page.getByRole('heading', { name: 'Trace a file', level: 1 }).isVisible(), { timeout: 15_000 }).toBe(true);
    const found = path.join(dataDir, 'found.csv');
    // Edited as a leak would be: rows left out.
    const lines = text.split('\n');
    fs.writeFileSync(found, [lines[0], ...lines.slice(3)].join('\n'));
    await auditor.page.locator('input[type="file"]').setInputFiles(found);
    await auditor.page.getByRole('button', { name: 'Trace' }).click();
    const candidates = auditor.page.getByRole('table', { name: 'Exports the file may come from' });
    await expect.poll(() => candidates.isVisible(), { timeout: 15_000 }).toBe(true);
    const traced = candidates.getByRole('row').filter({ hasText: `#${exportNo}` });
    expect(await traced.textContent()).toContain(MARKETER.email);
    expect(await traced.textContent()).toContain('Certain');
    await auditor.page.waitForTimeout(400);
    await screenshot(auditor.page, 'trace');

    expect(marketer.problems).toEqual([]);
    expect(admin.problems).toEqual([]);
    expect(auditor.problems).toEqual([]);
    await marketer.context.close();
    await admin.context.close();
    await auditor.context.close();
  });
});
