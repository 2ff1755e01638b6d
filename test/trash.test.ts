import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../src/data/cursor.js';
import { newId } from '../src/shared/ids.js';
import { createTestApp, type TestApp } from './support/app.js';

describe('the trash and what hangs off a trashed record', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await createTestApp();
    ({ token } = await t.makeUser());
  });
  afterAll(async () => t.close());

  it('hides activities while their record is in the trash and brings them back with it', async () => {
    const company = (await t.call('POST', '/api/v1/companies', { token, body: { name: 'Trashable Ltd' } })).json();
    const note = (await t.call('POST', '/api/v1/activities', { token, body: { kind: 'note', subject: 'Confidential trashable remark', body: 'x', relatedType: 'companies', relatedId: company.id } })).json();
    const loose = (await t.call('POST', '/api/v1/activities', { token, body: { kind: 'note', subject: 'Unattached trashable memo' } })).json();
    const visible = async () => (await t.call('GET', '/api/v1/activities?q=trashable', { token })).json().items.map((a: { id: string }) => a.id).sort();

    expect(await visible()).toEqual([note.id, loose.id].sort());
    expect((await t.call('DELETE', `/api/v1/companies/${company.id}`, { token })).statusCode).toBe(204);

    expect(await visible()).toEqual([loose.id]);
    expect((await t.call('GET', `/api/v1/activities/${note.id}`, { token })).statusCode).toBe(404);
    expect((await t.call('GET', `/api/v1/activities?relatedId=${company.id}`, { token })).json().items).toHaveLength(0);
    expect(JSON.stringify((await t.call('GET', '/api/v1/search?q=confidential', { token })).json())).not.toContain(note.id);
    expect((await t.call('PATCH', `/api/v1/activities/${note.id}`, { token, body: { version: note.version, subject: 'changed' } })).statusCode).toBe(404);

    expect((await t.call('POST', `/api/v1/companies/${company.id}/restore`, { token })).statusCode).toBe(200);
    expect(await visible()).toEqual([note.id, loose.id].sort());
  });

  it('refuses a cursor whose sort value does not fit the column', async () => {
    const id = newId();
    for (const [sort, value] of [['employees', 'abc'], ['employees', 1e300], ['employees', 1.5], ['name', 7]] as const) {
      const res = await t.call('GET', `/api/v1/companies?sort=${sort}&cursor=${encodeCursor(sort, value, id)}`, { token });
      expect(res.statusCode, `${sort} ${value}`).toBe(400);
      expect(res.json().error.code).toBe('request.invalid_cursor');
    }
  });
});
