import { RECORD_TYPES, type RecordType } from '../../data/field-registry.js';
import { requirePermission } from '../../data/access.js';
import { countTrash, listTrashEntries, listTrashPage, purgeRecords, purgeTrashedBefore, type PurgeReason, type PurgeResult, type TrashEntry } from '../../data/record-store.js';
import { AppError } from '../../shared/errors.js';
import type { ActorContext } from '../../shared/principal.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { lastJobRun, userNames } from './trash.repo.js';

/**
 * The trash: what it holds, and removing records from it for good. A deleted record stays in the
 * trash, restorable, for `RAMPART_TRASH_RETENTION_DAYS`; then the retention job purges it. People
 * holding `trash.purge` may purge earlier. The rules (scope, what goes with a record, audit) live in
 * the record store; this module adds the limits of a request and the retention's arithmetic.
 */

const DAY_MS = 86_400_000;
/** The most records one purge request names. */
export const MAX_PURGE_IDS = 1000;
/** The job name of the retention purge, in job_leases. */
export const RETENTION_JOB = 'trash-retention';

export interface TrashTypeSummary {
  type: RecordType;
  /** Records of the type in the trash that the caller may read. */
  count: number;
  /** When the record longest in the trash went there; null when empty. */
  oldestDeletedAt: string | null;
  /** When that record is purged automatically; null when empty. */
  nextPurgeAt: string | null;
  /** Whole days until then (0: at the next run of the retention job); null when empty. */
  daysUntilPurge: number | null;
}

export interface TrashSummary {
  retentionDays: number;
  /** When the retention job last finished a run, by any server process; null before the first. */
  lastRetentionRunAt: string | null;
  types: TrashTypeSummary[];
}

/** Counts per record type the caller may read, with the oldest deletion and when it will be purged. */
export async function trashSummary(deps: AuthDeps, ctx: ActorContext): Promise<TrashSummary> {
  const retentionDays = deps.config.trashRetentionDays;
  const now = deps.clock.now().getTime();
  const counts = await countTrash(deps, ctx);
  return {
    retentionDays,
    lastRetentionRunAt: await lastJobRun(deps.db, RETENTION_JOB),
    types: counts.map((c) => {
      if (c.oldestDeletedAt === null) return { ...c, nextPurgeAt: null, daysUntilPurge: null };
      const due = new Date(c.oldestDeletedAt).getTime() + retentionDays * DAY_MS;
      return { ...c, nextPurgeAt: new Date(due).toISOString(), daysUntilPurge: Math.max(0, Math.ceil((due - now) / DAY_MS)) };
    }),
  };
}

/** Purges the named records of one type from the trash, all or none (see purgeRecords). */
export async function purgeFromTrash(deps: AuthDeps, ctx: ActorContext, type: RecordType, ids: readonly string[]): Promise<PurgeResult> {
  if (!(RECORD_TYPES as readonly string[]).includes(type)) throw new AppError('trash.invalid_request', `type must be one of ${RECORD_TYPES.join(', ')}`, [{ field: 'type', message: 'is not a record type' }]);
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_PURGE_IDS) throw new AppError('trash.invalid_request', `Name 1 to ${MAX_PURGE_IDS} records to purge`, [{ field: 'ids', message: `must hold 1 to ${MAX_PURGE_IDS} ids` }]);
  return purgeRecords(deps, ctx, type, ids, { reason: 'manual' });
}

export interface ExpiredPurge {
  /** Records deleted before this time were purged. */
  before: string;
  /** Records purged per type, counting those named by type only (not what went with them). */
  purged: Partial<Record<RecordType, number>>;
  /** Records attached to them that went with them. */
  attached: number;
  /** Records whose reference to a purged record was emptied. */
  unlinked: number;
  /** Whether the run stopped early (the lease was lost, or the process is stopping). */
  interrupted: boolean;
}

export interface ExpiredPurgeOptions {
  /** Only this type; every type the principal may delete otherwise. */
  type?: RecordType;
  /** Purge what went to the trash more than this many days ago; 0 empties the trash. */
  olderThanDays: number;
  reason: PurgeReason;
  /** Records per transaction. */
  batchSize?: number;
  /** Asked after each batch; false stops the run (a lost lease, a stopping server). */
  keepGoing?: () => Promise<boolean>;
}

// Parents first: their attachments go with them rather than in batches of their own.
const PURGE_ORDER: readonly RecordType[] = ['companies', 'contacts', 'leads', 'deals', 'tickets', 'activities'];

/**
 * Purges the records that went to the trash more than `olderThanDays` ago, in batches of one
 * transaction each, oldest first: the retention job's work, and `rampart trash purge`'s. Each batch
 * is audited `record.purge` with its ids and the reason.
 */
export async function purgeExpiredTrash(deps: AuthDeps, ctx: ActorContext, options: ExpiredPurgeOptions): Promise<ExpiredPurge> {
  if (!Number.isInteger(options.olderThanDays) || options.olderThanDays < 0 || options.olderThanDays > 36_500) {
    throw new AppError('trash.invalid_request', 'The age must be a whole number of days from 0 to 36500');
  }
  const access = await requirePermission(deps, ctx, 'trash.purge', 'Your roles do not allow you to purge records from the trash');
  const before = new Date(deps.clock.now().getTime() - options.olderThanDays * DAY_MS);
  const batchSize = options.batchSize ?? 200;
  const types = options.type ? [options.type] : PURGE_ORDER.filter((type) => access.scope(type, 'delete') !== null);
  const result: ExpiredPurge = { before: before.toISOString(), purged: {}, attached: 0, unlinked: 0, interrupted: false };
  for (const type of types) {
    for (;;) {
      const batch = await purgeTrashedBefore(deps, ctx, type, before, { limit: batchSize, reason: options.reason });
      if (batch.purged > 0) result.purged[type] = (result.purged[type] ?? 0) + batch.purged;
      result.attached += batch.attached;
      result.unlinked += batch.unlinked;
      if (batch.purged < batchSize) break;
      if (options.keepGoing && !(await options.keepGoing())) {
        result.interrupted = true;
        return result;
      }
    }
  }
  return result;
}

/** A page of what is in one type's trash, ids and times only, longest there first, with when each is purged. */
export async function listTrash(deps: AuthDeps, ctx: ActorContext, type: RecordType, limit = 200): Promise<{ items: (TrashEntry & { purgeAt: string })[]; more: boolean }> {
  const page = await listTrashEntries(deps, ctx, type, { limit });
  const keep = deps.config.trashRetentionDays * DAY_MS;
  return { items: page.items.map((e) => ({ ...e, purgeAt: new Date(new Date(e.deletedAt).getTime() + keep).toISOString() })), more: page.more };
}

/** The fields a record is called by in lists and headings, joined with a space: a person's names, a company's or deal's name, a subject. */
export const TITLE_FIELDS: Readonly<Record<RecordType, readonly string[]>> = {
  companies: ['name'],
  contacts: ['firstName', 'lastName'],
  leads: ['firstName', 'lastName'],
  deals: ['name'],
  activities: ['subject'],
  tickets: ['subject'],
};

/** Who moved a record to the trash: a user's id and display name (empty for a user since removed). */
export interface Deleter {
  id: string;
  name: string;
}

export interface TrashItem {
  id: string;
  /** Its owner and team, so a screen offers restore and purge only where the caller's scope reaches. */
  ownerId: string | null;
  teamId: string | null;
  /** The record's title as lists show it to the caller: masked when their roles mask it, empty when hidden or blank. */
  title: string;
  deletedAt: string;
  /** Null when the system or the command-line operator deleted it. */
  deletedBy: Deleter | null;
  /** When the retention job purges it. */
  purgeAt: string;
}

export interface TrashPage {
  items: TrashItem[];
  nextCursor: string | null;
}

/** The most items one page of the trash holds. */
export const MAX_TRASH_PAGE = 200;

/**
 * A page of one type's trash for the caller, longest there first: each record's title through the
 * record store's list path (scope, masking, a read entry for the names it answers), when and by
 * whom it was deleted, and when it will be purged. The same right as `?trash=true` lists.
 */
export async function trashPage(deps: AuthDeps, ctx: ActorContext, type: RecordType, query: { limit?: number; cursor?: string } = {}): Promise<TrashPage> {
  if (!(RECORD_TYPES as readonly string[]).includes(type)) throw new AppError('trash.invalid_request', `type must be one of ${RECORD_TYPES.join(', ')}`, [{ field: 'type', message: 'is not a record type' }]);
  const limit = query.limit ?? 50;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_TRASH_PAGE) throw new AppError('request.invalid_filter', `limit must be 1 to ${MAX_TRASH_PAGE}`, [{ field: 'limit', message: `must be 1 to ${MAX_TRASH_PAGE}` }]);
  const titleFields = TITLE_FIELDS[type];
  const page = await listTrashPage(deps, ctx, type, { limit, fields: titleFields, ...(query.cursor !== undefined ? { cursor: query.cursor } : {}) });
  const names = await userNames(deps.db, page.items.flatMap((view) => (view.deletedBy ? [view.deletedBy] : [])));
  const keep = deps.config.trashRetentionDays * DAY_MS;
  return {
    items: page.items.map((view) => {
      const deletedAt = String(view.deletedAt);
      return {
        id: view.id,
        ownerId: (view.ownerId as string | null | undefined) ?? null,
        teamId: (view.teamId as string | null | undefined) ?? null,
        title: titleFields.map((key) => view[key]).filter((part): part is string => typeof part === 'string' && part !== '').join(' '),
        deletedAt,
        deletedBy: view.deletedBy ? { id: view.deletedBy, name: names.get(view.deletedBy) ?? '' } : null,
        purgeAt: new Date(new Date(deletedAt).getTime() + keep).toISOString(),
      };
    }),
    nextCursor: page.nextCursor,
  };
}
