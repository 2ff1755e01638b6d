import type { Kysely } from 'kysely';

/**
 * Four-eyes approvals and governed exports: the requests a second person approves or denies
 * (approval_requests), each export as a resource with its number, reason, status and one download
 * (exports, with export_counter handing out the numbers), and what each user exported or read
 * through list pages per UTC day (export_tallies). The administrator and the security officer, as
 * shipped, may decide approvals.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('approval_requests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('requested_at', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('payload_hash', 'text', (c) => c.notNull())
    .addColumn('record_count', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('decided_by', 'text')
    .addColumn('decided_at', 'text')
    .addColumn('decision_note', 'text')
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .addColumn('used_at', 'text')
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  await db.schema.createIndex('approval_requests_status_idx').on('approval_requests').columns(['status', 'requested_at']).execute();
  await db.schema.createIndex('approval_requests_requester_idx').on('approval_requests').columns(['requested_by', 'requested_at']).execute();

  await db.schema
    .createTable('exports')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('export_no', 'integer', (c) => c.notNull().unique())
    .addColumn('requested_by', 'text')
    .addColumn('requested_by_label', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('format', 'text', (c) => c.notNull())
    .addColumn('query', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('approval_id', 'text')
    .addColumn('row_limit', 'integer', (c) => c.notNull())
    .addColumn('rows_written', 'integer')
    .addColumn('sha256', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('ready_at', 'text')
    .addColumn('download_expires_at', 'text')
    .addColumn('downloaded_at', 'text')
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  await db.schema.createIndex('exports_requester_idx').on('exports').columns(['requested_by', 'created_at']).execute();
  await db.schema.createIndex('exports_approval_idx').on('exports').columns(['approval_id']).execute();

  // One row, bumped under its row lock: export numbers stay small, unique and gap-free enough to read aloud.
  await db.schema
    .createTable('export_counter')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('last_no', 'integer', (c) => c.notNull())
    .execute();
  await db.insertInto('export_counter').values({ id: 1, last_no: 0 }).execute();

  await db.schema
    .createTable('export_tallies')
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('exported_rows', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('read_rows', 'bigint', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('export_tallies_pk', ['user_id', 'day'])
    .execute();

  const now = new Date().toISOString();
  for (const role of DECIDERS) {
    const row = (await db.selectFrom('roles').select(['definition']).where('id', '=', role.id).where('builtin', '=', 1).executeTakeFirst()) as { definition: string } | undefined;
    if (!row) continue;
    const definition = JSON.parse(row.definition) as { permissions?: string[] };
    const held = [...(definition.permissions ?? [])].sort();
    // Only a definition still holding exactly the permissions shipped before is brought up to date.
    if (JSON.stringify(held) !== JSON.stringify([...role.shippedPermissions].sort())) continue;
    // Placed as the shipped roles now list it: right after alerts.handle.
    const permissions = [...(definition.permissions ?? [])];
    permissions.splice(permissions.indexOf('alerts.handle') + 1, 0, 'approvals.decide');
    // The version stays: a shipped role's grants cannot be edited, so no edit in flight can be based on them.
    await db.updateTable('roles').set({ definition: JSON.stringify({ ...definition, permissions }), updated_at: now }).where('id', '=', role.id).execute();
  }
}

/** The roles that gain `approvals.decide`, with the permissions they were shipped with before. Written out, not imported. */
const DECIDERS = [
  { id: 'admin', shippedPermissions: ['alerts.handle', 'backups.manage', 'incidents.handle', 'keys.manage', 'pipelines.manage', 'roles.manage', 'settings.manage', 'tags.manage', 'teams.manage', 'users.manage', 'users.read'] },
  { id: 'security_officer', shippedPermissions: ['alerts.handle', 'incidents.handle', 'audit.read', 'users.read'] },
] as const;
