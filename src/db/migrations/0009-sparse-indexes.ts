import { sql, type Kysely } from 'kysely';

/**
 * Indexes over columns that most rows leave empty (a contact's mobile or ID number, a deal's
 * company) no longer hold the empty rows. Every lookup through them asks for a value, which
 * implies the column is not null, so both databases still use them; a write that leaves the
 * column empty no longer touches them, and at a million contacts each is a fraction of its size.
 */
const SPARSE: { table: string; index: string; columns: string[] }[] = [
  { table: 'contacts', index: 'contacts_email_bidx_idx', columns: ['email_bidx'] },
  { table: 'contacts', index: 'contacts_phone_bidx_idx', columns: ['phone_bidx'] },
  { table: 'contacts', index: 'contacts_mobile_bidx_idx', columns: ['mobile_bidx'] },
  { table: 'contacts', index: 'contacts_id_number_bidx_idx', columns: ['id_number_bidx'] },
  { table: 'leads', index: 'leads_email_bidx_idx', columns: ['email_bidx'] },
  { table: 'leads', index: 'leads_phone_bidx_idx', columns: ['phone_bidx'] },
  { table: 'contacts', index: 'contacts_company_id_created_at_id_idx', columns: ['company_id', 'created_at', 'id'] },
  { table: 'deals', index: 'deals_company_id_created_at_id_idx', columns: ['company_id', 'created_at', 'id'] },
  { table: 'tickets', index: 'tickets_contact_id_created_at_id_idx', columns: ['contact_id', 'created_at', 'id'] },
  { table: 'tickets', index: 'tickets_company_id_created_at_id_idx', columns: ['company_id', 'created_at', 'id'] },
];

/** Audit entries written by the CLI or a system job have no session and no address. */
const SPARSE_AUDIT: { index: string; columns: string[] }[] = [
  { index: 'audit_entries_session_idx', columns: ['session_id', 'occurred_at'] },
  { index: 'audit_entries_address_idx', columns: ['source_address', 'occurred_at'] },
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const { table, index, columns } of SPARSE) {
    await db.schema.dropIndex(index).execute();
    await db.schema
      .createIndex(index)
      .on(table)
      .columns(columns)
      .where(sql<boolean>`deleted_at is null and ${sql.ref(columns[0]!)} is not null`)
      .execute();
  }
  for (const { index, columns } of SPARSE_AUDIT) {
    await db.schema.dropIndex(index).execute();
    await db.schema.createIndex(index).on('audit_entries').columns(columns).where(sql.ref(columns[0]!), 'is not', null).execute();
  }
}
