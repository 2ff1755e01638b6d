import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';

const clock = { at: Date.UTC(2026, 10, 30, 9, 0, 0), now: () => new Date(clock.at) };
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';

interface Browser {
  cookie: string;
  csrf: string;
  agent: string;
}

describe('sessions', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000' }, { clock });
  });
  afterAll(async () => t.close());

  const from = (browser: Browser, method: string, url: string, body?: unknown) =>
    t.app.inject({ method: method as 'GET', url, cookies: { rampart_session: browser.cookie }, headers: { 'x-csrf-token': browser.csrf, 'user-agent': browser.agent }, ...(body !== undefined ? { payload: body as object } : {}) });
  const signIn = async (email: string, password: string, agent: string, address = '203.0.113.7'): Promise<Browser> => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, headers: { 'user-agent': agent }, remoteAddress: address });
    expect(res.statusCode, res.body).toBe(200);
    return { cookie: res.cookies[0]!.value, csrf: res.json().csrfToken, agent };
  };

  it('lists a user their sessions with device and address, and lets them end one or all the others', async () => {
    const { user, password } = await t.makeUser({ roles: ['sales'] });
    const laptop = await signIn(user.email, password, CHROME, '203.0.113.7');
    const desktop = await signIn(user.email, password, FIREFOX, '198.51.100.9');
    const spare = await signIn(user.email, password, FIREFOX, '198.51.100.10');
    const listed = await from(laptop, 'GET', '/api/v1/auth/sessions');
    expect(listed.statusCode, listed.body).toBe(200);
    const items = listed.json().items as { id: string; current: boolean; device: string; sourceAddress: string }[];
    expect(items).toHaveLength(3);
    expect(items.find((s) => s.current)).toMatchObject({ device: 'Chrome on Windows', sourceAddress: '203.0.113.7' });
    expect(items.filter((s) => !s.current).map((s) => s.device)).toEqual(['Firefox on Linux', 'Firefox on Linux']);
    expect(JSON.stringify(items)).not.toContain(laptop.cookie);

    const desktopId = items.find((s) => s.sourceAddress === '198.51.100.9')!.id;
    expect((await from(laptop, 'DELETE', `/api/v1/auth/sessions/${desktopId}`)).statusCode).toBe(204);
    expect((await from(desktop, 'GET', '/api/v1/contacts')).statusCode).toBe(401);
    expect((await from(laptop, 'DELETE', `/api/v1/auth/sessions/${desktopId}`)).statusCode).toBe(404);
    // Someone else's session is no one's to end but theirs and an administrator's.
    const other = await t.makeUser({ roles: ['sales'] });
    const theirs = await signIn(other.user.email, other.password, CHROME);
    const theirId = ((await from(theirs, 'GET', '/api/v1/auth/sessions')).json().items as { id: string }[])[0]!.id;
    expect((await from(laptop, 'DELETE', `/api/v1/auth/sessions/${theirId}`)).statusCode).toBe(404);
    expect((await from(theirs, 'GET', '/api/v1/contacts')).statusCode).toBe(200);

    expect((await from(laptop, 'POST', '/api/v1/auth/sessions/end-others')).json()).toEqual({ ended: 1 });
    expect((await from(spare, 'GET', '/api/v1/contacts')).statusCode).toBe(401);
    expect((await from(laptop, 'GET', '/api/v1/contacts')).statusCode).toBe(200);
  });

  it('ends a session whose cookie turns up in another browser family', async () => {
    const { user, password } = await t.makeUser({ roles: ['sales'] });
    const mine = await signIn(user.email, password, CHROME);
    const copied = { ...mine, agent: FIREFOX };
    expect((await from(copied, 'GET', '/api/v1/contacts')).statusCode).toBe(401);
    // Ended for good: the real browser signs in again.
    expect((await from(mine, 'GET', '/api/v1/contacts')).statusCode).toBe(401);
    const entry = (await sql<{ details: string; outcome: string }>`select details, outcome from audit_entries where action = 'auth.session_ended' and actor_id = ${user.id}`.execute(t.deps.db)).rows[0]!;
    expect(entry.outcome).toBe('denied');
    expect(JSON.parse(entry.details)).toEqual({ reason: 'browser changed', from: 'Chrome', to: 'Firefox' });
    // Another version of the same browser is the same family.
    const again = await signIn(user.email, password, CHROME);
    expect((await from({ ...again, agent: CHROME.replace('131.0.0.0', '132.0.0.0') }, 'GET', '/api/v1/contacts')).statusCode).toBe(200);
  });

  it("keeps a role's shorter session limits, the strictest of the user's roles", async () => {
    const admin = await t.makeUser({ roles: ['admin'] });
    const role = await t.call('POST', '/api/v1/roles', {
      token: admin.token,
      body: { id: 'kiosk', name: 'Kiosk', description: 'Shared front-desk machines', definition: { records: { companies: { actions: { read: 'all' }, fields: {} } }, permissions: [], session: { idleMinutes: 5, absoluteHours: 1 } } },
    });
    expect(role.statusCode, role.body).toBe(201);
    const bad = await t.call('POST', '/api/v1/roles', { token: admin.token, body: { id: 'bad_limits', name: 'Bad', description: 'x', definition: { records: {}, permissions: [], session: { idleMinutes: 0 } } } });
    expect(bad.statusCode).toBe(400);

    const desk = await t.makeUser({ roles: ['sales', 'kiosk'] });
    const plain = await t.makeUser({ roles: ['sales'] });
    const deskSession = await signIn(desk.user.email, desk.password, CHROME);
    const plainSession = await signIn(plain.user.email, plain.password, CHROME);
    const expires = (await from(deskSession, 'GET', '/api/v1/auth/session')).json().expiresAt;
    expect(new Date(expires).getTime()).toBe(clock.at + 3_600_000);
    clock.at += 6 * 60_000;
    expect((await from(deskSession, 'GET', '/api/v1/companies')).statusCode).toBe(401);
    expect((await from(plainSession, 'GET', '/api/v1/companies')).statusCode).toBe(200);
  });

  it("lets an administrator see and end anyone's sessions", async () => {
    const admin = await t.makeUser({ roles: ['admin'] });
    const { user, password } = await t.makeUser({ roles: ['sales'] });
    const one = await signIn(user.email, password, CHROME);
    await signIn(user.email, password, FIREFOX);
    const listed = await t.call('GET', `/api/v1/users/${user.id}/sessions`, { token: admin.token });
    expect(listed.json().items).toHaveLength(2);
    const seller = await t.makeUser({ roles: ['sales'] });
    expect((await t.call('GET', `/api/v1/users/${user.id}/sessions`, { token: seller.token })).statusCode).toBe(403);
    expect((await t.call('POST', `/api/v1/users/${user.id}/sessions/end`, { token: admin.token })).json()).toEqual({ ended: 2 });
    expect((await from(one, 'GET', '/api/v1/contacts')).statusCode).toBe(401);
    expect((await t.call('GET', `/api/v1/users/${user.id}/sessions`, { token: admin.token })).json().items).toEqual([]);
  });
});
