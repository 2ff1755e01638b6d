import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecords } from '../src/data/record-store.js';
import { forgetContainment, liftLockdown, startLockdown } from '../src/modules/detection/containment.service.js';
import { cliContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';
import { runCli } from './support/cli.js';
import { testDialect } from './support/database.js';
import { cookieClient, signInFully } from './support/sign-in.js';

/** A clock the test moves: downloads and approvals lapse, caps count per UTC day. */
const clock = { at: Date.UTC(2026, 11, 2, 9, 0, 0), now: () => new Date(clock.at) };

type Maker = Awaited<ReturnType<TestApp['makeUser']>>;

/** Caps small enough to reach: approval above 5 rows, at most 20 per export, 30 a day. */
const CAPS = { RAMPART_EXPORT_APPROVAL_ROWS: '5', RAMPART_EXPORT_MAX_ROWS: '20', RAMPART_EXPORT_DAILY_ROWS: '30', RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000' };

async function seedContacts(t: TestApp): Promise<void> {
  const small = ['Ada', 'Grace', 'Hedy'].map((firstName) => ({ firstName, lastName: 'Small', city: 'Smallville', email: `${firstName.toLowerCase()}@small.example.com` }));
  const big = Array.from({ length: 9 }, (_, i) => ({ firstName: `Big${i}`, lastName: 'Town', city: 'Bigtown' }));
  const results = await createRecords(t.deps, cliContext('test'), 'contacts', [...small, ...big]);
  expect(results.every((r) => r.ok)).toBe(true);
}

describe(`governed exports over HTTP (${testDialect})`, () => {
  let t: TestApp;
  const { as } = cookieClient(() => t);

  beforeAll(async () => {
    t = await createTestApp(CAPS, { clock });
    await seedContacts(t);
  });
  afterAll(async () => {
    await t.close();
  });

  const ask = (who: Maker, body: Record<string, unknown>) => t.call('POST', '/api/v1/exports', { token: who.token, body: { type: 'contacts', reason: 'Mailing for the Smallville fair', ...body } });
  const download = (who: Maker, id: string) => t.call('GET', `/api/v1/exports/${id}/download`, { token: who.token });
  const exportCount = async () => Number((await sql<{ n: number }>`select count(*) as n from exports`.execute(t.deps.db)).rows[0]!.n);
  const audit = async (action: string) => (await sql<{ details: string; record_ids: string; outcome: string }>`select details, record_ids, outcome from audit_entries where action = ${action} order by seq`.execute(t.deps.db)).rows;

  it('needs a reason and the export action, and writes nothing when refused', async () => {
    const admin = await t.makeUser({ roles: ['admin'] });
    const seller = await t.makeUser({ roles: ['sales'] });
    const companiesOnly = await t.makeUser({ roles: ['admin'], scopes: ['companies:read'] });
    const before = await exportCount();
    expect((await t.call('POST', '/api/v1/exports', { token: admin.token, body: { type: 'contacts' } })).json().error.code).toBe('request.invalid');
    for (const reason of ['', '   ', 'x'.repeat(501)]) {
      const res = await ask(admin, { reason });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().error.code).toBe('export.invalid_request');
    }
    expect((await ask(admin, { format: 'xlsx' })).json().error.code).toBe('request.invalid');
    const refused = await ask(seller, {});
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('auth.forbidden');
    expect((await ask(companiesOnly, {})).json().error.code).toBe('auth.forbidden');
    expect((await t.call('POST', '/api/v1/exports', { body: { type: 'contacts', reason: 'x' } })).statusCode).toBe(401);
    expect((await ask(admin, { query: { shoeSize: '44' } })).statusCode).toBe(400);
    expect(await exportCount()).toBe(before);
  });

  it('makes a small export ready at once, downloadable once by its requester only, and audits it without filter values', async () => {
    const admin = await t.makeUser({ roles: ['admin'] });
    const other = await t.makeUser({ roles: ['admin'] });
    const res = await ask(admin, { query: { city: 'Smallville', sort: 'firstName' } });
    expect(res.statusCode, res.body).toBe(201);
    const made = res.json();
    expect(made).toMatchObject({ type: 'contacts', format: 'csv', status: 'ready', rows: 3, approval: null, reason: 'Mailing for the Smallville fair', downloadedAt: null, requestedBy: { id: admin.user.id, label: admin.user.email } });
    expect(made.exportNo).toBeGreaterThan(0);
    expect(new Date(made.downloadExpiresAt).getTime()).toBe(clock.at + 24 * 3_600_000);

    expect((await download(other, made.id)).json().error.code).toBe('export.not_found');
    expect((await t.call('GET', `/api/v1/exports/${made.id}`, { token: other.token })).statusCode).toBe(200);
    const file = await download(admin, made.id);
    expect(file.statusCode, file.body).toBe(200);
    expect(file.headers['content-type']).toMatch(/^text\/csv/);
    expect(file.headers['content-disposition']).toMatch(new RegExp(`^attachment; filename="contacts-${made.exportNo}-2026-12-02\\.csv"$`));
    expect(file.headers['cache-control']).toBe('no-store');
    for (const name of ['Ada', 'Grace', 'Hedy']) expect(file.body).toContain(name);
    expect(file.body).not.toContain('Big0');

    const again = await download(admin, made.id);
    expect(again.statusCode).toBe(410);
    expect(again.json().error.code).toBe('export.already_downloaded');
    const after = (await t.call('GET', `/api/v1/exports/${made.id}`, { token: admin.token })).json();
    expect(after).toMatchObject({ status: 'downloaded', rowsWritten: 3 });
    expect(after.downloadedAt).not.toBeNull();

    const requested = (await audit('export.requested')).find((e) => e.record_ids.includes(made.id))!;
    expect(JSON.parse(requested.details)).toMatchObject({ exportId: made.id, type: 'contacts', format: 'csv', rows: 3, filteredBy: ['city'], sortedBy: 'firstName' });
    expect(requested.details).not.toContain('Smallville');
    expect((await audit('export.downloaded')).some((e) => e.record_ids.includes(made.id))).toBe(true);
    expect((await audit('export.completed')).length).toBeGreaterThan(0);
  });

  it('writes JSON when asked', async () => {
    const admin = await t.makeUser({ roles: ['admin'] });
    const made = (await ask(admin, { format: 'json', query: { city: 'Smallville' } })).json();
    const file = await download(admin, made.id);
    expect(file.statusCode, file.body).toBe(200);
    expect(file.headers['content-type']).toMatch(/^application\/json/);
    expect(Array.isArray(JSON.parse(file.body))).toBe(true);
  });

  it('refuses more rows than the caller may take in one export, and takes the most generous of their roles', async () => {
    const admin = await t.makeUser({ roles: ['admin'] });
    const grant = { contacts: { actions: { read: 'all', export: 'all' }, fields: {} } };
    const role = (id: string, exports: Record<string, number>) => t.call('POST', '/api/v1/roles', { token: admin.token, body: { id, name: id, description: 'Exports', definition: { records: grant, permissions: [], exports } } });
    const invalid = await role('bad_caps', { maxRows: 0 });
    expect(invalid.statusCode).toBe(400);
    const tight = await role('tight_exports', { maxRows: 10, approvalAboveRows: 100 });
    expect(tight.statusCode, tight.body).toBe(201);
    expect(tight.json().definition.exports).toEqual({ maxRows: 10, approvalAboveRows: 100 });
    expect((await role('loose_exports', { maxRows: 50, approvalAboveRows: 100 })).statusCode).toBe(201);

    const capped = await t.makeUser({ roles: ['tight_exports'] });
    const refused = await ask(capped, {});
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error.code).toBe('export.too_many_rows');
    expect(refused.json().error.message).toMatch(/narrow/);
    const both = await t.makeUser({ roles: ['tight_exports', 'loose_exports'] });
    const allowed = await ask(both, {});
    expect(allowed.statusCode, allowed.body).toBe(201);
    // 12 rows: over the configured threshold of 5, under the roles' 100.
    expect(allowed.json()).toMatchObject({ rows: 12, status: 'ready' });
    // Without a cap of its own, a role gets the configured 20.
    expect((await ask(admin, {})).json().rows).toBe(12);
  });

  it('sends a large export for approval: another person approves with a recent second factor, then it downloads once', async () => {
    const requester = await t.makeUser({ roles: ['admin'] });
    const approver = await t.makeUser({ roles: ['security_officer'] });
    const res = await ask(requester, {});
    expect(res.statusCode, res.body).toBe(201);
    const made = res.json();
    expect(made).toMatchObject({ status: 'pending_approval', rows: 12, downloadExpiresAt: null, approval: { status: 'pending' } });
    expect((await download(requester, made.id)).json().error.code).toBe('export.not_ready');

    const approval = (await t.call('GET', `/api/v1/approvals/${made.approval.id}`, { token: approver.token })).json();
    expect(approval).toMatchObject({ kind: 'export', recordCount: 12, reason: 'Mailing for the Smallville fair', summary: { type: 'contacts', format: 'csv', rows: 12 } });
    // Not through an API token, and (from the command line, below) never by the requester.
    expect((await t.call('POST', `/api/v1/approvals/${made.approval.id}/approve`, { token: requester.token, body: {} })).json().error.code).toBe('auth.forbidden');
    expect((await t.call('POST', `/api/v1/approvals/${made.approval.id}/approve`, { token: approver.token, body: {} })).json().error.code).toBe('auth.forbidden');

    const signedIn = await signInFully(t, approver.user.email, approver.password, () => clock.at);
    const session = { cookie: signedIn.cookie.split('=')[1]!, csrf: signedIn.csrf };
    clock.at += 10 * 60_000;
    expect((await as(session, 'POST', `/api/v1/approvals/${made.approval.id}/approve`, {})).json().error.code).toBe('auth.step_up_required');
    const { totpCode } = await import('../src/modules/mfa/totp.js');
    expect((await as(session, 'POST', '/api/v1/auth/step-up', { code: await totpCode(signedIn.secret!, Math.floor(clock.at / 1000)) })).statusCode).toBe(200);
    const approved = await as(session, 'POST', `/api/v1/approvals/${made.approval.id}/approve`, { note: 'ok for the fair' });
    expect(approved.statusCode, approved.body).toBe(200);

    const ready = (await t.call('GET', `/api/v1/exports/${made.id}`, { token: requester.token })).json();
    expect(ready).toMatchObject({ status: 'ready', approval: { status: 'approved' } });
    expect(new Date(ready.downloadExpiresAt).getTime()).toBe(clock.at + 24 * 3_600_000);
    const file = await download(requester, made.id);
    expect(file.statusCode, file.body).toBe(200);
    expect(file.body).toContain('Big0');
    expect((await download(requester, made.id)).json().error.code).toBe('export.already_downloaded');
    expect((await t.call('GET', `/api/v1/approvals/${made.approval.id}`, { token: requester.token })).json().status).toBe('used');
  });

  it('reflects a denial, a cancellation and the lapse of time in the export', async () => {
    const requester = await t.makeUser({ roles: ['admin'] });
    const officer = await t.makeUser({ roles: ['security_officer'] });
    const signedIn = await signInFully(t, officer.user.email, officer.password, () => clock.at);
    const session = { cookie: signedIn.cookie.split('=')[1]!, csrf: signedIn.csrf };
    const denied = (await ask(requester, {})).json();
    expect((await as(session, 'POST', `/api/v1/approvals/${denied.approval.id}/deny`, { note: 'Use the filtered list' })).statusCode).toBe(200);
    expect((await t.call('GET', `/api/v1/exports/${denied.id}`, { token: requester.token })).json()).toMatchObject({ status: 'denied', approval: { status: 'denied' } });
    expect((await download(requester, denied.id)).json().error.code).toBe('export.not_ready');

    const cancelled = (await ask(requester, {})).json();
    expect((await t.call('POST', `/api/v1/exports/${cancelled.id}/cancel`, { token: officer.token })).json().error.code).toBe('export.not_found');
    const res = await t.call('POST', `/api/v1/exports/${cancelled.id}/cancel`, { token: requester.token });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'cancelled', approval: { status: 'cancelled' } });
    expect((await as(session, 'POST', `/api/v1/approvals/${cancelled.approval.id}/approve`, {})).json().error.code).toBe('approval.not_pending');
    expect((await audit('export.cancelled')).some((e) => e.record_ids.includes(cancelled.id))).toBe(true);

    const small = (await ask(requester, { query: { city: 'Smallville' } })).json();
    const waiting = (await ask(requester, {})).json();
    clock.at += 24 * 3_600_000 + 1000;
    expect((await t.call('GET', `/api/v1/exports/${small.id}`, { token: requester.token })).json().status).toBe('expired');
    const late = await download(requester, small.id);
    expect(late.statusCode).toBe(410);
    expect(late.json().error.code).toBe('export.download_expired');
    clock.at += 7 * 86_400_000;
    expect((await t.call('GET', `/api/v1/exports/${waiting.id}`, { token: requester.token })).json()).toMatchObject({ status: 'expired', approval: { status: 'expired' } });
  });

  it('shows people their own exports; those who oversee exports see everyone’s', async () => {
    const first = await t.makeUser({ roles: ['admin'] });
    const second = await t.makeUser({ roles: ['manager'] });
    const auditor = await t.makeUser({ roles: ['auditor'] });
    const mine = (await ask(first, { query: { city: 'Smallville' } })).json();
    const theirs = (await ask(second, { query: { city: 'Smallville' } })).json();
    const listOf = async (who: Maker, query = '') => ((await t.call('GET', `/api/v1/exports${query}`, { token: who.token })).json().items as { id: string }[]).map((e) => e.id);
    expect(await listOf(second)).toContain(theirs.id);
    expect(await listOf(second)).not.toContain(mine.id);
    expect((await t.call('GET', `/api/v1/exports/${mine.id}`, { token: second.token })).json().error.code).toBe('export.not_found');
    expect(await listOf(auditor)).toEqual(expect.arrayContaining([mine.id, theirs.id]));
    expect(await listOf(first, '?mine=true')).not.toContain(theirs.id);
    const paged = (await t.call('GET', '/api/v1/exports?limit=1', { token: auditor.token })).json();
    expect(paged.items).toHaveLength(1);
    const next = (await t.call('GET', `/api/v1/exports?limit=1&cursor=${paged.nextCursor}`, { token: auditor.token })).json();
    expect(next.items[0].id).not.toBe(paged.items[0].id);
  });

  it('counts list pages read against the daily allowance, refuses past it, and starts again the next UTC day', async () => {
    clock.at = Date.UTC(2026, 11, 20, 8, 0, 0);
    const reader = await t.makeUser({ roles: ['admin'] });
    const small = (await ask(reader, { query: { city: 'Smallville' } })).json();
    expect((await download(reader, small.id)).statusCode).toBe(200);
    // 3 exported; two pages of 12 make 27 of the 30.
    for (let i = 0; i < 2; i++) expect((await t.call('GET', '/api/v1/contacts?limit=200', { token: reader.token })).statusCode).toBe(200);
    const refused = await t.call('GET', '/api/v1/contacts?limit=200', { token: reader.token });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('export.daily_cap_reached');
    expect(refused.json().error.message).toMatch(/counts as an export/);
    const capReached = (await audit('export.cap_reached')).at(-1)!;
    expect(capReached.outcome).toBe('denied');
    expect(JSON.parse(capReached.details)).toMatchObject({ via: 'list', dailyRows: 30 });
    // An export would take the day past its allowance too.
    expect((await ask(reader, { query: { city: 'Smallville' } })).json().error.code).toBe('export.daily_cap_reached');
    // Someone else's reading is their own.
    const other = await t.makeUser({ roles: ['admin'] });
    expect((await t.call('GET', '/api/v1/contacts?limit=200', { token: other.token })).statusCode).toBe(200);

    clock.at += 86_400_000;
    expect((await t.call('GET', '/api/v1/contacts?limit=200', { token: reader.token })).statusCode).toBe(200);
  });

  it('counts the related-records pages too, so a capped reader cannot page through a company\'s contacts instead', async () => {
    clock.at = Date.UTC(2026, 11, 22, 8, 0, 0);
    const company = await createRecords(t.deps, cliContext('test'), 'companies', [{ name: 'Smallville Fair Ltd' }]);
    const companyId = (company[0] as { ok: true; id: string }).id;
    const people = await createRecords(t.deps, cliContext('test'), 'contacts', Array.from({ length: 20 }, (_, i) => ({ firstName: `Fair${i}`, lastName: 'Goer', companyId })));
    expect(people.every((r) => r.ok)).toBe(true);
    const reader = await t.makeUser({ roles: ['admin'] });
    // 20 of the 30 through the company's page, then the next page of the list goes past.
    expect((await t.call('GET', `/api/v1/companies/${companyId}/contacts?limit=200`, { token: reader.token })).statusCode).toBe(200);
    const refused = await t.call('GET', `/api/v1/companies/${companyId}/contacts?limit=200`, { token: reader.token });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('export.daily_cap_reached');
    expect((await t.call('GET', '/api/v1/contacts?limit=5', { token: reader.token })).json().error.code).toBe('export.daily_cap_reached');
    // The fair's contacts go to the trash, so the counts the other tests expect stay as seeded.
    const ids = people.map((r) => (r as { ok: true; id: string }).id);
    await sql`update contacts set deleted_at = ${new Date(clock.at).toISOString()} where id in (${sql.join(ids)})`.execute(t.deps.db);
  });

  it('estimates an export before it is asked for, with the same checks as a request, writing and auditing nothing', async () => {
    const admin = await t.makeUser({ roles: ['admin'] });
    const seller = await t.makeUser({ roles: ['sales'] });
    const estimate = (who: Maker | null, body: Record<string, unknown>) => t.call('POST', '/api/v1/exports/estimate', { ...(who ? { token: who.token } : {}), body });
    const entries = async () => Number((await sql<{ n: number }>`select count(*) as n from audit_entries`.execute(t.deps.db)).rows[0]!.n);
    const tallies = async () => Number((await sql<{ n: number }>`select count(*) as n from export_tallies`.execute(t.deps.db)).rows[0]!.n);
    const before = { exports: await exportCount(), entries: await entries(), tallies: await tallies() };

    const small = await estimate(admin, { type: 'contacts', query: { city: 'Smallville', q: 'ada@small.example.com' } });
    expect(small.statusCode, small.body).toBe(200);
    expect(small.json()).toEqual({ rows: 1, maxRows: 20, approvalAboveRows: 5, dailyRowsLeft: 30, needsApproval: false, overCap: false });
    expect((await estimate(admin, { type: 'contacts' })).json()).toEqual({ rows: 12, maxRows: 20, approvalAboveRows: 5, dailyRowsLeft: 30, needsApproval: true, overCap: false });
    expect({ exports: await exportCount(), entries: await entries(), tallies: await tallies() }).toEqual(before);

    // Counted only up to one past the caller's cap.
    const grant = { contacts: { actions: { read: 'all', export: 'all' }, fields: {} } };
    const made = await t.call('POST', '/api/v1/roles', { token: admin.token, body: { id: 'estimate_tight', name: 'estimate_tight', description: 'Exports', definition: { records: grant, permissions: [], exports: { maxRows: 4, approvalAboveRows: 2 } } } });
    expect(made.statusCode, made.body).toBe(201);
    const tight = await t.makeUser({ roles: ['estimate_tight'] });
    expect((await estimate(tight, { type: 'contacts' })).json()).toEqual({ rows: 5, maxRows: 4, approvalAboveRows: 2, dailyRowsLeft: 30, needsApproval: true, overCap: true });

    // The day's allowance: what was exported and read counts.
    const ready = (await ask(admin, { query: { city: 'Smallville' } })).json();
    expect((await download(admin, ready.id)).statusCode).toBe(200);
    expect((await estimate(admin, { type: 'contacts' })).json()).toMatchObject({ dailyRowsLeft: 27, overCap: false });
    for (let i = 0; i < 2; i++) expect((await t.call('GET', '/api/v1/contacts?limit=200', { token: admin.token })).statusCode).toBe(200);
    expect((await estimate(admin, { type: 'contacts' })).json()).toMatchObject({ rows: 12, dailyRowsLeft: 3, overCap: true });

    // Refused as a request is.
    expect((await estimate(seller, { type: 'contacts' })).json().error.code).toBe('auth.forbidden');
    expect((await estimate(null, { type: 'contacts' })).statusCode).toBe(401);
    expect((await estimate(admin, { type: 'planets' })).json().error.code).toBe('request.invalid');
    expect((await estimate(admin, { type: 'contacts', reason: 'x' })).json().error.code).toBe('request.invalid');
    expect((await estimate(admin, { type: 'contacts', query: { shoeSize: '44' } })).statusCode).toBe(400);
    expect((await estimate(admin, { type: 'contacts', query: { trash: 'true' } })).json().error.code).toBe('export.invalid_request');
    await startLockdown(t.deps, cliContext('test'), { reason: 'drill' });
    forgetContainment();
    try {
      expect((await estimate(admin, { type: 'contacts' })).json().error.code).toBe('system.lockdown');
    } finally {
      await liftLockdown(t.deps, cliContext('test'));
      forgetContainment();
    }
    expect((await estimate(admin, { type: 'contacts' })).statusCode).toBe(200);

    // The static path is not taken for an export id, nor an export id for it.
    const byId = await t.call('GET', '/api/v1/exports/estimate', { token: admin.token });
    expect(byId.statusCode).toBe(404);
    expect(byId.json().error.code).toBe('export.not_found');
    expect((await t.call('GET', `/api/v1/exports/${ready.id}`, { token: admin.token })).json().id).toBe(ready.id);
    expect((await t.call('POST', `/api/v1/exports/${ready.id}/cancel`, { token: admin.token })).json().error.code).toBe('export.not_ready');
  });

  it('keeps the query sealed to its export: filter values are not stored readable, and a query moved to another export does not open', async () => {
    const admin = await t.makeUser({ roles: ['admin'] });
    const storedQuery = async (id: string) => (await sql<{ query: string }>`select query from exports where id = ${id}`.execute(t.deps.db)).rows[0]!.query;
    const first = (await ask(admin, { query: { city: 'Smallville', q: 'ada@small.example.com' } })).json();
    expect(first.rows).toBe(1);
    const sealed = await storedQuery(first.id);
    expect(sealed).toMatch(/^w1\./);
    expect(sealed).not.toContain('Smallville');
    expect(sealed).not.toContain('ada@');
    const file = await download(admin, first.id);
    expect(file.statusCode, file.body).toBe(200);
    expect(file.body).toContain('Ada');
    expect(file.body).not.toContain('Grace');

    // Another export's sealed query, copied in, does not open as this one's.
    const second = (await ask(admin, { query: { city: 'Smallville' } })).json();
    await sql`update exports set query = ${sealed} where id = ${second.id}`.execute(t.deps.db);
    const moved = await download(admin, second.id);
    expect(moved.statusCode).toBe(500);
    expect(moved.json().error.code).toBe('data.integrity_failed');
    expect(moved.body).not.toContain('ada@');
    expect((await t.call('GET', `/api/v1/exports/${second.id}`, { token: admin.token })).json().status).toBe('ready');

    // A query stored as plain JSON, before queries were sealed, still reads.
    const third = (await ask(admin, { query: { city: 'Smallville' } })).json();
    await sql`update exports set query = ${JSON.stringify({ filters: { city: 'Smallville' } })} where id = ${third.id}`.execute(t.deps.db);
    const plain = await download(admin, third.id);
    expect(plain.statusCode, plain.body).toBe(200);
    expect(plain.body).toContain('Hedy');
  });

  it('takes caps only from the roles that grant the export: a role without that right does not loosen them', async () => {
    const admin = await t.makeUser({ roles: ['admin'] });
    const estimate = (who: Maker) => t.call('POST', '/api/v1/exports/estimate', { token: who.token, body: { type: 'contacts' } });
    const grant = (actions: Record<string, string>) => ({ contacts: { actions, fields: {} } });
    const role = async (id: string, records: unknown, exports?: Record<string, number>) => {
      const made = await t.call('POST', '/api/v1/roles', { token: admin.token, body: { id, name: id, description: 'Exports', definition: { records, permissions: [], ...(exports ? { exports } : {}) } } });
      expect(made.statusCode, made.body).toBe(201);
    };
    // Stricter than the configured 20 per export, 5 before approval, 30 a day.
    await role('intern_exports', grant({ read: 'all', export: 'all' }), { maxRows: 10, approvalAboveRows: 2, dailyRows: 25 });
    await role('reader_no_export', grant({ read: 'all', update: 'all' }));
    await role('plain_exporter', grant({ read: 'all', export: 'all' }));

    const intern = await t.makeUser({ roles: ['intern_exports', 'reader_no_export', 'sales'] });
    expect((await estimate(intern)).json()).toMatchObject({ maxRows: 10, approvalAboveRows: 2, overCap: true });
    const refused = await ask(intern, {});
    expect(refused.statusCode, refused.body).toBe(422);
    expect(refused.json().error.code).toBe('export.too_many_rows');
    expect((await ask(intern, { query: { city: 'Smallville' } })).json()).toMatchObject({ rows: 3, status: 'pending_approval' });

    // A second role that grants the export without caps of its own counts with the configured ones.
    const both = await t.makeUser({ roles: ['intern_exports', 'reader_no_export', 'plain_exporter'] });
    expect((await estimate(both)).json()).toMatchObject({ maxRows: 20, approvalAboveRows: 5, overCap: false });
  });

  it('keeps downloads at once within the day: those that fit are written, the rest refused and left ready', async () => {
    clock.at = Date.UTC(2026, 11, 29, 8, 0, 0);
    const admin = await t.makeUser({ roles: ['admin'] });
    const grant = { contacts: { actions: { read: 'all', export: 'all' }, fields: {} } };
    const made = await t.call('POST', '/api/v1/roles', { token: admin.token, body: { id: 'ten_a_day', name: 'ten_a_day', description: 'Exports', definition: { records: grant, permissions: [], exports: { dailyRows: 10 } } } });
    expect(made.statusCode, made.body).toBe(201);
    const user = await t.makeUser({ roles: ['ten_a_day'] });
    // Five ready exports of 3 rows: 15 together, past the 10 a day; three fit.
    const exports: { id: string; rows: number; status: string }[] = [];
    for (let i = 0; i < 5; i++) exports.push((await ask(user, { query: { city: 'Smallville' } })).json());
    expect(exports.every((e) => e.status === 'ready' && e.rows === 3)).toBe(true);

    const answers = await Promise.all(exports.map((e) => download(user, e.id)));
    const written = answers.filter((a) => a.statusCode === 200);
    const refused = answers.filter((a) => a.statusCode !== 200);
    expect(written).toHaveLength(3);
    expect(refused).toHaveLength(2);
    for (const a of refused) expect(a.json().error.code).toBe('export.daily_cap_reached');
    const tally = await t.deps.db.selectFrom('export_tallies').select(['exported_rows', 'read_rows']).where('user_id', '=', user.user.id).executeTakeFirstOrThrow();
    expect(Number(tally.exported_rows) + Number(tally.read_rows)).toBe(9);

    // A refused download was rolled back whole: still ready, and its refusal audited.
    const statuses = await Promise.all(exports.map(async (e) => (await t.call('GET', `/api/v1/exports/${e.id}`, { token: user.token })).json().status as string));
    expect(statuses.filter((st) => st === 'downloaded')).toHaveLength(3);
    expect(statuses.filter((st) => st === 'ready')).toHaveLength(2);
    const capReached = (await audit('export.cap_reached')).filter((e) => JSON.parse(e.details).via === 'export' && JSON.parse(e.details).dailyRows === 10);
    expect(capReached).toHaveLength(2);
  });
});

describe(`governed exports from the command line (${testDialect})`, { timeout: 300_000 }, () => {
  let t: TestApp;
  let dir: string;
  const cli = (...args: string[]) => runCli(['--data-dir', path.join(dir, 'data'), ...args], { env: { RAMPART_DATABASE_URL: t.testDb.url, RAMPART_KEY_FILE: t.testDb.keyFile, ...CAPS } });

  beforeAll(async () => {
    t = await createTestApp(CAPS);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-exports-'));
    await seedContacts(t);
  });
  afterAll(async () => {
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('exports as the operator with a reason, uncapped and recorded; --as applies the user’s caps and approval', async () => {
    const noReason = await cli('export', 'contacts', '--out', path.join(dir, 'none.csv'));
    expect(noReason.code).not.toBe(0);
    expect(noReason.stderr).toMatch(/--reason/);

    const out = path.join(dir, 'all.json');
    const operator = await cli('export', 'contacts', '--out', out, '--format', 'json', '--reason', 'Migration check', '--json');
    expect(operator.code, operator.stderr).toBe(0);
    const written = JSON.parse(operator.stdout);
    expect(written).toMatchObject({ status: 'downloaded', rows: 12, rowsWritten: 12, format: 'json' });
    expect(written.requestedBy.label).toMatch(/^operator:/);
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    expect(Array.isArray(JSON.parse(fs.readFileSync(out, 'utf8')))).toBe(true);
    expect((await cli('export', 'contacts', '--out', out, '--reason', 'again')).code).toBe(1);

    const manager = await t.makeUser({ roles: ['admin'] });
    const approver = await t.makeUser({ roles: ['security_officer'] });
    const pending = await cli('--as', manager.user.email, 'export', 'contacts', '--out', path.join(dir, 'big.csv'), '--reason', 'Board pack', '--json');
    expect(pending.code, pending.stderr).toBe(3);
    const request = JSON.parse(pending.stdout);
    expect(request).toMatchObject({ status: 'pending_approval', rows: 12, requestedBy: { id: manager.user.id, label: manager.user.email } });
    expect(fs.existsSync(path.join(dir, 'big.csv'))).toBe(false);

    const listed = await cli('export', 'list', '--json');
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).map((e: { id: string }) => e.id)).toEqual(expect.arrayContaining([written.id, request.id]));

    expect(JSON.parse((await cli('--as', manager.user.email, 'export', 'approve', request.id, '--json')).stderr).error.code).toBe('approval.own_request');
    const approved = await cli('--as', approver.user.email, 'export', 'approve', request.id, '--note', 'fine');
    expect(approved.code, approved.stderr).toBe(0);
    const fetched = await cli('--as', manager.user.email, 'export', 'download', request.id, '--out', path.join(dir, 'big.csv'), '--json');
    expect(fetched.code, fetched.stderr).toBe(0);
    expect(JSON.parse(fetched.stdout)).toMatchObject({ status: 'downloaded', rowsWritten: 12 });
    const twice = await cli('--as', manager.user.email, 'export', 'download', request.id, '--out', path.join(dir, 'big2.csv'), '--json');
    expect(twice.code).toBe(1);
    expect(JSON.parse(twice.stderr).error.code).toBe('export.already_downloaded');

    const denied = await cli('--as', manager.user.email, 'export', 'deals', '--out', path.join(dir, 'deals.csv'), '--reason', 'x');
    expect(denied.code, denied.stderr).toBe(0);
    const another = JSON.parse((await cli('--as', manager.user.email, 'export', 'contacts', '--out', path.join(dir, 'c.csv'), '--reason', 'Again', '--json')).stdout);
    expect((await cli('export', 'deny', another.id)).code).toBe(0);
    expect((await t.call('GET', `/api/v1/exports/${another.id}`, { token: manager.token })).json().status).toBe('denied');
    // The operator, who is no user, is kept as the decider by name.
    const decision = (await t.call('GET', `/api/v1/approvals/${another.approval.id}`, { token: manager.token })).json();
    expect(decision.decidedBy.id).toMatch(/^operator:./);
    expect(decision.decidedBy.name).toBe(decision.decidedBy.id);

    // The file, with rows deleted, still names its exporter.
    const found = path.join(dir, 'found.csv');
    const lines = fs.readFileSync(path.join(dir, 'big.csv'), 'utf8').trim().split('\n');
    fs.writeFileSync(found, [lines[0], ...lines.slice(1).filter((_, i) => i % 3 !== 0)].join('\n') + '\n');
    const traced = await cli('export', 'trace', found, '--json');
    expect(traced.code, traced.stderr).toBe(0);
    expect(JSON.parse(traced.stdout).candidates[0]).toMatchObject({ exportId: request.id, exporter: manager.user.email });
    fs.writeFileSync(path.join(dir, 'plain.csv'), 'firstName,lastName\nAda,Lovelace\n');
    expect((await cli('export', 'trace', path.join(dir, 'plain.csv'))).code).toBe(4);

    const help = await cli('export', '--help');
    expect(help.code).toBe(0);
    for (const sub of ['contacts', 'companies', 'deals', 'list', 'approve', 'deny', 'download', 'trace']) expect(help.stdout).toContain(sub);
  });
});
