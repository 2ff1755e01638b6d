import { IntegrityError } from '../../crypto/aead.js';
import { RECORD_TYPES, type RecordType } from '../../data/field-registry.js';
import { answeringCountOnly, bulkVersions, checkChanges, deleteRecords, inTransaction, type DataDeps, type RecordInput } from '../../data/record-store.js';
import { recordAudit } from '../../data/audit-trail.js';
import { decodeCursor, encodeCursor } from '../../data/cursor.js';
import { openValue, sealValue, sealedVersion, type ValuePlace } from '../../data/field-crypto.js';
import { IntegrityFailure, ORGANISATION, organisationKeys, recordIntegrityEvent } from '../../data/keys.js';
import { AppError, type FieldProblem } from '../../shared/errors.js';
import { isId } from '../../shared/ids.js';
import type { ActorContext } from '../../shared/principal.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { approvalsByIds, consumeApproval, payloadHash, requestApproval, requesterId, type ApprovalKind, type ApprovalStatus, type ApprovalView } from '../approvals/approvals.service.js';
import { recordServices } from '../record-services.js';
import { addToBulkTally, deleteBulkRequests, insertBulkRequest, pruneBulkTallies, selectBulkRequest, selectBulkRequestIds, selectOwnBulkRequests } from './bulk.repo.js';

/**
 * Mass changes: moving many records to the trash, or setting the same fields on many records, in
 * one transaction through the record store (policy, sealing and audit apply to each record as for
 * one). All or nothing: the first record that is missing, out of reach or refused stops the batch
 * and nothing is written. More records than `RAMPART_BULK_APPROVAL_RECORDS` at once need a second
 * person's approval, and so do more than that within an hour without approval, counted per user
 * over the current and the previous UTC hour (bulk_tallies), so that a large batch cannot be sent
 * as many small ones: the first call, with a reason, asks for it (answering the request) and the
 * batch is kept under the approval's id; once approved, the requester runs it from the approval
 * alone (`runApprovedChange`), or sends the same call again with the approval's id. Either way the
 * work uses the approval up in its own transaction.
 */

/** The most records one bulk request names. */
export const MAX_BULK_IDS = 10_000;
/** The most stored mass changes one page lists. */
export const MAX_BULK_PAGE = 200;
const CURSOR_KEY = 'bulk-changes';

export interface BulkRequest {
  ids: readonly string[];
  /** An approved request for exactly this batch, when it needs one. */
  approvalId?: string | undefined;
  /** Why, for the approvers; needed when the batch goes for approval. Never audited. */
  reason?: string | undefined;
}

export interface BulkUpdateRequest extends BulkRequest {
  /** Field values to set on every record, as in an update (custom fields under `customFields`). */
  changes: RecordInput;
}

/** Either the work was done, or it waits for the approval asked for. */
export type BulkOutcome<K extends 'deleted' | 'updated'> = { [key in K]: number } | { approval: ApprovalView };

/** Moves the records to the trash, each audited `record.delete`, plus one `record.bulk_delete` entry. */
export async function bulkDelete(deps: AuthDeps, ctx: ActorContext, type: RecordType, request: BulkRequest): Promise<BulkOutcome<'deleted'>> {
  const ids = checkIds(request.ids);
  let withinHour = false;
  if (!needsApproval(deps, ids, request)) {
    try {
      return { deleted: await runDelete(deps, ctx, type, ids, request.approvalId) };
    } catch (error) {
      if (!(error instanceof OverHourlyAllowance)) throw error;
      withinHour = true;
    }
  }
  // A batch that could not run is refused now, not after someone approved it.
  await bulkVersions(deps, ctx, type, ids, 'delete');
  const reason = requireReason(deps, request.reason, withinHour);
  return { approval: await askApproval(deps, ctx, { kind: 'bulk_delete', type, ids, changes: null, reason }) };
}

/**
 * Sets the same changes on every record through the record type's own service, as an update of
 * each would (a deal moved to a won stage closes; a ticket solved is stamped), each audited
 * `record.update`, plus one `record.bulk_update` entry naming the fields, never their values.
 */
export async function bulkUpdate(deps: AuthDeps, ctx: ActorContext, type: RecordType, request: BulkUpdateRequest): Promise<BulkOutcome<'updated'>> {
  const ids = checkIds(request.ids);
  const changes = checkChangesShape(request.changes);
  await checkChanges(deps, ctx, type, changes);
  let withinHour = false;
  if (!needsApproval(deps, ids, request)) {
    try {
      return { updated: await runUpdate(deps, ctx, type, ids, changes, request.approvalId) };
    } catch (error) {
      if (!(error instanceof OverHourlyAllowance)) throw error;
      withinHour = true;
    }
  }
  await bulkVersions(deps, ctx, type, ids, 'update');
  const reason = requireReason(deps, request.reason, withinHour);
  return { approval: await askApproval(deps, ctx, { kind: 'bulk_update', type, ids, changes, reason }) };
}

/**
 * What an approval of a bulk change is given for, hashed: the type, the ids in sorted order (the
 * order a batch is sent in does not change it), and for an update the changes.
 */
export function bulkPayload(type: RecordType, ids: readonly string[], changes: RecordInput | null): Record<string, unknown> {
  return { type, ids: [...ids].sort(), ...(changes === null ? {} : { changes }) };
}

async function runDelete(deps: AuthDeps, ctx: ActorContext, type: RecordType, ids: string[], approvalId: string | undefined): Promise<number> {
  const limit = deps.config.bulkApprovalRecords;
  return inTransaction(deps, async (tx) => {
    const approval = await useApproval(tx, ctx, approvalId, 'bulk_delete', bulkPayload(type, ids, null));
    if (approval === null) await countUnapproved(tx, ctx, ids.length, limit);
    const deleted = await deleteRecords(tx, ctx, type, ids);
    await recordAudit(tx, ctx, { action: 'record.bulk_delete', recordType: type, details: { count: deleted, approvalId: approval?.id ?? null } });
    return deleted;
  });
}

async function runUpdate(deps: AuthDeps, ctx: ActorContext, type: RecordType, ids: string[], changes: RecordInput, approvalId: string | undefined): Promise<number> {
  const fields = changedFields(changes);
  const limit = deps.config.bulkApprovalRecords;
  return inTransaction(deps, async (tx) => {
    const approval = await useApproval(tx, ctx, approvalId, 'bulk_update', bulkPayload(type, ids, changes));
    if (approval === null) await countUnapproved(tx, ctx, ids.length, limit);
    const versions = await bulkVersions(tx, ctx, type, ids, 'update');
    // Each update answers its record; the caller of a bulk change sees a count, so nothing was read.
    const quiet = answeringCountOnly(ctx);
    const service = recordServices[type];
    let index = 0;
    for (const [id, version] of versions) {
      try {
        await service.update(tx, quiet, id, version, changes);
      } catch (error) {
        throw inBatch(error, id, index);
      }
      index += 1;
    }
    await recordAudit(tx, ctx, { action: 'record.bulk_update', recordType: type, fields, details: { count: versions.size, approvalId: approval?.id ?? null } });
    return versions.size;
  });
}

/** Uses the approval, when the call carries one, in the work's transaction; the stored batch goes with it. */
async function useApproval(tx: DataDeps, ctx: ActorContext, approvalId: string | undefined, kind: ApprovalKind, payload: Record<string, unknown>): Promise<ApprovalView | null> {
  if (approvalId === undefined) return null;
  const approval = await consumeApproval(tx, ctx, approvalId, { kind, payloadHash: payloadHash(payload) });
  await deleteBulkRequests(tx.db, [approval.id]);
  return approval;
}

function needsApproval(deps: AuthDeps, ids: readonly string[], request: BulkRequest): boolean {
  return ids.length > deps.config.bulkApprovalRecords && request.approvalId === undefined;
}

/** The batch would take its user past the threshold within the hour: its transaction rolls back and it goes for approval. */
class OverHourlyAllowance extends Error {}

/** `2026-12-03T20`: the UTC hour a tally counts in. */
function hourOf(time: Date): string {
  return time.toISOString().slice(0, 13);
}

/**
 * Counts a batch run without approval against its user's allowance, in the work's transaction (a
 * refused or failed batch counts nothing): this hour's and the previous hour's records together
 * may not pass the threshold. The CLI operator acting as nobody is not a user and has no tally.
 */
async function countUnapproved(tx: DataDeps, ctx: ActorContext, records: number, limit: number): Promise<void> {
  const userId = requesterId(ctx);
  if (userId === null) return;
  const now = tx.clock.now();
  const total = await addToBulkTally(tx.db, userId, hourOf(now), hourOf(new Date(now.getTime() - 3_600_000)), records);
  if (total > limit) throw new OverHourlyAllowance('over the hourly bulk allowance');
}

/** Above the threshold, a reason is what turns the call into a request for approval. */
function requireReason(deps: AuthDeps, reason: string | undefined, withinHour = false): string {
  if (typeof reason === 'string' && reason.trim() !== '') return reason;
  const limit = deps.config.bulkApprovalRecords;
  const when = withinHour ? 'within an hour' : 'at once';
  throw new AppError('bulk.approval_required', `More than ${limit} records ${when} need a second person's approval; give a reason to ask for it`, [
    { field: 'reason', message: `is required for more than ${limit} records ${when}: say why, for the approvers` },
  ]);
}

interface AskedBatch {
  kind: 'bulk_delete' | 'bulk_update';
  type: RecordType;
  ids: string[];
  changes: RecordInput | null;
  reason: string;
}

/** Asks for approval and keeps the batch under the request's id, both in one transaction. */
async function askApproval(deps: AuthDeps, ctx: ActorContext, batch: AskedBatch): Promise<ApprovalView> {
  const fields = batch.changes === null ? [] : changedFields(batch.changes);
  return inTransaction(deps, async (tx) => {
    const approval = await requestApproval(tx, ctx, {
      kind: batch.kind,
      summary: { type: batch.type, records: batch.ids.length, fields },
      payloadHash: payloadHash(bulkPayload(batch.type, batch.ids, batch.changes)),
      recordCount: batch.ids.length,
      reason: batch.reason,
    });
    await insertBulkRequest(tx.db, {
      approval_id: approval.id,
      requested_by: approval.requestedBy.id,
      kind: batch.kind,
      type: batch.type,
      ids: JSON.stringify(batch.ids),
      fields: JSON.stringify(fields),
      changes: batch.changes === null ? null : await sealChanges(tx, approval.id, batch.changes),
      record_count: batch.ids.length,
      created_at: approval.requestedAt,
    });
    return approval;
  });
}

// ---- Stored batches ----------------------------------------------------------------------------

/**
 * The changes of a stored update are sealed like a record's personal values (field-crypto, AES-GCM
 * under the organisation's data key, bound to this row and column): a bulk update of a personal
 * field carries personal values, and they never lie in the database in clear. The ids and field
 * keys are not personal and stay readable. A data-key rotation destroys old key versions once the
 * records are sealed again, not this short-lived row: a batch stored before one can no longer be
 * opened, and its requester sends the same request again with the approval's id instead.
 */
function changesPlace(approvalId: string): ValuePlace {
  return { table: 'bulk_requests', column: 'changes', recordId: approvalId, subjectId: ORGANISATION };
}

async function sealChanges(deps: DataDeps, approvalId: string, changes: RecordInput): Promise<string> {
  return sealValue(await organisationKeys(deps), changesPlace(approvalId), JSON.stringify(changes));
}

async function openChanges(deps: DataDeps, approvalId: string, stored: string): Promise<RecordInput> {
  const version = sealedVersion(stored);
  let keys = await organisationKeys(deps);
  if (version !== null && !keys.versions.has(version)) keys = await organisationKeys(deps, { fresh: true });
  if (version !== null && !keys.versions.has(version)) {
    throw new AppError('bulk.not_found', 'The stored change was sealed under a data key rotated away since; send the same request again with its approvalId');
  }
  try {
    if (version === null) throw new IntegrityError('value is not sealed');
    return JSON.parse(openValue(keys, changesPlace(approvalId), stored)) as RecordInput;
  } catch (error) {
    if (!(error instanceof IntegrityError)) throw error;
    const event = { table: 'bulk_requests', column: 'changes', recordId: approvalId, reason: error.message };
    await recordIntegrityEvent(deps, event).catch(() => undefined);
    throw new IntegrityFailure('The stored change failed its integrity check and was not run; the event was recorded for the administrators', event, true);
  }
}

/** What an approved mass change did when run from its approval. */
export interface BulkRun {
  approvalId: string;
  kind: 'bulk_delete' | 'bulk_update';
  type: RecordType;
  /** Records moved to the trash or changed. */
  records: number;
}

/**
 * Runs the mass change stored under an approval, exactly as it was asked for and approved: only
 * its requester, only once approved, within its time; the approval is used up in the work's
 * transaction and the stored batch goes with it. An approval that can no longer be used (denied,
 * cancelled, lapsed) takes its stored batch with it too.
 */
export async function runApprovedChange(deps: AuthDeps, ctx: ActorContext, approvalId: string): Promise<BulkRun> {
  const me = requesterId(ctx);
  const row = me !== null && isId(approvalId) ? await selectBulkRequest(deps.db, approvalId) : undefined;
  // Someone else's batch answers as one that does not exist.
  if (!row || row.requested_by !== me) throw new AppError('bulk.not_found', 'No mass change of yours is stored under this approval');
  const type = row.type as RecordType;
  const ids = JSON.parse(row.ids) as string[];
  if (!(RECORD_TYPES as readonly string[]).includes(type) || !Array.isArray(ids)) throw new AppError('bulk.not_found', 'No mass change of yours is stored under this approval');
  try {
    if (row.kind === 'bulk_delete') return { approvalId, kind: row.kind, type, records: await runDelete(deps, ctx, type, ids, approvalId) };
    if (row.changes === null) throw new AppError('bulk.not_found', 'No mass change of yours is stored under this approval');
    const changes = await openChanges(deps, approvalId, row.changes);
    await checkChanges(deps, ctx, type, changes);
    return { approvalId, kind: 'bulk_update', type, records: await runUpdate(deps, ctx, type, ids, changes, approvalId) };
  } catch (error) {
    if (error instanceof AppError && (error.code === 'approval.expired' || error.code === 'approval.not_pending' || error.code === 'approval.not_found')) await dropClosed(deps, [approvalId]);
    throw error;
  }
}

/** A stored mass change as its requester sees it: what, how many, and where its approval stands. */
export interface BulkChangeView {
  approvalId: string;
  kind: 'bulk_delete' | 'bulk_update';
  type: string;
  records: number;
  /** The fields an update sets (custom ones as customFields.<key>); empty for a delete. */
  fields: string[];
  /** pending (waiting for a decision) or approved (may be run until expiresAt). */
  status: Extract<ApprovalStatus, 'pending' | 'approved'>;
  requestedAt: string;
  /** Pending: when the request lapses undecided. Approved: by when it must be run. */
  expiresAt: string;
}

export const LIVE_STATUSES = ['pending', 'approved'] as const;

/**
 * The caller's own stored mass changes, newest first: those waiting for a decision and those
 * approved and not yet run (`status` narrows to one). Those whose approval closed meanwhile are
 * dropped as they are met.
 */
export async function listBulkChanges(deps: AuthDeps, ctx: ActorContext, query: { status?: string; cursor?: string; limit?: number } = {}): Promise<{ items: BulkChangeView[]; nextCursor: string | null }> {
  const problems: FieldProblem[] = [];
  if (query.status !== undefined && !(LIVE_STATUSES as readonly string[]).includes(query.status)) problems.push({ field: 'status', message: `must be one of ${LIVE_STATUSES.join(', ')}` });
  const limit = query.limit ?? 50;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_BULK_PAGE) problems.push({ field: 'limit', message: `must be 1 to ${MAX_BULK_PAGE}` });
  if (problems.length > 0) throw new AppError('request.invalid_filter', 'The list request has invalid parameters', problems);
  let before = query.cursor !== undefined && query.cursor !== '' ? decodeCursor(query.cursor, CURSOR_KEY).id : undefined;
  const me = requesterId(ctx);
  if (me === null) return { items: [], nextCursor: null };
  const items: BulkChangeView[] = [];
  let more = false;
  for (;;) {
    const rows = await selectOwnBulkRequests(deps.db, me, { ...(before !== undefined ? { before } : {}), limit: limit + 1 });
    const approvals = await approvalsByIds(deps, rows.map((r) => r.approval_id));
    const closed: string[] = [];
    for (const row of rows) {
      const approval = approvals.get(row.approval_id);
      if (!approval || (approval.status !== 'pending' && approval.status !== 'approved')) {
        closed.push(row.approval_id);
        continue;
      }
      if (query.status !== undefined && approval.status !== query.status) continue;
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push({
        approvalId: row.approval_id,
        kind: row.kind,
        type: row.type,
        records: Number(row.record_count),
        fields: JSON.parse(row.fields) as string[],
        status: approval.status,
        requestedAt: approval.requestedAt,
        expiresAt: approval.expiresAt,
      });
    }
    await deleteBulkRequests(deps.db, closed);
    if (more || rows.length <= limit) break;
    before = rows.at(-1)!.approval_id;
  }
  return { items, nextCursor: more ? encodeCursor(CURSOR_KEY, null, items.at(-1)!.approvalId) : null };
}

/**
 * Removes every stored batch whose approval was used, denied, cancelled or lapsed (or is gone):
 * the retention job's sweep, so that sealed changes do not outlive their purpose. Answers how many.
 */
/** Drops the hourly bulk tallies that no longer count (older than the previous hour). */
export async function pruneOldBulkTallies(deps: AuthDeps): Promise<number> {
  return pruneBulkTallies(deps.db, hourOf(new Date(deps.clock.now().getTime() - 3_600_000)));
}

export async function dropClosedBulkRequests(deps: AuthDeps): Promise<number> {
  let dropped = 0;
  let after = '';
  for (;;) {
    const ids = await selectBulkRequestIds(deps.db, after, 200);
    if (ids.length === 0) return dropped;
    dropped += await dropClosed(deps, ids);
    after = ids.at(-1)!;
  }
}

async function dropClosed(deps: AuthDeps, approvalIds: readonly string[]): Promise<number> {
  const approvals = await approvalsByIds(deps, approvalIds);
  const closed = approvalIds.filter((id) => {
    const status = approvals.get(id)?.status;
    return status !== 'pending' && status !== 'approved';
  });
  return deleteBulkRequests(deps.db, closed);
}

// ---- Checks ------------------------------------------------------------------------------------

function checkIds(ids: unknown): string[] {
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_BULK_IDS || !ids.every((id) => typeof id === 'string')) {
    throw new AppError('bulk.invalid_request', `Name 1 to ${MAX_BULK_IDS} records`, [{ field: 'ids', message: `must hold 1 to ${MAX_BULK_IDS} record ids` }]);
  }
  if (new Set(ids).size !== ids.length) throw new AppError('bulk.invalid_request', 'Name each record once', [{ field: 'ids', message: 'names a record more than once' }]);
  return ids as string[];
}

function checkChangesShape(changes: unknown): RecordInput {
  if (typeof changes !== 'object' || changes === null || Array.isArray(changes) || Object.keys(changes).length === 0) {
    throw new AppError('bulk.invalid_request', 'Say which fields to change', [{ field: 'changes', message: 'must name at least one field' }]);
  }
  if ('version' in changes) throw new AppError('bulk.invalid_request', 'A bulk update carries no version', [{ field: 'changes.version', message: 'is not a field to change' }]);
  return changes as RecordInput;
}

/** The keys of the fields a change sets, custom ones as `customFields.<key>`: what approvers and the log see. */
function changedFields(changes: RecordInput): string[] {
  const keys: string[] = [];
  for (const key of Object.keys(changes)) {
    const custom = changes.customFields;
    if (key === 'customFields' && typeof custom === 'object' && custom !== null && !Array.isArray(custom)) keys.push(...Object.keys(custom).map((k) => `customFields.${k}`));
    else keys.push(key);
  }
  return keys.sort();
}

/** A refusal of one record of the batch, saying which one. */
function inBatch(error: unknown, id: string, index: number): unknown {
  // Only plain refusals are reworded; special ones (an integrity failure) carry more than a message.
  if (!(error instanceof AppError) || error.constructor !== AppError) return error;
  const problem = new AppError(error.code, `Record ${index + 1} of the batch (${id.slice(0, 64)}): ${error.message}`, error.fields);
  problem.retryAfterSeconds = error.retryAfterSeconds;
  return problem;
}
