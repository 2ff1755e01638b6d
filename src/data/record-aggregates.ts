import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import type { Access } from '../policy/access.js';
import type { ActorContext } from '../shared/principal.js';
import { accessOf } from './access.js';
import { presentFieldValue, SYSTEM_FIELDS, type FieldDef, type RecordType } from './field-registry.js';
import { applyScope, canRead } from './record-policy.js';
import { hideTrashedAttachments, type DataDeps } from './record-store.js';
import { RECORD_TYPE_DEFS } from './record-types.js';

/**
 * Totals over CRM records for the dashboard: counts and sums of internal fields grouped by
 * internal fields, each limited by `applyScope` exactly as a list of the same type is, so a figure
 * counts only records the principal could list. A figure whose records the principal cannot read
 * at all, or whose grouping or summed field its roles hide or mask, answers null rather than an
 * error, so one refused figure does not take the others with it.
 *
 * No read audit entry is written: the answers hold no personal data (no personal field is ever
 * grouped by or added up, and no record's values leave the database one by one), which is what
 * the read audit exists to account for.
 *
 * One SQL text serves SQLite and PostgreSQL. Datetimes are stored on both as ISO-8601 UTC text
 * (`2025-03-14T09:26:53.000Z`), so a month is the first seven characters and a time bound is a
 * string comparison; `substr` means the same on both, where the date functions (`strftime`,
 * `date_trunc`) differ and would need the text cast first.
 */

type AnySelect = SelectQueryBuilder<any, any, any>;

function anyDb(deps: DataDeps): Kysely<any> {
  return deps.db as unknown as Kysely<any>;
}

function fieldOf(type: RecordType, key: string): FieldDef {
  const def = [...SYSTEM_FIELDS, ...RECORD_TYPE_DEFS[type].fields].find((f) => f.key === key);
  if (!def || !def.column) throw new Error(`${type}.${key} is not a stored field`);
  return def;
}

/**
 * Live records of a type within the read scope, or null when the principal reads none of them or
 * cannot read every field the figure uses in clear.
 */
function readable(deps: DataDeps, access: Access, type: RecordType, fields: readonly FieldDef[]): AnySelect | null {
  if (!fields.every((def) => canRead(access, type, def))) return null;
  const scoped = applyScope(anyDb(deps).selectFrom(`${type} as r`), access, type, 'read');
  // As lists do, records attached to a parent in the trash are not counted either.
  return scoped ? hideTrashedAttachments(scoped.where('r.deleted_at', 'is', null), type) : null;
}

/**
 * The month of an ISO-8601 datetime column, as `YYYY-MM`. The positions are written into the SQL
 * rather than bound: PostgreSQL takes `substr(x, $1, $2)` in the select list and
 * `substr(x, $3, $4)` in GROUP BY for different expressions and refuses the grouping.
 */
function monthOf(column: string) {
  return sql<string>`substr(${sql.ref(column)}, 1, 7)`;
}

/** Live deals of one stage in one currency: how many, and their total amount in major units. */
export interface StageTotal {
  stageId: string;
  currency: string;
  count: number;
  amount: number;
}

/**
 * The value of a pipeline by stage: per stage and currency (amounts in different currencies do not
 * add up), the number of readable deals and the sum of their amounts. Null when the principal
 * cannot read deals or their amount, stage or currency.
 */
export async function dealValueByStage(deps: DataDeps, ctx: ActorContext, pipelineId: string): Promise<StageTotal[] | null> {
  const access = await accessOf(deps, ctx);
  const [stage, currency, amount, pipeline] = ['stageId', 'currency', 'amount', 'pipelineId'].map((key) => fieldOf('deals', key)) as [FieldDef, FieldDef, FieldDef, FieldDef];
  const base = readable(deps, access, 'deals', [stage, currency, amount, pipeline]);
  if (!base) return null;
  const rows = (await base
    .where(`r.${pipeline.column}`, '=', pipelineId)
    .select((eb: any) => [eb.ref(`r.${stage.column}`).as('stage'), eb.ref(`r.${currency.column}`).as('currency'), eb.fn.countAll().as('n'), eb.fn.sum(`r.${amount.column}`).as('total')])
    .groupBy([`r.${stage.column}`, `r.${currency.column}`])
    .execute()) as { stage: string; currency: string | null; n: number | string; total: number | string | null }[];
  return rows.map((row) => ({
    stageId: row.stage,
    currency: row.currency ?? '',
    count: Number(row.n),
    // PostgreSQL answers SUM(bigint) as a numeric string.
    amount: Number(presentFieldValue(amount, row.total === null ? 0 : Number(row.total))),
  }));
}

/** Deals closed in one month. */
export interface MonthOutcome {
  /** `YYYY-MM`, UTC. */
  month: string;
  won: number;
  lost: number;
}

/**
 * Readable deals won and lost per month of their closing, from `since` (an ISO datetime) on; only
 * months with a closed deal appear. Null when the principal cannot read deals or their status or
 * closing time.
 */
export async function dealOutcomesByMonth(deps: DataDeps, ctx: ActorContext, since: string): Promise<MonthOutcome[] | null> {
  const access = await accessOf(deps, ctx);
  const status = fieldOf('deals', 'status');
  const closedAt = fieldOf('deals', 'closedAt');
  const base = readable(deps, access, 'deals', [status, closedAt]);
  if (!base) return null;
  const rows = (await base
    .where(`r.${status.column}`, 'in', ['won', 'lost'])
    .where(`r.${closedAt.column}`, '>=', since)
    .select((eb: any) => [monthOf(`r.${closedAt.column}`).as('month'), eb.ref(`r.${status.column}`).as('status'), eb.fn.countAll().as('n')])
    .groupBy([monthOf(`r.${closedAt.column}`), `r.${status.column}`])
    .execute()) as { month: string; status: 'won' | 'lost'; n: number | string }[];
  const byMonth = new Map<string, MonthOutcome>();
  for (const row of rows) {
    const entry = byMonth.get(row.month) ?? { month: row.month, won: 0, lost: 0 };
    entry[row.status] += Number(row.n);
    byMonth.set(row.month, entry);
  }
  return [...byMonth.values()].sort((a, b) => a.month.localeCompare(b.month));
}

/** How many records hold one value of a field. */
export interface ValueCount {
  value: string;
  count: number;
}

/**
 * Readable live tickets counted by their status or priority. Null when the principal cannot read
 * tickets or that field.
 */
export async function ticketsBy(deps: DataDeps, ctx: ActorContext, key: 'status' | 'priority'): Promise<ValueCount[] | null> {
  const access = await accessOf(deps, ctx);
  const def = fieldOf('tickets', key);
  const base = readable(deps, access, 'tickets', [def]);
  if (!base) return null;
  const rows = (await base
    .select((eb: any) => [eb.ref(`r.${def.column}`).as('value'), eb.fn.countAll().as('n')])
    .groupBy(`r.${def.column}`)
    .execute()) as { value: string | null; n: number | string }[];
  return rows.filter((row) => row.value !== null).map((row) => ({ value: row.value!, count: Number(row.n) }));
}

/** How many activities one user owns. */
export interface OwnerCount {
  ownerId: string;
  count: number;
}

/**
 * Readable live activities created from `since` (an ISO datetime) on, counted by owner. Null when
 * the principal cannot read activities or their owner.
 */
export async function activitiesByOwner(deps: DataDeps, ctx: ActorContext, since: string): Promise<OwnerCount[] | null> {
  const access = await accessOf(deps, ctx);
  const owner = fieldOf('activities', 'ownerId');
  const createdAt = fieldOf('activities', 'createdAt');
  const base = readable(deps, access, 'activities', [owner, createdAt]);
  if (!base) return null;
  const rows = (await base
    .where(`r.${createdAt.column}`, '>=', since)
    .where(`r.${owner.column}`, 'is not', null)
    .select((eb: any) => [eb.ref(`r.${owner.column}`).as('owner'), eb.fn.countAll().as('n')])
    .groupBy(`r.${owner.column}`)
    .execute()) as { owner: string; n: number | string }[];
  return rows.map((row) => ({ ownerId: row.owner, count: Number(row.n) })).sort((a, b) => b.count - a.count);
}
