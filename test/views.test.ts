import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';

const definition = { columns: ['name', 'city', 'createdAt'], sort: '-createdAt', filters: { city: 'Hangzhou', email: 'wei.zhang@example.com' }, q: 'zhang' };

describe('saved views', () => {
  let t: TestApp;
  let ana: string;
  let ben: string;
  beforeAll(async () => {
    t = await createTestApp();
    ({ token: ana } = await t.makeUser({ roles: ['sales'] }));
    ({ token: ben } = await t.makeUser({ roles: ['admin'] }));
  });
  afterAll(async () => t.close());

  const viewsOf = async (token: string, query = ''): Promise<{ id: string; name: string }[]> => (await t.call('GET', `/api/v1/views${query}`, { token })).json().items;

  it('saves, lists, renames and deletes a view of its owner, with a version check', async () => {
    const created = await t.call('POST', '/api/v1/views', { token: ana, body: { recordType: 'contacts', name: ' Hangzhou people ', definition } });
    expect(created.statusCode, created.body).toBe(201);
    const view = created.json();
    // A filter on an email address and search words are personal data: the view does not keep them.
    expect(view).toMatchObject({ recordType: 'contacts', name: 'Hangzhou people', definition: { ...definition, filters: { city: 'Hangzhou' }, q: null }, version: 1 });
    const stored = await t.database.db.selectFrom('saved_views').select('definition').where('id', '=', view.id).executeTakeFirstOrThrow();
    expect(stored.definition).not.toMatch(/wei\.zhang|zhang/);
    await t.call('POST', '/api/v1/views', { token: ana, body: { recordType: 'deals', name: 'Big deals', definition: { columns: ['name'], sort: '-amount', filters: {}, q: null } } });

    expect((await viewsOf(ana, '?recordType=contacts')).map((v) => v.name)).toEqual(['Hangzhou people']);
    expect(await viewsOf(ana)).toHaveLength(2);

    const renamed = await t.call('PATCH', `/api/v1/views/${view.id}`, { token: ana, body: { version: 1, name: 'Zhejiang', definition: { ...definition, filters: {} } } });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect(renamed.json()).toMatchObject({ name: 'Zhejiang', version: 2, definition: { filters: {} } });
    const stale = await t.call('PATCH', `/api/v1/views/${view.id}`, { token: ana, body: { version: 1, name: 'Old' } });
    expect(stale.statusCode).toBe(409);
    expect(stale.json().error.code).toBe('record.version_conflict');

    expect((await t.call('DELETE', `/api/v1/views/${view.id}`, { token: ana })).statusCode).toBe(204);
    expect((await viewsOf(ana, '?recordType=contacts'))).toEqual([]);
    expect((await t.call('DELETE', `/api/v1/views/${view.id}`, { token: ana })).json().error.code).toBe('view.not_found');
  });

  it('shows nobody else a view: another user\'s view is not found and stays as it was', async () => {
    const mine = (await t.call('POST', '/api/v1/views', { token: ana, body: { recordType: 'contacts', name: 'Private', definition } })).json();
    // An administrator is no exception: the filter values are the owner's working state.
    expect((await viewsOf(ben)).map((v) => v.id)).not.toContain(mine.id);
    const patch = await t.call('PATCH', `/api/v1/views/${mine.id}`, { token: ben, body: { version: 1, name: 'Taken' } });
    expect(patch.statusCode).toBe(404);
    expect(patch.json().error.code).toBe('view.not_found');
    const remove = await t.call('DELETE', `/api/v1/views/${mine.id}`, { token: ben });
    expect(remove.statusCode).toBe(404);
    const still = (await viewsOf(ana)).find((v) => v.id === mine.id);
    expect(still).toMatchObject({ name: 'Private', version: 1, definition: mine.definition });
  });

  it('refuses callers without a session or token, and bad input, writing nothing', async () => {
    expect((await t.call('GET', '/api/v1/views')).statusCode).toBe(401);
    expect((await t.call('POST', '/api/v1/views', { body: { recordType: 'contacts', name: 'x', definition } })).statusCode).toBe(401);
    const before = await viewsOf(ana);
    for (const body of [
      { recordType: 'users', name: 'x', definition },
      { recordType: 'contacts', name: '', definition },
      { recordType: 'contacts', name: '   ', definition },
      { recordType: 'contacts', name: 'Line\nbreak', definition },
      { recordType: 'contacts', name: 'x', definition: { ...definition, extra: 1 } },
      { recordType: 'contacts', name: 'x', definition: { ...definition, filters: { city: 3 } } },
      { recordType: 'contacts', name: 'x', definition: { ...definition, columns: Array.from({ length: 61 }, (_, i) => `c${i}`) } },
    ]) {
      const res = await t.call('POST', '/api/v1/views', { token: ana, body });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
    }
    expect((await t.call('PATCH', '/api/v1/views/not-an-id', { token: ana, body: { version: 1, name: 'x' } })).statusCode).toBe(404);
    expect(await viewsOf(ana)).toEqual(before);
  });
});
