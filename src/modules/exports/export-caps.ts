import { sql } from 'kysely';
import type { Config } from '../../config/config.js';
import { accessOf } from '../../data/access.js';
import { recordAudit } from '../../data/audit-trail.js';
import { RECORD_TYPES, type RecordType } from '../../data/field-registry.js';
import type { DataDeps } from '../../data/record-store.js';
import type { Executor } from '../../db/database.js';
import { AppError } from '../../shared/errors.js';
import type { ActorContext } from '../../shared/principal.js';

/**
 * How much one person may take away: rows per export, rows per UTC day, and the size above which
 * an export needs a second person's approval. Reading records page by page through the API is
 * taking them away too, so list pages count against the same daily allowance as exports.
 */

export interface ExportCaps {
  /** The most rows one export may hold. */
  maxRows: number;
  /** Rows a user may export, or read through list pages, in a UTC day. */
  dailyRows: number;
  /** Exports of more rows than this need approval. */
  approvalAboveRows: number;
}

/** The shipped defaults, for callers whose deps carry no configuration (the values match config.ts). */
const DEFAULT_CAPS: ExportCaps = { maxRows: 100_000, dailyRows: 100_000, approvalAboveRows: 1_000 };

/** The configured caps, for roles that set none of their own. */
export function configuredCaps(deps: object): ExportCaps {
  const config = (deps as { config?: Config }).config;
  if (!config) return DEFAULT_CAPS;
  return { maxRows: config.exports.maxRows, dailyRows: config.exports.dailyRows, approvalAboveRows: config.exports.approvalRows };
}

/**
 * The caller's caps for exporting (`export`) or reading list pages of (`read`) a record type: for
 * each, the most generous of the roles that grant that action on the type (such a role that sets
 * none counts with the configured value). Roles that do not grant it have no say, so an unrelated
 * role cannot loosen a stricter one. Null for the command-line operator and the server's jobs, who
 * are not capped; a user with no such role gets the configured values.
 */
export async function exportCapsOf(deps: DataDeps, ctx: ActorContext, type: RecordType, action: 'export' | 'read'): Promise<ExportCaps | null> {
  const limits = (await accessOf(deps, ctx)).exportLimits(type, action);
  if (limits === null) return null;
  const base = configuredCaps(deps);
  if (limits.length === 0) return base;
  return {
    maxRows: Math.max(...limits.map((l) => l.maxRows ?? base.maxRows)),
    dailyRows: Math.max(...limits.map((l) => l.dailyRows ?? base.dailyRows)),
    approvalAboveRows: Math.max(...limits.map((l) => l.approvalAboveRows ?? base.approvalAboveRows)),
  };
}

/** The UTC day a time falls on, as the tallies key it: 2026-12-03. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** The user whose reading is tallied: a signed-in user or a token's owner; nobody for the operator or jobs. */
function talliedUser(ctx: ActorContext): string | null {
  const p = ctx.principal;
  return p.kind === 'user' || p.kind === 'token' ? p.userId : null;
}

/** Rows a user exported and read through list pages on a day. */
export async function takenToday(db: Executor, userId: string, day: string): Promise<number> {
  const row = await db.selectFrom('export_tallies').select(['exported_rows', 'read_rows']).where('user_id', '=', userId).where('day', '=', day).executeTakeFirst();
  return row ? Number(row.exported_rows) + Number(row.read_rows) : 0;
}

/**
 * Adds exported rows to a user's day (inside the export's transaction) and answers the day's new
 * total, exported and read. One upsert: on PostgreSQL it locks the day's row until the transaction
 * ends, so downloads at once add up one after another; the caller refuses, by rolling back, a total
 * past the cap.
 */
export async function addExportedRows(db: Executor, userId: string, day: string, rows: number): Promise<number> {
  const row = await db
    .insertInto('export_tallies')
    .values({ user_id: userId, day, exported_rows: rows, read_rows: 0 })
    .onConflict((oc) => oc.columns(['user_id', 'day']).doUpdateSet({ exported_rows: sql<number>`export_tallies.exported_rows + ${rows}` }))
    .returning(['exported_rows', 'read_rows'])
    .executeTakeFirst();
  return Number(row?.exported_rows ?? 0) + Number(row?.read_rows ?? 0);
}

/**
 * Counts a list page against the reader's daily allowance: one upsert that answers the day's new
 * total. A page that takes the total past the cap is refused (and audited), so reading a table
 * page by page cannot take more than an export could. The operator and jobs are not counted.
 */
export async function tallyListRead<P extends { items: readonly unknown[] }>(deps: DataDeps, ctx: ActorContext, page: P, type?: RecordType): Promise<P> {
  const userId = talliedUser(ctx);
  const rows = page.items.length;
  if (userId === null || rows === 0) return page;
  const day = utcDay(deps.clock.now());
  const row = await deps.db
    .insertInto('export_tallies')
    .values({ user_id: userId, day, exported_rows: 0, read_rows: rows })
    .onConflict((oc) => oc.columns(['user_id', 'day']).doUpdateSet({ read_rows: sql<number>`export_tallies.read_rows + ${rows}` }))
    .returning(['exported_rows', 'read_rows'])
    .executeTakeFirst();
  const total = Number(row?.exported_rows ?? 0) + Number(row?.read_rows ?? 0);
  // The roles were loaded for the list already (accessOf keeps them for the request): no further query.
  const caps = await listReadCaps(deps, ctx, type);
  if (caps === null || total <= caps.dailyRows) return page;
  await recordAudit(deps, ctx, { action: 'export.cap_reached', outcome: 'denied', details: { via: 'list', rows, dailyRows: caps.dailyRows } });
  throw new AppError('export.daily_cap_reached', `Reading this many records in a day counts as an export, and your daily allowance of ${caps.dailyRows.toLocaleString('en-US')} rows is used up; narrow what you read, or request an export`);
}


/**
 * The caps that bound reading a type's list pages; without the type, the least generous daily
 * allowance over the types the caller reads, so no role can loosen it for a type it does not read.
 */
async function listReadCaps(deps: DataDeps, ctx: ActorContext, type: RecordType | undefined): Promise<ExportCaps | null> {
  if (type !== undefined) return exportCapsOf(deps, ctx, type, 'read');
  const access = await accessOf(deps, ctx);
  let strictest: ExportCaps | null = null;
  for (const each of RECORD_TYPES) {
    if (access.exportLimits(each, 'read')?.length === 0) continue;
    const caps = await exportCapsOf(deps, ctx, each, 'read');
    if (caps === null) return null;
    if (strictest === null || caps.dailyRows < strictest.dailyRows) strictest = caps;
  }
  return strictest ?? configuredCaps(deps);
}
