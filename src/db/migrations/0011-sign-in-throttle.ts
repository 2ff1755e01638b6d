import type { Kysely } from 'kysely';

/**
 * Failed sign-ins, kept in the database so that every server process counts the same failures:
 * per account (by a hash of the email typed, so an unknown address is treated exactly like a
 * known one and no typed address is stored), and per source address. An account that reaches a
 * hundred failures in a row is locked until an administrator unlocks it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('sign_in_failures')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('account_key', 'text', (c) => c.notNull())
    .addColumn('source_address', 'text')
    .addColumn('occurred_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sign_in_failures_account_idx').on('sign_in_failures').columns(['account_key', 'occurred_at']).execute();
  await db.schema.createIndex('sign_in_failures_address_idx').on('sign_in_failures').columns(['source_address', 'occurred_at']).execute();
  await db.schema
    .createTable('sign_in_locks')
    .addColumn('account_key', 'text', (c) => c.primaryKey())
    .addColumn('locked_at', 'text', (c) => c.notNull())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .execute();
}
