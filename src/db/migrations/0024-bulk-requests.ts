import type { Kysely } from 'kysely';

/**
 * Mass changes waiting for approval (bulk_requests): the batch a requester asked for, kept under
 * its approval request's id so that, once approved, it can be run from the approval alone. The
 * changes of an update are sealed (they may hold personal values); the ids and field keys are not
 * personal. A row goes once its approval is used, denied, cancelled or lapsed.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('bulk_requests')
    .addColumn('approval_id', 'text', (c) => c.primaryKey())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('ids', 'text', (c) => c.notNull())
    .addColumn('fields', 'text', (c) => c.notNull())
    .addColumn('changes', 'text')
    .addColumn('record_count', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('bulk_requests_requester_idx').on('bulk_requests').columns(['requested_by', 'approval_id']).execute();
}
