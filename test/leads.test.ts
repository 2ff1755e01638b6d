import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';

describe('leads', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await createTestApp();
    ({ token } = await t.makeUser({ roles: ['sales'] }));
  });
  afterAll(async () => t.close());

  const makeLead = async (body: Record<string, unknown> = {}) => {
    const res = await t.call('POST', '/api/v1/leads', { token, body: { firstName: 'Grace', lastName: 'Hopper', email: `grace.${Math.random().toString(36).slice(2)}@navy.example`, companyName: 'Navy Labs', jobTitle: 'Rear Admiral', source: 'fair', ...body } });
    expect(res.statusCode, res.body).toBe(201);
    return res.json();
  };
  const ids = async (path: string): Promise<string[]> => (await t.call('GET', `${path}${path.includes('?') ? '&' : '?'}limit=200`, { token })).json().items.map((r: { id: string }) => r.id);

  it('converts a lead into a contact, a company and a deal, and links them', async () => {
    const lead = await makeLead();
    const res = await t.call('POST', `/api/v1/leads/${lead.id}/convert`, { token, body: { createDeal: true, amount: 25000 } });
    expect(res.statusCode, res.body).toBe(200);
    const { lead: converted, contact, company, deal } = res.json();
    expect(company).toMatchObject({ name: 'Navy Labs' });
    expect(contact).toMatchObject({ firstName: 'Grace', lastName: 'Hopper', email: lead.email, jobTitle: 'Rear Admiral', source: 'fair', companyId: company.id });
    expect(deal).toMatchObject({ name: 'Navy Labs', amount: 25000, companyId: company.id, contactId: contact.id, status: 'open' });
    expect(converted).toMatchObject({ status: 'converted', convertedContactId: contact.id, convertedCompanyId: company.id, convertedDealId: deal.id, version: lead.version + 1 });
    expect(converted.convertedAt).toBe(converted.updatedAt);

    const twice = await t.call('POST', `/api/v1/leads/${lead.id}/convert`, { token, body: {} });
    expect(twice.statusCode).toBe(409);
    expect(twice.json().error.code).toBe('lead.already_converted');
  });

  it('uses an existing company when named, and makes no deal unless asked', async () => {
    const company = (await t.call('POST', '/api/v1/companies', { token, body: { name: 'Existing Co' } })).json();
    const companiesBefore = await ids('/api/v1/companies');
    const lead = await makeLead();
    const res = await t.call('POST', `/api/v1/leads/${lead.id}/convert`, { token, body: { companyId: company.id } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ company: { id: company.id }, contact: { companyId: company.id }, deal: null, lead: { convertedCompanyId: company.id, convertedDealId: null } });
    expect(await ids('/api/v1/companies')).toEqual(companiesBefore);
  });

  it('writes nothing at all when any part of the conversion is refused', async () => {
    const lead = await makeLead({ companyName: 'Doomed Ltd' });
    const contactsBefore = await ids('/api/v1/contacts');
    const companiesBefore = await ids('/api/v1/companies');
    const dealsBefore = await ids('/api/v1/deals');

    // The company and the contact are written before the deal's amount is refused.
    const res = await t.call('POST', `/api/v1/leads/${lead.id}/convert`, { token, body: { createDeal: true, amount: 10.555 } });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'record.validation_failed', fields: [{ field: 'amount' }] });

    expect(await ids('/api/v1/contacts')).toEqual(contactsBefore);
    expect(await ids('/api/v1/companies')).toEqual(companiesBefore);
    expect(await ids('/api/v1/deals')).toEqual(dealsBefore);
    expect((await t.call('GET', '/api/v1/companies?name=Doomed%20Ltd', { token })).json().items).toEqual([]);
    const after = (await t.call('GET', `/api/v1/leads/${lead.id}`, { token })).json();
    expect(after).toMatchObject({ status: 'new', version: lead.version, convertedAt: null, convertedContactId: null });

    const retry = await t.call('POST', `/api/v1/leads/${lead.id}/convert`, { token, body: { createDeal: true, amount: 10.55 } });
    expect(retry.statusCode, retry.body).toBe(200);
  });

  it('refuses bad conversion requests with a code and writes nothing', async () => {
    const lead = await makeLead();
    const contactsBefore = await ids('/api/v1/contacts');
    const cases: [Record<string, unknown>, number, string][] = [
      [{ companyId: '0190a4f0-0000-7000-8000-000000000000' }, 400, 'record.invalid_reference'],
      [{ companyId: '0190a4f0-0000-7000-8000-000000000000', companyName: 'Both' }, 400, 'request.invalid'],
      [{ amount: 10 }, 400, 'request.invalid'],
      [{ createDeal: 'yes' }, 400, 'request.invalid'],
      [{ extra: true }, 400, 'request.invalid'],
    ];
    for (const [body, status, code] of cases) {
      const res = await t.call('POST', `/api/v1/leads/${lead.id}/convert`, { token, body });
      expect(res.statusCode, JSON.stringify(body)).toBe(status);
      expect(res.json().error.code, JSON.stringify(body)).toBe(code);
    }
    expect((await t.call('POST', '/api/v1/leads/0190a4f0-0000-7000-8000-000000000000/convert', { token, body: {} })).statusCode).toBe(404);
    expect((await t.call('POST', `/api/v1/leads/${lead.id}/convert`, { body: {} })).statusCode).toBe(401);
    expect(await ids('/api/v1/contacts')).toEqual(contactsBefore);
    expect((await t.call('GET', `/api/v1/leads/${lead.id}`, { token })).json().status).toBe('new');
  });

  it('lets only conversion set the converted status', async () => {
    const lead = await makeLead();
    const patch = await t.call('PATCH', `/api/v1/leads/${lead.id}`, { token, body: { version: lead.version, status: 'converted' } });
    expect(patch.statusCode).toBe(400);
    expect(patch.json().error).toMatchObject({ code: 'record.validation_failed', fields: [{ field: 'status' }] });
    const create = await t.call('POST', '/api/v1/leads', { token, body: { lastName: 'Shortcut', status: 'converted' } });
    expect(create.statusCode).toBe(400);
    expect((await t.call('GET', '/api/v1/leads?q=shortcut', { token })).json().items).toEqual([]);

    const qualified = await t.call('PATCH', `/api/v1/leads/${lead.id}`, { token, body: { version: lead.version, status: 'qualified' } });
    expect(qualified.statusCode, qualified.body).toBe(200);
    const converted = (await t.call('POST', `/api/v1/leads/${lead.id}/convert`, { token, body: {} })).json().lead;
    const reopen = await t.call('PATCH', `/api/v1/leads/${lead.id}`, { token, body: { version: converted.version, status: 'new' } });
    expect(reopen.statusCode).toBe(409);
    expect(reopen.json().error.code).toBe('lead.already_converted');
    const note = await t.call('PATCH', `/api/v1/leads/${lead.id}`, { token, body: { version: converted.version, description: 'Met at the fair' } });
    expect(note.statusCode, note.body).toBe(200);
  });

  it('needs write scopes for everything a conversion makes', async () => {
    const lead = await makeLead();
    const { token: narrow } = await t.makeUser({ roles: ['sales'], scopes: ['leads:write', 'contacts:write'] });
    const res = await t.call('POST', `/api/v1/leads/${lead.id}/convert`, { token: narrow, body: {} });
    expect(res.statusCode).toBe(403);
    const withCompany = await t.call('POST', `/api/v1/leads/${lead.id}/convert`, { token: narrow, body: { companyName: 'Scoped' } });
    expect(withCompany.statusCode).toBe(403);
    // Naming an existing company would answer it in full, so it needs read access to companies.
    const company = (await t.call('POST', '/api/v1/companies', { token, body: { name: 'Out of scope Ltd' } })).json();
    const existing = await t.call('POST', `/api/v1/leads/${lead.id}/convert`, { token: narrow, body: { companyId: company.id } });
    expect(existing.statusCode).toBe(403);
    expect(existing.body).not.toContain('Out of scope');
    expect((await t.call('GET', `/api/v1/leads/${lead.id}`, { token })).json().status).toBe('new');
  });
});
