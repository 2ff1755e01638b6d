import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';

interface Stage {
  id: string;
  name: string;
}

interface Figures {
  pipeline: { id: string; name: string; stages: { stageId: string; name: string; count: number; amounts: { currency: string; amount: number }[] }[] } | null;
  dealOutcomes: { month: string; won: number; lost: number }[] | null;
  ticketsByStatus: { value: string; count: number }[] | null;
  ticketsByPriority: { value: string; count: number }[] | null;
  activitiesByUser: { userId: string; name: string; count: number }[] | null;
}

describe('GET /api/v1/dashboard: totals over the records the caller may read', () => {
  let t: TestApp;
  let admin: string;
  let salesA: { id: string; token: string };
  let salesB: { id: string; token: string };
  let stages: Stage[];
  const stage = (name: string) => stages.find((s) => s.name === name)!;
  const thisMonth = new Date().toISOString().slice(0, 7);

  const figures = async (token: string, query = ''): Promise<Figures> => {
    const res = await t.call('GET', `/api/v1/dashboard${query}`, { token });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };
  const create = async (token: string, type: string, body: Record<string, unknown>) => {
    const res = await t.call('POST', `/api/v1/${type}`, { token, body });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: string };
  };

  beforeAll(async () => {
    t = await createTestApp();
    admin = (await t.makeUser({ roles: ['admin'] })).token;
    const teamA = await t.makeTeam('Team A');
    const teamB = await t.makeTeam('Team B');
    const a = await t.makeUser({ roles: ['sales'], teamId: teamA, name: 'Ada Seller' });
    const b = await t.makeUser({ roles: ['sales'], teamId: teamB, name: 'Bo Seller' });
    salesA = { id: a.user.id, token: a.token };
    salesB = { id: b.user.id, token: b.token };
    const supportA = (await t.makeUser({ roles: ['support'], teamId: teamA })).token;
    const supportB = (await t.makeUser({ roles: ['support'], teamId: teamB })).token;
    stages = (await t.call('GET', '/api/v1/pipelines', { token: admin })).json().items.find((p: { isDefault: boolean }) => p.isDefault).stages;

    // Team A: 150 USD in Prospecting, one deal won. Team B: 1000 USD and 70 CNY in Prospecting, one lost.
    const dealA = await create(salesA.token, 'deals', { name: 'A1', amount: 100, currency: 'USD' });
    await create(salesA.token, 'deals', { name: 'A2', amount: 50, currency: 'USD' });
    await create(salesA.token, 'deals', { name: 'A3', amount: 400, currency: 'USD', stageId: stage('Won').id });
    await create(salesB.token, 'deals', { name: 'B1', amount: 1000, currency: 'USD' });
    await create(salesB.token, 'deals', { name: 'B2', amount: 70, currency: 'CNY' });
    await create(salesB.token, 'deals', { name: 'B3', amount: 5, currency: 'USD', stageId: stage('Lost').id });
    for (let i = 0; i < 2; i++) await create(salesA.token, 'activities', { kind: 'call', subject: `Call ${i}`, relatedType: 'deals', relatedId: dealA.id });
    for (let i = 0; i < 3; i++) await create(salesB.token, 'activities', { kind: 'note', subject: `Note ${i}` });
    await create(supportA, 'tickets', { subject: 'Printer', priority: 'high' });
    await create(supportB, 'tickets', { subject: 'Login', priority: 'urgent' });
    await create(supportB, 'tickets', { subject: 'Invoice', priority: 'urgent', status: 'open' });
  });
  afterAll(async () => t.close());

  it("shows a sales user of team A only team A's figures", async () => {
    const view = await figures(salesA.token);
    const prospecting = view.pipeline!.stages.find((s) => s.stageId === stage('Prospecting').id)!;
    expect(prospecting).toMatchObject({ name: 'Prospecting', count: 2, amounts: [{ currency: 'USD', amount: 150 }] });
    expect(view.pipeline!.stages.find((s) => s.stageId === stage('Won').id)).toMatchObject({ count: 1, amounts: [{ currency: 'USD', amount: 400 }] });
    expect(view.pipeline!.stages.map((s) => s.name)).toEqual(stages.map((s) => s.name));
    expect(view.dealOutcomes).toHaveLength(12);
    expect(view.dealOutcomes!.at(-1)).toEqual({ month: thisMonth, won: 1, lost: 0 });
    expect(view.dealOutcomes!.slice(0, -1).every((m) => m.won === 0 && m.lost === 0)).toBe(true);
    expect(view.ticketsByPriority!.find((p) => p.value === 'high')!.count).toBe(1);
    expect(view.ticketsByPriority!.find((p) => p.value === 'urgent')!.count).toBe(0);
    expect(view.ticketsByStatus!.reduce((n, s) => n + s.count, 0)).toBe(1);
    expect(view.activitiesByUser).toEqual([{ userId: salesA.id, name: 'Ada Seller', count: 2 }]);
  });

  it('shows the administrator every record, with amounts per currency', async () => {
    const view = await figures(admin);
    expect(view.pipeline!.stages.find((s) => s.stageId === stage('Prospecting').id)).toMatchObject({
      count: 4,
      amounts: [
        { currency: 'USD', amount: 1150 },
        { currency: 'CNY', amount: 70 },
      ],
    });
    expect(view.dealOutcomes!.at(-1)).toEqual({ month: thisMonth, won: 1, lost: 1 });
    expect(view.ticketsByStatus!.map((s) => s.value)).toEqual(['new', 'open', 'pending', 'solved', 'closed']);
    expect(view.ticketsByStatus!.find((s) => s.value === 'open')!.count).toBe(1);
    expect(view.ticketsByPriority!.find((p) => p.value === 'urgent')!.count).toBe(2);
    expect(view.activitiesByUser).toEqual([
      { userId: salesB.id, name: 'Bo Seller', count: 3 },
      { userId: salesA.id, name: 'Ada Seller', count: 2 },
    ]);
  });

  it('leaves out records in the trash and activities on a trashed record', async () => {
    const deal = await create(salesA.token, 'deals', { name: 'Trashed', amount: 9, currency: 'USD' });
    await create(salesA.token, 'activities', { kind: 'call', subject: 'On the trashed deal', relatedType: 'deals', relatedId: deal.id });
    expect((await t.call('DELETE', `/api/v1/deals/${deal.id}`, { token: salesA.token })).statusCode).toBe(204);
    const view = await figures(salesA.token);
    expect(view.pipeline!.stages.find((s) => s.stageId === stage('Prospecting').id)!.count).toBe(2);
    expect(view.activitiesByUser).toEqual([{ userId: salesA.id, name: 'Ada Seller', count: 2 }]);
  });

  it('gives a user with no access to deals no deal figures, and still the rest', async () => {
    const support = await t.makeUser({ roles: ['support'], teamId: null });
    const view = await figures(support.token);
    expect(view.pipeline).toBeNull();
    expect(view.dealOutcomes).toBeNull();
    expect(view.ticketsByStatus).not.toBeNull();
    expect(view.activitiesByUser).toEqual([]);

    const marketing = await figures((await t.makeUser({ roles: ['marketing'] })).token);
    expect(marketing).toMatchObject({ pipeline: null, dealOutcomes: null, ticketsByStatus: null, ticketsByPriority: null, activitiesByUser: null });
  });

  it("leaves out a figure whose field the caller's roles hide", async () => {
    const role = await t.call('POST', '/api/v1/roles', {
      token: admin,
      body: { id: 'no_amounts', name: 'No amounts', definition: { records: { deals: { actions: { read: 'all' }, fields: { amount: 'hidden' } } }, permissions: [] } },
    });
    expect(role.statusCode, role.body).toBe(201);
    const view = await figures((await t.makeUser({ roles: ['no_amounts'] })).token);
    expect(view.pipeline).toBeNull();
    expect(view.dealOutcomes!.at(-1)).toEqual({ month: thisMonth, won: 1, lost: 1 });
  });

  it("follows a token's scopes: a read-only token sees the figures, a token for other resources nothing", async () => {
    const reader = await figures((await t.makeUser({ roles: ['admin'], scopes: ['*:read'] })).token);
    expect(reader.ticketsByPriority!.find((p) => p.value === 'urgent')!.count).toBe(2);
    expect(reader.dealOutcomes!.at(-1)).toEqual({ month: thisMonth, won: 1, lost: 1 });
    const { token } = await t.makeUser({ roles: ['admin'], scopes: ['tickets:read'] });
    const refused = await t.call('GET', '/api/v1/dashboard', { token });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).not.toHaveProperty('pipeline');
  });

  it('takes a pipeline by id, and refuses one that does not exist', async () => {
    const other = await t.call('POST', '/api/v1/pipelines', { token: admin, body: { name: 'Renewals', stages: [{ name: 'Due' }, { name: 'Renewed', outcome: 'won' }] } });
    expect(other.statusCode, other.body).toBe(201);
    const view = await figures(salesA.token, `?pipelineId=${other.json().id}`);
    expect(view.pipeline).toMatchObject({ name: 'Renewals', stages: [{ name: 'Due', count: 0, amounts: [] }, { name: 'Renewed', count: 0 }] });
    const missing = await t.call('GET', '/api/v1/dashboard?pipelineId=0190a5a0-0000-7000-8000-000000000000', { token: salesA.token });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('pipeline.not_found');
  });

  it('answers nothing without credentials', async () => {
    const res = await t.call('GET', '/api/v1/dashboard');
    expect(res.statusCode).toBe(401);
    expect(res.json()).not.toHaveProperty('pipeline');
  });
});
