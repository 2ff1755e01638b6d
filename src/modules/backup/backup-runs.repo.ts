import type { Selectable } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { BackupRunsTable } from '../../db/schema.js';

/** SQL for backup runs and the backup lease; nothing else. */
export type BackupRunRow = Selectable<BackupRunsTable>;

export type BackupRunKind = 'scheduled' | 'manual' | 'drill';
export type BackupRunStatus = 'running' | 'ok' | 'failed';

const LEASE = 'backups';

/** Takes the lease, or renews it for its holder; answers whether `holder` holds it now. */
export async function takeBackupLease(db: Executor, holder: string, now: string, until: string): Promise<boolean> {
  const result = await db
    .updateTable('backup_lease')
    .set({ lease_holder: holder, lease_until: until, updated_at: now })
    .where('name', '=', LEASE)
    .where((eb) => eb.or([eb('lease_holder', '=', holder), eb('lease_holder', 'is', null), eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function releaseBackupLease(db: Executor, holder: string): Promise<void> {
  await db.updateTable('backup_lease').set({ lease_holder: null, lease_until: null }).where('name', '=', LEASE).where('lease_holder', '=', holder).execute();
}

/** Whether some process holds the lease now. */
export async function backupLeaseHeld(db: Executor, now: string): Promise<boolean> {
  const row = await db.selectFrom('backup_lease').select(['lease_holder', 'lease_until']).where('name', '=', LEASE).executeTakeFirst();
  return Boolean(row?.lease_holder && row.lease_until && row.lease_until >= now);
}

export async function insertBackupRun(db: Executor, row: Pick<BackupRunRow, 'id' | 'kind' | 'requested_by' | 'started_at' | 'file'>): Promise<void> {
  await db.insertInto('backup_runs').values({ ...row, status: 'running' }).execute();
}

export async function updateBackupRun(db: Executor, id: string, values: Partial<Omit<BackupRunRow, 'id' | 'kind' | 'started_at'>>): Promise<void> {
  await db.updateTable('backup_runs').set(values).where('id', '=', id).execute();
}

/** Runs left `running` by a process that died: only called by the lease holder, so none of them is still going. */
export async function failAbandonedRuns(db: Executor, now: string): Promise<number> {
  const result = await db
    .updateTable('backup_runs')
    .set({ status: 'failed', finished_at: now, error_code: 'backup.interrupted', error_message: 'The process running it stopped before it finished.' })
    .where('status', '=', 'running')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function selectBackupRun(db: Executor, id: string): Promise<BackupRunRow | undefined> {
  return db.selectFrom('backup_runs').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The newest run of these kinds (and statuses, when given). */
export async function latestBackupRun(db: Executor, kinds: readonly BackupRunKind[], statuses?: readonly BackupRunStatus[]): Promise<BackupRunRow | undefined> {
  let query = db.selectFrom('backup_runs').selectAll().where('kind', 'in', [...kinds]);
  if (statuses) query = query.where('status', 'in', [...statuses]);
  return query.orderBy('started_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
}

/**
 * The last scheduled backup that ran to an end, well or not: the schedule's reference point. A run
 * whose process died (left running, or marked interrupted) does not count, so its slot is taken again.
 */
export async function lastScheduledAttempt(db: Executor): Promise<BackupRunRow | undefined> {
  return db
    .selectFrom('backup_runs')
    .selectAll()
    .where('kind', '=', 'scheduled')
    .where('status', 'in', ['ok', 'failed'])
    .where((eb) => eb.or([eb('error_code', 'is', null), eb('error_code', '!=', 'backup.interrupted')]))
    .orderBy('started_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** Good backups whose file has not been pruned: the candidates for retention. */
export async function keptBackupRuns(db: Executor): Promise<BackupRunRow[]> {
  return db.selectFrom('backup_runs').selectAll().where('kind', 'in', ['scheduled', 'manual']).where('status', '=', 'ok').where('file', 'is not', null).where('pruned_at', 'is', null).execute();
}

/** The newest backup whose copy to the store was attempted (and whose copy went well, with `ok`). */
export async function latestOffsiteRun(db: Executor, status?: 'ok'): Promise<BackupRunRow | undefined> {
  let query = db.selectFrom('backup_runs').selectAll().where('kind', 'in', ['scheduled', 'manual']).where('status', '=', 'ok');
  query = status ? query.where('offsite_status', '=', status) : query.where('offsite_status', 'is not', null);
  return query.orderBy('started_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
}

/** Marks the store copies of these files as deleted by retention. */
export async function markOffsitePruned(db: Executor, files: readonly string[], at: string): Promise<void> {
  if (files.length === 0) return;
  await db.updateTable('backup_runs').set({ offsite_pruned_at: at }).where('file', 'in', [...files]).where('offsite_status', '=', 'ok').where('offsite_pruned_at', 'is', null).execute();
}

/** Runs, newest first, after the (started_at, id) of the previous page's last one. */
export async function selectBackupRunPage(db: Executor, limit: number, after: { startedAt: string; id: string } | null): Promise<BackupRunRow[]> {
  let query = db.selectFrom('backup_runs').selectAll();
  if (after) query = query.where((eb) => eb.or([eb('started_at', '<', after.startedAt), eb.and([eb('started_at', '=', after.startedAt), eb('id', '<', after.id)])]));
  return query.orderBy('started_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
}
