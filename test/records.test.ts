import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';

describe('records over the API', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await createTestApp();
    ({ token } = await t.makeUser());
  });
  afterAll(async () => t.close());

  it('creates, reads, updates with a version, deletes and restores a contact', async () => {
    const company = await t.call('POST', '/api/v1/companies', { token, body: { name: 'Acme 有限公司', domain: 'acme.example' } });
    expect(company.statusCode).toBe(201);
    const companyId = company.json().id;
    const created = await t.call('POST', '/api/v1/contacts', { token, body: { firstName: 'Ada', lastName: 'Lovelace', email: 'Ada@Example.com', companyId } });
    expect(created.statusCode, created.body).toBe(201);
    const contact = created.json();
    expect(contact).toMatchObject({ firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com', companyId, version: 1 });

    const updated = await t.call('PATCH', `/api/v1/contacts/${contact.id}`, { token, body: { version: 1, jobTitle: 'Engineer' } });
    expect(updated.statusCode, updated.body).toBe(200);
    expect(updated.json()).toMatchObject({ version: 2, jobTitle: 'Engineer' });

    const stale = await t.call('PATCH', `/api/v1/contacts/${contact.id}`, { token, body: { version: 1, jobTitle: 'Other' } });
    expect(stale.statusCode).toBe(409);
    expect(stale.json().error.code).toBe('record.version_conflict');

    const byEmail = await t.call('GET', '/api/v1/contacts?email=ada@example.com', { token });
    expect(byEmail.json().items.map((c: { id: string }) => c.id)).toEqual([contact.id]);
    const search = await t.call('GET', `/api/v1/contacts?q=${encodeURIComponent('Lovelace')}`, { token });
    expect(search.json().items).toHaveLength(1);
    // Names are sealed; their search tokens match whole words only.
    expect((await t.call('GET', `/api/v1/contacts?q=${encodeURIComponent('lovel')}`, { token })).json().items).toHaveLength(0);

    expect((await t.call('DELETE', `/api/v1/contacts/${contact.id}`, { token })).statusCode).toBe(204);
    expect((await t.call('GET', `/api/v1/contacts/${contact.id}`, { token })).statusCode).toBe(404);
    const trash = await t.call('GET', '/api/v1/contacts?trash=true', { token });
    expect(trash.json().items).toHaveLength(1);
    const restored = await t.call('POST', `/api/v1/contacts/${contact.id}/restore`, { token });
    expect(restored.statusCode).toBe(200);
  });

  it('pages with cursors in a stable order', async () => {
    for (let i = 0; i < 7; i++) await t.call('POST', '/api/v1/companies', { token, body: { name: `Paged ${i}`, industry: 'paging' } });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await t.call('GET', `/api/v1/companies?industry=paging&limit=3&sort=name${cursor ? `&cursor=${cursor}` : ''}`, { token });
      expect(res.statusCode, res.body).toBe(200);
      seen.push(...res.json().items.map((c: { name: string }) => c.name));
      cursor = res.json().nextCursor;
    } while (cursor);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `Paged ${i}`));
  });

  it('refuses unauthenticated calls and bad input with stable codes', async () => {
    expect((await t.call('GET', '/api/v1/contacts')).json().error.code).toBe('auth.unauthenticated');
    const unknown = await t.call('POST', '/api/v1/contacts', { token, body: { lastName: 'X', shoeSize: 44 } });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.code).toBe('request.invalid');
    const badUtf8 = await t.app.inject({ method: 'POST', url: '/api/v1/contacts', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: Buffer.from([0x7b, 0x22, 0x6c, 0x61, 0x73, 0x74, 0x4e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]) });
    expect(badUtf8.statusCode).toBe(400);
    expect(badUtf8.json().error.code).toBe('request.invalid_utf8');
    const nul = await t.call('POST', '/api/v1/contacts', { token, body: { lastName: 'a\u0000b' } });
    expect(nul.statusCode).toBe(400);
    const cursor = await t.call('GET', '/api/v1/contacts?cursor=notacursor', { token });
    expect(cursor.json().error.code).toBe('request.invalid_cursor');
  });
});

describe('numbers at the edge of their columns', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await createTestApp();
    ({ token } = await t.makeUser());
  });
  afterAll(async () => t.close());

  it('answers 400, not a database error, for whole numbers past 32 bits in bodies and filters', async () => {
    const res = await t.call('POST', '/api/v1/companies', { token, body: { name: 'Huge', employees: 3_000_000_000 } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.fields[0].field).toBe('employees');
    const filter = await t.call('GET', '/api/v1/companies?employees[gt]=3000000000', { token });
    expect(filter.statusCode).toBe(400);
  });
});
