import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';

describe('global search', () => {
  let t: TestApp;
  let token: string;
  let teamId: string;
  beforeAll(async () => {
    t = await createTestApp();
    teamId = await t.makeTeam();
    ({ token } = await t.makeUser({ roles: ['sales', 'support'], teamId }));
    const post = (path: string, body: Record<string, unknown>) => t.call('POST', path, { token, body });
    await post('/api/v1/companies', { name: 'Zephyr Widgets', domain: 'zephyr.example' });
    await post('/api/v1/contacts', { firstName: 'Zoe', lastName: 'Zephyr', email: 'zoe@zephyr.example' });
    await post('/api/v1/leads', { lastName: 'Breeze', companyName: 'Zephyrine Air' });
    await post('/api/v1/deals', { name: 'Zephyr rollout', amount: 99 });
    await post('/api/v1/activities', { kind: 'call', subject: 'Zephyr kickoff' });
    await post('/api/v1/tickets', { subject: 'Zephyr login broken', priority: 'high' });
    await post('/api/v1/companies', { name: 'Unrelated Ltd' });
  });
  afterAll(async () => t.close());

  it('finds hits in every record type with a title and subtitle', async () => {
    const res = await t.call('GET', '/api/v1/search?q=zephyr', { token });
    expect(res.statusCode, res.body).toBe(200);
    const hits = res.json().items as { type: string; id: string; title: string; subtitle: string | null }[];
    expect(hits.map((h) => h.type).sort()).toEqual(['activities', 'companies', 'contacts', 'deals', 'leads', 'tickets']);
    expect(hits.find((h) => h.type === 'companies')).toMatchObject({ title: 'Zephyr Widgets', subtitle: 'zephyr.example' });
    expect(hits.find((h) => h.type === 'contacts')).toMatchObject({ title: 'Zoe Zephyr', subtitle: 'zoe@zephyr.example' });
    expect(hits.find((h) => h.type === 'leads')).toMatchObject({ title: 'Breeze', subtitle: 'Zephyrine Air' });
    expect(hits.find((h) => h.type === 'deals')).toMatchObject({ title: 'Zephyr rollout', subtitle: 'open · 99 CNY' });
    expect(hits.find((h) => h.type === 'tickets')).toMatchObject({ title: 'Zephyr login broken', subtitle: 'new · high' });
    expect(Object.keys(hits[0]!).sort()).toEqual(['id', 'subtitle', 'title', 'type']);

    const two = await t.call('GET', '/api/v1/search?q=zephyr&limit=2', { token });
    expect(two.json().items.map((h: { type: string }) => h.type)).toEqual(['companies', 'contacts']);
    expect((await t.call('GET', '/api/v1/search?q=nothingmatches', { token })).json().items).toEqual([]);
  });

  it('searches only the types a token may read', async () => {
    const { token: narrow } = await t.makeUser({ roles: ['sales'], teamId, scopes: ['search:read', 'deals:read'] });
    const res = await t.call('GET', '/api/v1/search?q=zephyr', { token: narrow });
    expect(res.json().items.map((h: { type: string }) => h.type)).toEqual(['deals']);
    const { token: none } = await t.makeUser({ roles: ['sales'], scopes: ['deals:read'] });
    expect((await t.call('GET', '/api/v1/search?q=zephyr', { token: none })).statusCode).toBe(403);
  });

  it('refuses bad queries and callers without a token', async () => {
    for (const query of ['', 'q=', `q=${'x'.repeat(201)}`, 'q=a&limit=0', 'q=a&limit=51', 'q=a&limit=x', 'q=a&type=deals']) {
      const res = await t.call('GET', `/api/v1/search?${query}`, { token });
      expect(res.statusCode, query).toBe(400);
      expect(res.json().error.code, query).toBe('request.invalid');
    }
    expect((await t.call('GET', '/api/v1/search?q=zephyr')).statusCode).toBe(401);
  });
});
