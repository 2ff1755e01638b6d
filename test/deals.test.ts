import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';

interface Stage {
  id: string;
  name: string;
  outcome: string;
}

describe('deals', () => {
  let t: TestApp;
  let token: string;
  let sales: { id: string; stages: Stage[] };
  const stage = (name: string): Stage => sales.stages.find((s) => s.name === name)!;
  beforeAll(async () => {
    t = await createTestApp();
    ({ token } = await t.makeUser({ roles: ['sales'] }));
    sales = (await t.call('GET', '/api/v1/pipelines', { token })).json().items.find((p: { name: string }) => p.name === 'Sales');
  });
  afterAll(async () => t.close());

  const dealCount = async (): Promise<number> => (await t.call('GET', '/api/v1/deals?limit=200', { token })).json().items.length;

  it('goes to the first stage of the default pipeline when none is named', async () => {
    const res = await t.call('POST', '/api/v1/deals', { token, body: { name: 'Defaulted', amount: 1200.5 } });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ pipelineId: sales.id, stageId: stage('Prospecting').id, status: 'open', closedAt: null, amount: 1200.5 });
  });

  it('derives status and closedAt from the stage as the deal moves', async () => {
    const deal = (await t.call('POST', '/api/v1/deals', { token, body: { name: 'Mover', stageId: stage('Proposal').id } })).json();
    expect(deal).toMatchObject({ stageId: stage('Proposal').id, status: 'open', closedAt: null });

    const won = await t.call('PATCH', `/api/v1/deals/${deal.id}`, { token, body: { version: deal.version, stageId: stage('Won').id } });
    expect(won.statusCode, won.body).toBe(200);
    expect(won.json()).toMatchObject({ status: 'won' });
    expect(won.json().closedAt).toBe(won.json().updatedAt);

    const renamed = await t.call('PATCH', `/api/v1/deals/${deal.id}`, { token, body: { version: won.json().version, name: 'Mover (signed)' } });
    expect(renamed.json()).toMatchObject({ status: 'won', closedAt: won.json().closedAt });

    const lost = await t.call('PATCH', `/api/v1/deals/${deal.id}`, { token, body: { version: renamed.json().version, stageId: stage('Lost').id, lostReason: 'Budget cut' } });
    expect(lost.statusCode, lost.body).toBe(200);
    expect(lost.json()).toMatchObject({ status: 'lost', lostReason: 'Budget cut' });
    expect(lost.json().closedAt).not.toBeNull();

    const reopened = await t.call('PATCH', `/api/v1/deals/${deal.id}`, { token, body: { version: lost.json().version, stageId: stage('Negotiation').id } });
    expect(reopened.json()).toMatchObject({ status: 'open', closedAt: null, lostReason: null });

    const byStatus = await t.call('GET', `/api/v1/deals?status=open&stageId=${stage('Negotiation').id}`, { token });
    expect(byStatus.json().items.map((d: { id: string }) => d.id)).toContain(deal.id);
  });

  it('creates a deal straight into a closed stage closed', async () => {
    const res = await t.call('POST', '/api/v1/deals', { token, body: { name: 'Instant', stageId: stage('Lost').id, lostReason: 'No fit' } });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ status: 'lost', lostReason: 'No fit' });
    expect(res.json().closedAt).toBe(res.json().createdAt);
  });

  it('puts a deal moved to another pipeline in that pipeline\'s first stage', async () => {
    const { token: manager } = await t.makeUser({ roles: ['manager'] });
    const other = (await t.call('POST', '/api/v1/pipelines', { token: manager, body: { name: 'Other', stages: [{ name: 'Start' }, { name: 'End', outcome: 'won' }] } })).json();
    const deal = (await t.call('POST', '/api/v1/deals', { token, body: { name: 'Traveller' } })).json();
    const moved = await t.call('PATCH', `/api/v1/deals/${deal.id}`, { token, body: { version: deal.version, pipelineId: other.id } });
    expect(moved.statusCode, moved.body).toBe(200);
    expect(moved.json()).toMatchObject({ pipelineId: other.id, stageId: other.stages[0].id });

    const wrong = await t.call('PATCH', `/api/v1/deals/${deal.id}`, { token, body: { version: moved.json().version, stageId: stage('Won').id } });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error).toMatchObject({ code: 'deal.invalid_stage', fields: [{ field: 'stageId' }] });
  });

  it('refuses bad input with a code and writes nothing', async () => {
    const before = await dealCount();
    const cases: [Record<string, unknown>, string, string][] = [
      [{ name: 'Cross', pipelineId: sales.id, stageId: '0190a4f0-0000-7000-8000-000000000000' }, 'deal.invalid_stage', 'stageId'],
      [{ name: 'Ghost pipeline', pipelineId: '0190a4f0-0000-7000-8000-000000000000' }, 'record.invalid_reference', 'pipelineId'],
      [{ name: 'Early reason', lostReason: 'Too soon' }, 'record.validation_failed', 'lostReason'],
      [{ name: 'Status', status: 'won' }, 'request.invalid', 'status'],
      [{ name: 'Closed', closedAt: '2030-01-01T00:00:00Z' }, 'request.invalid', 'closedAt'],
      [{ name: 'Cents', amount: 1.234 }, 'record.validation_failed', 'amount'],
      [{ name: 'No amount', amount: null }, 'record.validation_failed', 'amount'],
      [{ name: 'No stage', stageId: null }, 'record.validation_failed', 'stageId'],
    ];
    for (const [body, code, field] of cases) {
      const res = await t.call('POST', '/api/v1/deals', { token, body });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error.code, JSON.stringify(body)).toBe(code);
      expect(res.json().error.fields?.map((f: { field: string }) => f.field), JSON.stringify(body)).toContain(field);
    }
    expect(await dealCount()).toBe(before);

    const deal = (await t.call('POST', '/api/v1/deals', { token, body: { name: 'Kept' } })).json();
    for (const body of [{ stageId: null }, { pipelineId: null }, { currency: '' }, { lostReason: 'Open deals have none' }, { status: 'lost' }]) {
      const res = await t.call('PATCH', `/api/v1/deals/${deal.id}`, { token, body: { version: deal.version, ...body } });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
    }
    const after = (await t.call('GET', `/api/v1/deals/${deal.id}`, { token })).json();
    expect(after).toMatchObject({ version: deal.version, stageId: deal.stageId, status: 'open', lostReason: null });
  });

  it('refuses callers without a token', async () => {
    expect((await t.call('POST', '/api/v1/deals', { body: { name: 'Anon' } })).statusCode).toBe(401);
    expect((await t.call('GET', '/api/v1/deals')).statusCode).toBe(401);
  });
});
