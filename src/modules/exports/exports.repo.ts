import type { Executor } from '../../db/database.js';
import type { ApprovalStatus, ExportsTable } from '../../db/schema.js';

/** All SQL on exports. */

export type { ExportsTable, StoredExportStatus } from '../../db/schema.js';

/** An export with its approval's stored status and expiry, when it has one. */
export type ExportRow = ExportsTable & { approval_status: ApprovalStatus | null; approval_expires_at: string | null };

/** The next export number; the counter row's lock keeps concurrent requests from sharing one. */
export async function nextExportNo(db: Executor): Promise<number> {
  const row = await db
    .updateTable('export_counter')
    .set((eb) => ({ last_no: eb('last_no', '+', 1) }))
    .where('id', '=', 1)
    .returning('last_no')
    .executeTakeFirstOrThrow();
  return Number(row.last_no);
}

export async function insertExport(db: Executor, row: ExportsTable): Promise<void> {
  await db.insertInto('exports').values(row).execute();
}

function selectWithApproval(db: Executor) {
  return db
    .selectFrom('exports')
    .leftJoin('approval_requests', 'approval_requests.id', 'exports.approval_id')
    .selectAll('exports')
    .select(['approval_requests.status as approval_status', 'approval_requests.expires_at as approval_expires_at']);
}

export async function selectExport(db: Executor, id: string): Promise<ExportRow | undefined> {
  return (await selectWithApproval(db).where('exports.id', '=', id).executeTakeFirst()) as ExportRow | undefined;
}

/** Exports newest first: one requester's, or everyone's when `requestedBy` is undefined. */
export async function selectExports(db: Executor, filter: { requestedBy?: string | null; before?: string }, limit: number): Promise<ExportRow[]> {
  let qb = selectWithApproval(db);
  if (filter.requestedBy !== undefined) qb = filter.requestedBy === null ? qb.where('exports.requested_by', 'is', null) : qb.where('exports.requested_by', '=', filter.requestedBy);
  if (filter.before) qb = qb.where('exports.id', '<', filter.before);
  return (await qb.orderBy('exports.id', 'desc').limit(limit).execute()) as ExportRow[];
}

/**
 * Claims the one download: sets downloaded_at where it is still empty. Answers whether this call
 * got it, so two downloads at once cannot both start.
 */
export async function claimDownloadRow(db: Executor, id: string, version: number, at: string): Promise<boolean> {
  const result = await db
    .updateTable('exports')
    .set({ downloaded_at: at, status: 'downloaded', version: version + 1 })
    .where('id', '=', id)
    .where('version', '=', version)
    .where('downloaded_at', 'is', null)
    .where('status', 'in', ['ready', 'pending_approval'])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Marks an export cancelled if it is still at `version` and not downloaded. */
export async function cancelExportRow(db: Executor, id: string, version: number): Promise<boolean> {
  const result = await db
    .updateTable('exports')
    .set({ status: 'cancelled', version: version + 1 })
    .where('id', '=', id)
    .where('version', '=', version)
    .where('downloaded_at', 'is', null)
    .where('status', 'in', ['ready', 'pending_approval'])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** What the download wrote: the row count and the file's SHA-256. */
export async function recordWrittenRow(db: Executor, id: string, rows: number, sha256: string): Promise<void> {
  await db.updateTable('exports').set({ rows_written: rows, sha256 }).where('id', '=', id).execute();
}

/** A user's email, for the label an export keeps of who asked for it. */
export async function userEmail(db: Executor, id: string): Promise<string | undefined> {
  return (await db.selectFrom('users').select('email').where('id', '=', id).executeTakeFirst())?.email;
}
