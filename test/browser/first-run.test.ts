import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, screenshot, watch } from './chromium.js';
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
    const setup = page.locator('#setup-form');
    await setup.getByLabel('Email').fill(ADMIN.email);
    await setup.getByLabel('Name').fill(ADMIN.name);
    await setup.getByLabel('Password').fill(`${ADMIN.name} forever 2024`);
    await setup.getByRole('button', { name: 'Create administrator' }).click();
    await expect.poll(() => page.locator('#setup-password-error').textContent()).toMatch(/must not contain your name/i);
    expect(await setup.getByLabel('Password').getAttribute('aria-invalid')).toBe('true');
    expect(await setup.getByRole('alert').textContent()).toMatch(/invalid fields|password/i);
    await screenshot(page, 'setup-error');

    // Too short never leaves the browser.
    await setup.getByLabel('Password').fill('short');
    await setup.getByRole('button', { name: 'Create administrator' }).click();
    await expect.poll(() => page.locator('#setup-password-error').textContent()).toBe('Use at least 12 characters.');

    await setup.getByLabel('Password').fill(ADMIN.password);
    await setup.getByRole('button', { name: 'Create administrator' }).click();

    // An administrator sets up an authenticator app before anything else.
    await expect.poll(() => page.getByRole('heading', { name: 'Set up two-step sign-in' }).isVisible()).toBe(true);
    const secret = (await page.locator('#enrol-secret').textContent())!.replace(/\s+/g, '');
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(await page.getByRole('link', { name: 'Open in an authenticator app' }).getAttribute('href')).toContain(`secret=${secret}`);
    await screenshot(page, 'enrol');
    const enrol = page.locator('#enrol-form');
    await enrol.getByLabel('Code from the app').fill('000000');
    await enrol.getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => enrol.getByRole('alert').textContent()).toMatch(/code is wrong/i);
    await enrol.getByLabel('Code from the app').fill(await totpCode(secret, Math.floor(Date.now() / 1000)));
    await enrol.getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Your recovery codes' }).isVisible()).toBe(true);
    const recoveryCodes = await page.locator('#recovery-codes li').allTextContents();
    expect(recoveryCodes).toHaveLength(10);
    await screenshot(page, 'recovery-codes');
    await page.getByRole('button', { name: 'I have kept them' }).click();
    await expect.poll(() => page.locator('#signed-in-as').textContent()).toBe(`Signed in as ${ADMIN.name} (${ADMIN.email})`);
    expect(await page.getByRole('link', { name: '/api/docs' }).getAttribute('href')).toBe('/api/docs');

    await screenshot(page, 'signed-in');

    // A reload keeps the session: the cookie is httpOnly, the page asks the server who it is.
    await page.reload();
    await expect.poll(() => page.locator('#signed-in-as').textContent()).toBe(`Signed in as ${ADMIN.name} (${ADMIN.email})`);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
    expect(await page.getByRole('status').textContent()).toBe('You have signed out.');
    expect(page.url()).toBe(`${baseUrl}/login`);
    const afterLogout = await page.request.get(`${baseUrl}/api/v1/auth/session`);
    expect(afterLogout.status()).toBe(401);

    const login = page.locator('#login-form');
    await login.getByLabel('Email').fill(ADMIN.email);
    await login.getByLabel('Password').fill('not the password at all');
    await login.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => login.getByRole('alert').textContent()).toBe('The email or password is wrong');

    await login.getByLabel('Password').fill(ADMIN.password);
    await login.getByRole('button', { name: 'Sign in' }).click();
    // The code used a moment ago at setup is spent; a recovery code works once.
    await expect.poll(() => page.getByRole('heading', { name: 'Second step' }).isVisible()).toBe(true);
    const second = page.locator('#mfa-form');
    await second.getByLabel('Code or recovery code').fill(recoveryCodes[0]!);
    await second.getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => page.locator('#signed-in-as').textContent()).toBe(`Signed in as ${ADMIN.name} (${ADMIN.email})`);

    expect(problems).toEqual([]);

    // The setup link is spent.
    const again = await context.newPage();
    await again.goto(link!);
    await expect.poll(() => again.getByRole('status').textContent()).toBe('Rampart is already set up. Sign in with your account.');
    await context.close();
  });

  it('speaks Chinese to a browser that prefers it', async () => {
    const context = await browser.newContext({ locale: 'zh-CN' });
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto(`${baseUrl}/login`);
    await expect.poll(() => page.getByRole('heading', { name: '登录' }).isVisible()).toBe(true);
    expect(await page.getAttribute('html', 'lang')).toBe('zh-CN');
    const login = page.locator('#login-form');
    expect(await login.getByLabel('电子邮箱').isVisible()).toBe(true);
    expect(await login.getByLabel('密码').isVisible()).toBe(true);
    expect(await login.getByRole('button', { name: '登录' }).isVisible()).toBe(true);
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
