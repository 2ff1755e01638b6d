import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverNotices } from '../src/modules/notices/notices.service.js';
import { networkOf } from '../src/modules/notices/notices.service.js';
import { createTestApp, type TestApp } from './support/app.js';
import { mailIn, parseMail } from './support/mail.js';
import { signInFully } from './support/sign-in.js';

const clock = { at: Date.UTC(2026, 11, 2, 9, 0, 0), now: () => new Date(clock.at) };
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';

interface Notice {
  id: string;
  kind: string;
  title: string;
  body: string;
  readAt: string | null;
}

describe('security notices', () => {
  let t: TestApp;
  let mailDir: string;
  beforeAll(async () => {
    t = await createTestApp({ RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000' }, { clock });
    mailDir = path.join(t.dataDir, 'mail');
  });
  afterAll(async () => t.close());

  const signIn = async (email: string, password: string, agent: string, address: string) => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, headers: { 'user-agent': agent }, remoteAddress: address });
    expect(res.statusCode, res.body).toBe(200);
    return { cookie: res.cookies[0]!.value, csrf: res.json().csrfToken as string, agent };
  };
  const noticesOf = async (token: string, query = ''): Promise<{ items: Notice[]; unread: number }> => (await t.call('GET', `/api/v1/notices${query}`, { token })).json();

  it('tells a user of a sign-in from a new device or a new network, not of the first one or a familiar one', async () => {
    const { user, password, token } = await t.makeUser({ roles: ['sales'] });
    await signIn(user.email, password, CHROME, '203.0.113.7');
    await signIn(user.email, password, CHROME, '203.0.113.99');
    expect((await noticesOf(token)).items).toEqual([]);

    await signIn(user.email, password, FIREFOX, '203.0.113.7');
    clock.at += 1000;
    await signIn(user.email, password, CHROME, '198.51.100.4');
    const { items, unread } = await noticesOf(token);
    expect(unread).toBe(2);
    expect(items.map((n) => n.kind)).toEqual(['sign_in.new_device', 'sign_in.new_device']);
    expect(items[0]).toMatchObject({ title: 'Sign-in from a new network', readAt: null });
    expect(items[0]!.body).toContain('198.51.100.4');
    expect(items[1]).toMatchObject({ title: 'Sign-in from a new device' });
    expect(items[1]!.body).toContain('Firefox on Linux');

    // Read one, then the rest; someone else's notice is not theirs to touch.
    expect((await t.call('POST', `/api/v1/notices/${items[0]!.id}/read`, { token })).json()).toEqual({ marked: 1 });
    expect((await noticesOf(token, '?unread=true')).items.map((n) => n.id)).toEqual([items[1]!.id]);
    const other = await t.makeUser({ roles: ['sales'] });
    expect((await t.call('POST', `/api/v1/notices/${items[1]!.id}/read`, { token: other.token })).statusCode).toBe(404);
    expect((await t.call('POST', '/api/v1/notices/read', { token })).json()).toEqual({ marked: 1 });
    expect((await noticesOf(token)).unread).toBe(0);
    expect((await t.call('GET', '/api/v1/notices?limit=0', { token })).statusCode).toBe(400);
    expect((await t.call('GET', '/api/v1/notices')).statusCode).toBe(401);
  });

  it('groups addresses by network: the /24 of IPv4, the /48 of IPv6', () => {
    expect(networkOf('203.0.113.7')).toBe('203.0.113.0/24');
    expect(networkOf('::ffff:203.0.113.7')).toBe('203.0.113.0/24');
    expect(networkOf('2001:db8:12:3::1')).toBe('2001:db8:12::/48');
    expect(networkOf('2001:db8::1')).toBe('2001:db8:0::/48');
    expect(networkOf('::1')).toBe('0:0:0::/48');
    expect(networkOf('not an address')).toBeNull();
    expect(networkOf(null)).toBeNull();
  });

  it('tells a user when their second factors change, and when their token is used from a new address', async () => {
    const admin = await t.makeUser({ roles: ['admin'] });
    const { user, password, token } = await t.makeUser({ roles: ['manager'] });
    await signInFully(t, user.email, password, () => clock.at);
    expect((await noticesOf(token)).items.map((n) => n.kind)).toContain('mfa.changed');
    const reset = await t.call('POST', `/api/v1/users/${user.id}/mfa/reset`, { token: admin.token });
    expect(reset.statusCode, reset.body).toBe(200);
    const mfa = (await noticesOf(token)).items.filter((n) => n.kind === 'mfa.changed');
    expect(mfa.map((n) => n.body)).toEqual([expect.stringContaining('An administrator removed all your second factors'), expect.stringContaining('An authenticator app was added')]);

    await t.app.inject({ method: 'GET', url: '/api/v1/contacts', headers: { authorization: `Bearer ${token}` }, remoteAddress: '192.0.2.50' });
    const used = (await noticesOf(token)).items.find((n) => n.kind === 'token.new_address');
    expect(used?.body).toContain('192.0.2.50');
    expect(used?.body).toContain('"test"');
  });

  it('mails each notice once, in the user\'s language, even with two couriers at once', async () => {
    const { user, password } = await t.makeUser({ roles: ['sales'] });
    await t.deps.db.updateTable('users').set({ locale: 'zh-CN' }).where('id', '=', user.id).execute();
    await signIn(user.email, password, CHROME, '203.0.113.7');
    await signIn(user.email, password, FIREFOX, '203.0.113.7');
    const before = mailIn(mailDir).length;
    const [a, b] = await Promise.all([deliverNotices(t.deps), deliverNotices(t.deps)]);
    const sent = mailIn(mailDir).slice(before);
    expect(a + b).toBe(sent.length);
    const mine = sent.filter((m) => m.to === user.email);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.subject).toBe('Rampart: 从新设备登录');
    expect(mine[0]!.text).toContain('Firefox on Linux');
    expect(await deliverNotices(t.deps)).toBe(0);
    const states = await t.deps.db.selectFrom('notices').select('mail_state').distinct().execute();
    expect(states).toEqual([{ mail_state: 'sent' }]);
  });
});

describe('mail over SMTP', () => {
  let smtp: SMTPServer;
  let port: number;
  const received: { from: string; to: string[]; raw: string }[] = [];
  let t: TestApp;

  beforeAll(async () => {
    smtp = new SMTPServer({
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      onAuth(auth, _session, callback) {
        if (auth.username === 'rampart' && auth.password === 'mail secret') callback(null, { user: 'rampart' });
        else callback(new Error('Invalid username or password'));
      },
      onData(stream, session, callback) {
        let raw = '';
        stream.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
        stream.on('end', () => {
          received.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    port = (smtp.server.address() as AddressInfo).port;
    t = await createTestApp({ RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000', RAMPART_MAIL_TRANSPORT: `smtp://rampart:mail%20secret@127.0.0.1:${port}`, RAMPART_MAIL_FROM: 'CRM <crm@example.com>' }, { clock });
  });
  afterAll(async () => {
    await t.close();
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
  });

  it('sends reset links and notices to a real SMTP server, signed in with its account', async () => {
    const { user, password } = await t.makeUser({ roles: ['sales'] });
    expect((await t.call('POST', '/api/v1/auth/password-reset', { body: { email: user.email } })).statusCode).toBe(202);
    await t.deps.background.drain();
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ from: 'crm@example.com', to: [user.email] });
    const mail = parseMail(received[0]!.raw);
    const token = mail.text.match(/#token=(rpr_[\w-]+)/)![1]!;
    expect((await t.call('POST', '/api/v1/auth/password-reset/complete', { body: { token, newPassword: 'smtp horse battery staple 1' } })).statusCode).toBe(204);
    expect(password).not.toBe('smtp horse battery staple 1');
    expect(await deliverNotices(t.deps)).toBe(1);
    expect(parseMail(received[1]!.raw)).toMatchObject({ subject: 'Rampart: Password changed' });
  });

  it('keeps a notice to try again later when the mail server is away, and gives up after five tries over hours', async () => {
    const { user, password } = await t.makeUser({ roles: ['sales'] });
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: user.email, password }, headers: { 'user-agent': CHROME } });
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: user.email, password }, headers: { 'user-agent': FIREFOX } });
    const wrongPort = await createTestApp({ RAMPART_MAIL_TRANSPORT: `smtp://127.0.0.1:${port + 1 === 65536 ? 1 : port + 1}` }, { clock });
    try {
      // A reset link an administrator asks for, refused by the mail server: withdrawn, and the
      // answer names neither the address nor the server's words.
      const admin = await wrongPort.makeUser({ roles: ['admin'] });
      const target = await wrongPort.makeUser({ roles: ['sales'] });
      const refused = await wrongPort.call('POST', `/api/v1/users/${target.user.id}/password-reset`, { token: admin.token });
      expect(refused.statusCode).toBe(503);
      expect(refused.json().error.code).toBe('mail.unavailable');
      expect(refused.body).not.toContain(target.user.email);
      const links = await wrongPort.deps.db.selectFrom('password_resets').select(['used_at', 'superseded_at']).where('user_id', '=', target.user.id).execute();
      expect(links).toHaveLength(1);
      expect(links[0]!.superseded_at).not.toBeNull();

      // The same database seen by a server whose mail transport points nowhere.
      const away = { ...wrongPort.deps, db: t.deps.db, dialect: t.deps.dialect };
      const state = () => t.deps.db.selectFrom('notices').select(['mail_state', 'mail_attempts']).where('user_id', '=', user.id).executeTakeFirstOrThrow();
      expect(await deliverNotices(away)).toBe(0);
      expect(await state()).toEqual({ mail_state: 'pending', mail_attempts: 1 });
      // Not due again until a minute has passed.
      expect(await deliverNotices(away)).toBe(0);
      expect(await state()).toEqual({ mail_state: 'pending', mail_attempts: 1 });
      for (const minutes of [1, 5, 30]) {
        clock.at += minutes * 60_000;
        await deliverNotices(away);
      }
      expect(await state()).toEqual({ mail_state: 'pending', mail_attempts: 4 });
      clock.at += 120 * 60_000;
      await deliverNotices(away);
      expect(await state()).toEqual({ mail_state: 'failed', mail_attempts: 5 });
      // A disabled user's notices are not mailed at all.
      const gone = await t.makeUser({ roles: ['sales'] });
      await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: gone.user.email, password: gone.password }, headers: { 'user-agent': CHROME } });
      await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: gone.user.email, password: gone.password }, headers: { 'user-agent': FIREFOX } });
      await t.deps.db.updateTable('users').set({ status: 'disabled' }).where('id', '=', gone.user.id).execute();
      await deliverNotices(t.deps);
      expect(await t.deps.db.selectFrom('notices').select('mail_state').where('user_id', '=', gone.user.id).executeTakeFirstOrThrow()).toEqual({ mail_state: 'pending' });
    } finally {
      await wrongPort.close();
    }
  });
});
