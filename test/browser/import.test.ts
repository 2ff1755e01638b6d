import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type RampartApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { insertUser } from '../../src/modules/users/users.service.js';
import { cliContext } from '../../src/shared/principal.js';
import { BROWSER_AGENT, launchChromium, screenshot, signInAsBrowser, watch } from './chromium.js';

const IMPORTER = { email: 'imke.importer@example.com', name: 'Imke Importer', password: 'granite pelican orchard fog' };

// Sessions are bound to the browser that signed in: the API sign-in names the same browser.

const FILE = ['First Name,Surname,E-Mail,Phone', 'Ada,Lovelace,ada@example.com,+44 20 7946 0000', 'Bad,Address,not-an-email,', 'Grace,Hopper,grace@example.com,'].join('\n');

describe('importing contacts in a browser', () => {
  let rampart: RampartApp;
  let browser: Browser;
  let baseUrl: string;
  let dataDir: string;
  let cookie: string;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-browser-'));
    const config = loadConfig({ env: { RAMPART_DATA_DIR: dataDir, RAMPART_LOG_LEVEL: 'silent' }, cwd: dataDir });
    rampart = await buildApp(config);
    const address = await rampart.app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = address.replace('[::1]', '127.0.0.1');
    // Every shipped role that may import asks for a second factor: the session is made through the
    // API, second factor included, and handed to the browser as its cookie.
    await insertUser(rampart.deps, cliContext('test'), { ...IMPORTER, roles: ['manager'] });
    cookie = (await signInAsBrowser(rampart.app, IMPORTER.email, IMPORTER.password)).cookie;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await rampart?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('maps the columns, previews the problem row, imports the good rows and lists the bad one', async () => {
    const context = await browser.newContext({ userAgent: BROWSER_AGENT, locale: 'en-US', viewport: { width: 1280, height: 800 } });
    await context.addCookies([{ name: 'rampart_session', value: cookie.split('=').slice(1).join('='), url: baseUrl }]);
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto(`${baseUrl}/import`);
    await screenshot(page, 'import-start');
    await expect.poll(() => page.getByRole('heading', { name: 'Import', level: 1 }).isVisible(), { timeout: 10_000 }).toBe(true);

    await page.locator('input[type=file]').setInputFiles({ name: 'people.csv', mimeType: 'text/csv', buffer: Buffer.from(FILE, 'utf8') });
    await screenshot(page, 'import-file');
    await page.getByRole('button', { name: 'Read the file' }).click();

    const surname = page.getByLabel('Field for column “Surname”');
    await expect.poll(() => surname.isVisible()).toBe(true);
    expect(await page.getByLabel('Field for column “First Name”').inputValue()).toBe('firstName');
    expect(await page.getByLabel('Field for column “E-Mail”').inputValue()).toBe('email');
    expect(await surname.inputValue()).toBe('');
    await surname.selectOption('lastName');
    await screenshot(page, 'import-mapping');
    await page.getByRole('button', { name: 'Preview the rows' }).click();

    await expect.poll(() => page.getByText('1 of these rows has a problem.').isVisible()).toBe(true);
    const preview = page.getByRole('table', { name: 'The first rows of the file as they will be stored' });
    expect(await preview.getByRole('row').count()).toBe(4);
    expect(await preview.locator('.transfer-row-problem').count()).toBe(1);
    await screenshot(page, 'import-preview');
    // The address never carries the file, the mapping or any value.
    expect(page.url()).toBe(`${baseUrl}/import`);
    await page.getByRole('button', { name: 'Import 3 rows' }).click();

    await expect.poll(() => page.getByRole('heading', { name: 'Import finished' }).isVisible()).toBe(true);
    const errors = page.getByRole('table', { name: 'Rows that were not imported and why' });
    const refused = errors.getByRole('row').nth(1);
    expect(await refused.getByRole('rowheader').textContent()).toBe('3');
    expect(await refused.textContent()).toMatch(/Email.*email/i);
    expect(await page.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('100');
    await screenshot(page, 'import-done');

    const listed = await rampart.app.inject({ method: 'GET', url: '/api/v1/contacts?sort=createdAt', headers: { cookie, 'user-agent': BROWSER_AGENT } });
    expect(listed.statusCode, listed.body).toBe(200);
    expect(listed.json().items.map((c: { lastName: string }) => c.lastName).sort()).toEqual(['Hopper', 'Lovelace']);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('reads in Chinese at tablet width', async () => {
    const context = await browser.newContext({ userAgent: BROWSER_AGENT, locale: 'zh-CN', viewport: { width: 768, height: 1000 } });
    await context.addCookies([{ name: 'rampart_session', value: cookie.split('=').slice(1).join('='), url: baseUrl }]);
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto(`${baseUrl}/import`);
    await expect.poll(() => page.getByRole('heading', { name: '导入', level: 1 }).isVisible(), { timeout: 10_000 }).toBe(true);
    await page.locator('input[type=file]').setInputFiles({ name: 'people.csv', mimeType: 'text/csv', buffer: Buffer.from(FILE, 'utf8') });
    await page.getByRole('button', { name: '读取文件' }).click();
    await expect.poll(() => page.getByLabel('列“Surname”对应的字段').isVisible()).toBe(true);
    await screenshot(page, 'import-mapping-zh');
    expect(problems).toEqual([]);
    await context.close();
  });
});
