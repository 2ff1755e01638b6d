import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';

describe('custom fields', () => {
  let t: TestApp;
  let admin: string;
  let sales: string;
  beforeAll(async () => {
    t = await createTestApp();
    ({ token: admin } = await t.makeUser({ roles: ['admin'] }));
    ({ token: sales } = await t.makeUser({ roles: ['sales', 'manager'] }));
  });
  afterAll(async () => t.close());

  const define = async (body: Record<string, unknown>) => {
    const res = await t.call('POST', '/api/v1/custom-fields', { token: admin, body });
    expect(res.statusCode, res.body).toBe(201);
    return res.json();
  };
  const keys = async (): Promise<string[]> => (await t.call('GET', '/api/v1/custom-fields', { token: sales })).json().items.map((f: { recordType: string; key: string }) => `${f.recordType}.${f.key}`);

  it('defines fields that records then hold, filter by, and refuse unknown keys of', async () => {
    const tier = await define({ recordType: 'contacts', key: 'loyaltyTier', label: 'Loyalty tier', type: 'select', classification: 'internal', options: ['bronze', 'silver', 'gold'] });
    expect(tier).toMatchObject({ recordType: 'contacts', key: 'loyaltyTier', type: 'select', classification: 'internal', options: ['bronze', 'silver', 'gold'], required: false, position: 0, version: 1 });
    const hobbies = await define({ recordType: 'contacts', key: 'hobbies', label: 'Hobbies', type: 'multiselect', classification: 'personal', options: ['chess', 'golf'] });
    expect(hobbies.position).toBe(1);

    const gold = await t.call('POST', '/api/v1/contacts', { token: sales, body: { lastName: 'Gold', customFields: { loyaltyTier: 'gold', hobbies: ['golf', 'chess'] } } });
    expect(gold.statusCode, gold.body).toBe(201);
    expect(gold.json().customFields).toEqual({ loyaltyTier: 'gold', hobbies: ['chess', 'golf'] });
    await t.call('POST', '/api/v1/contacts', { token: sales, body: { lastName: 'Silver', customFields: { loyaltyTier: 'silver' } } });

    const byTier = await t.call('GET', '/api/v1/contacts?custom.loyaltyTier=gold', { token: sales });
    expect(byTier.statusCode, byTier.body).toBe(200);
    expect(byTier.json().items.map((c: { lastName: string }) => c.lastName)).toEqual(['Gold']);
    // Hobbies are personal, so sealed: a multi-select of sealed options cannot be searched by option.
    const byHobby = await t.call('GET', '/api/v1/contacts?custom.hobbies=chess', { token: sales });
    expect(byHobby.statusCode).toBe(400);
    expect(byHobby.json().error.code).toBe('request.invalid_filter');

    const count = async (): Promise<number> => (await t.call('GET', '/api/v1/contacts', { token: sales })).json().items.length;
    const before = await count();
    const unknown = await t.call('POST', '/api/v1/contacts', { token: sales, body: { lastName: 'Unknown', customFields: { shoeSize: 44 } } });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error).toMatchObject({ code: 'record.validation_failed', fields: [{ field: 'customFields.shoeSize' }] });
    const badOption = await t.call('POST', '/api/v1/contacts', { token: sales, body: { lastName: 'Platinum', customFields: { loyaltyTier: 'platinum' } } });
    expect(badOption.statusCode).toBe(400);
    expect(await count()).toBe(before);
    expect((await t.call('GET', '/api/v1/contacts?custom.shoeSize=44', { token: sales })).json().error.code).toBe('request.invalid_filter');
  });

  it('updates label, options, required and position with a version check, but keeps options in use', async () => {
    const field = await define({ recordType: 'deals', key: 'region', label: 'Region', type: 'select', classification: 'internal', options: ['north', 'south', 'east'] });
    await t.call('POST', '/api/v1/deals', { token: sales, body: { name: 'Northern', customFields: { region: 'north' } } });

    const updated = await t.call('PATCH', `/api/v1/custom-fields/${field.id}`, { token: admin, body: { version: 1, label: 'Sales region', options: ['north', 'south', 'west'], required: true, position: 7 } });
    expect(updated.statusCode, updated.body).toBe(200);
    expect(updated.json()).toMatchObject({ label: 'Sales region', options: ['north', 'south', 'west'], required: true, position: 7, version: 2 });

    const dropInUse = await t.call('PATCH', `/api/v1/custom-fields/${field.id}`, { token: admin, body: { version: 2, options: ['south', 'west'] } });
    expect(dropInUse.statusCode).toBe(400);
    expect(dropInUse.json().error.code).toBe('custom_field.invalid');
    const stale = await t.call('PATCH', `/api/v1/custom-fields/${field.id}`, { token: admin, body: { version: 1, label: 'Old' } });
    expect(stale.statusCode).toBe(409);
    const fixed = await t.call('PATCH', `/api/v1/custom-fields/${field.id}`, { token: admin, body: { version: 2, type: 'text' } });
    expect(fixed.statusCode).toBe(400);
    expect((await t.call('GET', `/api/v1/custom-fields/${field.id}`, { token: sales })).json()).toMatchObject({ version: 2, type: 'select', label: 'Sales region' });

    const missing = await t.call('POST', '/api/v1/deals', { token: sales, body: { name: 'No region' } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.fields).toEqual([{ field: 'customFields.region', message: 'is required' }]);
  });

  it('deletes a field and the values records held in it', async () => {
    const field = await define({ recordType: 'companies', key: 'vatNumber', label: 'VAT number', type: 'text', classification: 'internal' });
    const company = (await t.call('POST', '/api/v1/companies', { token: sales, body: { name: 'Taxed', customFields: { vatNumber: 'DE123' } } })).json();
    expect(company.customFields).toEqual({ vatNumber: 'DE123' });
    expect((await t.call('DELETE', `/api/v1/custom-fields/${field.id}`, { token: admin })).statusCode).toBe(204);
    expect((await t.call('GET', `/api/v1/companies/${company.id}`, { token: sales })).json().customFields).toEqual({});
    expect((await t.call('GET', `/api/v1/custom-fields/${field.id}`, { token: sales })).json().error.code).toBe('custom_field.not_found');
    const again = await define({ recordType: 'companies', key: 'vatNumber', label: 'VAT number', type: 'text', classification: 'internal' });
    expect((await t.call('GET', `/api/v1/companies/${company.id}`, { token: sales })).json().customFields).toEqual({ vatNumber: null });
    expect(again.version).toBe(1);
  });

  it('lists definitions per record type', async () => {
    await define({ recordType: 'tickets', key: 'rootCause', label: 'Root cause', type: 'text', classification: 'internal' });
    const res = await t.call('GET', '/api/v1/custom-fields?recordType=tickets', { token: sales });
    expect(res.json().items.map((f: { key: string }) => f.key)).toEqual(['rootCause']);
    expect((await t.call('GET', '/api/v1/custom-fields?recordType=planets', { token: sales })).statusCode).toBe(400);
  });

  it('refuses bad definitions with a code and writes nothing', async () => {
    await define({ recordType: 'leads', key: 'budget', label: 'Budget', type: 'number', classification: 'internal' });
    const before = await keys();
    const base = { recordType: 'leads', label: 'Label', type: 'text', classification: 'internal' };
    const cases: [Record<string, unknown>, number, string][] = [
      [{ ...base, key: 'Budget2' }, 400, 'custom_field.invalid'],
      [{ ...base, key: '9lives' }, 400, 'custom_field.invalid'],
      [{ ...base, key: 'has-dash' }, 400, 'custom_field.invalid'],
      [{ ...base, key: 'a'.repeat(65) }, 400, 'request.invalid'],
      [{ ...base, key: 'email' }, 400, 'custom_field.invalid'],
      [{ ...base, key: 'createdAt' }, 400, 'custom_field.invalid'],
      [{ ...base, key: 'tagIds' }, 400, 'custom_field.invalid'],
      [{ ...base, key: 'budget' }, 409, 'custom_field.duplicate'],
      [{ ...base, key: 'bUDGET' }, 409, 'custom_field.duplicate'],
      [{ ...base, key: 'colour', type: 'color' }, 400, 'request.invalid'],
      [{ recordType: 'leads', key: 'unclassified', label: 'Label', type: 'text' }, 400, 'request.invalid'],
      [{ ...base, key: 'secret', classification: 'secret' }, 400, 'request.invalid'],
      [{ ...base, key: 'choice', type: 'select' }, 400, 'custom_field.invalid'],
      [{ ...base, key: 'choice', type: 'select', options: [] }, 400, 'custom_field.invalid'],
      [{ ...base, key: 'choice', type: 'select', options: ['a', 'a'] }, 400, 'custom_field.invalid'],
      [{ ...base, key: 'choice', type: 'select', options: Array.from({ length: 201 }, (_, i) => `o${i}`) }, 400, 'request.invalid'],
      [{ ...base, key: 'choice', type: 'multiselect', options: ['a;b'] }, 400, 'custom_field.invalid'],
      [{ ...base, key: 'plain', options: ['a'] }, 400, 'custom_field.invalid'],
      [{ ...base, key: 'nowhere', recordType: 'users' }, 400, 'request.invalid'],
    ];
    for (const [body, status, code] of cases) {
      const res = await t.call('POST', '/api/v1/custom-fields', { token: admin, body });
      expect(res.statusCode, JSON.stringify(body).slice(0, 120)).toBe(status);
      expect(res.json().error.code, JSON.stringify(body).slice(0, 120)).toBe(code);
    }
    expect(await keys()).toEqual(before);
  });

  it('keeps changes to administrators, and every route to signed-in callers', async () => {
    const field = await define({ recordType: 'activities', key: 'outcome', label: 'Outcome', type: 'text', classification: 'internal' });
    const before = await keys();
    const create = await t.call('POST', '/api/v1/custom-fields', { token: sales, body: { recordType: 'activities', key: 'sneaky', label: 'Sneaky', type: 'text', classification: 'internal' } });
    expect(create.statusCode).toBe(403);
    expect(create.json().error.code).toBe('auth.forbidden');
    expect((await t.call('PATCH', `/api/v1/custom-fields/${field.id}`, { token: sales, body: { version: 1, label: 'Renamed' } })).statusCode).toBe(403);
    expect((await t.call('DELETE', `/api/v1/custom-fields/${field.id}`, { token: sales })).statusCode).toBe(403);
    expect(await keys()).toEqual(before);
    expect((await t.call('GET', `/api/v1/custom-fields/${field.id}`, { token: sales })).json()).toMatchObject({ label: 'Outcome', version: 1 });

    expect((await t.call('GET', '/api/v1/custom-fields')).statusCode).toBe(401);
    expect((await t.call('GET', `/api/v1/custom-fields/${field.id}`)).statusCode).toBe(401);
    expect((await t.call('POST', '/api/v1/custom-fields', { body: { recordType: 'activities', key: 'anon', label: 'Anon', type: 'text', classification: 'internal' } })).statusCode).toBe(401);
    expect((await t.call('PATCH', `/api/v1/custom-fields/${field.id}`, { body: { version: 1, label: 'Anon' } })).statusCode).toBe(401);
    expect((await t.call('DELETE', `/api/v1/custom-fields/${field.id}`)).statusCode).toBe(401);
  });
});
