import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';

describe('tags', () => {
  let t: TestApp;
  let manager: string;
  let sales: string;
  beforeAll(async () => {
    t = await createTestApp();
    ({ token: manager } = await t.makeUser({ roles: ['manager'] }));
    ({ token: sales } = await t.makeUser({ roles: ['sales'] }));
  });
  afterAll(async () => t.close());

  const tagNames = async (): Promise<string[]> => (await t.call('GET', '/api/v1/tags', { token: sales })).json().items.map((x: { name: string }) => x.name);

  it('creates, reads, renames and recolours tags with a version check', async () => {
    const created = await t.call('POST', '/api/v1/tags', { token: sales, body: { name: ' VIP ' } });
    expect(created.statusCode, created.body).toBe(201);
    const tag = created.json();
    expect(tag).toMatchObject({ name: 'VIP', color: 'gray', version: 1 });
    expect((await t.call('GET', `/api/v1/tags/${tag.id}`, { token: sales })).json()).toEqual(tag);

    const updated = await t.call('PATCH', `/api/v1/tags/${tag.id}`, { token: manager, body: { version: 1, name: 'Key account', color: 'purple' } });
    expect(updated.statusCode, updated.body).toBe(200);
    expect(updated.json()).toMatchObject({ name: 'Key account', color: 'purple', version: 2 });
    const stale = await t.call('PATCH', `/api/v1/tags/${tag.id}`, { token: manager, body: { version: 1, color: 'red' } });
    expect(stale.statusCode).toBe(409);
    expect(stale.json().error.code).toBe('record.version_conflict');
  });

  it('filters records by tag, and deleting a tag takes it off every record', async () => {
    const hot = (await t.call('POST', '/api/v1/tags', { token: sales, body: { name: 'Hot', color: 'red' } })).json();
    const cold = (await t.call('POST', '/api/v1/tags', { token: sales, body: { name: 'Cold', color: 'blue' } })).json();
    const tagged = (await t.call('POST', '/api/v1/companies', { token: sales, body: { name: 'Tagged', tagIds: [hot.id, cold.id] } })).json();
    await t.call('POST', '/api/v1/companies', { token: sales, body: { name: 'Plain' } });
    expect(tagged.tagIds).toEqual([hot.id, cold.id].sort());
    expect((await t.call('GET', `/api/v1/companies?tagId=${hot.id}`, { token: sales })).json().items.map((c: { id: string }) => c.id)).toEqual([tagged.id]);

    expect((await t.call('DELETE', `/api/v1/tags/${hot.id}`, { token: manager })).statusCode).toBe(204);
    expect((await t.call('GET', `/api/v1/tags/${hot.id}`, { token: sales })).json().error.code).toBe('tag.not_found');
    expect((await t.call('GET', `/api/v1/companies/${tagged.id}`, { token: sales })).json().tagIds).toEqual([cold.id]);
    expect((await t.call('GET', `/api/v1/companies?tagId=${hot.id}`, { token: sales })).json().items).toEqual([]);
  });

  it('refuses duplicates and bad input with a code and writes nothing', async () => {
    await t.call('POST', '/api/v1/tags', { token: sales, body: { name: 'Partner' } });
    const before = await tagNames();
    const dup = await t.call('POST', '/api/v1/tags', { token: sales, body: { name: 'partner' } });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('tag.duplicate');
    for (const body of [{ name: '' }, { name: 'x'.repeat(51) }, { name: 'Pink', color: 'magenta' }, { name: 'Line\nbreak' }, { name: 'Extra', size: 3 }]) {
      const res = await t.call('POST', '/api/v1/tags', { token: sales, body });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error.code).toMatch(/^(request\.invalid|record\.validation_failed)$/);
    }
    expect(await tagNames()).toEqual(before);

    const other = (await t.call('POST', '/api/v1/tags', { token: sales, body: { name: 'Other' } })).json();
    const clash = await t.call('PATCH', `/api/v1/tags/${other.id}`, { token: manager, body: { version: 1, name: 'PARTNER' } });
    expect(clash.statusCode).toBe(409);
    expect((await t.call('GET', '/api/v1/tags/0190a4f0-0000-7000-8000-000000000000', { token: sales })).statusCode).toBe(404);
    expect((await t.call('DELETE', '/api/v1/tags/0190a4f0-0000-7000-8000-000000000000', { token: manager })).statusCode).toBe(404);
  });

  it('keeps renaming and deleting to administrators and managers', async () => {
    const tag = (await t.call('POST', '/api/v1/tags', { token: sales, body: { name: 'Mine' } })).json();
    const rename = await t.call('PATCH', `/api/v1/tags/${tag.id}`, { token: sales, body: { version: 1, name: 'Yours' } });
    expect(rename.statusCode).toBe(403);
    expect(rename.json().error.code).toBe('auth.forbidden');
    expect((await t.call('DELETE', `/api/v1/tags/${tag.id}`, { token: sales })).statusCode).toBe(403);
    expect((await t.call('GET', `/api/v1/tags/${tag.id}`, { token: sales })).json()).toMatchObject({ name: 'Mine', version: 1 });
  });

  it('refuses callers without a token', async () => {
    const tag = (await t.call('POST', '/api/v1/tags', { token: sales, body: { name: 'Anon target' } })).json();
    expect((await t.call('GET', '/api/v1/tags')).statusCode).toBe(401);
    expect((await t.call('GET', `/api/v1/tags/${tag.id}`)).statusCode).toBe(401);
    expect((await t.call('POST', '/api/v1/tags', { body: { name: 'Anon' } })).statusCode).toBe(401);
    expect((await t.call('PATCH', `/api/v1/tags/${tag.id}`, { body: { version: 1, name: 'Anon' } })).statusCode).toBe(401);
    expect((await t.call('DELETE', `/api/v1/tags/${tag.id}`)).statusCode).toBe(401);
    expect(await tagNames()).not.toContain('Anon');
  });
});
