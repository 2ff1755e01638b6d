import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { cookieClient } from './support/sign-in.js';
import { SoftAuthenticator } from './support/soft-authenticator.js';

describe('passkeys', () => {
  let t: TestApp;
  let origin: string;
  beforeAll(async () => {
    t = await createTestApp({ RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000' });
    origin = new URL(t.deps.config.publicUrl).origin;
  });
  afterAll(async () => t.close());

  const { as, sessionOf } = cookieClient(() => t);

  /** An administrator who set up a passkey as their first factor, at their first sign-in. */
  const withPasskey = async () => {
    const admin = await t.makeUser({ roles: ['admin'] });
    const partial = sessionOf(await as(null, 'POST', '/api/v1/auth/login', { email: admin.user.email, password: admin.password }));
    const device = new SoftAuthenticator();
    const { challengeId, options } = (await as(partial, 'POST', '/api/v1/auth/passkeys/registration-options', {})).json();
    expect(options.authenticatorSelection).toMatchObject({ residentKey: 'required', userVerification: 'required' });
    const added = await as(partial, 'POST', '/api/v1/auth/passkeys', { challengeId, response: device.create(options, origin), label: 'Laptop' });
    expect(added.statusCode, added.body).toBe(200);
    expect(added.json().recoveryCodes).toHaveLength(10);
    expect(added.json().session.stage).toBe('active');
    return { ...admin, device, session: sessionOf(added) };
  };

  const signInOptions = async () => (await as(null, 'POST', '/api/v1/auth/passkeys/sign-in-options')).json() as { challengeId: string; options: { challenge: string; rpId: string } };

  it('sets up a passkey as the first factor, then signs in with it alone', async () => {
    const admin = await withPasskey();
    expect((await as(admin.session, 'GET', '/api/v1/contacts')).statusCode).toBe(200);
    const status = (await as(admin.session, 'GET', '/api/v1/auth/mfa')).json();
    expect(status.passkeys).toEqual([expect.objectContaining({ id: admin.device.id, label: 'Laptop' })]);

    const { challengeId, options } = await signInOptions();
    const signedIn = await as(null, 'POST', '/api/v1/auth/passkeys/sign-in', { challengeId, response: admin.device.get(options, origin) });
    expect(signedIn.statusCode, signedIn.body).toBe(200);
    expect(signedIn.json()).toMatchObject({ stage: 'active', user: { id: admin.user.id } });
    expect((await as(sessionOf(signedIn), 'GET', '/api/v1/contacts')).statusCode).toBe(200);
    const counter = (await sql<{ counter: number | string }>`select counter from passkeys where id = ${admin.device.id}`.execute(t.deps.db)).rows[0]!;
    expect(Number(counter.counter)).toBe(admin.device.signCount);
  });

  it('refuses a reused challenge, another origin, a bad signature and a counter that goes back', async () => {
    const admin = await withPasskey();
    const refused = async (body: unknown) => {
      const res = await as(null, 'POST', '/api/v1/auth/passkeys/sign-in', body);
      expect(res.statusCode, res.body).toBe(401);
      expect(res.json().error.code).toBe('auth.invalid_credentials');
      expect(res.cookies).toHaveLength(0);
    };
    // A challenge works once: the same answer again, or a new answer to it, gets nothing.
    const first = await signInOptions();
    const answer = admin.device.get(first.options, origin);
    expect((await as(null, 'POST', '/api/v1/auth/passkeys/sign-in', { challengeId: first.challengeId, response: answer })).statusCode).toBe(200);
    await refused({ challengeId: first.challengeId, response: answer });
    await refused({ challengeId: first.challengeId, response: admin.device.get(first.options, origin) });
    // A phishing site relays the challenge: the browser names its own origin.
    const relayed = await signInOptions();
    await refused({ challengeId: relayed.challengeId, response: admin.device.get(relayed.options, 'https://rampart-login.example') });
    // One flipped bit of the signature.
    const forged = await signInOptions();
    const bent = admin.device.get(forged.options, origin) as { response: { signature: string } };
    const signature = Buffer.from(bent.response.signature, 'base64url');
    signature[signature.length - 1]! ^= 0x01;
    bent.response.signature = signature.toString('base64url');
    await refused({ challengeId: forged.challengeId, response: bent });
    // A cloned authenticator answers with a counter the server has already seen.
    const cloned = await signInOptions();
    await refused({ challengeId: cloned.challengeId, response: admin.device.get(cloned.options, origin, { counter: 1 }) });
    // A passkey nobody registered.
    const stranger = await signInOptions();
    await refused({ challengeId: stranger.challengeId, response: new SoftAuthenticator().get(stranger.options, origin) });
    const failures = (await sql<{ details: string }>`select details from audit_entries where action = 'auth.login_failed' order by seq desc limit 5`.execute(t.deps.db)).rows;
    expect(failures.map((f) => JSON.parse(f.details).reason)).toEqual(Array(5).fill('passkey refused'));
  });

  it('gives the second step of a password sign-in, and a step-up, with a passkey', async () => {
    const admin = await withPasskey();
    const partial = sessionOf(await as(null, 'POST', '/api/v1/auth/login', { email: admin.user.email, password: admin.password }));
    // A challenge made for this session only.
    const { challengeId, options } = (await as(partial, 'POST', '/api/v1/auth/passkeys/challenge')).json();
    expect(options.allowCredentials).toEqual([expect.objectContaining({ id: admin.device.id })]);
    const other = await withPasskey();
    expect((await as(partial, 'POST', '/api/v1/auth/mfa/verify', { passkey: { challengeId, response: other.device.get(options, origin) } })).statusCode).toBe(400);
    const again = (await as(partial, 'POST', '/api/v1/auth/passkeys/challenge')).json();
    const done = await as(partial, 'POST', '/api/v1/auth/mfa/verify', { passkey: { challengeId: again.challengeId, response: admin.device.get(again.options, origin) } });
    expect(done.statusCode, done.body).toBe(200);
    const full = sessionOf(done);

    await sql`update sessions set mfa_at = ${'2000-01-01T00:00:00.000Z'} where revoked_at is null and user_id = ${admin.user.id}`.execute(t.deps.db);
    expect((await as(full, 'POST', '/api/v1/tokens', { name: 'script' })).json().error.code).toBe('auth.step_up_required');
    const step = (await as(full, 'POST', '/api/v1/auth/passkeys/challenge')).json();
    const up = await as(full, 'POST', '/api/v1/auth/step-up', { passkey: { challengeId: step.challengeId, response: admin.device.get(step.options, origin) } });
    expect(up.statusCode, up.body).toBe(200);
    expect((await as(full, 'POST', '/api/v1/tokens', { name: 'script' })).statusCode).toBe(201);
    // A challenge of one session is no good in another.
    const foreign = (await as(full, 'POST', '/api/v1/auth/passkeys/challenge')).json();
    const elsewhere = sessionOf(await as(null, 'POST', '/api/v1/auth/login', { email: admin.user.email, password: admin.password }));
    expect((await as(elsewhere, 'POST', '/api/v1/auth/mfa/verify', { passkey: { challengeId: foreign.challengeId, response: admin.device.get(foreign.options, origin) } })).statusCode).toBe(400);
  });

  it('keeps the last factor of a role that requires one, and removes a passkey after a step-up', async () => {
    const admin = await withPasskey();
    const last = await as(admin.session, 'DELETE', `/api/v1/auth/passkeys/${admin.device.id}`);
    expect(last.json().error.code).toBe('auth.mfa_required_by_role');
    const second = new SoftAuthenticator();
    const { challengeId, options } = (await as(admin.session, 'POST', '/api/v1/auth/passkeys/registration-options', {})).json();
    expect(options.excludeCredentials).toEqual([expect.objectContaining({ id: admin.device.id })]);
    expect((await as(admin.session, 'POST', '/api/v1/auth/passkeys', { challengeId, response: second.create(options, origin) })).json().recoveryCodes).toBeNull();
    expect((await as(admin.session, 'DELETE', `/api/v1/auth/passkeys/${admin.device.id}`)).statusCode).toBe(204);
    const { challengeId: id2, options: o2 } = await signInOptions();
    expect((await as(null, 'POST', '/api/v1/auth/passkeys/sign-in', { challengeId: id2, response: admin.device.get(o2, origin) })).statusCode).toBe(401);
  });
});
