import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * The audit log: entries in a hash chain (see src/audit/entry.ts) and the head of the chain, one
 * row that every append locks, so that appends from any number of server processes form one
 * chain. Triggers refuse to change or remove an entry on both databases; whoever can drop a
 * trigger is caught by verification against the hashes instead.
 */
export async function up(db: Kysely<any>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('audit_entries')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('occurred_at', 'text', (c) => c.notNull())
    .addColumn('actor_kind', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text')
    .addColumn('session_id', 'text')
    .addColumn('source_address', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('record_type', 'text')
    .addColumn('record_ids', 'text', (c) => c.notNull())
    .addColumn('fields', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('request_id', 'text')
    .addColumn('details', 'text', (c) => c.notNull())
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('entry_hash', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_entries_time_idx').on('audit_entries').columns(['occurred_at']).execute();
  await db.schema.createIndex('audit_entries_actor_idx').on('audit_entries').columns(['actor_id', 'occurred_at']).execute();

  await db.schema
    .createTable('audit_head')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull())
    .addColumn('entry_hash', 'text', (c) => c.notNull())
    .execute();
  await db.insertInto('audit_head').values({ id: 1, seq: 0, entry_hash: '0'.repeat(64) }).execute();

  // Signed tree heads, as also sent off the server; verification checks the log against each.
  await db.schema
    .createTable('audit_checkpoints')
    .addColumn('tree_size', 'bigint', (c) => c.primaryKey())
    .addColumn('root_hash', 'text', (c) => c.notNull())
    .addColumn('signed_at', 'text', (c) => c.notNull())
    .addColumn('note', 'text', (c) => c.notNull())
    .execute();

  if (dialect === 'sqlite') {
    await sql`create trigger audit_entries_no_update before update on audit_entries begin select raise(abort, 'audit entries are append-only'); end`.execute(db);
    await sql`create trigger audit_entries_no_delete before delete on audit_entries begin select raise(abort, 'audit entries are append-only'); end`.execute(db);
    await sql`create trigger audit_checkpoints_no_update before update on audit_checkpoints begin select raise(abort, 'audit entries are append-only'); end`.execute(db);
    await sql`create trigger audit_checkpoints_no_delete before delete on audit_checkpoints begin select raise(abort, 'audit entries are append-only'); end`.execute(db);
  } else {
    await sql`create or replace function rampart_audit_append_only() returns trigger language plpgsql as $$ begin raise exception 'audit entries are append-only'; end $$`.execute(db);
    await sql`create trigger audit_entries_no_change before update or delete on audit_entries for each row execute function rampart_audit_append_only()`.execute(db);
    await sql`create trigger audit_entries_no_truncate before truncate on audit_entries for each statement execute function rampart_audit_append_only()`.execute(db);
    await sql`create trigger audit_checkpoints_no_change before update or delete on audit_checkpoints for each row execute function rampart_audit_append_only()`.execute(db);
  }
}
