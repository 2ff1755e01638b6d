import type { Kysely } from 'kysely';

/**
 * The copy of each backup in an S3-compatible store (RAMPART_BACKUP_S3_URL): whether it was made
 * ('ok' or 'failed'; null when no store is set up, or for drills), when, the stable error code and
 * the store's or network's own code name when it failed (never an answer's text), and when
 * retention deleted the copy from the store.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('backup_runs').addColumn('offsite_status', 'text').execute();
  await db.schema.alterTable('backup_runs').addColumn('offsite_at', 'text').execute();
  await db.schema.alterTable('backup_runs').addColumn('offsite_error', 'text').execute();
  await db.schema.alterTable('backup_runs').addColumn('offsite_reason', 'text').execute();
  await db.schema.alterTable('backup_runs').addColumn('offsite_pruned_at', 'text').execute();
}
