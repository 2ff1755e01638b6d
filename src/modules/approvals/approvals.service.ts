import { createHash } from 'node:crypto';
import type { Config } from '../../config/config.js';
import { accessOf, requirePermission } from '../../data/access.js';
import { recordAudit } from '../../data/audit-trail.js';
import { decodeCursor, encodeCursor } from '../../data/cursor.js';
import { RECORD_TYPES } from '../../data/field-registry.js';
import { inTransaction, type DataDeps } from '../../data/record-store.js';
import { requireStepUp } from '../../data/step-up.js';
import { canonicalJson } from '../../shared/canonical-json.js';
import { AppError, type FieldProblem } from '../../shared/errors.js';
import { isId, newId } from '../../shared/ids.js';
import type { ActorContext } from '../../shared/principal.js';
import { addNotice } from '../notices/notices.service.js';
import { requireScope } from '../tokens/tokens.service.js';
import {
  deciders,
  insertApproval,
  selectApproval,
  selectApprovals,
  updateApprovalStatus,
  userNames,
  type ApprovalFilter,
  type ApprovalKind,
  type ApprovalRequestsTable,
  type ApprovalStatus,
} from './approvals.repo.js';

/**
 * Four-eyes approval: work too large for one person alone (a big export, a mass delete or change)
 * is asked for with a reason, decided by a second person holding `approvals.decide`, and then done
 * exactly once, exactly as approved (the payload hash). The requester never decides their own
 * request. Reasons and notes are free text that may name anyone: they are shown to the people
 * involved and never copied into audit details or logs. Deciders are told of a new request, and
 * the requester of the decision, by in-app notices written in the same transaction (figures and
 * the requester's name only; no mail).
 */

export type { ApprovalKind, ApprovalStatus } from './approvals.repo.js';

export const APPROVAL_KINDS: readonly ApprovalKind[] = ['export', 'bulk_delete', 'bulk_update'];
export const APPROVAL_STATUSES: readonly ApprovalStatus[] = ['pending', 'approved', 'denied', 'cancelled', 'used', 'expired'];

/** How long a request waits for a decision. */
export const PENDING_DAYS = 7;
/** How long an approval may wait to be used. */
export const APPROVED_HOURS = 24;
/** The longest reason or decision note. */
export const MAX_REASON_CHARS = 500;
const MAX_PAGE = 200;
const DEFAULT_PAGE = 50;
const CURSOR_KEY = 'approvals';

export interface PersonRef {
  id: string;
  name: string;
}

export interface ApprovalView {
  id: string;
  kind: ApprovalKind;
  /** As of now: a pending or approved request past its time reads `expired`. */
  status: ApprovalStatus;
  requestedBy: PersonRef;
  requestedAt: string;
  reason: string;
  summary: Record<string, unknown>;
  recordCount: number;
  decidedBy: PersonRef | null;
  decidedAt: string | null;
  decisionNote: string | null;
  expiresAt: string;
  usedAt: string | null;
}

export interface ApprovalInput {
  kind: ApprovalKind;
  /** Figures without personal data, shown to approvers and kept in the audit log. */
  summary: Record<string, unknown>;
  /** SHA-256 hex of the canonical payload (see `payloadHash`). */
  payloadHash: string;
  recordCount: number;
  reason: string;
}

export interface ApprovalQuery {
  status?: ApprovalStatus;
  kind?: ApprovalKind;
  /** Only the caller's own requests, even for a decider. */
  mine?: boolean;
  cursor?: string;
  limit?: number;
}

/** The user a request is made by, or for: a session, a token, or the command line acting `--as` a user. */
export function requesterId(ctx: ActorContext): string | null {
  const p = ctx.principal;
  if (p.kind === 'user' || p.kind === 'token') return p.userId;
  if (p.kind === 'cli' && p.actingAs) return p.userId;
  return null;
}

/** SHA-256 hex of a payload in canonical JSON: what `requestApproval` and `consumeApproval` compare. */
export function payloadHash(payload: unknown): string {
  return createHash('sha256').update(canonicalJson(payload)).digest('hex');
}

/** A stored status as of `now`: pending and approved requests lapse at their expiry. */
export function effectiveStatus(row: Pick<ApprovalRequestsTable, 'status' | 'expires_at'>, now: Date): ApprovalStatus {
  if ((row.status === 'pending' || row.status === 'approved') && new Date(row.expires_at).getTime() <= now.getTime()) return 'expired';
  return row.status;
}

/**
 * Checks and trims a reason or note typed by a person: 1 to 500 characters of text (a note may be
 * left out). Answers the text or null.
 */
export function checkReason(value: unknown, field: string, required: boolean, problems: FieldProblem[]): string | null {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '' && !required)) {
    if (required) problems.push({ field, message: `is required: say why, in 1 to ${MAX_REASON_CHARS} characters` });
    return null;
  }
  const text = typeof value === 'string' ? value.trim() : '';
  if (typeof value !== 'string' || text === '' || [...text].length > MAX_REASON_CHARS || !text.isWellFormed() || text.includes('\u0000')) {
    problems.push({ field, message: `must be 1 to ${MAX_REASON_CHARS} characters of text` });
    return null;
  }
  return text;
}

/** Asks a second person to approve work. The request lapses after 7 days without a decision. */
export async function requestApproval(deps: DataDeps, ctx: ActorContext, input: ApprovalInput): Promise<ApprovalView> {
  const requester = requesterId(ctx);
  if (requester === null) throw new AppError('approval.invalid_request', 'Approval is asked for by a user: sign in, or run the command --as the user');
  const problems: FieldProblem[] = [];
  if (!APPROVAL_KINDS.includes(input.kind)) problems.push({ field: 'kind', message: `must be one of ${APPROVAL_KINDS.join(', ')}` });
  if (typeof input.payloadHash !== 'string' || !/^[0-9a-f]{64}$/.test(input.payloadHash)) problems.push({ field: 'payloadHash', message: 'must be a SHA-256 in hex' });
  if (!Number.isSafeInteger(input.recordCount) || input.recordCount < 0) problems.push({ field: 'recordCount', message: 'must be a whole number' });
  if (typeof input.summary !== 'object' || input.summary === null || Array.isArray(input.summary)) problems.push({ field: 'summary', message: 'must be an object' });
  const reason = checkReason(input.reason, 'reason', true, problems);
  if (problems.length > 0 || reason === null) throw new AppError('approval.invalid_request', 'The approval request has invalid fields', problems);
  return inTransaction(deps, async (tx) => {
    const now = tx.clock.now();
    const row: ApprovalRequestsTable = {
      id: newId(now.getTime()),
      kind: input.kind,
      requested_by: requester,
      requested_at: now.toISOString(),
      reason,
      summary: JSON.stringify(input.summary),
      payload_hash: input.payloadHash,
      record_count: input.recordCount,
      status: 'pending',
      decided_by: null,
      decided_at: null,
      decision_note: null,
      expires_at: new Date(now.getTime() + PENDING_DAYS * 86_400_000).toISOString(),
      used_at: null,
      version: 1,
    };
    await insertApproval(tx.db, row);
    await recordAudit(tx, ctx, { action: 'approval.requested', recordType: 'approval_requests', recordIds: [row.id], details: { kind: row.kind, recordCount: row.record_count, summary: input.summary } });
    const view = (await presentApprovals(tx, [row]))[0]!;
    const notice = { ...noticeDetails(tx, row, `${linkBase(tx)}/exports/approvals`), requester: view.requestedBy.name };
    for (const decider of await deciders(tx.db, requester)) await addNotice(tx, decider.id, 'approval.requested', notice, { mail: false });
    return view;
  });
}

/** Approves a pending request: a decider other than the requester, with a recent second factor. The work must follow within 24 hours. */
export async function approveRequest(deps: DataDeps, ctx: ActorContext, id: string, note?: string | null): Promise<ApprovalView> {
  return decide(deps, ctx, id, 'approved', note);
}

/** Denies a pending request: a decider other than the requester. */
export async function denyRequest(deps: DataDeps, ctx: ActorContext, id: string, note?: string | null): Promise<ApprovalView> {
  return decide(deps, ctx, id, 'denied', note);
}

async function decide(deps: DataDeps, ctx: ActorContext, id: string, outcome: 'approved' | 'denied', note: string | null | undefined): Promise<ApprovalView> {
  // The second pair of eyes is a person's: a token skips the second factor and can be scripted, so it
  // decides nothing. The operator at the server's command line holds the keys already and still may.
  if (ctx.principal.kind === 'token') throw new AppError('auth.forbidden', 'Approvals are decided by a person signed in with a recent second factor, not by an API token');
  await requirePermission(deps, ctx, 'approvals.decide', 'Your roles do not allow you to decide approval requests');
  const problems: FieldProblem[] = [];
  const decisionNote = checkReason(note, 'note', false, problems);
  if (problems.length > 0) throw new AppError('approval.invalid_request', 'The decision has invalid fields', problems);
  const found = await findApproval(deps, id);
  const decider = requesterId(ctx);
  // The command-line operator acting as nobody is kept by name, as exports label their requester.
  const decidedBy = decider ?? (ctx.principal.kind === 'cli' ? `${OPERATOR_PREFIX}${ctx.principal.operator}` : null);
  if (decider !== null && decider === found.requested_by) throw new AppError('approval.own_request', 'A request is decided by someone other than the person who made it');
  if (outcome === 'approved') await requireStepUp(deps, ctx);
  return inTransaction(deps, async (tx) => {
    const row = await findApproval(tx, id);
    const now = tx.clock.now();
    const status = effectiveStatus(row, now);
    if (status === 'expired') throw new AppError('approval.expired', 'The request waited too long and has lapsed; it must be asked for again');
    if (status !== 'pending') throw new AppError('approval.not_pending', `The request was already ${status}`);
    const changes = {
      status: outcome,
      decided_by: decidedBy,
      decided_at: now.toISOString(),
      decision_note: decisionNote,
      ...(outcome === 'approved' ? { expires_at: new Date(now.getTime() + APPROVED_HOURS * 3_600_000).toISOString() } : {}),
    } as const;
    if (!(await updateApprovalStatus(tx.db, id, row.version, ['pending'], changes))) throw new AppError('approval.not_pending', 'The request was decided by someone else just now');
    await recordAudit(tx, ctx, { action: `approval.${outcome}`, recordType: 'approval_requests', recordIds: [id], details: { kind: row.kind, recordCount: row.record_count, requestedBy: row.requested_by } });
    const link = row.kind === 'export' ? `${linkBase(tx)}/exports` : '';
    await addNotice(tx, row.requested_by, 'approval.decided', { ...noticeDetails(tx, row, link), outcome }, { mail: false });
    return (await presentApprovals(tx, [{ ...row, ...changes, version: row.version + 1 }]))[0]!;
  });
}

/** Withdraws a request that is pending or approved and not yet used: only its requester. */
export async function cancelRequest(deps: DataDeps, ctx: ActorContext, id: string): Promise<ApprovalView> {
  return inTransaction(deps, async (tx) => {
    const row = await findApproval(tx, id);
    if (requesterId(ctx) !== row.requested_by) {
      // Someone else's request: a decider learns why; anyone else learns nothing.
      if ((await accessOf(tx, ctx)).may('approvals.decide')) throw new AppError('auth.forbidden', 'Only the person who made a request can cancel it; deny it instead');
      throw new AppError('approval.not_found', 'No such approval request');
    }
    const status = effectiveStatus(row, tx.clock.now());
    if (status !== 'pending' && status !== 'approved') throw new AppError('approval.not_pending', `The request was already ${status}`);
    if (!(await updateApprovalStatus(tx.db, id, row.version, ['pending', 'approved'], { status: 'cancelled' }))) throw new AppError('approval.not_pending', 'The request was decided just now');
    await recordAudit(tx, ctx, { action: 'approval.cancelled', recordType: 'approval_requests', recordIds: [id], details: { kind: row.kind, recordCount: row.record_count } });
    return (await presentApprovals(tx, [{ ...row, status: 'cancelled', version: row.version + 1 }]))[0]!;
  });
}

/**
 * Uses an approval, inside the caller's transaction (so the work and the use commit together): the
 * caller's own request, approved, within its time, unused, of this kind and for exactly this
 * payload. Marks it used; a second use is refused.
 */
export async function consumeApproval(tx: DataDeps, ctx: ActorContext, id: string, expected: { kind: ApprovalKind; payloadHash: string }): Promise<ApprovalView> {
  const row = isId(id) ? await selectApproval(tx.db, id) : undefined;
  if (!row || requesterId(ctx) !== row.requested_by) throw new AppError('approval.not_found', 'No such approval request of yours');
  const now = tx.clock.now();
  const status = effectiveStatus(row, now);
  if (status === 'expired') throw new AppError('approval.expired', 'The approval has lapsed; ask for it again');
  if (status !== 'approved') throw new AppError('approval.not_pending', status === 'pending' ? 'The request has not been approved yet' : `The request was ${status}`);
  if (row.kind !== expected.kind || row.payload_hash !== expected.payloadHash) throw new AppError('approval.mismatch', 'The approval was given for different work; ask for approval of this one');
  if (!(await updateApprovalStatus(tx.db, id, row.version, ['approved'], { status: 'used', used_at: now.toISOString() }))) throw new AppError('approval.not_pending', 'The approval was used or withdrawn just now');
  await recordAudit(tx, ctx, { action: 'approval.used', recordType: 'approval_requests', recordIds: [id], details: { kind: row.kind, recordCount: row.record_count } });
  return (await presentApprovals(tx, [{ ...row, status: 'used', used_at: now.toISOString(), version: row.version + 1 }]))[0]!;
}

/** Requests, newest first: a decider sees everyone's (or only their own with `mine`), anyone else only their own. */
export async function listApprovals(deps: DataDeps, ctx: ActorContext, query: ApprovalQuery = {}): Promise<{ items: ApprovalView[]; nextCursor: string | null }> {
  requireScope(ctx, 'approvals', 'read');
  const problems: FieldProblem[] = [];
  if (query.status !== undefined && !APPROVAL_STATUSES.includes(query.status)) problems.push({ field: 'status', message: `must be one of ${APPROVAL_STATUSES.join(', ')}` });
  if (query.kind !== undefined && !APPROVAL_KINDS.includes(query.kind)) problems.push({ field: 'kind', message: `must be one of ${APPROVAL_KINDS.join(', ')}` });
  const limit = query.limit ?? DEFAULT_PAGE;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE) problems.push({ field: 'limit', message: `must be 1 to ${MAX_PAGE}` });
  if (problems.length > 0) throw new AppError('request.invalid_filter', 'The approval list request has invalid parameters', problems);
  const own = requesterId(ctx);
  const decider = (await accessOf(deps, ctx)).may('approvals.decide');
  const now = deps.clock.now().toISOString();
  const filter: ApprovalFilter = { ...(query.kind ? { kind: query.kind } : {}) };
  if (!decider || query.mine) {
    if (own === null) return { items: [], nextCursor: null };
    filter.requestedBy = own;
  }
  if (query.status === 'pending' || query.status === 'approved') Object.assign(filter, { statuses: [query.status], liveAt: now });
  else if (query.status === 'expired') Object.assign(filter, { statuses: ['pending', 'approved', 'expired'], lapsedAt: now });
  else if (query.status !== undefined) filter.statuses = [query.status];
  if (query.cursor !== undefined && query.cursor !== '') filter.before = decodeCursor(query.cursor, CURSOR_KEY).id;
  const rows = await selectApprovals(deps.db, filter, limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { items: await presentApprovals(deps, page), nextCursor: rows.length > limit && last ? encodeCursor(CURSOR_KEY, null, last.id) : null };
}

/** One request: a decider may see any, anyone else only their own. */
export async function getApproval(deps: DataDeps, ctx: ActorContext, id: string): Promise<ApprovalView> {
  requireScope(ctx, 'approvals', 'read');
  const row = await findApproval(deps, id);
  if (requesterId(ctx) !== row.requested_by && !(await accessOf(deps, ctx)).may('approvals.decide')) throw new AppError('approval.not_found', 'No such approval request');
  return (await presentApprovals(deps, [row]))[0]!;
}

/** Several requests by id, as views (for modules that show the approval beside their own resource). */
export async function approvalsByIds(deps: DataDeps, ids: readonly string[]): Promise<Map<string, ApprovalView>> {
  const rows: ApprovalRequestsTable[] = [];
  for (const id of new Set(ids)) {
    const row = await selectApproval(deps.db, id);
    if (row) rows.push(row);
  }
  return new Map((await presentApprovals(deps, rows)).map((v) => [v.id, v]));
}

async function findApproval(deps: DataDeps, id: string): Promise<ApprovalRequestsTable> {
  const row = isId(id) ? await selectApproval(deps.db, id) : undefined;
  if (!row) throw new AppError('approval.not_found', 'No such approval request');
  return row;
}

/** What an approval notice says: figures and the record type, never the reason, note or payload. */
function noticeDetails(deps: DataDeps, row: ApprovalRequestsTable, link: string): Record<string, unknown> {
  const type = (JSON.parse(row.summary) as { type?: unknown }).type;
  return {
    approvalId: row.id,
    kind: row.kind,
    recordCount: Number(row.record_count),
    ...(typeof type === 'string' && (RECORD_TYPES as readonly string[]).includes(type) ? { type } : {}),
    ...(link !== '' && linkBase(deps) !== '' ? { link } : {}),
  };
}

/** The web app's address, for links in notices; empty where the deps carry no configuration. */
function linkBase(deps: DataDeps): string {
  return (deps as DataDeps & { config?: Pick<Config, 'publicUrl'> }).config?.publicUrl ?? '';
}

/** How a decision by the command-line operator is kept in `decided_by`: `operator:<name>`. */
const OPERATOR_PREFIX = 'operator:';

async function presentApprovals(deps: DataDeps, rows: readonly ApprovalRequestsTable[]): Promise<ApprovalView[]> {
  const names = await userNames(deps.db, rows.flatMap((r) => [r.requested_by, ...(r.decided_by && !r.decided_by.startsWith(OPERATOR_PREFIX) ? [r.decided_by] : [])]));
  const now = deps.clock.now();
  // The operator has no user: both id and name read `operator:<name>`.
  const person = (id: string): PersonRef => ({ id, name: id.startsWith(OPERATOR_PREFIX) ? id : (names.get(id) ?? '') });
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    status: effectiveStatus(r, now),
    requestedBy: person(r.requested_by),
    requestedAt: r.requested_at,
    reason: r.reason,
    summary: JSON.parse(r.summary) as Record<string, unknown>,
    recordCount: Number(r.record_count),
    decidedBy: r.decided_by ? person(r.decided_by) : null,
    decidedAt: r.decided_at,
    decisionNote: r.decision_note,
    expiresAt: r.expires_at,
    usedAt: r.used_at,
  }));
}
