import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type RampartApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { recordServices } from '../../src/modules/record-services.js';
import { createTeam } from '../../src/modules/teams/teams.service.js';
import { insertUser } from '../../src/modules/users/users.service.js';
import { totpCode } from '../../src/modules/mfa/totp.js';
import { cliContext } from '../../src/shared/principal.js';
import { field, launchChromium, screenshot, watch } from './chromium.js';

const NORTH = { email: 'nora.north@example.com', name: 'Nora North', password: 'granite willow harbour seven' };
const SOUTH = { email: 'sid.south@example.com', name: 'Sid South', password: 'copper meadow lantern nine' };

describe('the record screens in a browser', () => {
  let rampart: RampartApp;
  let browser: Browser;
  let baseUrl: string;
  let dataDir: string;
  let contactId = '';

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-browser-'));
    const config = loadConfig({ env: { RAMPART_DATA_DIR: dataDir, RAMPART_LOG_LEVEL: 'silent' }, cwd: dataDir });
    rampart = await buildApp(config);
    const address = await rampart.app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = address.replace(/\/$/, '');
    // Sales needs no second factor, so a password is all the sign-in asks for.
    const north = await createTeam(rampart.deps, cliContext('test'), { name: 'North' });
    const south = await createTeam(rampart.deps, cliContext('test'), { name: 'South' });
    await insertUser(rampart.deps, cliContext('test'), { ...NORTH, roles: ['sales'], teamId: north.id });
    await insertUser(rampart.deps, cliContext('test'), { ...SOUTH, roles: ['sales'], teamId: south.id });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await rampart?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const signIn = async (page: Page, who: { email: string; password: string; name: string }) => {
    await page.goto(`${baseUrl}/login`);
    const login = page.locator('form');
    await field(login, 'Email').fill(who.email);
    await field(login, 'Password').fill(who.password);
    await login.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => page.getByRole('button', { name: `Account menu for ${who.name}` }).isVisible()).toBe(true);
  };

  const heading = async (page: Page, name: string) => {
    try {
      await expect.poll(() => page.getByRole('heading', { name, level: 1 }).isVisible(), { timeout: 10_000 }).toBe(true);
    } catch (failure) {
      await screenshot(page, 'records-failed');
      throw failure;
    }
  };

  it('creates a company, a contact and a deal, moves the deal on the board and reveals a masked value', async () => {
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = watch(page);
    await signIn(page, NORTH);

    // A company through its form, with the server's rule beside the field first.
    await page.getByRole('link', { name: 'Companies' }).click();
    await heading(page, 'Companies');
    await page.getByRole('link', { name: 'New company' }).click();
    await heading(page, 'New company');
    await field(page, 'Name').fill('Hangzhou Lantern Works');
    await field(page, 'Website').fill('not a web address');
    await field(page, 'City').fill('Hangzhou');
    await page.getByRole('button', { name: 'Create' }).click();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toMatch(/invalid|website/i);
    await field(page, 'Website').fill('https://lantern.example.com');
    await page.getByRole('button', { name: 'Create' }).click();
    await heading(page, 'Hangzhou Lantern Works');
    const companyId = page.url().split('/').pop()!;

    // A contact at that company.
    await page.goto(`${baseUrl}/contacts/new`);
    await heading(page, 'New contact');
    await field(page, 'First name').fill('Wei');
    await field(page, 'Last name').fill('Zhang');
    await field(page, 'Email').fill('wei.zhang@example.com');
    await page.getByRole('combobox', { name: 'Company' }).click();
    await page.getByRole('option', { name: 'Hangzhou Lantern Works' }).click();
    await page.getByRole('button', { name: 'Create' }).click();
    await heading(page, 'Wei Zhang');
    contactId = page.url().split('/').pop()!;

    // A deal, then the board.
    await page.goto(`${baseUrl}/deals/new`);
    await heading(page, 'New deal');
    await field(page, 'Name').fill('Lanterns for the spring fair');
    await field(page, 'Amount').fill('48000');
    await field(page, 'Currency').fill('CNY');
    await page.getByRole('button', { name: 'Create' }).click();
    await heading(page, 'Lanterns for the spring fair');
    const dealId = page.url().split('/').pop()!;
    const before = await (await page.request.get(`${baseUrl}/api/v1/deals/${dealId}`)).json();
    await screenshot(page, 'records-deal');

    await page.goto(`${baseUrl}/deals/board`);
    await heading(page, 'Deal board');
    const card = page.getByRole('button', { name: 'Lanterns for the spring fair' });
    await expect.poll(() => card.isVisible()).toBe(true);
    const stages = page.locator('section.records-stage');
    const target = stages.nth(1);
    const targetName = (await target.getByRole('heading').textContent())!;
    const from = (await card.boundingBox())!;
    const to = (await target.boundingBox())!;
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await page.mouse.down();
    await page.mouse.move(from.x + from.width / 2 + 20, from.y + from.height / 2, { steps: 4 });
    await page.mouse.move(to.x + to.width / 2, to.y + 60, { steps: 12 });
    await page.mouse.up();
    await expect.poll(async () => (await (await page.request.get(`${baseUrl}/api/v1/deals/${dealId}`)).json()).stageId).not.toBe(before.stageId);
    const after = await (await page.request.get(`${baseUrl}/api/v1/deals/${dealId}`)).json();
    expect(after.version).toBe(before.version + 1);
    await expect.poll(() => target.getByRole('button', { name: 'Lanterns for the spring fair' }).isVisible()).toBe(true);
    expect(targetName).toBeTruthy();
    await screenshot(page, 'records-board');

    // The list, sorted by the server.
    await page.goto(`${baseUrl}/companies`);
    await heading(page, 'Companies');
    await expect.poll(() => page.getByRole('link', { name: 'Hangzhou Lantern Works' }).isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Sort by Name' }).click();
    await expect.poll(() => page.locator('th[aria-sort="ascending"]').count()).toBe(1);
    await screenshot(page, 'records-list');

    // A sensitive value the role sees masked, revealed with a reason. Sales needs no second
    // factor to sign in, but Nora sets one up, as revealing a sensitive value asks for it.
    const { csrfToken } = await (await page.request.get(`${baseUrl}/api/v1/auth/session`)).json();
    const headers = { 'x-csrf-token': csrfToken };
    const started = await (await page.request.post(`${baseUrl}/api/v1/auth/mfa/totp`, { headers, data: { label: 'Phone', password: NORTH.password } })).json();
    const confirmed = await page.request.post(`${baseUrl}/api/v1/auth/mfa/totp/confirm`, { headers, data: { factorId: started.factorId, code: await totpCode(started.secret, Math.floor(Date.now() / 1000)) } });
    expect(confirmed.status(), await confirmed.text()).toBe(200);
    const contact = await recordServices.contacts.get(rampart.deps, cliContext('test'), contactId);
    await recordServices.contacts.update(rampart.deps, cliContext('test'), contactId, contact.version as number, { idNumber: '330106199001011234' });
    await page.goto(`${baseUrl}/contacts/${contactId}`);
    await heading(page, 'Wei Zhang');
    await expect.poll(() => page.getByText('330106199001011234').count()).toBe(0);
    await page.getByRole('button', { name: 'Reveal ID number' }).click();
    const dialog = page.getByRole('dialog');
    await field(dialog, 'Reason').fill('short');
    await dialog.getByRole('button', { name: 'Reveal' }).click();
    await expect.poll(() => dialog.getByText(/at least 10 characters/).isVisible()).toBe(true);
    await field(dialog, 'Reason').fill('Confirming the identity for the fair contract');
    await dialog.getByRole('button', { name: 'Reveal' }).click();
    // Setting up the authenticator a moment ago counts as the recent second factor a sensitive
    // value asks for (the step-up prompt itself is covered by the component tests).
    await expect.poll(() => page.getByText('330106199001011234').isVisible()).toBe(true);
    await screenshot(page, 'records-contact');
    await page.setViewportSize({ width: 768, height: 1000 });
    await screenshot(page, 'records-contact-tablet');

    // Filter values are people's data: none of them went into an address.
    expect(page.url()).not.toMatch(/zhang|wei/i);
    expect(problems).toEqual([]);
    expect(companyId).toBeTruthy();
    await context.close();
  });

  it('keeps one team\'s contact from a salesperson of another team by list, search, address and API', async () => {
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = watch(page);
    await signIn(page, SOUTH);

    await page.goto(`${baseUrl}/contacts`);
    await heading(page, 'Contacts');
    await expect.poll(() => page.getByText('Nothing here yet, or nothing matches.').isVisible()).toBe(true);
    expect(await page.getByRole('link', { name: 'Wei Zhang' }).count()).toBe(0);

    await page.goto(`${baseUrl}/search`);
    await heading(page, 'Search');
    await field(page, 'Find records').fill('Zhang');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await expect.poll(() => page.getByText('No records match.').isVisible()).toBe(true);
    expect(page.url()).toBe(`${baseUrl}/search`);

    await page.goto(`${baseUrl}/contacts/${contactId}`);
    await expect.poll(() => page.getByText('This record does not exist, or your role does not let you see it.').isVisible()).toBe(true);
    expect(await page.getByText('Wei').count()).toBe(0);

    const direct = await page.request.get(`${baseUrl}/api/v1/contacts/${contactId}`);
    expect(direct.status()).toBe(404);
    expect(problems).toEqual([]);
    await context.close();
  });
});
