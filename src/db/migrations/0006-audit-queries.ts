import type { Kysely } from 'kysely';

/**
 * Indexes for the audit log's questions: what did this session, or this address, do and when.
 * Refusals are audit entries from now on; `security_events` keeps the rows written before, as the
 * evidence they are, and takes no more.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('audit_entries_session_idx').on('audit_entries').columns(['session_id', 'occurred_at']).execute();
  await db.schema.createIndex('audit_entries_address_idx').on('audit_entries').columns(['source_address', 'occurred_at']).execute();
}
