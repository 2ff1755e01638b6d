import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';

describe('first-run and sign-in pages', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('serves the page at /, /setup and /login under a policy that forbids inline code', async () => {
    for (const url of ['/', '/setup', '/login']) {
      const res = await t.call('GET', url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      // Inline code would be refused by the policy, so the page must not depend on any.
      expect(res.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(res.body).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
      expect(res.body).toContain('href="/api/docs"');
    }
  });

  it('serves the script, stylesheet and icon with their types', async () => {
    const expected: Record<string, RegExp> = { '/assets/app.js': /^text\/javascript/, '/assets/app.css': /^text\/css/, '/assets/icon.svg': /^image\/svg\+xml/ };
    for (const [url, type] of Object.entries(expected)) {
      const res = await t.call('GET', url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toMatch(type);
    }
  });

  it('answers a JSON 404 for an asset that does not exist', async () => {
    const res = await t.call('GET', '/assets/missing.js');
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('request.not_found');
  });
});
