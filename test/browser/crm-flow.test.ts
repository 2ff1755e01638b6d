import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type RampartApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { generateDemoData } from '../../src/modules/demo/demo.service.js';
import { totpCode } from '../../src/modules/mfa/totp.js';
import { recordServices } from '../../src/modules/record-services.js';
import { issueSetupLink } from '../../src/modules/setup/setup.service.js';
import { createTeam } from '../../src/modules/teams/teams.service.js';
import { insertUser } from '../../src/modules/users/users.service.js';
import { cliContext } from '../../src/shared/principal.js';
import { field, launchChromium, screenshot, watch } from './chromium.js';

const ADMIN = { email: 'ada.admin@example.com', name: 'Ada Admin', password: 'orbit lantern cobalt meadow' };
const MANAGER = { email: 'mia.manager@example.com', name: 'Mia Manager', password: 'harbour copper violet kite' };
const AUDITOR = { email: 'otto.auditor@example.com', name: 'Otto Auditor', password: 'granite tulip engine falcon' };
const ID_NUMBER = '330106199001011234';
const REASON = 'Checking the identity for the spring contract';

/** The next step's code: the step just used is spent, and the server takes one step ahead. */
const nextCode = (secret: string) => totpCode(secret, Math.floor(Date.now() / 1000) + 30);

/**
 * The issue's whole flow in one browser: first-run setup, sign-in with an authenticator app,
 * a company, a contact and a deal made through the forms, the deal dragged across stages, a masked
 * value revealed with a reason, that reveal found in the audit explorer, and signing out.
 */
describe('the CRM end to end in Chromium', () => {
  let rampart: RampartApp;
  let browser: Browser;
  let baseUrl: string;
  let dataDir: string;
  let adminRecoveryCodes: string[] = [];

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-browser-'));
    const config = loadConfig({ env: { RAMPART_DATA_DIR: dataDir, RAMPART_LOG_LEVEL: 'silent' }, cwd: dataDir });
    rampart = await buildApp(config);
    baseUrl = (await rampart.app.listen({ host: '127.0.0.1', port: 0 })).replace(/\/$/, '');
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await rampart?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const heading = (page: Page, name: string) => expect.poll(() => page.getByRole('heading', { name, level: 1 }).isVisible(), { timeout: 15_000 }).toBe(true);

  const signIn = async (page: Page, who: { email: string; password: string }) => {
    await page.goto(`${baseUrl}/login`);
    const login = page.locator('form');
    await field(login, 'Email').fill(who.email);
    await field(login, 'Password').fill(who.password);
    await login.getByRole('button', { name: 'Sign in', exact: true }).click();
  };

  /** The first sign-in of a role that needs a second factor: the QR page, a code, the recovery codes. */
  const enrol = async (page: Page): Promise<{ secret: string; recoveryCodes: string[] }> => {
    await heading(page, 'Set up two-step sign-in');
    expect(await page.locator('svg.enrol-qr').isVisible()).toBe(true);
    const secret = (await page.getByTestId('enrol-secret').textContent())!.replace(/\s+/g, '');
    await field(page.locator('form'), 'Code from the app').fill(await totpCode(secret, Math.floor(Date.now() / 1000)));
    await page.getByRole('button', { name: 'Verify' }).click();
    await heading(page, 'Your recovery codes');
    const recoveryCodes = await page.getByRole('list', { name: 'Your recovery codes' }).getByRole('listitem').allTextContents();
    await page.getByRole('button', { name: 'I have kept them' }).click();
    return { secret, recoveryCodes };
  };

  const signOut = async (page: Page, name: string) => {
    await page.getByRole('button', { name: `Account menu for ${name}` }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await heading(page, 'Sign in');
    expect((await page.request.get(`${baseUrl}/api/v1/auth/session`)).status()).toBe(401);
  };

  it('goes from setup to a revealed value found in the audit log', async () => {
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = watch(page);

    // Setup, then the administrator's authenticator app; a sign-out and a sign-in with a code from it.
    await page.goto((await issueSetupLink(rampart.deps, baseUrl))!);
    await heading(page, 'Create the first administrator');
    await field(page, 'Email').fill(ADMIN.email);
    await field(page, 'Name').fill(ADMIN.name);
    await field(page, 'Password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Create administrator' }).click();
    const { secret: adminSecret, recoveryCodes } = await enrol(page);
    adminRecoveryCodes = recoveryCodes;
    await heading(page, `Welcome, ${ADMIN.name}`);
    await signOut(page, ADMIN.name);
    await signIn(page, ADMIN);
    await heading(page, 'Second step');
    await field(page.locator('form'), 'Code or recovery code').fill(await nextCode(adminSecret));
    await page.getByRole('button', { name: 'Verify' }).click();
    await heading(page, `Welcome, ${ADMIN.name}`);
    await signOut(page, ADMIN.name);

    // The people who work the customers and who audit: a manager of a team, and an auditor.
    const team = await createTeam(rampart.deps, cliContext('test'), { name: 'East' });
    await insertUser(rampart.deps, cliContext('test'), { ...MANAGER, roles: ['manager'], teamId: team.id });
    await insertUser(rampart.deps, cliContext('test'), { ...AUDITOR, roles: ['auditor'] });

    // The manager's first sign-in sets up their authenticator app, then the records.
    await signIn(page, MANAGER);
    await enrol(page);
    await heading(page, `Welcome, ${MANAGER.name}`);
    await page.getByRole('link', { name: 'Companies' }).click();
    await heading(page, 'Companies');
    await page.getByRole('link', { name: 'New company' }).click();
    await heading(page, 'New company');
    await field(page, 'Name').fill('Ningbo Harbour Trading');
    await field(page, 'City').fill('Ningbo');
    await page.getByRole('button', { name: 'Create' }).click();
    await heading(page, 'Ningbo Harbour Trading');

    await page.goto(`${baseUrl}/contacts/new`);
    await heading(page, 'New contact');
    await field(page, 'First name').fill('Lan');
    await field(page, 'Last name').fill('Chen');
    await field(page, 'Email').fill('lan.chen@example.com');
    await page.getByRole('combobox', { name: 'Company' }).click();
    await page.getByRole('option', { name: 'Ningbo Harbour Trading' }).click();
    await page.getByRole('button', { name: 'Create' }).click();
    await heading(page, 'Lan Chen');
    const contactId = page.url().split('/').pop()!;

    await page.goto(`${baseUrl}/deals/new`);
    await heading(page, 'New deal');
    await field(page, 'Name').fill('Harbour cranes, phase two');
    await field(page, 'Amount').fill('260000');
    await field(page, 'Currency').fill('CNY');
    await page.getByRole('button', { name: 'Create' }).click();
    await heading(page, 'Harbour cranes, phase two');
    const dealId = page.url().split('/').pop()!;
    const dealNow = async () => (await (await page.request.get(`${baseUrl}/api/v1/deals/${dealId}`)).json()) as { stageId: string; version: number };
    const before = await dealNow();

    // Across two stages on the board, by dragging.
    await page.goto(`${baseUrl}/deals/board`);
    await heading(page, 'Deal board');
    const stages = page.locator('section.records-stage');
    for (const column of [1, 2]) {
      const card = page.getByRole('button', { name: 'Harbour cranes, phase two' });
      await expect.poll(() => card.isVisible()).toBe(true);
      const from = (await card.boundingBox())!;
      const to = (await stages.nth(column).boundingBox())!;
      const stageBefore = (await dealNow()).stageId;
      await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
      await page.mouse.down();
      await page.mouse.move(from.x + from.width / 2 + 20, from.y + from.height / 2, { steps: 4 });
      await page.mouse.move(to.x + to.width / 2, to.y + 60, { steps: 12 });
      await page.mouse.up();
      await expect.poll(async () => (await dealNow()).stageId).not.toBe(stageBefore);
      await expect.poll(() => stages.nth(column).getByRole('button', { name: 'Harbour cranes, phase two' }).isVisible()).toBe(true);
    }
    expect((await dealNow()).version).toBe(before.version + 2);
    await screenshot(page, 'flow-board');

    // A sensitive value reads masked; the manager reveals it with a reason.
    const contact = await recordServices.contacts.get(rampart.deps, cliContext('test'), contactId);
    await recordServices.contacts.update(rampart.deps, cliContext('test'), contactId, contact.version as number, { idNumber: ID_NUMBER });
    await page.goto(`${baseUrl}/contacts/${contactId}`);
    await heading(page, 'Lan Chen');
    expect(await page.getByText(ID_NUMBER).count()).toBe(0);
    await page.getByRole('button', { name: 'Reveal ID number' }).click();
    const dialog = page.getByRole('dialog');
    await field(dialog, 'Reason').fill(REASON);
    await dialog.getByRole('button', { name: 'Reveal' }).click();
    await expect.poll(() => page.getByText(ID_NUMBER).isVisible()).toBe(true);
    await screenshot(page, 'flow-revealed');
    await signOut(page, MANAGER.name);

    // The auditor finds that reveal, with its reason, in the audit explorer.
    await signIn(page, AUDITOR);
    await enrol(page);
    await page.getByRole('link', { name: 'Audit log' }).click();
    await heading(page, 'Audit log');
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'The audit chain is intact' }).isVisible()).toBe(true);
    await field(page, 'Action').fill('record.reveal');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const table = page.getByRole('table', { name: 'Entries, newest first' });
    await expect.poll(() => table.getByRole('row').count()).toBe(2);
    expect(await table.textContent()).toContain(contactId);
    await table.getByRole('button', { name: /^Open entry \d+$/ }).click();
    const drawer = page.getByRole('dialog');
    await expect.poll(() => drawer.getByText('Entry hash').isVisible()).toBe(true);
    expect(await drawer.textContent()).toContain(REASON);
    // The value itself is never in the log.
    expect(await drawer.textContent()).not.toContain(ID_NUMBER);
    // Once the drawer has finished sliding in.
    await page.waitForTimeout(400);
    await screenshot(page, 'flow-audit-entry');
    await page.keyboard.press('Escape');
    await signOut(page, AUDITOR.name);

    expect(problems).toEqual([]);
    await context.close();
  });

  it('renders the first page of the contacts list against the 10,000-contact demo (printed, not asserted)', async () => {
    await generateDemoData(rampart.deps, cliContext('test'), { sizes: { companies: 500, contacts: 10_000, deals: 500, activities: 500, tickets: 200 } });
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = watch(page);
    await signIn(page, ADMIN);
    await heading(page, 'Second step');
    await field(page.locator('form'), 'Code or recovery code').fill(adminRecoveryCodes[0]!);
    await page.getByRole('button', { name: 'Verify' }).click();
    await heading(page, `Welcome, ${ADMIN.name}`);
    const started = performance.now();
    await page.getByRole('link', { name: 'Contacts' }).click();
    const rows = page.getByRole('table').first().getByRole('row');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBeGreaterThan(20);
    const took = performance.now() - started;
    console.log(`contacts list, first page of the 10,000-contact demo: ${took.toFixed(0)} ms from the click to the rows on screen`);
    await screenshot(page, 'flow-contacts-10k');
    await context.close();
    expect(problems).toEqual([]);
  });
});
