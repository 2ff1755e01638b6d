import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../src/modules/mfa/totp.js';
import { approveRequest, consumeApproval, denyRequest, payloadHash, requestApproval } from '../src/modules/approvals/approvals.service.js';
import { inTransaction } from '../src/data/record-store.js';
import { migrateTo } from '../src/db/migrator.js';
import { cliContext, type ActorContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';
import { createTestDatabase, testDialect } from './support/database.js';
import { cookieClient, signInFully } from './support/sign-in.js';

/** A clock the test moves: approvals lapse, and second factors count for five minutes. */
const clock = { at: Date.UTC(2026, 11, 1, 9, 0, 10), now: () => new Date(clock.at) };
const seconds = () => Math.floor(clock.at / 1000);

type Maker = Awaited<ReturnType<TestApp['makeUser']>>;

/** The principal of a user's API token, as the HTTP layer would make it. */
function tokenCtx(made: Maker): ActorContext {
  return { principal: { kind: 'token', userId: made.user.id, email: made.user.email, roles: made.user.roles, teamId: made.user.teamId, tokenId: 'test', scopes: ['*:write'] }, channel: 'api', requestId: null, sourceAddress: null, userAgent: null };
}

const EXPORT_SUMMARY = { type: 'contacts', rows: 4200, format: 'csv' };

describe(`approvals (${testDialect})`, () => {
  let t: TestApp;
  const { as } = cookieClient(() => t);

  beforeAll(async () => {
    t = await createTestApp({ RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000' }, { clock });
  });
  afterAll(async () => {
    await t.close();
  });

  /** Signs a decider in (a person, with a second factor just given) and answers how they decide. */
  const signedInDecider = async (made: Maker) => {
    const signedIn = await signInFully(t, made.user.email, made.password, () => clock.at);
    const headers = { cookie: signedIn.cookie, 'x-csrf-token': signedIn.csrf };
    return (verb: 'approve' | 'deny', id: string, body?: Record<string, unknown>) => t.call('POST', `/api/v1/approvals/${id}/${verb}`, { headers, ...(body ? { body } : {}) });
  };

  const ask = (made: Maker, payload: unknown = { n: Math.random() }) =>
    requestApproval(t.deps, tokenCtx(made), { kind: 'export', summary: EXPORT_SUMMARY, payloadHash: payloadHash(payload), recordCount: 4200, reason: 'Quarterly mailing for Mr. Example <a@b.c>' });

  it('is asked for with a reason, seen by its requester and the deciders, and audited without the reason', async () => {
    const seller = await t.makeUser({ roles: ['manager'] });
    const other = await t.makeUser({ roles: ['manager'] });
    const officer = await t.makeUser({ roles: ['security_officer'] });
    const request = await ask(seller);
    expect(request).toMatchObject({ kind: 'export', status: 'pending', requestedBy: { id: seller.user.id, name: seller.user.name }, recordCount: 4200, summary: EXPORT_SUMMARY, decidedBy: null });
    expect(new Date(request.expiresAt).getTime()).toBe(clock.at + 7 * 86_400_000);

    expect((await t.call('GET', `/api/v1/approvals/${request.id}`, { token: seller.token })).json().reason).toBe('Quarterly mailing for Mr. Example <a@b.c>');
    expect((await t.call('GET', `/api/v1/approvals/${request.id}`, { token: officer.token })).statusCode).toBe(200);
    expect((await t.call('GET', `/api/v1/approvals/${request.id}`, { token: other.token })).json().error.code).toBe('approval.not_found');
    const mine = (await t.call('GET', '/api/v1/approvals', { token: other.token })).json();
    expect(mine.items.map((i: { id: string }) => i.id)).not.toContain(request.id);
    const all = (await t.call('GET', '/api/v1/approvals?status=pending', { token: officer.token })).json();
    expect(all.items.map((i: { id: string }) => i.id)).toContain(request.id);

    const entries = (await sql<{ action: string; details: string }>`select action, details from audit_entries where record_ids like ${`%${request.id}%`}`.execute(t.deps.db)).rows;
    expect(entries.map((e) => e.action)).toEqual(['approval.requested']);
    expect(entries[0]!.details).not.toContain('Example');

    await expect(requestApproval(t.deps, tokenCtx(seller), { kind: 'export', summary: {}, payloadHash: payloadHash(1), recordCount: 1, reason: '   ' })).rejects.toMatchObject({ code: 'approval.invalid_request' });
    await expect(requestApproval(t.deps, tokenCtx(seller), { kind: 'export', summary: {}, payloadHash: payloadHash(1), recordCount: 1, reason: 'x'.repeat(501) })).rejects.toMatchObject({ code: 'approval.invalid_request' });
  });

  it('is decided only by a holder of approvals.decide who is not the requester', async () => {
    const officer = await t.makeUser({ roles: ['security_officer'] });
    const manager = await t.makeUser({ roles: ['manager'] });
    const readOnly = await t.makeUser({ roles: ['admin'], scopes: ['*:read'] });
    const decide = await signedInDecider(officer);
    const own = await ask(officer);
    const refusedOwn = await decide('approve', own.id, {});
    expect(refusedOwn.statusCode).toBe(403);
    expect(refusedOwn.json().error.code).toBe('approval.own_request');

    const request = await ask(manager);
    expect((await t.call('POST', `/api/v1/approvals/${request.id}/approve`, { token: manager.token, body: {} })).json().error.code).toBe('auth.forbidden');
    // Nor through a token, whatever its scopes.
    expect((await t.call('POST', `/api/v1/approvals/${request.id}/approve`, { token: readOnly.token, body: {} })).json().error.code).toBe('auth.forbidden');
    expect((await t.call('GET', `/api/v1/approvals/${request.id}`, { token: manager.token })).json().status).toBe('pending');

    const denied = await decide('deny', request.id, { note: 'Not this quarter' });
    expect(denied.statusCode, denied.body).toBe(200);
    expect(denied.json()).toMatchObject({ status: 'denied', decidedBy: { id: officer.user.id }, decisionNote: 'Not this quarter' });
    const again = await decide('approve', request.id, {});
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('approval.not_pending');
    expect((await t.call('POST', `/api/v1/approvals/${request.id}/cancel`, { token: manager.token })).json().error.code).toBe('approval.not_pending');
    expect((await decide('approve', 'not-an-id', {})).json().error.code).toBe('approval.not_found');
    // A decision needs no body at all.
    const plain = await ask(manager);
    const bare = await decide('deny', plain.id);
    expect(bare.statusCode, bare.body).toBe(200);
    expect(bare.json().decisionNote).toBeNull();
  });

  it('is decided by a person, never through an API token, however its holder is entitled', async () => {
    const requester = await t.makeUser({ roles: ['manager'] });
    const officer = await t.makeUser({ roles: ['security_officer'] });
    const request = await ask(requester);
    for (const verb of ['approve', 'deny']) {
      const refused = await t.call('POST', `/api/v1/approvals/${request.id}/${verb}`, { token: officer.token, body: { note: 'scripted' } });
      expect(refused.statusCode, refused.body).toBe(403);
      expect(refused.json().error).toMatchObject({ code: 'auth.forbidden', message: 'Approvals are decided by a person signed in with a recent second factor, not by an API token' });
    }
    await expect(approveRequest(t.deps, tokenCtx(officer), request.id)).rejects.toMatchObject({ code: 'auth.forbidden' });
    await expect(denyRequest(t.deps, tokenCtx(officer), request.id)).rejects.toMatchObject({ code: 'auth.forbidden' });
    expect((await t.call('GET', `/api/v1/approvals/${request.id}`, { token: officer.token })).json()).toMatchObject({ status: 'pending', decidedBy: null });
    // The same person signed in, with a second factor just given, decides it.
    const approved = await (await signedInDecider(officer))('approve', request.id, {});
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json()).toMatchObject({ status: 'approved', decidedBy: { id: officer.user.id } });
  });

  it('asks a signed-in decider for a recent second factor before approving', async () => {
    const requester = await t.makeUser({ roles: ['manager'] });
    const officer = await t.makeUser({ roles: ['security_officer'] });
    const signedIn = await signInFully(t, officer.user.email, officer.password, () => clock.at);
    const session = { cookie: signedIn.cookie.split('=')[1]!, csrf: signedIn.csrf };
    const request = await ask(requester);
    clock.at += 6 * 60_000;
    const refused = await as(session, 'POST', `/api/v1/approvals/${request.id}/approve`, {});
    expect(refused.json().error.code).toBe('auth.step_up_required');
    expect((await as(session, 'GET', `/api/v1/approvals/${request.id}`)).json().status).toBe('pending');
    const up = await as(session, 'POST', '/api/v1/auth/step-up', { code: await totpCode(signedIn.secret!, seconds()) });
    expect(up.statusCode, up.body).toBe(200);
    const approved = await as(session, 'POST', `/api/v1/approvals/${request.id}/approve`, {});
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json().status).toBe('approved');
    expect(new Date(approved.json().expiresAt).getTime()).toBe(clock.at + 24 * 3_600_000);
  });

  it('is used once, by its requester, for exactly the payload approved, within 24 hours', async () => {
    const requester = await t.makeUser({ roles: ['manager'] });
    const stranger = await t.makeUser({ roles: ['manager'] });
    const officer = await t.makeUser({ roles: ['security_officer'] });
    const payload = { type: 'contacts', rows: 4200 };
    const request = await ask(requester, payload);
    const use = (who: Maker, hash = payloadHash(payload)) => inTransaction(t.deps, (tx) => consumeApproval(tx, tokenCtx(who), request.id, { kind: 'export', payloadHash: hash }));
    await expect(use(requester)).rejects.toMatchObject({ code: 'approval.not_pending' });
    const decide = await signedInDecider(officer);
    expect((await decide('approve', request.id, { note: 'fine' })).statusCode).toBe(200);
    await expect(use(stranger)).rejects.toMatchObject({ code: 'approval.not_found' });
    await expect(use(requester, payloadHash({ type: 'contacts', rows: 4201 }))).rejects.toMatchObject({ code: 'approval.mismatch' });
    await expect(inTransaction(t.deps, (tx) => consumeApproval(tx, tokenCtx(requester), request.id, { kind: 'bulk_delete', payloadHash: payloadHash(payload) }))).rejects.toMatchObject({ code: 'approval.mismatch' });
    expect((await use(requester)).status).toBe('used');
    await expect(use(requester)).rejects.toMatchObject({ code: 'approval.not_pending' });
    const actions = (await sql<{ action: string }>`select action from audit_entries where record_ids like ${`%${request.id}%`} order by seq`.execute(t.deps.db)).rows.map((r) => r.action);
    expect(actions).toEqual(['approval.requested', 'approval.approved', 'approval.used']);

    // An approval not used within 24 hours lapses.
    const late = await ask(requester, payload);
    expect((await decide('approve', late.id, {})).statusCode).toBe(200);
    clock.at += 24 * 3_600_000 + 1000;
    await expect(inTransaction(t.deps, (tx) => consumeApproval(tx, tokenCtx(requester), late.id, { kind: 'export', payloadHash: payloadHash(payload) }))).rejects.toMatchObject({ code: 'approval.expired' });
    expect((await t.call('GET', `/api/v1/approvals/${late.id}`, { token: requester.token })).json().status).toBe('expired');
  });

  it('lapses undecided after 7 days, and can be withdrawn by its requester only', async () => {
    const requester = await t.makeUser({ roles: ['manager'] });
    const officer = await t.makeUser({ roles: ['security_officer'] });
    const stale = await ask(requester);
    clock.at += 7 * 86_400_000;
    const decide = await signedInDecider(officer);
    const lapsed = await decide('approve', stale.id, {});
    expect(lapsed.statusCode).toBe(409);
    expect(lapsed.json().error.code).toBe('approval.expired');
    const expiredList = await t.call('GET', '/api/v1/approvals?status=expired&mine=true', { token: requester.token });
    expect(expiredList.statusCode, expiredList.body).toBe(200);
    expect(expiredList.json().items.map((i: { id: string }) => i.id)).toContain(stale.id);

    const request = await ask(requester);
    expect((await t.call('POST', `/api/v1/approvals/${request.id}/cancel`, { token: officer.token })).json().error.code).toBe('auth.forbidden');
    const cancelled = await t.call('POST', `/api/v1/approvals/${request.id}/cancel`, { token: requester.token });
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    expect(cancelled.json().status).toBe('cancelled');
    expect((await decide('approve', request.id, {})).json().error.code).toBe('approval.not_pending');
  });

  it('tells every active decider but the requester of a new request, and the requester of the decision, in the app only', async () => {
    const requester = await t.makeUser({ roles: ['security_officer'] });
    const officer = await t.makeUser({ roles: ['security_officer'] });
    const admin = await t.makeUser({ roles: ['admin'] });
    const disabled = await t.makeUser({ roles: ['security_officer'] });
    const manager = await t.makeUser({ roles: ['manager'] });
    await t.deps.db.updateTable('users').set({ status: 'disabled' }).where('id', '=', disabled.user.id).execute();
    await t.deps.db.updateTable('users').set({ locale: 'zh-CN' }).where('id', '=', requester.user.id).execute();
    const noticesOf = async (made: Maker, kind: string) =>
      (await t.deps.db.selectFrom('notices').select(['kind', 'details', 'mail_state']).where('user_id', '=', made.user.id).where('kind', '=', kind as 'approval.requested').execute()).map((n) => ({ ...n, details: JSON.parse(n.details) as Record<string, unknown> }));
    const shown = async (made: Maker) => (await t.call('GET', '/api/v1/notices', { token: made.token })).json().items as { kind: string; title: string; body: string }[];

    const request = await ask(requester);
    for (const decider of [officer, admin]) {
      const [notice, ...more] = await noticesOf(decider, 'approval.requested');
      expect(more).toHaveLength(0);
      expect(notice!.details).toMatchObject({ approvalId: request.id, kind: 'export', recordCount: 4200, type: 'contacts', requester: requester.user.name });
      expect(notice!.mail_state).toBe('sent');
    }
    for (const nobody of [requester, disabled, manager]) expect(await noticesOf(nobody, 'approval.requested')).toHaveLength(0);
    const inbox = (await shown(officer)).find((n) => n.kind === 'approval.requested')!;
    expect(inbox.title).toBe('Approval requested: an export of 4,200 contacts');
    expect(inbox.body).toContain(requester.user.name);
    expect(JSON.stringify(inbox)).not.toContain('Example');

    const denied = await (await signedInDecider(officer))('deny', request.id, { note: 'Not for Mr. Example' }).then((r) => r.json());
    expect(denied.status).toBe('denied');
    const [decided] = await noticesOf(requester, 'approval.decided');
    expect(decided!.details).toMatchObject({ approvalId: request.id, kind: 'export', outcome: 'denied', recordCount: 4200, type: 'contacts' });
    expect(JSON.stringify(decided!.details)).not.toContain('Example');
    expect(decided!.mail_state).toBe('sent');
    expect((await shown(requester)).find((n) => n.kind === 'approval.decided')!.title).toBe('已拒绝：导出 4,200 条联系人');

    // Approved by the command-line operator, who is kept by name; the requester may now do it.
    const second = await ask(manager);
    const approved = await approveRequest(t.deps, cliContext('ops'), second.id, null);
    expect(approved).toMatchObject({ status: 'approved', decidedBy: { id: 'operator:ops', name: 'operator:ops' } });
    expect((await t.call('GET', `/api/v1/approvals/${second.id}`, { token: manager.token })).json().decidedBy).toEqual({ id: 'operator:ops', name: 'operator:ops' });
    const told = (await shown(manager)).find((n) => n.kind === 'approval.decided')!;
    expect(told.title).toBe('Approved: an export of 4,200 contacts');
    expect(told.body).toContain('download it, once, within 24 hours');
  });

  it('writes no notice when the request is refused', async () => {
    const requester = await t.makeUser({ roles: ['manager'] });
    const officer = await t.makeUser({ roles: ['security_officer'] });
    const count = async () => (await t.deps.db.selectFrom('notices').select('id').where('user_id', '=', officer.user.id).execute()).length;
    const before = await count();
    await expect(requestApproval(t.deps, tokenCtx(requester), { kind: 'export', summary: EXPORT_SUMMARY, payloadHash: payloadHash(1), recordCount: 1, reason: '' })).rejects.toMatchObject({ code: 'approval.invalid_request' });
    // A failure after the notices were written rolls them back with the request.
    await expect(
      inTransaction(t.deps, async (tx) => {
        await requestApproval(tx, tokenCtx(requester), { kind: 'export', summary: EXPORT_SUMMARY, payloadHash: payloadHash(2), recordCount: 1, reason: 'why' });
        expect((await tx.db.selectFrom('notices').select('id').where('user_id', '=', officer.user.id).execute()).length).toBe(before + 1);
        throw new Error('stop');
      }),
    ).rejects.toThrow('stop');
    expect(await count()).toBe(before);
  });

  it('is refused to the command-line operator acting as nobody', async () => {
    const ctx: ActorContext = { principal: { kind: 'cli', operator: 'ops', userId: null }, channel: 'cli', requestId: null, sourceAddress: null, userAgent: null };
    await expect(requestApproval(t.deps, ctx, { kind: 'export', summary: {}, payloadHash: payloadHash(1), recordCount: 1, reason: 'why' })).rejects.toMatchObject({ code: 'approval.invalid_request' });
  });
});

describe(`approvals.decide on an existing database (${testDialect})`, () => {
  it('is given to the administrator and security officer as shipped, and not to a changed definition', async () => {
    const db = await createTestDatabase({ migrateTo: '0019-security-officer' });
    try {
      // The permissions as shipped before approvals existed, written out.
      const before = {
        admin: ['alerts.handle', 'backups.manage', 'incidents.handle', 'keys.manage', 'pipelines.manage', 'roles.manage', 'settings.manage', 'tags.manage', 'teams.manage', 'users.manage', 'users.read'],
        security_officer: ['alerts.handle', 'incidents.handle', 'audit.read', 'users.read'],
      };
      for (const [id, permissions] of Object.entries(before)) {
        const row = await db.database.db.selectFrom('roles').select('definition').where('id', '=', id).executeTakeFirstOrThrow();
        await db.database.db.updateTable('roles').set({ definition: JSON.stringify({ ...JSON.parse(row.definition), permissions }) }).where('id', '=', id).execute();
      }
      await db.database.db.updateTable('roles').set({ definition: JSON.stringify({ records: {}, permissions: ['users.read'] }) }).where('id', '=', 'manager').execute();
      expect(await migrateTo(db.database, '0020-approvals-exports')).toContain('0020-approvals-exports');
      for (const [id, permissions] of Object.entries(before)) {
        const row = await db.database.db.selectFrom('roles').select('definition').where('id', '=', id).executeTakeFirstOrThrow();
        expect(JSON.parse(row.definition).permissions).toEqual([permissions[0], 'approvals.decide', ...permissions.slice(1)]);
      }
      const manager = await db.database.db.selectFrom('roles').select('definition').where('id', '=', 'manager').executeTakeFirstOrThrow();
      expect(JSON.parse(manager.definition).permissions).toEqual(['users.read']);
    } finally {
      await db.cleanup();
    }
  });
});

