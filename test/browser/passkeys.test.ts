import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { field, freePort, launchChromium, watch } from './chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type RampartApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { insertUser } from '../../src/modules/users/users.service.js';
import { cliContext } from '../../src/shared/principal.js';

const ADMIN = { email: 'passkey.admin@example.com', name: 'Pia Passkey', password: 'violet harbour cinnamon kite' };


/**
 * Passkeys in a real browser: Chromium's own WebAuthn stack with a virtual authenticator (a
 * platform authenticator with user verification, through the DevTools protocol), against the
 * server at `localhost`, the only kind of address besides a domain name that browsers bind
 * passkeys to.
 */
describe('passkeys in a browser', () => {
  let rampart: RampartApp;
  let browser: Browser;
  let baseUrl: string;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-passkeys-'));
    const port = await freePort();
    baseUrl = `http://localhost:${port}`;
    const config = loadConfig({ env: { RAMPART_DATA_DIR: dataDir, RAMPART_LOG_LEVEL: 'silent', RAMPART_PUBLIC_URL: baseUrl }, cwd: dataDir });
    rampart = await buildApp(config);
    await rampart.app.listen({ host: '127.0.0.1', port });
    await insertUser(rampart.deps, cliContext('test'), { ...ADMIN, roles: ['admin'] });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await rampart?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('sets up a passkey at the first sign-in, then signs in with it alone', async () => {
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    const problems = watch(page);
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });

    await page.goto(`${baseUrl}/login`);
    const login = page.locator('form');
    await field(login, 'Email').fill(ADMIN.email);
    await field(login, 'Password').fill(ADMIN.password);
    await login.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Set up two-step sign-in' }).isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Use a passkey instead' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Your recovery codes' }).isVisible()).toBe(true);
    expect(await page.getByRole('list', { name: 'Your recovery codes' }).getByRole('listitem').count()).toBe(10);
    await page.getByRole('button', { name: 'I have kept them' }).click();
    await expect.poll(() => page.getByRole('heading', { name: `Welcome, ${ADMIN.name}` }).isVisible()).toBe(true);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).toHaveLength(1);
    expect(credentials[0]!.isResidentCredential).toBe(true);

    await page.getByRole('button', { name: `Account menu for ${ADMIN.name}` }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expect.poll(() => page.getByRole('heading', { name: `Welcome, ${ADMIN.name}` }).isVisible()).toBe(true);
    expect((await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials[0]!.signCount).toBeGreaterThan(0);

    // After the password, the second step can be the passkey too.
    await page.getByRole('button', { name: `Account menu for ${ADMIN.name}` }).click();
    await page.getByRole('menuitem', { name: 'Sign out' }).click();
    await field(login, 'Email').fill(ADMIN.email);
    await field(login, 'Password').fill(ADMIN.password);
    await login.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Second step' }).isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Use a passkey', exact: true }).click();
    await expect.poll(() => page.getByRole('heading', { name: `Welcome, ${ADMIN.name}` }).isVisible()).toBe(true);
    expect(problems).toEqual([]);
    await context.close();
  });
});
