import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { generateSigningKey } from '../src/audit/checkpoint.js';
import { runCli, spawnCli } from './support/cli.js';
import { totpCode } from '../src/modules/mfa/totp.js';

const PASSWORD = 'correct horse battery staple 42';

// Each test starts real processes; on a loaded machine that takes seconds per command.
describe('rampart command line', { timeout: 180_000 }, () => {
  let dir: string;
  let dataDir: string;
  const cli = (args: string[], options: { input?: string; env?: Record<string, string> } = {}) => runCli(['--data-dir', dataDir, ...args], options);

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-cli-'));
    dataDir = path.join(dir, 'data');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('answers --help for the program and every command with exit status 0', async () => {
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    for (const name of ['serve', 'migrate', 'user', 'team', 'token', 'import', 'export', 'demo']) expect(top.stdout).toContain(name);
    const create = await runCli(['user', 'create', '--help']);
    expect(create.code).toBe(0);
    expect(create.stdout).toContain('--password-stdin');
    expect(create.stdout).toContain('--data-dir');
    const demo = await runCli(['demo', '--help']);
    expect(demo.stdout).toMatch(/--contacts <n>/);
  });

  it('fails with a non-zero status on unknown commands, bad arguments and bad configuration', async () => {
    expect((await runCli(['frobnicate'])).code).not.toBe(0);
    expect((await cli(['export', 'leads', '--out', path.join(dir, 'x.csv'), '--reason', 'test'])).code).not.toBe(0);
    expect((await cli(['demo', '--contacts', 'many'])).code).not.toBe(0);
    const config = await cli(['migrate'], { env: { RAMPART_PORT: 'abc', RAMPART_SHOE_SIZE: '44' } });
    expect(config.code).toBe(1);
    expect(config.stderr).toContain('RAMPART_PORT must be a whole number');
    expect(config.stderr).toContain('RAMPART_SHOE_SIZE is not a known setting');
  });

  it('migrates a fresh data directory that only its owner can enter', async () => {
    const result = await cli(['migrate', '--json']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).applied).toContain('0001-foundation');
    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(dataDir, 'rampart.db')).mode & 0o777).toBe(0o600);
    expect(JSON.parse((await cli(['migrate', '--json'])).stdout).applied).toEqual([]);
  });

  it('creates a user with the password from standard input, never from an argument', async () => {
    const created = await cli(['user', 'create', '--email', 'Ops@Example.com', '--name', 'Ops Admin', '--role', 'admin', '--role', 'manager', '--password-stdin', '--json'], { input: `${PASSWORD}\n` });
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ email: 'ops@example.com', roles: ['admin', 'manager'], status: 'active' });
    expect(created.stdout + created.stderr).not.toContain(PASSWORD);

    const missingFlag = await cli(['user', 'create', '--email', 'x@example.com', '--name', 'X', '--role', 'sales']);
    expect(missingFlag.code).toBe(1);
    expect(missingFlag.stderr).toContain('--password-stdin');

    const weak = await cli(['user', 'create', '--email', 'y@example.com', '--name', 'Y', '--role', 'sales', '--password-stdin'], { input: 'short' });
    expect(weak.code).toBe(1);
    expect(weak.stderr).toContain('password');
    expect(weak.stderr).not.toContain('short\n');

    const duplicate = await cli(['user', 'create', '--email', 'ops@example.com', '--name', 'Again', '--role', 'admin', '--password-stdin'], { input: PASSWORD });
    expect(duplicate.code).toBe(1);

    const listed = await cli(['user', 'list', '--json']);
    expect(JSON.parse(listed.stdout).map((u: { email: string }) => u.email)).toEqual(['ops@example.com']);
  });

  it('creates a token once, which then works against the API, and revokes it', async () => {
    const created = await cli(['token', 'create', '--user', 'ops@example.com', '--name', 'ci', '--scopes', 'contacts:read', '--expires', '30d', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const { token } = JSON.parse(created.stdout) as { token: string };
    expect(Object.keys(JSON.parse(created.stdout))).toEqual(['token']);
    expect(token).toMatch(/^rpt_/);

    const config = loadConfig({ env: { RAMPART_DATA_DIR: dataDir, RAMPART_LOG_LEVEL: 'silent' } });
    const rampart = await buildApp(config);
    try {
      const ok = await rampart.app.inject({ method: 'GET', url: '/api/v1/contacts?limit=5', headers: { authorization: `Bearer ${token}` } });
      expect(ok.statusCode, ok.body).toBe(200);
      const write = await rampart.app.inject({ method: 'POST', url: '/api/v1/contacts', headers: { authorization: `Bearer ${token}` }, payload: { lastName: 'X' } });
      expect(write.statusCode).toBe(403);

      const list = await cli(['token', 'list', '--user', 'ops@example.com', '--json']);
      const [record] = JSON.parse(list.stdout) as { id: string; prefix: string }[];
      expect(list.stdout).not.toContain(token);
      expect((await cli(['token', 'revoke', record!.id])).code).toBe(0);
      const refused = await rampart.app.inject({ method: 'GET', url: '/api/v1/contacts', headers: { authorization: `Bearer ${token}` } });
      expect(refused.statusCode).toBe(401);
    } finally {
      await rampart.close();
    }
    expect((await cli(['token', 'create', '--user', 'nobody@example.com', '--name', 'x'])).code).toBe(1);
  });

  it("resets the second factors of someone who lost their phone, lists and ends sessions, and unlocks sign-in, from the server's command line", async () => {
    const config = loadConfig({ env: { RAMPART_DATA_DIR: dataDir, RAMPART_LOG_LEVEL: 'silent' } });
    const rampart = await buildApp(config);
    try {
      const login = await rampart.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'ops@example.com', password: PASSWORD } });
      expect(login.json().stage).toBe('enrol');
      const partial = { cookies: { rampart_session: login.cookies[0]!.value }, headers: { 'x-csrf-token': login.json().csrfToken } };
      const started = (await rampart.app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp', payload: {}, ...partial })).json();
      const code = await totpCode(started.secret, Math.floor(Date.now() / 1000));
      const confirmed = await rampart.app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp/confirm', payload: { factorId: started.factorId, code }, ...partial });
      expect(confirmed.statusCode, confirmed.body).toBe(200);
      const reset = await cli(['user', 'reset-mfa', 'ops@example.com', '--json']);
      expect(reset.code, reset.stderr).toBe(0);
      expect(JSON.parse(reset.stdout)).toEqual({ factorsRemoved: 1, sessionsEnded: 1 });
      const again = await rampart.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'ops@example.com', password: PASSWORD } });
      expect(again.json().stage).toBe('enrol');
      const sessions = await cli(['user', 'sessions', 'ops@example.com', '--json']);
      expect(sessions.code, sessions.stderr).toBe(0);
      expect(JSON.parse(sessions.stdout)).toEqual([expect.objectContaining({ stage: 'enrol', device: 'Unknown device' })]);
      expect(JSON.parse((await cli(['user', 'end-sessions', 'ops@example.com', '--json'])).stdout)).toEqual({ ended: 1 });
      expect((await rampart.app.inject({ method: 'GET', url: '/api/v1/auth/session', cookies: { rampart_session: again.cookies[0]!.value } })).statusCode).toBe(401);

      // Failed sign-ins are forgotten by `user unlock`.
      expect(JSON.parse((await cli(['user', 'unlock', 'ops@example.com', '--json'])).stdout)).toEqual({ unlocked: false });
      await rampart.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'ops@example.com', password: 'not the password at all' } });
      const unlock = await cli(['user', 'unlock', 'ops@example.com']);
      expect(unlock.code, unlock.stderr).toBe(0);
      expect(unlock.stdout).toContain('Unlocked sign-in for ops@example.com');

      // A link to set a new password, printed for the operator to hand over; it works once.
      const resetLink = await cli(['user', 'reset-password', 'ops@example.com', '--json']);
      expect(resetLink.code, resetLink.stderr).toBe(0);
      const { link, expiresInMinutes } = JSON.parse(resetLink.stdout) as { link: string; expiresInMinutes: number };
      expect(expiresInMinutes).toBe(30);
      const token = new URL(link).hash.replace(/^#token=/, '');
      const complete = (newPassword: string) => rampart.app.inject({ method: 'POST', url: '/api/v1/auth/password-reset/complete', payload: { token, newPassword } });
      expect((await complete('another horse battery staple 7')).statusCode).toBe(204);
      expect((await complete('and yet another staple 8')).json().error.code).toBe('auth.reset_link_invalid');
      expect((await rampart.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'ops@example.com', password: 'another horse battery staple 7' } })).json().stage).toBe('enrol');
      expect((await cli(['user', 'reset-password', 'nobody@example.com'])).code).toBe(1);
    } finally {
      await rampart.close();
    }
    expect((await cli(['user', 'reset-mfa', 'nobody@example.com'])).code).toBe(1);
  });

  it('writes sample data, exports it to an owner-only file and imports a file with bad lines', async () => {
    const demo = await cli(['demo', '--companies', '5', '--contacts', '40', '--deals', '10', '--activities', '20', '--tickets', '5', '--json']);
    expect(demo.code, demo.stderr).toBe(0);
    expect(JSON.parse(demo.stdout).created).toEqual({ companies: 5, contacts: 40, deals: 10, activities: 20, tickets: 5 });

    const out = path.join(dir, 'contacts.csv');
    const exported = await cli(['export', 'contacts', '--out', out, '--reason', 'Checking the demo data', '--json']);
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(exported.stdout).rows).toBe(40);
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(out, 'utf8').split('\n')[0]).toMatch(/^id,version,ownerId,teamId,createdAt/);
    expect((await cli(['export', 'contacts', '--out', out, '--reason', 'again'])).code).toBe(1);
    expect((await cli(['export', 'deals', '--out', out, '--force', '--reason', 'deals'])).code).toBe(0);
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);

    // Acting as a user, the operator gets exactly the user's access: a seller may not export, a
    // manager exports the contacts of their own teams only.
    const asSeller = await cli(['--as', 'li.qiang@demo.example.com', 'export', 'contacts', '--out', path.join(dir, 'seller.csv'), '--reason', 'as a seller', '--json']);
    expect(asSeller.code).toBe(1);
    expect(JSON.parse(asSeller.stderr).error.code).toBe('auth.forbidden');
    const asManager = await cli(['--as', 'wang.fang@demo.example.com', 'export', 'contacts', '--out', path.join(dir, 'manager.csv'), '--reason', 'as a manager', '--json']);
    expect(asManager.code, asManager.stderr).toBe(0);
    expect(JSON.parse(asManager.stdout).rows).toBeLessThan(40);
    expect(JSON.parse(asManager.stdout).rows).toBeGreaterThan(0);
    expect((await cli(['--as', 'nobody@example.com', 'user', 'list'])).code).toBe(1);

    const file = path.join(dir, 'people.csv');
    fs.writeFileSync(file, 'First Name,last_name,email\nGrace,Hopper,grace@example.com\nNo,,nolast@example.com\nBad,Email,not-an-email\n');
    const imported = await cli(['import', 'contacts', file, '--json']);
    expect(imported.code).toBe(2);
    const summary = JSON.parse(imported.stdout);
    expect(summary).toMatchObject({ imported: 1, rejected: 2 });
    expect(summary.rejectedLines.map((l: { line: number }) => l.line)).toEqual([3, 4]);
    expect(imported.stdout).not.toContain('not-an-email');

    fs.writeFileSync(file, 'firstName,lastName,favourite colour\nA,B,red\n');
    const unknown = await cli(['import', 'contacts', file]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('favourite colour');

    const human = await cli(['import', 'companies', path.join(dir, 'missing.csv')]);
    expect(human.code).toBe(1);
  });

  it('makes a custom role, grants and revokes, and gives it and a team to a user', async () => {
    expect((await cli(['role', 'create', 'key_accounts', '--name', 'Key accounts'])).code).toBe(0);
    const granted = await cli(['role', 'grant', 'key_accounts', '--type', 'companies', '--action', 'read', '--scope', 'team', '--json']);
    expect(granted.code, granted.stderr).toBe(0);
    expect(JSON.parse(granted.stdout).definition.records.companies.actions).toEqual({ read: 'team' });
    expect((await cli(['role', 'grant', 'key_accounts', '--type', 'companies', '--field', '@personal', '--rule', 'masked'])).code).toBe(0);
    expect((await cli(['role', 'grant', 'key_accounts', '--permission', 'users.read'])).code).toBe(0);
    const shown = await cli(['role', 'show', 'key_accounts']);
    expect(shown.stdout).toContain('read:team');
    expect(shown.stdout).toContain('@personal=masked');
    expect(shown.stdout).toContain('Permissions: users.read');
    expect(shown.stdout).toContain('Second factor: optional');
    expect((await cli(['role', 'show', 'admin'])).stdout).toContain('Second factor: required');
    expect((await cli(['role', 'grant', 'key_accounts', '--type', 'companies', '--action', 'read', '--scope', 'galaxy'])).code).toBe(1);
    expect((await cli(['role', 'grant', 'sales', '--permission', 'users.read'])).stderr).toContain('Shipped roles cannot be changed');

    const assigned = await cli(['user', 'assign-role', 'ops@example.com', 'key_accounts', '--json']);
    expect(assigned.code, assigned.stderr).toBe(0);
    expect(JSON.parse(assigned.stdout).roles).toContain('key_accounts');
    expect((await cli(['team', 'create', 'Key accounts'])).code).toBe(0);
    const moved = await cli(['team', 'add-member', 'Key accounts', 'ops@example.com', '--json']);
    expect(moved.code, moved.stderr).toBe(0);
    expect(JSON.parse(moved.stdout).teamId).toBeTruthy();
    expect((await cli(['role', 'delete', 'key_accounts'])).code).toBe(1);
    expect((await cli(['user', 'remove-role', 'ops@example.com', 'key_accounts'])).code).toBe(0);
    const revoked = await cli(['role', 'revoke', 'key_accounts', '--permission', 'users.read', '--json']);
    expect(JSON.parse(revoked.stdout).definition.permissions).toEqual([]);
    expect((await cli(['role', 'delete', 'key_accounts'])).code).toBe(0);
    expect((await cli(['role', 'list'])).stdout).not.toContain('key_accounts');

    const audit = await cli(['audit', 'verify', '--json']);
    expect(audit.code, audit.stderr).toBe(0);
    expect(JSON.parse(audit.stdout)).toMatchObject({ problems: [] });
    const kept = path.join(dir, 'checkpoints.txt');
    const checkpoint = await cli(['audit', 'checkpoint', '--out', kept]);
    expect(checkpoint.code, checkpoint.stderr).toBe(0);
    expect(checkpoint.stdout).toMatch(/^127\.0\.0\.1:8080\/rampart-audit\n\d+\n[A-Za-z0-9+/=]{44}\ntime .+\n\n\u2014 127\.0\.0\.1:8080\/rampart-audit \S+\n$/);
    expect(fs.readFileSync(kept, 'utf8')).toContain(checkpoint.stdout);
    expect(fs.statSync(path.join(dataDir, 'audit-signing.key')).mode & 0o777).toBe(0o600);
    const verifier = (await cli(['audit', 'key'])).stdout.trim();
    expect(verifier).toMatch(/^127\.0\.0\.1:8080\/rampart-audit\+[0-9a-f]{8}\+/);
    expect(fs.readFileSync(path.join(dataDir, 'audit-signing.key'), 'utf8')).toContain(verifier);

    // The commands above are in the log, as the operator's, and can be searched and proved.
    const roles = await cli(['audit', 'search', '--action', 'role.*', '--json']);
    expect(roles.code, roles.stderr).toBe(0);
    const roleEntries = JSON.parse(roles.stdout).items as { action: string; actorKind: string; recordIds: string[] }[];
    // Created, three grants and a revoke, deleted: the refused grant and delete left nothing.
    expect(roleEntries.map((e) => e.action).reverse()).toEqual(['role.create', 'role.update', 'role.update', 'role.update', 'role.update', 'role.delete']);
    expect(roleEntries.every((e) => e.actorKind === 'cli' && e.recordIds[0] === 'key_accounts')).toBe(true);
    expect((await cli(['audit', 'search', '--type', 'users'])).stdout).toMatch(/user\.create/);
    const size = Number(checkpoint.stdout.split('\n')[1]);
    const held = await cli(['audit', 'verify', '--checkpoint', kept]);
    expect(held.code, held.stderr).toBe(0);
    expect(held.stdout).toMatch(/^OK: the log is intact up to entry \d+ \(tree head [0-9a-f]{64}\), and gives every one of the 1 checkpoint\(s\) kept\.\nSigned up to entry \d+\./);
    // Held to another key, the kept checkpoint is not the server's: damage, exit status 1.
    const strangers = await cli(['audit', 'verify', '--checkpoint', kept, '--key', generateSigningKey('127.0.0.1:8080/rampart-audit').verifierKey]);
    expect(strangers.code).toBe(1);
    expect(strangers.stdout).toMatch(/^BROKEN: bad signature: /);
    const proof = await cli(['audit', 'prove', '--entry', '1']);
    expect(proof.code, proof.stderr).toBe(0);
    expect(JSON.parse(proof.stdout)).toMatchObject({ seq: 1, treeSize: size, checkpoint: checkpoint.stdout });
    expect(JSON.parse((await cli(['audit', 'prove', '--from', '1', '--to', String(size)])).stdout)).toMatchObject({ from: 1, to: size });
    expect((await cli(['audit', 'prove'])).code).toBe(1);
    // Everything here is minutes old: nothing is old enough to leave for an archive.
    const archived = await cli(['audit', 'archive', '--older-than', '30', '--out', path.join(dir, 'archive.jsonl')]);
    expect(archived.code, archived.stderr).toBe(0);
    expect(archived.stdout).toMatch(/^Nothing to archive/);
    expect((await cli(['audit', 'archive', '--out', path.join(dir, 'archive.jsonl')])).stderr).toContain('--older-than');
    const radius = await cli(['audit', 'blast-radius', '--actor', 'ops@example.com', '--from', '2020-01-01', '--csv', path.join(dir, 'radius.csv')]);
    expect(radius.code, radius.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'radius.csv'), 'utf8')).toMatch(/^subject,subject_type,field/);
    const unbounded = await cli(['audit', 'blast-radius', '--actor', 'ops@example.com']);
    expect(unbounded.code).toBe(1);
    expect(unbounded.stderr).toContain('from');
  });

  it('serves, prints the one-time setup link on a first start, and exits 0 on SIGTERM', async () => {
    const fresh = path.join(dir, 'fresh');
    const child = spawnCli(['--data-dir', fresh, 'serve', '--port', '0']);
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr!.resume();
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    while (!/\/setup#token=rpsetup_/.test(stdout) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(stdout).toMatch(/http:\/\/127\.0\.0\.1:\d+\/setup#token=rpsetup_[A-Za-z0-9_-]+/);
    expect(stdout).not.toMatch(/:0\/setup/);

    const url = /listening on (http:\/\/\S+)/.exec(stdout)![1]!;
    const status = await fetch(`${url}/api/v1/contacts`);
    expect(status.status).toBe(401);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
