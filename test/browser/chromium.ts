import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Locator, type Page } from 'playwright-core';
import type { TestApp } from '../support/app.js';
import { signInFully, type SignedIn } from '../support/sign-in.js';

const CHROMIUM = '/usr/bin/chromium';
// Without the background-networking flags Chromium keeps trying hosts a closed network refuses.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Debian's Chromium, headless. */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)`);
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/**
 * Console errors (CSP violations among them), script errors, failed requests, server errors and
 * missing assets: a page that works produces none. API answers of 4xx are expected (a wrong
 * password is a 401) and are checked on the page itself.
 */
export function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    // The browser logs every 4xx/5xx as "Failed to load resource" without the address; the
    // response listener below judges those with the address in hand.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) problems.push(`console: ${message.text()}`);
  });
  page.on('response', (response) => {
    const api = new URL(response.url()).pathname.startsWith('/api/v1/');
    if (response.status() >= 500 || (response.status() >= 400 && !api)) problems.push(`${response.status()} for ${response.url()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => {
    // A navigation cancels what the page it leaves was still fetching; that is no failure.
    const reason = request.failure()?.errorText ?? '';
    if (reason !== 'net::ERR_ABORTED') problems.push(`request failed: ${request.url()} ${reason}`);
  });
  return problems;
}

/** Saves a screenshot in the temporary directory for a person to look at; the path is printed. */
export async function screenshot(page: Page, name: string): Promise<void> {
  const file = path.join(os.tmpdir(), `rampart-${name}-${process.pid}.png`);
  // From the top, so the sticky header sits where a person sees it.
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot ${name}: ${file}`);
}

/** The message shown beside an input: the element its aria-describedby names for errors. */
export async function errorBeside(page: Page, input: Locator): Promise<string | null> {
  const ids = ((await input.getAttribute('aria-describedby')) ?? '').split(/\s+/).filter((id) => id.endsWith('-error'));
  return ids.length === 0 ? null : page.locator(`[id="${ids[0]}"]`).textContent();
}

/** An input by its label, which Mantine ends with an asterisk when the field is required. */
export function field(scope: Locator | Page, label: string): Locator {
  return scope.getByLabel(new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*\\*?$`));
}

/** A port free on loopback now, for a server whose public address must be known before it listens. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The user agent the browser tests give Chromium and the sign-ins they make through the API. */
export const BROWSER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/**
 * Signs in through the API, second factor and all (set up on the way when the role needs one), as
 * the browser would: a session is tied to its browser, so the requests carry the browser's agent.
 */
export function signInAsBrowser(app: FastifyInstance, email: string, password: string): Promise<SignedIn> {
  const asBrowser = {
    call: (method: string, url: string, options: { body?: unknown; headers?: Record<string, string> } = {}) =>
      app.inject({ method: method as 'GET', url, headers: { 'user-agent': BROWSER_AGENT, ...(options.headers ?? {}) }, ...(options.body !== undefined ? { payload: options.body as object } : {}) }),
  } as unknown as TestApp;
  return signInFully(asBrowser, email, password);
}

/** A browser context already signed in as `who`: the session made through the API, handed over as its cookie. */
export async function signedInContext(browser: Browser, app: FastifyInstance, baseUrl: string, who: { email: string; password: string }, options: BrowserContextOptions = {}): Promise<{ context: BrowserContext; session: SignedIn }> {
  const session = await signInAsBrowser(app, who.email, who.password);
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 }, ...options, userAgent: BROWSER_AGENT });
  await context.addCookies([{ name: 'rampart_session', value: session.cookie.slice(session.cookie.indexOf('=') + 1), url: baseUrl }]);
  return { context, session };
}
