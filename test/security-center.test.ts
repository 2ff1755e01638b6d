import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditOrigin, loadAuditSigningKey } from '../src/audit/signing-key-file.js';
import { appendAudit, sealCheckpoint } from '../src/data/audit-log.js';
import { rewrapAll } from '../src/data/key-rotation.js';
import { createTestApp, type TestApp } from './support/app.js';
import { auditEntry } from './support/audit.js';
import { testDialect } from './support/database.js';

const clock = { at: Date.UTC(2026, 10, 30, 9, 0, 0), now: () => new Date(clock.at) };

/** The routes behind the security screens: the chain's status and the keys' state. */
describe(`the security center's status routes (${testDialect})`, () => {
  let t: TestApp;
  let auditor: { token: string };
  let admin: { token: string };
  let seller: { token: string; user: { id: string } };

  beforeAll(async () => {
    t = await createTestApp({}, { clock });
    auditor = await t.makeUser({ roles: ['auditor'] });
    admin = await t.makeUser({ roles: ['admin'] });
    seller = await t.makeUser({ roles: ['sales'] });
  });
  afterAll(async () => t.close());

  const head = async () => Number((await sql<{ seq: number | string }>`select seq from audit_head`.execute(t.deps.db)).rows[0]!.seq);
  const status = async () => {
    const res = await t.call('GET', '/api/v1/audit/status', { token: auditor.token });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };
  /** The last entry of the log, as stored. */
  const newest = async () => (await sql<{ action: string; outcome: string; actor_id: string; details: string }>`select action, outcome, actor_id, details from audit_entries order by seq desc limit 1`.execute(t.deps.db)).rows[0]!;
  /** Plain SQL past the append-only triggers, as a database administrator could. */
  const withoutTriggers = async (work: () => Promise<unknown>) => {
    if (testDialect === 'sqlite') {
      const triggers = (await sql<{ name: string; sql: string }>`select name, sql from sqlite_master where type = 'trigger' and tbl_name = 'audit_entries'`.execute(t.deps.db)).rows;
      for (const trigger of triggers) await sql`drop trigger ${sql.raw(trigger.name)}`.execute(t.deps.db);
      await work();
      for (const trigger of triggers) await sql.raw(trigger.sql).execute(t.deps.db);
    } else {
      await sql`alter table audit_entries disable trigger user`.execute(t.deps.db);
      await work();
      await sql`alter table audit_entries enable trigger user`.execute(t.deps.db);
    }
  };

  it('says how far the chain is verified, follows it as it grows, and records the check', async () => {
    const size = await head();
    const first = await status();
    expect(first).toMatchObject({ entries: size, verifiedUpTo: size, intact: true, problems: [], checkpoint: null });
    expect(await newest()).toMatchObject({ action: 'audit.verify', outcome: 'success' });

    await appendAudit(t.deps, Array.from({ length: 30 }, (_, i) => auditEntry(i + 1)));
    const grown = await status();
    expect(grown).toMatchObject({ entries: size + 31, verifiedUpTo: size + 31, intact: true });
    // The same walk went on: it did not start again at entry 1.
    expect(grown.walkStartedAt).toBe(first.walkStartedAt);
  });

  it('shows the newest signed checkpoint and whether the audit key signed it', async () => {
    const key = loadAuditSigningKey(t.deps.config.audit.keyFile, auditOrigin(t.deps.config.publicUrl), { create: true });
    const sealed = await sealCheckpoint(t.deps, key);
    const shown = await status();
    expect(shown.checkpoint).toEqual({ size: sealed.size, rootHash: sealed.rootHash, signedAt: sealed.signedAt, signature: 'valid' });
    expect(shown.intact).toBe(true);
    expect(JSON.stringify(shown)).not.toContain(key.signerKey);
  });

  it('reports damage: at once past the walk, and behind it once the walk starts again', async () => {
    await status();
    const walked = await head();
    await appendAudit(t.deps, Array.from({ length: 5 }, (_, i) => auditEntry(100 + i)));
    // An entry the walk has not reached yet, changed before it gets there.
    await withoutTriggers(() => sql`update audit_entries set fields = '["email"]' where seq = ${walked + 2}`.execute(t.deps.db));
    const found = await status();
    expect(found.intact).toBe(false);
    expect(found.problems[0]).toMatchObject({ kind: 'modified', seq: walked + 2 });
    expect(await newest()).toMatchObject({ action: 'audit.verify', outcome: 'failure' });
  });

  it('finds damage done behind the walk when it starts again from entry 1', async () => {
    const t2 = await createTestApp({}, { clock });
    try {
      const reader = await t2.makeUser({ roles: ['auditor'] });
      await appendAudit(t2.deps, Array.from({ length: 10 }, (_, i) => auditEntry(i + 1)));
      const check = async () => (await t2.call('GET', '/api/v1/audit/status', { token: reader.token })).json();
      expect((await check()).intact).toBe(true);
      const first = Number((await sql<{ seq: number }>`select min(seq) as seq from audit_entries where action = 'record.read'`.execute(t2.deps.db)).rows[0]!.seq);
      if (testDialect === 'sqlite') {
        await sql`drop trigger audit_entries_no_update`.execute(t2.deps.db);
      } else await sql`alter table audit_entries disable trigger user`.execute(t2.deps.db);
      await sql`update audit_entries set action = 'record.update' where seq = ${first}`.execute(t2.deps.db);
      // Behind the walk, the change waits for the next walk from entry 1 (at most ten minutes).
      expect((await check()).intact).toBe(true);
      clock.at += 11 * 60_000;
      const again = await check();
      expect(again.intact).toBe(false);
      expect(again.problems[0]).toMatchObject({ kind: 'modified', seq: first });
    } finally {
      await t2.close();
    }
  });

  it('refuses a user without audit.read, and records the refusal', async () => {
    const before = await head();
    const refused = await t.call('GET', '/api/v1/audit/status', { token: seller.token });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('auth.forbidden');
    expect(refused.body).not.toContain('verifiedUpTo');
    expect(await head()).toBe(before + 1);
    const denial = await newest();
    expect(denial).toMatchObject({ action: 'access.denied', outcome: 'denied', actor_id: seller.user.id });
    expect(JSON.parse(denial.details)).toMatchObject({ code: 'auth.forbidden', route: 'GET /api/v1/audit/status' });
  });

  it('shows the key versions, what each holds and how far a rotation got, without key material', async () => {
    // A person, so that there is a data key to count.
    expect((await t.call('POST', '/api/v1/contacts', { token: admin.token, body: { firstName: 'Mira', lastName: 'Kovač', email: 'mira@example.com' } })).statusCode).toBe(201);
    const res = await t.call('GET', '/api/v1/keys/status', { token: admin.token });
    expect(res.statusCode, res.body).toBe(200);
    const keys = res.json();
    expect(keys.activeKek).toBe(t.deps.keyring.kek.currentId());
    expect(keys.kek.find((k: { id: string }) => k.id === keys.activeKek)).toMatchObject({ state: 'active' });
    expect(keys.rotations).toEqual([]);
    expect(res.body).not.toMatch(/wrapped|secret_|"key"\s*:/);

    // A new version with the rewrap not yet done: what a rotation cut short leaves behind.
    const older = keys.activeKek as string;
    const version = await t.deps.keyring.kek.addVersion();
    const midway = (await t.call('GET', '/api/v1/keys/status', { token: admin.token })).json();
    expect(midway.activeKek).toBe(version);
    expect(midway.kek.find((k: { id: string }) => k.id === older)).toMatchObject({ state: 'decrypt-only' });
    expect(midway.rotations).toEqual([expect.objectContaining({ step: 'rewrap', done: 0, command: 'rampart keys rotate --resume' })]);
    expect(midway.rotations[0].total).toBeGreaterThan(0);

    await rewrapAll(t.deps);
    expect((await t.call('GET', '/api/v1/keys/status', { token: admin.token })).json().rotations).toEqual([]);
  });

  it('refuses the key status to users without keys.manage, and records the refusals', async () => {
    for (const who of [seller, auditor]) {
      const before = await head();
      const refused = await t.call('GET', '/api/v1/keys/status', { token: who.token });
      expect(refused.statusCode).toBe(403);
      expect(refused.body).not.toContain('activeKek');
      expect(await head()).toBe(before + 1);
      const denial = await newest();
      expect(denial).toMatchObject({ action: 'access.denied', outcome: 'denied' });
      expect(JSON.parse(denial.details)).toMatchObject({ code: 'auth.forbidden', route: 'GET /api/v1/keys/status' });
    }
  });
});
