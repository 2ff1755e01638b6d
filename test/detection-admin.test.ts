import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RULE_KEYS } from '../src/detection/rules.js';
import { lockAccount } from '../src/modules/detection/containment.service.js';
import { cliContext } from '../src/shared/principal.js';
import { createTestApp, type TestApp } from './support/app.js';
import { runCli } from './support/cli.js';
import { testDialect } from './support/database.js';
import { signInFully } from './support/sign-in.js';

/**
 * Detection administration over HTTP and the command line: the rules, the engine's status, address
 * blocks, the lockdown and locked accounts. Everything needs alerts.handle.
 */
describe(`detection administration (${testDialect})`, () => {
  let t: TestApp;
  let admin: string;
  let officer: { token: string; id: string };
  let sales: { token: string; id: string };
  let auditor: string;

  beforeAll(async () => {
    t = await createTestApp();
    ({ token: admin } = await t.makeUser({ roles: ['admin'] }));
    const o = await t.makeUser({ roles: ['security_officer'] });
    officer = { token: o.token, id: o.user.id };
    const s = await t.makeUser({ roles: ['sales'] });
    sales = { token: s.token, id: s.user.id };
    ({ token: auditor } = await t.makeUser({ roles: ['auditor'] }));
  });
  afterAll(async () => t.close());

  const from = (token: string, method: string, url: string, remoteAddress: string, body?: unknown) =>
    t.app.inject({ method: method as 'GET', url, remoteAddress, headers: { authorization: `Bearer ${token}` }, ...(body !== undefined ? { payload: body as object } : {}) });

  /** Every table detection administration writes, to show a refused request changed none. */
  const state = async () => {
    const tables = ['detection_rules', 'address_blocks', 'lockdowns', 'alert_responses'] as const;
    const rows = await Promise.all(tables.map(async (name) => (await sql`select * from ${sql.table(name)}`.execute(t.database.db)).rows));
    const locked = await t.database.db.selectFrom('users').select(['id', 'locked_at']).orderBy('id').execute();
    return JSON.stringify([rows, locked]);
  };

  it('lists every rule with its settings, shipped defaults and the schema of its settings', async () => {
    const res = await t.call('GET', '/api/v1/detection/rules', { token: officer.token });
    expect(res.statusCode, res.body).toBe(200);
    const rules = res.json().items as { key: string; version: number; settings: Record<string, unknown>; defaults: { settings: unknown }; schema: Record<string, { kind: string }> }[];
    expect(rules.map((r) => r.key)).toEqual([...RULE_KEYS]);
    const brute = rules.find((r) => r.key === 'auth.brute_force')!;
    expect(brute).toMatchObject({ enabled: true, version: 0, updatedAt: null, settings: brute.defaults.settings });
    expect(brute.schema.failures).toMatchObject({ kind: 'integer', min: expect.any(Number), max: expect.any(Number) });
    const one = await t.call('GET', '/api/v1/detection/rules/auth.brute_force', { token: officer.token });
    expect(one.json()).toEqual(brute);
    const unknown = await t.call('GET', '/api/v1/detection/rules/auth.nothing', { token: officer.token });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('detection.rule_not_found');
  });

  it('changes a rule with its version, refuses settings outside the rule\'s schema, and audits the change', async () => {
    const current = (await t.call('GET', '/api/v1/detection/rules/auth.brute_force', { token: admin })).json();
    const change = { enabled: false, severity: 'high', settings: { ...current.settings, failures: 20 }, automatic: ['notify', 'block_address'], suggested: ['lock_account'], version: 0 };
    const res = await t.call('PUT', '/api/v1/detection/rules/auth.brute_force', { token: officer.token, body: change });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ enabled: false, severity: 'high', settings: { failures: 20 }, automatic: ['notify', 'block_address'], suggested: ['lock_account'], version: 1, updatedBy: officer.id });

    const stale = await t.call('PUT', '/api/v1/detection/rules/auth.brute_force', { token: officer.token, body: change });
    expect(stale.statusCode).toBe(409);
    expect(stale.json().error.code).toBe('record.version_conflict');

    const before = await state();
    for (const body of [
      { ...change, version: 1, settings: { failures: 0 } },
      { ...change, version: 1, settings: { noSuchSetting: 3 } },
      { ...change, version: 1, automatic: ['notify', 'notify'] },
    ]) {
      const bad = await t.call('PUT', '/api/v1/detection/rules/auth.brute_force', { token: officer.token, body });
      expect(bad.statusCode, JSON.stringify(body)).toBe(400);
      expect(bad.json().error.code).toBe('detection.invalid_rule');
    }
    for (const body of [{ ...change, version: 1, automatic: ['format_disk'] }, { ...change, version: 1, severity: 'extreme' }, { enabled: true }]) {
      const bad = await t.call('PUT', '/api/v1/detection/rules/auth.brute_force', { token: officer.token, body });
      expect(bad.statusCode, JSON.stringify(body)).toBe(400);
    }
    const missing = await t.call('PUT', '/api/v1/detection/rules/auth.nothing', { token: officer.token, body: change });
    expect(missing.json().error.code).toBe('detection.rule_not_found');
    expect(await state()).toBe(before);

    const entries = await t.database.db.selectFrom('audit_entries').select(['action', 'actor_id']).where('action', '=', 'detection.rule_updated').execute();
    expect(entries).toEqual([{ action: 'detection.rule_updated', actor_id: officer.id }]);
  });

  it('asks a browser session for a recent second factor before changing a rule', async () => {
    const { user, password } = await t.makeUser({ roles: ['security_officer'] });
    const session = await signInFully(t, user.email, password);
    const headers = { cookie: session.cookie, 'x-csrf-token': session.csrf };
    const factorAt = (at: string) => t.database.db.updateTable('sessions').set({ mfa_at: at }).where('user_id', '=', user.id).where('revoked_at', 'is', null).execute();
    const rule = (await t.call('GET', '/api/v1/detection/rules/data.off_hours', { headers })).json();
    const off = { enabled: false, severity: rule.severity, settings: rule.settings, automatic: rule.automatic, suggested: rule.suggested, version: rule.version };

    await factorAt('2000-01-01T00:00:00.000Z');
    const before = await state();
    const stale = await t.call('PUT', '/api/v1/detection/rules/data.off_hours', { headers, body: off });
    expect(stale.statusCode, stale.body).toBe(403);
    expect(stale.json().error.code).toBe('auth.step_up_required');
    expect(await state()).toBe(before);
    // Without alerts.handle the answer is the refusal, not a request for a second factor.
    const seller = await t.makeUser({ roles: ['sales'] });
    const sellerSession = await signInFully(t, seller.user.email, seller.password);
    const refused = await t.call('PUT', '/api/v1/detection/rules/data.off_hours', { headers: { cookie: sellerSession.cookie, 'x-csrf-token': sellerSession.csrf }, body: off });
    expect(refused.json().error.code).toBe('auth.forbidden');

    await factorAt(new Date().toISOString());
    const fresh = await t.call('PUT', '/api/v1/detection/rules/data.off_hours', { headers, body: off });
    expect(fresh.statusCode, fresh.body).toBe(200);
    expect(fresh.json()).toMatchObject({ enabled: false, version: rule.version + 1, updatedBy: user.id });
  });

  it('reports how far the engine has read, and the lockdown', async () => {
    const res = await t.call('GET', '/api/v1/detection/status', { token: officer.token });
    expect(res.statusCode, res.body).toBe(200);
    const status = res.json();
    expect(Object.keys(status).sort()).toEqual(['auditHead', 'auditSeq', 'lagEntries', 'lastRunAt', 'leaseHolder', 'leaseUntil', 'lockdown']);
    expect(status.auditHead).toBeGreaterThan(0);
    expect(status.lagEntries).toBe(status.auditHead - status.auditSeq);
    expect(status.lockdown).toBeNull();
  });

  it('blocks an address, which is then refused, and lifts the block', async () => {
    const res = await t.call('POST', '/api/v1/detection/blocks', { token: officer.token, body: { address: '203.0.113.77', minutes: 30, reason: 'Scanner seen in the firewall log' } });
    expect(res.statusCode, res.body).toBe(201);
    const block = res.json();
    expect(block).toMatchObject({ address: '203.0.113.77', reason: 'Scanner seen in the firewall log', alertId: null, createdBy: officer.id, liftedAt: null });
    expect((await t.call('GET', '/api/v1/detection/blocks', { token: officer.token })).json().items.map((b: { id: string }) => b.id)).toEqual([block.id]);

    const refused = await from(sales.token, 'GET', '/api/v1/contacts', '203.0.113.77');
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('request.address_blocked');
    expect((await from(sales.token, 'GET', '/api/v1/contacts', '203.0.113.78')).statusCode).toBe(200);

    for (const body of [{ address: 'not an address', reason: 'x' }, { address: '203.0.113.1', reason: '' }, { address: '203.0.113.1', reason: 'x', minutes: 0 }]) {
      expect((await t.call('POST', '/api/v1/detection/blocks', { token: officer.token, body })).statusCode, JSON.stringify(body)).toBe(400);
    }

    const lifted = await t.call('DELETE', `/api/v1/detection/blocks/${block.id}`, { token: officer.token });
    expect(lifted.statusCode, lifted.body).toBe(200);
    expect(lifted.json()).toMatchObject({ id: block.id, liftedBy: officer.id });
    expect((await t.call('GET', '/api/v1/detection/blocks', { token: officer.token })).json().items).toEqual([]);
    expect((await t.call('GET', '/api/v1/detection/blocks?all=true', { token: officer.token })).json().items.map((b: { id: string }) => b.id)).toEqual([block.id]);
    expect((await from(sales.token, 'GET', '/api/v1/contacts', '203.0.113.77')).statusCode).toBe(200);
  });

  it('starts a lockdown that every screen learns of, refuses writes but by handlers, and lifts it', async () => {
    const started = await t.call('PUT', '/api/v1/detection/lockdown', { token: officer.token, body: { reason: 'Suspected breach' } });
    expect(started.statusCode, started.body).toBe(200);
    expect(started.json()).toMatchObject({ reason: 'Suspected breach', startedBy: officer.id, alertId: null });
    // Starting it again answers the one in force.
    expect((await t.call('PUT', '/api/v1/detection/lockdown', { token: admin, body: { reason: 'Again' } })).json().id).toBe(started.json().id);

    expect((await t.call('GET', '/api/v1/auth/access', { token: sales.token })).json().lockdown).toBe(true);
    expect((await t.call('GET', '/api/v1/detection/lockdown', { token: officer.token })).json().lockdown).toMatchObject({ id: started.json().id });
    expect((await t.call('GET', '/api/v1/detection/status', { token: officer.token })).json().lockdown).toMatchObject({ id: started.json().id });
    const write = await t.call('POST', '/api/v1/companies', { token: sales.token, body: { name: 'Written in lockdown' } });
    expect(write.statusCode).toBe(423);
    expect(write.json().error.code).toBe('system.lockdown');
    expect((await t.call('GET', '/api/v1/companies', { token: sales.token })).statusCode).toBe(200);

    const lifted = await t.call('DELETE', '/api/v1/detection/lockdown', { token: officer.token });
    expect(lifted.json()).toEqual({ lifted: true });
    expect((await t.call('DELETE', '/api/v1/detection/lockdown', { token: officer.token })).json()).toEqual({ lifted: false });
    expect((await t.call('GET', '/api/v1/auth/access', { token: sales.token })).json().lockdown).toBe(false);
    expect((await t.call('GET', '/api/v1/detection/lockdown', { token: officer.token })).json()).toEqual({ lockdown: null });
    expect((await t.call('POST', '/api/v1/companies', { token: sales.token, body: { name: 'Written after lockdown' } })).statusCode).toBe(201);
    const reasonless = await t.call('PUT', '/api/v1/detection/lockdown', { token: officer.token, body: { reason: '   ' } });
    expect(reasonless.statusCode).toBe(400);
  });

  it('lists locked accounts and unlocks one', async () => {
    const { user } = await t.makeUser({ roles: ['sales'] });
    await lockAccount(t.deps, cliContext('test'), user.id, { reason: 'Shared password found online' });
    const listed = (await t.call('GET', '/api/v1/detection/locked-accounts', { token: officer.token })).json().items;
    expect(listed).toEqual([{ userId: user.id, email: user.email, name: user.name, lockedAt: expect.any(String), lockedReason: 'Shared password found online' }]);
    const unlocked = await t.call('DELETE', `/api/v1/detection/locked-accounts/${user.id}`, { token: officer.token });
    expect(unlocked.json()).toEqual({ unlocked: true });
    expect((await t.call('GET', '/api/v1/detection/locked-accounts', { token: officer.token })).json().items).toEqual([]);
    expect((await t.call('DELETE', `/api/v1/detection/locked-accounts/${user.id}`, { token: officer.token })).json()).toEqual({ unlocked: false });
    expect((await t.call('DELETE', '/api/v1/detection/locked-accounts/nobody', { token: officer.token })).statusCode).toBe(404);
  });

  it('refuses every detection route to those without alerts.handle, and changes nothing', async () => {
    const { user: locked } = await t.makeUser({ roles: ['sales'] });
    await lockAccount(t.deps, cliContext('test'), locked.id, { reason: 'Test lock' });
    const block = (await t.call('POST', '/api/v1/detection/blocks', { token: admin, body: { address: '198.51.100.99', reason: 'Test block' } })).json();
    await t.call('PUT', '/api/v1/detection/lockdown', { token: admin, body: { reason: 'Test lockdown' } });
    const before = await state();
    const rule = (await t.call('GET', '/api/v1/detection/rules/request.probe', { token: admin })).json();
    for (const token of [sales.token, auditor]) {
      for (const [method, url, body] of [
        ['GET', '/api/v1/detection/rules', undefined],
        ['GET', '/api/v1/detection/rules/request.probe', undefined],
        ['PUT', '/api/v1/detection/rules/request.probe', { enabled: false, severity: rule.severity, settings: rule.settings, automatic: [], suggested: [], version: rule.version }],
        ['GET', '/api/v1/detection/status', undefined],
        ['GET', '/api/v1/detection/blocks', undefined],
        ['POST', '/api/v1/detection/blocks', { address: '198.51.100.100', reason: 'mine' }],
        ['DELETE', `/api/v1/detection/blocks/${block.id}`, undefined],
        ['GET', '/api/v1/detection/lockdown', undefined],
        ['PUT', '/api/v1/detection/lockdown', { reason: 'mine' }],
        ['DELETE', '/api/v1/detection/lockdown', undefined],
        ['GET', '/api/v1/detection/locked-accounts', undefined],
        ['DELETE', `/api/v1/detection/locked-accounts/${locked.id}`, undefined],
      ] as const) {
        const res = await t.call(method, url, { token, ...(body ? { body } : {}) });
        // In lockdown a write by someone who may not handle alerts is refused before it reaches
        // the route (423); every other request gets 403.
        expect([403, 423], `${method} ${url}: ${res.body}`).toContain(res.statusCode);
        if (method === 'GET') expect(res.statusCode).toBe(403);
      }
    }
    expect(await state()).toBe(before);
    await t.call('DELETE', '/api/v1/detection/lockdown', { token: admin });
    // Out of lockdown, the writes meet the permission check itself.
    const write = await t.call('DELETE', '/api/v1/detection/lockdown', { token: sales.token });
    expect(write.statusCode).toBe(403);
    expect(write.json().error.code).toBe('auth.forbidden');
  });

  describe('on the command line', { timeout: 240_000 }, () => {
    let dir: string;
    const cli = (args: string[]) =>
      runCli(['--data-dir', path.join(dir, 'data'), ...args], { env: { RAMPART_DATABASE_URL: t.testDb.url, RAMPART_KEY_FILE: t.testDb.keyFile } });

    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-detection-cli-'));
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('lists and changes rules, and reports the status', async () => {
      const rules = await cli(['detection', 'rules', '--json']);
      expect(rules.code, rules.stderr).toBe(0);
      expect((JSON.parse(rules.stdout) as { key: string }[]).map((r) => r.key)).toEqual([...RULE_KEYS]);

      const changed = await cli(['detection', 'rule', 'request.probe', '--disabled', '--severity', 'critical', '--automatic', 'notify', '--suggested', 'none', '--json']);
      expect(changed.code, changed.stderr).toBe(0);
      expect(JSON.parse(changed.stdout)).toMatchObject({ key: 'request.probe', enabled: false, severity: 'critical', automatic: ['notify'], suggested: [] });
      const current = (JSON.parse(changed.stdout) as { settings: Record<string, unknown> }).settings;
      const [name, value] = Object.entries(current).find(([, v]) => typeof v === 'number')!;
      const set = await cli(['detection', 'rule', 'request.probe', '--enabled', '--set', `${name}=${Number(value) + 1}`, '--json']);
      expect(set.code, set.stderr).toBe(0);
      expect(JSON.parse(set.stdout)).toMatchObject({ enabled: true, severity: 'critical', settings: { [name]: Number(value) + 1 } });

      const bad = await cli(['detection', 'rule', 'request.probe', '--set', 'nonsense=1', '--json']);
      expect(bad.code).toBe(1);
      expect(JSON.parse(bad.stderr).error.code).toBe('detection.invalid_rule');
      const unknown = await cli(['detection', 'rule', 'no.rule', '--enabled']);
      expect(unknown.code).toBe(1);

      const status = await cli(['detection', 'status', '--json']);
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ auditHead: expect.any(Number), lockdown: null });
    });

    it('starts and lifts a lockdown', async () => {
      const on = await cli(['lockdown', 'on', '--reason', 'Drill', '--json']);
      expect(on.code, on.stderr).toBe(0);
      expect(JSON.parse(on.stdout)).toMatchObject({ reason: 'Drill', startedBy: expect.stringMatching(/^cli:/) });
      const status = await cli(['lockdown', 'status', '--json']);
      expect(JSON.parse(status.stdout).lockdown).toMatchObject({ reason: 'Drill' });
      // The server's cached view catches up within about a second.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect((await t.call('GET', '/api/v1/auth/access', { token: sales.token })).json().lockdown).toBe(true);
      const off = await cli(['lockdown', 'off', '--json']);
      expect(off.code, off.stderr).toBe(0);
      expect(JSON.parse(off.stdout)).toEqual({ lifted: true });
      const noReason = await cli(['lockdown', 'on']);
      expect(noReason.code).toBe(1);
    });
  });
});
