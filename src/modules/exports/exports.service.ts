import type { Writable } from 'node:stream';
import { IntegrityError } from '../../crypto/aead.js';
import { KekUnavailableError } from '../../crypto/kek.js';
import { accessOf } from '../../data/access.js';
import { recordAudit } from '../../data/audit-trail.js';
import { decodeCursor, encodeCursor } from '../../data/cursor.js';
import { RECORD_TYPES, type RecordType } from '../../data/field-registry.js';
import { inTransaction, iterateRecords, type DataDeps } from '../../data/record-store.js';
import { requireStepUp } from '../../data/step-up.js';
import { AppError, type FieldProblem } from '../../shared/errors.js';
import { isId, newId } from '../../shared/ids.js';
import type { ActorContext } from '../../shared/principal.js';
import { cancelRequest, checkReason, consumeApproval, effectiveStatus, payloadHash, requestApproval, requesterId, type ApprovalStatus } from '../approvals/approvals.service.js';
import { refuseExportInLockdown } from '../detection/containment.service.js';
import { requireScope } from '../tokens/tokens.service.js';
import { EXPORT_FORMATS, writeExport, type ExportFormat, type ExportQuery, type ExportWriteSpec } from '../transfer/transfer.export.js';
import { STEP_UP_EXPORT_ROWS } from '../transfer/transfer.service.js';
import { addExportedRows, exportCapsOf, takenToday, utcDay, type ExportCaps } from './export-caps.js';
import { cancelExportRow, claimDownloadRow, insertExport, userEmail, nextExportNo, recordWrittenRow, selectExport, selectExports, type ExportRow, type ExportsTable } from './exports.repo.js';

/**
 * Governed exports: the one way records leave Rampart in bulk, from the API, the command line and
 * the web app. An export is asked for with a reason; the caller's rights, per-export and daily caps
 * are checked against the rows it would hold; above the approval threshold a second person must
 * approve it; then its requester downloads it once, within 24 hours, written by writeExport with
 * the export's fingerprint. The query (which may hold personal filter values) is kept sealed, and
 * the reason is kept with the export; neither is copied into audit details or logs.
 */

/** How long a ready export may wait to be downloaded. */
export const DOWNLOAD_HOURS = 24;
const MAX_PAGE = 200;
const DEFAULT_PAGE = 50;
const CURSOR_KEY = 'exports';

/** As a caller sees it: derived from the stored status, the approval and the time. */
export type ExportStatus = 'pending_approval' | 'ready' | 'downloaded' | 'denied' | 'cancelled' | 'expired';
export const EXPORT_STATUSES: readonly ExportStatus[] = ['pending_approval', 'ready', 'downloaded', 'denied', 'cancelled', 'expired'];

export interface ExportView {
  id: string;
  exportNo: number;
  type: RecordType;
  format: ExportFormat;
  status: ExportStatus;
  /** Rows counted when it was asked for; the download writes at most this many. */
  rows: number;
  reason: string;
  requestedBy: { id: string | null; label: string };
  approval: { id: string; status: ApprovalStatus } | null;
  createdAt: string;
  downloadExpiresAt: string | null;
  downloadedAt: string | null;
  /** What the download wrote, once it has. */
  rowsWritten: number | null;
}

export interface ExportRequest {
  type: RecordType;
  format: ExportFormat;
  reason: string;
  /** The list's filters, search and sort; without it, every record the caller may export. */
  query?: ExportQuery;
}

/** What an export would come to, before it is asked for (see `estimateExport`). */
export interface ExportEstimate {
  /** Rows the caller may export under the query, counted up to maxRows + 1. */
  rows: number;
  /** The most rows one export may hold for the caller; null for the uncapped operator. */
  maxRows: number | null;
  /** Exports of more rows need a second person's approval; null for the uncapped operator. */
  approvalAboveRows: number | null;
  /** Rows the caller may still export or read today; null when uncapped. */
  dailyRowsLeft: number | null;
  /** More rows than approvalAboveRows: a request would wait for approval. */
  needsApproval: boolean;
  /** More rows than maxRows or dailyRowsLeft: a request would be refused. */
  overCap: boolean;
}

/** A download claimed and ready to be written: what to write, and the file name to offer. */
export interface ClaimedDownload {
  view: ExportView;
  spec: ExportWriteSpec;
  filename: string;
}

/**
 * Asks for an export. Answers it `ready` (download within 24 hours) or, above the caller's approval
 * threshold, `pending_approval` with the approval request made for it. Refuses, before anything is
 * written, a caller who may not export the type, an export past the per-export cap
 * (export.too_many_rows) or past the day's allowance (export.daily_cap_reached).
 */
export async function requestExport(deps: DataDeps, ctx: ActorContext, input: ExportRequest): Promise<ExportView> {
  const problems: FieldProblem[] = [];
  checkType(input.type, problems);
  if (!(EXPORT_FORMATS as readonly string[]).includes(input.format)) problems.push({ field: 'format', message: `must be ${EXPORT_FORMATS.join(' or ')}` });
  const reason = checkReason(input.reason, 'reason', true, problems);
  if (problems.length > 0 || reason === null) throw new AppError('export.invalid_request', 'The export request has invalid fields', problems);
  const type = input.type;
  const query = cleanQuery(input.query);

  await refuseUnlessMayExport(deps, ctx, type);
  const caps = await exportCapsOf(deps, ctx, type, 'export');
  const rows = await countExportRows(deps, ctx, type, query, caps === null ? null : caps.maxRows + 1);
  const fields = narrowing(query);
  if (caps !== null && rows > caps.maxRows) {
    throw new AppError('export.too_many_rows', `The export would hold more than ${caps.maxRows.toLocaleString('en-US')} rows, the most one export may hold for you; narrow it with filters or a search`);
  }
  const userId = requesterId(ctx);
  if (caps !== null && userId !== null) await refusePastDailyCap(deps, ctx, caps, userId, rows, type);

  const id = newId(deps.clock.now().getTime());
  const sealedQuery = await sealQuery(deps, id, query);
  return inTransaction(deps, async (tx) => {
    const now = tx.clock.now();
    const exportNo = await nextExportNo(tx.db);
    const needsApproval = caps !== null && rows > caps.approvalAboveRows;
    let approvalId: string | null = null;
    let approvalExpiresAt: string | null = null;
    if (needsApproval) {
      const approval = await requestApproval(tx, ctx, {
        kind: 'export',
        summary: { type, format: input.format, rows, exportNo },
        payloadHash: exportPayloadHash({ type, format: input.format, query, row_limit: rows }),
        recordCount: rows,
        reason,
      });
      approvalId = approval.id;
      approvalExpiresAt = approval.expiresAt;
    }
    const row: ExportsTable = {
      id,
      export_no: exportNo,
      requested_by: userId,
      requested_by_label: await labelOf(tx, ctx),
      type,
      format: input.format,
      query: sealedQuery,
      reason,
      status: needsApproval ? 'pending_approval' : 'ready',
      approval_id: approvalId,
      row_limit: rows,
      rows_written: null,
      sha256: null,
      created_at: now.toISOString(),
      ready_at: needsApproval ? null : now.toISOString(),
      download_expires_at: needsApproval ? null : new Date(now.getTime() + DOWNLOAD_HOURS * 3_600_000).toISOString(),
      downloaded_at: null,
      version: 1,
    };
    await insertExport(tx.db, row);
    await recordAudit(tx, ctx, {
      action: 'export.requested',
      recordType: 'exports',
      recordIds: [id],
      details: { exportId: id, exportNo, type, format: input.format, rows, needsApproval, ...(approvalId ? { approvalId } : {}), ...fields },
    });
    return presentExport({ ...row, approval_status: needsApproval ? 'pending' : null, approval_expires_at: approvalExpiresAt }, now);
  });
}

/**
 * What an export of this type and query would come to for the caller, so a person can see before
 * asking whether it needs approval or would be refused. The same checks as a request (rights,
 * token scope, lockdown); rows are counted as a request counts them, unaudited, and nothing is
 * written.
 */
export async function estimateExport(deps: DataDeps, ctx: ActorContext, input: { type: RecordType; query?: ExportQuery }): Promise<ExportEstimate> {
  const problems: FieldProblem[] = [];
  checkType(input.type, problems);
  if (problems.length > 0) throw new AppError('export.invalid_request', 'The export estimate has invalid fields', problems);
  const query = cleanQuery(input.query);
  await refuseUnlessMayExport(deps, ctx, input.type);
  const caps = await exportCapsOf(deps, ctx, input.type, 'export');
  const rows = await countExportRows(deps, ctx, input.type, query, caps === null ? null : caps.maxRows + 1);
  if (caps === null) return { rows, maxRows: null, approvalAboveRows: null, dailyRowsLeft: null, needsApproval: false, overCap: false };
  const userId = requesterId(ctx);
  const dailyRowsLeft = userId === null ? null : Math.max(0, caps.dailyRows - (await takenToday(deps.db, userId, utcDay(deps.clock.now()))));
  return {
    rows,
    maxRows: caps.maxRows,
    approvalAboveRows: caps.approvalAboveRows,
    dailyRowsLeft,
    needsApproval: rows > caps.approvalAboveRows,
    overCap: rows > caps.maxRows || (dailyRowsLeft !== null && rows > dailyRowsLeft),
  };
}

/** Exports newest first: the caller's own; holders of approvals.decide or audit.read see everyone's. */
export async function listExports(deps: DataDeps, ctx: ActorContext, query: { cursor?: string; limit?: number; mine?: boolean } = {}): Promise<{ items: ExportView[]; nextCursor: string | null }> {
  const limit = query.limit ?? DEFAULT_PAGE;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new AppError('request.invalid_filter', 'The export list request has invalid parameters', [{ field: 'limit', message: `must be 1 to ${MAX_PAGE}` }]);
  const seesAll = await overseesExports(deps, ctx);
  const filter: { requestedBy?: string | null; before?: string } = {};
  if (!seesAll || query.mine) filter.requestedBy = ownerKey(ctx);
  if (query.cursor !== undefined && query.cursor !== '') filter.before = decodeCursor(query.cursor, CURSOR_KEY).id;
  const rows = await selectExports(deps.db, filter, limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const now = deps.clock.now();
  return { items: page.map((r) => presentExport(r, now)), nextCursor: rows.length > limit && last ? encodeCursor(CURSOR_KEY, null, last.id) : null };
}

/** One export: its requester's, or anyone's for holders of approvals.decide or audit.read. */
export async function getExport(deps: DataDeps, ctx: ActorContext, id: string): Promise<ExportView> {
  const row = await findExport(deps, id);
  if (!isRequester(row, ctx) && !(await overseesExports(deps, ctx))) throw new AppError('export.not_found', 'No such export');
  return presentExport(row, deps.clock.now());
}

/** Withdraws an export not yet downloaded, and its approval request with it: only its requester. */
export async function cancelExport(deps: DataDeps, ctx: ActorContext, id: string): Promise<ExportView> {
  return inTransaction(deps, async (tx) => {
    const row = await findExport(tx, id);
    if (!isRequester(row, ctx)) throw new AppError('export.not_found', 'No such export');
    const now = tx.clock.now();
    const status = statusOf(row, now);
    if (status !== 'ready' && status !== 'pending_approval') throw new AppError('export.not_ready', `The export is ${status.replace('_', ' ')} and cannot be cancelled`);
    if (!(await cancelExportRow(tx.db, id, row.version))) throw new AppError('record.version_conflict', 'The export changed just now; look again');
    if (row.approval_id && (status === 'pending_approval' || status === 'ready')) await cancelRequest(tx, ctx, row.approval_id);
    await recordAudit(tx, ctx, { action: 'export.cancelled', recordType: 'exports', recordIds: [id], details: { exportId: id, type: row.type, rows: row.row_limit } });
    return presentExport({ ...(await findExport(tx, id)) }, now);
  });
}

/**
 * Claims an export's one download for its requester: ready (approved, where approval was needed)
 * and within its 24 hours; a second factor in the last minutes for more than STEP_UP_EXPORT_ROWS
 * rows; within the day's allowance. In one transaction the approval is used, the download marked
 * taken and the rows added to the day's tally, so nothing can download it twice; the writing
 * follows (writeExport), limited to the rows approved.
 */
export async function claimDownload(deps: DataDeps, ctx: ActorContext, id: string): Promise<ClaimedDownload> {
  const found = await findExport(deps, id);
  if (!isRequester(found, ctx)) throw new AppError('export.not_found', 'No such export');
  refuseUnlessReady(found, deps.clock.now());
  await refuseExportInLockdown(deps);
  if (found.row_limit > STEP_UP_EXPORT_ROWS) await requireStepUp(deps, ctx);
  const userId = requesterId(ctx);
  const caps = await exportCapsOf(deps, ctx, found.type as RecordType, 'export');
  if (caps !== null && userId !== null) await refusePastDailyCap(deps, ctx, caps, userId, found.row_limit, found.type);
  // The query never changes once stored: opened before the transaction, so a key service is not waited on inside it.
  const query = await openQuery(deps, found);
  try {
    return await claimInTransaction(deps, ctx, id, query, userId, caps);
  } catch (error) {
    if (!(error instanceof PastDailyCap)) throw error;
    // The claim was rolled back; the refusal is recorded after it, so it outlives the rollback.
    await recordAudit(deps, ctx, { action: 'export.cap_reached', outcome: 'denied', recordType: found.type, details: { via: 'export', rows: found.row_limit, takenToday: error.taken, dailyRows: error.dailyRows } });
    throw dailyCapReached(error.dailyRows, error.taken);
  }
}

/** A download that would take its day past the cap, found inside the claim (which it rolls back). */
class PastDailyCap extends Error {
  constructor(
    readonly dailyRows: number,
    readonly taken: number,
  ) {
    super('past the daily export cap');
  }
}

/**
 * The claim itself, in one transaction: the approval used, the download marked taken, and the rows
 * added to the day's tally by one statement that answers the new total. A total past the cap rolls
 * it all back, so downloads at once cannot together take more than the day's allowance.
 */
async function claimInTransaction(deps: DataDeps, ctx: ActorContext, id: string, query: ExportQuery, userId: string | null, caps: ExportCaps | null): Promise<ClaimedDownload> {
  return inTransaction(deps, async (tx) => {
    const row = await findExport(tx, id);
    const now = tx.clock.now();
    refuseUnlessReady(row, now);
    if (row.approval_id) {
      await consumeApproval(tx, ctx, row.approval_id, { kind: 'export', payloadHash: exportPayloadHash({ type: row.type, format: row.format, query, row_limit: row.row_limit }) });
    }
    if (!(await claimDownloadRow(tx.db, id, row.version, now.toISOString()))) throw new AppError('export.already_downloaded', 'The export was downloaded already; each export is downloaded once');
    if (userId !== null) {
      const total = await addExportedRows(tx.db, userId, utcDay(now), row.row_limit);
      if (caps !== null && total > caps.dailyRows) throw new PastDailyCap(caps.dailyRows, total - row.row_limit);
    }
    await recordAudit(tx, ctx, { action: 'export.downloaded', recordType: 'exports', recordIds: [id], details: { exportId: id, exportNo: row.export_no, type: row.type, format: row.format, rowLimit: row.row_limit } });
    const claimed = (await findExport(tx, id))!;
    return {
      view: presentExport(claimed, now),
      spec: { type: row.type as RecordType, format: row.format as ExportFormat, query, exportId: row.id, exportNo: row.export_no, rowLimit: row.row_limit },
      filename: `${row.type}-${row.export_no}-${utcDay(now)}.${row.format}`,
    };
  });
}

/** Keeps what the download wrote: the row count and the file's SHA-256 (what a trace matches). */
export async function recordWritten(deps: DataDeps, id: string, result: { rows: number; sha256: string }): Promise<void> {
  await recordWrittenRow(deps.db, id, result.rows, result.sha256);
}

/** Claims the download and writes it to `output`: the command line's path (the API streams the claimed spec itself). */
export async function downloadExport(deps: DataDeps, ctx: ActorContext, id: string, output: Writable, onProgress?: ExportWriteSpec['onProgress']): Promise<ClaimedDownload & { rows: number; sha256: string }> {
  const claimed = await claimDownload(deps, ctx, id);
  const result = await writeExport(deps, ctx, { ...claimed.spec, ...(onProgress ? { onProgress } : {}) }, output);
  await recordWritten(deps, id, result);
  return { ...claimed, ...result };
}

/** The payload an export's approval is given for: what is written, and at most how many rows. */
export function exportPayloadHash(payload: { type: string; format: string; query: ExportQuery; row_limit: number }): string {
  return payloadHash(payload);
}

function checkType(type: unknown, problems: FieldProblem[]): void {
  if (!(RECORD_TYPES as readonly string[]).includes(type as string)) problems.push({ field: 'type', message: `must be one of ${RECORD_TYPES.join(', ')}` });
}

/** The export action on the type (and a token's read scope over it), outside lockdown. */
async function refuseUnlessMayExport(deps: DataDeps, ctx: ActorContext, type: RecordType): Promise<void> {
  requireScope(ctx, type, 'read');
  const access = await accessOf(deps, ctx);
  if (access.scope(type, 'export') === null) throw new AppError('auth.forbidden', `Your roles do not allow you to export ${type}`);
  await refuseExportInLockdown(deps);
}

/**
 * How an export's query is stored: `w1.<KEK version>.<base64url>`, wrapped under the
 * key-encryption key (as authenticator secrets are) with the export's id as associated data, so
 * it opens only as that export's query.
 */
const SEALED_QUERY = 'w1.';

function queryAad(exportId: string): Buffer {
  return Buffer.from(`rampart|export-query|${exportId}`);
}

async function sealQuery(deps: DataDeps, exportId: string, query: ExportQuery): Promise<string> {
  const { kekId, wrapped } = await deps.keyring.kek.wrap(Buffer.from(JSON.stringify(query), 'utf8'), queryAad(exportId));
  return `${SEALED_QUERY}${kekId}.${wrapped.toString('base64url')}`;
}

/** Opens a stored query; one stored before queries were sealed reads as the JSON it is. */
async function openQuery(deps: DataDeps, row: Pick<ExportRow, 'id' | 'query'>): Promise<ExportQuery> {
  const stored = row.query;
  const dot = stored.lastIndexOf('.');
  try {
    if (!stored.startsWith(SEALED_QUERY)) return JSON.parse(stored) as ExportQuery;
    if (dot <= SEALED_QUERY.length) throw new IntegrityError('sealed query has no key version');
    const opened = await deps.keyring.kek.unwrap(stored.slice(SEALED_QUERY.length, dot), Buffer.from(stored.slice(dot + 1), 'base64url'), queryAad(row.id));
    return JSON.parse(opened.toString('utf8')) as ExportQuery;
  } catch (error) {
    if (error instanceof KekUnavailableError) throw new AppError('export.download_expired', 'The export was sealed under a key version since retired; request it again');
    if (error instanceof IntegrityError || error instanceof SyntaxError) throw new AppError('data.integrity_failed', 'The export’s stored query does not open; request the export again');
    throw error;
  }
}

function refuseUnlessReady(row: ExportRow, now: Date): void {
  const status = statusOf(row, now);
  if (status === 'ready') return;
  if (status === 'downloaded') throw new AppError('export.already_downloaded', 'The export was downloaded already; each export is downloaded once');
  if (status === 'expired') throw new AppError('export.download_expired', 'The export was not downloaded in time; request it again');
  if (status === 'pending_approval') throw new AppError('export.not_ready', 'The export waits for approval');
  throw new AppError('export.not_ready', `The export was ${status}`);
}

async function refusePastDailyCap(deps: DataDeps, ctx: ActorContext, caps: ExportCaps, userId: string, rows: number, type: string): Promise<void> {
  const taken = await takenToday(deps.db, userId, utcDay(deps.clock.now()));
  if (taken + rows <= caps.dailyRows) return;
  await recordAudit(deps, ctx, { action: 'export.cap_reached', outcome: 'denied', recordType: type, details: { via: 'export', rows, takenToday: taken, dailyRows: caps.dailyRows } });
  throw dailyCapReached(caps.dailyRows, taken);
}

function dailyCapReached(dailyRows: number, taken: number): AppError {
  return new AppError(
    'export.daily_cap_reached',
    `This export would take you past your daily allowance of ${dailyRows.toLocaleString('en-US')} rows (${taken.toLocaleString('en-US')} exported or read today); narrow it, or export the rest tomorrow`,
  );
}

/** Counts the rows the caller would export, stopping at `stopAt` so a large table costs no full extra pass. */
async function countExportRows(deps: DataDeps, ctx: ActorContext, type: RecordType, query: ExportQuery, stopAt: number | null): Promise<number> {
  let rows = 0;
  for await (const _ of iterateRecords(deps, ctx, type, { ...query, purpose: 'export' }, { audited: false })) {
    rows += 1;
    if (stopAt !== null && rows >= stopAt) break;
  }
  return rows;
}

/** Keeps only what a list query carries, so nothing else is stored or hashed. */
function cleanQuery(query: ExportQuery | undefined): ExportQuery {
  if (query === undefined || query === null) return {};
  if (typeof query !== 'object' || Array.isArray(query)) throw new AppError('export.invalid_request', 'The query must be an object of list filters');
  const clean: ExportQuery = {};
  if (query.q !== undefined) clean.q = query.q;
  if (query.sort !== undefined) clean.sort = query.sort;
  if (query.filters !== undefined && Object.keys(query.filters).length > 0) clean.filters = query.filters;
  if (query.ranges !== undefined && query.ranges.length > 0) clean.ranges = query.ranges;
  return clean;
}

/** Which fields narrowed the export, never their values (those can be personal data). */
function narrowing(query: ExportQuery): Record<string, unknown> {
  const filteredBy = [...Object.keys(query.filters ?? {}), ...(query.ranges ?? []).map((r) => `${r.key}[${r.op}]`)];
  return { ...(filteredBy.length > 0 ? { filteredBy } : {}), ...(query.q !== undefined && query.q.trim() !== '' ? { searched: true } : {}), ...(query.sort ? { sortedBy: query.sort.replace(/^-/, '') } : {}) };
}

async function overseesExports(deps: DataDeps, ctx: ActorContext): Promise<boolean> {
  const access = await accessOf(deps, ctx);
  return access.may('approvals.decide') || access.may('audit.read');
}

/** Who an export is attributed to: the user, or the operator acting as nobody (null). */
function ownerKey(ctx: ActorContext): string | null {
  return requesterId(ctx);
}

function isRequester(row: ExportRow, ctx: ActorContext): boolean {
  const p = ctx.principal;
  if (row.requested_by === null) return p.kind === 'cli' && !p.actingAs;
  return requesterId(ctx) === row.requested_by;
}

/** The requester as a trace names them: the user's email, or `operator:<name>`. */
async function labelOf(deps: DataDeps, ctx: ActorContext): Promise<string> {
  const p = ctx.principal;
  if (p.kind === 'user' || p.kind === 'token') return p.email;
  if (p.kind === 'cli' && p.actingAs && p.userId) return (await userEmail(deps.db, p.userId)) ?? `user:${p.userId}`;
  if (p.kind === 'cli') return `operator:${p.operator}`;
  return `job:${p.job}`;
}

async function findExport(deps: DataDeps, id: string): Promise<ExportRow> {
  const row = isId(id) ? await selectExport(deps.db, id) : undefined;
  if (!row) throw new AppError('export.not_found', 'No such export');
  return row;
}

/** The status a caller sees, as of `now`. */
function statusOf(row: ExportRow, now: Date): ExportStatus {
  if (row.status === 'cancelled') return 'cancelled';
  if (row.downloaded_at !== null || row.status === 'downloaded') return 'downloaded';
  if (row.status === 'pending_approval') {
    const approval = row.approval_status === null ? 'pending' : effectiveStatus({ status: row.approval_status, expires_at: row.approval_expires_at ?? row.created_at }, now);
    if (approval === 'pending') return 'pending_approval';
    if (approval === 'approved') return 'ready';
    if (approval === 'denied') return 'denied';
    if (approval === 'cancelled') return 'cancelled';
    return 'expired';
  }
  if (row.download_expires_at !== null && new Date(row.download_expires_at).getTime() <= now.getTime()) return 'expired';
  return 'ready';
}

function presentExport(row: ExportRow, now: Date): ExportView {
  const status = statusOf(row, now);
  const approvalStatus = row.approval_id === null ? null : row.approval_status === null ? 'pending' : effectiveStatus({ status: row.approval_status, expires_at: row.approval_expires_at ?? row.created_at }, now);
  // An approved export may be downloaded until its approval lapses: 24 hours from approval.
  const downloadExpiresAt = row.download_expires_at ?? (approvalStatus === 'approved' || approvalStatus === 'used' ? row.approval_expires_at : null);
  return {
    id: row.id,
    exportNo: Number(row.export_no),
    type: row.type as RecordType,
    format: row.format as ExportFormat,
    status,
    rows: Number(row.row_limit),
    reason: row.reason,
    requestedBy: { id: row.requested_by, label: row.requested_by_label },
    approval: row.approval_id === null ? null : { id: row.approval_id, status: approvalStatus! },
    createdAt: row.created_at,
    downloadExpiresAt,
    downloadedAt: row.downloaded_at,
    rowsWritten: row.rows_written === null ? null : Number(row.rows_written),
  };
}
