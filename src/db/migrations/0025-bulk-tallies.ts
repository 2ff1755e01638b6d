import type { Kysely } from 'kysely';

/**
 * Records each user changed or deleted through bulk requests without approval, per UTC hour
 * (bulk_tallies): so that a batch over the approval threshold cannot be dodged by sending it as
 * many smaller ones. Rows are a user id, an hour and a count; nothing personal.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('bulk_tallies')
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('hour', 'text', (c) => c.notNull())
    .addColumn('records', 'bigint', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('bulk_tallies_pk', ['user_id', 'hour'])
    .execute();
}
