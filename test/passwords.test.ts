import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { cookieClient, signInFully } from './support/sign-in.js';
import { mailIn, resetTokenFor } from './support/mail.js';

const clock = { at: Date.UTC(2026, 11, 1, 9, 0, 0), now: () => new Date(clock.at) };
const minutes = (n: number) => (clock.at += n * 60_000);

describe('password change and reset', () => {
  let t: TestApp;
  let mailDir: string;
  const { as, sessionOf } = cookieClient(() => t);
  const signIn = async (email: string, password: string) => sessionOf(await as(null, 'POST', '/api/v1/auth/login', { email, password }));
  const askReset = (email: string) => as(null, 'POST', '/api/v1/auth/password-reset', { email });
  const completeReset = (token: string, newPassword: string) => as(null, 'POST', '/api/v1/auth/password-reset/complete', { token, newPassword });

  beforeAll(async () => {
    t = await createTestApp({ RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000' }, { clock });
    mailDir = path.join(t.dataDir, 'mail');
  });
  afterAll(async () => t.close());

  it('changes a password with the current one: other sessions end, this one goes on under a new secret', async () => {
    const { user, password } = await t.makeUser({ roles: ['sales'] });
    const here = await signIn(user.email, password);
    const elsewhere = await signIn(user.email, password);
    const change = (body: unknown) => as(here, 'POST', '/api/v1/auth/password', body);

    const wrong = await change({ currentPassword: 'not my password at all', newPassword: 'a brand new passphrase 1' });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error.code).toBe('auth.current_password_wrong');
    expect(wrong.body).not.toContain('a brand new passphrase 1');
    const weak = await change({ currentPassword: password, newPassword: 'aaaaaaaaaaaaaaaaaaaa' });
    expect(weak.json().error).toMatchObject({ code: 'auth.weak_password', fields: [{ field: 'newPassword', message: 'is too repetitive' }] });
    expect((await change({ currentPassword: password, newPassword: password })).json().error.code).toBe('auth.password_unchanged');
    expect((await change({ currentPassword: password })).statusCode).toBe(400);
    // Nothing of the refused attempts changed the password.
    expect((await as(null, 'POST', '/api/v1/auth/login', { email: user.email, password })).statusCode).toBe(200);

    const changed = await change({ currentPassword: password, newPassword: 'a brand new passphrase 1' });
    expect(changed.statusCode, changed.body).toBe(200);
    const renewed = { cookie: changed.cookies.find((c) => c.name === 'rampart_session')!.value, csrf: changed.json().csrfToken };
    expect(renewed.cookie).not.toBe(here.cookie);
    expect((await as(renewed, 'GET', '/api/v1/contacts')).statusCode).toBe(200);
    expect((await as(here, 'GET', '/api/v1/contacts')).statusCode).toBe(401);
    expect((await as(elsewhere, 'GET', '/api/v1/contacts')).statusCode).toBe(401);
    expect((await as(null, 'POST', '/api/v1/auth/login', { email: user.email, password })).statusCode).toBe(401);
    expect((await as(null, 'POST', '/api/v1/auth/login', { email: user.email, password: 'a brand new passphrase 1' })).statusCode).toBe(200);

    const notices = (await as(renewed, 'GET', '/api/v1/notices')).json();
    expect(notices.items.map((n: { kind: string }) => n.kind)).toContain('password.changed');
    const entries = await t.deps.db.selectFrom('audit_entries').select(['action', 'outcome']).where('action', 'in', ['auth.password_changed', 'auth.password_change_failed']).execute();
    expect(entries).toEqual(expect.arrayContaining([{ action: 'auth.password_changed', outcome: 'success' }, { action: 'auth.password_change_failed', outcome: 'failure' }]));
  });

  it('counts wrong current passwords against the account, and keeps API tokens out', async () => {
    const { user, password, token } = await t.makeUser({ roles: ['sales'] });
    const session = await signIn(user.email, password);
    for (let i = 0; i < 5; i++) await as(session, 'POST', '/api/v1/auth/password', { currentPassword: `wrong guess number ${i}`, newPassword: 'a brand new passphrase 2' });
    const throttled = await as(session, 'POST', '/api/v1/auth/password', { currentPassword: password, newPassword: 'a brand new passphrase 2' });
    expect(throttled.statusCode).toBe(429);
    minutes(1);
    const byToken = await t.call('POST', '/api/v1/auth/password', { token, body: { currentPassword: password, newPassword: 'a brand new passphrase 2' } });
    expect(byToken.statusCode).toBe(403);
  });

  it('mails a one-time reset link, answers the same for an unknown address, and ends every session when used', async () => {
    const { user, password } = await t.makeUser({ roles: ['sales'] });
    const session = await signIn(user.email, password);
    const before = mailIn(mailDir).length;
    const known = await askReset(user.email);
    const unknown = await askReset('nobody-here@example.com');
    expect(known.statusCode).toBe(202);
    expect(unknown.statusCode).toBe(202);
    expect(unknown.body).toBe(known.body);
    await t.deps.background.drain();
    const mails = mailIn(mailDir).slice(before);
    expect(mails.map((m) => m.to)).toEqual([user.email]);
    expect(mails[0]!.text).toContain(`${t.deps.config.publicUrl}/reset-password#token=rpr_`);
    const token = resetTokenFor(mailDir, user.email)!;
    // The database keeps only a hash of the link's secret.
    const stored = await t.deps.db.selectFrom('password_resets').select('token_hash').where('user_id', '=', user.id).execute();
    expect(JSON.stringify(stored)).not.toContain(token.slice(4));

    const weak = await completeReset(token, 'short');
    expect(weak.json().error.code).toBe('auth.weak_password');
    // A refused password leaves the link usable.
    const done = await completeReset(token, 'reset horse battery staple 3');
    expect(done.statusCode, done.body).toBe(204);
    expect((await as(session, 'GET', '/api/v1/contacts')).statusCode).toBe(401);
    expect((await completeReset(token, 'reset horse battery staple 4')).json().error.code).toBe('auth.reset_link_invalid');
    expect((await as(null, 'POST', '/api/v1/auth/login', { email: user.email, password })).statusCode).toBe(401);
    const after = await signIn(user.email, 'reset horse battery staple 3');
    const notice = (await as(after, 'GET', '/api/v1/notices')).json().items.find((n: { kind: string }) => n.kind === 'password.changed');
    expect(notice.body).toContain('reset link');
  });

  it('lets a link expire, and each new link or password change end the earlier ones', async () => {
    const { user, password } = await t.makeUser({ roles: ['sales'] });
    await askReset(user.email);
    await t.deps.background.drain();
    const first = resetTokenFor(mailDir, user.email)!;
    minutes(31);
    expect((await completeReset(first, 'reset horse battery staple 5')).json().error.code).toBe('auth.reset_link_invalid');

    await askReset(user.email);
    await t.deps.background.drain();
    const second = resetTokenFor(mailDir, user.email)!;
    await askReset(user.email);
    await t.deps.background.drain();
    const third = resetTokenFor(mailDir, user.email)!;
    expect(third).not.toBe(second);
    expect((await completeReset(second, 'reset horse battery staple 5')).json().error.code).toBe('auth.reset_link_invalid');

    const session = await signIn(user.email, password);
    expect((await as(session, 'POST', '/api/v1/auth/password', { currentPassword: password, newPassword: 'changed horse battery staple 6' })).statusCode).toBe(200);
    expect((await completeReset(third, 'reset horse battery staple 5')).json().error.code).toBe('auth.reset_link_invalid');
    expect((await completeReset('rpr_made-up', 'reset horse battery staple 5')).json().error.code).toBe('auth.reset_link_invalid');
  });

  it('takes a link once when two uses race, and sends or takes none for a disabled account', async () => {
    const { user } = await t.makeUser({ roles: ['sales'] });
    await askReset(user.email);
    await t.deps.background.drain();
    const token = resetTokenFor(mailDir, user.email)!;
    const both = await Promise.all([completeReset(token, 'racing horse battery staple 1'), completeReset(token, 'racing horse battery staple 2')]);
    expect(both.map((r) => r.statusCode).sort()).toEqual([204, 400]);

    const other = await t.makeUser({ roles: ['sales'] });
    await askReset(other.user.email);
    await t.deps.background.drain();
    const pending = resetTokenFor(mailDir, other.user.email)!;
    await t.deps.db.updateTable('users').set({ status: 'disabled' }).where('id', '=', other.user.id).execute();
    expect((await completeReset(pending, 'disabled horse battery staple 1')).json().error.code).toBe('auth.reset_link_invalid');
    const before = mailIn(mailDir).length;
    await askReset(other.user.email);
    await t.deps.background.drain();
    expect(mailIn(mailDir).length).toBe(before);
  });

  it('ends a sign-in that was checking the old password while a reset went through', async () => {
    // The sign-in starts a little after the reset, so that its password check ends after the
    // reset has committed: the order in which a session could outlive the reset.
    for (const delay of [0, 5, 10, 20, 30]) {
      const { user, password } = await t.makeUser({ roles: ['sales'] });
      await askReset(user.email);
      await t.deps.background.drain();
      const token = resetTokenFor(mailDir, user.email)!;
      const resetting = completeReset(token, `raced horse battery staple ${delay}`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      const [login, reset] = await Promise.all([as(null, 'POST', '/api/v1/auth/login', { email: user.email, password }), resetting]);
      expect(reset.statusCode).toBe(204);
      const cookie = login.cookies.find((c) => c.name === 'rampart_session')?.value;
      // Either the sign-in was refused, or the session it got has ended with the reset.
      if (cookie) expect((await as({ cookie, csrf: '' }, 'GET', '/api/v1/contacts')).statusCode).toBe(401);
      else expect(login.statusCode).toBe(401);
    }
  });

  it('mails at most three links an hour to one account', async () => {
    const { user } = await t.makeUser({ roles: ['sales'] });
    const before = mailIn(mailDir).filter((m) => m.to === user.email).length;
    for (let i = 0; i < 5; i++) await askReset(user.email);
    await t.deps.background.drain();
    expect(mailIn(mailDir).filter((m) => m.to === user.email).length - before).toBe(3);
    minutes(61);
    await askReset(user.email);
    await t.deps.background.drain();
    expect(mailIn(mailDir).filter((m) => m.to === user.email).length - before).toBe(4);
  });

  it('still asks for the second factor after a reset: a mailbox alone does not open the account', async () => {
    const { user, password } = await t.makeUser({ roles: ['manager'] });
    await signInFully(t, user.email, password, () => clock.at);
    await askReset(user.email);
    await t.deps.background.drain();
    expect((await completeReset(resetTokenFor(mailDir, user.email)!, 'reset horse battery staple 9')).statusCode).toBe(204);
    const login = await as(null, 'POST', '/api/v1/auth/login', { email: user.email, password: 'reset horse battery staple 9' });
    expect(login.json().stage).toBe('mfa');
  });

  it('lets an administrator mail a user a reset link after a recent second factor, never anyone else', async () => {
    const admin = await t.makeUser({ roles: ['admin'] });
    const { user } = await t.makeUser({ roles: ['sales'] });
    const seller = await t.makeUser({ roles: ['sales'] });
    expect((await t.call('POST', `/api/v1/users/${user.id}/password-reset`, { token: seller.token })).statusCode).toBe(403);
    const sent = await t.call('POST', `/api/v1/users/${user.id}/password-reset`, { token: admin.token });
    expect(sent.statusCode, sent.body).toBe(202);
    expect(sent.json()).toEqual({ expiresInMinutes: 30 });
    expect(resetTokenFor(mailDir, user.email)).toMatch(/^rpr_/);
    const signedIn = await signInFully(t, admin.user.email, admin.password, () => clock.at);
    const fresh = { cookie: signedIn.cookie.slice('rampart_session='.length), csrf: signedIn.csrf };
    expect((await as(fresh, 'POST', `/api/v1/users/${user.id}/password-reset`)).statusCode).toBe(202);
    minutes(6);
    const stale = await as(fresh, 'POST', `/api/v1/users/${user.id}/password-reset`);
    expect(stale.json().error.code).toBe('auth.step_up_required');
    expect((await t.call('POST', '/api/v1/users/not-an-id/password-reset', { token: admin.token })).json().error.code).toBe('user.not_found');
  });
});
