import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';

interface Stage {
  id: string;
  name: string;
  position: number;
  probability: number;
  outcome: string;
}

describe('pipelines', () => {
  let t: TestApp;
  let admin: string;
  let manager: string;
  let sales: string;
  beforeAll(async () => {
    t = await createTestApp();
    ({ token: admin } = await t.makeUser({ roles: ['admin'] }));
    ({ token: manager } = await t.makeUser({ roles: ['manager'] }));
    ({ token: sales } = await t.makeUser({ roles: ['sales'] }));
  });
  afterAll(async () => t.close());

  const pipelineNames = async (): Promise<string[]> => (await t.call('GET', '/api/v1/pipelines', { token: admin })).json().items.map((p: { name: string }) => p.name);

  it('starts with the default Sales pipeline and its ordered stages', async () => {
    const res = await t.call('GET', '/api/v1/pipelines', { token: sales });
    expect(res.statusCode, res.body).toBe(200);
    const [sales0] = res.json().items;
    expect(sales0).toMatchObject({ name: 'Sales', isDefault: true, version: 1 });
    expect(sales0.stages.map((s: Stage) => [s.name, s.probability, s.outcome])).toEqual([
      ['Prospecting', 10, 'open'],
      ['Qualification', 25, 'open'],
      ['Proposal', 50, 'open'],
      ['Negotiation', 75, 'open'],
      ['Won', 100, 'won'],
      ['Lost', 0, 'lost'],
    ]);
    expect(sales0.stages.map((s: Stage) => s.position)).toEqual([0, 1, 2, 3, 4, 5]);
    const one = await t.call('GET', `/api/v1/pipelines/${sales0.id}`, { token: sales });
    expect(one.json()).toEqual(sales0);
  });

  it('lets a manager create, rename and restage a pipeline with a version check', async () => {
    const created = await t.call('POST', '/api/v1/pipelines', {
      token: manager,
      body: { name: 'Renewals', stages: [{ name: 'Due' }, { name: 'Renewed', outcome: 'won' }, { name: 'Churned', outcome: 'lost' }] },
    });
    expect(created.statusCode, created.body).toBe(201);
    const pipeline = created.json();
    expect(pipeline).toMatchObject({ name: 'Renewals', isDefault: false, version: 1 });
    expect(pipeline.stages.map((s: Stage) => [s.name, s.probability, s.outcome])).toEqual([
      ['Due', 0, 'open'],
      ['Renewed', 100, 'won'],
      ['Churned', 0, 'lost'],
    ]);
    const [due, renewed, churned] = pipeline.stages as Stage[];

    const updated = await t.call('PATCH', `/api/v1/pipelines/${pipeline.id}`, {
      token: manager,
      body: {
        version: 1,
        name: 'Renewals 2030',
        stages: [{ id: due!.id, name: 'Due soon', probability: 40 }, { name: 'Quoted', probability: 60 }, { id: renewed!.id, name: 'Renewed', outcome: 'won' }],
      },
    });
    expect(updated.statusCode, updated.body).toBe(200);
    expect(updated.json()).toMatchObject({ name: 'Renewals 2030', version: 2 });
    const stages = updated.json().stages as Stage[];
    expect(stages.map((s) => s.name)).toEqual(['Due soon', 'Quoted', 'Renewed']);
    expect(stages[0]!.id).toBe(due!.id);
    expect(stages.some((s) => s.id === churned!.id)).toBe(false);

    const stale = await t.call('PATCH', `/api/v1/pipelines/${pipeline.id}`, { token: manager, body: { version: 1, name: 'Late' } });
    expect(stale.statusCode).toBe(409);
    expect(stale.json().error.code).toBe('record.version_conflict');
    expect((await t.call('GET', `/api/v1/pipelines/${pipeline.id}`, { token: sales })).json().name).toBe('Renewals 2030');
  });

  it('moves the default flag to exactly one pipeline', async () => {
    const created = await t.call('POST', '/api/v1/pipelines', { token: admin, body: { name: 'Partners', stages: [{ name: 'Talking' }] } });
    const partners = created.json();
    const made = await t.call('PATCH', `/api/v1/pipelines/${partners.id}`, { token: admin, body: { version: 1, isDefault: true } });
    expect(made.statusCode, made.body).toBe(200);
    const list = (await t.call('GET', '/api/v1/pipelines', { token: admin })).json().items as { id: string; isDefault: boolean; name: string; version: number }[];
    expect(list.filter((p) => p.isDefault).map((p) => p.name)).toEqual(['Partners']);

    const unset = await t.call('PATCH', `/api/v1/pipelines/${partners.id}`, { token: admin, body: { version: 2, isDefault: false } });
    expect(unset.statusCode).toBe(400);
    const deleteDefault = await t.call('DELETE', `/api/v1/pipelines/${partners.id}`, { token: admin });
    expect(deleteDefault.statusCode).toBe(409);
    expect(deleteDefault.json().error.code).toBe('pipeline.in_use');

    const sales0 = list.find((p) => p.name === 'Sales')!;
    expect((await t.call('PATCH', `/api/v1/pipelines/${sales0.id}`, { token: admin, body: { version: sales0.version, isDefault: true } })).statusCode).toBe(200);
    expect((await t.call('DELETE', `/api/v1/pipelines/${partners.id}`, { token: admin })).statusCode).toBe(204);
    expect((await t.call('GET', `/api/v1/pipelines/${partners.id}`, { token: admin })).json().error.code).toBe('pipeline.not_found');
  });

  it('refuses to delete a pipeline or remove a stage that deals use, even deals in the trash', async () => {
    const pipeline = (await t.call('POST', '/api/v1/pipelines', { token: admin, body: { name: 'Busy', stages: [{ name: 'One' }, { name: 'Two' }, { name: 'Done', outcome: 'won' }] } })).json();
    const [one, two, done] = pipeline.stages as Stage[];
    const deal = (await t.call('POST', '/api/v1/deals', { token: sales, body: { name: 'Sticky', pipelineId: pipeline.id, stageId: two!.id } })).json();
    expect((await t.call('DELETE', `/api/v1/deals/${deal.id}`, { token: sales })).statusCode).toBe(204);

    const del = await t.call('DELETE', `/api/v1/pipelines/${pipeline.id}`, { token: admin });
    expect(del.statusCode).toBe(409);
    expect(del.json().error.code).toBe('pipeline.in_use');

    const drop = await t.call('PATCH', `/api/v1/pipelines/${pipeline.id}`, { token: admin, body: { version: 1, stages: [{ id: one!.id, name: 'One' }, { id: done!.id, name: 'Done', outcome: 'won' }] } });
    expect(drop.statusCode).toBe(409);
    expect(drop.json().error.code).toBe('pipeline.in_use');
    const flip = await t.call('PATCH', `/api/v1/pipelines/${pipeline.id}`, {
      token: admin,
      body: { version: 1, stages: [{ id: one!.id, name: 'One' }, { id: two!.id, name: 'Two', outcome: 'lost' }, { id: done!.id, name: 'Done', outcome: 'won' }] },
    });
    expect(flip.statusCode).toBe(409);
    const after = (await t.call('GET', `/api/v1/pipelines/${pipeline.id}`, { token: admin })).json();
    expect(after.version).toBe(1);
    expect(after.stages.map((s: Stage) => [s.name, s.outcome])).toEqual([['One', 'open'], ['Two', 'open'], ['Done', 'won']]);
  });

  it('answers a kanban board with counts and totals per stage and currency, live deals only', async () => {
    const pipeline = (await t.call('POST', '/api/v1/pipelines', { token: admin, body: { name: 'Board', stages: [{ name: 'Open' }, { name: 'Late' }, { name: 'Won', outcome: 'won' }] } })).json();
    const [open, late] = pipeline.stages as Stage[];
    const make = (body: Record<string, unknown>) => t.call('POST', '/api/v1/deals', { token: sales, body: { pipelineId: pipeline.id, ...body } });
    await make({ name: 'A', amount: 100.5 });
    await make({ name: 'B', amount: 200.25 });
    await make({ name: 'C', amount: 10, currency: 'EUR' });
    await make({ name: 'D', amount: 1000, stageId: late!.id });
    const trashed = (await make({ name: 'E', amount: 5000 })).json();
    await t.call('DELETE', `/api/v1/deals/${trashed.id}`, { token: sales });

    const res = await t.call('GET', `/api/v1/pipelines/${pipeline.id}/board`, { token: sales });
    expect(res.statusCode, res.body).toBe(200);
    const board = res.json();
    expect(board.pipeline.id).toBe(pipeline.id);
    expect(board.stages.map((s: { id: string; count: number; amounts: unknown }) => [s.id, s.count, s.amounts])).toEqual([
      [open!.id, 3, [{ currency: 'CNY', amount: 300.75 }, { currency: 'EUR', amount: 10 }]],
      [late!.id, 1, [{ currency: 'CNY', amount: 1000 }]],
      [pipeline.stages[2].id, 0, []],
    ]);

    const cards = await t.call('GET', `/api/v1/deals?stageId=${open!.id}&sort=name`, { token: sales });
    expect(cards.json().items.map((d: { name: string }) => d.name)).toEqual(['A', 'B', 'C']);
  });

  it('refuses bad input with a code and writes nothing', async () => {
    const before = await pipelineNames();
    const cases: unknown[] = [
      { name: 'No stages', stages: [] },
      { name: '', stages: [{ name: 'A' }] },
      { name: 'Won first', stages: [{ name: 'Won', outcome: 'won' }] },
      { name: 'Twins', stages: [{ name: 'Same' }, { name: 'same' }] },
      { name: 'Odds', stages: [{ name: 'A', probability: 101 }] },
      { name: 'Outcome', stages: [{ name: 'A', outcome: 'maybe' }] },
      { name: 'Extra', stages: [{ name: 'A' }], colour: 'red' },
      { name: 'Given id', stages: [{ id: '0190a4f0-0000-7000-8000-000000000000', name: 'A' }] },
    ];
    for (const body of cases) {
      const res = await t.call('POST', '/api/v1/pipelines', { token: admin, body });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error.code).toMatch(/^(request\.invalid|record\.validation_failed)$/);
    }
    const dup = await t.call('POST', '/api/v1/pipelines', { token: admin, body: { name: 'Sales', stages: [{ name: 'A' }] } });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('record.duplicate');
    expect(await pipelineNames()).toEqual(before);

    const sales0 = (await t.call('GET', '/api/v1/pipelines', { token: admin })).json().items.find((p: { name: string }) => p.name === 'Sales');
    for (const body of [{ name: '' }, { stages: [{ name: 'Same' }, { name: 'SAME' }] }, { stages: [] }, { stages: [{ name: 'Lost', outcome: 'lost' }] }, { colour: 'red' }]) {
      const res = await t.call('PATCH', `/api/v1/pipelines/${sales0.id}`, { token: admin, body: { version: sales0.version, ...body } });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error.code).toMatch(/^(request\.invalid|record\.validation_failed)$/);
    }
    expect((await t.call('GET', `/api/v1/pipelines/${sales0.id}`, { token: admin })).json()).toEqual(sales0);
    const foreign = await t.call('PATCH', `/api/v1/pipelines/${sales0.id}`, { token: admin, body: { version: sales0.version, stages: [{ id: '0190a4f0-0000-7000-8000-000000000000', name: 'Ghost' }] } });
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json().error.code).toBe('stage.not_found');
    expect((await t.call('GET', '/api/v1/pipelines/0190a4f0-0000-7000-8000-000000000000', { token: admin })).json().error.code).toBe('pipeline.not_found');
    expect((await t.call('GET', '/api/v1/pipelines/0190a4f0-0000-7000-8000-000000000000/board', { token: admin })).statusCode).toBe(404);
  });

  it('keeps pipelines to administrators and managers, and every route to signed-in callers', async () => {
    const before = await pipelineNames();
    const sales0 = (await t.call('GET', '/api/v1/pipelines', { token: admin })).json().items.find((p: { name: string }) => p.name === 'Sales');
    const create = await t.call('POST', '/api/v1/pipelines', { token: sales, body: { name: 'Mine', stages: [{ name: 'A' }] } });
    expect(create.statusCode).toBe(403);
    expect(create.json().error.code).toBe('auth.forbidden');
    expect((await t.call('PATCH', `/api/v1/pipelines/${sales0.id}`, { token: sales, body: { version: sales0.version, name: 'Taken' } })).statusCode).toBe(403);
    expect((await t.call('DELETE', `/api/v1/pipelines/${sales0.id}`, { token: sales })).statusCode).toBe(403);
    expect(await pipelineNames()).toEqual(before);
    expect((await t.call('GET', `/api/v1/pipelines/${sales0.id}`, { token: admin })).json().version).toBe(sales0.version);

    for (const [method, url] of [
      ['GET', '/api/v1/pipelines'],
      ['POST', '/api/v1/pipelines'],
      ['GET', `/api/v1/pipelines/${sales0.id}`],
      ['PATCH', `/api/v1/pipelines/${sales0.id}`],
      ['DELETE', `/api/v1/pipelines/${sales0.id}`],
      ['GET', `/api/v1/pipelines/${sales0.id}/board`],
    ] as const) {
      const body = method === 'POST' ? { name: 'Anon', stages: [{ name: 'A' }] } : method === 'PATCH' ? { version: 1, name: 'Anon' } : undefined;
      const res = await t.call(method, url, body ? { body } : {});
      expect(res.statusCode, `${method} ${url}`).toBe(401);
    }
  });

  it('does not show deal totals to a token without deals:read', async () => {
    const { token } = await t.makeUser({ roles: ['sales'], scopes: ['pipelines:read'] });
    const sales0 = (await t.call('GET', '/api/v1/pipelines', { token })).json().items.find((p: { name: string }) => p.name === 'Sales');
    const board = await t.call('GET', `/api/v1/pipelines/${sales0.id}/board`, { token });
    expect(board.statusCode).toBe(403);
  });
});
