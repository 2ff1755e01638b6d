import type { Kysely } from 'kysely';

/**
 * What a session keeps to be controlled: the browser family it started in (a cookie that turns
 * up in another family ends the session), and its idle limit, the strictest of its user's roles'
 * at sign-in.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sessions').addColumn('browser', 'text').execute();
  await db.schema.alterTable('sessions').addColumn('idle_minutes', 'integer').execute();
}
