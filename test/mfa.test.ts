import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetMfa } from '../src/modules/mfa/mfa.service.js';
import { totpCode } from '../src/modules/mfa/totp.js';
import { keyStatus, rotateKek } from '../src/data/key-rotation.js';
import { createRecords } from '../src/data/record-store.js';
import { cliContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';
import { cookieClient, type CookieSession } from './support/sign-in.js';

/** A clock the test moves: second factors are about time. */
const clock = { at: Date.UTC(2026, 10, 29, 9, 0, 10), now: () => new Date(clock.at) };
const seconds = () => Math.floor(clock.at / 1000);

describe('second factors', () => {
  let t: TestApp;
  beforeAll(async () => {
    // The per-process request limit is raised out of the way; the shared sign-in limits still apply.
    t = await createTestApp({ RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000' }, { clock });
  });
  afterAll(async () => t.close());

  const { as, sessionOf } = cookieClient(() => t);

  const signIn = async (email: string, password: string): Promise<CookieSession> => {
    const res = await as(null, 'POST', '/api/v1/auth/login', { email, password });
    expect(res.statusCode, res.body).toBe(200);
    return sessionOf(res);
  };

  /** An administrator (whose role requires a second factor) with an authenticator app set up. */
  const enrolledAdmin = async () => {
    const admin = await t.makeUser({ roles: ['admin'] });
    const partial = await signIn(admin.user.email, admin.password);
    const started = await as(partial, 'POST', '/api/v1/auth/mfa/totp', { label: 'Phone' });
    const { factorId, secret } = started.json();
    const confirmed = await as(partial, 'POST', '/api/v1/auth/mfa/totp/confirm', { factorId, code: await totpCode(secret, seconds()) });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    return { ...admin, secret, session: sessionOf(confirmed), recoveryCodes: confirmed.json().recoveryCodes as string[] };
  };

  it('signs in a user whose roles do not require a second factor and who has none with the password alone', async () => {
    const seller = await t.makeUser({ roles: ['sales'] });
    const session = await signIn(seller.user.email, seller.password);
    expect(session.stage).toBe('active');
    expect((await as(session, 'GET', '/api/v1/contacts')).statusCode).toBe(200);
    expect((await as(session, 'GET', '/api/v1/auth/mfa')).json()).toEqual({ required: false, totp: [], passkeys: [], recoveryCodesLeft: 0 });
  });

  it('makes a user whose role requires it set up an authenticator app before anything else, then starts a new session', async () => {
    const admin = await t.makeUser({ roles: ['admin'] });
    const partial = await signIn(admin.user.email, admin.password);
    expect(partial.stage).toBe('enrol');
    const refused = await as(partial, 'GET', '/api/v1/contacts');
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('auth.mfa_enrolment_required');
    expect((await as(partial, 'GET', '/api/v1/auth/session')).json().stage).toBe('enrol');
    expect((await as(partial, 'GET', '/api/v1/auth/mfa')).json().required).toBe(true);

    const started = await as(partial, 'POST', '/api/v1/auth/mfa/totp', { label: 'Phone' });
    expect(started.statusCode, started.body).toBe(200);
    const { factorId, secret, uri } = started.json();
    expect(uri).toContain(`secret=${secret}`);
    // The secret is kept wrapped by the KEK, never as typed into the app.
    const stored = (await sql<{ secret_wrapped: string }>`select secret_wrapped from mfa_factors where id = ${factorId}`.execute(t.deps.db)).rows[0]!;
    expect(stored.secret_wrapped).not.toContain(secret);
    expect(Buffer.from(stored.secret_wrapped, 'base64').toString('latin1')).not.toContain(secret);

    const wrong = await as(partial, 'POST', '/api/v1/auth/mfa/totp/confirm', { factorId, code: await totpCode(secret, seconds() + 600) });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error.code).toBe('auth.mfa_invalid');
    const confirmed = await as(partial, 'POST', '/api/v1/auth/mfa/totp/confirm', { factorId, code: await totpCode(secret, seconds()) });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    const codes = confirmed.json().recoveryCodes as string[];
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
    const stored10 = (await sql<{ code_hash: string }>`select code_hash from recovery_codes where user_id = ${admin.user.id}`.execute(t.deps.db)).rows;
    expect(stored10).toHaveLength(10);
    expect(JSON.stringify(stored10)).not.toContain(codes[0]!.replace('-', ''));

    // A new session with a new secret; the half-signed-in one is over.
    const full = sessionOf(confirmed);
    expect(full.stage).toBe('active');
    expect(full.cookie).not.toBe(partial.cookie);
    expect((await as(full, 'GET', '/api/v1/contacts')).statusCode).toBe(200);
    expect((await as(partial, 'GET', '/api/v1/auth/session')).statusCode).toBe(401);
  });

  it('asks for the second factor at every sign-in and accepts each code once', async () => {
    const admin = await enrolledAdmin();
    const partial = await signIn(admin.user.email, admin.password);
    expect(partial.stage).toBe('mfa');
    const refused = await as(partial, 'GET', '/api/v1/contacts');
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error.code).toBe('auth.mfa_required');
    // Someone who knows only the password cannot add a factor of their own.
    expect((await as(partial, 'POST', '/api/v1/auth/mfa/totp', {})).json().error.code).toBe('auth.mfa_required');

    // The code used to confirm the app is spent: it does not sign in again.
    const replay = await as(partial, 'POST', '/api/v1/auth/mfa/verify', { code: await totpCode(admin.secret, seconds()) });
    expect(replay.statusCode).toBe(400);
    expect(replay.json().error.code).toBe('auth.mfa_invalid');
    clock.at += 30_000;
    const code = await totpCode(admin.secret, seconds());
    const done = await as(partial, 'POST', '/api/v1/auth/mfa/verify', { code });
    expect(done.statusCode, done.body).toBe(200);
    const full = sessionOf(done);
    expect(full.stage).toBe('active');
    expect(full.cookie).not.toBe(partial.cookie);
    expect((await as(full, 'GET', '/api/v1/contacts')).statusCode).toBe(200);

    // The same code a second later, from another sign-in: refused.
    const again = await signIn(admin.user.email, admin.password);
    expect((await as(again, 'POST', '/api/v1/auth/mfa/verify', { code })).statusCode).toBe(400);
    // A recovery code works once.
    const recovered = await as(again, 'POST', '/api/v1/auth/mfa/verify', { recoveryCode: admin.recoveryCodes[0]!.toUpperCase() });
    expect(recovered.statusCode, recovered.body).toBe(200);
    const third = await signIn(admin.user.email, admin.password);
    expect((await as(third, 'POST', '/api/v1/auth/mfa/verify', { recoveryCode: admin.recoveryCodes[0] })).statusCode).toBe(400);
    expect((await as(sessionOf(recovered), 'GET', '/api/v1/auth/mfa')).json()).toMatchObject({ required: true, recoveryCodesLeft: 9 });

    const actions = (await sql<{ action: string; outcome: string }>`select action, outcome from audit_entries where actor_id = ${admin.user.id} order by seq`.execute(t.deps.db)).rows.map((r) => `${r.action}:${r.outcome}`);
    expect(actions).toEqual(expect.arrayContaining(['auth.password_accepted:success', 'auth.mfa_enrolled:success', 'auth.mfa_failed:failure', 'auth.login:success']));
  });

  it('ends a half-finished sign-in after five wrong codes', async () => {
    const admin = await enrolledAdmin();
    const partial = await signIn(admin.user.email, admin.password);
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) answers.push((await as(partial, 'POST', '/api/v1/auth/mfa/verify', { code: '000000' })).json().error.code);
    expect(answers).toEqual(['auth.mfa_invalid', 'auth.mfa_invalid', 'auth.mfa_invalid', 'auth.mfa_invalid', 'auth.session_expired', 'auth.session_expired']);
    clock.at += 30_000;
    expect((await as(partial, 'POST', '/api/v1/auth/mfa/verify', { code: await totpCode(admin.secret, seconds()) })).statusCode).toBe(401);
  });

  it('gives a session five attempts at a code however many arrive at once', async () => {
    const admin = await enrolledAdmin();
    const partial = await signIn(admin.user.email, admin.password);
    const answers = await Promise.all(Array.from({ length: 12 }, () => as(partial, 'POST', '/api/v1/auth/mfa/verify', { code: '000000' })));
    const codes = answers.map((a) => a.json().error.code);
    // Four wrong, the fifth ends the session; the rest find it over, or the account held back.
    expect(codes.filter((c) => c === 'auth.mfa_invalid').length).toBe(4);
    expect(codes.filter((c) => c === 'auth.session_expired').length).toBeGreaterThanOrEqual(1);
    expect(codes.every((c) => ['auth.mfa_invalid', 'auth.session_expired', 'auth.throttled'].includes(c))).toBe(true);
    const failed = (await sql<{ n: number }>`select count(*) as n from audit_entries where action = 'auth.mfa_failed' and actor_id = ${admin.user.id}`.execute(t.deps.db)).rows[0]!;
    expect(Number(failed.n)).toBe(5);
    await sql`delete from sign_in_failures`.execute(t.deps.db);
  });

  it('tells a session that has passed only the password nothing about the factors, and lets it add none', async () => {
    const admin = await enrolledAdmin();
    const partial = await signIn(admin.user.email, admin.password);
    expect((await as(partial, 'GET', '/api/v1/auth/mfa')).json().error.code).toBe('auth.mfa_required');
    expect((await as(partial, 'POST', '/api/v1/auth/mfa/totp/confirm', { factorId: '01a227f7-0ad8-71d6-a003-30b9e75212fc', code: '123456' })).json().error.code).toBe('auth.mfa_required');

    // A sign-in left waiting to set up a factor loses that chance once the user has set one up elsewhere.
    const fresh = await t.makeUser({ roles: ['admin'] });
    const leftOver = await signIn(fresh.user.email, fresh.password);
    const own = await signIn(fresh.user.email, fresh.password);
    const started = (await as(own, 'POST', '/api/v1/auth/mfa/totp', {})).json();
    expect((await as(own, 'POST', '/api/v1/auth/mfa/totp/confirm', { factorId: started.factorId, code: await totpCode(started.secret, seconds()) })).statusCode).toBe(200);
    const stolen = await as(leftOver, 'POST', '/api/v1/auth/mfa/totp', {});
    expect(stolen.statusCode).toBe(401);
  });

  it('asks for a second factor in the last five minutes before a reveal, a change of roles or a new token', async () => {
    const admin = await enrolledAdmin();
    const other = await t.makeUser({ roles: ['sales'] });
    const change = () => as(admin.session, 'PATCH', `/api/v1/users/${other.user.id}`, { roles: ['support'] });
    expect((await change()).statusCode).toBe(200);
    clock.at += 5 * 60_000 + 1_000;
    const stale = await change();
    expect(stale.statusCode).toBe(403);
    expect(stale.json().error.code).toBe('auth.step_up_required');
    const token = await as(admin.session, 'POST', '/api/v1/tokens', { name: 'script' });
    expect(token.json().error.code).toBe('auth.step_up_required');
    expect((await as(admin.session, 'POST', '/api/v1/roles', { id: 'helpers', name: 'Helpers', description: 'x', definition: { records: {}, permissions: [] } })).json().error.code).toBe('auth.step_up_required');

    const wrong = await as(admin.session, 'POST', '/api/v1/auth/step-up', { code: '123456' });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error.code).toBe('auth.mfa_invalid');
    const failedStepUp = (await sql<{ outcome: string }>`select outcome from audit_entries where action = 'auth.step_up' and actor_id = ${admin.user.id} order by seq desc`.execute(t.deps.db)).rows[0]!;
    expect(failedStepUp.outcome).toBe('failure');
    expect((await as(admin.session, 'POST', '/api/v1/users', { email: `made.${Date.now()}@example.com`, name: 'New Admin', password: 'a brand new passphrase', roles: ['admin'] })).json().error.code).toBe('auth.step_up_required');
    const up = await as(admin.session, 'POST', '/api/v1/auth/step-up', { code: await totpCode(admin.secret, seconds()) });
    expect(up.statusCode, up.body).toBe(200);
    expect(new Date(up.json().validUntil).getTime()).toBe(clock.at + 5 * 60_000);
    expect((await change()).statusCode).toBe(200);
    // Their sessions ended with the change of roles.
    const otherSession = await signIn(other.user.email, other.password);
    expect((await change()).statusCode).toBe(200);
    expect((await as(otherSession, 'GET', '/api/v1/contacts')).statusCode).toBe(401);

    // Five wrong step-up codes end the session: a stolen one gets no more guesses than a sign-in.
    const victim = await enrolledAdmin();
    const tries: string[] = [];
    for (let i = 0; i < 6; i++) tries.push((await as(victim.session, 'POST', '/api/v1/auth/step-up', { code: '000000' })).json().error.code);
    expect(tries).toEqual(['auth.mfa_invalid', 'auth.mfa_invalid', 'auth.mfa_invalid', 'auth.mfa_invalid', 'auth.session_expired', 'auth.session_expired']);
    expect((await as(victim.session, 'GET', '/api/v1/contacts')).statusCode).toBe(401);
    await sql`delete from sign_in_failures`.execute(t.deps.db);

    // A reveal from a browser session, by someone from support, whose role does not require a
    // second factor: they set one up to reveal.
    const agent = await t.makeUser({ roles: ['support'] });
    const session = await signIn(agent.user.email, agent.password);
    expect(session.stage).toBe('active');
    const [person] = (await createRecords(t.deps, cliContext('test'), 'contacts', [{ lastName: 'Stepped', idNumber: '110101199003070011' }])) as { id: string }[];
    const reveal = () => as(session, 'POST', `/api/v1/contacts/${person!.id}/reveal`, { fields: ['idNumber'], reason: 'Customer asked to confirm the record' });
    expect((await reveal()).json().error.code).toBe('auth.step_up_required');
    // Whoever borrowed the session cannot add their own phone without the password.
    const borrowed = await as(session, 'POST', '/api/v1/auth/mfa/totp', {});
    expect(borrowed.json().error).toMatchObject({ code: 'auth.invalid_credentials', fields: [{ field: 'password', message: 'is not your current password' }] });
    const started = (await as(session, 'POST', '/api/v1/auth/mfa/totp', { password: agent.password })).json();
    const confirmed = await as(session, 'POST', '/api/v1/auth/mfa/totp/confirm', { factorId: started.factorId, code: await totpCode(started.secret, seconds()) });
    expect(confirmed.json()).toMatchObject({ session: null });
    expect(confirmed.json().recoveryCodes).toHaveLength(10);
    expect((await reveal()).json().values).toEqual({ idNumber: '110101199003070011' });
    clock.at += 6 * 60_000;
    const late = await reveal();
    expect(late.statusCode).toBe(403);
    expect(late.json().error.code).toBe('auth.step_up_required');
    expect(late.body).not.toContain('110101199003070011');
  });

  it("lets an administrator reset another user's second factors, which ends their sessions and makes them set up a new one", async () => {
    const admin = await enrolledAdmin();
    const lost = await enrolledAdmin();
    clock.at += 30_000;
    await as(admin.session, 'POST', '/api/v1/auth/step-up', { code: await totpCode(admin.secret, seconds()) });
    expect((await as(admin.session, 'POST', `/api/v1/users/${admin.user.id}/mfa/reset`)).json().error.code).toBe('auth.forbidden');
    const reset = await as(admin.session, 'POST', `/api/v1/users/${lost.user.id}/mfa/reset`);
    expect(reset.statusCode, reset.body).toBe(200);
    expect(reset.json()).toEqual({ factorsRemoved: 1, sessionsEnded: 1 });
    expect((await as(lost.session, 'GET', '/api/v1/contacts')).statusCode).toBe(401);
    expect((await signIn(lost.user.email, lost.password)).stage).toBe('enrol');
    const entry = (await sql<{ actor_id: string; record_ids: string }>`select actor_id, record_ids from audit_entries where action = 'auth.mfa_reset' order by seq desc`.execute(t.deps.db)).rows[0]!;
    expect(entry.actor_id).toBe(admin.user.id);
    expect(entry.record_ids).toContain(lost.user.id);
    // From the server's command line, for the last administrator.
    const alone = await enrolledAdmin();
    expect(await resetMfa(t.deps, cliContext('operator'), alone.user.id)).toEqual({ factorsRemoved: 1, sessionsEnded: 1 });
  });

  it('keeps authenticator secrets readable across a KEK rotation', async () => {
    const admin = await enrolledAdmin();
    await rotateKek(t.deps, { settleMs: 0 });
    const rows = (await sql<{ kek_id: string }>`select distinct kek_id from mfa_factors`.execute(t.deps.db)).rows;
    expect(rows.map((r) => r.kek_id)).toEqual([t.deps.keyring.kek.currentId()]);
    // What `rampart keys status` shows: the secrets under the new version, none under the old.
    const status = await keyStatus(t.deps);
    const factors = Number((await sql<{ n: number }>`select count(*) as n from mfa_factors where kek_id is not null`.execute(t.deps.db)).rows[0]!.n);
    expect(status.kek.find((k) => k.id === t.deps.keyring.kek.currentId())?.mfaSecrets).toBe(factors);
    expect(status.kek.filter((k) => k.id !== t.deps.keyring.kek.currentId()).map((k) => k.mfaSecrets)).toEqual(status.kek.slice(1).map(() => 0));
    clock.at += 30_000;
    const partial = await signIn(admin.user.email, admin.password);
    expect((await as(partial, 'POST', '/api/v1/auth/mfa/verify', { code: await totpCode(admin.secret, seconds()) })).statusCode).toBe(200);
  });

  it('refuses proofs of the wrong shape with a clear error', async () => {
    const admin = await enrolledAdmin();
    const partial = await signIn(admin.user.email, admin.password);
    for (const body of [{}, { code: '123456', recoveryCode: 'abcde-fghij' }, { code: 123456 }, { other: 'x' }]) {
      const res = await as(partial, 'POST', '/api/v1/auth/mfa/verify', body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
    }
    expect((await as(partial, 'POST', '/api/v1/auth/mfa/verify', { recoveryCode: 'x'.repeat(40) })).json().error.code).toBe('auth.mfa_invalid');
  });
});
