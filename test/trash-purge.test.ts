import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrashRetention } from '../src/modules/trash/trash.job.js';
import { createTestApp, type TestApp } from './support/app.js';
import { runCli } from './support/cli.js';
import { createTestDatabase, testDialect } from './support/database.js';
import { migrateTo } from '../src/db/migrator.js';
import { SHIPPED_ROLES } from '../src/policy/shipped-roles.js';
import { signInFully } from './support/sign-in.js';
import { blastRadius } from '../src/data/audit-query.js';

/** A clock the test moves: the trash's retention is about time. */
const clock = { at: Date.now(), now: () => new Date(clock.at) };
const DAY = 86_400_000;

describe(`the trash: purging records for good, by hand and by retention, on ${testDialect}`, () => {
  let t: TestApp;
  let admin: string;
  let adminId: string;
  let manager: string;
  let db: Kysely<any>;
  beforeAll(async () => {
    t = await createTestApp({}, { clock });
    db = t.database.db as unknown as Kysely<any>;
    ({ token: admin, user: { id: adminId } } = await t.makeUser({ roles: ['admin'] }));
    ({ token: manager } = await t.makeUser({ roles: ['manager'] }));
    const field = await t.call('POST', '/api/v1/custom-fields', { token: admin, body: { recordType: 'companies', key: 'region', label: 'Region', type: 'text', classification: 'internal' } });
    expect(field.statusCode, field.body).toBe(201);
  });
  afterAll(async () => t.close());

  const create = async (type: string, body: Record<string, unknown>) => {
    const res = await t.call('POST', `/api/v1/${type}`, { token: admin, body });
    expect(res.statusCode, res.body).toBe(201);
    return res.json();
  };
  const trash = async (type: string, id: string) => expect((await t.call('DELETE', `/api/v1/${type}/${id}`, { token: admin })).statusCode).toBe(204);
  const searchDocs = async (ids: string[]) =>
    (await db.selectFrom(testDialect === 'sqlite' ? 'search_rows' : 'search_documents').select('record_id').where('record_id', 'in', ids).execute()).length;
  const purgeEntries = async (ids: string[]) =>
    (await db.selectFrom('audit_entries').select(['action', 'record_type', 'record_ids', 'details', 'actor_kind', 'actor_id']).where('action', '=', 'record.purge').orderBy('seq').execute())
      .map((e: any) => ({ ...e, record_ids: JSON.parse(e.record_ids) as string[], details: JSON.parse(e.details) }))
      .filter((e: any) => e.record_ids.some((id: string) => ids.includes(id)));
  /** Everything a purge could touch, to show that a refused one changed nothing. */
  const snapshot = async () =>
    JSON.stringify(
      await Promise.all([
        db.selectFrom('companies').select(['id', 'version', 'deleted_at']).orderBy('id').execute(),
        db.selectFrom('contacts').select(['id', 'version', 'company_id']).orderBy('id').execute(),
        db.selectFrom('activities').select(['id', 'version']).orderBy('id').execute(),
        db.selectFrom('custom_values').select(['record_id', 'value']).orderBy('record_id').execute(),
        db.selectFrom('record_tags').select(['record_id', 'tag_id']).orderBy('record_id').execute(),
        db.selectFrom('audit_entries').select((eb: any) => eb.fn.countAll().as('n')).where('action', '=', 'record.purge').execute(),
      ]),
    );

  it('purges a company in the trash with its custom values, tags, search documents and activities, and empties references to it', async () => {
    const tag = (await t.call('POST', '/api/v1/tags', { token: admin, body: { name: 'Purgeable' } })).json();
    const company = await create('companies', { name: 'Purgeworth Holdings', customFields: { region: 'north' }, tagIds: [tag.id] });
    const note = await create('activities', { kind: 'note', subject: 'Purgeworth call notes', body: 'spoke to the buyer', relatedType: 'companies', relatedId: company.id });
    const contact = await create('contacts', { lastName: 'Keeper', companyId: company.id });
    expect(await searchDocs([company.id, note.id])).toBe(2);

    // Only what is in the trash can be purged.
    const live = await t.call('POST', `/api/v1/companies/${company.id}/purge`, { token: admin });
    expect(live.statusCode, live.body).toBe(409);
    expect(live.json().error.code).toBe('record.not_deleted');

    await trash('companies', company.id);
    const res = await t.call('POST', `/api/v1/companies/${company.id}/purge`, { token: admin });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ purged: 1, attached: 1, unlinked: 1 });

    expect(await db.selectFrom('companies').select('id').where('id', '=', company.id).execute()).toEqual([]);
    expect(await db.selectFrom('activities').select('id').where('id', '=', note.id).execute()).toEqual([]);
    expect(await db.selectFrom('custom_values').select('record_id').where('record_id', 'in', [company.id, note.id]).execute()).toEqual([]);
    expect(await db.selectFrom('record_tags').select('record_id').where('record_id', '=', company.id).execute()).toEqual([]);
    expect(await searchDocs([company.id, note.id])).toBe(0);
    const kept = (await t.call('GET', `/api/v1/contacts/${contact.id}`, { token: admin })).json();
    expect(kept).toMatchObject({ companyId: null, version: contact.version + 1, lastName: 'Keeper' });

    // Audited in the same transaction, with ids and no values.
    const entries = await purgeEntries([company.id, note.id]);
    expect(entries.map((e: any) => [e.record_type, e.record_ids, e.details.reason, e.details.attachedTo ?? null, e.actor_id])).toEqual([
      ['activities', [note.id], 'manual', 'companies', adminId],
      ['companies', [company.id], 'manual', null, adminId],
    ]);
    expect(JSON.stringify(entries)).not.toMatch(/Purgeworth|north|buyer/);
    const unlink = await db.selectFrom('audit_entries').select(['fields', 'details']).where('action', '=', 'record.update').where('record_ids', 'like', `%${contact.id}%`).execute();
    expect(unlink.map((e: any) => [JSON.parse(e.fields), JSON.parse(e.details).reason])).toEqual([[['companyId'], 'purge']]);

    // Gone for good: neither restorable nor purgeable again.
    for (const url of [`/api/v1/companies/${company.id}/restore`, `/api/v1/companies/${company.id}/purge`]) {
      const again = await t.call('POST', url, { token: admin });
      expect(again.statusCode, url).toBe(404);
      expect(again.json().error.code).toBe('record.not_found');
    }
  });

  it('purges a person: tickets about them stay readable, no longer point at them, and the data key goes', async () => {
    const person = await create('contacts', { lastName: 'Forgotten', email: 'forgotten@example.com' });
    const ticket = await create('tickets', { subject: 'Broken widget', description: 'Customer says the widget broke', contactId: person.id });
    expect(await db.selectFrom('data_keys').select('subject_id').where('subject_id', '=', person.id).execute()).not.toEqual([]);
    await trash('contacts', person.id);
    const res = await t.call('POST', '/api/v1/trash/purge', { token: admin, body: { type: 'contacts', ids: [person.id] } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ purged: 1, attached: 0, unlinked: 1 });
    const after = (await t.call('GET', `/api/v1/tickets/${ticket.id}`, { token: admin })).json();
    expect(after).toMatchObject({ contactId: null, subject: 'Broken widget', description: 'Customer says the widget broke' });
    expect(await db.selectFrom('data_keys').select('subject_id').where('subject_id', '=', person.id).execute()).toEqual([]);
  });

  it('refuses a batch with a record that is not in the trash, or is unknown, and purges nothing of it', async () => {
    const a = await create('companies', { name: 'Batch A' });
    const b = await create('companies', { name: 'Batch B' });
    await trash('companies', a.id);
    const before = await snapshot();
    const mixed = await t.call('POST', '/api/v1/trash/purge', { token: admin, body: { type: 'companies', ids: [a.id, b.id] } });
    expect(mixed.statusCode, mixed.body).toBe(409);
    expect(mixed.json().error).toMatchObject({ code: 'record.not_deleted', fields: [{ field: 'ids.1' }] });
    const unknown = await t.call('POST', '/api/v1/trash/purge', { token: admin, body: { type: 'companies', ids: [a.id, '0190f000-0000-7000-8000-000000000001'] } });
    expect(unknown.statusCode, unknown.body).toBe(404);
    expect(unknown.json().error.code).toBe('record.not_found');
    const tooMany = await t.call('POST', '/api/v1/trash/purge', { token: admin, body: { type: 'companies', ids: Array.from({ length: 1001 }, (_, i) => `0190f000-0000-7000-8000-${String(i).padStart(12, '0')}`) } });
    expect(tooMany.statusCode).toBe(400);
    const badType = await t.call('POST', '/api/v1/trash/purge', { token: admin, body: { type: 'users', ids: [a.id] } });
    expect(badType.statusCode).toBe(400);
    expect(await snapshot()).toBe(before);
  });

  it('refuses people without trash.purge, tokens without the trash scope, and sessions without a recent second factor', async () => {
    const company = await create('companies', { name: 'Guarded Ltd' });
    await trash('companies', company.id);
    const before = await snapshot();

    const byManager = await t.call('POST', `/api/v1/companies/${company.id}/purge`, { token: manager });
    expect(byManager.statusCode, byManager.body).toBe(403);
    expect(byManager.json().error.code).toBe('auth.forbidden');

    const { token: narrow } = await t.makeUser({ roles: ['admin'], scopes: ['companies:write'] });
    const byNarrowToken = await t.call('POST', `/api/v1/companies/${company.id}/purge`, { token: narrow });
    expect(byNarrowToken.statusCode, byNarrowToken.body).toBe(403);
    expect(byNarrowToken.json().error.code).toBe('auth.forbidden');

    const { user, password } = await t.makeUser({ roles: ['admin'] });
    const session = await signInFully(t, user.email, password, () => clock.at);
    const headers = { cookie: session.cookie, 'x-csrf-token': session.csrf };
    await db.updateTable('sessions').set({ mfa_at: new Date(clock.at - 10 * 60_000).toISOString() }).where('user_id', '=', user.id).execute();
    const stale = await t.call('POST', '/api/v1/trash/purge', { headers, body: { type: 'companies', ids: [company.id] } });
    expect(stale.statusCode, stale.body).toBe(403);
    expect(stale.json().error.code).toBe('auth.step_up_required');
    expect(await snapshot()).toBe(before);

    await db.updateTable('sessions').set({ mfa_at: new Date(clock.at).toISOString() }).where('user_id', '=', user.id).execute();
    const fresh = await t.call('POST', '/api/v1/trash/purge', { headers, body: { type: 'companies', ids: [company.id] } });
    expect(fresh.statusCode, fresh.body).toBe(200);
    expect(fresh.json().purged).toBe(1);
  });

  it('sums up the trash per type, and the retention job purges what outstayed 30 days, as the system, in batches', async () => {
    // Start from an empty trash, so the counts below are this test's.
    const earlier = new TrashRetention(t.deps, { holder: 'cleaner' });
    await db.updateTable('companies').set({ deleted_at: new Date(clock.at - 400 * DAY).toISOString() }).where('deleted_at', 'is not', null).execute();
    await db.updateTable('contacts').set({ deleted_at: new Date(clock.at - 400 * DAY).toISOString() }).where('deleted_at', 'is not', null).execute();
    await earlier.runOnce();
    await db.deleteFrom('job_leases').execute();

    const old = [await create('companies', { name: 'Old One' }), await create('companies', { name: 'Old Two' }), await create('companies', { name: 'Old Three' })];
    const oldNote = await create('activities', { kind: 'note', subject: 'On Old One', relatedType: 'companies', relatedId: old[0].id });
    for (const c of old) await trash('companies', c.id);
    clock.at += 10 * DAY;
    const recent = await create('companies', { name: 'Recent' });
    await trash('companies', recent.id);

    const summary = await t.call('GET', '/api/v1/trash/summary', { token: admin });
    expect(summary.statusCode, summary.body).toBe(200);
    const companies = summary.json().types.find((s: { type: string }) => s.type === 'companies');
    expect(summary.json().retentionDays).toBe(30);
    expect(companies).toMatchObject({ count: 4, daysUntilPurge: 20 });
    expect(new Date(companies.nextPurgeAt).getTime() - new Date(companies.oldestDeletedAt).getTime()).toBe(30 * DAY);
    // A role without the type sees nothing of its trash.
    const { token: support } = await t.makeUser({ roles: ['support'] });
    expect((await t.call('GET', '/api/v1/trash/summary', { token: support })).json().types.map((s: { type: string }) => s.type)).not.toContain('deals');

    // Nothing outstayed the retention yet.
    const job = new TrashRetention(t.deps, { holder: 'one', batchSize: 2 });
    expect((await job.runOnce()).result!.purged).toEqual({});

    clock.at += 21 * DAY;
    const other = new TrashRetention(t.deps, { holder: 'two', batchSize: 2 });
    const run = await job.runOnce();
    expect(run.held).toBe(true);
    expect(run.result).toMatchObject({ purged: { companies: 3 }, attached: 1, interrupted: false });
    // One process at a time: the other waits while the lease is held.
    expect((await other.runOnce()).held).toBe(false);

    expect(await db.selectFrom('companies').select('id').where('id', 'in', [...old.map((c) => c.id), oldNote.id]).execute()).toEqual([]);
    expect(await db.selectFrom('companies').select('id').where('id', '=', recent.id).execute()).toHaveLength(1);
    const entries = await purgeEntries([...old.map((c) => c.id), oldNote.id]);
    // Two batches of at most two companies, the note with the first.
    expect(entries.map((e: any) => [e.record_type, e.record_ids.length, e.details.reason, e.actor_kind, e.actor_id])).toEqual([
      ['activities', 1, 'retention', 'system', 'trash-retention'],
      ['companies', 2, 'retention', 'system', 'trash-retention'],
      ['companies', 1, 'retention', 'system', 'trash-retention'],
    ]);
    const restore = await t.call('POST', `/api/v1/companies/${old[1].id}/restore`, { token: admin });
    expect(restore.statusCode).toBe(404);
    expect(restore.json().error.code).toBe('record.not_found');

    const after = (await t.call('GET', '/api/v1/trash/summary', { token: admin })).json();
    expect(after.types.find((s: { type: string }) => s.type === 'companies')).toMatchObject({ count: 1, daysUntilPurge: 9 });
    expect(after.lastRetentionRunAt).toBe(new Date(clock.at).toISOString());
    await job.stop();
    // Once given up, another process takes over.
    expect((await other.runOnce()).held).toBe(true);
    await other.stop();
  });

  it('gives trash.purge to the administrator as shipped, and not to a changed definition', async () => {
    const shipped = SHIPPED_ROLES.find((r) => r.id === 'admin')!.definition.permissions;
    expect(shipped).toContain('trash.purge');
    expect(JSON.parse((await db.selectFrom('roles').select('definition').where('id', '=', 'admin').executeTakeFirstOrThrow()).definition).permissions).toEqual(shipped);
    for (const changed of [false, true]) {
      const old = await createTestDatabase({ migrateTo: '0020-approvals-exports' });
      try {
        // The permissions as shipped after approvals and before the trash, written out.
        const before = ['alerts.handle', 'approvals.decide', 'backups.manage', 'incidents.handle', 'keys.manage', 'pipelines.manage', 'roles.manage', 'settings.manage', 'tags.manage', 'teams.manage', 'users.manage', 'users.read'];
        const permissions = changed ? before.filter((p) => p !== 'keys.manage') : before;
        const row = await old.database.db.selectFrom('roles').select('definition').where('id', '=', 'admin').executeTakeFirstOrThrow();
        await old.database.db.updateTable('roles').set({ definition: JSON.stringify({ ...JSON.parse(row.definition), permissions }) }).where('id', '=', 'admin').execute();
        expect(await migrateTo(old.database, '0021-trash')).toContain('0021-trash');
        const after = JSON.parse((await old.database.db.selectFrom('roles').select('definition').where('id', '=', 'admin').executeTakeFirstOrThrow()).definition).permissions;
        expect(after).toEqual(changed ? permissions : shipped);
        expect(await old.database.db.selectFrom('job_leases' as any).selectAll().execute()).toEqual([]);
      } finally {
        await old.cleanup();
      }
    }
  });

  it('`rampart trash list` and `trash purge` work from the command line', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-trash-cli-'));
    try {
      const list = await runCli(['--data-dir', dataDir, 'trash', 'list', 'contacts', '--json']);
      expect(list.code, list.stderr).toBe(0);
      expect(JSON.parse(list.stdout)).toEqual({ items: [], more: false });
      const purge = await runCli(['--data-dir', dataDir, 'trash', 'purge', '--older-than', '0', '--json']);
      expect(purge.code, purge.stderr).toBe(0);
      expect(JSON.parse(purge.stdout)).toMatchObject({ purged: {}, attached: 0, unlinked: 0 });
      const bad = await runCli(['--data-dir', dataDir, 'trash', 'purge', '--older-than', 'soon']);
      expect(bad.code).not.toBe(0);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('lists one type\'s trash with titles as lists show them, who deleted each record and when it is purged, to whoever may read that trash', async () => {
    const team = await t.makeTeam();
    const seller = await t.makeUser({ roles: ['sales'], teamId: team, name: 'Sam Seller' });
    const support = await t.makeUser({ roles: ['support'] });
    const ada = await create('contacts', { firstName: 'Ada', lastName: 'Lovelace' });
    await trash('contacts', ada.id);
    clock.at += 60_000;
    const grace = (await t.call('POST', '/api/v1/contacts', { token: seller.token, body: { firstName: 'Grace', lastName: 'Hopper' } })).json();
    expect((await t.call('DELETE', `/api/v1/contacts/${grace.id}`, { token: seller.token })).statusCode).toBe(204);
    clock.at += 60_000;
    const byOperator = await create('contacts', { lastName: 'Operatorson' });
    await trash('contacts', byOperator.id);
    await db.updateTable('contacts').set({ deleted_by: null }).where('id', '=', byOperator.id).execute();
    const mine = [ada.id, grace.id, byOperator.id];

    /** Every page of the trash as `token` sees it, `limit` at a time. */
    const walk = async (token: string, limit: number) => {
      const items: any[] = [];
      let cursor: string | null = null;
      do {
        const res = await t.call('GET', `/api/v1/trash/contacts?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, { token });
        expect(res.statusCode, res.body).toBe(200);
        items.push(...res.json().items);
        cursor = res.json().nextCursor;
      } while (cursor);
      return items.filter((i) => mine.includes(i.id));
    };
    // Support reads every contact but not the users: the deleters' names come all the same.
    expect((await t.call('GET', '/api/v1/users', { token: support.token })).statusCode).toBe(403);
    const seen = await walk(support.token, 1);
    const adminName = (await db.selectFrom('users').select('name').where('id', '=', adminId).executeTakeFirstOrThrow()).name;
    expect(seen.map((i) => [i.id, i.title, i.deletedBy])).toEqual([
      [ada.id, 'Ada Lovelace', { id: adminId, name: adminName }],
      [grace.id, 'Grace Hopper', { id: seller.user.id, name: 'Sam Seller' }],
      [byOperator.id, 'Operatorson', null],
    ]);
    for (const item of seen) expect(new Date(item.purgeAt).getTime() - new Date(item.deletedAt).getTime()).toBe(30 * DAY);
    expect(Object.keys(seen[0]).sort()).toEqual(['deletedAt', 'deletedBy', 'id', 'ownerId', 'purgeAt', 'teamId', 'title']);
    // The owner lets a screen offer restore only where an own-scope right reaches.
    expect(seen.every((i) => typeof i.ownerId === 'string')).toBe(true);
    expect(await walk(support.token, 200)).toEqual(seen);

    // Within the caller's scope only: the seller sees the team's, not the administrator's.
    expect((await walk(seller.token, 50)).map((i) => i.id)).toEqual([grace.id]);
    // Masked as lists mask it, and the read audited as a list of exactly the names answered.
    const role = await t.call('POST', '/api/v1/roles', { token: admin, body: { id: 'masked_names', name: 'Masked names', definition: { records: { contacts: { actions: { read: 'all' }, fields: { lastName: 'masked' } } }, permissions: [] } } });
    expect(role.statusCode, role.body).toBe(201);
    const masked = await t.makeUser({ roles: ['masked_names'] });
    const listed = (await t.call('GET', '/api/v1/contacts?trash=true&limit=200', { token: masked.token })).json().items.find((i: any) => i.id === ada.id);
    expect(listed.lastName).not.toBe('Lovelace');
    const maskedItem = (await walk(masked.token, 50)).find((i) => i.id === ada.id);
    expect(maskedItem.title).toBe(`Ada ${listed.lastName}`);
    const read = await db.selectFrom('audit_entries').select(['record_ids', 'fields', 'details']).where('action', '=', 'record.read').where('actor_id', '=', masked.user.id).orderBy('seq', 'desc').executeTakeFirstOrThrow();
    expect([JSON.parse(read.fields), JSON.parse(read.details)]).toEqual([['firstName', 'lastName'], { mode: 'list', masked: ['lastName'] }]);
    expect(JSON.parse(read.record_ids)).toContain(ada.id);

    // The same right as ?trash=true lists; a token needs the trash scope and the type's.
    const deals = await t.call('GET', '/api/v1/trash/deals', { token: support.token });
    expect(deals.statusCode).toBe(403);
    expect(deals.json().error.code).toBe('auth.forbidden');
    const { token: contactsOnly } = await t.makeUser({ roles: ['admin'], scopes: ['contacts:read'] });
    expect((await t.call('GET', '/api/v1/trash/contacts', { token: contactsOnly })).statusCode).toBe(403);
    const { token: trashOnly } = await t.makeUser({ roles: ['admin'], scopes: ['trash:read'] });
    expect((await t.call('GET', '/api/v1/trash/contacts', { token: trashOnly })).statusCode).toBe(403);
    const { token: both } = await t.makeUser({ roles: ['admin'], scopes: ['trash:read', 'contacts:read'] });
    expect((await t.call('GET', '/api/v1/trash/contacts', { token: both })).statusCode).toBe(200);
    for (const query of ['limit=0', 'limit=201', 'cursor=nonsense', 'sort=name']) {
      expect((await t.call('GET', `/api/v1/trash/contacts?${query}`, { token: admin })).statusCode, query).toBe(400);
    }
  });

  it('counts a purge as a change in the blast radius of whoever purged', async () => {
    const { token: purger, user } = await t.makeUser({ roles: ['admin'] });
    const person = await create('contacts', { lastName: 'Radius' });
    expect((await t.call('DELETE', `/api/v1/contacts/${person.id}`, { token: purger })).statusCode).toBe(204);
    expect((await t.call('POST', `/api/v1/contacts/${person.id}/purge`, { token: purger })).statusCode).toBe(200);
    const company = await create('companies', { name: 'Radius Ltd' });
    await trash('companies', company.id);
    expect((await t.call('POST', `/api/v1/companies/${company.id}/purge`, { token: purger })).statusCode).toBe(200);
    const radius = await blastRadius(t.deps, { actors: [user.id] });
    // The delete and the purge.
    expect(radius.subjects.find((s) => s.subject === person.id)?.fields['(record)']).toEqual({ read: 0, changed: 2, exported: 0, revealed: 0 });
    expect(radius.organisationRecords.companies).toEqual({ read: 0, changed: 1, exported: 0, records: 1 });
  });
});
