import type { Kysely } from 'kysely';

/**
 * Where each API token has been used from: the last address beside the last use, and every
 * address it has been seen at, so its first use from a new one stands out in the audit log.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('api_tokens').addColumn('last_used_address', 'text').execute();
  await db.schema
    .createTable('token_addresses')
    .addColumn('token_id', 'text', (c) => c.notNull().references('api_tokens.id').onDelete('cascade'))
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('first_seen_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('token_addresses_pk', ['token_id', 'address'])
    .execute();
}
