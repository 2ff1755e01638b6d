import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRecords } from '../src/data/record-store.js';
import { newId } from '../src/shared/ids.js';
import { checkToken } from '../src/modules/tokens/tokens.service.js';
import { cliContext } from '../src/shared/principal.js';
import { runDetectionOnce } from '../src/modules/detection/detection.runner.js';
import { listRules, updateRule } from '../src/modules/detection/detection.service.js';
import type { AlertsTable } from '../src/db/schema.js';
import { createTestApp, type TestApp } from './support/app.js';

/**
 * Every shipped rule, driven by real requests through the app (sign-ins, reads, exports, reveals,
 * role changes, probes) and evaluated by the engine as the server runs it: each test acts, runs
 * detection once, and finds the alert with its responses. Where the shipped threshold would need
 * thousands of records, the test lowers it through the same service administrators use.
 */

const MINUTE = 60_000;
const DAY = 86_400_000;
/** Monday 2 March 2026, 10:00 UTC: inside working hours. */
const clock = { at: Date.UTC(2026, 2, 2, 10, 0, 0), now: () => new Date(clock.at) };
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';

describe('detection rules, end to end', () => {
  let t: TestApp;
  let admin: string;
  const operator = cliContext('test');

  beforeAll(async () => {
    t = await createTestApp({ RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000' }, { clock });
    admin = (await t.makeUser({ roles: ['admin'] })).token;
    // The first run warms up on what setting up left behind, and raises nothing.
    const first = await runDetectionOnce(t.deps);
    expect(first).toMatchObject({ held: true, alertsRaised: 0 });
  });
  afterAll(async () => t.close());

  const tick = (ms: number) => {
    clock.at += ms;
  };
  /** Moves the clock forward to the next day at `hour` UTC. */
  const nextDayAt = (hour: number) => {
    const day = Math.floor(clock.at / DAY) + 1;
    clock.at = day * DAY + hour * 3_600_000;
  };
  const detect = () => runDetectionOnce(t.deps);
  const alertsOf = async (rule: string): Promise<AlertsTable[]> => t.deps.db.selectFrom('alerts').selectAll().where('rule', '=', rule).orderBy('created_at').execute();
  const responsesOf = async (alertId: string) => t.deps.db.selectFrom('alert_responses').select(['kind', 'state', 'target']).where('alert_id', '=', alertId).execute();
  const evidenceOf = (alert: AlertsTable) => JSON.parse(alert.evidence) as { auditSeqs: number[]; requestEventIds: string[]; figures: Record<string, unknown> };
  const login = (email: string, password: string, address: string, agent = CHROME) =>
    t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, headers: { 'user-agent': agent }, remoteAddress: address });
  const tune = async (key: string, settings: Record<string, unknown>) => {
    const rule = (await listRules(t.deps, operator)).find((r) => r.key === key)!;
    await updateRule(t.deps, operator, key, { enabled: true, severity: rule.severity, settings: { ...rule.settings, ...settings }, automatic: rule.automatic, suggested: rule.suggested, version: rule.version });
  };
  const contacts = async (n: number, label: string, extra: Record<string, unknown> = {}): Promise<string[]> => {
    const results = await createRecords(t.deps, operator, 'contacts', Array.from({ length: n }, (_, i) => ({ lastName: `${label} ${i}`, email: `${label.toLowerCase()}.${i}@example.com`, ...extra })));
    return results.map((r) => (r as { id: string }).id);
  };
  /** Request events are written after the answer has gone; waits until they are in. */
  const requestEventsSettle = async (address: string, atLeast: number) => {
    for (let i = 0; i < 100; i += 1) {
      const row = await t.deps.db.selectFrom('request_events').select((eb) => eb.fn.sum<number>('repeats').as('r')).select((eb) => eb.fn.countAll<number>().as('n')).where('source_address', '=', address).executeTakeFirstOrThrow();
      if (Number(row.n) + Number(row.r ?? 0) >= atLeast) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`request events from ${address} did not arrive`);
  };

  /** An export's closing entry is written once the file has gone out, a moment after the answer ends. */
  const auditSettles = async (action: string, actorId: string, atLeast: number) => {
    for (let i = 0; i < 100; i += 1) {
      const row = await t.deps.db.selectFrom('audit_entries').select((eb) => eb.fn.countAll<number>().as('n')).where('action', '=', action).where('actor_id', '=', actorId).executeTakeFirstOrThrow();
      if (Number(row.n) >= atLeast) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`${action} entries did not arrive`);
  };

  it('auth.brute_force: eight wrong passwords on one account', async () => {
    const { user, password } = await t.makeUser({ roles: ['sales'] });
    for (let i = 0; i < 7; i += 1) {
      expect((await login(user.email, 'not the password at all', '198.51.100.1')).statusCode).toBe(401);
      tick(20_000);
    }
    await detect();
    expect(await alertsOf('auth.brute_force')).toHaveLength(0);
    expect((await login(user.email, 'not the password at all', '198.51.100.1')).statusCode).toBe(401);
    await detect();
    const [alert] = await alertsOf('auth.brute_force');
    expect(alert).toMatchObject({ severity: 'medium', status: 'open', actor_id: user.id, subject_key: `auth.brute_force:user:${user.id}`, event_count: 1 });
    expect(evidenceOf(alert!).auditSeqs).toHaveLength(8);
    // No name or email in what the alert says.
    expect(alert!.summary).not.toContain(user.email);
    expect((await responsesOf(alert!.id)).map((r) => `${r.kind}:${r.state}`).sort()).toEqual(['block_address:suggested', 'lock_account:suggested', 'notify:done']);
    expect(password).toBeTruthy();
  });

  it('auth.credential_stuffing: one address against many accounts, and the address is blocked', async () => {
    const address = '203.0.113.66';
    const known = await Promise.all([1, 2, 3].map(() => t.makeUser({ roles: ['sales'] })));
    for (let i = 0; i < 10; i += 1) {
      const email = i < 3 ? known[i]!.user.email : `nobody.${i}@example.com`;
      expect((await login(email, 'Summer2026!', address)).statusCode).toBe(401);
      tick(1000);
    }
    await detect();
    const [alert] = await alertsOf('auth.credential_stuffing');
    expect(alert).toMatchObject({ severity: 'high', source_address: address, actor_id: null, subject_key: `auth.credential_stuffing:address:${address}` });
    expect(await responsesOf(alert!.id)).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'block_address', state: 'done', target: address })]));
    // The block holds: the next sign-in from there is refused before any password is checked.
    const refused = await login(known[0]!.user.email, known[0]!.password, address);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('request.address_blocked');
  });

  it('auth.password_spraying: one account from five addresses', async () => {
    const { user } = await t.makeUser({ roles: ['sales'] });
    for (let i = 0; i < 5; i += 1) {
      expect((await login(user.email, 'Password123!', `192.0.2.${10 + i}`)).statusCode).toBe(401);
      tick(1000);
    }
    await detect();
    const [alert] = await alertsOf('auth.password_spraying');
    expect(alert).toMatchObject({ severity: 'high', actor_id: user.id });
    expect((evidenceOf(alert!).figures as { observed: number }).observed).toBe(5);
  });

  it('auth.success_after_failures: the right password after six wrong ones', async () => {
    const { user, password } = await t.makeUser({ roles: ['sales'] });
    for (let i = 0; i < 6; i += 1) {
      expect((await login(user.email, 'guess guess guess', '198.51.100.30')).statusCode).toBe(401);
      tick(30_000);
    }
    tick(60_000);
    expect((await login(user.email, password, '198.51.100.30')).statusCode).toBe(200);
    await detect();
    const [alert] = await alertsOf('auth.success_after_failures');
    expect(alert).toMatchObject({ severity: 'high', actor_id: user.id, actor_kind: 'user' });
    expect(await responsesOf(alert!.id)).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'step_up', state: 'done' }), expect.objectContaining({ kind: 'end_sessions', state: 'suggested' })]));
  });

  it('auth.success_after_failures: the step-up acts on the session that sign-in opened, not on the others', async () => {
    const { user, password } = await t.makeUser({ roles: ['sales'] });
    const earlier = await login(user.email, password, '198.51.100.31');
    expect(earlier.statusCode).toBe(200);
    tick(MINUTE);
    for (let i = 0; i < 6; i += 1) {
      expect((await login(user.email, 'guess guess guess', '198.51.100.32')).statusCode).toBe(401);
      tick(30_000);
    }
    tick(60_000);
    const later = await login(user.email, password, '198.51.100.32');
    expect(later.statusCode).toBe(200);
    await detect();
    const [alert] = (await alertsOf('auth.success_after_failures')).filter((a) => a.actor_id === user.id);
    expect(alert).toBeDefined();
    const stepUp = await t.deps.db.selectFrom('alert_responses').selectAll().where('alert_id', '=', alert!.id).where('kind', '=', 'step_up').executeTakeFirstOrThrow();
    expect(stepUp.state).toBe('done');
    expect(JSON.parse(stepUp.details)).toMatchObject({ scope: 'alert_session', sessions: 1 });
    const use = (response: typeof earlier, address: string) =>
      t.app.inject({ method: 'GET', url: '/api/v1/contacts', cookies: { rampart_session: response.cookies.find((c) => c.name === 'rampart_session')!.value }, headers: { 'user-agent': CHROME }, remoteAddress: address });
    // The user's other session goes on; the one the suspicious sign-in opened had to prove itself again.
    expect((await use(earlier, '198.51.100.31')).statusCode).toBe(200);
    expect((await use(later, '198.51.100.32')).statusCode).toBe(401);
  });

  it('auth.new_device: nothing at the first sign-in, a low alert from a new device and network', async () => {
    const { user, password } = await t.makeUser({ roles: ['sales'] });
    expect((await login(user.email, password, '198.51.100.40', CHROME)).statusCode).toBe(200);
    tick(MINUTE);
    expect((await login(user.email, password, '198.51.100.41', CHROME)).statusCode).toBe(200);
    await detect();
    expect((await alertsOf('auth.new_device')).filter((a) => a.actor_id === user.id)).toHaveLength(0);
    tick(MINUTE);
    expect((await login(user.email, password, '203.0.113.140', FIREFOX)).statusCode).toBe(200);
    await detect();
    const mine = (await alertsOf('auth.new_device')).filter((a) => a.actor_id === user.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ severity: 'low', source_address: '203.0.113.140' });
    expect((await responsesOf(mine[0]!.id)).filter((r) => r.state === 'done').map((r) => r.kind)).toEqual(['notify']);
  });

  it('session.hijack: a session cookie replayed from another browser', async () => {
    const { user, password } = await t.makeUser({ roles: ['sales'] });
    const signed = await login(user.email, password, '198.51.100.50', CHROME);
    const cookie = signed.cookies[0]!.value;
    const stolen = await t.app.inject({ method: 'GET', url: '/api/v1/contacts', cookies: { rampart_session: cookie }, headers: { 'user-agent': 'curl/8.5.0' }, remoteAddress: '203.0.113.150' });
    expect(stolen.statusCode).toBe(401);
    await detect();
    const [alert] = (await alertsOf('session.hijack')).filter((a) => a.actor_id === user.id);
    expect(alert).toMatchObject({ severity: 'high' });
    expect(evidenceOf(alert!).figures).toMatchObject({ from: 'Chrome', to: 'curl' });
  });

  it('data.read_spike: more than five hundred records within the hour, under the shipped settings', async () => {
    await contacts(520, 'Spike');
    const { user, token } = await t.makeUser({ roles: ['support'] });
    let cursor: string | null = null;
    let read = 0;
    do {
      const url: string = `/api/v1/contacts?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await t.call('GET', url, { token });
      expect(page.statusCode, page.body).toBe(200);
      read += page.json().items.length;
      cursor = page.json().nextCursor;
      tick(30_000);
    } while (cursor && read < 600);
    await detect();
    const [alert] = (await alertsOf('data.read_spike')).filter((a) => a.actor_id === user.id);
    expect(alert).toMatchObject({ severity: 'high', actor_kind: 'token' });
    expect(Number(evidenceOf(alert!).figures.observed)).toBeGreaterThanOrEqual(500);
    expect(await responsesOf(alert!.id)).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'step_up', state: 'done' }), expect.objectContaining({ kind: 'lock_account', state: 'suggested' })]));
  });

  it('data.slow_exfiltration: two days in a row far above the daily bar', async () => {
    await tune('data.slow_exfiltration', { dailyFloor: 20 });
    await contacts(30, 'Slow');
    const { user, token } = await t.makeUser({ roles: ['support'] });
    expect((await t.call('GET', '/api/v1/contacts?limit=25&q=Slow', { token })).statusCode).toBe(200);
    await detect();
    expect((await alertsOf('data.slow_exfiltration')).filter((a) => a.actor_id === user.id)).toHaveLength(0);
    nextDayAt(10);
    expect((await t.call('GET', '/api/v1/contacts?limit=25&q=Slow', { token })).statusCode).toBe(200);
    await detect();
    const [alert] = (await alertsOf('data.slow_exfiltration')).filter((a) => a.actor_id === user.id);
    expect(alert).toMatchObject({ severity: 'high' });
    expect(evidenceOf(alert!).figures).toMatchObject({ days: 2 });
    await tune('data.slow_exfiltration', { dailyFloor: 1500 });
  });

  it('data.bulk_export: five exports within an hour', async () => {
    const { user, token } = await t.makeUser({ roles: ['marketing'] });
    for (let i = 0; i < 5; i += 1) {
      const made = await t.call('POST', '/api/v1/exports', { token, body: { type: 'contacts', reason: 'Campaign list', query: { q: 'Slow' } } });
      expect(made.statusCode, made.body).toBe(201);
      const res = await t.call('GET', `/api/v1/exports/${made.json().id}/download`, { token });
      expect(res.statusCode, res.body).toBe(200);
      tick(MINUTE);
    }
    await auditSettles('export.completed', user.id, 5);
    await detect();
    const [alert] = (await alertsOf('data.bulk_export')).filter((a) => a.actor_id === user.id);
    expect(alert).toMatchObject({ severity: 'high' });
    expect(evidenceOf(alert!).figures).toMatchObject({ kind: 'repeated', observed: 5 });
  });

  it('data.reveal_spike: twenty reveals within the hour', async () => {
    const ids = await contacts(20, 'Reveal', { idNumber: '110101199003070099' });
    const { user, token } = await t.makeUser({ roles: ['support'] });
    for (const id of ids) {
      const res = await t.call('POST', `/api/v1/contacts/${id}/reveal`, { token, body: { fields: ['idNumber'], reason: 'Customer called to confirm identity' } });
      expect(res.statusCode, res.body).toBe(200);
      tick(30_000);
    }
    await detect();
    const [alert] = (await alertsOf('data.reveal_spike')).filter((a) => a.actor_id === user.id);
    expect(alert).toMatchObject({ severity: 'high' });
    expect(evidenceOf(alert!).figures).toMatchObject({ observed: 20, threshold: 20 });
  });

  it('access.privilege_escalation: an administrator made of a seller', async () => {
    const { user } = await t.makeUser({ roles: ['sales'] });
    const changed = await t.call('PATCH', `/api/v1/users/${user.id}`, { token: admin, body: { roles: ['sales', 'admin'] } });
    expect(changed.statusCode, changed.body).toBe(200);
    await detect();
    const [alert] = (await alertsOf('access.privilege_escalation')).filter((a) => (evidenceOf(a).figures as { targetUserId?: string }).targetUserId === user.id);
    expect(alert).toMatchObject({ severity: 'high' });
    expect(evidenceOf(alert!).figures).toMatchObject({ kind: 'new admin' });
  });

  it('account.disabled_activity: the right password for a disabled account', async () => {
    const { user, password } = await t.makeUser({ roles: ['sales'] });
    expect((await t.call('POST', `/api/v1/users/${user.id}/disable`, { token: admin })).statusCode).toBe(200);
    expect((await login(user.email, password, '198.51.100.60')).statusCode).toBe(401);
    await detect();
    const [alert] = (await alertsOf('account.disabled_activity')).filter((a) => a.actor_id === user.id);
    expect(alert).toMatchObject({ severity: 'high' });
  });

  it('account.disabled_activity: a refused token names its user and why, and a revoked one still in use raises it', async () => {
    const { user, token } = await t.makeUser({ roles: ['sales'] });
    const { id: tokenId } = await t.deps.db.selectFrom('api_tokens').select('id').where('user_id', '=', user.id).executeTakeFirstOrThrow();
    const refusalOf = async () => (await checkToken(t.deps, token)).refusal;
    expect(await refusalOf()).toBeNull();
    await t.deps.db.updateTable('users').set({ locked_at: clock.now().toISOString() }).where('id', '=', user.id).execute();
    expect(await refusalOf()).toEqual({ userId: user.id, tokenId, reason: 'account locked' });
    await t.deps.db.updateTable('api_tokens').set({ expires_at: clock.now().toISOString() }).where('id', '=', tokenId).execute();
    expect(await refusalOf()).toMatchObject({ reason: 'token expired' });
    await t.deps.db.updateTable('users').set({ status: 'disabled' }).where('id', '=', user.id).execute();
    expect(await refusalOf()).toMatchObject({ reason: 'account disabled' });
    await t.deps.db.updateTable('api_tokens').set({ revoked_at: clock.now().toISOString() }).where('id', '=', tokenId).execute();
    expect(await refusalOf()).toEqual({ userId: user.id, tokenId, reason: 'token revoked' });
    expect(await checkToken(t.deps, 'rpt_no_such_token')).toEqual({ principal: null, refusal: null });

    // The revoked token still in use over HTTP: the refusal names the token's user and why.
    const refused = await t.app.inject({ method: 'GET', url: '/api/v1/contacts', headers: { authorization: `Bearer ${token}`, 'user-agent': 'curl/8.5.0' }, remoteAddress: '203.0.113.61' });
    expect(refused.statusCode).toBe(401);
    const entry = await t.deps.db.selectFrom('audit_entries').selectAll().where('action', '=', 'auth.token_refused').orderBy('seq', 'desc').executeTakeFirstOrThrow();
    expect(entry).toMatchObject({ actor_id: user.id, record_type: 'api_tokens', source_address: '203.0.113.61' });
    expect(JSON.parse(entry.record_ids)).toEqual([tokenId]);
    expect(JSON.parse(entry.details)).toMatchObject({ reason: 'token revoked' });
    await detect();
    const [alert] = (await alertsOf('account.disabled_activity')).filter((a) => a.actor_id === user.id);
    expect(alert).toMatchObject({ severity: 'high', source_address: '203.0.113.61' });
    expect(evidenceOf(alert!).figures).toEqual({ reason: 'token revoked', tokenId });
  });

  it('token.new_address: a token used from a second address', async () => {
    const { token } = await t.makeUser({ roles: ['sales'] });
    const use = (address: string) => t.app.inject({ method: 'GET', url: '/api/v1/contacts', headers: { authorization: `Bearer ${token}` }, remoteAddress: address });
    expect((await use('198.51.100.70')).statusCode).toBe(200);
    tick(MINUTE);
    expect((await use('203.0.113.170')).statusCode).toBe(200);
    await detect();
    const found = (await alertsOf('token.new_address')).filter((a) => a.source_address === '203.0.113.170');
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ severity: 'low' });
  });

  it('honeytoken.touched: opening a decoy ends the sessions and locks the account; a list page holding one does not', async () => {
    const [decoy] = await contacts(4, 'Decoy');
    await t.deps.db.insertInto('honeytokens').values({ record_id: decoy!, record_type: 'contacts', planted_by: 'test', planted_at: clock.now().toISOString() }).execute();
    const { user, token } = await t.makeUser({ roles: ['support'] });
    const page = await t.call('GET', '/api/v1/contacts?limit=25&q=Decoy', { token });
    expect(page.json().items.map((c: { id: string }) => c.id)).toContain(decoy);
    await detect();
    expect((await alertsOf('honeytoken.touched')).filter((a) => a.actor_id === user.id)).toHaveLength(0);
    expect((await t.call('GET', `/api/v1/contacts/${decoy}`, { token })).statusCode).toBe(200);
    await detect();
    const [alert] = (await alertsOf('honeytoken.touched')).filter((a) => a.actor_id === user.id);
    expect(alert).toMatchObject({ severity: 'critical' });
    expect(evidenceOf(alert!).figures).toMatchObject({ how: 'opened', recordId: decoy });
    const done = (await responsesOf(alert!.id)).filter((r) => r.state === 'done').map((r) => r.kind).sort();
    expect(done).toEqual(['end_sessions', 'lock_account', 'notify']);
    expect((await t.call('GET', '/api/v1/contacts', { token })).statusCode).toBe(401);
  });

  it('honeytoken.touched: a search or a duplicate check that finds the decoy alone is no opening; revealing it is', async () => {
    const [decoy] = await contacts(1, 'Lonely', { idNumber: '110101199003070099' });
    await t.deps.db.insertInto('honeytokens').values({ record_id: decoy!, record_type: 'contacts', planted_by: 'test', planted_at: clock.now().toISOString() }).execute();
    const { user, token } = await t.makeUser({ roles: ['support'] });
    const search = await t.call('GET', '/api/v1/contacts?limit=25&q=Lonely', { token });
    expect(search.json().items.map((c: { id: string }) => c.id)).toEqual([decoy]);
    const duplicates = await t.call('POST', '/api/v1/contacts/duplicates', { token, body: { email: 'lonely.0@example.com' } });
    expect(duplicates.statusCode, duplicates.body).toBe(200);
    expect(duplicates.json().items.map((m: { record: { id: string } }) => m.record.id)).toEqual([decoy]);
    // The reads say how they came to the decoy.
    const reads = await t.deps.db.selectFrom('audit_entries').select(['details', 'record_ids']).where('action', '=', 'record.read').where('actor_id', '=', user.id).orderBy('seq').execute();
    expect(reads.map((r) => [JSON.parse(r.details).mode, JSON.parse(r.record_ids)])).toEqual([
      ['list', [decoy]],
      ['duplicates', [decoy]],
    ]);
    await detect();
    expect((await alertsOf('honeytoken.touched')).filter((a) => a.actor_id === user.id)).toHaveLength(0);
    const revealed = await t.call('POST', `/api/v1/contacts/${decoy}/reveal`, { token, body: { fields: ['idNumber'], reason: 'Customer called to confirm identity' } });
    expect(revealed.statusCode, revealed.body).toBe(200);
    await detect();
    const [alert] = (await alertsOf('honeytoken.touched')).filter((a) => a.actor_id === user.id);
    expect(evidenceOf(alert!).figures).toMatchObject({ how: 'revealed', recordId: decoy });
  });

  it('request.probe: injection probes from one address, then a burst of missing pages from another', async () => {
    const probes = ["/api/v1/contacts?q=1'%20OR%20'1'='1", '/api/v1/contacts?q=%3Cscript%3Ealert(1)%3C/script%3E', '/api/v1/../../etc/passwd'];
    for (const url of probes) {
      await t.app.inject({ method: 'GET', url, remoteAddress: '198.51.100.99' });
      tick(1000);
    }
    await requestEventsSettle('198.51.100.99', 3);
    await detect();
    const [probe] = await alertsOf('request.probe');
    expect(probe).toMatchObject({ severity: 'high', source_address: '198.51.100.99' });
    expect(evidenceOf(probe!).requestEventIds.length).toBeGreaterThanOrEqual(3);
    expect(await responsesOf(probe!.id)).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'block_address', state: 'done' })]));

    for (let i = 0; i < 40; i += 1) {
      await t.app.inject({ method: 'GET', url: `/api/v1/nothing-here-${i}`, remoteAddress: '198.51.100.98' });
      if (i % 3 === 2) tick(1000);
    }
    tick(2000);
    await requestEventsSettle('198.51.100.98', 40);
    await detect();
    const scan = (await alertsOf('request.probe')).find((a) => a.source_address === '198.51.100.98');
    expect(evidenceOf(scan!).figures).toMatchObject({ kind: 'refusals' });
  });

  it('request.probe: missing pages of a signed-in user behind one address add up to nothing', async () => {
    const { token } = await t.makeUser({ roles: ['sales'] });
    const address = '198.51.100.96';
    for (let i = 0; i < 45; i += 1) {
      const res = await t.app.inject({ method: 'GET', url: `/api/v1/contacts/${newId()}`, headers: { authorization: `Bearer ${token}` }, remoteAddress: address });
      expect(res.statusCode).toBe(404);
      if (i % 3 === 2) tick(1000);
    }
    tick(2000);
    await requestEventsSettle(address, 45);
    await detect();
    expect((await alertsOf('request.probe')).filter((a) => a.source_address === address)).toHaveLength(0);
  });

  it('request.probe: probes that go on once the block ran out fold into the alert and block the address again', async () => {
    const address = '198.51.100.95';
    const probe = () => t.app.inject({ method: 'GET', url: "/api/v1/contacts?q=1'%20OR%20'1'='1", remoteAddress: address });
    for (let i = 0; i < 3; i += 1) {
      await probe();
      tick(1000);
    }
    await requestEventsSettle(address, 3);
    await detect();
    const [alert] = (await alertsOf('request.probe')).filter((a) => a.source_address === address);
    expect(alert).toBeDefined();
    const blocksOf = async () => (await responsesOf(alert!.id)).filter((r) => r.kind === 'block_address' && r.state === 'done');
    expect(await blocksOf()).toHaveLength(1);
    expect((await probe()).json().error.code).toBe('request.address_blocked');

    // An hour on the block has run out, and the probing starts again.
    tick(61 * MINUTE);
    for (let i = 0; i < 3; i += 1) {
      expect((await probe()).json().error.code).not.toBe('request.address_blocked');
      tick(1000);
    }
    await requestEventsSettle(address, 7);
    await detect();
    const mine = (await alertsOf('request.probe')).filter((a) => a.source_address === address);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ status: 'open' });
    expect(mine[0]!.event_count).toBeGreaterThan(1);
    expect(await blocksOf()).toHaveLength(2);
    expect((await probe()).json().error.code).toBe('request.address_blocked');
  });

  it('audit.verification_failed: a sealed value that fails its integrity check', async () => {
    const [id] = await contacts(1, 'Tampered');
    await sql`update contacts set email = ${'v1.bm90IGEgc2VhbGVkIHZhbHVl'} where id = ${id}`.execute(t.deps.db);
    const res = await t.call('GET', `/api/v1/contacts/${id}`, { token: admin });
    expect(res.json().error.code).toBe('data.integrity_failed');
    await detect();
    const [alert] = await alertsOf('audit.verification_failed');
    expect(alert).toMatchObject({ severity: 'critical', subject_key: 'audit.verification_failed:audit' });
    expect(await responsesOf(alert!.id)).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'lockdown', state: 'suggested' })]));
  });

  it('data.mass_delete: many deletions within minutes', async () => {
    await tune('data.mass_delete', { deletes: 5 });
    const ids = await contacts(5, 'Doomed');
    const { user, token } = await t.makeUser({ roles: ['admin'] });
    for (const id of ids) {
      const res = await t.call('DELETE', `/api/v1/contacts/${id}`, { token, body: { version: 1 } });
      expect([200, 204], res.body).toContain(res.statusCode);
      tick(10_000);
    }
    await detect();
    const [alert] = (await alertsOf('data.mass_delete')).filter((a) => a.actor_id === user.id);
    expect(alert).toMatchObject({ severity: 'high' });
    await tune('data.mass_delete', { deletes: 50 });
  });

  it('data.off_hours: personal data read late at night', async () => {
    await tune('data.off_hours', { minRecords: 10 });
    const { user, token } = await t.makeUser({ roles: ['support'] });
    expect((await t.call('GET', '/api/v1/contacts?limit=25&q=Spike', { token })).statusCode).toBe(200);
    await detect();
    expect((await alertsOf('data.off_hours')).filter((a) => a.actor_id === user.id)).toHaveLength(0);
    nextDayAt(23);
    expect((await t.call('GET', '/api/v1/contacts?limit=25&q=Spike', { token })).statusCode).toBe(200);
    await detect();
    const [alert] = (await alertsOf('data.off_hours')).filter((a) => a.actor_id === user.id);
    expect(alert).toMatchObject({ severity: 'medium' });
    expect(evidenceOf(alert!).figures).toMatchObject({ hour: 23 });
    await tune('data.off_hours', { minRecords: 100 });
    nextDayAt(10);
  });

  it('account.dormant_active: an account used again after more than thirty days', async () => {
    const { user, password } = await t.makeUser({ roles: ['sales'] });
    expect((await login(user.email, password, '198.51.100.80')).statusCode).toBe(200);
    await detect();
    clock.at += 31 * DAY;
    expect((await login(user.email, password, '198.51.100.80')).statusCode).toBe(200);
    await detect();
    const [alert] = (await alertsOf('account.dormant_active')).filter((a) => a.actor_id === user.id);
    expect(alert).toMatchObject({ severity: 'medium' });
    expect(evidenceOf(alert!).figures).toMatchObject({ observed: 31, threshold: 30 });
  });

  it('covers every shipped rule', async () => {
    const raised = new Set((await t.deps.db.selectFrom('alerts').select('rule').execute()).map((r) => r.rule));
    const rules = (await listRules(t.deps, operator)).map((r) => r.key);
    expect(rules.filter((r) => !raised.has(r))).toEqual([]);
    // Every new alert is in the audit log, as the engine's own action.
    const raisedEntries = await t.deps.db.selectFrom('audit_entries').select(['actor_kind', 'actor_id', 'channel']).where('action', '=', 'alert.raised').execute();
    expect(raisedEntries.length).toBe(Number((await t.deps.db.selectFrom('alerts').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n));
    expect(raisedEntries.every((e) => e.actor_kind === 'system' && e.actor_id === 'detection' && e.channel === 'job')).toBe(true);
  });
});
