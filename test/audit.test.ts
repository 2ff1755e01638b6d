import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalEntry } from '../src/audit/entry.js';
import { leafHash, rootHash } from '../src/audit/merkle.js';
import { appendAudit, sealCheckpoint, verifyAuditLog } from '../src/data/audit-log.js';
import { generateSigningKey, openNote, parseCheckpoint } from '../src/audit/checkpoint.js';
import { inTransaction } from '../src/data/record-store.js';
import { createTestApp, type TestApp } from './support/app.js';
import { auditEntry } from './support/audit.js';
import { createTestDatabase, testDialect } from './support/database.js';
import { migrateToLatest } from '../src/db/migrator.js';
import { systemClock } from '../src/shared/clock.js';


describe(`the audit chain (${testDialect})`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('chains entries from the genesis hash, and its tree head matches the Merkle tree of the entry hashes', async () => {
    await appendAudit(t.deps, [auditEntry(1)]);
    await appendAudit(t.deps, Array.from({ length: 24 }, (_, i) => auditEntry(i + 2)));
    const rows = (await sql<{ seq: number | string; entry_hash: string; prev_hash: string }>`select seq, entry_hash, prev_hash from audit_entries order by seq`.execute(t.deps.db)).rows;
    expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    const first = createHash('sha256').update(Buffer.alloc(32)).update(canonicalEntry({ ...auditEntry(1), seq: 1, time: (await sql<{ occurred_at: string }>`select occurred_at from audit_entries where seq = 1`.execute(t.deps.db)).rows[0]!.occurred_at })).digest('hex');
    expect(rows[0]!.entry_hash).toBe(first);
    rows.slice(1).forEach((r, i) => expect(r.prev_hash).toBe(rows[i]!.entry_hash));

    const verified = await verifyAuditLog(t.deps);
    expect(verified.problems).toEqual([]);
    expect(verified.entries).toBe(25);
    expect(verified.rootHash).toBe(rootHash(rows.map((r) => leafHash(Buffer.from(r.entry_hash, 'hex')))).toString('hex'));
  });

  it('leaves no entry behind when the change it describes rolls back', async () => {
    const before = await verifyAuditLog(t.deps);
    await expect(
      inTransaction(t.deps, async (tx) => {
        await appendAudit(tx, [auditEntry(100)]);
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    const after = await verifyAuditLog(t.deps);
    expect(after.entries).toBe(before.entries);
    expect(after.rootHash).toBe(before.rootHash);
  });

  it('makes one gapless chain of appends that race each other', async () => {
    const before = (await verifyAuditLog(t.deps)).entries;
    await Promise.all(Array.from({ length: 12 }, (_, i) => appendAudit(t.deps, [auditEntry(200 + i), auditEntry(300 + i)])));
    const verified = await verifyAuditLog(t.deps);
    expect(verified.problems).toEqual([]);
    expect(verified.entries).toBe(before + 24);
  });

  it('refuses to change, remove or empty entries', async () => {
    await expect(sql`update audit_entries set action = 'record.delete' where seq = 3`.execute(t.deps.db)).rejects.toThrow(/append-only/);
    await expect(sql`delete from audit_entries where seq = 3`.execute(t.deps.db)).rejects.toThrow(/append-only/);
    if (testDialect === 'postgres') await expect(sql`truncate audit_entries`.execute(t.deps.db)).rejects.toThrow(/append-only/);
    expect((await verifyAuditLog(t.deps)).problems).toEqual([]);
  });

  it('signs checkpoints of the tree head, and catches a rewrite that recomputed every hash', async () => {
    const key = { origin: 'audit.test/rampart-audit', ...generateSigningKey('audit.test/rampart-audit') };
    const first = await sealCheckpoint(t.deps, key);
    const opened = parseCheckpoint(openNote(first.note, key.verifierKey));
    expect(opened.size).toBe(first.size);
    expect(opened.rootHash.toString('hex')).toBe((await verifyAuditLog(t.deps)).rootHash);
    expect((await sealCheckpoint(t.deps, key)).note).toBe(first.note);
    await appendAudit(t.deps, [auditEntry(500), auditEntry(501)]);
    const second = await sealCheckpoint(t.deps, key);
    expect(second.size).toBe(first.size + 2);
    expect((await verifyAuditLog(t.deps, { verifierKey: key.verifierKey })).problems).toEqual([]);
    // A stranger's key does not sign this log's checkpoints.
    const stranger = generateSigningKey('audit.test/rampart-audit');
    expect((await verifyAuditLog(t.deps, { verifierKey: stranger.verifierKey })).problems.length).toBe(2);
    await expect(sql`delete from audit_checkpoints`.execute(t.deps.db)).rejects.toThrow(/append-only/);
  });
});

describe(`upgrading a database that holds an audit log (${testDialect})`, () => {
  it('keeps every entry, its hashes and the guards through the migrations that follow', async () => {
    const testDb = await createTestDatabase({ migrateTo: '0007-audit-archive' });
    try {
      const deps = { db: testDb.database.db, dialect: testDb.dialect, clock: systemClock, keyring: testDb.keyring };
      await appendAudit(deps, Array.from({ length: 30 }, (_, i) => auditEntry(i)));
      const before = await verifyAuditLog(deps);
      await migrateToLatest(testDb.database);
      const after = await verifyAuditLog(deps);
      expect(after.problems).toEqual([]);
      expect(after.rootHash).toBe(before.rootHash);
      await appendAudit(deps, [auditEntry(31)]);
      expect((await verifyAuditLog(deps)).problems).toEqual([]);
      await expect(sql`update audit_entries set action = 'x' where seq = 3`.execute(deps.db)).rejects.toThrow(/append-only/);
      await expect(sql`delete from audit_entries where seq = 3`.execute(deps.db)).rejects.toThrow(/append-only/);
    } finally {
      await testDb.cleanup();
    }
  });
});
