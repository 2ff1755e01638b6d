import type { Kysely } from 'kysely';
import type { Executor } from '../../db/database.js';

/**
 * The trash module's SQL: background jobs' leases (job_leases), one row per job naming the process
 * that may run it until when, so that among several server processes on one database one runs it
 * at a time; and the names of the users who deleted records.
 */
function anyDb(db: Executor): Kysely<any> {
  return db as unknown as Kysely<any>;
}

/** Takes or renews the lease on `job` when nobody else holds a live one; answers whether `holder` has it. */
export async function takeJobLease(db: Executor, job: string, holder: string, now: string, until: string): Promise<boolean> {
  await anyDb(db).insertInto('job_leases').values({ name: job, holder: null, lease_until: null, last_run_at: null, updated_at: now }).onConflict((oc: any) => oc.column('name').doNothing()).execute();
  const result = await anyDb(db)
    .updateTable('job_leases')
    .set({ holder, lease_until: until, updated_at: now })
    .where('name', '=', job)
    .where((eb: any) => eb.or([eb('holder', '=', holder), eb('holder', 'is', null), eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Notes that `holder` finished a run of `job`, only while it still holds the lease. */
export async function noteJobRun(db: Executor, job: string, holder: string, at: string): Promise<void> {
  await anyDb(db).updateTable('job_leases').set({ last_run_at: at, updated_at: at }).where('name', '=', job).where('holder', '=', holder).execute();
}

/** Gives the lease up, so another process may take it at once. */
export async function releaseJobLease(db: Executor, job: string, holder: string): Promise<void> {
  await anyDb(db).updateTable('job_leases').set({ holder: null, lease_until: null }).where('name', '=', job).where('holder', '=', holder).execute();
}

/** When `job` last finished a run, by whichever process, or null. */
export async function lastJobRun(db: Executor, job: string): Promise<string | null> {
  const row = (await anyDb(db).selectFrom('job_leases').select('last_run_at').where('name', '=', job).executeTakeFirst()) as { last_run_at: string | null } | undefined;
  return row?.last_run_at ?? null;
}

/**
 * The display names of users, by id: who deleted what, shown beside the trash. Names only, so a
 * caller who may read the trash learns who emptied it without being allowed to read the users.
 */
export async function userNames(db: Executor, ids: readonly string[]): Promise<Map<string, string>> {
  const unique = [...new Set(ids)];
  const names = new Map<string, string>();
  for (let at = 0; at < unique.length; at += 500) {
    const rows = (await anyDb(db).selectFrom('users').select(['id', 'name']).where('id', 'in', unique.slice(at, at + 500)).execute()) as { id: string; name: string }[];
    for (const row of rows) names.set(row.id, row.name);
  }
  return names;
}
