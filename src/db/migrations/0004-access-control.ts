import type { Kysely } from 'kysely';
import { SHIPPED_ROLES } from '../../policy/shipped-roles.js';

/**
 * Access control: each role's grants as a JSON definition (see src/policy/model.ts), a version on
 * each role so concurrent edits do not overwrite one another, the record of reveals of masked
 * values (who, what, why, when), and security events such as requests refused by network rules.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('roles').addColumn('definition', 'text', (c) => c.notNull().defaultTo('{"records":{},"permissions":[]}')).execute();
  await db.schema.alterTable('roles').addColumn('version', 'integer', (c) => c.notNull().defaultTo(1)).execute();
  await db.schema.alterTable('roles').addColumn('updated_at', 'text').execute();
  const now = new Date().toISOString();
  for (const role of SHIPPED_ROLES) {
    const definition = JSON.stringify(role.definition);
    const updated = await db.updateTable('roles').set({ name: role.name, description: role.description, definition, builtin: 1, updated_at: now }).where('id', '=', role.id).executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) {
      await db.insertInto('roles').values({ id: role.id, name: role.name, description: role.description, builtin: 1, definition, created_at: now, updated_at: now }).execute();
    }
  }

  await db.schema
    .createTable('reveals')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('occurred_at', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text')
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('record_type', 'text', (c) => c.notNull())
    .addColumn('record_id', 'text', (c) => c.notNull())
    .addColumn('fields', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('request_id', 'text')
    .addColumn('source_address', 'text')
    .execute();
  await db.schema.createIndex('reveals_record_idx').on('reveals').columns(['record_type', 'record_id']).execute();
  await db.schema.createIndex('reveals_user_idx').on('reveals').columns(['user_id', 'occurred_at']).execute();

  // Refusals the policy makes on its own account (a request from outside the allowed networks),
  // kept until the audit log records them.
  await db.schema
    .createTable('security_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('occurred_at', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text')
    .addColumn('source_address', 'text')
    .addColumn('detail', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('security_events_time_idx').on('security_events').columns(['occurred_at']).execute();
}
