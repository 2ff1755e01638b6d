import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';

const HOUR = 3_600_000;

describe('tickets', () => {
  let t: TestApp;
  let token: string;
  beforeAll(async () => {
    t = await createTestApp();
    ({ token } = await t.makeUser({ roles: ['support'] }));
  });
  afterAll(async () => t.close());

  const create = async (body: Record<string, unknown>) => {
    const res = await t.call('POST', '/api/v1/tickets', { token, body: { subject: 'Printer on fire', ...body } });
    expect(res.statusCode, res.body).toBe(201);
    return res.json();
  };
  const hoursToDue = (ticket: { createdAt: string; slaDueAt: string }): number => (Date.parse(ticket.slaDueAt) - Date.parse(ticket.createdAt)) / HOUR;

  it('sets the SLA deadline from the priority unless one is given', async () => {
    expect(hoursToDue(await create({ priority: 'urgent' }))).toBe(4);
    expect(hoursToDue(await create({ priority: 'high' }))).toBe(8);
    expect(hoursToDue(await create({}))).toBe(24);
    expect(hoursToDue(await create({ priority: 'low' }))).toBe(72);
    expect((await create({ priority: 'urgent', slaDueAt: '2031-01-01T00:00:00Z' })).slaDueAt).toBe('2031-01-01T00:00:00.000Z');
  });

  it('stamps solvedAt and closedAt as the status moves, and clears them on reopening', async () => {
    const ticket = await create({ status: 'open' });
    expect(ticket).toMatchObject({ solvedAt: null, closedAt: null });
    const solved = (await t.call('PATCH', `/api/v1/tickets/${ticket.id}`, { token, body: { version: ticket.version, status: 'solved' } })).json();
    expect(solved.solvedAt).toBe(solved.updatedAt);
    expect(solved.closedAt).toBeNull();

    const closed = (await t.call('PATCH', `/api/v1/tickets/${ticket.id}`, { token, body: { version: solved.version, status: 'closed' } })).json();
    expect(closed).toMatchObject({ status: 'closed', solvedAt: solved.solvedAt });
    expect(closed.closedAt).toBe(closed.updatedAt);

    const unclosed = (await t.call('PATCH', `/api/v1/tickets/${ticket.id}`, { token, body: { version: closed.version, status: 'solved' } })).json();
    expect(unclosed).toMatchObject({ status: 'solved', solvedAt: solved.solvedAt, closedAt: null });

    const reopened = (await t.call('PATCH', `/api/v1/tickets/${ticket.id}`, { token, body: { version: unclosed.version, status: 'open' } })).json();
    expect(reopened).toMatchObject({ status: 'open', solvedAt: null, closedAt: null });

    const touched = (await t.call('PATCH', `/api/v1/tickets/${ticket.id}`, { token, body: { version: reopened.version, status: 'open', subject: 'Printer smoking' } })).json();
    expect(touched).toMatchObject({ status: 'open', solvedAt: null, closedAt: null, subject: 'Printer smoking' });

    const born = await create({ status: 'closed' });
    expect(born.closedAt).toBe(born.createdAt);
  });

  it('refuses bad input with a code and writes nothing', async () => {
    const count = async (): Promise<number> => (await t.call('GET', '/api/v1/tickets?limit=200', { token })).json().items.length;
    const before = await count();
    for (const body of [{ priority: 'whenever' }, { status: null }, { priority: null }, { solvedAt: '2030-01-01T00:00:00Z' }, { slaDueAt: 'soon' }]) {
      const res = await t.call('POST', '/api/v1/tickets', { token, body: { subject: 'Bad', ...body } });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error.code).toMatch(/^(request\.invalid|record\.validation_failed)$/);
    }
    expect(await count()).toBe(before);
    const ticket = await create({});
    const cleared = await t.call('PATCH', `/api/v1/tickets/${ticket.id}`, { token, body: { version: ticket.version, status: null } });
    expect(cleared.statusCode).toBe(400);
    expect((await t.call('GET', `/api/v1/tickets/${ticket.id}`, { token })).json().version).toBe(ticket.version);
    expect((await t.call('POST', '/api/v1/tickets', { body: { subject: 'Anon' } })).statusCode).toBe(401);
  });
});
