import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptsGzip, WEB_DIR } from '../src/http/pages.js';
import { createTestApp, type TestApp } from './support/app.js';

describe('the web app as served', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('answers index.html for the app\'s own addresses, under a policy that forbids inline code', async () => {
    for (const url of ['/', '/setup', '/login', '/reset-password', '/contacts/0190f000-0000-7000-8000-000000000001', '/profile?tab=sessions']) {
      const res = await t.call('GET', url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['cache-control']).toBe('no-cache');
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      // Inline code would be refused by the policy, so the page must not depend on any.
      expect(res.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(res.body).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
      expect(res.body).toContain('<div id="root">');
    }
  });

  it('serves every built script and stylesheet with its type, cached for good, gzipped on request', async () => {
    const index = fs.readFileSync(path.join(WEB_DIR, 'index.html'), 'utf8');
    const assets = [...index.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.some((a) => a.endsWith('.js'))).toBe(true);
    expect(assets.some((a) => a.endsWith('.css'))).toBe(true);
    let gzipped = 0;
    for (const url of assets) {
      const res = await t.call('GET', url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toMatch(url.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      expect(res.headers['cache-control']).toContain('immutable');
      // Files of a kilobyte or less go as they are.
      if (res.rawPayload.length <= 1024) continue;
      const zipped = await t.app.inject({ method: 'GET', url, headers: { 'accept-encoding': 'gzip, br' } });
      expect(zipped.headers['content-encoding'], url).toBe('gzip');
      expect(zlib.gunzipSync(zipped.rawPayload).equals(res.rawPayload)).toBe(true);
      gzipped += 1;
    }
    expect(gzipped).toBeGreaterThanOrEqual(2);
    expect((await t.call('GET', '/icon.svg')).headers['content-type']).toMatch(/^image\/svg\+xml/);
  });

  it('keeps the JavaScript a first visit loads within 400 KB gzipped; each area loads as its own chunk', () => {
    const index = fs.readFileSync(path.join(WEB_DIR, 'index.html'), 'utf8');
    // The entry script and what it preloads: everything the browser fetches before the first screen.
    const initial = [...index.matchAll(/<(?:script[^>]*\bsrc|link[^>]*rel="modulepreload"[^>]*\bhref)="\/assets\/([^"]+\.js)"/g)].map((m) => m[1]!);
    expect(initial.length).toBeGreaterThan(0);
    const gzipped = initial.reduce((sum, file) => sum + zlib.gzipSync(fs.readFileSync(path.join(WEB_DIR, 'assets', file)), { level: 9 }).length, 0);
    console.log(`initial JavaScript: ${initial.length} files, ${(gzipped / 1024).toFixed(1)} KB gzipped`);
    expect(gzipped).toBeLessThanOrEqual(400 * 1024);
    const chunks = fs.readdirSync(path.join(WEB_DIR, 'assets')).filter((f) => f.endsWith('.js'));
    for (const area of ['records-pages', 'security-pages', 'admin-pages', 'dashboard-pages', 'transfer-pages', 'profile-page']) {
      expect(chunks.some((f) => f.startsWith(`${area}-`)), area).toBe(true);
      expect(initial.some((f) => f.startsWith(`${area}-`)), area).toBe(false);
    }
  });

  it('sends gzip only to a client that takes it', () => {
    expect(acceptsGzip('gzip, deflate, br')).toBe(true);
    expect(acceptsGzip('br;q=1.0, gzip;q=0.8')).toBe(true);
    expect(acceptsGzip('*')).toBe(true);
    expect(acceptsGzip('gzip;q=0')).toBe(false);
    expect(acceptsGzip('gzip; q=0.000, br')).toBe(false);
    expect(acceptsGzip('identity')).toBe(false);
    expect(acceptsGzip('')).toBe(false);
  });

  it('answers a JSON 404 for missing files, odd names and unknown API addresses, never the page', async () => {
    for (const url of ['/assets/missing.js', '/assets/..%2Fpackage.json', '/assets/.hidden', '/favicon.ico', '/api/v1/nothing-here', '/api/nothing']) {
      const res = await t.call('GET', url);
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error.code, url).toBe('request.not_found');
    }
  });
});
