import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * On SQLite, the audit log's sequence number becomes the table's own row id (INTEGER PRIMARY KEY)
 * instead of a column with an index beside the row id: one B-tree fewer for every append to
 * write. The table is rebuilt with the same rows, indexes and triggers. PostgreSQL is unchanged.
 */
export async function up(db: Kysely<any>, dialect: Dialect): Promise<void> {
  if (dialect !== 'sqlite') return;
  await sql`create table audit_entries_rebuilt (
    seq integer primary key,
    occurred_at text not null,
    actor_kind text not null,
    actor_id text,
    session_id text,
    source_address text,
    user_agent text,
    channel text not null,
    action text not null,
    record_type text,
    record_ids text not null,
    fields text not null,
    outcome text not null,
    request_id text,
    details text not null,
    prev_hash text not null,
    entry_hash text not null
  )`.execute(db);
  await sql`insert into audit_entries_rebuilt select seq, occurred_at, actor_kind, actor_id, session_id, source_address, user_agent, channel, action, record_type, record_ids, fields, outcome, request_id, details, prev_hash, entry_hash from audit_entries order by seq`.execute(db);
  await sql`drop table audit_entries`.execute(db);
  await sql`alter table audit_entries_rebuilt rename to audit_entries`.execute(db);
  await db.schema.createIndex('audit_entries_time_idx').on('audit_entries').columns(['occurred_at']).execute();
  await db.schema.createIndex('audit_entries_actor_idx').on('audit_entries').columns(['actor_id', 'occurred_at']).execute();
  await db.schema.createIndex('audit_entries_session_idx').on('audit_entries').columns(['session_id', 'occurred_at']).execute();
  await db.schema.createIndex('audit_entries_address_idx').on('audit_entries').columns(['source_address', 'occurred_at']).execute();
  await sql`create trigger audit_entries_no_update before update on audit_entries begin select raise(abort, 'audit entries are append-only'); end`.execute(db);
  await sql`create trigger audit_entries_no_delete before delete on audit_entries when old.seq > coalesce((select max(through_seq) from audit_archives), 0) begin select raise(abort, 'audit entries are append-only'); end`.execute(db);
}
