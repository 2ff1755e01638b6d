import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderOpenApiDocument } from '../src/http/openapi.js';
import { createTestApp, type TestApp } from './support/app.js';

const COMMITTED = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'openapi.json');

describe('the OpenAPI document', () => {
  it('is committed and matches what the code generates', async () => {
    const generated = await renderOpenApiDocument();
    const committed = fs.existsSync(COMMITTED) ? fs.readFileSync(COMMITTED, 'utf8') : '';
    // A plain boolean keeps a 600 kB diff out of the failure; the message says what to do.
    expect(committed === generated, 'openapi.json is out of date with the routes: run npm run openapi and commit the result').toBe(true);
  });

  it('has the web app\'s typed client generated from it', () => {
    // The web app reaches the server only through a client typed from this document; a route that
    // changes without `npm run web:types` would leave it typed against the old API.
    const root = path.dirname(COMMITTED);
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-types-')), 'schema.d.ts');
    const run = spawnSync(process.execPath, [path.join(root, 'node_modules', 'openapi-typescript', 'bin', 'cli.js'), COMMITTED, '-o', out], { cwd: root, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const committed = fs.readFileSync(path.join(root, 'web', 'src', 'api', 'schema.d.ts'), 'utf8');
    expect(committed === fs.readFileSync(out, 'utf8'), 'web/src/api/schema.d.ts is out of date: run npm run web:types and commit the result').toBe(true);
  });

  describe('served by the app', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp();
    });
    afterAll(async () => t.close());

    it('answers the document at /api/openapi.json without signing in', async () => {
      const res = await t.call('GET', '/api/openapi.json');
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const doc = res.json();
      expect(doc.openapi).toBe('3.1.0');
      expect(Object.keys(doc.paths)).toContain('/api/v1/contacts');
    });

    it('answers the docs page and its assets at /api/docs', async () => {
      const page = await t.call('GET', '/api/docs');
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      // Swagger UI runs under its own policy, which must still allow no inline code; the browser
      // test checks that the page renders under it.
      const csp = String(page.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(page.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      for (const asset of ['/api/docs/static/swagger-ui-bundle.js', '/api/docs/static/swagger-initializer.js', '/api/docs/static/swagger-ui.css', '/api/docs/json']) {
        const res = await t.call('GET', asset);
        expect(res.statusCode, asset).toBe(200);
      }
    });
  });
});
