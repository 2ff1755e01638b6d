import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalEntry } from '../src/audit/entry.js';
import { leafHash, rootHash } from '../src/audit/merkle.js';
import { appendAudit, sealCheckpoint, verifyAuditLog, type NewAuditEntry } from '../src/data/audit-log.js';
import { generateSigningKey, openNote, parseCheckpoint } from '../src/audit/checkpoint.js';
import { entryHash, type AuditEntry } from '../src/audit/entry.js';
import { inTransaction } from '../src/data/record-store.js';
import { createTestApp, type TestApp } from './support/app.js';
import { testDialect } from './support/database.js';

const entry = (i: number, extra: Partial<NewAuditEntry> = {}): NewAuditEntry => ({
  actorKind: 'user',
  actorId: `user-${i % 3}`,
  sessionId: null,
  sourceAddress: '192.0.2.1',
  userAgent: 'test',
  channel: 'api',
  action: 'record.read',
  recordType: 'contacts',
  recordIds: [`rec-${i}`],
  fields: ['email', 'lastName'],
  outcome: 'success',
  requestId: `req-${i}`,
  details: { z: i, a: 'first' },
  ...extra,
});

describe(`the audit chain (${testDialect})`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => t.close());

  it('chains entries from the genesis hash, and its tree head matches the Merkle tree of the entry hashes', async () => {
    await appendAudit(t.deps, [entry(1)]);
    await appendAudit(t.deps, Array.from({ length: 24 }, (_, i) => entry(i + 2)));
    const rows = (await sql<{ seq: number | string; entry_hash: string; prev_hash: string }>`select seq, entry_hash, prev_hash from audit_entries order by seq`.execute(t.deps.db)).rows;
    expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    const first = createHash('sha256').update(Buffer.alloc(32)).update(canonicalEntry({ ...entry(1), seq: 1, time: (await sql<{ occurred_at: string }>`select occurred_at from audit_entries where seq = 1`.execute(t.deps.db)).rows[0]!.occurred_at })).digest('hex');
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
        await appendAudit(tx, [entry(100)]);
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    const after = await verifyAuditLog(t.deps);
    expect(after.entries).toBe(before.entries);
    expect(after.rootHash).toBe(before.rootHash);
  });

  it('makes one gapless chain of appends that race each other', async () => {
    const before = (await verifyAuditLog(t.deps)).entries;
    await Promise.all(Array.from({ length: 12 }, (_, i) => appendAudit(t.deps, [entry(200 + i), entry(300 + i)])));
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
    await appendAudit(t.deps, [entry(500), entry(501)]);
    const second = await sealCheckpoint(t.deps, key);
    expect(second.size).toBe(first.size + 2);
    expect((await verifyAuditLog(t.deps, { verifierKey: key.verifierKey })).problems).toEqual([]);
    // A stranger's key does not sign this log's checkpoints.
    const stranger = generateSigningKey('audit.test/rampart-audit');
    expect((await verifyAuditLog(t.deps, { verifierKey: stranger.verifierKey })).problems.length).toBe(2);
    await expect(sql`delete from audit_checkpoints`.execute(t.deps.db)).rejects.toThrow(/append-only/);
  });

  it('finds a changed, a removed and a cut-off entry once the triggers are out of the way', async () => {
    // What a database administrator could do: the hashes still tell.
    if (testDialect === 'sqlite') {
      await sql`drop trigger audit_entries_no_update`.execute(t.deps.db);
      await sql`drop trigger audit_entries_no_delete`.execute(t.deps.db);
    } else {
      await sql`alter table audit_entries disable trigger user`.execute(t.deps.db);
    }
    await sql`update audit_entries set fields = '["email"]' where seq = 5`.execute(t.deps.db);
    await sql`delete from audit_entries where seq = 9`.execute(t.deps.db);
    const verified = await verifyAuditLog(t.deps);
    expect(verified.problems).toContainEqual({ seq: 5, problem: 'was changed after it was written' });
    expect(verified.problems).toContainEqual({ seq: 9, problem: 'entries 9 to 9 are missing' });

    // A careful forger rewrites entry 5 and recomputes every hash after it and the head: the chain
    // holds again, but not the signed tree heads.
    const rows = (await sql<Record<string, string>>`select * from audit_entries where seq >= 5 order by seq`.execute(t.deps.db)).rows;
    let previous: Buffer = Buffer.from(rows[0]!.prev_hash!, 'hex');
    for (const row of rows) {
      const e: AuditEntry = {
        seq: Number(row.seq), time: row.occurred_at!, actorKind: row.actor_kind as AuditEntry['actorKind'], actorId: row.actor_id ?? null, sessionId: row.session_id ?? null,
        sourceAddress: row.source_address ?? null, userAgent: row.user_agent ?? null, channel: row.channel as AuditEntry['channel'], action: row.action!, recordType: row.record_type ?? null,
        recordIds: JSON.parse(row.record_ids!), fields: JSON.parse(row.fields!), outcome: row.outcome as AuditEntry['outcome'], requestId: row.request_id ?? null, details: JSON.parse(row.details!),
      };
      const hash = entryHash(previous, e);
      await sql`update audit_entries set prev_hash = ${previous.toString('hex')}, entry_hash = ${hash.toString('hex')} where seq = ${e.seq}`.execute(t.deps.db);
      previous = hash;
    }
    const chained = (await verifyAuditLog(t.deps)).problems;
    expect(chained.some((p) => p.problem === 'was changed after it was written')).toBe(false);
    expect(chained.some((p) => /no longer gives the tree head signed/.test(p.problem))).toBe(true);

    const last = Number((await sql<{ seq: number | string }>`select max(seq) as seq from audit_entries`.execute(t.deps.db)).rows[0]!.seq);
    await sql`delete from audit_entries where seq = ${last}`.execute(t.deps.db);
    expect((await verifyAuditLog(t.deps)).problems.some((p) => p.seq === null && /head says/.test(p.problem))).toBe(true);
  });
});
