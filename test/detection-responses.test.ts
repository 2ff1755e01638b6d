import { createHmac } from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type RampartApp } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { inTransaction } from '../src/data/record-store.js';
import { openDatabase } from '../src/db/database.js';
import type { ResponseKind } from '../src/db/schema.js';
import type { RaisedAlert } from '../src/detection/model.js';
import { writeExport } from '../src/modules/transfer/transfer.export.js';
import {
  blockKeyOf,
  canonicalAddress,
  executeResponse,
  forgetContainment,
  liftBlock,
  liftLockdown,
  lockAccount,
  reverseResponse,
  responsesOf,
  startLockdown,
  unlockAccount,
} from '../src/modules/detection/containment.service.js';
import { resetLinkFor } from '../src/modules/auth/passwords.service.js';
import { deliverAlerts } from '../src/modules/detection/notify.js';
import { respondToAlert } from '../src/modules/detection/responses.js';
import type { UserView } from '../src/modules/users/users.service.js';
import { newId } from '../src/shared/ids.js';
import { hashSecret } from '../src/shared/secrets.js';
import { cliContext, type ActorContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';
import { testDialect } from './support/database.js';
import { mailIn } from './support/mail.js';
import { signInFully } from './support/sign-in.js';

const SECRET = 'webhook-secret-for-the-tests-0123';
const clock = { at: Date.now(), now: () => new Date(clock.at) };

interface Hook {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Someone handling alerts (or not), as a service call from a signed-in session would carry them. */
function asPerson(user: UserView, sessionId = 'test-session'): ActorContext {
  return { principal: { kind: 'user', userId: user.id, email: user.email, roles: user.roles, teamId: user.teamId, sessionId }, channel: 'web', requestId: null, sourceAddress: '192.0.2.1', userAgent: null };
}

async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe(`automatic responses and their enforcement on ${testDialect}`, () => {
  let t: TestApp;
  let second: RampartApp;
  let secondDir: string;
  let hookServer: http.Server;
  let syslog: dgram.Socket;
  const hooks: Hook[] = [];
  const hookAnswers: number[] = [];
  const datagrams: string[] = [];
  let admin: { user: UserView; token: string; password: string };

  beforeAll(async () => {
    hookServer = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        hooks.push({ headers: request.headers, body });
        response.statusCode = hookAnswers.shift() ?? 204;
        response.end();
      });
    });
    await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', resolve));
    syslog = dgram.createSocket('udp4');
    syslog.on('message', (message) => datagrams.push(message.toString('utf8')));
    await new Promise<void>((resolve) => syslog.bind(0, '127.0.0.1', resolve));
    t = await createTestApp(
      {
        RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000',
        RAMPART_ALERT_WEBHOOK_URL: `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hooks/rampart`,
        RAMPART_ALERT_WEBHOOK_SECRET: SECRET,
        RAMPART_ALERT_SYSLOG: `udp://127.0.0.1:${(syslog.address() as AddressInfo).port}`,
        RAMPART_DETECTION_NEVER_BLOCK: '203.0.113.128/25, 2001:db8:aaaa::/48',
      },
      { clock },
    );
    // A second server process on the same database: it learns of every response from the database alone.
    secondDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-second-'));
    const database =
      t.testDb.dialect === 'postgres'
        ? openDatabase({ dialect: 'postgres', url: process.env.RAMPART_TEST_DATABASE_URL!, schema: t.testDb.schema! })
        : openDatabase({ dialect: 'sqlite', file: t.testDb.file! });
    second = await buildApp(loadConfig({ env: { RAMPART_DATA_DIR: secondDir, RAMPART_LOG_LEVEL: 'silent', RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000', RAMPART_DETECTION: 'off' }, cwd: secondDir }), { database, migrated: true, keyring: t.testDb.keyring });
    admin = await t.makeUser({ roles: ['admin'] });
  });
  afterAll(async () => {
    await second?.close();
    await t?.close();
    fs.rmSync(secondDir, { recursive: true, force: true });
    hookServer?.close();
    syslog?.close();
  });

  /** Stores an alert as the engine would and answers it as handed to the responder. */
  const raise = async (fields: Partial<RaisedAlert> = {}): Promise<RaisedAlert> => {
    const at = clock.now();
    const alert: RaisedAlert = { id: newId(), rule: 'data.read_spike', severity: 'high', summary: 'Read 2400 records in an hour, 30 times the usual', actorKind: 'user', actorId: null, sessionId: null, sourceAddress: null, raisedAt: at, ...fields };
    await t.deps.db
      .insertInto('alerts')
      .values({
        id: alert.id,
        rule: alert.rule,
        severity: alert.severity,
        status: 'open',
        summary: alert.summary,
        subject_key: `${alert.rule}|${alert.actorId ?? alert.sourceAddress}`,
        actor_kind: alert.actorKind,
        actor_id: alert.actorId,
        source_address: alert.sourceAddress,
        evidence: JSON.stringify({ auditSeqs: [], requestEventIds: [], figures: {} }),
        event_count: 1,
        first_seen_at: at.toISOString(),
        last_seen_at: at.toISOString(),
        created_at: at.toISOString(),
        updated_at: at.toISOString(),
        handled_by: null,
        handled_at: null,
        note: null,
        incident_id: null,
        version: 1,
      })
      .execute();
    return alert;
  };
  const respond = async (fields: Partial<RaisedAlert>, automatic: ResponseKind[], suggested: ResponseKind[] = []) => {
    const alert = await raise(fields);
    await respondToAlert(t.deps, alert, { automatic, suggested });
    return { alert, responses: await responsesOf(t.deps, alert.id) };
  };
  /**
   * A live browser session of `user` from `address`, whose second factor was proved just now, and
   * the principal acting through it.
   */
  const sessionOf = async (user: UserView, address = '192.0.2.1') => {
    const id = `test-${newId()}`;
    const now = clock.now().toISOString();
    await t.deps.db
      .insertInto('sessions')
      .values({ id_hash: id, user_id: user.id, csrf_token: 'x', created_at: now, last_seen_at: now, expires_at: new Date(clock.at + 3_600_000).toISOString(), source_address: address, user_agent: null, revoked_at: null, stage: 'active', mfa_at: now, mfa_attempts: 0, browser: null, idle_minutes: null, sso_pending: null })
      .execute();
    return { id, ctx: asPerson(user, id) };
  };
  /** Someone who handles alerts, in a session with a second factor proved just now. */
  const asHandler = async (user: UserView) => (await sessionOf(user)).ctx;
  const auditOf = (action: string) => t.deps.db.selectFrom('audit_entries').selectAll().where('action', '=', action).orderBy('seq', 'desc').execute();
  const login = (app: RampartApp, email: string, password: string, remoteAddress = '203.0.113.50') => app.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, remoteAddress });
  const withToken = (app: RampartApp, token: string, method = 'GET', url = '/api/v1/contacts', body?: unknown, remoteAddress = '203.0.113.50') =>
    app.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}` }, remoteAddress, ...(body !== undefined ? { payload: body as object } : {}) });

  it('locks an account: its sessions end, sign-in and its tokens are refused on every server, and unlocking restores both', async () => {
    const seller = await t.makeUser({ roles: ['sales'] });
    const signedIn = await login(t, seller.user.email, seller.password);
    expect(signedIn.statusCode, signedIn.body).toBe(200);
    const cookie = signedIn.cookies[0]!.value;

    const { alert, responses } = await respond({ actorId: seller.user.id }, ['lock_account']);
    expect(responses).toMatchObject([{ kind: 'lock_account', state: 'done', target: seller.user.id, details: { sessions: 1 } }]);
    const [entry] = await auditOf('response.lock_account');
    expect(entry).toMatchObject({ actor_kind: 'system', actor_id: 'detection', channel: 'job', outcome: 'success', record_type: 'alerts' });
    expect(JSON.parse(entry!.record_ids as string)).toEqual([alert.id]);

    expect((await t.app.inject({ method: 'GET', url: '/api/v1/contacts', cookies: { rampart_session: cookie } })).statusCode).toBe(401);
    for (const app of [t, second]) {
      const refused = await withToken(app, seller.token);
      expect(refused.statusCode).toBe(423);
      expect(refused.json().error.code).toBe('auth.account_locked');
      const again = await login(app, seller.user.email, seller.password);
      expect(again.statusCode).toBe(423);
      expect(again.json().error.code).toBe('auth.account_locked');
    }
    // A wrong password learns nothing of the lock.
    expect((await login(t, seller.user.email, 'not the password at all')).json().error.code).toBe('auth.invalid_credentials');

    // Only someone who handles alerts may undo it; a refused attempt changes nothing.
    await expect(reverseResponse(t.deps, asPerson(seller.user), alert.id, responses[0]!.id)).rejects.toMatchObject({ code: 'auth.forbidden' });
    // Lifting it also needs a second factor proved in the last minutes.
    await expect(reverseResponse(t.deps, asPerson(admin.user), alert.id, responses[0]!.id)).rejects.toMatchObject({ code: 'auth.step_up_required' });
    expect((await withToken(second, seller.token)).statusCode).toBe(423);
    const reversed = await reverseResponse(t.deps, await asHandler(admin.user), alert.id, responses[0]!.id);
    expect(reversed).toMatchObject({ state: 'reversed', reversedBy: admin.user.id, details: { reversal: { unlocked: true } } });
    expect((await auditOf('response.reversed'))[0]).toMatchObject({ actor_kind: 'user', actor_id: admin.user.id });
    for (const app of [t, second]) {
      expect((await withToken(app, seller.token)).statusCode).toBe(200);
      expect((await login(app, seller.user.email, seller.password)).statusCode).toBe(200);
    }
    // A response is reversed once.
    await expect(reverseResponse(t.deps, await asHandler(admin.user), alert.id, responses[0]!.id)).rejects.toMatchObject({ code: 'detection.not_reversible' });
  });

  it('blocks the source address on every server within a second, and lifting the block lets it back', async () => {
    const seller = await t.makeUser({ roles: ['sales'] });
    const attacker = '198.51.100.23';
    expect((await withToken(second, seller.token, 'GET', '/api/v1/contacts', undefined, attacker)).statusCode).toBe(200);
    const { alert, responses } = await respond({ rule: 'request.probe', actorKind: 'anonymous', sourceAddress: attacker }, ['block_address']);
    expect(responses).toMatchObject([{ kind: 'block_address', state: 'done', target: attacker }]);
    expect(new Date(String(responses[0]!.details.until)).getTime()).toBe(clock.at + 60 * 60_000);

    const here = await t.app.inject({ method: 'GET', url: '/', remoteAddress: attacker });
    expect(here.statusCode).toBe(403);
    expect(here.json().error.code).toBe('request.address_blocked');
    // The other process reads blocks at most a second late.
    const there = await eventually(() => withToken(second, seller.token, 'GET', '/api/v1/contacts', undefined, attacker), (r) => r.statusCode === 403, 2500);
    expect(there.json().error.code).toBe('request.address_blocked');
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: seller.user.email, password: seller.password }, remoteAddress: `::ffff:${attacker}` })).statusCode).toBe(403);
    expect((await withToken(second, seller.token, 'GET', '/api/v1/contacts', undefined, '198.51.100.24')).statusCode).toBe(200);
    const recorded = await eventually(
      () => t.deps.db.selectFrom('request_events').selectAll().where('source_address', '=', attacker).where('kind', '=', 'blocked').execute(),
      (rows) => rows.length > 0,
    );
    expect(recorded[0]).toMatchObject({ status: 403, kind: 'blocked' });

    await reverseResponse(t.deps, await asHandler(admin.user), alert.id, responses[0]!.id);
    expect((await withToken(t, seller.token, 'GET', '/api/v1/contacts', undefined, attacker)).statusCode).toBe(200);
    expect((await eventually(() => withToken(second, seller.token, 'GET', '/api/v1/contacts', undefined, attacker), (r) => r.statusCode === 200, 2500)).statusCode).toBe(200);

    // A block written by another process (straight into the database here, so neither app is
    // told) is enforced by both once their one-second view renews, and not before it is read.
    const other = '198.51.100.31';
    for (const app of [t, second]) expect((await withToken(app, seller.token, 'GET', '/api/v1/contacts', undefined, other)).statusCode).toBe(200);
    const written = Date.now();
    await t.deps.db
      .insertInto('address_blocks')
      .values({ id: newId(), address: other, reason: 'elsewhere', alert_id: null, created_by: 'system:detection', created_at: clock.now().toISOString(), until: new Date(clock.at + 60_000).toISOString(), lifted_at: null, lifted_by: null })
      .execute();
    for (const app of [t, second]) {
      const refused = await eventually(() => withToken(app, seller.token, 'GET', '/api/v1/contacts', undefined, other), (r) => r.statusCode === 403, 3000);
      expect(refused.statusCode).toBe(403);
    }
    expect(Date.now() - written).toBeLessThan(1500);
    await t.deps.db.updateTable('address_blocks').set({ lifted_at: clock.now().toISOString(), lifted_by: 'test' }).where('address', '=', other).execute();
  });

  it('offers lockdown for a person to start: then only those who handle alerts write, and only to contain it; nobody exports; reversing it ends it', async () => {
    const seller = await t.makeUser({ roles: ['sales'] });
    const { alert, responses } = await respond({ rule: 'data.bulk_export', actorId: seller.user.id }, ['notify'], ['lockdown', 'lock_account']);
    const offered = responses.find((r) => r.kind === 'lockdown')!;
    expect(offered.state).toBe('suggested');
    expect(responses.find((r) => r.kind === 'lock_account')!.state).toBe('suggested');
    expect((await withToken(t, seller.token, 'POST', '/api/v1/contacts', { lastName: 'Before' })).statusCode).toBe(201);

    // A suggestion is not the seller's to act on.
    await expect(executeResponse(t.deps, asPerson(seller.user), alert.id, offered.id)).rejects.toMatchObject({ code: 'auth.forbidden' });
    const started = await executeResponse(t.deps, asPerson(admin.user), alert.id, offered.id);
    expect(started).toMatchObject({ kind: 'lockdown', state: 'done' });
    expect((await auditOf('response.lockdown'))[0]).toMatchObject({ actor_kind: 'user', actor_id: admin.user.id });
    await expect(executeResponse(t.deps, asPerson(admin.user), alert.id, offered.id)).rejects.toMatchObject({ code: 'alert.invalid_transition' });

    for (const app of [t, second]) {
      const refused = await eventually(() => withToken(app, seller.token, 'POST', '/api/v1/contacts', { lastName: 'During' }), (r) => r.statusCode === 423, 2500);
      expect(refused.json().error.code).toBe('system.lockdown');
      expect((await withToken(app, seller.token, 'GET', '/api/v1/contacts')).statusCode).toBe(200);
      // Whoever handles alerts writes only what contains the attack: a stolen administrator
      // session is what lockdown is for stopping.
      const handlerWrite = await withToken(app, admin.token, 'POST', '/api/v1/contacts', { lastName: 'By the handler' });
      expect(handlerWrite.statusCode).toBe(423);
      expect(handlerWrite.json().error.code).toBe('system.lockdown');
      expect((await withToken(app, admin.token, 'POST', `/api/v1/users/${seller.user.id}/sessions/end`, {})).statusCode).toBe(200);
      const block = await withToken(app, admin.token, 'POST', '/api/v1/detection/blocks', { address: '198.51.100.201', minutes: 1, reason: 'during lockdown' });
      expect(block.statusCode, block.body).toBe(201);
      await liftBlock(t.deps, await asHandler(admin.user), block.json().id);
      const exported = await withToken(app, admin.token, 'POST', '/api/v1/exports', { type: 'contacts', reason: 'During the lockdown' });
      expect(exported.statusCode).toBe(423);
      expect(exported.json().error.code).toBe('system.lockdown');
      // People may still secure their own accounts.
      expect((await withToken(app, seller.token, 'POST', '/api/v1/notices/read', {})).statusCode).toBe(200);
    }
    // The command line's export is off too.
    const out = fs.createWriteStream(path.join(t.dataDir, 'out.csv'));
    await expect(writeExport(t.deps, cliContext('test'), { type: 'contacts', format: 'csv', exportId: newId(), exportNo: 1 }, out)).rejects.toMatchObject({ code: 'system.lockdown' });
    out.destroy();
    const contacts = async () => Number((await sql<{ n: number }>`select count(*) as n from contacts`.execute(t.deps.db)).rows[0]!.n);
    const before = await contacts();
    // The refusals are in the audit log.
    const denied = await t.deps.db.selectFrom('audit_entries').select('details').where('action', '=', 'access.denied').where('actor_id', '=', admin.user.id).execute();
    expect(denied.some((d) => JSON.parse(d.details).code === 'system.lockdown')).toBe(true);

    // A session already signed in adds no second factor in lockdown (a stolen one would make
    // itself a way back); setting up the factor a role requires at sign-in goes on.
    const plain = await login(t, seller.user.email, seller.password);
    const add = await t.app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp', cookies: { rampart_session: plain.cookies[0]!.value }, headers: { 'x-csrf-token': plain.json().csrfToken }, payload: { password: seller.password } });
    expect(add.statusCode, add.body).toBe(423);
    expect(add.json().error.code).toBe('system.lockdown');
    const newcomer = await t.makeUser({ roles: ['admin'] });
    const partial = await login(t, newcomer.user.email, newcomer.password);
    expect(partial.json().stage).toBe('enrol');
    const enrol = await t.app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp', cookies: { rampart_session: partial.cookies[0]!.value }, headers: { 'x-csrf-token': partial.json().csrfToken }, payload: {} });
    expect(enrol.statusCode, enrol.body).toBe(200);

    await reverseResponse(t.deps, await asHandler(admin.user), alert.id, offered.id);
    for (const app of [t, second]) {
      expect((await eventually(() => withToken(app, seller.token, 'POST', '/api/v1/contacts', { lastName: 'After' }), (r) => r.statusCode === 201, 2500)).statusCode).toBe(201);
    }
    expect(await contacts()).toBe(before + 2);
    expect((await withToken(t, admin.token, 'POST', '/api/v1/exports', { type: 'contacts', reason: 'After the lockdown' })).statusCode).toBe(201);
  });

  it('steps up: sessions of a user with a second factor go back to it, and reversing returns those not yet completed', async () => {
    const manager = await t.makeUser({ roles: ['manager'] });
    const first = await signInFully(t, manager.user.email, manager.password, () => clock.at);
    const as = (session: { cookie: string; csrf: string }, method = 'GET', url = '/api/v1/contacts', body?: unknown) =>
      t.app.inject({ method: method as 'GET', url, cookies: { rampart_session: session.cookie.replace(/^rampart_session=/, '') }, headers: { 'x-csrf-token': session.csrf }, ...(body !== undefined ? { payload: body as object } : {}) });
    expect((await as(first)).statusCode).toBe(200);
    const { alert, responses } = await respond({ actorId: manager.user.id }, ['step_up']);
    expect(responses[0]).toMatchObject({ kind: 'step_up', state: 'done', details: { mode: 'second_factor', sessions: 1 } });
    const asked = await as(first);
    expect(asked.statusCode).toBe(401);
    expect(asked.json().error.code).toBe('auth.mfa_required');
    // The same browser proves the factor again and carries on in a new session.
    const proved = await as(first, 'POST', '/api/v1/auth/mfa/verify', { recoveryCode: first.recoveryCodes[0] });
    expect(proved.statusCode, proved.body).toBe(200);
    const renewed = { cookie: proved.cookies.find((c) => c.name === 'rampart_session')!.value, csrf: proved.json().csrfToken as string };
    expect((await as(renewed)).statusCode).toBe(200);

    const again = await respond({ actorId: manager.user.id }, ['step_up']);
    expect((await as(renewed)).statusCode).toBe(401);
    const undone = await reverseResponse(t.deps, await asHandler(admin.user), again.alert.id, again.responses[0]!.id);
    expect(undone.details.reversal).toEqual({ sessionsRestored: 1 });
    expect((await as(renewed)).statusCode).toBe(200);
    expect(alert.id).not.toBe(again.alert.id);

    // Without a second factor there is nothing to step up to: the sessions end.
    const seller = await t.makeUser({ roles: ['sales'] });
    const session = await login(t, seller.user.email, seller.password);
    const plain = await respond({ actorId: seller.user.id }, ['step_up']);
    expect(plain.responses[0]).toMatchObject({ state: 'done', details: { mode: 'ended', sessions: 1 } });
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/contacts', cookies: { rampart_session: session.cookies[0]!.value } })).statusCode).toBe(401);
  });

  it('ends sessions and revokes tokens; reversing gives the tokens back but not the sessions', async () => {
    const seller = await t.makeUser({ roles: ['sales'] });
    const session = await login(t, seller.user.email, seller.password);
    const { alert, responses } = await respond({ rule: 'session.hijack', actorId: seller.user.id }, ['end_sessions']);
    expect(responses[0]).toMatchObject({ kind: 'end_sessions', state: 'done', details: { sessions: 1, tokens: 1 } });
    for (const app of [t, second]) expect((await withToken(app, seller.token)).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/contacts', cookies: { rampart_session: session.cookies[0]!.value } })).statusCode).toBe(401);
    const reversed = await reverseResponse(t.deps, await asHandler(admin.user), alert.id, responses[0]!.id);
    expect(reversed.details.reversal).toEqual({ tokensRestored: 1 });
    expect((await withToken(second, seller.token)).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/contacts', cookies: { rampart_session: session.cookies[0]!.value } })).statusCode).toBe(401);
  });

  it('notifies: a notice to each person who handles alerts, a signed webhook, syslog and mail, retried after a failure, with no personal data', async () => {
    const seller = await t.makeUser({ roles: ['sales'], name: 'Zhang Wei', email: `zhang.wei.${Date.now()}@example.com` });
    // What earlier alerts left to send goes first.
    await deliverAlerts(t.deps);
    hooks.length = 0;
    datagrams.length = 0;
    hookAnswers.push(500);
    const { alert, responses } = await respond({ rule: 'honeytoken.touched', severity: 'critical', summary: 'Opened 1 decoy record', actorId: seller.user.id, sourceAddress: '198.51.100.77' }, ['notify']);
    expect(responses[0]).toMatchObject({ kind: 'notify', state: 'done', details: { channels: ['email', 'webhook', 'syslog'] } });
    expect((responses[0]!.details.handlers as number) >= 1).toBe(true);

    const notices = (await t.call('GET', '/api/v1/notices', { token: admin.token })).json().items as { kind: string; title: string; body: string }[];
    const notice = notices.find((n) => n.kind === 'security.alert' && n.body.includes(alert.id));
    expect(notice?.title).toBe('Security alert (critical): honeytoken.touched');
    expect((await t.call('GET', '/api/v1/notices', { token: seller.token })).json().items.some((n: { kind: string }) => n.kind === 'security.alert')).toBe(false);

    expect(await deliverAlerts(t.deps)).toBe(2);
    const failed = await t.deps.db.selectFrom('alert_deliveries').selectAll().where('alert_id', '=', alert.id).where('channel', '=', 'webhook').executeTakeFirstOrThrow();
    expect(failed).toMatchObject({ state: 'pending', attempts: 1, last_error: 'http_500' });
    // Not due again until a minute has passed.
    expect(await deliverAlerts(t.deps)).toBe(0);
    clock.at += 61_000;
    expect(await deliverAlerts(t.deps)).toBe(1);
    const states = await t.deps.db.selectFrom('alert_deliveries').select(['channel', 'state', 'attempts']).where('alert_id', '=', alert.id).orderBy('channel').execute();
    expect(states).toEqual([
      { channel: 'email', state: 'sent', attempts: 1 },
      { channel: 'syslog', state: 'sent', attempts: 1 },
      { channel: 'webhook', state: 'sent', attempts: 2 },
    ]);

    expect(hooks).toHaveLength(2);
    const hook = hooks[1]!;
    const signature = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(hook.headers['x-rampart-signature']));
    expect(signature).not.toBeNull();
    expect(signature![2]).toBe(createHmac('sha256', SECRET).update(`${signature![1]}.${hook.body}`).digest('hex'));
    expect(Math.abs(Number(signature![1]) - Date.now() / 1000)).toBeLessThan(60);
    // A body changed on the way no longer matches.
    expect(createHmac('sha256', SECRET).update(`${signature![1]}.${hook.body.replace('critical', 'low')}`).digest('hex')).not.toBe(signature![2]);
    const payload = JSON.parse(hook.body);
    expect(payload).toMatchObject({ type: 'rampart.alert', alert: { id: alert.id, rule: 'honeytoken.touched', severity: 'critical', summary: 'Opened 1 decoy record' }, link: expect.stringContaining(`/security/alerts/${alert.id}`) });

    const message = await eventually(async () => datagrams.find((d) => d.includes(alert.id)), (d) => d !== undefined);
    expect(message).toMatch(/^<34>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S+ rampart \d+ alert \[rampart@32473 alertId="[^"]+" rule="honeytoken\.touched" severity="critical" link="[^"]+"\] \uFEFFOpened 1 decoy record$/);

    const mails = mailIn(path.join(t.dataDir, 'mail')).filter((m) => m.text.includes(alert.id));
    expect(mails.map((m) => m.to)).toContain(admin.user.email);
    expect(mails.map((m) => m.to)).not.toContain(seller.user.email);

    for (const sent of [hook.body, message!, ...mails.map((m) => m.text)]) {
      expect(sent).not.toContain(seller.user.email);
      expect(sent).not.toContain('Zhang Wei');
      expect(sent).not.toContain('198.51.100.77');
    }
    expect(JSON.stringify(hook.headers)).not.toContain(SECRET);
    await expect(reverseResponse(t.deps, await asHandler(admin.user), alert.id, responses[0]!.id)).rejects.toMatchObject({ code: 'detection.not_reversible' });
  });

  it('records a response that cannot be taken as failed, alone, inside the transaction that raised the alert', async () => {
    const seller = await t.makeUser({ roles: ['sales'] });
    const attacker = '198.51.100.99';
    const alert = await inTransaction(t.deps, async (tx) => {
      const raised: RaisedAlert = { id: newId(), rule: 'auth.credential_stuffing', severity: 'high', summary: 'Failed sign-ins on 40 accounts', actorKind: 'anonymous', actorId: null, sessionId: null, sourceAddress: attacker, raisedAt: clock.now() };
      const at = raised.raisedAt.toISOString();
      await tx.db
        .insertInto('alerts')
        .values({ id: raised.id, rule: raised.rule, severity: 'high', status: 'open', summary: raised.summary, subject_key: `x|${attacker}`, actor_kind: 'anonymous', actor_id: null, source_address: attacker, evidence: '{}', event_count: 1, first_seen_at: at, last_seen_at: at, created_at: at, updated_at: at, handled_by: null, handled_at: null, note: null, incident_id: null, version: 1 })
        .execute();
      // Nobody to lock: that one fails; the block and the alert itself stand.
      await respondToAlert(tx, raised, { automatic: ['lock_account', 'block_address'], suggested: [] });
      return raised;
    });
    const responses = await responsesOf(t.deps, alert.id);
    expect(responses.map((r) => [r.kind, r.state])).toEqual([
      ['block_address', 'done'],
      ['lock_account', 'failed'],
    ]);
    expect(responses[1]!.details).toEqual({ error: 'user.not_found' });
    const [failure] = await auditOf('response.lock_account');
    expect(failure).toMatchObject({ outcome: 'failure', actor_kind: 'system' });
    forgetContainment();
    expect((await withToken(t, seller.token, 'GET', '/api/v1/contacts', undefined, attacker)).statusCode).toBe(403);
    await reverseResponse(t.deps, await asHandler(admin.user), alert.id, responses[0]!.id);
    expect((await withToken(t, seller.token, 'GET', '/api/v1/contacts', undefined, attacker)).statusCode).toBe(200);
  });
  it('never blocks on its own this machine, listed addresses, or an address someone handling alerts is signed in from', async () => {
    const tried = async (sourceAddress: string) => {
      const { responses } = await respond({ rule: 'request.probe', severity: 'high', actorKind: 'anonymous', sourceAddress }, ['block_address', 'notify']);
      return Object.fromEntries(responses.map((r) => [r.kind, r]));
    };
    for (const address of ['127.0.0.1', '::ffff:127.0.0.9', '::1', '::', 'fe80::1%eth0', '203.0.113.200', '2001:db8:aaaa:5::1']) {
      const { block_address: block, notify } = await tried(address);
      expect(block, address).toMatchObject({ state: 'failed', details: { error: 'detection.protected_target' } });
      // Those who handle alerts still hear of it.
      expect(notify!.state).toBe('done');
    }
    const [refusal] = await auditOf('response.block_address');
    expect(refusal).toMatchObject({ outcome: 'failure', actor_kind: 'system' });

    // A page elsewhere can make a handler's browser send probes: their address is not blocked for it.
    const { id: sessionId } = await sessionOf(admin.user, '192.0.2.44');
    expect((await tried('192.0.2.44')).block_address).toMatchObject({ state: 'failed', details: { error: 'detection.protected_target' } });
    await t.deps.db.updateTable('sessions').set({ revoked_at: clock.now().toISOString() }).where('id_hash', '=', sessionId).execute();
    const after = await tried('192.0.2.44');
    expect(after.block_address).toMatchObject({ state: 'done', target: '192.0.2.44' });
    await reverseResponse(t.deps, await asHandler(admin.user), after.block_address!.alertId, after.block_address!.id);
    // People can still block such an address by hand.
    const byHand = await t.call('POST', '/api/v1/detection/blocks', { token: admin.token, body: { address: '127.0.0.1', minutes: 1, reason: 'on purpose' } });
    expect(byHand.statusCode, byHand.body).toBe(201);
    await liftBlock(t.deps, await asHandler(admin.user), byHand.json().id);
  });

  it('only suggests blocking an address someone signed in from in the last day', async () => {
    const seller = await t.makeUser({ roles: ['sales'] });
    expect((await login(t, seller.user.email, seller.password, '198.51.100.150')).statusCode).toBe(200);
    const { alert, responses } = await respond({ rule: 'request.probe', actorKind: 'anonymous', sourceAddress: '198.51.100.150' }, ['block_address']);
    expect(responses[0]).toMatchObject({ kind: 'block_address', state: 'suggested', target: '198.51.100.150', details: { reason: 'recent_sign_in' } });
    expect((await withToken(t, seller.token, 'GET', '/api/v1/contacts', undefined, '198.51.100.150')).statusCode).toBe(200);
    expect((await auditOf('response.block_address'))[0]).toMatchObject({ outcome: 'denied', actor_kind: 'system' });
    // A neighbour nobody signed in from is blocked at once.
    const neighbour = await respond({ rule: 'request.probe', actorKind: 'anonymous', sourceAddress: '198.51.100.151' }, ['block_address']);
    expect(neighbour.responses[0]).toMatchObject({ state: 'done', target: '198.51.100.151' });
    await reverseResponse(t.deps, await asHandler(admin.user), neighbour.alert.id, neighbour.responses[0]!.id);
    // A person who looked decides.
    const executed = await executeResponse(t.deps, asPerson(admin.user), alert.id, responses[0]!.id);
    expect(executed).toMatchObject({ state: 'done', target: '198.51.100.150' });
    expect((await withToken(t, seller.token, 'GET', '/api/v1/contacts', undefined, '198.51.100.150')).statusCode).toBe(403);
    await reverseResponse(t.deps, await asHandler(admin.user), alert.id, responses[0]!.id);
  });

  it('blocks an IPv6 address by its /64, and knows an address however it is written', async () => {
    const seller = await t.makeUser({ roles: ['sales'] });
    const { alert, responses } = await respond({ rule: 'request.probe', actorKind: 'anonymous', sourceAddress: '2001:DB8:5:0:0:0:0:1' }, ['block_address']);
    expect(responses[0]).toMatchObject({ state: 'done', target: '2001:db8:5::/64' });
    for (const [address, status] of [
      ['2001:db8:5::1', 403],
      ['2001:db8:5::2', 403],
      ['2001:0db8:0005:0000:ffff:ffff:ffff:ffff', 403],
      ['2001:db8:5:1::1', 200],
    ] as const) {
      expect((await withToken(t, seller.token, 'GET', '/api/v1/contacts', undefined, address)).statusCode, address).toBe(status);
    }
    await reverseResponse(t.deps, await asHandler(admin.user), alert.id, responses[0]!.id);

    const v4 = await respond({ rule: 'request.probe', actorKind: 'anonymous', sourceAddress: '::FFFF:198.51.100.160' }, ['block_address']);
    expect(v4.responses[0]).toMatchObject({ state: 'done', target: '198.51.100.160' });
    for (const address of ['198.51.100.160', '::ffff:198.51.100.160', '::ffff:c633:64a0', '0:0:0:0:0:ffff:c633:64a0', '0:0:0:0:0:FFFF:198.51.100.160']) {
      expect((await withToken(t, seller.token, 'GET', '/api/v1/contacts', undefined, address)).statusCode, address).toBe(403);
    }
    await reverseResponse(t.deps, await asHandler(admin.user), v4.alert.id, v4.responses[0]!.id);
  });

  it('writes addresses one way', () => {
    expect(canonicalAddress('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(canonicalAddress('2001:0db8:0000:0000:0001:0000:0000:0000')).toBe('2001:db8:0:0:1::');
    expect(canonicalAddress('[fe80::1%eth0]')).toBe('fe80::1');
    expect(canonicalAddress('::FFFF:192.0.2.1')).toBe('192.0.2.1');
    expect(canonicalAddress('::ffff:c000:201')).toBe('192.0.2.1');
    expect(canonicalAddress('0:0:0:0:0:ffff:c000:0201')).toBe('192.0.2.1');
    expect(canonicalAddress('192.0.2.1')).toBe('192.0.2.1');
    expect(canonicalAddress('not an address')).toBeNull();
    expect(blockKeyOf('2001:db8:0:0:1:2:3:4')).toBe('2001:db8::/64');
    expect(blockKeyOf('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(blockKeyOf('::ffff:192.0.2.1')).toBe('192.0.2.1');
  });

  it('reversing a response that found its containment in force lifts nothing, and a lock stays while another response holds it', async () => {
    const handler = await asHandler(admin.user);
    const byHand = await startLockdown(t.deps, handler, { reason: 'started by a person' });
    const seller = await t.makeUser({ roles: ['sales'] });
    const found = await respond({ rule: 'data.bulk_export', actorId: seller.user.id }, ['lockdown']);
    expect(found.responses[0]).toMatchObject({ state: 'done', details: { lockdownId: byHand.id, alreadyInForce: true } });
    const undone = await reverseResponse(t.deps, await asHandler(admin.user), found.alert.id, found.responses[0]!.id);
    expect(undone.details.reversal).toEqual({ lockdownLifted: false });
    expect((await t.deps.db.selectFrom('lockdowns').select('lifted_at').where('id', '=', byHand.id).executeTakeFirstOrThrow()).lifted_at).toBeNull();
    expect(await liftLockdown(t.deps, await asHandler(admin.user))).toEqual({ lifted: true });

    const first = await respond({ actorId: seller.user.id }, ['lock_account']);
    const again = await respond({ rule: 'session.hijack', actorId: seller.user.id }, ['lock_account']);
    expect(again.responses[0]!.details).toMatchObject({ alreadyLocked: true });
    const one = await reverseResponse(t.deps, await asHandler(admin.user), first.alert.id, first.responses[0]!.id);
    expect(one.details.reversal).toEqual({ unlocked: false, stillLockedBy: again.alert.id });
    expect((await withToken(t, seller.token)).json().error.code).toBe('auth.account_locked');
    const other = await reverseResponse(t.deps, await asHandler(admin.user), again.alert.id, again.responses[0]!.id);
    expect(other.details.reversal).toEqual({ unlocked: false });
    expect((await withToken(t, seller.token)).statusCode).toBe(423);
    await expect(unlockAccount(t.deps, asPerson(admin.user), seller.user.id)).rejects.toMatchObject({ code: 'auth.step_up_required' });
    expect(await unlockAccount(t.deps, await asHandler(admin.user), seller.user.id)).toEqual({ unlocked: true });
    expect((await withToken(t, seller.token)).statusCode).toBe(200);
  });

  it('lets nobody decide on an alert about themselves, and tells neither them nor locked handlers of it', async () => {
    const officer = await t.makeUser({ roles: ['admin'] });
    const locked = await t.makeUser({ roles: ['admin'] });
    await lockAccount(t.deps, cliContext('test'), locked.user.id, { reason: 'test' });
    const { alert, responses } = await respond({ rule: 'data.read_spike', actorId: officer.user.id }, ['notify'], ['end_sessions']);
    const noticed = async (userId: string) =>
      (await t.deps.db.selectFrom('notices').select('details').where('user_id', '=', userId).where('kind', '=', 'security.alert').execute()).some((n) => JSON.parse(n.details).alertId === alert.id);
    expect(await noticed(admin.user.id)).toBe(true);
    expect(await noticed(officer.user.id)).toBe(false);
    expect(await noticed(locked.user.id)).toBe(false);
    const suggested = responses.find((r) => r.kind === 'end_sessions')!;
    await expect(executeResponse(t.deps, await asHandler(officer.user), alert.id, suggested.id)).rejects.toMatchObject({ code: 'auth.forbidden' });
    const done = await executeResponse(t.deps, await asHandler(admin.user), alert.id, suggested.id);
    expect(done.state).toBe('done');
    await expect(reverseResponse(t.deps, await asHandler(officer.user), alert.id, suggested.id)).rejects.toMatchObject({ code: 'auth.forbidden' });
    expect((await reverseResponse(t.deps, await asHandler(admin.user), alert.id, suggested.id)).state).toBe('reversed');
    await unlockAccount(t.deps, cliContext('test'), locked.user.id);
  });

  it('steps up only the session the alert came through when it is known', async () => {
    const manager = await t.makeUser({ roles: ['manager'] });
    const one = await signInFully(t, manager.user.email, manager.password, () => clock.at);
    const two = await signInFully(t, manager.user.email, manager.password, () => clock.at);
    const token = (session: { cookie: string }) => session.cookie.replace(/^rampart_session=/, '');
    const get = (session: { cookie: string }) => t.app.inject({ method: 'GET', url: '/api/v1/contacts', cookies: { rampart_session: token(session) } });
    const { responses } = await respond({ actorId: manager.user.id, sessionId: hashSecret(token(one)) }, ['step_up']);
    expect(responses[0]).toMatchObject({ state: 'done', details: { mode: 'second_factor', scope: 'alert_session', sessions: 1 } });
    expect((await get(one)).json().error.code).toBe('auth.mfa_required');
    expect((await get(two)).statusCode).toBe(200);
    // An alert that came through a token names no session: every session is asked.
    const all = await respond({ actorId: manager.user.id, sessionId: newId() }, ['step_up']);
    expect(all.responses[0]).toMatchObject({ details: { scope: 'all', sessions: 1 } });
    expect((await get(two)).statusCode).toBe(401);
  });

  it('refuses a locked account its reset link and keeps the link for after the unlock; such refusals are audited', async () => {
    const seller = await t.makeUser({ roles: ['sales'] });
    const { link } = await resetLinkFor(t.deps, cliContext('test'), seller.user.email);
    const secret = link.split('#token=')[1]!;
    await lockAccount(t.deps, cliContext('test'), seller.user.id, { reason: 'test' });
    const refused = await t.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/complete', payload: { token: secret, newPassword: 'a brand new passphrase 77' }, remoteAddress: '203.0.113.90' });
    expect(refused.statusCode, refused.body).toBe(423);
    expect(refused.json().error.code).toBe('auth.account_locked');
    expect((await t.deps.db.selectFrom('password_resets').select('used_at').where('user_id', '=', seller.user.id).executeTakeFirstOrThrow()).used_at).toBeNull();
    const denials = await t.deps.db.selectFrom('audit_entries').select(['details', 'source_address']).where('action', '=', 'access.denied').where('source_address', '=', '203.0.113.90').execute();
    expect(denials.map((d) => JSON.parse(d.details).code)).toContain('auth.account_locked');
    await unlockAccount(t.deps, cliContext('test'), seller.user.id);
    const reset = await t.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/complete', payload: { token: secret, newPassword: 'a brand new passphrase 77' } });
    expect(reset.statusCode, reset.body).toBe(204);
  });

  it('keeps no view of blocks read before the transaction that made them committed', async () => {
    const seller = await t.makeUser({ roles: ['sales'] });
    const attacker = '198.51.100.170';
    const page = (app: RampartApp) => app.app.inject({ method: 'GET', url: '/', remoteAddress: attacker });
    expect((await page(second)).statusCode).toBe(200);
    await inTransaction(t.deps, async (tx) => {
      const raised: RaisedAlert = { id: newId(), rule: 'request.probe', severity: 'high', summary: 'Probes', actorKind: 'anonymous', actorId: null, sessionId: null, sourceAddress: attacker, raisedAt: clock.now() };
      const at = raised.raisedAt.toISOString();
      await tx.db
        .insertInto('alerts')
        .values({ id: raised.id, rule: raised.rule, severity: 'high', status: 'open', summary: raised.summary, subject_key: `x|${attacker}`, actor_kind: 'anonymous', actor_id: null, source_address: attacker, evidence: '{}', event_count: 1, first_seen_at: at, last_seen_at: at, created_at: at, updated_at: at, handled_by: null, handled_at: null, note: null, incident_id: null, version: 1 })
        .execute();
      await respondToAlert(tx, raised, { automatic: ['block_address'], suggested: [] });
      // Another connection reads before the commit: what it sees must not be kept.
      expect((await page(second)).statusCode).toBe(200);
    });
    expect((await page(second)).statusCode).toBe(403);
    expect((await withToken(t, seller.token, 'GET', '/api/v1/contacts', undefined, attacker)).statusCode).toBe(403);
    await t.deps.db.updateTable('address_blocks').set({ lifted_at: clock.now().toISOString(), lifted_by: 'test' }).where('address', '=', attacker).execute();
    forgetContainment();
  });

});

describe('alert channel settings', () => {
  const problemsOf = (env: Record<string, string>): string[] => {
    try {
      loadConfig({ env: { RAMPART_DATA_DIR: os.tmpdir(), ...env }, cwd: os.tmpdir() });
      return [];
    } catch (error) {
      return (error as { problems: string[] }).problems;
    }
  };

  it('takes a signed webhook over HTTPS (plain HTTP only to this machine) and syslog over UDP', () => {
    const config = loadConfig({ env: { RAMPART_DATA_DIR: os.tmpdir(), RAMPART_ALERT_WEBHOOK_URL: 'https://hooks.example.com/rampart', RAMPART_ALERT_WEBHOOK_SECRET: SECRET, RAMPART_ALERT_SYSLOG: 'udp://[2001:db8::5]' }, cwd: os.tmpdir() });
    expect(config.alerts).toEqual({ webhookUrl: 'https://hooks.example.com/rampart', webhookSecret: SECRET, syslog: { host: '2001:db8::5', port: 514 } });
    expect(loadConfig({ env: { RAMPART_DATA_DIR: os.tmpdir() }, cwd: os.tmpdir() }).alerts).toEqual({ webhookUrl: undefined, webhookSecret: undefined, syslog: undefined });
  });

  it.each([
    [{ RAMPART_ALERT_WEBHOOK_URL: 'http://hooks.example.com/rampart', RAMPART_ALERT_WEBHOOK_SECRET: SECRET }, 'RAMPART_ALERT_WEBHOOK_URL must be an https://'],
    [{ RAMPART_ALERT_WEBHOOK_URL: 'https://hooks.example.com/rampart' }, 'needs RAMPART_ALERT_WEBHOOK_SECRET'],
    [{ RAMPART_ALERT_WEBHOOK_URL: 'https://hooks.example.com/rampart', RAMPART_ALERT_WEBHOOK_SECRET: 'short-secret' }, 'at least 16 characters'],
    [{ RAMPART_ALERT_WEBHOOK_SECRET: SECRET }, 'needs RAMPART_ALERT_WEBHOOK_URL'],
    [{ RAMPART_ALERT_SYSLOG: 'tcp://logs.example.com:514' }, 'RAMPART_ALERT_SYSLOG must be udp://host:port'],
    [{ RAMPART_ALERT_SYSLOG: 'udp://logs.example.com:70000' }, 'RAMPART_ALERT_SYSLOG must be udp://host:port'],
  ])('refuses %o', (env, problem) => {
    const problems = problemsOf(env);
    expect(problems.join('\n')).toContain(problem);
    // A problem never repeats a secret.
    expect(problems.join('\n')).not.toContain('short-secret');
    expect(problems.join('\n')).not.toContain(SECRET);
  });
});
