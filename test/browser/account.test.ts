import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type RampartApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { insertUser } from '../../src/modules/users/users.service.js';
import { cliContext } from '../../src/shared/principal.js';
import { resetTokenFor } from '../support/mail.js';
import { CLIENT_ID, CLIENT_SECRET, TestProvider } from '../support/test-provider.js';
import { errorBeside, field, freePort, launchChromium, screenshot, watch } from './chromium.js';

const SELLER = { email: 'sam.seller@example.com', name: 'Sam Seller', password: 'harbour violet engine tulip' };


describe('the account in a browser: password, reset link, notices, single sign-on', () => {
  let rampart: RampartApp;
  let provider: TestProvider;
  let browser: Browser;
  let baseUrl: string;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-browser-'));
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    provider = await TestProvider.start(`${baseUrl}/api/v1/auth/oidc/callback`);
    const config = loadConfig({
      env: {
        RAMPART_DATA_DIR: dataDir,
        RAMPART_LOG_LEVEL: 'silent',
        RAMPART_PUBLIC_URL: baseUrl,
        RAMPART_OIDC_ISSUER: provider.issuer,
        RAMPART_OIDC_CLIENT_ID: CLIENT_ID,
        RAMPART_OIDC_CLIENT_SECRET: CLIENT_SECRET,
        RAMPART_OIDC_SCOPES: 'openid email profile groups',
        RAMPART_OIDC_DISPLAY_NAME: 'Example ID',
        RAMPART_OIDC_ROLE_MAP: 'crm-sales=sales',
      },
      cwd: dataDir,
    });
    rampart = await buildApp(config);
    await rampart.app.listen({ host: '127.0.0.1', port });
    await insertUser(rampart.deps, cliContext('test'), { email: SELLER.email, name: SELLER.name, password: SELLER.password, roles: ['sales'] });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await rampart?.close();
    await provider?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const signIn = async (page: Page, password: string) => {
    const login = page.locator('form');
    await field(login, 'Email').fill(SELLER.email);
    await field(login, 'Password').fill(password);
    await login.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => page.getByRole('heading', { name: `Welcome, ${SELLER.name}` }).isVisible()).toBe(true);
  };

  const signOut = async (page: Page, name: string) => {
    await page.getByRole('button', { name: `Account menu for ${name}` }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
  };

  it('changes the password, shows the notice, ends another session, and sets a new password from a mailed link', async () => {
    const elsewhere = await browser.newContext({ locale: 'en-US', userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0' });
    const other = await elsewhere.newPage();
    await other.goto(`${baseUrl}/login`);
    await signIn(other, SELLER.password);

    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto(`${baseUrl}/login`);
    await signIn(page, SELLER.password);
    await page.getByRole('link', { name: 'Profile and security' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Profile and security' }).isVisible()).toBe(true);
    expect(page.url()).toBe(`${baseUrl}/profile`);

    // Two sessions: this one and the other browser; ending the other one leaves this one.
    const sessions = page.getByRole('table', { name: 'Where you are signed in' });
    await expect.poll(() => sessions.getByRole('row').count()).toBe(3);
    expect(await sessions.getByText('This browser').count()).toBe(1);
    await screenshot(page, 'profile');
    await page.getByRole('button', { name: /^End the session on .*Firefox/ }).click();
    await expect.poll(() => sessions.getByRole('row').count()).toBe(2);
    expect((await other.request.get(`${baseUrl}/api/v1/auth/session`)).status()).toBe(401);
    await elsewhere.close();

    const notices = page.getByRole('list', { name: 'Security notices' });
    const change = page.locator('section', { has: page.getByRole('heading', { name: 'Change your password' }) });
    const current = field(change, 'Current password');
    await current.fill('not my password at all');
    await field(change, 'New password').fill('copper kettle morning rain');
    await change.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => errorBeside(page, current)).toMatch(/not your current password/i);
    await current.fill(SELLER.password);
    await change.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => change.getByRole('status').textContent()).toBe('Your password is changed. Your other sessions have ended.');
    await expect.poll(() => notices.getByRole('listitem').first().textContent()).toMatch(/^Password changed/);
    await expect.poll(() => page.getByTestId('notices-unread').textContent()).toMatch(/^\d+ new$/);
    await screenshot(page, 'account-notices');
    // The session goes on under its new secret: writes with the new CSRF token work.
    await page.getByRole('button', { name: 'Mark all read' }).click();
    await expect.poll(() => page.getByTestId('notices-unread').count()).toBe(0);

    await signOut(page, SELLER.name);
    await page.getByRole('button', { name: 'Forgot your password?' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Set a new password' }).isVisible()).toBe(true);
    await field(page.locator('form'), 'Email').fill(SELLER.email);
    await page.getByRole('button', { name: 'Send the link' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toMatch(/link to set a new password is on its way/);

    await expect.poll(() => resetTokenFor(path.join(dataDir, 'mail'), SELLER.email)).toMatch(/^rpr_/);
    const token = resetTokenFor(path.join(dataDir, 'mail'), SELLER.email)!;
    await page.goto(`${baseUrl}/reset-password#token=${token}`);
    await expect.poll(() => page.getByRole('heading', { name: 'Choose a new password' }).isVisible()).toBe(true);
    // The secret leaves the address bar at once.
    expect(page.url()).toBe(`${baseUrl}/reset-password`);
    const fresh = field(page.locator('form'), 'New password');
    await fresh.fill('aaaaaaaaaaaaaaaaaaaa');
    await page.getByRole('button', { name: 'Set password' }).click();
    await expect.poll(() => errorBeside(page, fresh)).toMatch(/repetitive/);
    await fresh.fill('meadow lantern copper falcon');
    await page.getByRole('button', { name: 'Set password' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toBe('Your new password is set. Sign in with it.');
    await signIn(page, 'meadow lantern copper falcon');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('asks to sign in again over a page whose session ended, keeping what was typed', async () => {
    const password = 'meadow lantern copper falcon';
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto(`${baseUrl}/login`);
    await signIn(page, password);
    await page.goto(`${baseUrl}/profile`);
    const change = page.locator('section', { has: page.getByRole('heading', { name: 'Change your password' }) });
    await field(change, 'Current password').fill(password);
    await field(change, 'New password').fill('typed before the session ended');

    // Another browser of the same user ends every other session, this one among them.
    const elsewhere = await browser.newContext({ locale: 'en-US' });
    const login = await elsewhere.request.post(`${baseUrl}/api/v1/auth/login`, { data: { email: SELLER.email, password } });
    expect(login.status()).toBe(200);
    const ended = await elsewhere.request.post(`${baseUrl}/api/v1/auth/sessions/end-others`, { headers: { 'x-csrf-token': (await login.json()).csrfToken } });
    expect((await ended.json()).ended).toBeGreaterThanOrEqual(1);
    await elsewhere.close();

    await change.getByRole('button', { name: 'Change password' }).click();
    const dialog = page.getByRole('dialog', { name: 'Sign in again' });
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await field(dialog, 'Email').inputValue()).toBe(SELLER.email);
    await screenshot(page, 'session-expired');
    await field(dialog, 'Password').fill(password);
    await dialog.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => dialog.count()).toBe(0);
    // The page stayed as it was: the typed value is still there, and the session works again.
    expect(await field(change, 'New password').inputValue()).toBe('typed before the session ended');
    expect((await page.request.get(`${baseUrl}/api/v1/auth/session`)).status()).toBe(200);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('signs in at the single sign-on provider from the sign-in page', async () => {
    provider.accounts.set('nina', { email: 'nina@example.com', emailVerified: true, name: 'Nina North', groups: ['crm-sales'], amr: ['pwd'] });
    await insertUser(rampart.deps, cliContext('test'), { email: 'nina@example.com', name: 'Nina North', password: null, roles: ['sales'] });
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto(`${baseUrl}/login`);
    await page.getByRole('link', { name: 'Sign in with Example ID' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Example ID' }).isVisible()).toBe(true);
    await page.getByLabel('Account').fill('nina');
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Welcome, Nina North' }).isVisible()).toBe(true);
    expect(page.url()).toBe(`${baseUrl}/`);

    // A refusal comes back as a code the page turns into its own words.
    provider.accounts.set('nina', { email: 'nina@example.com', emailVerified: true, name: 'Nina North', groups: ['elsewhere'], amr: ['pwd'] });
    await signOut(page, 'Nina North');
    await page.getByRole('link', { name: 'Sign in with Example ID' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/did not let you in/);
    // The code is read once and leaves the address bar.
    await expect.poll(() => page.url()).toBe(`${baseUrl}/login`);
    await screenshot(page, 'sso-refused');
    expect(problems).toEqual([]);
    await context.close();
  });
});
