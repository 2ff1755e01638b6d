import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RaisedAlert, RulePlan } from '../src/detection/model.js';
import { lockAccount } from '../src/modules/detection/containment.service.js';
import { respondToAlert } from '../src/modules/detection/responses.js';
import { cliContext } from '../src/shared/principal.js';
import { newId } from '../src/shared/ids.js';
import { createTestApp, type TestApp } from './support/app.js';
import { runCli } from './support/cli.js';
import { testDialect } from './support/database.js';
import { signInFully } from './support/sign-in.js';

async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Detection has locked every administrator, blocked the address they come from and put Rampart in
 * lockdown; the operator on the server host still gets one of them back in.
 */
describe(`break-glass on ${testDialect}`, { timeout: 120_000 }, () => {
  let t: TestApp;
  let dataDir: string;
  beforeAll(async () => {
    t = await createTestApp({ RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000' });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-break-glass-'));
  });
  afterAll(async () => {
    await t.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const cli = (...args: string[]) => runCli(['--data-dir', dataDir, ...args], { env: { RAMPART_DATABASE_URL: t.testDb.url, RAMPART_KEY_FILE: t.testDb.keyFile } });
  const detect = async (fields: Partial<RaisedAlert>, plan: RulePlan) => {
    const now = new Date();
    const alert: RaisedAlert = { id: newId(), rule: 'auth.brute_force', severity: 'critical', summary: 'Failed sign-ins from 1 address', actorKind: 'user', actorId: null, sessionId: null, sourceAddress: null, raisedAt: now, ...fields };
    const at = now.toISOString();
    await t.deps.db
      .insertInto('alerts')
      .values({ id: alert.id, rule: alert.rule, severity: alert.severity, status: 'open', summary: alert.summary, subject_key: alert.id, actor_kind: alert.actorKind, actor_id: alert.actorId, source_address: alert.sourceAddress, evidence: '{}', event_count: 1, first_seen_at: at, last_seen_at: at, created_at: at, updated_at: at, handled_by: null, handled_at: null, note: null, incident_id: null, version: 1 })
      .execute();
    await respondToAlert(t.deps, alert, plan);
  };
  const login = (email: string, password: string, remoteAddress = '198.51.100.4') => t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, remoteAddress });
  const responsesOf = async () => t.deps.db.selectFrom('alert_responses').select(['kind', 'state', 'details']).orderBy('created_at', 'desc').orderBy('id', 'desc').execute();

  it('lets one administrator back in while every administrator is locked, the address blocked and Rampart in lockdown', async () => {
    const admins = [await t.makeUser({ roles: ['admin'] }), await t.makeUser({ roles: ['admin'] })];
    const seller = await t.makeUser({ roles: ['sales'] });
    for (const admin of admins) await detect({ actorId: admin.user.id }, { automatic: ['lock_account'], suggested: [] });
    // Detection never locks the last person who could undo it, nor blocks this machine: a person did the rest.
    expect((await responsesOf())[0]).toMatchObject({ kind: 'lock_account', state: 'failed' });
    expect(JSON.parse((await responsesOf())[0]!.details)).toEqual({ error: 'detection.protected_target' });
    await lockAccount(t.deps, cliContext('test'), admins[1]!.user.id, { reason: 'by hand' });
    await detect({ rule: 'request.probe', actorKind: 'anonymous', sourceAddress: '127.0.0.1' }, { automatic: ['block_address'], suggested: [] });
    expect(JSON.parse((await responsesOf())[0]!.details)).toEqual({ error: 'detection.protected_target' });
    await detect({ rule: 'request.probe', actorKind: 'anonymous', sourceAddress: '198.51.100.4' }, { automatic: ['block_address', 'lockdown'], suggested: [] });

    const blocked = await login(admins[0]!.user.email, admins[0]!.password);
    expect(blocked.json().error.code).toBe('request.address_blocked');
    const locked = await login(admins[0]!.user.email, admins[0]!.password, '198.51.100.5');
    expect(locked.json().error.code).toBe('auth.account_locked');
    for (const admin of admins) {
      const write = await t.app.inject({ method: 'POST', url: '/api/v1/contacts', headers: { authorization: `Bearer ${admin.token}` }, payload: { lastName: 'Nope' }, remoteAddress: '198.51.100.5' });
      expect(write.json().error.code).toBe('auth.account_locked');
    }
    const sellerWrite = await t.app.inject({ method: 'POST', url: '/api/v1/contacts', headers: { authorization: `Bearer ${seller.token}` }, payload: { lastName: 'Nope' }, remoteAddress: '198.51.100.5' });
    expect(sellerWrite.json().error.code).toBe('system.lockdown');

    // It is the operator's own: a command acting as a user does not get it.
    const asUser = await cli('--as', admins[1]!.user.email, 'break-glass', '--email', admins[0]!.user.email, '--json');
    expect(asUser.code).not.toBe(0);
    const nobody = await cli('break-glass', '--email', 'nobody@example.com', '--json');
    expect(nobody.code).not.toBe(0);
    expect(JSON.parse(nobody.stdout || nobody.stderr).error.code).toBe('user.not_found');

    const run = await cli('break-glass', '--email', admins[0]!.user.email, '--json');
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ userId: admins[0]!.user.id, unlocked: true, signInUnlocked: false, lockdownsLifted: 1, blocksLifted: 1, handlesAlerts: true, active: true });
    const [entry] = await t.deps.db.selectFrom('audit_entries').selectAll().where('action', '=', 'detection.break_glass').execute();
    expect(entry).toMatchObject({ actor_kind: 'cli', channel: 'cli', record_type: 'users' });

    // The server learns of it from the database within about a second.
    const back = await eventually(() => login(admins[0]!.user.email, admins[0]!.password), (r) => r.statusCode === 200);
    expect(back.statusCode, back.body).toBe(200);
    const session = await signInFully(t, admins[0]!.user.email, admins[0]!.password);
    const wrote = await t.app.inject({ method: 'POST', url: '/api/v1/contacts', cookies: { rampart_session: session.cookie.replace(/^rampart_session=/, '') }, headers: { 'x-csrf-token': session.csrf }, payload: { lastName: 'Back in' } });
    expect(wrote.statusCode, wrote.body).toBe(201);
    // The responses it undid say so; the other administrator is still locked.
    const reversed = await t.deps.db.selectFrom('alert_responses').select(['kind', 'state', 'reversed_by']).where('state', '=', 'reversed').orderBy('kind').execute();
    expect(reversed.map((r) => r.kind)).toEqual(['block_address', 'lock_account', 'lockdown']);
    expect(reversed.every((r) => r.reversed_by?.startsWith('cli:'))).toBe(true);
    expect((await login(admins[1]!.user.email, admins[1]!.password)).json().error.code).toBe('auth.account_locked');

    // The narrower commands undo one thing each.
    const unlocked = await cli('unlock', '--email', admins[1]!.user.email, '--json');
    expect(unlocked.code, unlocked.stderr).toBe(0);
    expect(JSON.parse(unlocked.stdout)).toEqual({ unlocked: true });
    expect((await login(admins[1]!.user.email, admins[1]!.password)).statusCode).toBe(200);
    await detect({ rule: 'request.probe', actorKind: 'anonymous', sourceAddress: '198.51.100.66' }, { automatic: ['block_address'], suggested: [] });
    expect((await login(seller.user.email, seller.password, '198.51.100.66')).statusCode).toBe(403);
    const unblocked = await cli('unblock', '198.51.100.66', '--json');
    expect(unblocked.code, unblocked.stderr).toBe(0);
    expect(JSON.parse(unblocked.stdout)).toEqual({ lifted: 1 });
    expect((await eventually(() => login(seller.user.email, seller.password, '198.51.100.66'), (r) => r.statusCode === 200)).statusCode).toBe(200);
  });
});

/**
 * One administrator, who opens a decoy record: detection tells about it, but does not shut out the
 * only person who could undo what it does.
 */
describe(`the last person who handles alerts on ${testDialect}`, { timeout: 120_000 }, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000' });
  });
  afterAll(async () => t.close());

  const touched = async (userId: string) => {
    const now = new Date();
    const alert: RaisedAlert = { id: newId(), rule: 'honeytoken.touched', severity: 'critical', summary: 'Opened 1 decoy record', actorKind: 'user', actorId: userId, sessionId: null, sourceAddress: '198.51.100.9', raisedAt: now };
    const at = now.toISOString();
    await t.deps.db
      .insertInto('alerts')
      .values({ id: alert.id, rule: alert.rule, severity: alert.severity, status: 'open', summary: alert.summary, subject_key: alert.id, actor_kind: 'user', actor_id: userId, source_address: alert.sourceAddress, evidence: '{}', event_count: 1, first_seen_at: at, last_seen_at: at, created_at: at, updated_at: at, handled_by: null, handled_at: null, note: null, incident_id: null, version: 1 })
      .execute();
    await respondToAlert(t.deps, alert, { automatic: ['end_sessions', 'lock_account', 'step_up', 'notify'], suggested: [] });
    const rows = await t.deps.db.selectFrom('alert_responses').select(['kind', 'state', 'details']).where('alert_id', '=', alert.id).execute();
    return Object.fromEntries(rows.map((r) => [r.kind, { state: r.state, details: JSON.parse(r.details) as Record<string, unknown> }]));
  };

  it('refuses to lock out, end the sessions of or step up the only administrator, and still tells', async () => {
    const only = await t.makeUser({ roles: ['admin'] });
    const session = await signInFully(t, only.user.email, only.password);
    const responses = await touched(only.user.id);
    for (const kind of ['end_sessions', 'lock_account', 'step_up']) expect(responses[kind], kind).toEqual({ state: 'failed', details: { error: 'detection.protected_target' } });
    expect(responses.notify!.state).toBe('done');
    expect((await t.call('GET', '/api/v1/contacts', { token: only.token })).statusCode).toBe(200);
    const still = await t.app.inject({ method: 'GET', url: '/api/v1/contacts', cookies: { rampart_session: session.cookie.replace(/^rampart_session=/, '') } });
    expect(still.statusCode).toBe(200);

    // With a second person who handles alerts, the first is locked like anyone else.
    const other = await t.makeUser({ roles: ['admin'] });
    const again = await touched(only.user.id);
    expect(again.lock_account!.state).toBe('done');
    expect(again.end_sessions!.state).toBe('done');
    const refused = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: only.user.email, password: only.password } });
    expect(refused.json().error.code).toBe('auth.account_locked');
    // Now the other one is the last.
    expect((await touched(other.user.id)).lock_account).toEqual({ state: 'failed', details: { error: 'detection.protected_target' } });
  });
});
