import fs from 'node:fs';
import net from 'node:net';
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
import { launchChromium, screenshot, watch } from './chromium.js';

const SELLER = { email: 'sam.seller@example.com', name: 'Sam Seller', password: 'harbour violet engine tulip' };

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

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
    const login = page.locator('#login-form');
    await login.getByLabel('Email').fill(SELLER.email);
    await login.getByLabel('Password').fill(password);
    await login.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#signed-in-as').textContent()).toBe(`Signed in as ${SELLER.name} (${SELLER.email})`);
  };

  it('changes the password, shows the notice, and sets a new one from a mailed link', async () => {
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto(`${baseUrl}/login`);
    await signIn(page, SELLER.password);
    await expect.poll(() => page.locator('#notices-empty').isVisible()).toBe(true);

    const change = page.locator('#password-form');
    await change.getByLabel('Current password').fill('not my password at all');
    await change.getByLabel('New password').fill('copper kettle morning rain');
    await change.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => page.locator('#password-current-error').textContent()).toMatch(/not your current password/i);
    await change.getByLabel('Current password').fill(SELLER.password);
    await change.getByRole('button', { name: 'Change password' }).click();
    await expect.poll(() => page.locator('#password-changed').textContent()).toBe('Your password is changed. Your other sessions have ended.');
    await expect.poll(() => page.locator('#notices li strong').first().textContent()).toBe('Password changed');
    expect(await page.locator('#notices-unread').textContent()).toBe('1 new');
    await screenshot(page, 'account-notices');
    // The session goes on under its new secret: writes with the new CSRF token work.
    await page.getByRole('button', { name: 'Mark all read' }).click();
    await expect.poll(() => page.locator('#notices-unread').isHidden()).toBe(true);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Set a new password' }).isVisible()).toBe(true);
    await page.locator('#forgot-form').getByLabel('Email').fill(SELLER.email);
    await page.locator('#forgot-form').getByRole('button', { name: 'Send the link' }).click();
    await expect.poll(() => page.locator('#login-notice').textContent()).toMatch(/link to set a new password is on its way/);

    await expect.poll(() => resetTokenFor(path.join(dataDir, 'mail'), SELLER.email)).toMatch(/^rpr_/);
    const token = resetTokenFor(path.join(dataDir, 'mail'), SELLER.email)!;
    await page.goto(`${baseUrl}/reset-password#token=${token}`);
    await expect.poll(() => page.getByRole('heading', { name: 'Choose a new password' }).isVisible()).toBe(true);
    // The secret leaves the address bar at once.
    expect(page.url()).toBe(`${baseUrl}/reset-password`);
    const reset = page.locator('#reset-form');
    await reset.getByLabel('New password').fill('aaaaaaaaaaaaaaaaaaaa');
    await reset.getByRole('button', { name: 'Set password' }).click();
    await expect.poll(() => page.locator('#reset-password-error').textContent()).toMatch(/repetitive/);
    await reset.getByLabel('New password').fill('meadow lantern copper falcon');
    await reset.getByRole('button', { name: 'Set password' }).click();
    await expect.poll(() => page.locator('#login-notice').textContent()).toBe('Your new password is set. Sign in with it.');
    await signIn(page, 'meadow lantern copper falcon');
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
    await page.getByRole('button', { name: 'Sign in with Example ID' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Example ID' }).isVisible()).toBe(true);
    await page.getByLabel('Account').fill('nina');
    await page.getByRole('button', { name: 'Continue' }).click();
    await expect.poll(() => page.locator('#signed-in-as').textContent()).toBe('Signed in as Nina North (nina@example.com)');
    expect(page.url()).toBe(`${baseUrl}/`);

    // A refusal comes back as a code the page turns into its own words.
    provider.accounts.set('nina', { email: 'nina@example.com', emailVerified: true, name: 'Nina North', groups: ['elsewhere'], amr: ['pwd'] });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in with Example ID' }).click();
    await expect.poll(() => page.locator('#sso-error').textContent()).toMatch(/did not let you in/);
    // The code is read once and leaves the address bar.
    await expect.poll(() => page.url()).toBe(`${baseUrl}/login`);
    await screenshot(page, 'sso-refused');
    expect(problems).toEqual([]);
    await context.close();
  });
});
