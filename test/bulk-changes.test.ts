import type { Kysely } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { testDialect } from './support/database.js';
import { signInFully } from './support/sign-in.js';
import { TrashRetention } from '../src/modules/trash/trash.job.js';

type Maker = Awaited<ReturnType<TestApp['makeUser']>>;

describe(`bulk delete and bulk update, with approval above the threshold, on ${testDialect}`, () => {
  let t: TestApp;
  let db: Kysely<any>;
  let manager: Maker;
  let approver: { cookie: string; 'x-csrf-token': string };
  beforeAll(async () => {
    // Three records at once run; a fourth needs approval.
    t = await createTestApp({ RAMPART_BULK_APPROVAL_RECORDS: '3', RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000' });
    db = t.database.db as unknown as Kysely<any>;
    manager = await t.makeUser({ roles: ['manager'], teamId: await t.makeTeam() });
    const admin = await t.makeUser({ roles: ['admin'] });
    const session = await signInFully(t, admin.user.email, admin.password);
    approver = { cookie: session.cookie, 'x-csrf-token': session.csrf };
  });
  afterAll(async () => t.close());
  // Each test starts with a fresh hourly allowance (the hourly count has its own tests below).
  beforeEach(async () => {
    await db.deleteFrom('bulk_tallies').execute();
  });

  const contacts = async (n: number, by: Maker = manager) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const res = await t.call('POST', '/api/v1/contacts', { token: by.token, body: { lastName: `Bulk ${i}`, email: `bulk${i}.${Date.now()}@example.com`, city: 'Lyon' } });
      expect(res.statusCode, res.body).toBe(201);
      ids.push(res.json().id);
    }
    return ids;
  };
  const rows = (ids: string[]) => db.selectFrom('contacts').select(['id', 'version', 'city', 'owner_id', 'deleted_at']).where('id', 'in', ids).orderBy('id').execute();
  const entries = (action: string) => db.selectFrom('audit_entries').select(['record_ids', 'fields', 'details']).where('action', '=', action).orderBy('seq').execute();
  const count = async (action: string) => (await entries(action)).length;
  const stored = (approvalId: string) => db.selectFrom('bulk_requests').selectAll().where('approval_id', '=', approvalId).executeTakeFirst();

  it('deletes and updates up to the threshold at once, each record audited as one change, plus one bulk entry', async () => {
    const ids = await contacts(3);
    const reads = await count('record.read');
    const updated = await t.call('POST', '/api/v1/contacts/bulk-update', { token: manager.token, body: { ids, changes: { city: 'Paris', lifecycleStage: 'customer' } } });
    expect(updated.statusCode, updated.body).toBe(200);
    expect(updated.json()).toEqual({ updated: 3 });
    expect((await rows(ids)).map((r: any) => [r.city, r.version])).toEqual([['Paris', 2], ['Paris', 2], ['Paris', 2]]);
    const changes = (await entries('record.update')).filter((e: any) => ids.includes(JSON.parse(e.record_ids)[0]));
    expect(changes.map((e: any) => JSON.parse(e.fields).sort())).toEqual([['city', 'lifecycleStage'], ['city', 'lifecycleStage'], ['city', 'lifecycleStage']]);
    const bulk = (await entries('record.bulk_update')).at(-1)!;
    expect([JSON.parse(bulk.fields), JSON.parse(bulk.details)]).toEqual([['city', 'lifecycleStage'], { count: 3, approvalId: null }]);
    expect(bulk.details).not.toContain('Paris');
    // The caller saw a count, so no record was read.
    expect(await count('record.read')).toBe(reads);
    await db.deleteFrom('bulk_tallies').execute();

    const deleted = await t.call('POST', '/api/v1/contacts/bulk-delete', { token: manager.token, body: { ids: ids.slice(0, 2) } });
    expect(deleted.statusCode, deleted.body).toBe(200);
    expect(deleted.json()).toEqual({ deleted: 2 });
    const trashed = new Map((await rows(ids)).map((r: any) => [r.id, r.deleted_at !== null]));
    expect(ids.map((id) => trashed.get(id))).toEqual([true, true, false]);
    expect((await entries('record.delete')).filter((e: any) => ids.includes(JSON.parse(e.record_ids)[0]))).toHaveLength(2);
    expect(JSON.parse((await entries('record.bulk_delete')).at(-1)!.details)).toEqual({ count: 2, approvalId: null });
    // Deleting them again refuses the batch: they are in the trash.
    const again = await t.call('POST', '/api/v1/contacts/bulk-delete', { token: manager.token, body: { ids: [ids[2], ids[0]] } });
    expect(again.statusCode).toBe(404);
    expect(again.json().error).toMatchObject({ code: 'record.not_found', fields: [{ field: 'ids.1' }] });
    expect((await rows([ids[2]!]))[0]!.deleted_at).toBeNull();
  });

  it('follows each type\'s own rules: deals moved to a won stage close', async () => {
    const pipeline = (await t.call('GET', '/api/v1/pipelines', { token: manager.token })).json().items[0];
    const won = pipeline.stages.find((s: { outcome: string }) => s.outcome === 'won');
    const deals: string[] = [];
    for (let i = 0; i < 2; i++) deals.push((await t.call('POST', '/api/v1/deals', { token: manager.token, body: { name: `Deal ${i}`, amount: 1000 } })).json().id);
    const res = await t.call('POST', '/api/v1/deals/bulk-update', { token: manager.token, body: { ids: deals, changes: { stageId: won.id } } });
    expect(res.statusCode, res.body).toBe(200);
    for (const id of deals) expect((await t.call('GET', `/api/v1/deals/${id}`, { token: manager.token })).json()).toMatchObject({ status: 'won', stageId: won.id, closedAt: expect.any(String) });
  });

  it('asks for approval above the threshold, runs once approved by someone else, and refuses a changed or reused approval', async () => {
    const ids = await contacts(4);
    const body = { ids, changes: { city: 'Berlin' }, reason: 'Office moved' };
    const before = JSON.stringify(await rows(ids));

    // Without a reason the caller learns that approval is needed, and nothing is asked for or kept.
    const approvalsBefore = await db.selectFrom('approval_requests').select('id').execute();
    for (const reason of [undefined, '   ']) {
      const noReason = await t.call('POST', '/api/v1/contacts/bulk-update', { token: manager.token, body: { ids, changes: { city: 'Berlin' }, ...(reason === undefined ? {} : { reason }) } });
      expect(noReason.statusCode, noReason.body).toBe(409);
      expect(noReason.json().error).toMatchObject({ code: 'bulk.approval_required', message: expect.stringContaining('More than 3 records at once'), fields: [{ field: 'reason' }] });
    }
    const noReasonDelete = await t.call('POST', '/api/v1/contacts/bulk-delete', { token: manager.token, body: { ids } });
    expect(noReasonDelete.json().error.code).toBe('bulk.approval_required');
    expect(await db.selectFrom('approval_requests').select('id').execute()).toEqual(approvalsBefore);
    const asked = await t.call('POST', '/api/v1/contacts/bulk-update', { token: manager.token, body });
    expect(asked.statusCode, asked.body).toBe(202);
    const approval = asked.json().approval;
    expect(approval).toMatchObject({ kind: 'bulk_update', status: 'pending', recordCount: 4, summary: { type: 'contacts', records: 4, fields: ['city'] }, requestedBy: { id: manager.user.id } });
    expect(JSON.stringify(await rows(ids))).toBe(before);
    expect(JSON.stringify(await entries('approval.requested'))).not.toContain('Berlin');

    // Not yet approved.
    const early = await t.call('POST', '/api/v1/contacts/bulk-update', { token: manager.token, body: { ...body, approvalId: approval.id } });
    expect(early.statusCode).toBe(409);
    expect(early.json().error.code).toBe('approval.not_pending');

    // The requester cannot approve it; another person with a recent second factor can.
    expect((await t.call('POST', `/api/v1/approvals/${approval.id}/approve`, { token: manager.token, body: {} })).statusCode).toBe(403);
    const approved = await t.call('POST', `/api/v1/approvals/${approval.id}/approve`, { headers: approver, body: { note: 'ok' } });
    expect(approved.statusCode, approved.body).toBe(200);

    // What runs must be what was approved: other changes, or other records, are refused.
    for (const other of [{ ...body, changes: { city: 'Munich' } }, { ...body, ids: [...ids.slice(0, 3), (await contacts(1))[0]] }]) {
      const mismatch = await t.call('POST', '/api/v1/contacts/bulk-update', { token: manager.token, body: { ...other, approvalId: approval.id } });
      expect(mismatch.statusCode, mismatch.body).toBe(409);
      expect(mismatch.json().error.code).toBe('approval.mismatch');
    }
    const asDelete = await t.call('POST', '/api/v1/contacts/bulk-delete', { token: manager.token, body: { ids, approvalId: approval.id } });
    expect(asDelete.json().error.code).toBe('approval.mismatch');
    expect(JSON.stringify(await rows(ids))).toBe(before);

    // The same batch in another order is the same batch.
    const run = await t.call('POST', '/api/v1/contacts/bulk-update', { token: manager.token, body: { ...body, ids: [...ids].reverse(), approvalId: approval.id } });
    expect(run.statusCode, run.body).toBe(200);
    expect(run.json()).toEqual({ updated: 4 });
    expect((await rows(ids)).every((r: any) => r.city === 'Berlin')).toBe(true);
    expect(JSON.parse((await entries('record.bulk_update')).at(-1)!.details)).toEqual({ count: 4, approvalId: approval.id });
    expect((await t.call('GET', `/api/v1/approvals/${approval.id}`, { token: manager.token })).json().status).toBe('used');
    // The batch kept for the approval went with it.
    expect(await stored(approval.id)).toBeUndefined();

    const reused = await t.call('POST', '/api/v1/contacts/bulk-update', { token: manager.token, body: { ...body, approvalId: approval.id } });
    expect(reused.statusCode).toBe(409);
    expect(reused.json().error.code).toBe('approval.not_pending');
    expect((await rows(ids)).every((r: any) => r.version === 2)).toBe(true);
  });

  it('runs an approved bulk delete, and only for its requester', async () => {
    const ids = await contacts(5);
    const asked = await t.call('POST', '/api/v1/contacts/bulk-delete', { token: manager.token, body: { ids, reason: 'Duplicates from the fair' } });
    expect(asked.statusCode, asked.body).toBe(202);
    const approval = asked.json().approval;
    expect(approval.summary).toEqual({ type: 'contacts', records: 5, fields: [] });
    expect((await t.call('POST', `/api/v1/approvals/${approval.id}/approve`, { headers: approver, body: {} })).statusCode).toBe(200);
    const colleague = await t.makeUser({ roles: ['admin'] });
    const stolen = await t.call('POST', '/api/v1/contacts/bulk-delete', { token: colleague.token, body: { ids, approvalId: approval.id } });
    expect(stolen.json().error.code).toBe('approval.not_found');
    const run = await t.call('POST', '/api/v1/contacts/bulk-delete', { token: manager.token, body: { ids, approvalId: approval.id } });
    expect(run.statusCode, run.body).toBe(200);
    expect(run.json()).toEqual({ deleted: 5 });
    expect((await rows(ids)).every((r: any) => r.deleted_at !== null)).toBe(true);
  });

  it('refuses the whole batch, writing nothing, when one record is out of scope, missing or the changes are invalid', async () => {
    // Below the manager's team, so the manager may assign records into it.
    const team = await t.makeTeam(undefined, manager.user.teamId);
    const seller = await t.makeUser({ roles: ['sales'], teamId: team });
    const colleague = await t.makeUser({ roles: ['sales'], teamId: team });
    const mine = await contacts(2, seller);
    const [theirs] = await contacts(1, colleague);
    const [elsewhere] = await contacts(1, manager);
    const all = [...mine, theirs!, elsewhere!];
    const snapshot = async () => JSON.stringify([await rows(all), await count('record.update'), await count('record.delete'), await count('record.bulk_update'), await count('record.bulk_delete')]);
    const before = await snapshot();

    // A colleague's record can be read but not deleted by a seller: forbidden, named.
    const forbidden = await t.call('POST', '/api/v1/contacts/bulk-delete', { token: seller.token, body: { ids: [...mine, theirs] } });
    expect(forbidden.statusCode, forbidden.body).toBe(403);
    expect(forbidden.json().error).toMatchObject({ code: 'auth.forbidden', fields: [{ field: 'ids.2' }] });
    const forbiddenUpdate = await t.call('POST', '/api/v1/contacts/bulk-update', { token: seller.token, body: { ids: [...mine, theirs], changes: { city: 'Nice' } } });
    expect(forbiddenUpdate.statusCode).toBe(403);
    // Another team's record is out of sight: as if it did not exist.
    const hidden = await t.call('POST', '/api/v1/contacts/bulk-update', { token: seller.token, body: { ids: [...mine, elsewhere], changes: { city: 'Nice' } } });
    expect(hidden.statusCode, hidden.body).toBe(404);
    expect(hidden.json().error).toMatchObject({ code: 'record.not_found', fields: [{ field: 'ids.2' }] });
    const missing = await t.call('POST', '/api/v1/contacts/bulk-delete', { token: seller.token, body: { ids: [...mine, '0190f000-0000-7000-8000-000000000009'] } });
    expect(missing.statusCode).toBe(404);
    // Invalid or unwritable changes, and malformed batches.
    const invalid = await t.call('POST', '/api/v1/contacts/bulk-update', { token: seller.token, body: { ids: mine, changes: { lifecycleStage: 'nonsense' } } });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error.code).toBe('record.validation_failed');
    const unknownField = await t.call('POST', '/api/v1/contacts/bulk-update', { token: seller.token, body: { ids: mine, changes: { version: 3 } } });
    expect(unknownField.statusCode).toBe(400);
    const masked = await t.call('POST', '/api/v1/contacts/bulk-update', { token: seller.token, body: { ids: mine, changes: { idNumber: '110101199003077777' } } });
    expect(masked.statusCode).toBe(403);
    const reassign = await t.call('POST', '/api/v1/contacts/bulk-update', { token: seller.token, body: { ids: mine, changes: { ownerId: colleague.user.id } } });
    expect(reassign.statusCode, reassign.body).toBe(403);
    expect((await t.call('POST', '/api/v1/contacts/bulk-delete', { token: seller.token, body: { ids: [mine[0], mine[0]] } })).statusCode).toBe(400);
    expect((await t.call('POST', '/api/v1/contacts/bulk-delete', { token: seller.token, body: { ids: [] } })).statusCode).toBe(400);
    expect((await t.call('POST', '/api/v1/contacts/bulk-update', { token: seller.token, body: { ids: mine, changes: {} } })).statusCode).toBe(400);
    expect(await snapshot()).toBe(before);
    // A refused batch counts nothing towards the hourly allowance.
    expect(await db.selectFrom('bulk_tallies').selectAll().where('user_id', '=', seller.user.id).execute()).toEqual([]);

    // A reassignment the manager may make goes through, records and all.
    const moved = await t.call('POST', '/api/v1/contacts/bulk-update', { token: manager.token, body: { ids: [elsewhere], changes: { ownerId: seller.user.id, teamId: team } } });
    expect(moved.statusCode, moved.body).toBe(200);
    expect((await rows([elsewhere!]))[0]!.owner_id).toBe(seller.user.id);
  });

  it('keeps an update that waits for approval with its changes sealed, lists it to its requester only, and runs it from the approval alone', async () => {
    const ids = await contacts(4);
    const asked = await t.call('POST', '/api/v1/contacts/bulk-update', { token: manager.token, body: { ids, changes: { address: '12 Rue Secrète', city: 'Nantes' }, reason: 'New office' } });
    expect(asked.statusCode, asked.body).toBe(202);
    const approval = asked.json().approval;
    const row = (await stored(approval.id))!;
    expect(row).toMatchObject({ requested_by: manager.user.id, kind: 'bulk_update', type: 'contacts' });
    expect(Number(row.record_count)).toBe(4);
    expect([JSON.parse(row.ids), JSON.parse(row.fields)]).toEqual([ids, ['address', 'city']]);
    // A personal value never lies in the table in clear.
    expect(row.changes).toMatch(/^e1\.[0-9]+\./);
    expect(JSON.stringify(row)).not.toMatch(/Secrète|Nantes/);

    const mine = await t.call('GET', '/api/v1/bulk-changes', { token: manager.token });
    expect(mine.statusCode, mine.body).toBe(200);
    expect(mine.json().items.find((i: { approvalId: string }) => i.approvalId === approval.id)).toEqual({
      approvalId: approval.id, kind: 'bulk_update', type: 'contacts', records: 4, fields: ['address', 'city'], status: 'pending', requestedAt: approval.requestedAt, expiresAt: approval.expiresAt,
    });
    expect(mine.body).not.toMatch(/Secrète|Nantes/);
    const approvedOnly = (await t.call('GET', '/api/v1/bulk-changes?status=approved', { token: manager.token })).json().items.map((i: { approvalId: string }) => i.approvalId);
    expect(approvedOnly).not.toContain(approval.id);
    expect((await t.call('GET', '/api/v1/bulk-changes?status=used', { token: manager.token })).statusCode).toBe(400);
    const colleague = await t.makeUser({ roles: ['manager'], teamId: manager.user.teamId });
    expect((await t.call('GET', '/api/v1/bulk-changes', { token: colleague.token })).json()).toEqual({ items: [], nextCursor: null });

    const before = JSON.stringify(await rows(ids));
    const early = await t.call('POST', `/api/v1/bulk-changes/${approval.id}/run`, { token: manager.token });
    expect(early.statusCode, early.body).toBe(409);
    expect(early.json().error.code).toBe('approval.not_pending');
    expect(await stored(approval.id)).toBeDefined();
    expect((await t.call('POST', `/api/v1/approvals/${approval.id}/approve`, { headers: approver, body: {} })).statusCode).toBe(200);
    expect((await t.call('GET', '/api/v1/bulk-changes?status=approved', { token: manager.token })).json().items.map((i: { approvalId: string }) => i.approvalId)).toContain(approval.id);

    // Only its requester runs it; to anyone else it does not exist.
    for (const other of [{ token: colleague.token }, { headers: approver }]) {
      const stolen = await t.call('POST', `/api/v1/bulk-changes/${approval.id}/run`, other);
      expect(stolen.statusCode, stolen.body).toBe(404);
      expect(stolen.json().error.code).toBe('bulk.not_found');
    }
    expect((await t.call('POST', '/api/v1/bulk-changes/not-an-id/run', { token: manager.token })).statusCode).toBe(404);
    expect(JSON.stringify(await rows(ids))).toBe(before);

    const run = await t.call('POST', `/api/v1/bulk-changes/${approval.id}/run`, { token: manager.token });
    expect(run.statusCode, run.body).toBe(200);
    expect(run.json()).toEqual({ approvalId: approval.id, kind: 'bulk_update', type: 'contacts', records: 4 });
    for (const id of ids) expect((await t.call('GET', `/api/v1/contacts/${id}`, { token: manager.token })).json()).toMatchObject({ address: '12 Rue Secrète', city: 'Nantes' });
    const bulk = (await entries('record.bulk_update')).at(-1)!;
    expect([JSON.parse(bulk.fields), JSON.parse(bulk.details)]).toEqual([['address', 'city'], { count: 4, approvalId: approval.id }]);
    expect(bulk.details).not.toMatch(/Secrète|Nantes/);
    expect((await t.call('GET', `/api/v1/approvals/${approval.id}`, { token: manager.token })).json().status).toBe('used');
    expect(await stored(approval.id)).toBeUndefined();
    const again = await t.call('POST', `/api/v1/bulk-changes/${approval.id}/run`, { token: manager.token });
    expect(again.statusCode).toBe(404);
    expect(again.json().error.code).toBe('bulk.not_found');
  });

  it('runs an approved bulk delete from its approval, and drops kept batches whose approval was denied, cancelled or lapsed', async () => {
    const ask = async (n: number) => {
      const res = await t.call('POST', '/api/v1/contacts/bulk-delete', { token: manager.token, body: { ids: await contacts(n), reason: 'Duplicates' } });
      expect(res.statusCode, res.body).toBe(202);
      return res.json().approval.id as string;
    };
    const toDelete = await ask(4);
    const ids = JSON.parse((await stored(toDelete))!.ids) as string[];
    expect((await t.call('POST', `/api/v1/approvals/${toDelete}/approve`, { headers: approver, body: {} })).statusCode).toBe(200);
    const run = await t.call('POST', `/api/v1/bulk-changes/${toDelete}/run`, { token: manager.token });
    expect(run.statusCode, run.body).toBe(200);
    expect(run.json()).toEqual({ approvalId: toDelete, kind: 'bulk_delete', type: 'contacts', records: 4 });
    expect((await rows(ids)).every((r: any) => r.deleted_at !== null)).toBe(true);
    expect(JSON.parse((await entries('record.bulk_delete')).at(-1)!.details)).toEqual({ count: 4, approvalId: toDelete });

    const denied = await ask(4);
    const deniedToo = await ask(4);
    const cancelled = await ask(4);
    const lapsed = await ask(4);
    const waiting = await ask(4);
    for (const id of [denied, deniedToo]) expect((await t.call('POST', `/api/v1/approvals/${id}/deny`, { headers: approver, body: { note: 'No' } })).statusCode).toBe(200);
    expect((await t.call('POST', `/api/v1/approvals/${cancelled}/cancel`, { token: manager.token })).statusCode).toBe(200);
    await db.updateTable('approval_requests').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', lapsed).execute();

    // Running a denied one refuses and drops it.
    const refused = await t.call('POST', `/api/v1/bulk-changes/${denied}/run`, { token: manager.token });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('approval.not_pending');
    expect(await stored(denied)).toBeUndefined();
    // Listing drops the closed ones it meets; the retention job's sweep the rest.
    const listed = (await t.call('GET', '/api/v1/bulk-changes', { token: manager.token })).json().items.map((i: { approvalId: string }) => i.approvalId);
    expect(listed).toContain(waiting);
    for (const id of [deniedToo, cancelled, lapsed]) {
      expect(listed).not.toContain(id);
      expect(await stored(id)).toBeUndefined();
    }
    const closedAgain = await ask(4);
    await t.call('POST', `/api/v1/approvals/${closedAgain}/deny`, { headers: approver, body: {} });
    // Hourly tallies that no longer count go with the same sweep; the last two hours stay.
    const hour = (hoursAgo: number) => new Date(t.deps.clock.now().getTime() - hoursAgo * 3_600_000).toISOString().slice(0, 13);
    await db.insertInto('bulk_tallies').values([0, 1, 2, 30].map((h) => ({ user_id: `sweep-${h}`, hour: hour(h), records: 1 }))).execute();
    const sweep = await new TrashRetention(t.deps, { holder: 'bulk-sweep' }).runOnce();
    expect(sweep.droppedBulkChanges).toBe(1);
    const kept = await db.selectFrom('bulk_tallies').select('user_id').where('user_id', 'like', 'sweep-%').execute();
    expect(kept.map((r: { user_id: string }) => r.user_id).sort()).toEqual(['sweep-0', 'sweep-1']);
    expect(await stored(closedAgain)).toBeUndefined();
    expect(await stored(waiting)).toBeDefined();
  });

  it('pages the kept batches, newest first', async () => {
    const { token } = await t.makeUser({ roles: ['manager'], teamId: manager.user.teamId });
    const asked: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await t.call('POST', '/api/v1/contacts/bulk-delete', { token, body: { ids: await contacts(4), reason: `Batch ${i}` } });
      asked.push(res.json().approval.id);
    }
    const first = (await t.call('GET', '/api/v1/bulk-changes?limit=2', { token })).json();
    expect(first.items.map((i: { approvalId: string }) => i.approvalId)).toEqual([asked[2], asked[1]]);
    const second = (await t.call('GET', `/api/v1/bulk-changes?limit=2&cursor=${first.nextCursor}`, { token })).json();
    expect(second).toEqual({ items: [expect.objectContaining({ approvalId: asked[0], kind: 'bulk_delete', fields: [], records: 4 })], nextCursor: null });
    expect((await t.call('GET', '/api/v1/bulk-changes?cursor=nonsense', { token })).statusCode).toBe(400);
    expect((await t.call('GET', '/api/v1/bulk-changes?limit=0', { token })).statusCode).toBe(400);
  });

  it('refuses a kept change that was tampered with, records it, and changes nothing', async () => {
    const ids = await contacts(4);
    const ask = async (city: string) => (await t.call('POST', '/api/v1/contacts/bulk-update', { token: manager.token, body: { ids, changes: { city }, reason: 'Move' } })).json().approval.id as string;
    const target = await ask('Tours');
    const other = await ask('Rennes');
    expect((await t.call('POST', `/api/v1/approvals/${target}/approve`, { headers: approver, body: {} })).statusCode).toBe(200);
    // The sealed changes of another batch, moved into this one, do not open here.
    await db.updateTable('bulk_requests').set({ changes: (await stored(other))!.changes }).where('approval_id', '=', target).execute();
    const before = JSON.stringify(await rows(ids));
    const run = await t.call('POST', `/api/v1/bulk-changes/${target}/run`, { token: manager.token });
    expect(run.statusCode, run.body).toBe(500);
    expect(run.json().error.code).toBe('data.integrity_failed');
    expect(run.body).not.toContain('Rennes');
    expect(JSON.stringify(await rows(ids))).toBe(before);
    expect(await db.selectFrom('integrity_events').select(['table_name', 'column_name', 'record_id']).where('record_id', '=', target).execute()).toEqual([{ table_name: 'bulk_requests', column_name: 'changes', record_id: target }]);
    expect((await t.call('GET', `/api/v1/approvals/${target}`, { token: manager.token })).json().status).toBe('approved');
  });

  it('lets a token be scoped to bulk changes, approvals and the trash', async () => {
    const team = manager.user.teamId;
    const scoped = await t.makeUser({ roles: ['manager'], teamId: team, scopes: ['contacts:write', 'bulk-changes:write', 'approvals:read'] });
    const narrow = await t.makeUser({ roles: ['manager'], teamId: team, scopes: ['contacts:write'] });
    const ids = await contacts(4, scoped);
    const asked = await t.call('POST', '/api/v1/contacts/bulk-delete', { token: scoped.token, body: { ids, reason: 'Tidy' } });
    expect(asked.statusCode, asked.body).toBe(202);
    const id = asked.json().approval.id;
    expect((await t.call('GET', `/api/v1/approvals/${id}`, { token: scoped.token })).statusCode).toBe(200);
    expect((await t.call('GET', '/api/v1/approvals', { token: narrow.token })).statusCode).toBe(403);
    expect((await t.call('GET', '/api/v1/bulk-changes', { token: narrow.token })).statusCode).toBe(403);
    expect((await t.call('POST', `/api/v1/bulk-changes/${id}/run`, { token: narrow.token })).statusCode).toBe(403);
    expect((await t.call('POST', `/api/v1/approvals/${id}/approve`, { headers: approver, body: {} })).statusCode).toBe(200);
    const run = await t.call('POST', `/api/v1/bulk-changes/${id}/run`, { token: scoped.token });
    expect(run.statusCode, run.body).toBe(200);
    expect(run.json().records).toBe(4);

    // Every resource the routes and permissions name can be a scope; an unknown one cannot.
    for (const scopes of [['trash:read'], ['trash:write'], ['approvals:write'], ['exports:write'], ['backups:read'], ['imports:write'], ['keys:read'], ['bulk-changes:read']]) {
      const created = await t.call('POST', '/api/v1/tokens', { headers: approver, body: { name: `scoped ${scopes[0]}`, scopes } });
      expect(created.statusCode, `${scopes[0]} ${created.body}`).toBe(201);
      expect(created.json().record.scopes).toEqual(scopes);
    }
    const unknown = await t.call('POST', '/api/v1/tokens', { headers: approver, body: { name: 'unknown', scopes: ['trashcan:read'] } });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.code).toBe('token.invalid_scope');
  });
});

describe(`bulk changes without approval counted per user within the hour, on ${testDialect}`, () => {
  let t: TestApp;
  let db: Kysely<any>;
  let team: string;
  let approver: { cookie: string; 'x-csrf-token': string };
  // The test clock starts ten minutes into an hour and runs on; `shift` moves it into later hours.
  const started = Date.now();
  const base = Math.floor(started / 3_600_000) * 3_600_000 + 600_000;
  let shift = 0;
  const clock = { now: () => new Date(base + (Date.now() - started) + shift) };
  beforeAll(async () => {
    t = await createTestApp({ RAMPART_BULK_APPROVAL_RECORDS: '50', RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000' }, { clock });
    db = t.database.db as unknown as Kysely<any>;
    team = await t.makeTeam();
    const admin = await t.makeUser({ roles: ['admin'] });
    const session = await signInFully(t, admin.user.email, admin.password, () => clock.now().getTime());
    approver = { cookie: session.cookie, 'x-csrf-token': session.csrf };
  });
  afterAll(async () => t.close());

  const contacts = async (by: Maker, n: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const res = await t.call('POST', '/api/v1/contacts', { token: by.token, body: { lastName: `Hourly ${i}`, city: 'Lyon' } });
      expect(res.statusCode, res.body).toBe(201);
      ids.push(res.json().id);
    }
    return ids;
  };
  const update = (by: Maker, ids: string[], extra: Record<string, unknown> = {}) => t.call('POST', '/api/v1/contacts/bulk-update', { token: by.token, body: { ids, changes: { city: 'Paris' }, ...extra } });
  const cities = async (ids: string[]) => (await db.selectFrom('contacts').select('city').where('id', 'in', ids).execute()).map((r: any) => r.city);
  const tally = async (userId: string) => (await db.selectFrom('bulk_tallies').select('records').where('user_id', '=', userId).execute()).reduce((n: number, r: any) => n + Number(r.records), 0);

  it('sends a second batch of 30 within the hour for approval, runs it once approved without counting it, and counts each user apart', async () => {
    const seller = await t.makeUser({ roles: ['manager'], teamId: team });
    const first = await contacts(seller, 30);
    const second = await contacts(seller, 30);
    const ok = await update(seller, first);
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toEqual({ updated: 30 });
    expect(await tally(seller.user.id)).toBe(30);

    // 30 more would make 60 within the hour: refused without a reason, nothing written or counted.
    const refused = await update(seller, second);
    expect(refused.statusCode, refused.body).toBe(409);
    expect(refused.json().error).toMatchObject({ code: 'bulk.approval_required', message: expect.stringContaining('More than 50 records within an hour'), fields: [{ field: 'reason' }] });
    expect(await cities(second)).toEqual(Array(30).fill('Lyon'));
    expect(await tally(seller.user.id)).toBe(30);

    // With a reason it goes for approval exactly as an over-threshold batch does.
    const asked = await update(seller, second, { reason: 'Office moved' });
    expect(asked.statusCode, asked.body).toBe(202);
    const approval = asked.json().approval;
    expect(approval).toMatchObject({ kind: 'bulk_update', status: 'pending', recordCount: 30, summary: { type: 'contacts', records: 30, fields: ['city'] } });
    expect(await cities(second)).toEqual(Array(30).fill('Lyon'));
    expect((await t.call('POST', `/api/v1/approvals/${approval.id}/approve`, { headers: approver, body: {} })).statusCode).toBe(200);
    const run = await t.call('POST', `/api/v1/bulk-changes/${approval.id}/run`, { token: seller.token });
    expect(run.statusCode, run.body).toBe(200);
    expect(run.json().records).toBe(30);
    expect(await cities(second)).toEqual(Array(30).fill('Paris'));
    // The approved batch does not count.
    expect(await tally(seller.user.id)).toBe(30);

    // Up to the threshold in all still runs; one record more, deleted or changed, does not.
    const upTo = await contacts(seller, 21);
    const twenty = await update(seller, upTo.slice(0, 20));
    expect(twenty.statusCode, twenty.body).toBe(200);
    const one = await t.call('POST', '/api/v1/contacts/bulk-delete', { token: seller.token, body: { ids: upTo.slice(20) } });
    expect(one.statusCode, one.body).toBe(409);
    expect(one.json().error.code).toBe('bulk.approval_required');
    expect(await db.selectFrom('contacts').select('deleted_at').where('id', '=', upTo[20]!).executeTakeFirst()).toEqual({ deleted_at: null });
    expect(await tally(seller.user.id)).toBe(50);

    // Another user has an allowance of their own.
    const colleague = await t.makeUser({ roles: ['manager'], teamId: team });
    expect((await update(colleague, await contacts(colleague, 30))).statusCode).toBe(200);
  });

  it('counts the current and the previous hour, and afresh after that', async () => {
    const seller = await t.makeUser({ roles: ['manager'], teamId: team });
    const ids = await contacts(seller, 100);
    expect((await update(seller, ids.slice(0, 40))).statusCode).toBe(200);
    // In the next hour the previous hour's 40 still count.
    shift += 3_600_000;
    const next = await update(seller, ids.slice(40, 60));
    expect(next.statusCode, next.body).toBe(409);
    expect(next.json().error.code).toBe('bulk.approval_required');
    expect((await update(seller, ids.slice(40, 50))).statusCode).toBe(200);
    // Two hours on, the first hour no longer counts; the second hour's 10 still do.
    shift += 3_600_000;
    expect((await update(seller, ids.slice(50, 91))).statusCode).toBe(409);
    const fresh = await update(seller, ids.slice(50, 90));
    expect(fresh.statusCode, fresh.body).toBe(200);
    expect(fresh.json()).toEqual({ updated: 40 });
  });

  it('does not let concurrent batches together pass the threshold without approval', async () => {
    const seller = await t.makeUser({ roles: ['manager'], teamId: team });
    const batches = [await contacts(seller, 30), await contacts(seller, 30), await contacts(seller, 30)];
    const results = await Promise.all([
      update(seller, batches[0]!),
      update(seller, batches[1]!),
      t.call('POST', '/api/v1/contacts/bulk-delete', { token: seller.token, body: { ids: batches[2] } }),
    ]);
    const statuses = results.map((r) => r.statusCode).sort();
    expect(statuses, results.map((r) => r.body).join('\n')).toEqual([200, 409, 409]);
    for (const r of results.filter((r) => r.statusCode === 409)) expect(r.json().error.code).toBe('bulk.approval_required');
    expect(await tally(seller.user.id)).toBe(30);
    const all = batches.flat();
    const changed = await db.selectFrom('contacts').select(['city', 'deleted_at']).where('id', 'in', all).execute();
    expect(changed.filter((r: any) => r.city === 'Paris' || r.deleted_at !== null)).toHaveLength(30);
  });
});
