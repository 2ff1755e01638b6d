import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDetectionOnce } from '../src/modules/detection/detection.runner.js';
import { newId } from '../src/shared/ids.js';
import { createTestApp, type TestApp } from './support/app.js';
import { runCli } from './support/cli.js';
import { testDialect } from './support/database.js';
import { signInFully } from './support/sign-in.js';

interface Decoy {
  recordId: string;
  recordType: string;
  label: string;
  inTrash: boolean;
  plantedBy: string;
  plantedAt: string;
}

describe(`honeytokens (${testDialect})`, () => {
  let t: TestApp;
  let admin: { token: string; id: string };
  let officer: string;
  let seller: { token: string; id: string };
  let colleague: { token: string; id: string };
  let team: string;
  let companyId: string;

  beforeAll(async () => {
    t = await createTestApp();
    team = await t.makeTeam('Decoy sales team');
    const a = await t.makeUser({ roles: ['admin'] });
    admin = { token: a.token, id: a.user.id };
    ({ token: officer } = await t.makeUser({ roles: ['security_officer'] }));
    const s = await t.makeUser({ roles: ['sales'], teamId: team });
    seller = { token: s.token, id: s.user.id };
    const c = await t.makeUser({ roles: ['sales'], teamId: team });
    colleague = { token: c.token, id: c.user.id };
    // Real work: a company and contacts owned by the sellers, so decoys have owners to blend in with.
    companyId = (await t.call('POST', '/api/v1/companies', { token: seller.token, body: { name: 'Hangzhou Real Trading', domain: 'real-trading.example.com' } })).json().id;
    for (const [who, last] of [[seller, 'Zhang'], [colleague, 'Li'], [seller, 'Wang']] as const) {
      const res = await t.call('POST', '/api/v1/contacts', { token: who.token, body: { firstName: 'Wei', lastName: last, email: `${last.toLowerCase()}@real-trading.example.com`, companyId } });
      expect(res.statusCode, res.body).toBe(201);
    }
  });
  afterAll(async () => t.close());

  // Record tables are reached through the record store, so the typed schema leaves them out.
  const raw = () => t.database.db as unknown as Kysely<any>;
  const list = async (token: string) => (await t.call('GET', '/api/v1/honeytokens', { token })).json().items as Decoy[];
  const counts = async () => ({
    contacts: Number((await sql<{ n: number }>`select count(*) as n from contacts`.execute(t.database.db)).rows[0]!.n),
    companies: Number((await sql<{ n: number }>`select count(*) as n from companies`.execute(t.database.db)).rows[0]!.n),
    honeytokens: Number((await sql<{ n: number }>`select count(*) as n from honeytokens`.execute(t.database.db)).rows[0]!.n),
  });

  it('plants decoy contacts through the record store: sealed, in the team\'s pool, dated among the team\'s records, in ordinary lists, audited', async () => {
    // The real contacts were made over a year and a half; decoys must look as old as they are.
    const made = ['2024-01-10T08:00:00.000Z', '2024-09-01T12:30:00.000Z', '2025-06-30T17:45:00.000Z'];
    const existing = (await raw().selectFrom('contacts').select('id').orderBy('id').execute()) as { id: string }[];
    for (const [i, row] of existing.entries()) await raw().updateTable('contacts').set({ created_at: made[i], updated_at: made[i] }).where('id', '=', row.id).execute();

    const res = await t.call('POST', '/api/v1/honeytokens', { token: officer, body: { recordType: 'contacts', count: 6 } });
    expect(res.statusCode, res.body).toBe(201);
    const planted = res.json().items as Decoy[];
    expect(planted).toHaveLength(6);
    for (const d of planted) {
      expect(d).toMatchObject({ recordType: 'contacts', inTrash: false });
      expect(d.label.length).toBeGreaterThan(1);
    }

    // Each decoy sits in the sellers' team with no personal owner, so it is in nobody's own list;
    // it seems made by one of the team's sellers, at a time within the span of the team's records,
    // and its id (a UUIDv7) carries that time, not the time it was planted.
    const rows = await raw().selectFrom('contacts').selectAll().where('id', 'in', planted.map((d) => d.recordId)).execute();
    expect(rows).toHaveLength(6);
    for (const row of rows) {
      expect(row.owner_id).toBeNull();
      expect(row.team_id).toBe(team);
      expect([seller.id, colleague.id]).toContain(row.created_by);
      expect(row.updated_by).toBe(row.created_by);
      expect(row.updated_at).toBe(row.created_at);
      const at = Date.parse(row.created_at);
      expect(at).toBeGreaterThanOrEqual(Date.parse(made[0]!));
      expect(at).toBeLessThanOrEqual(Date.parse(made[2]!));
      expect(Number.parseInt(String(row.id).replace(/-/g, '').slice(0, 12), 16)).toBe(at);
    }
    // Personal values are sealed like any contact's: no email address in clear in the row.
    expect(JSON.stringify(rows)).not.toMatch(/@[a-z0-9-]+\.example\.com/);
    const mine = (await t.call('GET', `/api/v1/contacts?limit=200&ownerId=${seller.id}`, { token: seller.token })).json().items as { id: string }[];
    expect(mine.filter((c) => planted.some((d) => d.recordId === c.id))).toEqual([]);

    const audit = await t.database.db.selectFrom('audit_entries').select(['action', 'actor_kind', 'actor_id', 'record_ids', 'details']).where('action', 'in', ['detection.honeytokens_planted', 'record.create']).orderBy('seq').execute();
    const plantedEntry = audit.find((e) => e.action === 'detection.honeytokens_planted')!;
    expect(plantedEntry.actor_kind).toBe('token');
    // Which records are decoys is not written into the log.
    expect(JSON.parse(String(plantedEntry.record_ids))).toEqual([]);
    expect(JSON.parse(String(plantedEntry.details))).toEqual({ count: 6 });
    const creates = audit.filter((e) => e.action === 'record.create' && planted.some((d) => String(e.record_ids).includes(d.recordId)));
    expect(creates).toHaveLength(6);
    expect(creates.every((e) => e.actor_kind === 'system' && e.actor_id === 'honeytokens')).toBe(true);

    // They sit in the sellers' ordinary lists, with every field a real contact has and nothing more.
    const seen = (await t.call('GET', '/api/v1/contacts?limit=200', { token: colleague.token })).json().items as Record<string, unknown>[];
    const decoys = seen.filter((c) => planted.some((d) => d.recordId === c.id));
    const real = seen.find((c) => c.lastName === 'Li')!;
    expect(decoys).toHaveLength(6);
    for (const decoy of decoys) {
      expect(Object.keys(decoy).sort()).toEqual(Object.keys(real).sort());
      expect(JSON.stringify(decoy)).not.toMatch(/honey|decoy|trap/i);
      expect(String(decoy.email)).toMatch(/@([a-z0-9-]+\.)*example\.com$/);
    }
  });

  it('plants companies for a chosen owner and lists every decoy only to those who handle alerts', async () => {
    const res = await t.call('POST', '/api/v1/honeytokens', { token: admin.token, body: { recordType: 'companies', count: 2, ownerId: seller.id } });
    expect(res.statusCode, res.body).toBe(201);
    const companies = res.json().items as Decoy[];
    const rows = await raw().selectFrom('companies').select(['id', 'owner_id', 'team_id', 'created_by', 'updated_by']).where('id', 'in', companies.map((c) => c.recordId)).execute();
    expect(rows.map((r: { owner_id: string; team_id: string; created_by: string; updated_by: string }) => [r.owner_id, r.team_id, r.created_by, r.updated_by])).toEqual([
      [seller.id, team, seller.id, seller.id],
      [seller.id, team, seller.id, seller.id],
    ]);
    // The decoy company shows up in search like any company.
    const label = companies[0]!.label;
    const found = (await t.call('GET', `/api/v1/companies?limit=200`, { token: seller.token })).json().items.map((c: { name: string }) => c.name);
    expect(found).toContain(label);

    const listed = await list(officer);
    expect(listed.filter((d) => d.recordType === 'companies').map((d) => d.recordId).sort()).toEqual(companies.map((c) => c.recordId).sort());
    expect(listed.filter((d) => d.recordType === 'contacts')).toHaveLength(6);
    expect(listed.find((d) => d.recordId === companies[0]!.recordId)).toMatchObject({ label, plantedBy: admin.id, inTrash: false });
    // Listing the decoys shows their names: a read, recorded under an action of its own rather
    // than as a touch of the decoy.
    const entries = await t.database.db.selectFrom('audit_entries').select('action').where('action', '=', 'detection.honeytokens_listed').execute();
    expect(entries.length).toBeGreaterThanOrEqual(2);
  });

  it('refuses sellers and auditors every honeytoken route, and writes nothing', async () => {
    const before = await counts();
    const someDecoy = (await list(admin.token))[0]!;
    const auditor = (await t.makeUser({ roles: ['auditor'] })).token;
    for (const token of [seller.token, auditor]) {
      const get = await t.call('GET', '/api/v1/honeytokens', { token });
      expect(get.statusCode).toBe(403);
      const post = await t.call('POST', '/api/v1/honeytokens', { token, body: { recordType: 'contacts', count: 3 } });
      expect(post.statusCode).toBe(403);
      expect(post.json().error.code).toBe('auth.forbidden');
      const del = await t.call('DELETE', `/api/v1/honeytokens/${someDecoy.recordId}`, { token });
      expect(del.statusCode).toBe(403);
    }
    expect(await counts()).toEqual(before);
  });

  it('refuses bad planting requests with 400 and leaves nothing behind', async () => {
    const before = await counts();
    for (const body of [
      { recordType: 'contacts', count: 0 },
      { recordType: 'contacts', count: 51 },
      { recordType: 'deals', count: 1 },
      { recordType: 'contacts', count: 2, ownerId: newId() },
      { recordType: 'contacts', count: 2, teamId: newId() },
      { recordType: 'contacts', count: 2, ownerId: 'not-an-id' },
      { recordType: 'contacts', count: 2, flag: true },
    ]) {
      const res = await t.call('POST', '/api/v1/honeytokens', { token: admin.token, body });
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
    }
    expect(await counts()).toEqual(before);
  });

  it('removes a decoy: a contact is erased for good, a company goes to the trash; either stops being watched', async () => {
    const decoys = await list(admin.token);
    const contact = decoys.find((d) => d.recordType === 'contacts')!;
    const company = decoys.find((d) => d.recordType === 'companies')!;
    expect((await t.call('DELETE', `/api/v1/honeytokens/${contact.recordId}`, { token: officer })).statusCode).toBe(204);
    expect((await t.call('DELETE', `/api/v1/honeytokens/${company.recordId}`, { token: officer })).statusCode).toBe(204);
    const after = await list(admin.token);
    expect(after.map((d) => d.recordId)).not.toContain(contact.recordId);
    expect(after.map((d) => d.recordId)).not.toContain(company.recordId);
    expect((await t.call('GET', `/api/v1/contacts/${contact.recordId}`, { token: admin.token })).statusCode).toBe(404);
    const restore = await t.call('POST', `/api/v1/contacts/${contact.recordId}/restore`, { token: admin.token });
    expect(restore.json().error.code).toBe('record.erased');
    expect((await t.call('GET', `/api/v1/companies/${company.recordId}`, { token: admin.token })).statusCode).toBe(404);

    const again = await t.call('DELETE', `/api/v1/honeytokens/${contact.recordId}`, { token: officer });
    expect(again.statusCode).toBe(404);
    expect(again.json().error.code).toBe('honeytoken.not_found');
    expect((await t.call('DELETE', '/api/v1/honeytokens/nope', { token: officer })).json().error.code).toBe('honeytoken.not_found');
    const removed = await t.database.db.selectFrom('audit_entries').select('action').where('action', '=', 'detection.honeytoken_removed').execute();
    expect(removed).toHaveLength(2);
  });

  it('takes a decoy away from a browser session only with a recent second factor', async () => {
    const { user, password } = await t.makeUser({ roles: ['security_officer'] });
    const session = await signInFully(t, user.email, password);
    const headers = { cookie: session.cookie, 'x-csrf-token': session.csrf };
    const decoy = (await list(admin.token)).find((d) => d.recordType === 'companies')!;
    const factorAt = (at: string) => raw().updateTable('sessions').set({ mfa_at: at }).where('user_id', '=', user.id).where('revoked_at', 'is', null).execute();

    await factorAt('2000-01-01T00:00:00.000Z');
    const before = await counts();
    const stale = await t.call('DELETE', `/api/v1/honeytokens/${decoy.recordId}`, { headers });
    expect(stale.statusCode, stale.body).toBe(403);
    expect(stale.json().error.code).toBe('auth.step_up_required');
    expect(await counts()).toEqual(before);
    expect((await list(admin.token)).map((d) => d.recordId)).toContain(decoy.recordId);

    await factorAt(new Date().toISOString());
    const fresh = await t.call('DELETE', `/api/v1/honeytokens/${decoy.recordId}`, { headers });
    expect(fresh.statusCode, fresh.body).toBe(204);
    expect((await list(admin.token)).map((d) => d.recordId)).not.toContain(decoy.recordId);
  });

  it('shows a decoy someone moved to the trash as in the trash', async () => {
    const decoy = (await list(admin.token)).find((d) => d.recordType === 'contacts')!;
    expect((await t.call('DELETE', `/api/v1/contacts/${decoy.recordId}`, { token: admin.token })).statusCode).toBe(204);
    expect((await list(admin.token)).find((d) => d.recordId === decoy.recordId)).toMatchObject({ inTrash: true });
  });

  it('raises a critical alert naming whoever opens a decoy, and takes its responses', async () => {
    const [decoy] = (await t.call('POST', '/api/v1/honeytokens', { token: officer, body: { recordType: 'contacts', count: 1, ownerId: colleague.id } })).json().items as Decoy[];
    // The engine's first run learns from what is there without raising anything: planting,
    // listing and removing decoys are the handlers' own work, not a touch.
    await runDetectionOnce(t.deps);
    await runDetectionOnce(t.deps);
    expect((await t.call('GET', '/api/v1/alerts?rule=honeytoken.touched', { token: officer })).json().items).toEqual([]);

    const opened = await t.call('GET', `/api/v1/contacts/${decoy!.recordId}`, { token: seller.token });
    expect(opened.statusCode, opened.body).toBe(200);
    const run = await runDetectionOnce(t.deps);
    expect(run.alertsRaised).toBeGreaterThanOrEqual(1);

    const alerts = (await t.call('GET', '/api/v1/alerts?rule=honeytoken.touched', { token: officer })).json().items as { id: string; severity: string; actorId: string; summary: string }[];
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ severity: 'critical', actorId: seller.id, status: 'open' });
    // The summary says what happened, not who the decoy pretends to be.
    expect(alerts[0]!.summary).not.toContain(decoy!.label);
    const detail = (await t.call('GET', `/api/v1/alerts/${alerts[0]!.id}`, { token: officer })).json();
    expect(detail.responses.filter((r: { state: string }) => r.state === 'done').map((r: { kind: string }) => r.kind)).toEqual(expect.arrayContaining(['lock_account']));
    expect(await t.database.db.selectFrom('users').select('locked_at').where('id', '=', seller.id).executeTakeFirstOrThrow()).not.toEqual({ locked_at: null });
    // Its sessions ended, its tokens revoked, its account locked: the next request is refused.
    const after = await t.call('GET', '/api/v1/contacts', { token: seller.token });
    expect([401, 423]).toContain(after.statusCode);
  });

  describe('on the command line', { timeout: 180_000 }, () => {
    let dir: string;
    const cli = (args: string[]) =>
      runCli(['--data-dir', path.join(dir, 'data'), ...args], { env: { RAMPART_DATABASE_URL: t.testDb.url, RAMPART_KEY_FILE: t.testDb.keyFile } });

    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-honeytoken-cli-'));
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('plants, lists and removes decoys', async () => {
      const planted = await cli(['honeytoken', 'plant', '--type', 'companies', '--count', '2', '--json']);
      expect(planted.code, planted.stderr).toBe(0);
      const made = JSON.parse(planted.stdout) as Decoy[];
      expect(made).toHaveLength(2);
      expect(made[0]!.plantedBy).toMatch(/^cli:/);
      const listed = await cli(['honeytoken', 'list', '--json']);
      expect(listed.code, listed.stderr).toBe(0);
      expect((JSON.parse(listed.stdout) as Decoy[]).map((d) => d.recordId)).toEqual(expect.arrayContaining(made.map((d) => d.recordId)));
      const removed = await cli(['honeytoken', 'remove', made[0]!.recordId]);
      expect(removed.code, removed.stderr).toBe(0);
      const bad = await cli(['honeytoken', 'plant', '--type', 'deals', '--count', '2', '--json']);
      expect(bad.code).toBe(1);
      expect(JSON.parse(bad.stderr).error.code).toBe('request.invalid');
      const none = await cli(['honeytoken', 'plant', '--type', 'contacts', '--count', 'many']);
      expect(none.code).toBe(1);
    });
  });
});
