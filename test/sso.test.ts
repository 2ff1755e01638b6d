import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../src/modules/mfa/totp.js';
import { isMultiFactor } from '../src/modules/sso/oidc-client.js';
import { disableUser } from '../src/modules/users/users.service.js';
import { cliContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';
import { signInFully } from './support/sign-in.js';
import { CLIENT_ID, CLIENT_SECRET, TestProvider, type ProviderAccount } from './support/test-provider.js';

const PUBLIC_URL = 'http://127.0.0.1:3000';
const CALLBACK = `${PUBLIC_URL}/api/v1/auth/oidc/callback`;
const ROLE_MAP = 'crm-sales=sales,crm-support=support,crm-admins=admin';

/** A clock the tests can move; it starts at the real time, which the provider's tokens carry. */
const clock = { offset: 0, now: () => new Date(Date.now() + clock.offset) };

function ssoEnv(issuer: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000',
    RAMPART_PUBLIC_URL: PUBLIC_URL,
    RAMPART_OIDC_ISSUER: issuer,
    RAMPART_OIDC_CLIENT_ID: CLIENT_ID,
    RAMPART_OIDC_CLIENT_SECRET: CLIENT_SECRET,
    RAMPART_OIDC_SCOPES: 'openid email profile groups',
    RAMPART_OIDC_DISPLAY_NAME: 'Example ID',
    ...extra,
  };
}

let accountCounter = 0;

/** A provider account with a fresh id and a verified address of its own. */
function account(provider: TestProvider, fields: ProviderAccount = {}): { id: string; email: string } {
  accountCounter += 1;
  const id = `person-${accountCounter}`;
  const email = fields.email ?? `${id}@example.com`;
  provider.accounts.set(id, { email, emailVerified: true, name: `Person ${accountCounter}`, groups: ['crm-sales'], amr: ['pwd'], ...fields });
  return { id, email };
}

/** What a browser does: start at Rampart, sign in at the provider, come back with the code. */
function browserFor(t: () => TestApp, provider: () => TestProvider) {
  const start = async (): Promise<{ authorizationUrl: string; binding: string }> => {
    const res = await t().app.inject({ method: 'GET', url: '/api/v1/auth/oidc/start' });
    expect(res.statusCode, res.body).toBe(302);
    const binding = res.cookies.find((c) => c.name === 'rampart_sso');
    expect(binding).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/api/v1/auth/oidc' });
    return { authorizationUrl: String(res.headers.location), binding: binding!.value };
  };
  const callback = (back: URL, cookies: Record<string, string>) => t().app.inject({ method: 'GET', url: `${back.pathname}${back.search}`, cookies });
  const signIn = async (accountId: string, options: { abort?: boolean } = {}) => {
    const started = await start();
    const back = await provider().signIn(started.authorizationUrl, accountId, options);
    return callback(back, { rampart_sso: started.binding });
  };
  return { start, callback, signIn };
}

function sessionCookie(res: LightMyRequestResponse): string | undefined {
  return res.cookies.find((c) => c.name === 'rampart_session')?.value;
}

function expectSignedIn(res: LightMyRequestResponse): string {
  expect(res.statusCode, res.body).toBe(302);
  expect(res.headers.location).toBe('/');
  const cookie = res.cookies.find((c) => c.name === 'rampart_session');
  // The same cookie a password sign-in sets.
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
  return cookie!.value;
}

function expectRefused(res: LightMyRequestResponse, code: string): void {
  expect(res.statusCode, res.body).toBe(302);
  expect(res.headers.location).toBe(`/?sso_error=${code}`);
  expect(sessionCookie(res)).toBeUndefined();
}

async function sessionOf(t: TestApp, cookie: string): Promise<LightMyRequestResponse> {
  return t.app.inject({ method: 'GET', url: '/api/v1/auth/session', cookies: { rampart_session: cookie } });
}

async function lastAudit(t: TestApp, action: string): Promise<{ outcome: string; actor_kind: string; actor_id: string | null; details: Record<string, unknown>; record_ids: string[] } | undefined> {
  const row = await t.deps.db.selectFrom('audit_entries').select(['outcome', 'actor_kind', 'actor_id', 'details', 'record_ids']).where('action', '=', action).orderBy('seq', 'desc').executeTakeFirst();
  return row ? { ...row, details: JSON.parse(row.details) as Record<string, unknown>, record_ids: JSON.parse(row.record_ids) as string[] } : undefined;
}

describe('how many factors an amr shows', () => {
  it('counts mfa, or methods of two different kinds', () => {
    expect(isMultiFactor(['pwd', 'otp'])).toBe(true);
    expect(isMultiFactor(['mfa'])).toBe(true);
    expect(isMultiFactor(['hwk', 'fpt'])).toBe(true);
    expect(isMultiFactor(['pwd'])).toBe(false);
    expect(isMultiFactor(['otp', 'sms'])).toBe(false);
    expect(isMultiFactor(['pwd', 'kba'])).toBe(false);
    expect(isMultiFactor(['pwd', 'rba', 'geo', 'user'])).toBe(false);
    expect(isMultiFactor([])).toBe(false);
  });
});

describe('single sign-on with Rampart asking for its own second factor', () => {
  let provider: TestProvider;
  let t: TestApp;
  beforeAll(async () => {
    provider = await TestProvider.start(CALLBACK);
    t = await createTestApp(ssoEnv(provider.issuer, { RAMPART_OIDC_ROLE_MAP: ROLE_MAP, RAMPART_OIDC_MFA: 'rampart' }), { clock });
  });
  afterAll(async () => {
    await t?.close();
    await provider?.close();
  });
  const browser = browserFor(
    () => t,
    () => provider,
  );

  it('tells the sign-in page the provider is there, by name', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/auth/methods' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ oidc: { name: 'Example ID' } });
  });

  it('sends the browser to the provider with the code flow, S256 PKCE, a state and a nonce', async () => {
    const { authorizationUrl } = await browser.start();
    const url = new URL(authorizationUrl);
    expect(url.origin).toBe(provider.issuer);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: CALLBACK, code_challenge_method: 'S256', scope: 'openid email profile groups' });
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('state')!.length).toBeGreaterThanOrEqual(32);
    expect(url.searchParams.get('nonce')!.length).toBeGreaterThanOrEqual(32);
    // The state is kept only as a hash.
    const stored = await t.deps.db.selectFrom('sso_sign_ins').select('state_hash').execute();
    expect(JSON.stringify(stored)).not.toContain(url.searchParams.get('state'));
  });

  it('signs in the user with the verified email, links the identity, and the session works', async () => {
    const person = account(provider, { groups: ['crm-sales'] });
    const { user } = await t.makeUser({ roles: ['sales'], email: person.email });
    const res = await browser.signIn(person.id);
    const cookie = expectSignedIn(res);
    const session = await sessionOf(t, cookie);
    expect(session.statusCode, session.body).toBe(200);
    expect(session.json()).toMatchObject({ stage: 'active', user: { id: user.id, roles: ['sales'] } });
    const contacts = await t.app.inject({ method: 'GET', url: '/api/v1/contacts', cookies: { rampart_session: cookie } });
    expect(contacts.statusCode).toBe(200);

    const link = await t.deps.db.selectFrom('sso_identities').selectAll().where('user_id', '=', user.id).execute();
    expect(link).toEqual([expect.objectContaining({ issuer: provider.issuer, subject: person.id })]);
    expect(await lastAudit(t, 'user.sso_linked')).toMatchObject({ outcome: 'success', record_ids: [user.id], details: { issuer: provider.issuer, by: 'email' } });
    const signedIn = await lastAudit(t, 'auth.sso_signed_in');
    expect(signedIn).toMatchObject({ outcome: 'success', actor_kind: 'user', actor_id: user.id, details: { stage: 'active', providerMfa: false, linkedBy: 'email' } });
    // The log names the user by id, never by what the provider said about them.
    expect(JSON.stringify(signedIn)).not.toContain(person.email);

    // From now on the link finds the user, whatever address the provider gives.
    provider.accounts.get(person.id)!.email = 'someone.else@example.com';
    const again = await browser.signIn(person.id);
    expect((await sessionOf(t, expectSignedIn(again))).json().user.id).toBe(user.id);
  });

  it('refuses an email address the provider has not verified', async () => {
    const person = account(provider, { emailVerified: false });
    const { user } = await t.makeUser({ roles: ['sales'], email: person.email });
    expectRefused(await browser.signIn(person.id), 'auth.sso_refused');
    expect(await t.deps.db.selectFrom('sso_identities').select('subject').where('user_id', '=', user.id).execute()).toEqual([]);
    expect(await lastAudit(t, 'auth.sso_refused')).toMatchObject({ outcome: 'failure', actor_kind: 'anonymous', details: { reason: 'email not verified', code: 'auth.sso_refused' } });
  });

  it('refuses a person with no account when accounts are not made at sign-in', async () => {
    const person = account(provider);
    expectRefused(await browser.signIn(person.id), 'auth.sso_no_account');
    expect(await t.deps.db.selectFrom('users').select('id').where('email', '=', person.email).execute()).toEqual([]);
    expect((await lastAudit(t, 'auth.sso_refused'))?.details).toMatchObject({ reason: 'no account' });
  });

  it('sets the roles from the groups at every sign-in, through the role change that ends sessions', async () => {
    const person = account(provider, { groups: ['crm-sales', 'crm-support', 'not-mapped'] });
    const { user } = await t.makeUser({ roles: ['marketing'], email: person.email });
    const first = expectSignedIn(await browser.signIn(person.id));
    expect((await sessionOf(t, first)).json().user.roles).toEqual(['sales', 'support']);
    expect(await lastAudit(t, 'user.change_access')).toMatchObject({ actor_kind: 'system', actor_id: 'single-sign-on', record_ids: [user.id], details: { roles: [['marketing'], ['sales', 'support']] } });

    provider.accounts.get(person.id)!.groups = ['crm-sales'];
    const second = expectSignedIn(await browser.signIn(person.id));
    expect((await sessionOf(t, second)).json().user.roles).toEqual(['sales']);
    // The old session had the old rights: it is over.
    expect((await sessionOf(t, first)).statusCode).toBe(401);
    expect((await lastAudit(t, 'user.change_access'))?.details).toMatchObject({ roles: [['sales', 'support'], ['sales']] });
  });

  it('refuses a user none of whose groups maps to a role, and leaves their roles alone', async () => {
    const person = account(provider, { groups: ['not-mapped'] });
    const { user } = await t.makeUser({ roles: ['sales'], email: person.email });
    expectRefused(await browser.signIn(person.id), 'auth.sso_refused');
    expect(await lastAudit(t, 'auth.sso_refused')).toMatchObject({ actor_id: user.id, details: { reason: 'no mapped group' } });
    const roles = await t.deps.db.selectFrom('user_roles').select('role_id').where('user_id', '=', user.id).execute();
    expect(roles.map((r) => r.role_id)).toEqual(['sales']);
  });

  it('refuses a disabled user', async () => {
    const person = account(provider);
    const { user } = await t.makeUser({ roles: ['sales'], email: person.email });
    expectSignedIn(await browser.signIn(person.id));
    await disableUser(t.deps, cliContext('test'), user.id);
    expectRefused(await browser.signIn(person.id), 'auth.sso_refused');
    expect(await lastAudit(t, 'auth.sso_refused')).toMatchObject({ actor_id: user.id, details: { reason: 'account disabled' } });
  });

  it('takes each answer once, in time, and only in the browser that went to the provider', async () => {
    const person = account(provider);
    await t.makeUser({ roles: ['sales'], email: person.email });

    // Replayed: the same answer a second time.
    const started = await browser.start();
    const back = await provider.signIn(started.authorizationUrl, person.id);
    expectSignedIn(await browser.callback(back, { rampart_sso: started.binding }));
    expectRefused(await browser.callback(back, { rampart_sso: started.binding }), 'auth.sso_state_invalid');
    expect((await lastAudit(t, 'auth.sso_refused'))?.details).toMatchObject({ reason: 'unknown state' });

    // A state nobody issued, and none at all.
    expectRefused(await browser.callback(new URL(`${CALLBACK}?code=abc&state=made-up`), { rampart_sso: started.binding }), 'auth.sso_state_invalid');
    expectRefused(await browser.callback(new URL(`${CALLBACK}?code=abc`), { rampart_sso: started.binding }), 'auth.sso_state_invalid');

    // Another browser: no cookie, or someone else's. The answer is spent all the same.
    const strangers: Record<string, string>[] = [{}, { rampart_sso: (await browser.start()).binding }];
    for (const cookies of strangers) {
      const mine = await browser.start();
      const answer = await provider.signIn(mine.authorizationUrl, person.id);
      expectRefused(await browser.callback(answer, cookies), 'auth.sso_state_invalid');
      expect((await lastAudit(t, 'auth.sso_refused'))?.details).toMatchObject({ reason: 'another browser' });
      expectRefused(await browser.callback(answer, { rampart_sso: mine.binding }), 'auth.sso_state_invalid');
    }

    // Too late: ten minutes have passed.
    const late = await browser.start();
    const lateAnswer = await provider.signIn(late.authorizationUrl, person.id);
    clock.offset = 11 * 60_000;
    try {
      expectRefused(await browser.callback(lateAnswer, { rampart_sso: late.binding }), 'auth.sso_state_invalid');
      expect((await lastAudit(t, 'auth.sso_refused'))?.details).toMatchObject({ reason: 'expired' });
    } finally {
      clock.offset = 0;
    }
  });

  it("passes on a person's refusal at the provider without repeating the provider's words", async () => {
    const person = account(provider);
    const res = await browser.signIn(person.id, { abort: true });
    expectRefused(res, 'auth.sso_refused');
    expect((await lastAudit(t, 'auth.sso_refused'))?.details).toEqual({ reason: 'access_denied', code: 'auth.sso_refused' });
  });

  it('leads a user whose role requires a second factor to Rampart\'s own, whatever the provider says', async () => {
    const admin = account(provider, { groups: ['crm-admins'], amr: ['pwd', 'otp'] });
    await t.makeUser({ roles: ['sales'], email: admin.email });
    const cookie = expectSignedIn(await browser.signIn(admin.id));
    // Nothing changes on the account before Rampart's own factor: no link, roles as they were.
    const waiting = (await sessionOf(t, cookie)).json();
    expect(waiting).toMatchObject({ stage: 'enrol', user: { roles: ['sales'] } });
    expect(await t.deps.db.selectFrom('sso_identities').select('subject').where('user_id', '=', waiting.user.id).execute()).toEqual([]);
    const refused = await t.app.inject({ method: 'GET', url: '/api/v1/contacts', cookies: { rampart_session: cookie } });
    expect(refused.json().error.code).toBe('auth.mfa_enrolment_required');
    // The enrolment a password sign-in would lead to works from here.
    const csrf = (await sessionOf(t, cookie)).json().csrfToken as string;
    const enrol = await t.app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp', cookies: { rampart_session: cookie }, headers: { 'x-csrf-token': csrf }, payload: {} });
    expect(enrol.statusCode, enrol.body).toBe(200);
    expect(await lastAudit(t, 'auth.sso_signed_in')).toMatchObject({ details: { stage: 'enrol', providerMfa: false } });
    const { factorId, secret } = enrol.json();
    const confirmed = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/mfa/totp/confirm',
      cookies: { rampart_session: cookie },
      headers: { 'x-csrf-token': csrf },
      payload: { factorId, code: await totpCode(secret, Math.floor(clock.now().getTime() / 1000)) },
    });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    // With the factor given, the link and the roles from the groups apply.
    expect(confirmed.json().session.user.roles).toEqual(['admin']);
    expect(await t.deps.db.selectFrom('sso_identities').select('subject').where('user_id', '=', waiting.user.id).execute()).toEqual([{ subject: admin.id }]);

    // Next time, with a factor set up, single sign-on leads to the second step.
    const next = expectSignedIn(await browser.signIn(admin.id));
    const partial = (await sessionOf(t, next)).json();
    expect(partial.stage).toBe('mfa');
    const verified = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/mfa/verify',
      cookies: { rampart_session: next },
      headers: { 'x-csrf-token': partial.csrfToken },
      payload: { recoveryCode: confirmed.json().recoveryCodes[0] },
    });
    expect(verified.statusCode, verified.body).toBe(200);
    expect(verified.json().stage).toBe('active');
  });

  it('keeps single sign-on open for an account whose password someone keeps guessing', async () => {
    const person = account(provider);
    await t.makeUser({ roles: ['sales'], email: person.email });
    for (let i = 0; i < 12; i++) {
      await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: person.email, password: `guess number ${i} of many` }, remoteAddress: `198.51.100.${i + 1}` });
    }
    const locked = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: person.email, password: 'one more guess at it' }, remoteAddress: '198.51.100.99' });
    expect(locked.statusCode).toBe(429);
    expectSignedIn(await browser.signIn(person.id));
  });

  it('refuses a second identity at the provider with the address of an account already linked', async () => {
    const first = account(provider);
    await t.makeUser({ roles: ['sales'], email: first.email });
    expectSignedIn(await browser.signIn(first.id));
    const second = account(provider, { email: first.email });
    expectRefused(await browser.signIn(second.id), 'auth.sso_refused');
    expect((await lastAudit(t, 'auth.sso_refused'))?.details).toMatchObject({ reason: 'linked to another identity' });
    expectSignedIn(await browser.signIn(first.id));
  });

  it('lets someone who passes the provider but not the second factor change nothing on the account', async () => {
    const owner = await t.makeUser({ roles: ['manager'] });
    const signedIn = await signInFully(t, owner.user.email, owner.password, () => clock.now().getTime());
    // An identity at the provider that carries the owner's address, verified, in another group.
    const impostor = account(provider, { email: owner.user.email, groups: ['crm-sales'] });
    const cookie = expectSignedIn(await browser.signIn(impostor.id));
    expect((await sessionOf(t, cookie)).json()).toMatchObject({ stage: 'mfa', user: { roles: ['manager'] } });
    expect(await t.deps.db.selectFrom('sso_identities').select('subject').where('user_id', '=', owner.user.id).execute()).toEqual([]);
    const ownSession = await t.app.inject({ method: 'GET', url: '/api/v1/auth/session', headers: { cookie: signedIn.cookie } });
    expect(ownSession.statusCode).toBe(200);
    expect(ownSession.json().user.roles).toEqual(['manager']);
  });

  it('refuses an ID token signed by another key than the provider publishes', async () => {
    const person = account(provider);
    await t.makeUser({ roles: ['sales'], email: person.email });
    provider.impostor = true;
    try {
      expectRefused(await browser.signIn(person.id), 'auth.sso_refused');
    } finally {
      provider.impostor = false;
    }
    // The impostor's token names the genuine key, but its signature does not check out.
    expect((await lastAudit(t, 'auth.sso_refused'))?.details).toEqual({ reason: 'OAUTH_INVALID_RESPONSE', code: 'auth.sso_refused' });
    // The genuine provider still works.
    expectSignedIn(await browser.signIn(person.id));
  });

  it('refuses an answer from another provider', async () => {
    const other = await TestProvider.start(CALLBACK, { accounts: provider.accounts });
    try {
      const person = account(provider);
      await t.makeUser({ roles: ['sales'], email: person.email });
      const started = await browser.start();
      const elsewhere = new URL(started.authorizationUrl);
      const redirected = new URL(`${elsewhere.pathname}${elsewhere.search}`, other.issuer);
      const back = await other.signIn(redirected.href, person.id);
      expectRefused(await browser.callback(back, { rampart_sso: started.binding }), 'auth.sso_refused');
      // The answer names its issuer (RFC 9207), which is not the configured one.
      expect((await lastAudit(t, 'auth.sso_refused'))?.details).toEqual({ reason: 'OAUTH_INVALID_RESPONSE', code: 'auth.sso_refused' });
    } finally {
      await other.close();
    }
  });
});

describe("single sign-on with the provider's second factor and accounts made at sign-in", () => {
  let provider: TestProvider;
  let t: TestApp;
  beforeAll(async () => {
    provider = await TestProvider.start(CALLBACK);
    t = await createTestApp(ssoEnv(provider.issuer, { RAMPART_OIDC_ROLE_MAP: ROLE_MAP, RAMPART_OIDC_MFA: 'provider', RAMPART_OIDC_CREATE_USERS: 'true' }), { clock });
  });
  afterAll(async () => {
    await t?.close();
    await provider?.close();
  });
  const browser = browserFor(
    () => t,
    () => provider,
  );

  it('makes an account for a new person, with the mapped roles and no password', async () => {
    const person = account(provider, { name: 'Nora New', groups: ['crm-support'] });
    const cookie = expectSignedIn(await browser.signIn(person.id));
    const session = (await sessionOf(t, cookie)).json();
    expect(session).toMatchObject({ stage: 'active', user: { email: person.email, name: 'Nora New', roles: ['support'] } });
    const row = await t.deps.db.selectFrom('users').select(['password_hash']).where('id', '=', session.user.id).executeTakeFirstOrThrow();
    expect(row.password_hash).toBeNull();
    expect(await lastAudit(t, 'user.create')).toMatchObject({ actor_kind: 'system', record_ids: [session.user.id] });
    expect(await lastAudit(t, 'user.sso_linked')).toMatchObject({ details: { by: 'new account' } });
    // No password: the password sign-in knows no way in.
    const login = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: person.email, password: 'any password at all' } });
    expect(login.statusCode).toBe(401);
  });

  it('lets a user with no password add a second factor from a sign-in of the last five minutes', async () => {
    const person = account(provider, { groups: ['crm-support'] });
    const signedIn = await browser.signIn(person.id);
    const cookie = expectSignedIn(signedIn);
    const csrf = (await sessionOf(t, cookie)).json().csrfToken as string;
    const addTotp = () => t.app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp', payload: {}, cookies: { rampart_session: cookie }, headers: { 'x-csrf-token': csrf } });
    const started = await addTotp();
    expect(started.statusCode, started.body).toBe(200);
    const sixMinutesAgo = new Date(Date.now() - 6 * 60_000).toISOString();
    await t.deps.db.updateTable('sessions').set({ created_at: sixMinutesAgo }).where('user_id', '=', (await sessionOf(t, cookie)).json().user.id).execute();
    const stale = await addTotp();
    expect(stale.json().error.code).toBe('auth.step_up_required');
  });

  it('makes no account for an unverified address or groups that map to nothing', async () => {
    const unverified = account(provider, { emailVerified: false });
    expectRefused(await browser.signIn(unverified.id), 'auth.sso_refused');
    const unmapped = account(provider, { groups: ['elsewhere'] });
    expectRefused(await browser.signIn(unmapped.id), 'auth.sso_refused');
    const made = await t.deps.db.selectFrom('users').select('id').where('email', 'in', [unverified.email, unmapped.email]).execute();
    expect(made).toEqual([]);
  });

  it("counts the provider's second factor: amr pwd+otp signs an administrator in fully", async () => {
    const admin = account(provider, { groups: ['crm-admins'], amr: ['pwd', 'otp'] });
    const before = Date.now();
    const cookie = expectSignedIn(await browser.signIn(admin.id));
    const session = (await sessionOf(t, cookie)).json();
    expect(session).toMatchObject({ stage: 'active', user: { roles: ['admin'] } });
    const row = await t.deps.db.selectFrom('sessions').innerJoin('users', 'users.id', 'sessions.user_id').select(['sessions.mfa_at']).where('users.email', '=', admin.email).executeTakeFirstOrThrow();
    // The second factor counts from when the provider asked for it.
    expect(new Date(row.mfa_at!).getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 1000);
    expect(new Date(row.mfa_at!).getTime()).toBeLessThanOrEqual(Date.now());
    expect(await lastAudit(t, 'auth.sso_signed_in')).toMatchObject({ details: { stage: 'active', providerMfa: true } });
    // A fresh second factor is what a new API token asks for.
    const token = await t.app.inject({ method: 'POST', url: '/api/v1/tokens', cookies: { rampart_session: cookie }, headers: { 'x-csrf-token': session.csrfToken }, payload: { name: 'from sso' } });
    expect(token.statusCode, token.body).toBe(201);
  });

  it('falls back to its own second factor when the provider asked for only a password', async () => {
    const admin = account(provider, { groups: ['crm-admins'], amr: ['pwd'] });
    const cookie = expectSignedIn(await browser.signIn(admin.id));
    expect((await sessionOf(t, cookie)).json().stage).toBe('enrol');
    expect(await lastAudit(t, 'auth.sso_signed_in')).toMatchObject({ details: { stage: 'enrol', providerMfa: false } });
    // One that needs no second factor signs in, without one to step up with.
    const seller = account(provider, { groups: ['crm-sales'], amr: ['pwd'] });
    const sellerCookie = expectSignedIn(await browser.signIn(seller.id));
    expect((await sessionOf(t, sellerCookie)).json().stage).toBe('active');
    const row = await t.deps.db.selectFrom('sessions').innerJoin('users', 'users.id', 'sessions.user_id').select('sessions.mfa_at').where('users.email', '=', seller.email).executeTakeFirstOrThrow();
    expect(row.mfa_at).toBeNull();
  });

  it('steps a session up when the provider signs the user in again with a second factor', async () => {
    const admin = account(provider, { groups: ['crm-admins'], amr: ['pwd', 'otp'] });
    const cookie = expectSignedIn(await browser.signIn(admin.id));
    const { csrfToken } = (await sessionOf(t, cookie)).json();
    const headers = { 'x-csrf-token': csrfToken as string };
    const userId = (await t.deps.db.selectFrom('users').select('id').where('email', '=', admin.email).executeTakeFirstOrThrow()).id;
    // The second factor of the sign-in is long past.
    await t.deps.db.updateTable('sessions').set({ mfa_at: new Date(Date.now() - 3_600_000).toISOString() }).where('user_id', '=', userId).execute();
    const newToken = () => t.app.inject({ method: 'POST', url: '/api/v1/tokens', cookies: { rampart_session: cookie }, headers, payload: { name: 'needs step-up' } });
    expect((await newToken()).json().error.code).toBe('auth.step_up_required');

    const askStepUp = async () => {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/oidc/step-up', cookies: { rampart_session: cookie }, headers });
      expect(res.statusCode, res.body).toBe(200);
      const url = new URL(res.json().authorizationUrl);
      expect(url.searchParams.get('prompt')).toBe('login');
      expect(url.searchParams.get('max_age')).toBe('0');
      return { url: url.href, binding: res.cookies.find((c) => c.name === 'rampart_sso')!.value };
    };
    // Only a password at the provider this time: no step-up.
    provider.accounts.get(admin.id)!.amr = ['pwd'];
    const weak = await askStepUp();
    expectRefused(await browser.callback(await provider.signIn(weak.url, admin.id), { rampart_sso: weak.binding, rampart_session: cookie }), 'auth.sso_refused');
    expect((await newToken()).json().error.code).toBe('auth.step_up_required');

    // Someone else signs in at the provider: no step-up for this session.
    const stranger = account(provider, { groups: ['crm-admins'], amr: ['pwd', 'otp'] });
    expectSignedIn(await browser.signIn(stranger.id));
    const hijack = await askStepUp();
    expectRefused(await browser.callback(await provider.signIn(hijack.url, stranger.id), { rampart_sso: hijack.binding, rampart_session: cookie }), 'auth.sso_refused');
    expect((await lastAudit(t, 'auth.sso_refused'))?.details).toMatchObject({ reason: 'another identity' });

    provider.accounts.get(admin.id)!.amr = ['pwd', 'otp'];
    // A second factor given more than five minutes before the answer arrives is no step-up.
    const late = await askStepUp();
    const lateBack = await provider.signIn(late.url, admin.id);
    clock.offset = 6 * 60_000;
    try {
      expectRefused(await browser.callback(lateBack, { rampart_sso: late.binding, rampart_session: cookie }), 'auth.sso_refused');
    } finally {
      clock.offset = 0;
    }
    expect((await lastAudit(t, 'auth.sso_refused'))?.details).toMatchObject({ reason: 'no fresh second factor' });
    expect((await newToken()).json().error.code).toBe('auth.step_up_required');

    const strong = await askStepUp();
    const back = await provider.signIn(strong.url, admin.id);
    const done = await browser.callback(back, { rampart_sso: strong.binding, rampart_session: cookie });
    expect(done.statusCode, done.body).toBe(302);
    expect(done.headers.location).toBe('/');
    expect(await lastAudit(t, 'auth.step_up')).toMatchObject({ actor_id: userId, details: { method: 'provider' } });
    expect((await newToken()).statusCode).toBe(201);
  });

  it('offers no step-up at the provider to a user it does not know', async () => {
    const { user, password } = await t.makeUser({ roles: ['sales'] });
    const login = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: user.email, password } });
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/oidc/step-up', cookies: { rampart_session: sessionCookie(login)! }, headers: { 'x-csrf-token': login.json().csrfToken } });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('auth.sso_no_account');
  });
});

describe('single sign-on with a provider that keeps claims to its userinfo endpoint', () => {
  let provider: TestProvider;
  let t: TestApp;
  beforeAll(async () => {
    provider = await TestProvider.start(CALLBACK, { claimsInIdToken: false });
    t = await createTestApp(ssoEnv(provider.issuer));
  });
  afterAll(async () => {
    await t?.close();
    await provider?.close();
  });
  const browser = browserFor(
    () => t,
    () => provider,
  );

  it('reads the address from userinfo, and leaves roles alone without a role map', async () => {
    const person = account(provider, { groups: ['crm-admins'] });
    const { user } = await t.makeUser({ roles: ['marketing'], email: person.email });
    const cookie = expectSignedIn(await browser.signIn(person.id));
    expect((await sessionOf(t, cookie)).json()).toMatchObject({ stage: 'active', user: { id: user.id, roles: ['marketing'] } });
  });
});

describe('single sign-on when the provider is out of reach or not configured', () => {
  let unreachable: TestApp;
  let plain: TestApp;
  beforeAll(async () => {
    // A port that was free a moment ago: nothing answers there.
    const gone = await TestProvider.start(CALLBACK);
    const issuer = gone.issuer;
    await gone.close();
    unreachable = await createTestApp(ssoEnv(issuer));
    plain = await createTestApp({ RAMPART_PUBLIC_URL: PUBLIC_URL });
  });
  afterAll(async () => {
    await unreachable?.close();
    await plain?.close();
  });

  it('answers 503 with a stable code when the provider cannot be reached', async () => {
    const res = await unreachable.app.inject({ method: 'GET', url: '/api/v1/auth/oidc/start' });
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe('auth.sso_unavailable');
    expect(res.cookies).toEqual([]);
  });

  it('says there is no provider, and its routes answer 404', async () => {
    expect((await plain.app.inject({ method: 'GET', url: '/api/v1/auth/methods' })).json()).toEqual({ oidc: null });
    for (const url of ['/api/v1/auth/oidc/start', '/api/v1/auth/oidc/callback?code=a&state=b']) {
      const res = await plain.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error.code).toBe('auth.sso_not_configured');
    }
  });
});
