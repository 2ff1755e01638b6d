import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import type { Dialect, Executor } from '../db/database.js';
import { isForeignKeyViolation } from '../db/database.js';
import type { Clock } from '../shared/clock.js';
import { AppError, type FieldProblem } from '../shared/errors.js';
import { newId, newIdAt, isId } from '../shared/ids.js';
import { actingUserId, type ActorContext } from '../shared/principal.js';
import {
  RECORD_TYPES,
  SYSTEM_FIELDS,
  decodeCustomValue,
  encodeCustomValue,
  isPersonal,
  isRangeField,
  parseFieldValue,
  presentFieldValue,
  RANGE_OPERATORS,
  type FieldDef,
  type RangeOperator,
  type RecordType,
  type RecordTypeDef,
  type ReferenceTarget,
} from './field-registry.js';
import { RECORD_TYPE_DEFS } from './record-types.js';
import { loadCustomFieldDefs } from './custom-field-defs.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { termsForQuery } from './search-terms.js';
import { indexDocuments, matchesTerms, reindexDocument, removeDocuments, type QueryTerm } from '../db/search-index.js';
import { insertMany } from '../db/insert-many.js';
import type { Keyring } from '../crypto/keyring.js';
import { blindOf, openRows, queryTokens, sealNewRows, sealUpdate, type RowToSeal, type ValueDigests } from './record-sealing.js';
import { recordAudit, type AuditEvent } from './audit-trail.js';
import { indexKeys, inTransaction, type IndexKeys } from './keys.js';

export { inTransaction };
import { normalizeForIndex } from '../crypto/blind-index.js';
import type { Access } from '../policy/access.js';
import type { Action } from '../policy/model.js';
import { accessOf, requirePermission } from './access.js';
import { requireStepUp } from './step-up.js';
import { applyScope, requireInScope, requireReadable, rowInScope, searchReach, shapeView, unwritableFields } from './record-policy.js';

/**
 * The protected data layer. Every read and write of a CRM record, from the API, the CLI, imports,
 * exports and jobs, goes through these functions; they are where validation, policy, encryption
 * and audit apply, so no caller can forget them.
 */
export interface DataDeps {
  readonly db: Executor;
  readonly dialect: Dialect;
  readonly clock: Clock;
  /** The keys that seal and open personal values. */
  readonly keyring: Keyring;
}

/** A record as the API shows it: camelCase fields, custom fields and tags. */
export type RecordView = Record<string, unknown> & { id: string; version: number };

export interface RecordInput {
  [key: string]: unknown;
  customFields?: Record<string, unknown>;
  tagIds?: unknown;
}

export interface ListQuery {
  limit?: number;
  cursor?: string;
  sort?: string;
  q?: string;
  /** Exact-match filters by field key; custom fields as `custom.<key>`. */
  filters?: Record<string, string>;
  /** Bounds on ordered fields, all of which must hold. */
  ranges?: RangeFilter[];
  /** List the trash instead of live records. */
  trash?: boolean;
  /** What the list is for: `export` reaches the records the export action's scope allows. */
  purpose?: Extract<Action, 'read' | 'export'>;
}

/** `dueAt[lt]=2030-01-01T00:00:00Z` as data: a bound on a sortable date, time or number field. */
export interface RangeFilter {
  key: string;
  op: RangeOperator;
  value: string;
}

/** Totals per group of live records, for boards and dashboards. */
export interface SummaryQuery {
  /** Keys of the fields to group by; each must be filterable and not personal. */
  groupBy: string[];
  /** Key of a numeric field to add up per group. */
  sum?: string;
  filters?: Record<string, string>;
  ranges?: RangeFilter[];
}

export interface SummaryRow {
  /** The group's values by field key, as the API shows them. */
  group: Record<string, unknown>;
  count: number;
  /** The total of the `sum` field, or null when none was asked for. */
  sum: number | null;
}

export interface RecordPage {
  items: RecordView[];
  nextCursor: string | null;
}

/** The full field set of a record type: built-in fields plus the custom fields defined now. */
export interface RecordSchema {
  readonly def: RecordTypeDef;
  readonly fields: readonly FieldDef[];
  readonly custom: readonly FieldDef[];
}

const MAX_LIMIT = 200;
const DEFAULT_LIMIT = 25;
const MAX_RANGES = 20;
const INSERT_CHUNK = 200;
// Rows per multi-row INSERT of three-column side rows (search terms, custom values): well under
// the bind-parameter limits of both databases, and few statements for a bulk load.
const SIDE_ROW_CHUNK = 2000;

function anyDb(deps: DataDeps): Kysely<any> {
  return deps.db as unknown as Kysely<any>;
}

export async function recordSchema(deps: DataDeps, type: RecordType): Promise<RecordSchema> {
  const def = RECORD_TYPE_DEFS[type];
  const custom = await loadCustomFieldDefs(deps.db, type);
  return { def, fields: def.fields, custom };
}

/** A record type's fields as the principal sees them: those its roles hide are left out (for export headers, forms). */
export async function visibleSchema(deps: DataDeps, ctx: ActorContext, type: RecordType): Promise<RecordSchema> {
  const access = await accessOf(deps, ctx);
  const schema = await recordSchema(deps, type);
  const shown = (def: FieldDef) => access.fieldRule(type, def) !== 'hidden';
  return { def: schema.def, fields: schema.fields.filter(shown), custom: schema.custom.filter(shown) };
}

// ---- Reads -------------------------------------------------------------------------------------

/**
 * One record, as the principal may see it. A record outside its read scope answers exactly as one
 * that does not exist. `raw` leaves masked and hidden fields as stored, for services that copy
 * values from one record to another (lead conversion); the caller never sees that view.
 */
export async function getRecord(deps: DataDeps, ctx: ActorContext, type: RecordType, id: string, options: ReadOptions & { includeDeleted?: boolean; raw?: boolean } = {}): Promise<RecordView> {
  const access = await accessOf(deps, ctx);
  const schema = await recordSchema(deps, type);
  const row = isId(id) ? await findRow(deps, access, type, id, options.includeDeleted ?? false) : undefined;
  if (!row) throw notFound(schema.def);
  const [view] = await presentRows(deps, schema, [row]);
  if (options.raw) return view!;
  if (options.audited !== false) await auditRead(deps, ctx, access, schema, [row], 'record.read', 'open');
  return shapeView(access, schema, view!);
}

/**
 * Reads answer what they return to the audit log by default. A service reading a record for its
 * own checks, which the caller never sees, says `audited: false`; forgetting to records too much,
 * never too little.
 */
export interface ReadOptions {
  audited?: boolean;
}

export async function listRecords(deps: DataDeps, ctx: ActorContext, type: RecordType, query: ListQuery = {}, options: ReadOptions = {}): Promise<RecordPage> {
  const page = await listPage(deps, ctx, type, query);
  if (options.audited !== false) await auditRead(deps, ctx, page.access, page.schema, page.rows, query.purpose === 'export' ? 'record.export' : 'record.read', query.purpose === 'export' ? 'export' : 'list');
  return { items: page.items, nextCursor: page.nextCursor };
}

async function listPage(deps: DataDeps, ctx: ActorContext, type: RecordType, query: ListQuery): Promise<RecordPage & { access: Access; schema: RecordSchema; rows: Record<string, unknown>[] }> {
  const access = await accessOf(deps, ctx);
  const schema = await recordSchema(deps, type);
  requireAction(access, schema.def, query.purpose ?? 'read');
  const limit = Math.min(Math.max(Math.trunc(query.limit ?? DEFAULT_LIMIT), 1), MAX_LIMIT);
  const sort = resolveSort(schema, query.sort ?? schema.def.defaultSort);
  requireReadable(access, type, sort.def, 'request.invalid_sort', 'sort by');
  const plan = await planFilters(deps, access, schema, query.filters ?? {});

  let base = scoped(anyDb(deps).selectFrom(`${type} as r`).selectAll('r'), access, schema.def, query.purpose ?? 'read');
  base = query.trash ? base.where('r.deleted_at', 'is not', null) : hideTrashedAttachments(base.where('r.deleted_at', 'is', null), type);
  base = plan.apply(base);
  base = applyRanges(base, access, schema, query.ranges ?? []);
  if (query.q !== undefined && query.q.trim() !== '') base = await applySearch(deps, access, base, schema, query.q);
  if (isPersonal(sort.def)) {
    const page = await listSortedInMemory(deps, schema, base, sort, plan, limit, query.cursor);
    return { items: page.items.map((view) => shapeView(access, schema, view)), nextCursor: page.nextCursor, access, schema, rows: page.rows };
  }

  let cursor = query.cursor === undefined ? null : decodeCursor(query.cursor, sort.key);
  if (cursor && !cursorValueFits(sort.def, cursor.value)) throw new AppError('request.invalid_cursor', 'The cursor is not valid for this list; start again without it');
  const direction = sort.descending ? 'desc' : 'asc';
  // Filters on personal fields match blind-index buckets; the candidates are opened and only true
  // matches kept, reading on in larger steps until the page is full.
  const step = plan.verify.length > 0 ? Math.max(limit + 1, 200) : limit + 1;
  const page: { row: Record<string, unknown>; view: RecordView }[] = [];
  let more = false;
  for (;;) {
    let qb = cursor ? applyKeyset(base, sort, cursor.value, cursor.id, deps.dialect === 'postgres') : base;
    qb = qb.orderBy(`r.${sort.column}`, direction).orderBy('r.id', direction).limit(step);
    const rows = (await qb.execute()) as Record<string, unknown>[];
    if (plan.verify.length === 0) {
      more = rows.length > limit;
      const shown = rows.slice(0, limit);
      const views = await presentRows(deps, schema, shown);
      views.forEach((view, i) => page.push({ row: shown[i]!, view }));
      break;
    }
    const last = rows.at(-1);
    const lastPosition = last ? { value: (last[sort.column] ?? null) as string | number | null, id: String(last.id) } : null;
    const views = await presentRows(deps, schema, rows);
    for (let i = 0; i < views.length && !more; i++) {
      if (!plan.verify.every((check) => check(views[i]!))) continue;
      if (page.length === limit) more = true;
      else page.push({ row: rows[i]!, view: views[i]! });
    }
    if (more || rows.length < step || !lastPosition) break;
    cursor = lastPosition;
  }
  const lastShown = page.at(-1);
  return {
    items: page.map((p) => shapeView(access, schema, p.view)),
    nextCursor: more && lastShown ? encodeCursor(sort.key, (lastShown.row[sort.column] as string | number | null) ?? null, String(lastShown.row.id)) : null,
    access,
    schema,
    rows: page.map((p) => p.row),
  };
}

/** How many records a list may hold for a sort by a personal field, which happens after decryption. */
const MAX_IN_MEMORY_SORT = 10_000;

/**
 * A list sorted by a personal field: the database cannot order sealed values, so the filtered
 * records are opened and sorted here, and the cursor carries a position instead of a value (which
 * would put personal data in URLs). Refused, with a 400 asking for a narrower filter, above
 * 10,000 records.
 */
async function listSortedInMemory(deps: DataDeps, schema: RecordSchema, base: AnySelect, sort: ResolvedSort, plan: FilterPlan, limit: number, rawCursor: string | undefined): Promise<RecordPage & { rows: Record<string, unknown>[] }> {
  let offset = 0;
  if (rawCursor !== undefined) {
    const cursor = decodeCursor(rawCursor, sort.key);
    if (typeof cursor.value !== 'number' || !Number.isSafeInteger(cursor.value) || cursor.value < 1) throw new AppError('request.invalid_cursor', 'The cursor is not valid for this list; start again without it');
    offset = cursor.value;
  }
  const counted = (await base.clearSelect().select((eb: any) => eb.fn.countAll().as('n')).executeTakeFirst()) as { n: number | string } | undefined;
  const total = Number(counted?.n ?? 0);
  if (total > MAX_IN_MEMORY_SORT) {
    throw new AppError('request.invalid_sort', `${sort.def.label} is encrypted and is sorted after decryption, which needs a list of at most ${MAX_IN_MEMORY_SORT.toLocaleString('en-US')} records; this one has ${total.toLocaleString('en-US')}. Narrow it with filters or a search, or sort by another field`);
  }
  const rows = (await base.orderBy('r.id').execute()) as Record<string, unknown>[];
  const presented = await presentRows(deps, schema, rows);
  const rowOf = new Map(presented.map((view, i) => [view, rows[i]!]));
  const views = presented.filter((view) => plan.verify.every((check) => check(view)));
  const collator = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true });
  const direction = sort.descending ? -1 : 1;
  views.sort((a, b) => {
    const x = a[sort.def.key];
    const y = b[sort.def.key];
    // Empty values go last whichever the direction, as they do for plain fields on PostgreSQL.
    if (x === null || x === undefined || y === null || y === undefined) {
      if (x === y || (x == null && y == null)) return a.id < b.id ? -direction : a.id > b.id ? direction : 0;
      return x == null ? 1 : -1;
    }
    const order = collator.compare(String(x), String(y)) * direction;
    return order !== 0 ? order : a.id < b.id ? -direction : a.id > b.id ? direction : 0;
  });
  const items = views.slice(offset, offset + limit);
  const next = offset + limit;
  return { items, nextCursor: next < views.length && items.length > 0 ? encodeCursor(sort.key, next, items.at(-1)!.id) : null, rows: items.map((view) => rowOf.get(view)!) };
}

/** Walks every page of a list; exports and jobs use it so they read through the same layer. */
export async function* iterateRecords(deps: DataDeps, ctx: ActorContext, type: RecordType, query: Omit<ListQuery, 'cursor' | 'limit'> = {}, options: ReadOptions = {}): AsyncGenerator<RecordView> {
  let cursor: string | undefined;
  do {
    const page = await listRecords(deps, ctx, type, { ...query, limit: MAX_LIMIT, ...(cursor ? { cursor } : {}) }, options);
    yield* page.items;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
}

export async function countRecords(deps: DataDeps, ctx: ActorContext, type: RecordType, filters: Record<string, string> = {}): Promise<number> {
  const access = await accessOf(deps, ctx);
  const schema = await recordSchema(deps, type);
  requireAction(access, schema.def, 'read');
  const plan = await planFilters(deps, access, schema, filters);
  if (plan.verify.length > 0) {
    // Blind-index buckets hold other records too: only opening the candidates gives the count.
    let n = 0;
    for await (const _ of iterateRecords(deps, ctx, type, { filters }, { audited: false })) n += 1;
    return n;
  }
  let qb = scoped(anyDb(deps).selectFrom(`${type} as r`).select((eb) => eb.fn.countAll().as('n')), access, schema.def, 'read');
  qb = hideTrashedAttachments(qb.where('r.deleted_at', 'is', null), type);
  qb = plan.apply(qb);
  const row = (await qb.executeTakeFirst()) as { n: number | string } | undefined;
  return Number(row?.n ?? 0);
}

/**
 * Counts live records per group and adds up one numeric field, in one aggregate query: a kanban
 * board's column totals without reading every card. Filters work as in `listRecords`.
 */
export async function summarizeRecords(deps: DataDeps, ctx: ActorContext, type: RecordType, query: SummaryQuery): Promise<SummaryRow[]> {
  const access = await accessOf(deps, ctx);
  const schema = await recordSchema(deps, type);
  requireAction(access, schema.def, 'read');
  const byKey = new Map<string, FieldDef>([...SYSTEM_FIELDS, ...schema.fields].map((f) => [f.key, f]));
  const groups = query.groupBy.map((key) => {
    const def = byKey.get(key);
    // A group of one reveals its value as surely as a filter would, so personal fields never group.
    if (!def || !def.filterable || !def.column || isPersonal(def)) throw new AppError('request.invalid_filter', `Cannot group by ${key.slice(0, 80)}`);
    requireReadable(access, type, def, 'request.invalid_filter', 'group by');
    return def;
  });
  const sumDef = query.sum === undefined ? undefined : byKey.get(query.sum);
  if (query.sum !== undefined && (!sumDef || !sumDef.column || isPersonal(sumDef) || !['integer', 'number', 'money'].includes(sumDef.type))) {
    throw new AppError('request.invalid_filter', `Cannot add up ${query.sum.slice(0, 80)}`);
  }
  if (sumDef) requireReadable(access, type, sumDef, 'request.invalid_filter', 'add up');

  const plan = await planFilters(deps, access, schema, query.filters ?? {});
  if (plan.verify.length > 0) throw new AppError('request.invalid_filter', 'Totals cannot be filtered by personal fields');
  let qb = hideTrashedAttachments(scoped(anyDb(deps).selectFrom(`${type} as r`), access, schema.def, 'read').where('r.deleted_at', 'is', null), type);
  qb = plan.apply(qb);
  qb = applyRanges(qb, access, schema, query.ranges ?? []);
  qb = qb.select((eb: any) => [
    ...groups.map((def, i) => eb.ref(`r.${def.column}`).as(`g${i}`)),
    eb.fn.countAll().as('n'),
    ...(sumDef ? [eb.fn.sum(`r.${sumDef.column}`).as('total')] : []),
  ]);
  if (groups.length > 0) qb = qb.groupBy(groups.map((def) => `r.${def.column}`));

  const rows = (await qb.execute()) as Record<string, unknown>[];
  return rows.map((row) => ({
    group: Object.fromEntries(groups.map((def, i) => [def.key, presentFieldValue(def, row[`g${i}`])])),
    count: Number(row.n),
    // PostgreSQL answers SUM(bigint) as a numeric string.
    sum: sumDef ? Number(presentFieldValue(sumDef, row.total === null ? 0 : Number(row.total))) : null,
  }));
}

/**
 * How many records of a type, in the trash or not, hold each of `values` in a reference field:
 * the referential-integrity check before configuration (a stage, a pipeline) is removed. It
 * counts every record whoever can see it, since a record in the trash or out of the caller's
 * sight would still be left pointing at nothing, and it answers counts only, never content.
 */
export async function countReferencing(deps: DataDeps, type: RecordType, key: string, values: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const def = RECORD_TYPE_DEFS[type].fields.find((f) => f.key === key);
  if (!def || def.type !== 'reference' || !def.column) throw new Error(`${type}.${key} is not a reference field`);
  for (let at = 0; at < values.length; at += 500) {
    const rows = (await anyDb(deps)
      .selectFrom(type)
      .select((eb: any) => [eb.ref(def.column!).as('value'), eb.fn.countAll().as('n')])
      .where(def.column, 'in', values.slice(at, at + 500))
      .groupBy(def.column)
      .execute()) as { value: string; n: number | string }[];
    for (const row of rows) counts.set(row.value, Number(row.n));
  }
  return counts;
}

/** A record that may be the same person as the one described, and which of its values say so. */
export interface DuplicateMatch {
  record: RecordView;
  matchedOn: string[];
}

const MAX_DUPLICATES = 50;

/**
 * The live records of a type that share an email, phone number (in either phone field) or ID
 * number with `input`: the blind indexes find candidates in one query, and opening them keeps
 * the true matches. Values are compared in their normalized form, so `+86 138-0013-8000` matches
 * `13800138000`.
 */
export async function findDuplicates(deps: DataDeps, ctx: ActorContext, type: RecordType, input: RecordInput): Promise<DuplicateMatch[]> {
  const access = await accessOf(deps, ctx);
  const schema = await recordSchema(deps, type);
  requireAction(access, schema.def, 'read');
  const blindFields = schema.fields.filter((f) => f.blindIndex && f.column);
  const index = await indexKeys(deps);
  const wanted: { kind: NonNullable<FieldDef['blindIndex']>; normalized: string; from: string }[] = [];
  const problems: FieldProblem[] = [];
  for (const def of blindFields) {
    const raw = input[def.key];
    if (raw === undefined || raw === null || raw === '') continue;
    // A match on a value the caller cannot read would confirm the value.
    requireReadable(access, type, def, 'request.invalid_filter', 'look for duplicates by');
    const parsed = parseFieldValue({ ...def, required: true }, raw);
    if (!parsed.ok) problems.push({ field: def.key, message: parsed.message });
    else {
      const normalized = normalizeForIndex(def.blindIndex!, String(parsed.value), deps.keyring.callingCode);
      if (normalized !== null) wanted.push({ kind: def.blindIndex!, normalized, from: String(parsed.value) });
    }
  }
  if (problems.length > 0) throw validationFailed(schema.def, problems);
  if (wanted.length === 0) throw new AppError('request.invalid', `Give at least one of ${blindFields.map((f) => f.key).join(', ')} to look for duplicates`);

  // A value of one kind is looked for in every column of that kind: a mobile number entered as
  // the phone is the same person.
  const conditions: { column: string; blinds: number[] }[] = [];
  for (const w of wanted) {
    for (const def of blindFields.filter((f) => f.blindIndex === w.kind)) {
      conditions.push({ column: `${def.column}_bidx`, blinds: [...new Set(index.all.map((v) => blindOf(v, type, def.column!, w.kind, w.from, deps.keyring.callingCode)!))] });
    }
  }
  let qb = hideTrashedAttachments(scoped(anyDb(deps).selectFrom(`${type} as r`).selectAll('r'), access, schema.def, 'read').where('r.deleted_at', 'is', null), type);
  qb = qb.where((eb: any) => eb.or(conditions.map((c) => eb(`r.${c.column}`, 'in', c.blinds)))).orderBy('r.id').limit(MAX_DUPLICATES * 8);
  const candidates = (await qb.execute()) as Record<string, unknown>[];
  const views = await presentRows(deps, schema, candidates);
  const matches: DuplicateMatch[] = [];
  const matchedRows: Record<string, unknown>[] = [];
  for (const [i, view] of views.entries()) {
    const matchedOn = blindFields
      .filter((def) => typeof view[def.key] === 'string' && wanted.some((w) => w.kind === def.blindIndex && normalizeForIndex(w.kind, view[def.key] as string, deps.keyring.callingCode) === w.normalized))
      .map((def) => def.key);
    if (matchedOn.length > 0) {
      matches.push({ record: shapeView(access, schema, view), matchedOn });
      matchedRows.push(candidates[i]!);
    }
    if (matches.length === MAX_DUPLICATES) break;
  }
  await auditRead(deps, ctx, access, schema, matchedRows, 'record.read', 'duplicates');
  return matches;
}

/** What a reveal answers: the values in clear, and the id of the record kept of it. */
export interface Reveal {
  revealId: string;
  revealedAt: string;
  values: Record<string, unknown>;
}

const MAX_REVEAL_FIELDS = 20;

/**
 * Shows masked values of one record in clear. It needs the reveal action over the record and a
 * reason, and records who revealed which fields of which record, why, when and from where, in the
 * same transaction as the read. A hidden field stays hidden: reveal lifts a mask, not a rule.
 * Fields are named as in `maskedFields`: `idNumber`, `customFields.<key>`.
 */
export async function revealFields(deps: DataDeps, ctx: ActorContext, type: RecordType, id: string, fields: unknown, reason: unknown): Promise<Reveal> {
  return inTransaction(deps, async (tx) => {
    const access = await accessOf(tx, ctx);
    const schema = await recordSchema(tx, type);
    const row = isId(id) ? await findRow(tx, access, type, id, false) : undefined;
    if (!row) throw notFound(schema.def);
    requireInScope(access, schema.def, 'reveal', row);
    await requireStepUp(tx, ctx);
    const why = typeof reason === 'string' ? reason.normalize('NFC').trim() : '';
    const problems: FieldProblem[] = [];
    if (why.length < 10 || why.length > 500 || /[\u0000-\u001f\u007f]/.test(why) || !why.isWellFormed()) problems.push({ field: 'reason', message: 'must say why, in 10 to 500 characters of text' });
    const keys = Array.isArray(fields) && fields.every((f) => typeof f === 'string') ? [...new Set(fields as string[])] : [];
    if (keys.length === 0 || keys.length > MAX_REVEAL_FIELDS) problems.push({ field: 'fields', message: `must name 1 to ${MAX_REVEAL_FIELDS} fields` });
    const wanted: { name: string; def: FieldDef; custom: boolean }[] = [];
    for (const name of keys) {
      const custom = name.startsWith('customFields.');
      const def = custom ? schema.custom.find((f) => f.key === name.slice('customFields.'.length)) : schema.fields.find((f) => f.key === name);
      if (!def) problems.push({ field: 'fields', message: `names a field that ${schema.def.singular} records do not have` });
      else if (access.fieldRule(type, def) === 'hidden') problems.push({ field: 'fields', message: 'names a field your roles hide' });
      else wanted.push({ name, def, custom });
    }
    if (problems.length > 0) throw new AppError('request.invalid', 'The reveal needs the fields to show and a reason', problems);
    const [view] = await presentRows(tx, schema, [row]);
    const values: Record<string, unknown> = {};
    for (const w of wanted) values[w.name] = w.custom ? (view!.customFields as Record<string, unknown>)[w.def.key] : view![w.def.key];
    const revealId = newId();
    const revealedAt = tx.clock.now().toISOString();
    const principal = ctx.principal;
    await anyDb(tx)
      .insertInto('reveals')
      .values({
        id: revealId,
        occurred_at: revealedAt,
        user_id: actingUserId(principal),
        actor: principal.kind === 'user' ? `user:${principal.userId}` : principal.kind === 'token' ? `token:${principal.tokenId}` : principal.kind === 'cli' ? `cli:${principal.operator}` : `system:${principal.job}`,
        channel: ctx.channel,
        record_type: type,
        record_id: String(row.id),
        fields: JSON.stringify(wanted.map((w) => w.name)),
        reason: why,
        request_id: ctx.requestId,
        source_address: ctx.sourceAddress,
      })
      .execute();
    await recordAudit(tx, ctx, { action: 'record.reveal', recordType: type, recordIds: [String(row.id)], fields: wanted.map((w) => w.name), details: { reason: why, revealId, ...subjectDetail(schema, [row]) } });
    return { revealId, revealedAt, values };
  });
}

// ---- Writes ------------------------------------------------------------------------------------

/**
 * Creates a record. `derived` holds values a service computed (status, timestamps); they skip the
 * caller-facing read-only check but not validation.
 */
export async function createRecord(deps: DataDeps, ctx: ActorContext, type: RecordType, input: RecordInput, derived: Record<string, unknown> = {}): Promise<RecordView> {
  return inTransaction(deps, async (tx) => {
    const access = await accessOf(tx, ctx);
    const schema = await recordSchema(tx, type);
    requireAction(access, schema.def, 'create');
    refuseUnwritable(access, schema, input);
    const prepared = prepareWrite(schema, input, derived, 'create');
    if (prepared.problems.length > 0) throw validationFailed(schema.def, prepared.problems);
    const row = newRow(tx, ctx, prepared.columns);
    const placement = ownershipProblem(access, schema.def, input, row);
    if (placement) throw new AppError('auth.forbidden', placement.message, [placement]);
    await checkReferences(tx, access, schema, [row]);
    const [digests] = await insertRows(tx, schema, [{ row, custom: prepared.custom, tagIds: prepared.tagIds }]);
    await recordAudit(tx, ctx, changeEvent('record.create', schema, row, digests!, prepared.tagIds));
    // The answer is the record just written, whose entry says what it holds: no read entry.
    return getRecord(tx, ctx, type, String(row.id), { audited: false });
  });
}

export type BulkResult = { ok: true; id: string } | { ok: false; problems: FieldProblem[] };

/**
 * When a record is to seem made, and by whom, instead of now by the principal: for decoy records,
 * which must look as old as the records among which they are placed. Its id carries that time.
 */
export interface RecordOrigin {
  createdAt: Date;
  createdBy: string | null;
}

/**
 * Creates many records in one transaction: each input is validated on its own, the valid ones are
 * written together, and the invalid ones are reported. Imports and sample data use it.
 * `origins[i]`, when given, dates input i (see RecordOrigin); the audit entry still records the
 * principal and the time of writing.
 */
export async function createRecords(
  deps: DataDeps,
  ctx: ActorContext,
  type: RecordType,
  inputs: RecordInput[],
  derived: Record<string, unknown>[] = [],
  options: { purpose?: 'import'; origins?: readonly (RecordOrigin | undefined)[] } = {},
): Promise<BulkResult[]> {
  return inTransaction(deps, async (tx) => {
    const access = await accessOf(tx, ctx);
    const schema = await recordSchema(tx, type);
    requireAction(access, schema.def, 'create');
    if (options.purpose === 'import') requireAction(access, schema.def, 'import');
    const results: BulkResult[] = [];
    const pending: PendingInsert[] = [];
    const pendingIndex: number[] = [];
    inputs.forEach((input, i) => {
      const denied = unwritableFields(access, schema, input);
      if (denied.length > 0) {
        results[i] = { ok: false, problems: denied };
        return;
      }
      const prepared = prepareWrite(schema, input, derived[i] ?? {}, 'create');
      if (prepared.problems.length > 0) {
        results[i] = { ok: false, problems: prepared.problems };
        return;
      }
      const row = newRow(tx, ctx, prepared.columns, options.origins?.[i]);
      const placement = ownershipProblem(access, schema.def, input, row);
      if (placement) {
        results[i] = { ok: false, problems: [placement] };
        return;
      }
      pending.push({ row, custom: prepared.custom, tagIds: prepared.tagIds });
      pendingIndex.push(i);
    });
    const missing = await missingReferences(tx, access, schema, pending.map((p) => p.row));
    const writable: PendingInsert[] = [];
    pending.forEach((p, k) => {
      const i = pendingIndex[k]!;
      const problems = missing.get(p.row);
      if (problems) results[i] = { ok: false, problems };
      else {
        results[i] = { ok: true, id: String(p.row.id) };
        writable.push(p);
      }
    });
    const digests = await insertRows(tx, schema, writable);
    const action = options.purpose === 'import' ? 'record.import' : 'record.create';
    await recordAudit(tx, ctx, writable.map((p, i) => changeEvent(action, schema, p.row, digests[i]!, p.tagIds)));
    return results;
  });
}

export async function updateRecord(deps: DataDeps, ctx: ActorContext, type: RecordType, id: string, version: number, input: RecordInput, derived: Record<string, unknown> = {}): Promise<RecordView> {
  return inTransaction(deps, async (tx) => {
    const access = await accessOf(tx, ctx);
    const schema = await recordSchema(tx, type);
    const existing = isId(id) ? await findRow(tx, access, type, id, false) : undefined;
    if (!existing) throw notFound(schema.def);
    requireInScope(access, schema.def, 'update', existing);
    refuseUnwritable(access, schema, input);
    if (Number(existing.version) !== version) {
      throw new AppError('record.version_conflict', `The ${schema.def.singular} was changed by someone else; reload it and try again`);
    }
    const prepared = prepareWrite(schema, input, derived, 'update');
    if (prepared.problems.length > 0) throw validationFailed(schema.def, prepared.problems);
    const reassignment = reassignmentProblem(access, schema.def, existing, prepared.columns);
    if (reassignment) throw new AppError('auth.forbidden', reassignment.message, [reassignment]);
    await checkReferences(tx, access, schema, [prepared.columns]);
    const sealed = await sealUpdate(tx, schema, existing, prepared.columns, prepared.custom, encodeCustomValue);

    const now = tx.clock.now().toISOString();
    const result = await anyDb(tx)
      .updateTable(type)
      .set({ ...sealed.columns, version: version + 1, updated_at: now, updated_by: actingUserId(ctx.principal) })
      .where('id', '=', id)
      .where('version', '=', version)
      .where('deleted_at', 'is', null)
      .executeTakeFirst()
      .catch((error: unknown) => {
        throw emptiedColumn(schema, error) ?? error;
      });
    if (Number(result.numUpdatedRows) !== 1) {
      throw new AppError('record.version_conflict', `The ${schema.def.singular} was changed by someone else; reload it and try again`);
    }
    for (const [fieldId, row] of sealed.customRows) {
      await anyDb(tx).deleteFrom('custom_values').where('record_id', '=', id).where('field_id', '=', fieldId).execute();
      if (row) await anyDb(tx).insertInto('custom_values').values(row).execute();
    }
    if (prepared.tagIds) await replaceTags(tx, type, id, prepared.tagIds);
    if (sealed.terms) await reindexDocument(tx.db, tx.dialect, type, { recordId: id, terms: sealed.terms });
    await recordAudit(tx, ctx, changeEvent('record.update', schema, { ...existing, ...sealed.columns }, sealed.digests, prepared.tagIds));
    // The answer carries the whole record, values the caller did not send among them: a read,
    // unless the caller is a bulk change, which answers a count.
    return getRecord(tx, ctx, type, id, countOnly.has(ctx) ? { audited: false } : {});
  });
}

/** Moves a record to the trash; it stays restorable. */
export async function deleteRecord(deps: DataDeps, ctx: ActorContext, type: RecordType, id: string, version?: number): Promise<void> {
  await inTransaction(deps, async (tx) => {
    const access = await accessOf(tx, ctx);
    const def = RECORD_TYPE_DEFS[type];
    const existing = isId(id) ? await findRow(tx, access, type, id, false) : undefined;
    if (!existing) throw notFound(def);
    requireInScope(access, def, 'delete', existing);
    if (version !== undefined && Number(existing.version) !== version) {
      throw new AppError('record.version_conflict', `The ${def.singular} was changed by someone else; reload it and try again`);
    }
    const now = tx.clock.now().toISOString();
    const moved = await anyDb(tx)
      .updateTable(type)
      .set({ deleted_at: now, deleted_by: actingUserId(ctx.principal), updated_at: now, version: Number(existing.version) + 1 })
      .where('id', '=', id)
      .where('version', '=', Number(existing.version))
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) !== 1) throw new AppError('record.version_conflict', `The ${def.singular} was changed by someone else; reload it and try again`);
    await recordAudit(tx, ctx, { action: 'record.delete', recordType: type, recordIds: [id], details: subjectDetail({ def }, [existing]) });
  });
}

export async function restoreRecord(deps: DataDeps, ctx: ActorContext, type: RecordType, id: string): Promise<RecordView> {
  return inTransaction(deps, async (tx) => {
    const access = await accessOf(tx, ctx);
    const def = RECORD_TYPE_DEFS[type];
    const existing = isId(id) ? await findRow(tx, access, type, id, true) : undefined;
    if (!existing) throw notFound(def);
    requireInScope(access, def, 'restore', existing);
    if (existing.deleted_at === null) throw new AppError('record.not_deleted', `The ${def.singular} is not in the trash`);
    if (def.subject === 'person' && (await anyDb(tx).selectFrom('erasures').select('subject_id').where('subject_id', '=', String(existing.subject_id ?? id)).executeTakeFirst())) {
      throw new AppError('record.erased', `The ${def.singular} was erased; there is nothing left to restore`);
    }
    const now = tx.clock.now().toISOString();
    const restored = await anyDb(tx)
      .updateTable(type)
      .set({ deleted_at: null, deleted_by: null, updated_at: now, updated_by: actingUserId(ctx.principal), version: Number(existing.version) + 1 })
      .where('id', '=', id)
      .where('version', '=', Number(existing.version))
      .executeTakeFirst();
    if (Number(restored.numUpdatedRows) !== 1) throw new AppError('record.version_conflict', `The ${def.singular} was changed by someone else; reload it and try again`);
    await recordAudit(tx, ctx, { action: 'record.restore', recordType: type, recordIds: [id], details: subjectDetail({ def }, [existing]) });
    return getRecord(tx, ctx, type, id);
  });
}

// ---- Trash and bulk changes --------------------------------------------------------------------

/** Why records left the trash for good: someone purged them, or they outstayed the retention. */
export type PurgeReason = 'manual' | 'retention';

export interface PurgeResult {
  /** Records of the type asked for that were removed for good. */
  purged: number;
  /** Records attached to them (activities) removed with them. */
  attached: number;
  /** Records elsewhere that pointed at a removed one; the reference is now empty. */
  unlinked: number;
}

const PURGE_CHUNK = 500;

/**
 * Removes records in the trash for good, with everything hanging on them: custom values, tag
 * links, search documents, decoy marks, and the records attached to them (an activity on a
 * company), whether those went to the trash with it or on their own. A live or trashed record
 * that pointed at a removed one is updated as an update would: the reference becomes empty, its
 * values are sealed again if that moves it to another data subject, and the change is audited. A
 * person's data keys go once no record is left under them. Needs `trash.purge`, the delete action
 * over each record and, in a browser session, a recent second factor. All or nothing: a record
 * that is missing, out of reach or not in the trash refuses the whole batch. Audited
 * `record.purge` with the record ids, never their values.
 */
export async function purgeRecords(deps: DataDeps, ctx: ActorContext, type: RecordType, ids: readonly string[], options: { reason?: PurgeReason } = {}): Promise<PurgeResult> {
  return inTransaction(deps, async (tx) => {
    const access = await requirePermission(tx, ctx, 'trash.purge', 'Your roles do not allow you to purge records from the trash');
    await requireStepUp(tx, ctx);
    const def = RECORD_TYPE_DEFS[type];
    const unique = [...new Set(ids)];
    const rows = await rowsByIds(tx, access, type, unique, true);
    unique.forEach((id, i) => {
      const row = rows.get(id);
      if (!row) throw missingInBatch(def, id, i);
      requireInBatchScope(access, def, 'delete', row, i);
      if (row.deleted_at === null) throw new AppError('record.not_deleted', `The ${def.singular} ${id} is not in the trash; only records in the trash can be purged`, [{ field: `ids.${i}`, message: 'is not in the trash' }]);
    });
    return purgeRows(tx, ctx, def, unique.map((id) => rows.get(id)!), options.reason ?? 'manual', null);
  });
}

/**
 * Purges, in one transaction, up to `limit` records of a type that went to the trash before
 * `before`, oldest first, within the principal's delete scope: one batch of the retention job and
 * of `rampart trash purge`. Answers what it removed; fewer than `limit` means none are left.
 */
export async function purgeTrashedBefore(deps: DataDeps, ctx: ActorContext, type: RecordType, before: Date, options: { limit: number; reason: PurgeReason }): Promise<PurgeResult> {
  return inTransaction(deps, async (tx) => {
    const access = await requirePermission(tx, ctx, 'trash.purge', 'Your roles do not allow you to purge records from the trash');
    await requireStepUp(tx, ctx);
    const def = RECORD_TYPE_DEFS[type];
    const rows = (await scoped(anyDb(tx).selectFrom(`${type} as r`).selectAll('r'), access, def, 'delete')
      .where('r.deleted_at', 'is not', null)
      .where('r.deleted_at', '<', before.toISOString())
      .orderBy('r.deleted_at')
      .orderBy('r.id')
      .limit(Math.max(1, Math.trunc(options.limit)))
      .execute()) as Record<string, unknown>[];
    if (rows.length === 0) return { purged: 0, attached: 0, unlinked: 0 };
    return purgeRows(tx, ctx, def, rows, options.reason, null);
  });
}

/** What the trash of one type holds, as far as the principal may read. */
export interface TrashCount {
  type: RecordType;
  count: number;
  /** When the record longest in the trash went there, or null when the trash is empty. */
  oldestDeletedAt: string | null;
}

/** Counts per type of the records in the trash the principal may read; types it cannot read are left out. */
export async function countTrash(deps: DataDeps, ctx: ActorContext): Promise<TrashCount[]> {
  const access = await accessOf(deps, ctx);
  const counts: TrashCount[] = [];
  for (const type of RECORD_TYPES) {
    const qb = applyScope(anyDb(deps).selectFrom(`${type} as r`), access, type, 'read');
    if (!qb) continue;
    const row = (await qb
      .select((eb: any) => [eb.fn.countAll().as('n'), eb.fn.min('r.deleted_at').as('oldest')])
      .where('r.deleted_at', 'is not', null)
      .executeTakeFirst()) as { n: number | string; oldest: string | null } | undefined;
    counts.push({ type, count: Number(row?.n ?? 0), oldestDeletedAt: row?.oldest ?? null });
  }
  return counts;
}

/** A record in the trash, without its values: when and by whom it was deleted. */
export interface TrashEntry {
  id: string;
  deletedAt: string;
  deletedBy: string | null;
}

/** The records of a type in the trash the principal may read, longest there first; ids and times only. */
export async function listTrashEntries(deps: DataDeps, ctx: ActorContext, type: RecordType, options: { limit: number }): Promise<{ items: TrashEntry[]; more: boolean }> {
  const access = await accessOf(deps, ctx);
  const limit = Math.min(Math.max(Math.trunc(options.limit), 1), 10_000);
  const rows = (await scoped(anyDb(deps).selectFrom(`${type} as r`).select(['r.id', 'r.deleted_at', 'r.deleted_by']), access, RECORD_TYPE_DEFS[type], 'read')
    .where('r.deleted_at', 'is not', null)
    .orderBy('r.deleted_at')
    .orderBy('r.id')
    .limit(limit + 1)
    .execute()) as { id: string; deleted_at: string; deleted_by: string | null }[];
  return { items: rows.slice(0, limit).map((r) => ({ id: r.id, deletedAt: r.deleted_at, deletedBy: r.deleted_by })), more: rows.length > limit };
}

const TRASH_CURSOR = 'deletedAt';

/**
 * A page of one type's trash as a `?trash=true` list shows it (same read right and scope, values
 * opened, hidden fields out, masked ones masked, the read audited as a list), longest there first,
 * with who deleted each record. `fields` narrows the answer, and so its read entry, to those
 * built-in fields: a caller showing only a title opens and records no more than that.
 */
export async function listTrashPage(
  deps: DataDeps,
  ctx: ActorContext,
  type: RecordType,
  options: { limit?: number; cursor?: string; fields?: readonly string[] } = {},
): Promise<{ items: (RecordView & { deletedBy: string | null })[]; nextCursor: string | null }> {
  const access = await accessOf(deps, ctx);
  const full = await recordSchema(deps, type);
  requireAction(access, full.def, 'read');
  const keep = options.fields ? new Set(options.fields) : null;
  const schema: RecordSchema = keep ? { def: full.def, fields: full.fields.filter((f) => keep.has(f.key)), custom: [] } : full;
  const limit = Math.min(Math.max(Math.trunc(options.limit ?? DEFAULT_LIMIT), 1), MAX_LIMIT);
  let qb = scoped(anyDb(deps).selectFrom(`${type} as r`).selectAll('r'), access, schema.def, 'read').where('r.deleted_at', 'is not', null);
  if (options.cursor !== undefined && options.cursor !== '') {
    const cursor = decodeCursor(options.cursor, TRASH_CURSOR);
    const at = cursor.value;
    if (typeof at !== 'string' || Number.isNaN(Date.parse(at))) throw new AppError('request.invalid_cursor', 'The cursor is not valid for this list; start again without it');
    qb = qb.where((eb: any) => eb.or([eb('r.deleted_at', '>', at), eb.and([eb('r.deleted_at', '=', at), eb('r.id', '>', cursor.id)])]));
  }
  const rows = (await qb.orderBy('r.deleted_at').orderBy('r.id').limit(limit + 1).execute()) as Record<string, unknown>[];
  const shown = rows.slice(0, limit);
  const views = await presentRows(deps, schema, shown);
  await auditRead(deps, ctx, access, schema, shown, 'record.read', 'list');
  const last = shown.at(-1);
  return {
    items: views.map((view, i) => ({ ...shapeView(access, schema, view), deletedBy: (shown[i]!.deleted_by as string | null) ?? null })),
    nextCursor: rows.length > limit && last ? encodeCursor(TRASH_CURSOR, String(last.deleted_at), String(last.id)) : null,
  };
}

/**
 * Moves many records to the trash in one transaction, each as `deleteRecord` would, with its own
 * `record.delete` entry. All or nothing: a record that is missing, out of the principal's delete
 * scope or already in the trash refuses the whole batch, naming the first.
 */
export async function deleteRecords(deps: DataDeps, ctx: ActorContext, type: RecordType, ids: readonly string[]): Promise<number> {
  return inTransaction(deps, async (tx) => {
    const rows = await bulkTargets(tx, ctx, type, ids, 'delete');
    const def = RECORD_TYPE_DEFS[type];
    const now = tx.clock.now().toISOString();
    const list = [...rows.values()];
    for (const row of list) {
      const moved = await anyDb(tx)
        .updateTable(type)
        .set({ deleted_at: now, deleted_by: actingUserId(ctx.principal), updated_at: now, version: Number(row.version) + 1 })
        .where('id', '=', String(row.id))
        .where('version', '=', Number(row.version))
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) throw new AppError('record.version_conflict', `The ${def.singular} ${String(row.id)} was changed by someone else meanwhile; try again`);
    }
    await recordAudit(tx, ctx, list.map((row) => ({ action: 'record.delete', recordType: type, recordIds: [String(row.id)], details: subjectDetail({ def }, [row]) })));
    return list.length;
  });
}

/**
 * The current version of each record of a bulk change, or a refusal naming the first record that
 * cannot take part: one that does not exist, is in the trash or lies outside what the principal
 * may read (`record.not_found`, as for a single record), or outside the action's scope
 * (`auth.forbidden`). Ids repeat at most once; the order is that of `ids`.
 */
export async function bulkVersions(deps: DataDeps, ctx: ActorContext, type: RecordType, ids: readonly string[], action: 'update' | 'delete'): Promise<Map<string, number>> {
  const rows = await bulkTargets(deps, ctx, type, ids, action);
  return new Map([...rows].map(([id, row]) => [id, Number(row.version)]));
}

/**
 * Checks the changes of a bulk update as an update would check them, before any record is read:
 * unknown, read-only or invalid fields and fields the principal may not write refuse the batch.
 */
export async function checkChanges(deps: DataDeps, ctx: ActorContext, type: RecordType, changes: RecordInput): Promise<void> {
  const access = await accessOf(deps, ctx);
  const schema = await recordSchema(deps, type);
  requireAction(access, schema.def, 'update');
  refuseUnwritable(access, schema, changes);
  const prepared = prepareWrite(schema, changes, {}, 'update');
  if (prepared.problems.length > 0) throw validationFailed(schema.def, prepared.problems);
  await checkReferences(deps, access, schema, [prepared.columns]);
}

const countOnly = new WeakSet<ActorContext>();

/**
 * The same principal, for writes whose caller sees a count instead of the records (bulk changes):
 * the record each update answers is read back without a read entry, since nobody sees it. The
 * writes themselves are audited as always.
 */
export function answeringCountOnly(ctx: ActorContext): ActorContext {
  const quiet = { ...ctx };
  countOnly.add(quiet);
  return quiet;
}

async function bulkTargets(deps: DataDeps, ctx: ActorContext, type: RecordType, ids: readonly string[], action: 'update' | 'delete'): Promise<Map<string, Record<string, unknown>>> {
  const access = await accessOf(deps, ctx);
  const def = RECORD_TYPE_DEFS[type];
  requireAction(access, def, action);
  const seen = new Set<string>();
  ids.forEach((id, i) => {
    if (seen.has(id)) throw new AppError('request.invalid', `ids holds ${id.slice(0, 40)} more than once`, [{ field: `ids.${i}`, message: 'repeats an earlier id' }]);
    seen.add(id);
  });
  const rows = await rowsByIds(deps, access, type, ids, false);
  const ordered = new Map<string, Record<string, unknown>>();
  ids.forEach((id, i) => {
    const row = rows.get(id);
    if (!row) throw missingInBatch(def, id, i);
    requireInBatchScope(access, def, action, row, i);
    ordered.set(id, row);
  });
  return ordered;
}

/** Rows by id that the principal may read, live ones only unless `includeDeleted` (which also reaches attachments of trashed records). */
async function rowsByIds(deps: DataDeps, access: Access, type: RecordType, ids: readonly string[], includeDeleted: boolean): Promise<Map<string, Record<string, unknown>>> {
  const found = new Map<string, Record<string, unknown>>();
  const valid = [...new Set(ids.filter(isId))];
  for (let at = 0; at < valid.length; at += PURGE_CHUNK) {
    const readable = applyScope(anyDb(deps).selectFrom(`${type} as r`).selectAll('r'), access, type, 'read');
    if (!readable) return found;
    let qb = readable.where('r.id', 'in', valid.slice(at, at + PURGE_CHUNK));
    if (!includeDeleted) qb = hideTrashedAttachments(qb.where('r.deleted_at', 'is', null), type);
    for (const row of (await qb.execute()) as Record<string, unknown>[]) found.set(String(row.id), row);
  }
  return found;
}

function missingInBatch(def: RecordTypeDef, id: string, index: number): AppError {
  return new AppError('record.not_found', isId(id) ? `No such ${def.singular}: ${id}` : `No such ${def.singular}`, [{ field: `ids.${index}`, message: `names no ${def.singular} you can reach` }]);
}

function requireInBatchScope(access: Access, def: RecordTypeDef, action: Action, row: Record<string, unknown>, index: number): void {
  if (!rowInScope(access, def.type, action, row)) {
    throw new AppError('auth.forbidden', `Your roles do not allow you to ${action} the ${def.singular} ${String(row.id)}`, [{ field: `ids.${index}`, message: `names a ${def.singular} your roles do not allow you to ${action}` }]);
  }
}

/** Subject tables: records sealed under a person's data key carry the person in `subject_id`. */
const SUBJECT_TYPES: readonly RecordType[] = ['contacts', 'leads', 'activities', 'tickets'];

/** Removes rows (checked by the caller) and what hangs on them; see purgeRecords. `parent` names the type they were attached to. */
async function purgeRows(tx: DataDeps, ctx: ActorContext, def: RecordTypeDef, rows: Record<string, unknown>[], reason: PurgeReason, parent: RecordType | null): Promise<PurgeResult> {
  const type = def.type;
  const ids = rows.map((r) => String(r.id));
  let attached = 0;
  let unlinked = 0;
  // Records attached to these go with them, whether they went to the trash with them or before.
  for (const other of RECORD_TYPES) {
    const attachment = RECORD_TYPE_DEFS[other].attachedTo;
    if (!attachment || !attachment.parents.includes(type)) continue;
    const hanging: Record<string, unknown>[] = [];
    for (let at = 0; at < ids.length; at += PURGE_CHUNK) {
      hanging.push(...((await anyDb(tx).selectFrom(other).selectAll().where(attachment.column, 'in', ids.slice(at, at + PURGE_CHUNK)).execute()) as Record<string, unknown>[]));
    }
    if (hanging.length === 0) continue;
    const result = await purgeRows(tx, ctx, RECORD_TYPE_DEFS[other], hanging, reason, type);
    attached += result.purged + result.attached;
    unlinked += result.unlinked;
  }
  unlinked += await unlinkReferences(tx, ctx, type, ids);
  for (let at = 0; at < ids.length; at += PURGE_CHUNK) {
    const chunk = ids.slice(at, at + PURGE_CHUNK);
    await anyDb(tx).deleteFrom('custom_values').where('record_id', 'in', chunk).execute();
    await anyDb(tx).deleteFrom('record_tags').where('record_type', '=', type).where('record_id', 'in', chunk).execute();
    await anyDb(tx).deleteFrom('honeytokens').where('record_id', 'in', chunk).execute();
  }
  await removeDocuments(tx.db, tx.dialect, ids);
  for (let at = 0; at < ids.length; at += PURGE_CHUNK) {
    const chunk = ids.slice(at, at + PURGE_CHUNK);
    let qb = anyDb(tx).deleteFrom(type).where('id', 'in', chunk);
    // A record asked for by itself must still be in the trash: a restore in between wins.
    if (parent === null) qb = qb.where('deleted_at', 'is not', null);
    const removed = await qb.executeTakeFirst();
    if (Number(removed.numDeletedRows) !== chunk.length) throw new AppError('record.version_conflict', `A ${def.singular} was restored or changed meanwhile; try again`);
  }
  if (def.subject === 'person') await dropUnusedDataKeys(tx, rows.map((r) => String(r.subject_id ?? r.id)));
  await recordAudit(tx, ctx, { action: 'record.purge', recordType: type, recordIds: ids, details: { reason, ...(parent ? { attachedTo: parent } : {}), ...subjectDetail({ def }, rows) } });
  return { purged: ids.length, attached, unlinked };
}

/**
 * Empties every reference field that points at the removed records, in live and trashed records
 * alike, as an update of that field to null would: the version moves on, values are sealed again
 * when the record thereby belongs to another data subject (a ticket whose contact is gone), and
 * each change is audited `record.update` with `reason: 'purge'`.
 */
async function unlinkReferences(tx: DataDeps, ctx: ActorContext, type: RecordType, ids: string[]): Promise<number> {
  let unlinked = 0;
  const now = tx.clock.now().toISOString();
  for (const other of RECORD_TYPES) {
    const fields = RECORD_TYPE_DEFS[other].fields.filter((f) => f.type === 'reference' && f.references === type && f.column);
    if (fields.length === 0) continue;
    const schema = await recordSchema(tx, other);
    for (const field of fields) {
      const column = field.column!;
      for (let at = 0; at < ids.length; at += PURGE_CHUNK) {
        const rows = (await anyDb(tx).selectFrom(other).selectAll().where(column, 'in', ids.slice(at, at + PURGE_CHUNK)).execute()) as Record<string, unknown>[];
        for (const row of rows) {
          const changes = { [column]: null };
          let sealed: Awaited<ReturnType<typeof sealUpdate>>;
          try {
            sealed = await sealUpdate(tx, schema, row, changes, new Map(), encodeCustomValue);
          } catch (error) {
            // A record of an erased person holds no personal values left to seal: the reference alone goes.
            if (!(error instanceof AppError) || error.code !== 'record.erased') throw error;
            sealed = { columns: changes, customRows: new Map(), terms: null, digests: { keyVersion: 0, changes: {} } };
          }
          const version = Number(row.version);
          const result = await anyDb(tx)
            .updateTable(other)
            .set({ ...sealed.columns, version: version + 1, updated_at: now, updated_by: actingUserId(ctx.principal) })
            .where('id', '=', String(row.id))
            .where('version', '=', version)
            .executeTakeFirst();
          if (Number(result.numUpdatedRows) !== 1) throw new AppError('record.version_conflict', `A ${schema.def.singular} pointing at a purged record was changed meanwhile; try again`);
          for (const [fieldId, customRow] of sealed.customRows) {
            await anyDb(tx).deleteFrom('custom_values').where('record_id', '=', String(row.id)).where('field_id', '=', fieldId).execute();
            if (customRow) await anyDb(tx).insertInto('custom_values').values(customRow).execute();
          }
          if (sealed.terms) await reindexDocument(tx.db, tx.dialect, other, { recordId: String(row.id), terms: sealed.terms });
          await recordAudit(tx, ctx, {
            action: 'record.update',
            recordType: other,
            recordIds: [String(row.id)],
            fields: [field.key],
            details: { reason: 'purge', keyVersion: sealed.digests.keyVersion, changes: sealed.digests.changes, ...subjectDetail(schema, [{ ...row, ...sealed.columns }]) },
          });
          unlinked += 1;
        }
      }
    }
  }
  return unlinked;
}

/** Destroys the data keys of people no record is sealed under any longer: nothing is left for them to open. */
async function dropUnusedDataKeys(tx: DataDeps, subjects: string[]): Promise<void> {
  for (const subject of new Set(subjects)) {
    let used = false;
    for (const type of SUBJECT_TYPES) {
      const qb = anyDb(tx).selectFrom(type).select('id');
      const hit = await (RECORD_TYPE_DEFS[type].subject === 'person' ? qb.where((eb: any) => eb.or([eb('subject_id', '=', subject), eb('id', '=', subject)])) : qb.where('subject_id', '=', subject)).limit(1).executeTakeFirst();
      if (hit) {
        used = true;
        break;
      }
    }
    if (used) continue;
    await anyDb(tx).deleteFrom('data_keys').where('subject_id', '=', subject).execute();
    tx.keyring.forget(subject);
  }
}

// ---- Internals ---------------------------------------------------------------------------------

interface PendingInsert {
  row: Record<string, unknown>;
  custom: Map<FieldDef, unknown>;
  tagIds: string[] | null;
}

interface PreparedWrite {
  columns: Record<string, unknown>;
  custom: Map<FieldDef, unknown>;
  tagIds: string[] | null;
  problems: FieldProblem[];
}

const OWNERSHIP_FIELDS = SYSTEM_FIELDS.filter((f) => f.key === 'ownerId' || f.key === 'teamId');

const writableFieldsCache = new WeakMap<RecordSchema, Map<string, FieldDef>>();

/** Built once per schema rather than per row: a bulk write validates thousands of rows with it. */
function writableFieldsByKey(schema: RecordSchema): Map<string, FieldDef> {
  let byKey = writableFieldsCache.get(schema);
  if (!byKey) {
    byKey = new Map<string, FieldDef>([...schema.fields, ...OWNERSHIP_FIELDS].map((f) => [f.key, f]));
    writableFieldsCache.set(schema, byKey);
  }
  return byKey;
}

function prepareWrite(schema: RecordSchema, input: RecordInput, derived: Record<string, unknown>, mode: 'create' | 'update'): PreparedWrite {
  const problems: FieldProblem[] = [];
  const columns: Record<string, unknown> = {};
  const custom = new Map<FieldDef, unknown>();
  let tagIds: string[] | null = null;
  const byKey = writableFieldsByKey(schema);

  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { columns, custom, tagIds, problems: [{ field: '', message: 'must be an object' }] };
  }
  for (const key of Object.keys(input)) {
    const raw = input[key];
    if (key === 'customFields' || key === 'tagIds' || (mode === 'update' && key === 'version')) continue;
    const def = byKey.get(key);
    if (!def) {
      problems.push({ field: key, message: 'is not a field of this record' });
      continue;
    }
    if (def.readOnly) {
      problems.push({ field: key, message: 'is set by the system' });
      continue;
    }
    const parsed = parseFieldValue(mode === 'update' ? { ...def } : def, raw);
    if (!parsed.ok) problems.push({ field: key, message: parsed.message });
    else columns[def.column!] = parsed.value;
  }
  for (const key of Object.keys(derived)) {
    const raw = derived[key];
    const def = byKey.get(key);
    if (!def?.column) throw new Error(`derived value for unknown field ${key}`);
    const parsed = parseFieldValue(def, raw);
    if (!parsed.ok) problems.push({ field: key, message: parsed.message });
    else columns[def.column] = parsed.value;
  }
  if (mode === 'create') {
    for (const def of schema.fields) {
      if (def.required && def.column && (columns[def.column] === undefined || columns[def.column] === null)) {
        if (!problems.some((p) => p.field === def.key)) problems.push({ field: def.key, message: 'is required' });
      }
    }
  }

  if (input.customFields !== undefined) {
    const values = input.customFields;
    if (typeof values !== 'object' || values === null || Array.isArray(values)) {
      problems.push({ field: 'customFields', message: 'must be an object' });
    } else {
      const customByKey = new Map(schema.custom.map((f) => [f.key, f]));
      for (const [key, raw] of Object.entries(values)) {
        const def = customByKey.get(key);
        if (!def) {
          problems.push({ field: `customFields.${key}`, message: 'is not a custom field of this record type' });
          continue;
        }
        const parsed = parseFieldValue(def, raw);
        if (!parsed.ok) problems.push({ field: `customFields.${key}`, message: parsed.message });
        else custom.set(def, parsed.value);
      }
    }
  }
  if (mode === 'create') {
    for (const def of schema.custom) {
      if (def.required && (custom.get(def) === undefined || custom.get(def) === null)) {
        problems.push({ field: `customFields.${def.key}`, message: 'is required' });
      }
    }
  }

  if (input.tagIds !== undefined) {
    if (!Array.isArray(input.tagIds) || input.tagIds.length > 50 || !input.tagIds.every(isId)) {
      problems.push({ field: 'tagIds', message: 'must be a list of at most 50 tag ids' });
    } else {
      tagIds = [...new Set(input.tagIds as string[])];
    }
  }
  return { columns, custom, tagIds, problems };
}

function newRow(deps: DataDeps, ctx: ActorContext, columns: Record<string, unknown>, origin?: RecordOrigin): Record<string, unknown> {
  const now = origin ? origin.createdAt.toISOString() : deps.clock.now().toISOString();
  const author = origin ? origin.createdBy : actingUserId(ctx.principal);
  const userId = actingUserId(ctx.principal);
  const p = ctx.principal;
  const defaultTeam = p.kind === 'user' || p.kind === 'token' ? p.teamId : p.kind === 'cli' ? (p.actingAs?.teamId ?? null) : null;
  // Assigned one by one rather than spread: a bulk write builds a row per record.
  const row: Record<string, unknown> = { owner_id: userId, team_id: defaultTeam };
  for (const column in columns) row[column] = columns[column];
  row.id = origin ? newIdAt(origin.createdAt.getTime()) : newId();
  row.version = 1;
  row.created_at = now;
  row.updated_at = now;
  row.created_by = author;
  row.updated_by = author;
  row.deleted_at = null;
  return row;
}

/** Writes new records and answers the keyed digests of each one's values, for its audit entry. */
async function insertRows(deps: DataDeps, schema: RecordSchema, pending: PendingInsert[]): Promise<ValueDigests[]> {
  const type = schema.def.type;
  const digests: ValueDigests[] = [];
  for (let start = 0; start < pending.length; start += INSERT_CHUNK) {
    const chunk = pending.slice(start, start + INSERT_CHUNK);
    // Personal values are sealed, blind indexes filled in and search documents made from the
    // plaintext, all before anything is written.
    const sealed = await sealNewRows(deps, schema, chunk.map((p): RowToSeal => ({ row: p.row, custom: customValuesToStore(p.custom) })));
    for (const s of sealed) digests.push(s.digests);
    // Multi-row VALUES need one column list. Rows that leave out different columns go in separate
    // statements: padding them with NULL would override the column's default, and fail on NOT NULL.
    const byColumns = new Map<string, Record<string, unknown>[]>();
    for (const p of chunk) {
      // Rows built the same way list their columns in the same order; ones that do not merely get
      // a statement of their own, since insertMany reads values by column name.
      const key = Object.keys(p.row).join(',');
      const rows = byColumns.get(key);
      if (rows) rows.push(p.row);
      else byColumns.set(key, [p.row]);
    }
    try {
      for (const rows of byColumns.values()) await insertMany(deps.db, deps.dialect, type, rows);
    } catch (error) {
      if (isForeignKeyViolation(error)) throw new AppError('record.invalid_reference', 'A referenced record does not exist');
      throw emptiedColumn(schema, error) ?? error;
    }
    const customRows = sealed.flatMap((s) => s.customRows);
    for (let at = 0; at < customRows.length; at += SIDE_ROW_CHUNK) {
      await insertMany(deps.db, deps.dialect, 'custom_values', customRows.slice(at, at + SIDE_ROW_CHUNK));
    }
    for (const p of chunk) {
      if (p.tagIds && p.tagIds.length > 0) await replaceTags(deps, type, String(p.row.id), p.tagIds);
    }
    await indexDocuments(deps.db, deps.dialect, type, chunk.map((p, i) => ({ recordId: String(p.row.id), terms: sealed[i]!.terms })));
  }
  return digests;
}

// ---- Audit -------------------------------------------------------------------------------------

/** The entry of a write: which fields changed, as keyed digests of old and new values. */
function changeEvent(action: string, schema: RecordSchema, row: Record<string, unknown>, digests: ValueDigests, tagIds: string[] | null): AuditEvent {
  const fields = Object.keys(digests.changes);
  if (tagIds !== null) fields.push('tagIds');
  return {
    action,
    recordType: schema.def.type,
    recordIds: [String(row.id)],
    fields,
    details: { keyVersion: digests.keyVersion, changes: digests.changes, ...subjectDetail(schema, [row]) },
  };
}

/**
 * The people a record of another type belongs to (notes, tickets), so the log can answer whose
 * data was touched; a contact or lead is its own subject and its id says so already.
 */
function subjectDetail(schema: { def: RecordTypeDef }, rows: readonly Record<string, unknown>[]): { subjects?: string[] } {
  if (schema.def.subject === 'person' || !schema.def.subjectFrom) return {};
  const subjects = new Set<string>();
  for (const row of rows) if (typeof row.subject_id === 'string') subjects.add(row.subject_id);
  return subjects.size > 0 ? { subjects: [...subjects] } : {};
}

/**
 * How a read reached the records: one `open`ed by its id, a `list` page or search answer, the
 * matches of a `duplicates` check, or a page of an `export`. Detection tells deliberate reads of a
 * record from records that merely passed by in a list by it.
 */
export type ReadMode = 'open' | 'list' | 'duplicates' | 'export';

/**
 * Records that personal data left the store: which records, which personal fields were in the
 * answer (masked ones named apart), through which channel and how (`details.mode`). Nothing is
 * recorded for an answer without personal fields, or an empty one.
 */
async function auditRead(deps: DataDeps, ctx: ActorContext, access: Access, schema: RecordSchema, rows: readonly Record<string, unknown>[], action: 'record.read' | 'record.export', mode: ReadMode): Promise<void> {
  if (rows.length === 0) return;
  const fields: string[] = [];
  const masked: string[] = [];
  const type = schema.def.type;
  for (const def of schema.fields) {
    if (!isPersonal(def)) continue;
    const rule = access.fieldRule(type, def);
    if (rule === 'hidden') continue;
    fields.push(def.key);
    if (rule === 'masked') masked.push(def.key);
  }
  for (const def of schema.custom) {
    if (!isPersonal(def)) continue;
    const rule = access.fieldRule(type, def);
    if (rule === 'hidden') continue;
    fields.push(`customFields.${def.key}`);
    if (rule === 'masked') masked.push(`customFields.${def.key}`);
  }
  if (fields.length === 0) return;
  await recordAudit(deps, ctx, {
    action,
    recordType: type,
    recordIds: rows.map((row) => String(row.id)),
    fields,
    details: { mode, ...(masked.length > 0 ? { masked } : {}), ...subjectDetail(schema, rows) },
  });
}

/** Custom values in their stored text encoding; empty ones are not stored. */
function customValuesToStore(values: Map<FieldDef, unknown>): { def: FieldDef; encoded: string }[] {
  const list = [];
  for (const [def, value] of values) {
    if (value === null || (Array.isArray(value) && value.length === 0)) continue;
    list.push({ def, encoded: encodeCustomValue(def, value) });
  }
  return list;
}

async function replaceTags(deps: DataDeps, type: RecordType, id: string, tagIds: string[]): Promise<void> {
  if (tagIds.length > 0) {
    const found = await anyDb(deps).selectFrom('tags').select('id').where('id', 'in', tagIds).execute();
    if (found.length !== tagIds.length) {
      throw new AppError('record.invalid_reference', 'A tag does not exist', [{ field: 'tagIds', message: 'holds an unknown tag' }]);
    }
  }
  await anyDb(deps).deleteFrom('record_tags').where('record_type', '=', type).where('record_id', '=', id).execute();
  if (tagIds.length > 0) {
    await anyDb(deps)
      .insertInto('record_tags')
      .values(tagIds.map((tagId) => ({ tag_id: tagId, record_type: type, record_id: id })))
      .execute();
  }
}

const REFERENCE_TABLE: Record<ReferenceTarget, { table: string; live: boolean }> = {
  companies: { table: 'companies', live: true },
  contacts: { table: 'contacts', live: true },
  leads: { table: 'leads', live: true },
  deals: { table: 'deals', live: true },
  activities: { table: 'activities', live: true },
  tickets: { table: 'tickets', live: true },
  users: { table: 'users', live: false },
  teams: { table: 'teams', live: false },
  pipelines: { table: 'pipelines', live: false },
  pipeline_stages: { table: 'pipeline_stages', live: false },
};

async function checkReferences(deps: DataDeps, access: Access, schema: RecordSchema, rows: Record<string, unknown>[]): Promise<void> {
  const missing = await missingReferences(deps, access, schema, rows);
  const first = missing.values().next();
  if (!first.done) {
    throw new AppError('record.invalid_reference', 'A referenced record does not exist', first.value);
  }
}

/**
 * For each row that points at a record that does not exist, is in the trash, or lies outside what
 * the principal may read (which must answer the same as not existing), the fields that do.
 */
async function missingReferences(deps: DataDeps, access: Access, schema: RecordSchema, rows: Record<string, unknown>[]): Promise<Map<Record<string, unknown>, FieldProblem[]>> {
  const problems = new Map<Record<string, unknown>, FieldProblem[]>();
  const refFields = [...schema.fields, ...OWNERSHIP_FIELDS].filter((f) => f.type === 'reference' && f.references && f.column);
  for (const def of refFields) {
    const ids = [...new Set(rows.map((r) => r[def.column!]).filter((v): v is string => typeof v === 'string'))];
    if (ids.length === 0) continue;
    const target = REFERENCE_TABLE[def.references!];
    const found = new Set<string>();
    for (let start = 0; start < ids.length; start += 500) {
      let qb = anyDb(deps).selectFrom(`${target.table} as r`).select('r.id').where('r.id', 'in', ids.slice(start, start + 500));
      if (target.live) qb = qb.where('r.deleted_at', 'is', null);
      if (isRecordType(target.table)) qb = applyScope(qb, access, target.table, 'read') ?? qb.where(sql<boolean>`1 = 0`);
      for (const r of (await qb.execute()) as { id: string }[]) found.add(r.id);
    }
    for (const row of rows) {
      const value = row[def.column!];
      if (typeof value === 'string' && !found.has(value)) {
        const list = problems.get(row) ?? [];
        list.push({ field: def.key, message: `does not name an existing ${def.references === 'pipeline_stages' ? 'stage' : def.references!.replace(/s$/, '').replace(/ie$/, 'y')}` });
        problems.set(row, list);
      }
    }
  }
  return problems;
}

/** A row by id, if the principal may read it; one outside its scope is not found. */
async function findRow(deps: DataDeps, access: Access, type: RecordType, id: string, includeDeleted: boolean): Promise<Record<string, unknown> | undefined> {
  const readable = applyScope(anyDb(deps).selectFrom(`${type} as r`).selectAll('r'), access, type, 'read');
  if (!readable) return undefined;
  let qb = readable.where('r.id', '=', id);
  if (!includeDeleted) qb = hideTrashedAttachments(qb.where('r.deleted_at', 'is', null), type);
  return (await qb.executeTakeFirst()) as Record<string, unknown> | undefined;
}

/**
 * A record attached to another (an activity on a company) goes to the trash with it: while its
 * parent is there, it is not read, listed, counted or found, and comes back when the parent does.
 */
export function hideTrashedAttachments(qb: AnySelect, type: RecordType): AnySelect {
  const attachment = RECORD_TYPE_DEFS[type].attachedTo;
  if (!attachment) return qb;
  const column = `r.${attachment.column}`;
  return qb.where((eb: any) =>
    eb.or([
      eb(column, 'is', null),
      eb.and(attachment.parents.map((parent) => eb(column, 'not in', eb.selectFrom(parent).select('id').where('deleted_at', 'is not', null)))),
    ]),
  );
}

async function presentRows(deps: DataDeps, schema: RecordSchema, rows: Record<string, unknown>[]): Promise<RecordView[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => String(r.id));
  const customById = new Map<string, Record<string, unknown>>();
  const tagsById = new Map<string, string[]>();
  let customRows: { record_id: string; field_id: string; value: string }[] = [];
  if (schema.custom.length > 0) {
    for (let at = 0; at < ids.length; at += 1000) {
      const chunk = (await anyDb(deps).selectFrom('custom_values').select(['record_id', 'field_id', 'value']).where('record_id', 'in', ids.slice(at, at + 1000)).execute()) as typeof customRows;
      customRows = customRows.concat(chunk);
    }
  }
  // Personal values are opened here, on the way out, and nowhere else.
  customRows = await openRows(deps, schema, rows, customRows);
  if (schema.custom.length > 0) {
    const byFieldId = new Map(schema.custom.map((f) => [f.customFieldId!, f]));
    for (const v of customRows) {
      const def = byFieldId.get(v.field_id);
      if (!def) continue;
      const bag = customById.get(v.record_id) ?? {};
      bag[def.key] = presentFieldValue(def, decodeCustomValue(def, v.value));
      customById.set(v.record_id, bag);
    }
  }
  const tags: { record_id: string; tag_id: string }[] = [];
  for (let at = 0; at < ids.length; at += 1000) {
    tags.push(...((await anyDb(deps).selectFrom('record_tags').select(['record_id', 'tag_id']).where('record_type', '=', schema.def.type).where('record_id', 'in', ids.slice(at, at + 1000)).execute()) as typeof tags));
  }
  for (const t of tags) {
    const list = tagsById.get(t.record_id) ?? [];
    list.push(t.tag_id);
    tagsById.set(t.record_id, list);
  }
  return rows.map((row) => {
    const view: Record<string, unknown> = {};
    for (const def of SYSTEM_FIELDS) view[def.key] = presentFieldValue(def, row[def.column!]);
    for (const def of schema.fields) view[def.key] = presentFieldValue(def, row[def.column!]);
    const custom = customById.get(String(row.id)) ?? {};
    for (const def of schema.custom) if (!(def.key in custom)) custom[def.key] = presentFieldValue(def, null);
    view.customFields = custom;
    view.tagIds = (tagsById.get(String(row.id)) ?? []).sort();
    return view as RecordView;
  });
}

interface ResolvedSort {
  key: string;
  column: string;
  descending: boolean;
  nullable: boolean;
  def: FieldDef;
}

/** Columns that can never hold null, so keyset conditions need no null branch. */
const NOT_NULL_SYSTEM_KEYS = new Set(['createdAt', 'updatedAt']);

function resolveSort(schema: RecordSchema, raw: string): ResolvedSort {
  const descending = raw.startsWith('-');
  const key = descending ? raw.slice(1) : raw;
  const def = [...SYSTEM_FIELDS, ...schema.fields].find((f) => f.key === key);
  if (!def || !def.sortable || !def.column) {
    const allowed = [...SYSTEM_FIELDS, ...schema.fields].filter((f) => f.sortable).map((f) => f.key);
    throw new AppError('request.invalid_sort', `Cannot sort by that field; sortable fields: ${allowed.join(', ')}`);
  }
  return { key: raw, column: def.column, descending, nullable: !def.required && !NOT_NULL_SYSTEM_KEYS.has(def.key), def };
}

type AnySelect = SelectQueryBuilder<any, any, any>;

/** What a list's filters ask of the database, and what is checked once personal values are opened. */
interface FilterPlan {
  apply(qb: AnySelect): AnySelect;
  /** Checks on opened records: a blind index matches a bucket of records, these keep the true matches. */
  verify: ((view: RecordView) => boolean)[];
}

async function planFilters(deps: DataDeps, access: Access, schema: RecordSchema, filters: Record<string, string>): Promise<FilterPlan> {
  const byKey = new Map<string, FieldDef>([...SYSTEM_FIELDS, ...schema.fields].map((f) => [f.key, f]));
  const steps: ((qb: AnySelect) => AnySelect)[] = [];
  const verify: ((view: RecordView) => boolean)[] = [];
  let index: IndexKeys | null = null;
  const blindsOf = async (table: string, column: string, kind: NonNullable<FieldDef['blindIndex']>, value: string): Promise<number[]> => {
    index ??= await indexKeys(deps);
    return [...new Set(index.all.map((v) => blindOf(v, table, column, kind, value, deps.keyring.callingCode)!))];
  };
  for (const [key, raw] of Object.entries(filters)) {
    if (key === 'tagId') {
      if (!isId(raw)) throw new AppError('request.invalid_filter', 'tagId must be a tag id');
      steps.push((qb) => qb.where('r.id', 'in', (eb: any) => eb.selectFrom('record_tags').select('record_id').where('tag_id', '=', raw).where('record_type', '=', schema.def.type)));
      continue;
    }
    if (key.startsWith('custom.')) {
      const def = schema.custom.find((f) => f.key === key.slice('custom.'.length));
      if (!def) throw new AppError('request.invalid_filter', `Unknown custom field filter ${key.slice(0, 80)}`);
      requireReadable(access, schema.def.type, def, 'request.invalid_filter', 'filter by');
      const parsed = parseFieldValue({ ...def, required: true }, def.type === 'multiselect' ? [raw] : raw);
      if (!parsed.ok) throw new AppError('request.invalid_filter', `Filter ${def.key} ${parsed.message}`);
      if (isPersonal(def)) {
        if (def.type === 'multiselect') throw new AppError('request.invalid_filter', `${def.label} is encrypted; encrypted multi-select fields cannot be filtered`);
        const encoded = encodeCustomValue(def, parsed.value);
        const normalized = normalizeForIndex(def.blindIndex ?? 'text', encoded, deps.keyring.callingCode);
        const blinds = normalized === null ? [] : await blindsOf('custom_values', def.customFieldId!, def.blindIndex ?? 'text', encoded);
        steps.push((qb) => qb.where('r.id', 'in', (eb: any) => eb.selectFrom('custom_values').select('record_id').where('field_id', '=', def.customFieldId).where('blind', 'in', blinds.length > 0 ? blinds : [-1])));
        verify.push((view) => {
          const value = (view.customFields as Record<string, unknown>)[def.key];
          if (value === null || value === undefined) return false;
          return normalizeForIndex(def.blindIndex ?? 'text', encodeCustomValue(def, def.type === 'boolean' ? (value ? 1 : 0) : value), deps.keyring.callingCode) === normalized;
        });
      } else if (def.type === 'multiselect') {
        // A multi-select matches when it holds the option; values are stored as sorted JSON arrays.
        const needle = `%${JSON.stringify(raw).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        steps.push((qb) => qb.where('r.id', 'in', (eb: any) => eb.selectFrom('custom_values').select('record_id').where('field_id', '=', def.customFieldId).where(sql`value like ${needle} escape '\\'`)));
      } else {
        const encoded = encodeCustomValue(def, parsed.value);
        steps.push((qb) => qb.where('r.id', 'in', (eb: any) => eb.selectFrom('custom_values').select('record_id').where('field_id', '=', def.customFieldId).where('value', '=', encoded)));
      }
      continue;
    }
    const def = byKey.get(key);
    if (!def || !def.filterable || !def.column) throw new AppError('request.invalid_filter', `Cannot filter by ${key.slice(0, 80)}`);
    requireReadable(access, schema.def.type, def, 'request.invalid_filter', 'filter by');
    if (raw === '' || raw === 'null') {
      steps.push((qb) => qb.where(`r.${def.column}`, 'is', null));
      continue;
    }
    const parsed = parseFieldValue({ ...def, required: true, readOnly: false }, raw);
    if (!parsed.ok) throw new AppError('request.invalid_filter', `Filter ${key} ${parsed.message}`);
    if (def.blindIndex) {
      // A sealed column is found through its blind index, then checked value by value.
      const kind = def.blindIndex;
      const normalized = normalizeForIndex(kind, String(parsed.value), deps.keyring.callingCode);
      const blinds = normalized === null ? [] : await blindsOf(schema.def.type, def.column, kind, String(parsed.value));
      steps.push((qb) => qb.where(`r.${def.column}_bidx`, 'in', blinds.length > 0 ? blinds : [-1]));
      verify.push((view) => typeof view[def.key] === 'string' && normalizeForIndex(kind, view[def.key] as string, deps.keyring.callingCode) === normalized);
      continue;
    }
    steps.push((qb) => qb.where(`r.${def.column}`, '=', parsed.value));
  }
  return { apply: (qb) => steps.reduce((q, step) => step(q), qb), verify };
}

const RANGE_SQL: Record<RangeOperator, '<' | '<=' | '>' | '>='> = { lt: '<', lte: '<=', gt: '>', gte: '>=' };

function applyRanges(qb: AnySelect, access: Access, schema: RecordSchema, ranges: RangeFilter[]): AnySelect {
  if (ranges.length > MAX_RANGES) throw new AppError('request.invalid_filter', `At most ${MAX_RANGES} range filters`);
  const byKey = new Map<string, FieldDef>([...SYSTEM_FIELDS, ...schema.fields].map((f) => [f.key, f]));
  for (const range of ranges) {
    const def = byKey.get(range.key);
    if (!def || !isRangeField(def)) {
      const allowed = [...byKey.values()].filter(isRangeField).map((f) => f.key);
      throw new AppError('request.invalid_filter', `Cannot filter ${range.key.slice(0, 80)} by range; range fields: ${allowed.join(', ')}`);
    }
    if (!RANGE_OPERATORS.includes(range.op)) throw new AppError('request.invalid_filter', `Range operators are ${RANGE_OPERATORS.join(', ')}`);
    requireReadable(access, schema.def.type, def, 'request.invalid_filter', 'filter by');
    const parsed = parseFieldValue({ ...def, required: true }, range.value);
    if (!parsed.ok) throw new AppError('request.invalid_filter', `Filter ${def.key}[${range.op}] ${parsed.message}`);
    // Times are stored as ISO-8601 UTC text of one fixed shape, so text order is time order.
    qb = qb.where(`r.${def.column}`, RANGE_SQL[range.op], parsed.value);
  }
  return qb;
}

async function applySearch(deps: DataDeps, access: Access, qb: AnySelect, schema: RecordSchema, q: string): Promise<AnySelect> {
  const type = schema.def.type;
  if (q.length > 200) throw new AppError('request.invalid', 'The search text must be at most 200 characters');
  if (!q.isWellFormed()) throw new AppError('request.invalid', 'The search text must be valid Unicode');
  const reach = searchReach(access, schema);
  if (reach === 'none') throw new AppError('request.invalid_filter', `Your roles hide a searchable field of ${schema.def.singular} records, so they cannot be searched; filter them instead`);
  const words = termsForQuery(q);
  if (words.length === 0) return qb.where(sql<boolean>`1 = 0`);
  // Each word matches plain fields by prefix, or a personal field's token whole; the tokens are
  // left out for a principal who may not read every searchable personal field in clear.
  const index = await indexKeys(deps);
  const terms: QueryTerm[] = words.map((word) => ({ word, tokens: reach === 'all' ? queryTokens(index.all, type, word) : [] }));
  return qb.where(matchesTerms(deps.dialect, type, 'r.id', terms));
}

/** Whether a cursor's sort value could have come from the sort column: a forged one must not reach SQL. */
function cursorValueFits(def: FieldDef, value: string | number | null): boolean {
  if (value === null) return true;
  switch (def.type) {
    case 'integer':
      return Number.isSafeInteger(value) && Math.abs(value as number) <= 2_147_483_648;
    case 'money':
      return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= 1e15;
    case 'number':
      return typeof value === 'number';
    default:
      return typeof value === 'string';
  }
}

/**
 * Rows after the cursor in (sort column, id) order. Each database keeps its own place for nulls
 * (PostgreSQL sorts them above every value, SQLite below), so that plain indexes serve the order.
 */
function applyKeyset(qb: AnySelect, sort: ResolvedSort, value: unknown, id: string, nullsHigh: boolean): AnySelect {
  const col = `r.${sort.column}`;
  const after = !sort.descending;
  const op = after ? '>' : '<';
  // Whether null rows come after every non-null row in the walking direction.
  const nullsAhead = nullsHigh === after;
  return qb.where((eb: any) => {
    if (value === null) {
      const sameNull = eb.and([eb(col, 'is', null), eb('r.id', op, id)]);
      return nullsAhead ? sameNull : eb.or([sameNull, eb(col, 'is not', null)]);
    }
    // A row-value comparison lets both databases seek the (column, id) index instead of scanning.
    const beyond = sql<boolean>`(${sql.ref(col)}, ${sql.ref('r.id')}) ${sql.raw(op)} (${value}, ${id})`;
    return nullsAhead && sort.nullable ? eb.or([beyond, eb(col, 'is', null)]) : beyond;
  });
}

/**
 * A field whose column always holds a value (it has a database default) sent as null fails on the
 * NOT NULL constraint: that is bad input, not a fault, so it answers like validation would. A NOT
 * NULL failure on a column no field owns is a real fault and stays one.
 */
function emptiedColumn(schema: RecordSchema, error: unknown): AppError | undefined {
  const e = error as { code?: unknown; column?: unknown; message?: unknown } | null;
  if (e?.code !== 'SQLITE_CONSTRAINT_NOTNULL' && e?.code !== '23502') return undefined;
  const column = typeof e.column === 'string' ? e.column : typeof e.message === 'string' ? /\.(\w+)$/.exec(e.message)?.[1] : undefined;
  const def = [...schema.fields, ...OWNERSHIP_FIELDS].find((f) => f.column !== null && f.column === column);
  return def ? validationFailed(schema.def, [{ field: def.key, message: 'cannot be empty' }]) : undefined;
}

/** Limits a query to the action's scope, refusing outright a principal with no such action on the type. */
function scoped<Q extends AnySelect>(qb: Q, access: Access, def: RecordTypeDef, action: Action): Q {
  const limited = applyScope(qb, access, def.type, action);
  if (!limited) throw new AppError('auth.forbidden', `Your roles do not allow you to ${action} ${def.singular} records`);
  return limited as Q;
}

function requireAction(access: Access, def: RecordTypeDef, action: Action): void {
  if (access.scope(def.type, action) === null) throw new AppError('auth.forbidden', `Your roles do not allow you to ${action} ${def.singular} records`);
}

function refuseUnwritable(access: Access, schema: RecordSchema, input: RecordInput): void {
  const denied = unwritableFields(access, schema, input);
  if (denied.length > 0) throw new AppError('auth.forbidden', `Your roles do not allow you to set ${denied.map((p) => p.field).join(', ')}`, denied);
}

/**
 * Where a new record lands must lie within the create scope; naming another owner or team than the
 * creator's own needs the assign action as well, over where the record lands.
 */
function ownershipProblem(access: Access, def: RecordTypeDef, input: RecordInput, row: Record<string, unknown>): FieldProblem | null {
  const field = input.teamId !== undefined && input.ownerId === undefined ? 'teamId' : 'ownerId';
  const placedElsewhere = (input.ownerId !== undefined && input.ownerId !== access.holder.userId) || (input.teamId !== undefined && input.teamId !== (access.holder.teamIds[0] ?? null));
  if (placedElsewhere && !rowInScope(access, def.type, 'assign', row)) return { field, message: `names an owner or team your roles may not assign ${def.singular} records to` };
  if (!placedElsewhere && !rowInScope(access, def.type, 'create', row)) return { field, message: `would place the ${def.singular} outside the records your roles may create` };
  return null;
}

/** Changing a record's owner or team needs the assign action over the record as it is and as it will be. */
function reassignmentProblem(access: Access, def: RecordTypeDef, existing: Record<string, unknown>, columns: Record<string, unknown>): FieldProblem | null {
  const owner = 'owner_id' in columns ? columns.owner_id : existing.owner_id;
  const team = 'team_id' in columns ? columns.team_id : existing.team_id;
  if (owner === existing.owner_id && team === existing.team_id) return null;
  if (rowInScope(access, def.type, 'assign', existing) && rowInScope(access, def.type, 'assign', { owner_id: owner, team_id: team })) return null;
  return { field: owner !== existing.owner_id ? 'ownerId' : 'teamId', message: `names an owner or team your roles may not assign this ${def.singular} to` };
}

function isRecordType(table: string): table is RecordType {
  return table in RECORD_TYPE_DEFS;
}

function notFound(def: RecordTypeDef): AppError {
  return new AppError('record.not_found', `No such ${def.singular}`);
}

function validationFailed(def: RecordTypeDef, problems: FieldProblem[]): AppError {
  return new AppError('record.validation_failed', `The ${def.singular} has invalid fields: ${problems.map((p) => p.field).join(', ')}`, problems);
}
