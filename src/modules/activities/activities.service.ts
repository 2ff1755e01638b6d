import { plainRecordService, type RecordService, type ServiceListQuery } from '../../data/record-service.js';
import { createRecord, getRecord, inTransaction, listRecords, updateRecord, type DataDeps, type RecordInput, type RecordPage, type RecordView, type RangeFilter } from '../../data/record-store.js';
import { AppError } from '../../shared/errors.js';
import { isId } from '../../shared/ids.js';
import type { ActorContext } from '../../shared/principal.js';
import { RELATED_TYPES } from './activities.fields.js';

/** The "my tasks" views of the activity list: open activities by when they are due. */
export const DUE_VIEWS = ['overdue', 'today', 'upcoming'] as const;
export type DueView = (typeof DUE_VIEWS)[number];

/** Creates an activity; one attached to a record must name a live record of a type that takes activities. */
export async function createActivity(deps: DataDeps, ctx: ActorContext, input: RecordInput): Promise<RecordView> {
  return inTransaction(deps, async (tx) => {
    await checkRelated(tx, ctx, input.relatedType ?? null, input.relatedId ?? null);
    return createRecord(tx, ctx, 'activities', input);
  });
}

/** Updates an activity; moving it to another record checks that record as on create. */
export async function updateActivity(deps: DataDeps, ctx: ActorContext, id: string, version: number, input: RecordInput): Promise<RecordView> {
  return inTransaction(deps, async (tx) => {
    if (input.relatedType !== undefined || input.relatedId !== undefined) {
      const current = await getRecord(tx, ctx, 'activities', id, { audited: false });
      await checkRelated(tx, ctx, input.relatedType === undefined ? current.relatedType : input.relatedType, input.relatedId === undefined ? current.relatedId : input.relatedId);
    }
    return updateRecord(tx, ctx, 'activities', id, version, input);
  });
}

/**
 * Lists activities. The `due` parameter narrows to open ones (no `completedAt`) that are overdue,
 * due today, or due after today, in the caller's `timeZone` (an IANA name, UTC by default), sorted
 * by due time unless another sort is asked for. Combine with `ownerId` and `kind=task` for "my tasks".
 */
export async function listActivities(deps: DataDeps, ctx: ActorContext, query: ServiceListQuery): Promise<RecordPage> {
  const { parameters = {}, ...rest } = query;
  const due = parameters.due;
  if (due === undefined) {
    if (parameters.timeZone !== undefined) throw new AppError('request.invalid_filter', 'timeZone goes with due');
    return listRecords(deps, ctx, 'activities', rest);
  }
  if (!(DUE_VIEWS as readonly string[]).includes(due)) throw new AppError('request.invalid_filter', `due must be one of: ${DUE_VIEWS.join(', ')}`);
  const now = deps.clock.now();
  const { start, end } = localDayBounds(now, parameters.timeZone ?? 'UTC');
  const bounds: Record<DueView, RangeFilter[]> = {
    overdue: [{ key: 'dueAt', op: 'lt', value: now.toISOString() }],
    today: [
      { key: 'dueAt', op: 'gte', value: start.toISOString() },
      { key: 'dueAt', op: 'lt', value: end.toISOString() },
    ],
    upcoming: [{ key: 'dueAt', op: 'gte', value: end.toISOString() }],
  };
  return listRecords(deps, ctx, 'activities', {
    ...rest,
    sort: rest.sort ?? 'dueAt',
    filters: { ...rest.filters, completedAt: '' },
    ranges: [...(rest.ranges ?? []), ...bounds[due as DueView]],
  });
}

export const activityService: RecordService = plainRecordService('activities', { create: createActivity, update: updateActivity, list: listActivities });

/**
 * `relatedType` and `relatedId` go together, and the record they name must exist outside the trash.
 * Malformed values are left for the store, which names the field.
 */
async function checkRelated(deps: DataDeps, ctx: ActorContext, relatedType: unknown, relatedId: unknown): Promise<void> {
  const hasType = relatedType !== null && relatedType !== '';
  const hasId = relatedId !== null && relatedId !== '';
  if (hasType !== hasId) {
    throw new AppError('activity.invalid_related', 'relatedType and relatedId go together: give both or neither', [{ field: hasType ? 'relatedId' : 'relatedType', message: 'is required with the other' }]);
  }
  if (!hasType || !(RELATED_TYPES as readonly unknown[]).includes(relatedType) || !isId(relatedId)) return;
  try {
    await getRecord(deps, ctx, relatedType as (typeof RELATED_TYPES)[number], relatedId, { audited: false });
  } catch (error) {
    if (error instanceof AppError && error.code === 'record.not_found') {
      throw new AppError('activity.invalid_related', 'The related record does not exist or is in the trash', [{ field: 'relatedId', message: 'does not name a live record of relatedType' }]);
    }
    throw error;
  }
}

/**
 * The start and end (exclusive) of the calendar day containing `now` in `timeZone`, as instants.
 * Days are not always 24 hours long, so each edge is found on its own.
 */
export function localDayBounds(now: Date, timeZone: string): { start: Date; end: Date } {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
  } catch {
    throw new AppError('request.invalid_filter', 'timeZone must be an IANA time zone such as Asia/Shanghai');
  }
  const offsetAt = (instant: number): number => {
    const parts = Object.fromEntries(format.formatToParts(new Date(instant)).map((p) => [p.type, Number(p.value)]));
    const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
    return wall - Math.floor(instant / 1000) * 1000;
  };
  // A wall-clock time to an instant: guess with the offset at the guess, then correct once for a
  // daylight-saving change between the guess and the answer.
  const instantOf = (wall: number): Date => {
    const guess = wall - offsetAt(wall);
    return new Date(wall - offsetAt(guess));
  };
  const local = new Date(now.getTime() + offsetAt(now.getTime()));
  const midnight = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate());
  return { start: instantOf(midnight), end: instantOf(midnight + 86_400_000) };
}
