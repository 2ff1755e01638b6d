import type { Kysely } from 'kysely';
import { SHIPPED_ROLES } from '../../policy/shipped-roles.js';

/**
 * Second factors. A TOTP factor keeps its secret wrapped by the KEK (the server must read it back
 * to check codes) and the time step of the last code it accepted, so no code works twice. Recovery
 * codes are kept only as hashes. A session starts at the stage its sign-in reached: `mfa` until
 * the second factor is checked, `enrol` until a user whose role requires MFA has set one up, then
 * `active`; `mfa_at` is when its holder last proved a second factor (step-up). The shipped roles
 * that require a second factor start requiring it, and every session ends.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('mfa_factors')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('label', 'text', (c) => c.notNull())
    .addColumn('kek_id', 'text')
    .addColumn('secret_wrapped', 'text')
    .addColumn('last_step', 'bigint')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('confirmed_at', 'text')
    .addColumn('last_used_at', 'text')
    .execute();
  await db.schema.createIndex('mfa_factors_user_idx').on('mfa_factors').column('user_id').execute();
  await db.schema.createIndex('mfa_factors_kek_idx').on('mfa_factors').column('kek_id').execute();

  await db.schema
    .createTable('recovery_codes')
    .addColumn('code_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .execute();
  await db.schema.createIndex('recovery_codes_user_idx').on('recovery_codes').column('user_id').execute();

  await db.schema.alterTable('sessions').addColumn('stage', 'text', (c) => c.notNull().defaultTo('active')).execute();
  await db.schema.alterTable('sessions').addColumn('mfa_at', 'text').execute();
  await db.schema.alterTable('sessions').addColumn('mfa_attempts', 'integer', (c) => c.notNull().defaultTo(0)).execute();

  const now = new Date().toISOString();
  for (const role of SHIPPED_ROLES.filter((r) => r.definition.mfaRequired)) {
    const row = (await db.selectFrom('roles').select(['definition', 'version']).where('id', '=', role.id).where('builtin', '=', 1).executeTakeFirst()) as { definition: string; version: number } | undefined;
    if (row) {
      await db
        .updateTable('roles')
        .set({ definition: JSON.stringify({ ...JSON.parse(row.definition), mfaRequired: true }), version: Number(row.version) + 1, updated_at: now })
        .where('id', '=', role.id)
        .execute();
    }
  }
  // Everyone signs in again, so that those whose roles now require a second factor set one up.
  await db.updateTable('sessions').set({ revoked_at: now }).where('revoked_at', 'is', null).execute();
}
