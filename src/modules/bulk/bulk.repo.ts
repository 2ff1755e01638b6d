import { sql, type Kysely } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { BulkRequestsTable, DatabaseSchema } from '../../db/schema.js';

/** All SQL on stored mass changes (bulk_requests): the batch behind each bulk approval request. */

function bulkDb(db: Executor): Kysely<DatabaseSchema> {
  return db as unknown as Kysely<DatabaseSchema>;
}

export async function insertBulkRequest(db: Executor, row: BulkRequestsTable): Promise<void> {
  await bulkDb(db).insertInto('bulk_requests').values(row).execute();
}

export async function selectBulkRequest(db: Executor, approvalId: string): Promise<BulkRequestsTable | undefined> {
  return bulkDb(db).selectFrom('bulk_requests').selectAll().where('approval_id', '=', approvalId).executeTakeFirst();
}

/** A requester's stored batches, newest first (approval ids are time-ordered), without their ids or changes. */
export async function selectOwnBulkRequests(db: Executor, requestedBy: string, page: { before?: string; limit: number }): Promise<Omit<BulkRequestsTable, 'ids' | 'changes'>[]> {
  let qb = bulkDb(db).selectFrom('bulk_requests').select(['approval_id', 'requested_by', 'kind', 'type', 'fields', 'record_count', 'created_at']).where('requested_by', '=', requestedBy);
  if (page.before !== undefined) qb = qb.where('approval_id', '<', page.before);
  return qb.orderBy('approval_id', 'desc').limit(page.limit).execute();
}

/** Approval ids of stored batches after `after`, in order: for sweeping out those whose approval closed. */
export async function selectBulkRequestIds(db: Executor, after: string, limit: number): Promise<string[]> {
  const rows = await bulkDb(db).selectFrom('bulk_requests').select('approval_id').where('approval_id', '>', after).orderBy('approval_id').limit(limit).execute();
  return rows.map((r) => r.approval_id);
}

export async function deleteBulkRequests(db: Executor, approvalIds: readonly string[]): Promise<number> {
  if (approvalIds.length === 0) return 0;
  const result = await bulkDb(db).deleteFrom('bulk_requests').where('approval_id', 'in', [...approvalIds]).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * Adds a batch's records to the user's tally for `hour` and answers the new total of that hour and
 * `previousHour`. The upsert holds the hour's row until the transaction ends, so concurrent
 * batches of one user are counted one after another and cannot both slip under the threshold.
 */
export async function addToBulkTally(db: Executor, userId: string, hour: string, previousHour: string, records: number): Promise<number> {
  const added = await bulkDb(db)
    .insertInto('bulk_tallies')
    .values({ user_id: userId, hour, records })
    .onConflict((oc) => oc.columns(['user_id', 'hour']).doUpdateSet({ records: sql<number>`bulk_tallies.records + ${records}` }))
    .returning('records')
    .executeTakeFirstOrThrow();
  const previous = await bulkDb(db).selectFrom('bulk_tallies').select('records').where('user_id', '=', userId).where('hour', '=', previousHour).executeTakeFirst();
  return Number(added.records) + Number(previous?.records ?? 0);
}

/** Drops the hourly tallies older than `beforeHour` (an hour as `hourOf` writes it): only the last two hours count. */
export async function pruneBulkTallies(db: Executor, beforeHour: string): Promise<number> {
  const result = await bulkDb(db).deleteFrom('bulk_tallies').where('hour', '<', beforeHour).executeTakeFirst();
  return Number(result.numDeletedRows);
}
