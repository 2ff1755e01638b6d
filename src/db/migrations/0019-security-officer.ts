import type { Kysely } from 'kysely';

/**
 * The Security officer role as this migration shipped it. Written out here, not imported from the
 * shipped roles: a migration does the same thing whenever it runs, and a later change to the role
 * belongs to a migration of its own.
 */
const SECURITY_OFFICER = {
  id: 'security_officer',
  name: 'Security officer',
  description: 'Watches for breaches: handles alerts and incidents, contains attacks (blocks, locks, lockdown), reads the audit log and the list of users; no customer data.',
  definition: { records: {}, permissions: ['alerts.handle', 'incidents.handle', 'audit.read', 'users.read'], mfaRequired: true },
} as const;

/**
 * The shipped Security officer role: handles alerts and incidents, reads the audit log and the
 * users, and sees no customer record. A database created before the role existed gets it here; one
 * created since has it from the access-control migration, which writes every shipped role, and is
 * left as it is. A site's own role is never touched.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const role = SECURITY_OFFICER;
  const existing = await db.selectFrom('roles').select('id').where('id', '=', role.id).executeTakeFirst();
  if (existing) return;
  const now = new Date().toISOString();
  await db
    .insertInto('roles')
    .values({ id: role.id, name: role.name, description: role.description, builtin: 1, definition: JSON.stringify(role.definition), version: 1, created_at: now, updated_at: now })
    .execute();
}
