import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Archiving the audit log: entries old enough, and covered by a signed checkpoint, move into a
 * signed archive file. What stays behind is the hash of each archived entry (`audit_archived`, so
 * the Merkle tree, checkpoints and proofs still span the whole log) and a record of each archive
 * (`audit_archives`: up to which entry, the file's SHA-256, the checkpoint signed at its end).
 * Both are append-only. Entries can now be deleted, but only those an archive record covers.
 */
export async function up(db: Kysely<any>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('audit_archived')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('entry_hash', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('audit_archives')
    .addColumn('through_seq', 'bigint', (c) => c.primaryKey())
    .addColumn('from_seq', 'bigint', (c) => c.notNull())
    .addColumn('archived_at', 'text', (c) => c.notNull())
    .addColumn('file_sha256', 'text', (c) => c.notNull())
    .addColumn('note', 'text', (c) => c.notNull())
    .execute();

  if (dialect === 'sqlite') {
    for (const table of ['audit_archived', 'audit_archives']) {
      await sql.raw(`create trigger ${table}_no_update before update on ${table} begin select raise(abort, 'audit entries are append-only'); end`).execute(db);
      await sql.raw(`create trigger ${table}_no_delete before delete on ${table} begin select raise(abort, 'audit entries are append-only'); end`).execute(db);
    }
    await sql`drop trigger audit_entries_no_delete`.execute(db);
    await sql`create trigger audit_entries_no_delete before delete on audit_entries when old.seq > coalesce((select max(through_seq) from audit_archives), 0) begin select raise(abort, 'audit entries are append-only'); end`.execute(db);
  } else {
    for (const table of ['audit_archived', 'audit_archives']) {
      await sql.raw(`create trigger ${table}_no_change before update or delete on ${table} for each row execute function rampart_audit_append_only()`).execute(db);
      await sql.raw(`create trigger ${table}_no_truncate before truncate on ${table} for each statement execute function rampart_audit_append_only()`).execute(db);
    }
    await sql`create or replace function rampart_audit_entries_guard() returns trigger language plpgsql as $$
      begin
        if tg_op = 'DELETE' and old.seq <= coalesce((select max(through_seq) from audit_archives), 0) then return old; end if;
        raise exception 'audit entries are append-only';
      end $$`.execute(db);
    await sql`drop trigger audit_entries_no_change on audit_entries`.execute(db);
    await sql`create trigger audit_entries_no_change before update or delete on audit_entries for each row execute function rampart_audit_entries_guard()`.execute(db);
  }
}
