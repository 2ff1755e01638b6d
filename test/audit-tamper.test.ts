import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkpointText, generateSigningKey, signNote } from '../src/audit/checkpoint.js';
import { entryHash } from '../src/audit/entry.js';
import { appendAudit, sealCheckpoint, storedEntry, verifyAuditLog } from '../src/data/audit-log.js';
import { createTestApp, type TestApp } from './support/app.js';
import { auditEntry } from './support/audit.js';
import { testDialect } from './support/database.js';


/**
 * What a database administrator could do to the log with plain SQL, once the triggers are out of
 * the way, and what verification says about each. Every kind of damage is named, at the entry
 * where it was done.
 */
describe(`tampering with the audit log by SQL (${testDialect})`, () => {
  let t: TestApp;
  const key = { origin: 'tamper.test/rampart-audit', ...generateSigningKey('tamper.test/rampart-audit') };
  let base = 0;

  beforeEach(async () => {
    t = await createTestApp();
    base = Number((await sql<{ seq: number | string }>`select seq from audit_head`.execute(t.deps.db)).rows[0]!.seq);
    await appendAudit(t.deps, Array.from({ length: 20 }, (_, i) => auditEntry(i + 1)));
    if (testDialect === 'sqlite') {
      for (const trigger of ['audit_entries_no_update', 'audit_entries_no_delete', 'audit_checkpoints_no_update', 'audit_checkpoints_no_delete']) await sql`drop trigger ${sql.raw(trigger)}`.execute(t.deps.db);
    } else {
      await sql`alter table audit_entries disable trigger user`.execute(t.deps.db);
      await sql`alter table audit_checkpoints disable trigger user`.execute(t.deps.db);
    }
  });
  afterEach(async () => t.close());

  /** Entry n of the 20 this test wrote. */
  const at = (n: number) => base + n;
  const first = async (options: Parameters<typeof verifyAuditLog>[1] = {}) => (await verifyAuditLog(t.deps, options)).problems[0];
  const rows = async (from: number) => (await sql<Record<string, any>>`select * from audit_entries where seq >= ${from} order by seq`.execute(t.deps.db)).rows;
  /** Recomputes the hashes of every entry from `from` on, and the head: a forger covering tracks. */
  const rehash = async (from: number) => {
    const list = await rows(from);
    let previous: Buffer = Buffer.from(list[0]!.prev_hash as string, 'hex');
    for (const row of list) {
      const hash = entryHash(previous, storedEntry(row as never));
      await sql`update audit_entries set prev_hash = ${previous.toString('hex')}, entry_hash = ${hash.toString('hex')} where seq = ${row.seq}`.execute(t.deps.db);
      previous = hash;
    }
    await sql`update audit_head set entry_hash = ${previous.toString('hex')}`.execute(t.deps.db);
  };
  const renumber = async (from: number, by: number) => {
    const list = await rows(from);
    for (const row of by > 0 ? list.reverse() : list) await sql`update audit_entries set seq = ${Number(row.seq) + by} where seq = ${row.seq}`.execute(t.deps.db);
  };

  it('finds nothing wrong with an untouched log', async () => {
    expect((await verifyAuditLog(t.deps)).problems).toEqual([]);
  });

  it('names a changed field as modified', async () => {
    await sql`update audit_entries set fields = '["email"]' where seq = ${at(5)}`.execute(t.deps.db);
    expect(await first()).toMatchObject({ kind: 'modified', seq: at(5) });
  });

  it('names a changed entry whose own hash was recomputed as modified', async () => {
    await sql`update audit_entries set action = 'record.update' where seq = ${at(5)}`.execute(t.deps.db);
    const [row] = await rows(at(5));
    await sql`update audit_entries set entry_hash = ${entryHash(Buffer.from(row!.prev_hash, 'hex'), storedEntry(row as never)).toString('hex')} where seq = ${at(5)}`.execute(t.deps.db);
    expect(await first()).toMatchObject({ kind: 'modified', seq: at(5) });
  });

  it('names a removed entry as deleted, with or without renumbering what followed', async () => {
    await sql`delete from audit_entries where seq = ${at(7)}`.execute(t.deps.db);
    expect(await first()).toMatchObject({ kind: 'deleted', seq: at(7) });
    await renumber(at(8), -1);
    await sql`update audit_head set seq = seq - 1`.execute(t.deps.db);
    const problems = (await verifyAuditLog(t.deps)).problems;
    expect(problems[0]).toMatchObject({ kind: 'deleted', seq: at(7) });
    expect(problems).toHaveLength(1);
  });

  it('names a run of deleted entries closed by renumbering, and a deletion next to a change, each for what it is', async () => {
    await sql`delete from audit_entries where seq >= ${at(4)} and seq <= ${at(9)}`.execute(t.deps.db);
    await renumber(at(10), -6);
    await sql`update audit_head set seq = seq - 6`.execute(t.deps.db);
    expect((await verifyAuditLog(t.deps)).problems).toEqual([expect.objectContaining({ kind: 'deleted', seq: at(4), detail: `entries ${at(4)} to ${at(9)} are missing` })]);
    await sql`delete from audit_entries where seq = ${at(12)}`.execute(t.deps.db);
    await sql`update audit_entries set fields = '[]' where seq = ${at(13)}`.execute(t.deps.db);
    const kinds = (await verifyAuditLog(t.deps)).problems.map((p) => p.kind);
    expect(kinds).toEqual(expect.arrayContaining(['deleted', 'modified']));
  });

  it('names an entry slipped into the middle (with the rest renumbered) or added after the head as inserted', async () => {
    await renumber(at(8), 1);
    const [before] = await rows(at(7));
    const forged = { ...storedEntry(before as never), seq: at(8), action: 'record.delete', requestId: 'forged' };
    const hash = entryHash(Buffer.from(before!.entry_hash, 'hex'), forged);
    await sql`insert into audit_entries (seq, occurred_at, actor_kind, actor_id, session_id, source_address, user_agent, channel, action, record_type, record_ids, fields, outcome, request_id, details, prev_hash, entry_hash)
      values (${at(8)}, ${forged.time}, ${forged.actorKind}, ${forged.actorId}, ${forged.sessionId}, ${forged.sourceAddress}, ${forged.userAgent}, ${forged.channel}, ${forged.action}, ${forged.recordType}, ${JSON.stringify(forged.recordIds)}, ${JSON.stringify(forged.fields)}, ${forged.outcome}, ${forged.requestId}, ${JSON.stringify(forged.details)}, ${before!.entry_hash}, ${hash.toString('hex')})`.execute(t.deps.db);
    await sql`update audit_head set seq = seq + 1`.execute(t.deps.db);
    const problems = (await verifyAuditLog(t.deps)).problems;
    expect(problems[0]).toMatchObject({ kind: 'inserted', seq: at(8) });
    expect(problems).toHaveLength(1);

    await sql`update audit_head set seq = seq - 1`.execute(t.deps.db);
    expect((await verifyAuditLog(t.deps)).problems).toContainEqual(expect.objectContaining({ kind: 'inserted', seq: at(21) }));
  });

  it('names two entries that swapped places as reordered', async () => {
    await sql`update audit_entries set seq = -1 where seq = ${at(12)}`.execute(t.deps.db);
    await sql`update audit_entries set seq = ${at(12)} where seq = ${at(13)}`.execute(t.deps.db);
    await sql`update audit_entries set seq = ${at(13)} where seq = -1`.execute(t.deps.db);
    const problems = (await verifyAuditLog(t.deps)).problems;
    expect(problems[0]).toMatchObject({ kind: 'reordered', seq: at(12) });
    expect(problems).toHaveLength(1);
  });

  it('names entries cut off the end as truncated, by the head or, when it was moved back too, by a checkpoint', async () => {
    await sealCheckpoint(t.deps, key);
    await sql`delete from audit_entries where seq > ${at(15)}`.execute(t.deps.db);
    expect(await first()).toMatchObject({ kind: 'truncated', seq: at(16) });
    await sql`update audit_head set seq = ${at(15)}, entry_hash = (select entry_hash from audit_entries where seq = ${at(15)})`.execute(t.deps.db);
    expect(await first()).toMatchObject({ kind: 'truncated', seq: null, detail: `a checkpoint was signed at size ${at(20)}, but the log holds ${at(15)} entries` });
  });

  it('names a log whose every hash was recomputed after a change as rewritten, against a checkpoint', async () => {
    const signed = await sealCheckpoint(t.deps, key);
    await sql`update audit_entries set outcome = 'denied' where seq = ${at(5)}`.execute(t.deps.db);
    await rehash(at(5));
    const problems = (await verifyAuditLog(t.deps)).problems;
    expect(problems).toEqual([expect.objectContaining({ kind: 'rewritten', seq: signed.size })]);
    // The same holds for a checkpoint kept off the server, when the stored ones are gone too.
    await sql`delete from audit_checkpoints`.execute(t.deps.db);
    expect((await verifyAuditLog(t.deps)).problems).toEqual([]);
    expect(await first({ checkpoints: [{ size: signed.size, root: signed.rootHash, note: signed.note }], verifierKey: key.verifierKey })).toMatchObject({ kind: 'rewritten' });
  });

  it('names a checkpoint signed by another key, or altered, as a bad signature', async () => {
    const signed = await sealCheckpoint(t.deps, key);
    const stranger = generateSigningKey(key.origin);
    const forged = signNote(checkpointText({ origin: key.origin, size: signed.size, rootHash: Buffer.from(signed.rootHash, 'hex'), time: signed.signedAt }), stranger.signerKey);
    await sql`update audit_checkpoints set note = ${forged}`.execute(t.deps.db);
    expect(await first({ verifierKey: key.verifierKey })).toMatchObject({ kind: 'bad_signature', seq: null });
    await sql`update audit_checkpoints set note = ${signed.note.replace(String(signed.size), String(signed.size - 1))}`.execute(t.deps.db);
    expect(await first({ verifierKey: key.verifierKey })).toMatchObject({ kind: 'bad_signature' });
  });
});
