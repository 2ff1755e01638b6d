import type { Kysely } from 'kysely';

/**
 * The trash's retention: a lease per background job (job_leases), so that among several server
 * processes one purges expired records at a time; and the shipped administrator, as it stood
 * after 0020, gains `trash.purge` (removing records in the trash for good).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('job_leases')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text')
    .addColumn('lease_until', 'text')
    .addColumn('last_run_at', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  const row = (await db.selectFrom('roles').select(['definition']).where('id', '=', ADMIN.id).where('builtin', '=', 1).executeTakeFirst()) as { definition: string } | undefined;
  if (!row) return;
  const definition = JSON.parse(row.definition) as { permissions?: string[] };
  const held = [...(definition.permissions ?? [])].sort();
  // Only a definition still holding exactly the permissions shipped before is brought up to date.
  if (JSON.stringify(held) !== JSON.stringify([...ADMIN.shippedPermissions].sort())) return;
  // Placed as the shipped roles now list it: right after teams.manage.
  const permissions = [...(definition.permissions ?? [])];
  permissions.splice(permissions.indexOf('teams.manage') + 1, 0, 'trash.purge');
  // The version stays: a shipped role's grants cannot be edited, so no edit in flight can be based on them.
  await db.updateTable('roles').set({ definition: JSON.stringify({ ...definition, permissions }), updated_at: new Date().toISOString() }).where('id', '=', ADMIN.id).execute();
}

/** The administrator's permissions as shipped before this migration (after 0020). Written out, not imported. */
const ADMIN = {
  id: 'admin',
  shippedPermissions: ['alerts.handle', 'approvals.decide', 'backups.manage', 'incidents.handle', 'keys.manage', 'pipelines.manage', 'roles.manage', 'settings.manage', 'tags.manage', 'teams.manage', 'users.manage', 'users.read'],
} as const;
