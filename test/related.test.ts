import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';

describe('related lists and the contact timeline', () => {
  let t: TestApp;
  let token: string;
  let teamId: string;
  let company: { id: string };
  let contact: { id: string; version: number; createdAt: string };
  let deal: { id: string };
  let lead: { id: string };
  let ticket: { id: string };
  const post = async (path: string, body: Record<string, unknown>) => {
    const res = await t.call('POST', path, { token, body });
    expect(res.statusCode, res.body).toBe(201);
    return res.json();
  };
  const ids = async (path: string): Promise<string[]> => {
    const res = await t.call('GET', path, { token });
    expect(res.statusCode, res.body).toBe(200);
    return res.json().items.map((r: { id: string }) => r.id);
  };

  beforeAll(async () => {
    t = await createTestApp();
    teamId = await t.makeTeam();
    ({ token } = await t.makeUser({ roles: ['sales', 'support'], teamId }));
    company = await post('/api/v1/companies', { name: 'Analytical Engines' });
    contact = await post('/api/v1/contacts', { lastName: 'Lovelace', companyId: company.id });
    deal = await post('/api/v1/deals', { name: 'Engine order', companyId: company.id, contactId: contact.id });
    lead = await post('/api/v1/leads', { lastName: 'Somerville' });
    ticket = await post('/api/v1/tickets', { subject: 'Gear jammed', companyId: company.id, contactId: contact.id });
    await post('/api/v1/contacts', { lastName: 'Elsewhere' });
    await post('/api/v1/deals', { name: 'Unrelated' });
  });
  afterAll(async () => t.close());

  it('lists the records of a company and of a contact', async () => {
    expect(await ids(`/api/v1/companies/${company.id}/contacts`)).toEqual([contact.id]);
    expect(await ids(`/api/v1/companies/${company.id}/deals`)).toEqual([deal.id]);
    expect(await ids(`/api/v1/companies/${company.id}/tickets`)).toEqual([ticket.id]);
    expect(await ids(`/api/v1/contacts/${contact.id}/deals`)).toEqual([deal.id]);
    expect(await ids(`/api/v1/contacts/${contact.id}/tickets`)).toEqual([ticket.id]);
  });

  it('lists the activities attached to each kind of record, paged and sorted', async () => {
    const parents: [string, string][] = [
      ['companies', company.id],
      ['contacts', contact.id],
      ['deals', deal.id],
      ['leads', lead.id],
      ['tickets', ticket.id],
    ];
    for (const [type, id] of parents) {
      const a = await post('/api/v1/activities', { kind: 'note', subject: `${type} first`, relatedType: type, relatedId: id });
      const b = await post('/api/v1/activities', { kind: 'note', subject: `${type} second`, relatedType: type, relatedId: id });
      expect(await ids(`/api/v1/${type}/${id}/activities`)).toEqual([b.id, a.id]);
      expect(await ids(`/api/v1/${type}/${id}/activities?sort=createdAt`)).toEqual([a.id, b.id]);
      const first = (await t.call('GET', `/api/v1/${type}/${id}/activities?limit=1`, { token })).json();
      expect(first.items.map((x: { id: string }) => x.id)).toEqual([b.id]);
      expect(await ids(`/api/v1/${type}/${id}/activities?limit=1&cursor=${first.nextCursor}`)).toEqual([a.id]);
    }
  });

  it('answers 404 for a missing or trashed parent, and refuses filters that would widen the list', async () => {
    const gone = await post('/api/v1/companies', { name: 'Gone' });
    await post('/api/v1/contacts', { lastName: 'Orphan', companyId: gone.id });
    await t.call('DELETE', `/api/v1/companies/${gone.id}`, { token });
    for (const path of [`/api/v1/companies/${gone.id}/contacts`, '/api/v1/contacts/0190a4f0-0000-7000-8000-000000000000/timeline', '/api/v1/deals/not-an-id/activities']) {
      const res = await t.call('GET', path, { token });
      expect(res.statusCode, path).toBe(404);
      expect(res.json().error.code).toBe('record.not_found');
    }
    for (const query of ['limit=x', 'cursor=bogus', 'sort=-createdAt']) {
      const res = await t.call('GET', `/api/v1/contacts/${contact.id}/timeline?${query}`, { token });
      expect(res.statusCode, query).toBe(400);
    }
    for (const query of ['companyId=0190a4f0-0000-7000-8000-000000000000', 'limit=x', 'sort=nonsense', 'cursor=bogus']) {
      const res = await t.call('GET', `/api/v1/companies/${company.id}/contacts?${query}`, { token });
      expect(res.statusCode, query).toBe(400);
    }
  });

  it('tells a contact\'s story newest first: activities, then its own creation and change', async () => {
    const person = await post('/api/v1/contacts', { lastName: 'Turing' });
    const notes: string[] = [];
    for (let i = 0; i < 3; i++) notes.push((await post('/api/v1/activities', { kind: 'call', subject: `Call ${i}`, relatedType: 'contacts', relatedId: person.id })).id);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const changed = (await t.call('PATCH', `/api/v1/contacts/${person.id}`, { token, body: { version: person.version, jobTitle: 'Mathematician' } })).json();

    const all = (await t.call('GET', `/api/v1/contacts/${person.id}/timeline`, { token })).json();
    expect(all.items.map((e: { type: string; activity: { id: string } | null }) => e.activity?.id ?? e.type)).toEqual(['updated', notes[2], notes[1], notes[0], 'created']);
    expect(all.items[0]).toMatchObject({ type: 'updated', at: changed.updatedAt, activity: null });
    expect(all.items.at(-1)).toMatchObject({ type: 'created', at: person.createdAt });
    expect(all.nextCursor).toBeNull();

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await t.call('GET', `/api/v1/contacts/${person.id}/timeline?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token });
      expect(res.statusCode, res.body).toBe(200);
      seen.push(...res.json().items.map((e: { type: string; activity: { id: string } | null }) => e.activity?.id ?? e.type));
      cursor = res.json().nextCursor;
    } while (cursor);
    expect(seen).toEqual(['updated', notes[2], notes[1], notes[0], 'created']);
  });

  it('needs a signed-in caller, and read scope on what the list shows', async () => {
    for (const path of [`/api/v1/companies/${company.id}/contacts`, `/api/v1/contacts/${contact.id}/timeline`, `/api/v1/tickets/${ticket.id}/activities`]) {
      expect((await t.call('GET', path)).statusCode, path).toBe(401);
    }
    const { token: companiesOnly } = await t.makeUser({ roles: ['sales'], teamId, scopes: ['companies:read'] });
    expect((await t.call('GET', `/api/v1/companies/${company.id}`, { token: companiesOnly })).statusCode).toBe(200);
    const leak = await t.call('GET', `/api/v1/companies/${company.id}/contacts`, { token: companiesOnly });
    expect(leak.statusCode).toBe(403);
    expect(leak.json().error.code).toBe('auth.forbidden');
    const { token: contactsOnly } = await t.makeUser({ roles: ['sales'], teamId, scopes: ['contacts:read'] });
    expect((await t.call('GET', `/api/v1/contacts/${contact.id}/timeline`, { token: contactsOnly })).statusCode).toBe(403);
  });
});
