import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type RampartApp } from '../../src/app.js';
import { auditOrigin, loadAuditSigningKey } from '../../src/audit/signing-key-file.js';
import { loadConfig } from '../../src/config/config.js';
import { sealCheckpoint } from '../../src/data/audit-log.js';
import { createRecord } from '../../src/data/record-store.js';
import { insertUser } from '../../src/modules/users/users.service.js';
import { cliContext } from '../../src/shared/principal.js';
import { BROWSER_AGENT, field, freePort, launchChromium, screenshot, signedInContext, signInAsBrowser, watch } from './chromium.js';

const AUDITOR = { email: 'aud.itor@example.com', name: 'Ada Auditor', password: 'quartz meadow lantern hinge' };
const ADMIN = { email: 'adm.in@example.com', name: 'Ari Admin', password: 'copper willow signal drift' };
const SELLER = { email: 'sam.seller@example.com', name: 'Sam Seller', password: 'harbour violet engine tulip' };


/** A datetime-local value for a moment, in the browser's (and this process's) time zone. */
function localInput(time: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${time.getFullYear()}-${pad(time.getMonth() + 1)}-${pad(time.getDate())}T${pad(time.getHours())}:${pad(time.getMinutes())}`;
}

describe('the security center in a browser', () => {
  let rampart: RampartApp;
  let browser: Browser;
  let baseUrl: string;
  let dataDir: string;
  let sellerId: string;
  let contactId: string;

  /** A browser already signed in as `who`, second factor and all. */
  const signedIn = async (who: { email: string; password: string }, viewport = { width: 1280, height: 900 }): Promise<{ context: BrowserContext; recoveryCodes: string[] }> => {
    const { context, session } = await signedInContext(browser, rampart.app, baseUrl, who, { viewport, acceptDownloads: true });
    return { context, recoveryCodes: session.recoveryCodes };
  };

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-browser-'));
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    const config = loadConfig({ env: { RAMPART_DATA_DIR: dataDir, RAMPART_LOG_LEVEL: 'silent', RAMPART_PUBLIC_URL: baseUrl, RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000' }, cwd: dataDir });
    rampart = await buildApp(config);
    await rampart.app.listen({ host: '127.0.0.1', port });
    const ctx = cliContext('test');
    await insertUser(rampart.deps, ctx, { ...AUDITOR, roles: ['auditor'] });
    await insertUser(rampart.deps, ctx, { ...ADMIN, roles: ['admin'] });
    sellerId = (await insertUser(rampart.deps, ctx, { ...SELLER, roles: ['sales'] })).id;
    // The seller reads a customer's record through the API: that read is what the auditor looks for.
    contactId = (await createRecord(rampart.deps, ctx, 'contacts', { firstName: 'Mira', lastName: 'Kovač', email: 'mira.kovac@example.com', ownerId: sellerId })).id;
    const seller = await signInAsBrowser(rampart.app, SELLER.email, SELLER.password);
    const read = await rampart.app.inject({ method: 'GET', url: `/api/v1/contacts/${contactId}`, headers: { cookie: seller.cookie, 'user-agent': BROWSER_AGENT } });
    expect(read.statusCode, read.body).toBe(200);
    await sealCheckpoint(rampart.deps, loadAuditSigningKey(config.audit.keyFile, auditOrigin(config.publicUrl), { create: true }));
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await rampart?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('lets an auditor find an entry, open it, and run a blast radius that names the person read', async () => {
    const { context } = await signedIn(AUDITOR);
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto(`${baseUrl}/security/audit`);

    await expect.poll(() => page.getByRole('heading', { name: 'Audit log', level: 1 }).isVisible(), { timeout: 15_000 }).toBe(true);
    const banner = page.getByRole('status').filter({ hasText: 'The audit chain is intact' });
    await expect.poll(() => banner.isVisible()).toBe(true);
    expect(await banner.textContent()).toMatch(/Verified up to entry \d+ · checkpoint at .+ \(entry \d+\)/);
    // The side navigation offers the auditor's screens and nothing else of this section.
    const nav = page.getByRole('navigation', { name: /main/i });
    expect(await nav.getByRole('link', { name: 'Audit log' }).isVisible()).toBe(true);
    expect(await nav.getByRole('link', { name: 'Blast radius' }).isVisible()).toBe(true);
    expect(await nav.getByRole('link', { name: 'Encryption keys' }).count()).toBe(0);

    await field(page, 'Actor').fill(sellerId);
    await field(page, 'Action').fill('record.read');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const table = page.getByRole('table', { name: 'Entries, newest first' });
    await expect.poll(() => table.getByRole('row').count()).toBe(2);
    expect(await table.textContent()).toContain(contactId);
    expect(page.url()).toBe(`${baseUrl}/security/audit`);
    await screenshot(page, 'security-audit');

    await table.getByRole('button', { name: /^Open entry \d+$/ }).click();
    const drawer = page.getByRole('dialog');
    await expect.poll(() => drawer.getByText('Entry hash').isVisible()).toBe(true);
    expect(await drawer.textContent()).toContain(contactId);
    expect(await drawer.textContent()).toMatch(/[0-9a-f]{64}/);
    await screenshot(page, 'security-entry');
    await page.keyboard.press('Escape');

    await nav.getByRole('link', { name: 'Blast radius' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Blast radius', level: 1 }).isVisible()).toBe(true);
    await field(page, 'Users or actors').fill(sellerId);
    await field(page, 'From').fill(localInput(new Date(Date.now() - 3600_000)));
    await page.getByRole('button', { name: 'Run report' }).click();
    const people = page.getByRole('table', { name: 'People and fields' });
    await expect.poll(() => people.isVisible(), { timeout: 15_000 }).toBe(true);
    expect(await people.textContent()).toContain(contactId);
    expect(page.url()).toBe(`${baseUrl}/security/blast-radius`);
    await screenshot(page, 'security-blast-radius');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
    expect(download.suggestedFilename()).toBe('blast-radius.csv');
    expect(fs.readFileSync((await download.path())!, 'utf8')).toContain(contactId);

    // The same screen on a tablet, in Chinese.
    await page.setViewportSize({ width: 768, height: 1000 });
    await page.getByText('中文', { exact: true }).click();
    await expect.poll(() => page.getByRole('heading', { name: '影响范围', level: 1 }).isVisible()).toBe(true);
    await screenshot(page, 'security-blast-radius-tablet-zh');
    await page.goto(`${baseUrl}/security/audit`);
    await expect.poll(() => page.getByRole('status').filter({ hasText: '审计链完好' }).isVisible()).toBe(true);
    await screenshot(page, 'security-audit-zh');
    expect(problems).toEqual([]);
    await context.close();
  });

  it("shows an administrator the keys and everyone's sessions", async () => {
    const { context, recoveryCodes } = await signedIn(ADMIN);
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto(`${baseUrl}/security/keys`);
    await expect.poll(() => page.getByRole('heading', { name: 'Encryption keys', level: 1 }).isVisible(), { timeout: 15_000 }).toBe(true);
    await expect.poll(() => page.getByRole('table', { name: 'Key-encryption key versions' }).isVisible()).toBe(true);
    expect(await page.getByText(/No rotation under way/).isVisible()).toBe(true);
    await screenshot(page, 'security-keys');

    await page.goto(`${baseUrl}/security/sessions`);
    await page.getByRole('button', { name: new RegExp(SELLER.name) }).click();
    await expect.poll(() => page.getByRole('table', { name: `Sessions of ${SELLER.name}` }).isVisible()).toBe(true);
    // The panel opens with a short animation.
    await page.waitForTimeout(500);
    await screenshot(page, 'security-sessions');

    // Ending them asks for a second factor unless one was given in the last minutes.
    await page.getByRole('button', { name: `End all sessions of ${SELLER.name}` }).click();
    const ended = page.getByRole('status').filter({ hasText: `session(s) of ${SELLER.name} ended` });
    const stepUp = page.getByRole('dialog');
    await expect.poll(async () => (await ended.isVisible()) || (await stepUp.isVisible())).toBe(true);
    if (await stepUp.isVisible()) {
      await screenshot(page, 'security-step-up');
      await field(stepUp, 'Code or recovery code').fill(recoveryCodes[0]!);
      await stepUp.getByRole('button', { name: 'Verify' }).click();
    }
    await expect.poll(() => ended.isVisible()).toBe(true);
    expect(await ended.textContent()).toContain(`1 session(s) of ${SELLER.name} ended.`);
    await expect.poll(() => page.getByText('No live sessions.').isVisible()).toBe(true);
    // An auditor-only screen is refused plainly rather than half shown.
    await page.goto(`${baseUrl}/security/audit`);
    await expect.poll(() => page.getByText('Your role does not allow this.', { exact: false }).isVisible()).toBe(true);
    expect(problems).toEqual([]);
    await context.close();
  });
});
