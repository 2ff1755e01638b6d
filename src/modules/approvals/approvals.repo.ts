import type { Executor } from '../../db/database.js';
import type { ApprovalKind, ApprovalRequestsTable, ApprovalStatus } from '../../db/schema.js';
import type { RoleDefinition } from '../../policy/model.js';

/** All SQL on approval requests. */

export type { ApprovalKind, ApprovalRequestsTable, ApprovalStatus } from '../../db/schema.js';

export async function insertApproval(db: Executor, row: ApprovalRequestsTable): Promise<void> {
  await db.insertInto('approval_requests').values(row).execute();
}

export async function selectApproval(db: Executor, id: string): Promise<ApprovalRequestsTable | undefined> {
  return db.selectFrom('approval_requests').selectAll().where('id', '=', id).executeTakeFirst();
}

export interface ApprovalFilter {
  /** Stored statuses to include; undefined for all. */
  statuses?: readonly ApprovalStatus[];
  kind?: ApprovalKind;
  requestedBy?: string;
  /** Only requests whose stored status is not yet lapsed by `now` (for pending/approved filters). */
  liveAt?: string;
  /** Only requests that lapsed by `now` while pending or approved. */
  lapsedAt?: string;
  /** Ids below this one (newest first). */
  before?: string;
}

/** Requests, newest first. */
export async function selectApprovals(db: Executor, filter: ApprovalFilter, limit: number): Promise<ApprovalRequestsTable[]> {
  let qb = db.selectFrom('approval_requests').selectAll();
  if (filter.statuses) qb = qb.where('status', 'in', [...filter.statuses]);
  if (filter.kind) qb = qb.where('kind', '=', filter.kind);
  if (filter.requestedBy) qb = qb.where('requested_by', '=', filter.requestedBy);
  if (filter.liveAt) qb = qb.where('expires_at', '>', filter.liveAt);
  if (filter.lapsedAt) qb = qb.where('expires_at', '<=', filter.lapsedAt);
  if (filter.before) qb = qb.where('id', '<', filter.before);
  return qb.orderBy('id', 'desc').limit(limit).execute();
}

/**
 * Moves a request from one stored status to another if it is still at `version` and in `from`;
 * answers whether it was, so two people deciding at once cannot both succeed.
 */
export async function updateApprovalStatus(
  db: Executor,
  id: string,
  version: number,
  from: readonly ApprovalStatus[],
  changes: Partial<Pick<ApprovalRequestsTable, 'status' | 'decided_by' | 'decided_at' | 'decision_note' | 'expires_at' | 'used_at'>>,
): Promise<boolean> {
  const result = await db
    .updateTable('approval_requests')
    .set({ ...changes, version: version + 1 })
    .where('id', '=', id)
    .where('version', '=', version)
    .where('status', 'in', [...from])
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Display names of users by id (a user since deleted has none). */
export async function userNames(db: Executor, ids: readonly string[]): Promise<Map<string, string>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Map();
  const rows = await db.selectFrom('users').select(['id', 'name']).where('id', 'in', unique).execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}


/** Whether a stored role definition grants `approvals.decide`. */
function grantsDecide(definition: string): boolean {
  return ((JSON.parse(definition) as RoleDefinition).permissions ?? []).includes('approvals.decide');
}

/** The active, unlocked users holding a role that grants `approvals.decide`, but `except`. */
export async function deciders(db: Executor, except: string): Promise<{ id: string }[]> {
  const roles = (await db.selectFrom('roles').select(['id', 'definition']).execute()).filter((r) => grantsDecide(r.definition)).map((r) => r.id);
  if (roles.length === 0) return [];
  return db
    .selectFrom('users')
    .innerJoin('user_roles', 'user_roles.user_id', 'users.id')
    .select('users.id')
    .distinct()
    .where('user_roles.role_id', 'in', roles)
    .where('users.status', '=', 'active')
    .where('users.locked_at', 'is', null)
    .where('users.id', '!=', except)
    .orderBy('users.id')
    .execute();
}
