import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { errorBeside, field, launchChromium, screenshot, watch } from './chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type RampartApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { issueSetupLink } from '../../src/modules/setup/setup.service.js';
import { totpCode } from '../../src/modules/mfa/totp.js';

const ADMIN = { email: 'first.admin@example.com', name: 'Ada Admin', password: 'orbit lantern cobalt meadow' };

describe('first run in a browser', () => {
  let rampart: RampartApp;
  let browser: Browser;
  let baseUrl: string;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-browser-'));
    const config = loadConfig({ env: { RAMPART_DATA_DIR: dataDir, RAMPART_LOG_LEVEL: 'silent' }, cwd: dataDir });
    rampart = await buildApp(config);
    const address = await rampart.app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = address.replace(/\/$/, '');
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await rampart?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('creates the first administrator from the setup link, sets up two-step sign-in, signs out and signs in again with a code', async () => {
    const link = await issueSetupLink(rampart.deps, baseUrl);
    expect(link).toMatch(/\/setup#token=rpsetup_/);
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const problems = watch(page);

    await page.goto(link!);
    await expect.poll(() => page.getByRole('heading', { name: 'Create the first administrator' }).isVisible()).toBe(true);
    // The one-time secret leaves the address bar as soon as the page has read it.
    expect(page.url()).toBe(`${baseUrl}/setup`);

    // The server's own rules come back beside the field: a password that contains the name.
    const setup = page.locator('form');
    await field(setup, 'Email').fill(ADMIN.email);
    await field(setup, 'Name').fill(ADMIN.name);
    const password = field(setup, 'Password');
    await password.fill(`${ADMIN.name} forever 2024`);
    await setup.getByRole('button', { name: 'Create administrator' }).click();
    await expect.poll(() => errorBeside(page, password)).toMatch(/must not contain your name/i);
    expect(await password.getAttribute('aria-invalid')).toBe('true');
    expect(await setup.getByRole('alert').first().textContent()).toMatch(/invalid fields|password/i);
    await screenshot(page, 'setup-error');

    // Too short never leaves the browser.
    await password.fill('short');
    await setup.getByRole('button', { name: 'Create administrator' }).click();
    await expect.poll(() => errorBeside(page, password)).toBe('Use at least 12 characters.');

    await password.fill(ADMIN.password);
    await setup.getByRole('button', { name: 'Create administrator' }).click();

    // An administrator sets up an authenticator app before anything else, from a QR code or the key.
    await expect.poll(() => page.getByRole('heading', { name: 'Set up two-step sign-in' }).isVisible()).toBe(true);
    const secret = (await page.getByTestId('enrol-secret').textContent())!.replace(/\s+/g, '');
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(await page.getByRole('link', { name: 'Open in an authenticator app' }).getAttribute('href')).toContain(`secret=${secret}`);
    expect(await page.locator('svg.enrol-qr path').count()).toBeGreaterThan(0);
    await screenshot(page, 'enrol');
    const enrol = page.locator('form');
    await field(enrol, 'Code from the app').fill('000000');
    await enrol.getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => enrol.getByRole('alert').first().textContent()).toMatch(/code is wrong/i);
    await field(enrol, 'Code from the app').fill(await totpCode(secret, Math.floor(Date.now() / 1000)));
    await enrol.getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Your recovery codes' }).isVisible()).toBe(true);
    const recoveryCodes = await page.getByRole('list', { name: 'Your recovery codes' }).getByRole('listitem').allTextContents();
    expect(recoveryCodes).toHaveLength(10);
    await screenshot(page, 'recovery-codes');
    await page.getByRole('button', { name: 'I have kept them' }).click();
    await expect.poll(() => page.getByRole('heading', { name: `Welcome, ${ADMIN.name}` }).isVisible()).toBe(true);
    await screenshot(page, 'signed-in');
    expect(page.url()).toBe(`${baseUrl}/`);

    // A reload keeps the session: the cookie is httpOnly, the page asks the server who it is.
    await page.reload();
    await expect.poll(() => page.getByRole('heading', { name: `Welcome, ${ADMIN.name}` }).isVisible()).toBe(true);
    // Nothing about the session is kept where scripts can read it.
    expect(await page.evaluate('JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie')).not.toMatch(/rps|csrf|token/i);

    await page.getByRole('button', { name: `Account menu for ${ADMIN.name}` }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
    expect(await page.getByRole('status').textContent()).toBe('You have signed out.');
    expect(page.url()).toBe(`${baseUrl}/login`);
    const afterLogout = await page.request.get(`${baseUrl}/api/v1/auth/session`);
    expect(afterLogout.status()).toBe(401);

    const login = page.locator('form');
    await field(login, 'Email').fill(ADMIN.email);
    await field(login, 'Password').fill('not the password at all');
    await login.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => login.getByRole('alert').first().textContent()).toBe('The email or password is wrong.');

    await field(login, 'Password').fill(ADMIN.password);
    await login.getByRole('button', { name: 'Sign in', exact: true }).click();
    // The code used a moment ago at setup is spent; a recovery code works once.
    await expect.poll(() => page.getByRole('heading', { name: 'Second step' }).isVisible()).toBe(true);
    const second = page.locator('form');
    await field(second, 'Code or recovery code').fill(recoveryCodes[0]!);
    await second.getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => page.getByRole('heading', { name: `Welcome, ${ADMIN.name}` }).isVisible()).toBe(true);

    expect(problems).toEqual([]);

    await context.close();

    // The setup link is spent.
    const fresh = await browser.newContext({ locale: 'en-US' });
    const again = await fresh.newPage();
    await again.goto(link!);
    await expect.poll(() => again.getByRole('status').textContent()).toBe('Rampart is already set up. Sign in with your account.');
    expect(again.url()).toBe(`${baseUrl}/login`);
    await fresh.close();
  });

  it('speaks Chinese to a browser that prefers it', async () => {
    const context = await browser.newContext({ locale: 'zh-CN' });
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto(`${baseUrl}/login`);
    await expect.poll(() => page.getByRole('heading', { name: '登录' }).isVisible()).toBe(true);
    expect(await page.getAttribute('html', 'lang')).toBe('zh-CN');
    const login = page.locator('form');
    expect(await field(login, '电子邮箱').isVisible()).toBe(true);
    expect(await field(login, '密码').isVisible()).toBe(true);
    expect(await login.getByRole('button', { name: '登录', exact: true }).isVisible()).toBe(true);
    // The switch changes the language on the spot, and the choice stays for the next visit.
    await page.getByText('English').click();
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    await page.reload();
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
    await screenshot(page, 'login-zh');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('renders the API documentation under the Content-Security-Policy', async () => {
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto(`${baseUrl}/api/docs`);
    await expect.poll(() => page.locator('.swagger-ui .info .title').textContent(), { timeout: 15_000 }).toMatch(/Rampart CRM API/);
    await expect.poll(() => page.locator('.swagger-ui .opblock').count()).toBeGreaterThan(10);
    expect(problems).toEqual([]);
    await context.close();
  });
});
