import type { Kysely } from 'kysely';

/**
 * Backup runs: every scheduled or manual backup into the backup folder and every restore drill,
 * with what it found (counts and hashes, never content), so administrators can see that backups
 * are fresh and restorable. And the lease that lets one process at a time take a backup or run a
 * drill among the processes that share the database.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('backup_runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('requested_by', 'text')
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .addColumn('file', 'text')
    .addColumn('bytes', 'bigint')
    .addColumn('backup_id', 'text')
    .addColumn('table_count', 'integer')
    .addColumn('row_count', 'bigint')
    .addColumn('content_sha256', 'text')
    .addColumn('verified_at', 'text')
    .addColumn('drill_matched', 'integer')
    .addColumn('drill_differs', 'text')
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .addColumn('tier', 'text')
    .addColumn('pruned_at', 'text')
    .execute();
  await db.schema.createIndex('backup_runs_started_idx').on('backup_runs').columns(['started_at', 'id']).execute();
  await db.schema.createIndex('backup_runs_kind_idx').on('backup_runs').columns(['kind', 'status', 'started_at']).execute();

  await db.schema
    .createTable('backup_lease')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('lease_holder', 'text')
    .addColumn('lease_until', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.insertInto('backup_lease').values({ name: 'backups', lease_holder: null, lease_until: null, updated_at: new Date(0).toISOString() }).execute();
}
