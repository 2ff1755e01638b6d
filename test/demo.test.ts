import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRecords, iterateRecords, listRecords } from '../src/data/record-store.js';
import { DEMO_USERS } from '../src/modules/demo/demo.data.js';
import { generateDemoData, type DemoProgress } from '../src/modules/demo/demo.service.js';
import { login } from '../src/modules/auth/auth.service.js';
import { AppError } from '../src/shared/errors.js';
import { cliContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';

const ctx = cliContext('test');

describe('sample data', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('refuses deals without a default pipeline before writing anything', async () => {
    const db = t.database.db;
    const saved = await db.selectFrom('pipelines').selectAll().execute();
    const stages = await db.selectFrom('pipeline_stages').selectAll().execute();
    await db.deleteFrom('pipeline_stages').execute();
    await db.deleteFrom('pipelines').execute();
    try {
      const error = await generateDemoData(t.deps, ctx, { sizes: { companies: 3, contacts: 3, deals: 3, activities: 0, tickets: 0 } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('pipeline.not_found');
      expect(await countRecords(t.deps, ctx, 'companies')).toBe(0);
      expect(await db.selectFrom('users').select('id').execute()).toHaveLength(0);
    } finally {
      if (saved.length > 0) await db.insertInto('pipelines').values(saved).execute();
      if (stages.length > 0) await db.insertInto('pipeline_stages').values(stages).execute();
    }
  });

  it('writes linked companies, contacts, deals, tickets and activities owned by users who cannot sign in', async () => {
    const progress: DemoProgress[] = [];
    const sizes = { companies: 30, contacts: 300, deals: 60, activities: 200, tickets: 40 };
    const result = await generateDemoData(t.deps, ctx, { sizes, batchSize: 70, seed: 7, onProgress: (p) => progress.push(p) });
    expect(result.created).toEqual(sizes);
    expect(result.users).toBe(DEMO_USERS.length);
    for (const [type, n] of Object.entries(sizes)) expect(await countRecords(t.deps, ctx, type as keyof typeof sizes)).toBe(n);
    expect(progress.filter((p) => p.stage === 'contacts').at(-1)).toEqual({ stage: 'contacts', done: 300, total: 300 });

    // Owners exist, have no password, and a sign-in attempt fails like any wrong password.
    const owners = await t.database.db.selectFrom('users').select(['id', 'email', 'password_hash', 'team_id']).where('email', 'like', '%@demo.example.com').execute();
    expect(owners).toHaveLength(DEMO_USERS.length);
    expect(owners.every((o) => o.password_hash === null && o.team_id !== null)).toBe(true);
    const signIn = await login(t.deps, { email: owners[0]!.email, password: 'any password at all 123' }, { channel: 'web', requestId: null, sourceAddress: null, userAgent: null }).catch((e: unknown) => e);
    expect((signIn as AppError).code).toBe('auth.invalid_credentials');

    const companyIds = new Set<string>();
    for await (const c of iterateRecords(t.deps, ctx, 'companies')) companyIds.add(c.id);
    const contacts: Record<string, unknown>[] = [];
    for await (const c of iterateRecords(t.deps, ctx, 'contacts')) contacts.push(c);
    const linked = contacts.filter((c) => c.companyId !== null);
    expect(linked.length).toBeGreaterThan(contacts.length * 0.7);
    expect(linked.every((c) => companyIds.has(String(c.companyId)))).toBe(true);
    expect(contacts.every((c) => typeof c.ownerId === 'string' && typeof c.email === 'string')).toBe(true);
    // Both languages appear, and the search index covers sample data.
    expect(contacts.some((c) => /\p{Script=Han}/u.test(String(c.lastName)))).toBe(true);
    expect(contacts.some((c) => /^[A-Za-z' -]+$/.test(String(c.lastName)))).toBe(true);
    const someone = contacts.find((c) => /\p{Script=Han}/u.test(String(c.lastName)))!;
    expect((await listRecords(t.deps, ctx, 'contacts', { q: String(someone.firstName) })).items.length).toBeGreaterThan(0);

    const stages = await t.database.db.selectFrom('pipeline_stages').select(['id', 'outcome']).execute();
    const outcome = new Map(stages.map((s) => [s.id, s.outcome]));
    const usedStages = new Set<string>();
    const ids: Record<string, Set<string>> = { companies: companyIds, contacts: new Set(contacts.map((c) => String(c.id))), deals: new Set(), tickets: new Set() };
    for await (const deal of iterateRecords(t.deps, ctx, 'deals')) {
      ids.deals!.add(deal.id);
      expect(deal.status).toBe(outcome.get(String(deal.stageId)));
      expect(deal.closedAt === null).toBe(deal.status === 'open');
      usedStages.add(String(deal.stageId));
    }
    expect(usedStages.size).toBeGreaterThan(2);

    const statuses = new Set<unknown>();
    for await (const ticket of iterateRecords(t.deps, ctx, 'tickets')) {
      ids.tickets!.add(ticket.id);
      statuses.add(ticket.status);
      expect(ticket.slaDueAt).not.toBeNull();
      expect(ticket.solvedAt !== null).toBe(ticket.status === 'solved' || ticket.status === 'closed');
    }
    expect(statuses.size).toBeGreaterThan(2);

    const kinds = new Set<unknown>();
    let attached = 0;
    for await (const activity of iterateRecords(t.deps, ctx, 'activities')) {
      kinds.add(activity.kind);
      if (activity.kind === 'task') expect(activity.dueAt).not.toBeNull();
      if (activity.relatedType) {
        attached += 1;
        expect(ids[String(activity.relatedType)]?.has(String(activity.relatedId))).toBe(true);
      }
    }
    expect(kinds).toEqual(new Set(['note', 'call', 'meeting', 'task', 'email']));
    expect(attached).toBe(200);
  });

  it('runs again beside earlier sample data, reusing its owners', async () => {
    const result = await generateDemoData(t.deps, ctx, { sizes: { companies: 2, contacts: 5, deals: 1, activities: 1, tickets: 1 } });
    expect(result.created.contacts).toBe(5);
    expect(await countRecords(t.deps, ctx, 'contacts')).toBe(305);
    expect(await t.database.db.selectFrom('users').select('id').where('email', 'like', '%@demo.example.com').execute()).toHaveLength(DEMO_USERS.length);
  });

  it('rejects impossible sizes', async () => {
    const error = await generateDemoData(t.deps, ctx, { sizes: { contacts: -1 } }).catch((e: unknown) => e);
    expect((error as AppError).code).toBe('request.invalid');
  });
});
