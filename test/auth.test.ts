import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueSetupLink } from '../src/modules/setup/setup.service.js';
import { createTestApp, type TestApp } from './support/app.js';
import { signInFully } from './support/sign-in.js';
import { breachedListSize } from '../src/modules/auth/breached-passwords.js';
import { PASSWORD_MIN_LENGTH } from '../src/modules/auth/passwords.js';

describe('first-run setup', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('creates the first administrator once, from the one-time link only', async () => {
    const link = await issueSetupLink(t.deps, 'http://127.0.0.1:8080');
    expect(link).toMatch(/^http:\/\/127\.0\.0\.1:8080\/setup#token=rpsetup_/);
    const token = link!.split('#token=')[1]!;
    const body = { email: 'admin@example.com', name: 'First Admin', password: 'a long enough passphrase' };

    const wrong = await t.call('POST', '/api/v1/setup', { body: { ...body, token: `${token}x` } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error.code).toBe('setup.invalid_token');
    const weak = await t.call('POST', '/api/v1/setup', { body: { ...body, password: 'short', token } });
    expect(weak.statusCode).toBe(400);
    expect((await t.call('GET', '/api/v1/setup')).json()).toEqual({ needed: true });

    const done = await t.call('POST', '/api/v1/setup', { body: { ...body, token } });
    expect(done.statusCode, done.body).toBe(201);
    expect(done.json().user).toMatchObject({ email: 'admin@example.com', roles: ['admin'] });
    expect(done.json().user.passwordHash).toBeUndefined();
    expect(JSON.stringify(done.json())).not.toContain('argon2');

    const again = await t.call('POST', '/api/v1/setup', { body: { ...body, email: 'other@example.com', token } });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('setup.already_done');
    expect(await issueSetupLink(t.deps, 'http://127.0.0.1:8080')).toBeNull();
  });
});

describe('sessions, CSRF and tokens', () => {
  let t: TestApp;
  let admin: Awaited<ReturnType<TestApp['makeUser']>>;
  beforeAll(async () => {
    t = await createTestApp({ RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '1000' });
    admin = await t.makeUser({ roles: ['admin'] });
  });
  afterAll(async () => t.close());

  const signIn = (email: string, password: string) => signInFully(t, email, password);

  it('answers a wrong password and an unknown email alike', async () => {
    const wrong = await t.call('POST', '/api/v1/auth/login', { body: { email: admin.user.email, password: 'not the password at all' } });
    const unknown = await t.call('POST', '/api/v1/auth/login', { body: { email: 'nobody@example.com', password: 'not the password at all' } });
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.json()).toEqual(unknown.json());
  });

  it('sets an HttpOnly SameSite cookie and requires the CSRF header on writes', async () => {
    const res = await t.call('POST', '/api/v1/auth/login', { body: { email: admin.user.email, password: admin.password } });
    const setCookie = String(res.headers['set-cookie']);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    const { cookie, csrf } = await signIn(admin.user.email, admin.password);

    expect((await t.call('GET', '/api/v1/companies', { headers: { cookie } })).statusCode).toBe(200);
    const forged = await t.call('POST', '/api/v1/companies', { headers: { cookie }, body: { name: 'Forged' } });
    expect(forged.statusCode).toBe(403);
    expect(forged.json().error.code).toBe('auth.csrf_failed');
    const list = await t.call('GET', '/api/v1/companies?q=forged', { headers: { cookie } });
    expect(list.json().items).toHaveLength(0);
    const ok = await t.call('POST', '/api/v1/companies', { headers: { cookie, 'x-csrf-token': csrf }, body: { name: 'Real' } });
    expect(ok.statusCode).toBe(201);

    const me = await t.call('GET', '/api/v1/auth/session', { headers: { cookie } });
    expect(me.json().user.email).toBe(admin.user.email);

    expect((await t.call('POST', '/api/v1/auth/logout', { headers: { cookie, 'x-csrf-token': csrf } })).statusCode).toBe(204);
    const after = await t.call('GET', '/api/v1/companies', { headers: { cookie } });
    expect(after.statusCode).toBe(401);
    expect(after.json().error.code).toBe('auth.session_expired');
  });

  it('ends a session after the idle timeout', async () => {
    const { cookie } = await signIn(admin.user.email, admin.password);
    const stale = new Date(Date.now() - 31 * 60_000).toISOString();
    await t.deps.db.updateTable('sessions').set({ last_seen_at: stale }).where('user_id', '=', admin.user.id).execute();
    expect((await t.call('GET', '/api/v1/companies', { headers: { cookie } })).statusCode).toBe(401);
  });

  it('stops a disabled user on the very next request, by cookie and by token', async () => {
    const member = await t.makeUser({ roles: ['sales'] });
    const { cookie } = await signIn(member.user.email, member.password);
    expect((await t.call('GET', '/api/v1/contacts', { headers: { cookie } })).statusCode).toBe(200);
    expect((await t.call('GET', '/api/v1/contacts', { token: member.token })).statusCode).toBe(200);
    const disabled = await t.call('POST', `/api/v1/users/${member.user.id}/disable`, { token: admin.token });
    expect(disabled.statusCode, disabled.body).toBe(200);
    expect((await t.call('GET', '/api/v1/contacts', { headers: { cookie } })).statusCode).toBe(401);
    expect((await t.call('GET', '/api/v1/contacts', { token: member.token })).statusCode).toBe(401);
    const login = await t.call('POST', '/api/v1/auth/login', { body: { email: member.user.email, password: member.password } });
    expect(login.statusCode).toBe(401);
  });

  it('keeps a token within its scopes', async () => {
    const reader = await t.makeUser({ roles: ['sales'], scopes: ['contacts:read'] });
    expect((await t.call('GET', '/api/v1/contacts', { token: reader.token })).statusCode).toBe(200);
    const write = await t.call('POST', '/api/v1/contacts', { token: reader.token, body: { lastName: 'Nope' } });
    expect(write.statusCode).toBe(403);
    expect((await t.call('GET', '/api/v1/companies', { token: reader.token })).statusCode).toBe(403);
    const count = await t.deps.db.selectFrom('contacts' as never).select((eb) => eb.fn.countAll().as('n')).where('last_name' as never, '=', 'Nope' as never).executeTakeFirst();
    expect(Number((count as { n: number }).n)).toBe(0);
  });

  it("keeps where a token was last used from, and logs its first use from each new address", async () => {
    const owner = await t.makeUser({ roles: ['sales'] });
    const use = (address: string) => t.app.inject({ method: 'GET', url: '/api/v1/contacts', headers: { authorization: `Bearer ${owner.token}` }, remoteAddress: address });
    for (const address of ['192.0.2.10', '192.0.2.10', '192.0.2.11', '192.0.2.10', '192.0.2.11', '192.0.2.12']) expect((await use(address)).statusCode).toBe(200);
    const listed = (await t.app.inject({ method: 'GET', url: '/api/v1/tokens', headers: { authorization: `Bearer ${owner.token}` }, remoteAddress: '192.0.2.12' })).json().items as { id: string; lastUsedAddress: string | null }[];
    expect(listed[0]!.lastUsedAddress).toBe('192.0.2.12');
    const entries = await t.deps.db.selectFrom('audit_entries').select(['source_address', 'record_ids', 'details']).where('action', '=', 'token.new_address').where('actor_id', '=', owner.user.id).orderBy('seq').execute();
    // The first address is where the token starts; each later new one is logged once.
    expect(entries.map((e) => e.source_address)).toEqual(['192.0.2.11', '192.0.2.12']);
    expect(entries.every((e) => e.record_ids.includes(listed[0]!.id))).toBe(true);
    expect(JSON.parse(entries[1]!.details)).toEqual({ knownAddresses: 2 });
  });

  it('refuses expired and revoked tokens, and shows a token only once', async () => {
    expect((await t.call('POST', '/api/v1/tokens', { token: admin.token, body: { name: 'from a token' } })).statusCode).toBe(403);
    const { cookie, csrf } = await signIn(admin.user.email, admin.password);
    const session = { cookie, 'x-csrf-token': csrf };
    const created = await t.call('POST', '/api/v1/tokens', { headers: session, body: { name: 'ci' } });
    expect(created.statusCode, created.body).toBe(201);
    const { token, record } = created.json();
    expect(token).toMatch(/^rpt_/);
    expect(JSON.stringify((await t.call('GET', '/api/v1/tokens', { token: admin.token })).json())).not.toContain(token);
    const stored = await t.deps.db.selectFrom('api_tokens').select('token_hash').where('id', '=', record.id).executeTakeFirstOrThrow();
    expect(stored.token_hash).not.toContain(token);

    expect((await t.call('GET', '/api/v1/contacts', { token })).statusCode).toBe(200);
    await t.deps.db.updateTable('api_tokens').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', record.id).execute();
    expect((await t.call('GET', '/api/v1/contacts', { token })).statusCode).toBe(401);

    const second = (await t.call('POST', '/api/v1/tokens', { headers: session, body: { name: 'second' } })).json();
    expect((await t.call('POST', `/api/v1/tokens/${second.record.id}/revoke`, { token: admin.token })).statusCode).toBe(200);
    expect((await t.call('GET', '/api/v1/contacts', { token: second.token })).statusCode).toBe(401);
  });

  it('lets only administrators create users', async () => {
    const member = await t.makeUser({ roles: ['sales'] });
    const res = await t.call('POST', '/api/v1/users', { token: member.token, body: { email: 'x@example.com', name: 'X', password: 'a long enough passphrase', roles: ['admin'] } });
    expect(res.statusCode).toBe(403);
    expect(await t.deps.db.selectFrom('users').select('id').where('email', '=', 'x@example.com').executeTakeFirst()).toBeUndefined();
  });

  it('sends security headers', async () => {
    const res = await t.call('GET', '/');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBeDefined();
  });
});

describe('login throttling', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '3' });
  });
  afterAll(async () => t.close());

  it('answers 429 with a code once the per-address limit is passed', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await t.call('POST', '/api/v1/auth/login', { body: { email: 'a@example.com', password: 'wrong wrong wrong' } })).statusCode);
    expect(codes.slice(0, 3)).toEqual([401, 401, 401]);
    const limited = await t.call('POST', '/api/v1/auth/login', { body: { email: 'a@example.com', password: 'wrong wrong wrong' } });
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('request.rate_limited');
  });
});

describe('session route with a token', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('refuses an API token with a code, not a server error', async () => {
    const { token } = await t.makeUser();
    const res = await t.call('GET', '/api/v1/auth/session', { token });
    expect(res.statusCode, res.body).toBe(403);
    expect(res.json().error.code).toBe('auth.forbidden');
  });
});

describe('authentication order', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('answers a stranger 401 before reading or validating the body', async () => {
    const res = await t.call('POST', '/api/v1/contacts', { body: { shoeSize: 'x'.repeat(10) } });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('auth.unauthenticated');
    expect(res.json().error.fields).toBeUndefined();
  });
});

describe('control characters in credentials', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('answers 4xx, never 500, for NUL in a login email or a role name', async () => {
    const login = await t.call('POST', '/api/v1/auth/login', { body: { email: 'a\u0000@example.com', password: 'whatever it is here' } });
    expect(login.statusCode).toBe(401);
    const { token } = await t.makeUser();
    const user = await t.call('POST', '/api/v1/users', { token, body: { email: 'b@example.com', name: 'B', password: 'a long enough passphrase', roles: ['ad\u0000min'] } });
    expect(user.statusCode).toBe(400);
    expect(user.json().error.code).toBe('user.invalid_role');
  });
});

describe('setup under concurrency', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('lets one link create exactly one administrator, however many requests race', async () => {
    const link = await issueSetupLink(t.deps, 'http://127.0.0.1:8080');
    const token = link!.split('#token=')[1]!;
    const answers = await Promise.all(
      [1, 2, 3, 4].map((i) => t.call('POST', '/api/v1/setup', { body: { token, email: `racer${i}@example.com`, name: `Racer ${i}`, password: 'a long enough passphrase' } })),
    );
    expect(answers.filter((a) => a.statusCode === 201)).toHaveLength(1);
    for (const a of answers.filter((x) => x.statusCode !== 201)) expect(['setup.invalid_token', 'setup.already_done']).toContain(a.json().error.code);
    const admins = await t.deps.db.selectFrom('users').select('id').execute();
    expect(admins).toHaveLength(1);
  });
});

describe('encoded paths', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('authenticates by the route that matched, however the path was spelled', async () => {
    const res = await t.call('GET', '/%61pi/v1/contacts');
    expect(res.statusCode).toBe(401);
    const { token } = await t.makeUser({ scopes: ['contacts:read'] });
    expect((await t.call('GET', '/api/v1/%63ontacts', { token })).statusCode).toBe(200);
    expect((await t.call('GET', '/api/v1/%63ompanies', { token })).statusCode).toBe(403);
  });
});

describe('passwords', () => {
  let t: TestApp;
  let admin: Awaited<ReturnType<TestApp['makeUser']>>;
  beforeAll(async () => {
    t = await createTestApp();
    admin = await t.makeUser({ roles: ['admin'] });
  });
  afterAll(async () => t.close());

  const create = (email: string, password: string, roles: string[]) => t.call('POST', '/api/v1/users', { token: admin.token, body: { email, name: 'Pat Example', password, roles } });

  it('checks passwords against a list of a million that attackers try first', async () => {
    const size = breachedListSize(PASSWORD_MIN_LENGTH);
    expect(size.entries).toBeGreaterThanOrEqual(100_000);
    expect(size.kept).toBeGreaterThan(40_000);
    for (const password of ['qwertyuiopasdfgh', 'QwertyuiopAsdfgh', 'password password', '1q2w3e4r5t6y7u8i']) {
      const refused = await create(`listed.${password.length}.${Date.now()}@example.com`, password, ['sales']);
      expect(refused.statusCode, password).toBe(400);
      expect(refused.json().error.fields, password).toEqual([{ field: 'password', message: 'is on a list of passwords attackers try first; choose another' }]);
    }
    expect((await create('unlisted@example.com', 'quiet harbour lamps at dusk', ['sales'])).statusCode).toBe(201);
  });

  it('asks for 15 characters of a password that is the only factor, and 12 beside a second one', async () => {
    const thirteen = 'ember cold 13';
    const seller = await create('seller.short@example.com', thirteen, ['sales']);
    expect(seller.statusCode).toBe(400);
    expect(seller.json().error.fields[0].message).toBe('must be at least 15 characters for an account that signs in without a second factor');
    expect((await create('manager.short@example.com', thirteen, ['manager'])).statusCode).toBe(201);
    expect((await create('seller.long@example.com', 'ember cold 15 ok', ['sales'])).statusCode).toBe(201);
    expect((await create('anyone.shorter@example.com', 'ember cold', ['manager'])).json().error.fields[0].message).toBe('must be at least 12 characters');
  });
});
