import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signInAccountKey, SIGN_IN_LIMITS } from '../src/modules/auth/sign-in-throttle.js';
import { createTestApp, type TestApp } from './support/app.js';

const clock = { at: Date.UTC(2026, 10, 29, 10, 0, 0), now: () => new Date(clock.at) };
const WRONG = 'not the password at all';

describe('sign-in throttling', () => {
  let t: TestApp;
  let addressCounter = 0;
  beforeAll(async () => {
    // The per-process request limit is raised out of the way: these tests are about the shared one.
    t = await createTestApp({ RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000' }, { clock });
  });
  afterAll(async () => t.close());

  const nextAddress = () => `198.51.100.${(addressCounter += 1) % 250}`;
  const attempt = (email: string, password: string, address: string) =>
    t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, remoteAddress: address });
  const failures = async (email: string) =>
    Number((await sql<{ n: number }>`select count(*) as n from sign_in_failures where account_key = ${signInAccountKey(email)}`.execute(t.deps.db)).rows[0]!.n);

  it('lets five failures through, then makes each attempt wait longer, then locks the account for 15 minutes', async () => {
    const { user, password } = await t.makeUser({ roles: ['sales'] });
    const address = nextAddress();
    for (let i = 0; i < 5; i++) expect((await attempt(user.email, WRONG, address)).statusCode).toBe(401);
    const waits: string[] = [];
    for (let i = 0; i < 5; i++) {
      const held = await attempt(user.email, WRONG, address);
      expect(held.statusCode).toBe(429);
      expect(held.json().error.code).toBe('auth.throttled');
      waits.push(String(held.headers['retry-after']));
      // Even the right password is not looked at while the account waits.
      expect((await attempt(user.email, password, address)).statusCode).toBe(429);
      clock.at += 2 ** i * 1000;
      expect((await attempt(user.email, WRONG, address)).statusCode).toBe(401);
    }
    expect(waits).toEqual(['1', '2', '4', '8', '16']);
    const locked = await attempt(user.email, password, address);
    expect(locked.statusCode).toBe(429);
    expect(locked.headers['retry-after']).toBe(String(SIGN_IN_LIMITS.lockMinutes * 60));
    // From another address too: the count is the account's.
    expect((await attempt(user.email, password, nextAddress())).statusCode).toBe(429);
    clock.at += SIGN_IN_LIMITS.lockMinutes * 60_000;
    const ok = await attempt(user.email, password, address);
    expect(ok.statusCode, ok.body).toBe(200);
    expect(await failures(user.email)).toBe(0);
    expect((await attempt(user.email, WRONG, address)).statusCode).toBe(401);
  });

  it('never reaches a 101st failure on one account, and an administrator can unlock it', async () => {
    const { user, password } = await t.makeUser({ roles: ['sales'] });
    const admin = await t.makeUser({ roles: ['admin'] });
    let refusedWithLock = 0;
    for (let i = 0; i < SIGN_IN_LIMITS.lockForGoodAfter + 5; i++) {
      const res = await attempt(user.email, WRONG, nextAddress());
      if (res.statusCode === 423) refusedWithLock += 1;
      else expect(res.statusCode).toBe(401);
      clock.at += SIGN_IN_LIMITS.lockMinutes * 60_000 + 1000;
    }
    expect(refusedWithLock).toBe(5);
    expect(await failures(user.email)).toBe(SIGN_IN_LIMITS.lockForGoodAfter);
    const locked = await attempt(user.email, password, nextAddress());
    expect(locked.statusCode).toBe(423);
    expect(locked.json().error.code).toBe('auth.locked');
    const entry = (await sql<{ details: string }>`select details from audit_entries where action = 'auth.login_failed' and actor_id = ${user.id} order by seq desc`.execute(t.deps.db)).rows[0]!;
    expect(JSON.parse(entry.details)).toMatchObject({ reason: 'wrong password', locked: true });

    const unlocked = await t.call('POST', `/api/v1/users/${user.id}/unlock`, { token: admin.token });
    expect(unlocked.statusCode, unlocked.body).toBe(200);
    expect(unlocked.json()).toEqual({ unlocked: true });
    expect((await attempt(user.email, password, nextAddress())).statusCode).toBe(200);
  });

  it('answers an address nobody has exactly as a real account, in words, codes and waits', async () => {
    const { user } = await t.makeUser({ roles: ['sales'] });
    const ghost = `nobody.${Date.now()}@example.com`;
    const trace = async (email: string) => {
      const seen: string[] = [];
      const address = nextAddress();
      for (let i = 0; i < 12; i++) {
        const res = await attempt(email, WRONG, address);
        seen.push(`${res.statusCode} ${res.json().error.code} ${res.json().error.message} ${res.headers['retry-after'] ?? '-'}`);
      }
      return seen;
    };
    const start = clock.at;
    const real = await trace(user.email);
    clock.at = start;
    await sql`delete from sign_in_failures where account_key = ${signInAccountKey(user.email)}`.execute(t.deps.db);
    expect(await trace(ghost)).toEqual(real);
    clock.at += 24 * 3_600_000;
  });

  it('takes no measurably different time to refuse a real account and an unknown address', async () => {
    const { user } = await t.makeUser({ roles: ['sales'] });
    const ghost = `no.one.${Date.now()}@example.com`;
    const time = async (email: string) => {
      const started = performance.now();
      expect((await attempt(email, WRONG, nextAddress())).statusCode).toBe(401);
      // Each sample starts from a clean count, so neither is ever held back.
      await sql`delete from sign_in_failures where account_key = ${signInAccountKey(email)}`.execute(t.deps.db);
      return performance.now() - started;
    };
    const real: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 16; i++) {
      real.push(await time(user.email));
      unknown.push(await time(ghost));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    // Both run the same argon2id check; what differs is one indexed lookup.
    const [a, b] = [median(real), median(unknown)];
    expect(Math.abs(a - b) / Math.max(a, b), `medians ${a.toFixed(1)} ms and ${b.toFixed(1)} ms`).toBeLessThan(0.3);
  });

  it('holds back an address that tries many accounts, or fails many times, and no other address', async () => {
    const stuffer = nextAddress();
    const victim = await t.makeUser({ roles: ['sales'] });
    for (let i = 0; i < SIGN_IN_LIMITS.addressAccounts; i++) expect((await attempt(`list.${i}.${Date.now()}@example.com`, WRONG, stuffer)).statusCode).toBe(401);
    const held = await attempt(victim.user.email, victim.password, stuffer);
    expect(held.statusCode).toBe(429);
    expect(Number(held.headers['retry-after'])).toBeGreaterThan(SIGN_IN_LIMITS.addressAccountsWindowMinutes * 60 - 5);
    expect((await attempt(victim.user.email, victim.password, nextAddress())).statusCode).toBe(200);

    const guesser = nextAddress();
    const accounts = Array.from({ length: SIGN_IN_LIMITS.addressFailures / SIGN_IN_LIMITS.freeFailures }, (_, i) => `guess.${i}.${Date.now()}@example.com`);
    for (const email of accounts) for (let i = 0; i < SIGN_IN_LIMITS.freeFailures; i++) expect((await attempt(email, WRONG, guesser)).statusCode).toBe(401);
    expect((await attempt(victim.user.email, victim.password, guesser)).statusCode).toBe(429);
    clock.at += SIGN_IN_LIMITS.addressAccountsWindowMinutes * 60_000;
  });

  it('counts wrong second-factor codes against the account like wrong passwords', async () => {
    const { user, password } = await t.makeUser({ roles: ['admin'] });
    const address = nextAddress();
    const partial = await attempt(user.email, password, address);
    const session = { cookies: { rampart_session: partial.cookies[0]!.value }, headers: { 'x-csrf-token': partial.json().csrfToken } };
    const started = (await t.app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp', payload: {}, ...session })).json();
    const { totpCode } = await import('../src/modules/mfa/totp.js');
    await t.app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp/confirm', payload: { factorId: started.factorId, code: await totpCode(started.secret, Math.floor(clock.at / 1000)) }, ...session });
    // Three wrong codes, a new sign-in with the right password, and two more: the sixth is held back.
    const codes: number[] = [];
    for (let round = 0; round < 2; round++) {
      const waiting = await attempt(user.email, password, address);
      expect(waiting.json().stage).toBe('mfa');
      const second = { cookies: { rampart_session: waiting.cookies[0]!.value }, headers: { 'x-csrf-token': waiting.json().csrfToken } };
      for (let i = 0; i < 3; i++) codes.push((await t.app.inject({ method: 'POST', url: '/api/v1/auth/mfa/verify', payload: { code: '000000' }, ...second })).statusCode);
    }
    expect(codes).toEqual([400, 400, 400, 400, 400, 429]);
    expect(await failures(user.email)).toBe(SIGN_IN_LIMITS.freeFailures);
    expect((await attempt(user.email, password, address)).statusCode).toBe(429);
  });
});
