import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliContext } from '../src/shared/principal.js';
import { AppError } from '../src/shared/errors.js';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { DetectionRunner, runDetectionOnce } from '../src/modules/detection/detection.runner.js';
import { detectionStatus, listRules, updateRule } from '../src/modules/detection/detection.service.js';
import { markFalsePositive, resolveAlert } from '../src/modules/alerts/alerts.service.js';
import type { AlertsTable } from '../src/db/schema.js';
import { newId } from '../src/shared/ids.js';
import { createTestApp, type TestApp } from './support/app.js';

/**
 * The runner around the engine: repeats folded into the open alert, one engine among several
 * processes (the lease), warming up without alerting, what it learned surviving a restart, the
 * tuning a false positive teaches, the rule settings administrators change, and the runner the
 * server starts on its own.
 */

const MINUTE = 60_000;
const DAY = 86_400_000;
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';

function harness(startAt: number) {
  const clock = { at: startAt, now: () => new Date(clock.at) };
  let t!: TestApp;
  const h = {
    clock,
    get t() {
      return t;
    },
    async open(env: Record<string, string> = {}) {
      t = await createTestApp({ RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000', ...env }, { clock });
      return t;
    },
    login(email: string, password: string, address: string, agent = CHROME) {
      return t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, headers: { 'user-agent': agent }, remoteAddress: address });
    },
    async fail(email: string, times: number, address = '198.51.100.1') {
      for (let i = 0; i < times; i += 1) {
        expect((await h.login(email, 'certainly not the password', address)).statusCode).toBe(401);
        clock.at += 20_000;
      }
    },
    alertsOf(rule: string): Promise<AlertsTable[]> {
      return t.deps.db.selectFrom('alerts').selectAll().where('rule', '=', rule).orderBy('created_at').orderBy('id').execute();
    },
  };
  return h;
}

describe('detection runner', () => {
  const h = harness(Date.UTC(2026, 2, 3, 10, 0, 0));
  const operator = cliContext('test');
  beforeAll(async () => {
    await h.open();
  });
  afterAll(async () => h.t.close());

  it('warms up on what happened before its first run without raising anything, and its windows are warm', async () => {
    const { user } = await h.t.makeUser({ roles: ['sales'] });
    await h.fail(user.email, 7);
    const first = await runDetectionOnce(h.t.deps);
    expect(first).toMatchObject({ held: true, alertsRaised: 0 });
    expect(await h.alertsOf('auth.brute_force')).toHaveLength(0);
    const progress = await h.t.deps.db.selectFrom('detection_progress').selectAll().executeTakeFirstOrThrow();
    const head = await h.t.deps.db.selectFrom('audit_head').select('seq').executeTakeFirstOrThrow();
    expect(Number(progress.audit_seq)).toBe(Number(head.seq));
    // The eighth failure meets the seven learned while warming up.
    await h.fail(user.email, 1);
    expect(await runDetectionOnce(h.t.deps)).toMatchObject({ alertsRaised: 1 });
    expect(await h.alertsOf('auth.brute_force')).toHaveLength(1);
  });

  it('folds repeats into the open alert, and raises a new one once it is closed', async () => {
    const { user } = await h.t.makeUser({ roles: ['sales'] });
    await h.fail(user.email, 8, '198.51.100.2');
    await runDetectionOnce(h.t.deps);
    await h.fail(user.email, 2, '198.51.100.2');
    expect(await runDetectionOnce(h.t.deps)).toMatchObject({ alertsRaised: 0, alertsFolded: 1 });
    const mine = (await h.alertsOf('auth.brute_force')).filter((a) => a.actor_id === user.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ event_count: 3, version: 1, status: 'open' });
    expect(mine[0]!.last_seen_at > mine[0]!.first_seen_at).toBe(true);
    const evidence = JSON.parse(mine[0]!.evidence) as { auditSeqs: number[]; figures: { observed: number } };
    expect(evidence.figures.observed).toBe(10);
    expect(new Set(evidence.auditSeqs).size).toBe(evidence.auditSeqs.length);
    expect(evidence.auditSeqs.length).toBe(10);

    await resolveAlert(h.t.deps, operator, mine[0]!.id, { version: 1 });
    // Ten failures in a row lock sign-in for a quarter of an hour; the window is half an hour.
    h.clock.at += 16 * MINUTE;
    await h.fail(user.email, 1, '198.51.100.2');
    await runDetectionOnce(h.t.deps);
    const after = (await h.alertsOf('auth.brute_force')).filter((a) => a.actor_id === user.id);
    expect(after.map((a) => a.status)).toEqual(['resolved', 'open']);
  });

  it('lets one of several processes evaluate: the others wait, and a process that lost the lease stores nothing', async () => {
    const a = new DetectionRunner(h.t.deps, { holder: 'process-a' });
    const b = new DetectionRunner(h.t.deps, { holder: 'process-b' });
    // The runner used by the other tests holds the lease; it lapses after 15 s without renewal.
    h.clock.at += 16_000;
    expect((await a.runOnce()).held).toBe(true);
    expect((await b.runOnce()).held).toBe(false);
    const { user } = await h.t.makeUser({ roles: ['sales'] });
    await h.fail(user.email, 8, '198.51.100.3');
    // Process b takes over once a's lease lapses; a then finds the lease gone and stores nothing.
    h.clock.at += 16_000;
    const taken = await b.runUntilCaughtUp();
    expect(taken).toMatchObject({ held: true, alertsRaised: 1 });
    const late = await a.runOnce();
    expect(late.held).toBe(false);
    expect((await h.alertsOf('auth.brute_force')).filter((x) => x.actor_id === user.id)).toHaveLength(1);

    // A process that still believes it holds the lease while another took it commits nothing.
    await h.t.deps.db.updateTable('detection_progress').set({ lease_holder: 'process-a', lease_until: new Date(h.clock.at + 60_000).toISOString() }).execute();
    expect((await a.runOnce()).held).toBe(true);
    await h.t.deps.db.updateTable('detection_progress').set({ lease_holder: 'process-b', lease_until: new Date(h.clock.at + 3_600_000).toISOString() }).execute();
    const other = await h.t.makeUser({ roles: ['sales'] });
    const signed = await h.login(other.user.email, other.password, '198.51.100.4');
    await h.t.app.inject({ method: 'GET', url: '/api/v1/contacts', cookies: { rampart_session: signed.cookies[0]!.value }, headers: { 'user-agent': 'curl/8.5.0' }, remoteAddress: '203.0.113.4' });
    const before = await h.t.deps.db.selectFrom('detection_progress').select('audit_seq').executeTakeFirstOrThrow();
    expect(await a.runOnce()).toMatchObject({ held: false, alertsRaised: 0 });
    expect(await h.t.deps.db.selectFrom('detection_progress').select('audit_seq').executeTakeFirstOrThrow()).toEqual(before);
    expect((await h.alertsOf('session.hijack')).filter((x) => x.actor_id === other.user.id)).toHaveLength(0);
    expect(await b.runUntilCaughtUp()).toMatchObject({ held: true, alertsRaised: 1 });
    expect((await h.alertsOf('session.hijack')).filter((x) => x.actor_id === other.user.id)).toHaveLength(1);

    await a.stop();
    await b.stop();
    const released = await h.t.deps.db.selectFrom('detection_progress').select(['lease_holder']).executeTakeFirstOrThrow();
    expect(released.lease_holder).toBeNull();
  });

  it('keeps what it learned across a restart: known devices, and the windows before its cursor', async () => {
    const { user, password } = await h.t.makeUser({ roles: ['sales'] });
    const first = new DetectionRunner(h.t.deps, { holder: 'first' });
    expect((await h.login(user.email, password, '198.51.100.20', CHROME)).statusCode).toBe(200);
    await h.fail(user.email, 7, '198.51.100.21');
    await first.runUntilCaughtUp();
    await first.stop();
    const stored = await h.t.deps.db.selectFrom('detection_baselines').selectAll().where('subject_kind', '=', 'user').where('subject_id', '=', user.id).where('metric', '=', 'profile').executeTakeFirstOrThrow();
    expect(JSON.parse(stored.data).devices).toEqual(['Chrome on Windows']);

    const second = new DetectionRunner(h.t.deps, { holder: 'second' });
    await h.fail(user.email, 1, '198.51.100.21');
    expect((await second.runUntilCaughtUp()).held).toBe(true);
    expect((await h.alertsOf('auth.brute_force')).filter((a) => a.actor_id === user.id)).toHaveLength(1);
    h.clock.at += 31 * MINUTE;
    expect((await h.login(user.email, password, '198.51.100.20', CHROME)).statusCode).toBe(200);
    expect((await h.login(user.email, password, '203.0.113.20', FIREFOX)).statusCode).toBe(200);
    await second.runUntilCaughtUp();
    const devices = (await h.alertsOf('auth.new_device')).filter((a) => a.actor_id === user.id);
    expect(devices).toHaveLength(1);
    expect(devices[0]!.source_address).toBe('203.0.113.20');
    await second.stop();
  });

  it('a false positive lifts the bar for that subject, and the same work then raises nothing', async () => {
    const { user, password } = await h.t.makeUser({ roles: ['sales'] });
    h.clock.at += 16_000;
    const spray = async (from: number, count: number) => {
      for (let i = from; i < from + count; i += 1) {
        expect((await h.login(user.email, 'Spring2026!', `192.0.2.${100 + i}`)).statusCode).toBe(401);
        h.clock.at += 20_000;
      }
    };
    await spray(0, 5);
    await runDetectionOnce(h.t.deps);
    const [alert] = (await h.alertsOf('auth.password_spraying')).filter((a) => a.actor_id === user.id);
    expect(alert).toBeDefined();
    await markFalsePositive(h.t.deps, operator, alert!.id, { version: 1, note: 'the office proxies rotate' });
    const tolerance = await h.t.deps.db.selectFrom('detection_baselines').selectAll().where('subject_id', '=', user.id).where('metric', '=', 'tolerance:auth.password_spraying').executeTakeFirstOrThrow();
    expect(tolerance.subject_kind).toBe('user');
    expect(JSON.parse(tolerance.data)).toMatchObject({ factor: 1.5, falsePositives: 1, lastAlertId: alert!.id });

    // An hour on (a sign-in in between starts the throttle's count again), the same again raises nothing…
    h.clock.at += 61 * MINUTE;
    expect((await h.login(user.email, password, '198.51.100.9')).statusCode).toBe(200);
    await spray(0, 5);
    await runDetectionOnce(h.t.deps);
    expect((await h.alertsOf('auth.password_spraying')).filter((a) => a.actor_id === user.id)).toHaveLength(1);
    // …and well beyond the new bar it fires again.
    await spray(5, 3);
    await runDetectionOnce(h.t.deps);
    expect((await h.alertsOf('auth.password_spraying')).filter((a) => a.actor_id === user.id).map((a) => a.status)).toEqual(['false_positive', 'open']);
  });

  it('deletes request events older than thirty days once it has read everything, at most every few minutes', async () => {
    const event = (daysAgo: number) => ({ id: newId(), occurred_at: new Date(h.clock.at - daysAgo * DAY).toISOString(), source_address: '192.0.2.200', user_agent: null, method: 'GET', path: '/api/v1/nothing', status: 404, kind: 'not_found' as const, probe: null, actor_kind: null, actor_id: null, session_id: null, repeats: 0 });
    const old = event(31);
    const recent = event(29);
    await h.t.deps.db.insertInto('request_events').values([old, recent]).execute();
    const later = event(40);
    const kept = async () => (await h.t.deps.db.selectFrom('request_events').select('id').where('id', 'in', [old.id, recent.id, later.id]).execute()).map((r) => r.id).sort();
    h.clock.at += 16_000;
    const runner = new DetectionRunner(h.t.deps, { holder: 'housekeeper' });
    expect((await runner.runUntilCaughtUp()).held).toBe(true);
    expect(await kept()).toEqual([recent.id]);
    // Minutes have not passed: the next old one waits for the next round.
    await h.t.deps.db.insertInto('request_events').values(later).execute();
    await runner.runUntilCaughtUp();
    expect(await kept()).toEqual([later.id, recent.id].sort());
    await runner.stop();
    const eager = new DetectionRunner(h.t.deps, { holder: 'eager', housekeepingMinutes: 0 });
    await eager.runUntilCaughtUp();
    expect(await kept()).toEqual([recent.id]);
    await eager.stop();
  });

  it('lists rules with their defaults and changes one with validation, a version and an audit entry', async () => {
    const rules = await listRules(h.t.deps, operator);
    expect(rules).toHaveLength(19);
    const brute = rules.find((r) => r.key === 'auth.brute_force')!;
    expect(brute).toMatchObject({ enabled: true, severity: 'medium', version: 0, settings: { failures: 8, windowMinutes: 30 }, automatic: ['notify'] });
    expect(brute.defaults).toEqual({ enabled: true, severity: 'medium', settings: { failures: 8, windowMinutes: 30 }, automatic: ['notify'], suggested: ['block_address', 'lock_account'] });
    expect(brute.schema.failures).toMatchObject({ kind: 'integer', min: 2 });

    const refused = await updateRule(h.t.deps, operator, 'auth.brute_force', { ...brute, settings: { failures: 1, bogus: 3 }, automatic: ['notify', 'explode' as never], version: 0 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe('detection.invalid_rule');
    expect((refused as AppError).fields!.map((f) => f.field).sort()).toEqual(['automatic', 'settings.bogus', 'settings.failures']);
    expect(await h.t.deps.db.selectFrom('detection_rules').selectAll().execute()).toEqual([]);
    expect(((await updateRule(h.t.deps, operator, 'no.such_rule', { ...brute, version: 0 }).catch((e: unknown) => e)) as AppError).code).toBe('detection.rule_not_found');

    const seller = await h.t.makeUser({ roles: ['sales'] });
    const sellerCtx = { principal: { kind: 'token' as const, userId: seller.user.id, email: seller.user.email, roles: ['sales'], teamId: null, tokenId: 'x', scopes: [] }, channel: 'api' as const, requestId: null, sourceAddress: null, userAgent: null };
    expect(((await listRules(h.t.deps, sellerCtx).catch((e: unknown) => e)) as AppError).code).toBe('auth.forbidden');

    const updated = await updateRule(h.t.deps, operator, 'auth.brute_force', { enabled: false, severity: 'high', settings: { failures: 4 }, automatic: ['notify', 'block_address'], suggested: [], version: 0 });
    expect(updated).toMatchObject({ enabled: false, severity: 'high', version: 1, settings: { failures: 4, windowMinutes: 30 }, automatic: ['notify', 'block_address'], suggested: [] });
    const stale = await updateRule(h.t.deps, operator, 'auth.brute_force', { ...updated, version: 0 }).catch((e: unknown) => e);
    expect((stale as AppError).code).toBe('record.version_conflict');
    const [entry] = await h.t.deps.db.selectFrom('audit_entries').selectAll().where('action', '=', 'detection.rule_updated').execute();
    expect(entry).toMatchObject({ record_type: 'detection_rules', actor_kind: 'cli' });
    expect(JSON.parse(entry!.fields).sort()).toEqual(['automatic', 'enabled', 'settings', 'severity', 'suggested']);

    // Switched off, the rule raises nothing, in whatever process runs the engine.
    const { user } = await h.t.makeUser({ roles: ['sales'] });
    h.clock.at += 16_000;
    await h.fail(user.email, 9, '198.51.100.6');
    await runDetectionOnce(h.t.deps);
    expect((await h.alertsOf('auth.brute_force')).filter((a) => a.actor_id === user.id)).toHaveLength(0);
    await updateRule(h.t.deps, operator, 'auth.brute_force', { ...updated, enabled: true, version: 1 });
  });

  it('tells how far the engine has read and who runs it', async () => {
    await runDetectionOnce(h.t.deps);
    const status = await detectionStatus(h.t.deps, operator);
    expect(status).toMatchObject({ leaseHolder: 'detection-once', lagEntries: 0 });
    expect(status.auditSeq).toBe(status.auditHead);
    expect(status.lastRunAt).not.toBeNull();
  });
});

describe('the detection setting', () => {
  it('is on unless set off, and takes nothing but on or off', () => {
    expect(loadConfig({ env: {}, cwd: '/tmp' }).detection).toBe(true);
    expect(loadConfig({ env: { RAMPART_DETECTION: 'off' }, cwd: '/tmp' }).detection).toBe(false);
    expect(() => loadConfig({ env: { RAMPART_DETECTION: 'maybe' }, cwd: '/tmp' })).toThrow(ConfigError);
  });
});

describe('detection in the running server', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ RAMPART_DETECTION: 'on', RAMPART_AUTH_RATE_LIMIT_PER_MINUTE: '100000' });
  });
  afterAll(async () => t.close());

  it('raises an alert and takes its responses within seconds of the attack, and hands the lease back when it closes', async () => {
    const { user } = await t.makeUser({ roles: ['sales'] });
    // Let the runner finish its first warm-up.
    for (let i = 0; i < 100 && !(await t.deps.db.selectFrom('detection_progress').select('lease_holder').executeTakeFirst())?.lease_holder; i += 1) await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const address = '203.0.113.77';
    for (let i = 0; i < 12; i += 1) {
      await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: i % 2 === 0 ? user.email : `nobody.${i}@example.com`, password: 'Winter2026!' }, remoteAddress: address });
    }
    let alert: AlertsTable | undefined;
    while (!alert && Date.now() - started < 10_000) {
      await new Promise((r) => setTimeout(r, 100));
      alert = await t.deps.db.selectFrom('alerts').selectAll().where('rule', '=', 'auth.credential_stuffing').executeTakeFirst();
    }
    expect(alert, 'no alert within 10 s').toBeDefined();
    expect(Date.now() - started).toBeLessThan(5000);
    const blocked = await t.deps.db.selectFrom('address_blocks').selectAll().where('address', '=', address).execute();
    expect(blocked).toHaveLength(1);
    await t.app.close();
    const progress = await t.deps.db.selectFrom('detection_progress').selectAll().executeTakeFirstOrThrow();
    expect(progress.lease_holder).toBeNull();
  });
});
