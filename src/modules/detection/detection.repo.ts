import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { AlertsTable, DetectionBaselinesTable, DetectionProgressTable, DetectionRulesTable } from '../../db/schema.js';
import { ACTIONS_WITH_AGENT, ACTIONS_WITH_DETAILS, ACTIONS_WITH_MODE, READ_MODES, type AuditRow, type RequestEventRow } from '../../detection/events.js';

/**
 * All SQL of the detection engine: its place in the two streams and its lease, reading the
 * streams, the rules as configured, the baselines, what it needs to know of users, roles and
 * decoys, and the alerts it stores.
 */

export const ENGINE = 'engine';

export type ProgressRow = DetectionProgressTable;
export type RuleRow = DetectionRulesTable;
export type BaselineRow = DetectionBaselinesTable;
export type AlertRow = AlertsTable;

const AUDIT_COLUMNS = ['seq', 'occurred_at', 'actor_kind', 'actor_id', 'session_id', 'source_address', 'action', 'record_ids', 'outcome'] as const;
const REQUEST_COLUMNS = ['id', 'occurred_at', 'source_address', 'user_agent', 'path', 'status', 'kind', 'probe', 'actor_kind', 'actor_id', 'session_id', 'repeats'] as const;

/**
 * A read's `details.mode`, picked out by the database: the details are canonical JSON (no spaces,
 * a string never holds an unescaped quote), so a pattern finds the key without parsing, and the
 * rest of the details, a list of subjects perhaps, never leaves the database. Constants only.
 */
const MODE = sql<string | null>`case when action in (${sql.join(ACTIONS_WITH_MODE.map((a) => sql.lit(a)))}) then case ${sql.join(
  READ_MODES.map((mode) => sql`when details like ${sql.lit(`%"mode":"${mode}"%`)} then ${sql.lit(mode)}`),
  sql` `,
)} else null end else null end`;

export async function selectProgress(db: Executor): Promise<ProgressRow | undefined> {
  return db.selectFrom('detection_progress').selectAll().where('consumer', '=', ENGINE).executeTakeFirst();
}

export async function ensureProgress(db: Executor, now: string): Promise<void> {
  await db
    .insertInto('detection_progress')
    .values({ consumer: ENGINE, audit_seq: 0, request_event_id: '', lease_holder: null, lease_until: null, updated_at: now })
    .onConflict((oc) => oc.column('consumer').doNothing())
    .execute();
}

/**
 * Takes or renews the lease when nobody else holds a live one; answers whether `holder` has it.
 * One conditional UPDATE, so two processes racing for it cannot both win.
 */
export async function takeLease(db: Executor, holder: string, now: string, until: string): Promise<boolean> {
  const result = await db
    .updateTable('detection_progress')
    .set({ lease_holder: holder, lease_until: until, updated_at: now })
    .where('consumer', '=', ENGINE)
    .where((eb) => eb.or([eb('lease_holder', '=', holder), eb('lease_holder', 'is', null), eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function releaseLease(db: Executor, holder: string): Promise<void> {
  await db.updateTable('detection_progress').set({ lease_holder: null, lease_until: null }).where('consumer', '=', ENGINE).where('lease_holder', '=', holder).execute();
}

/** Moves the cursor, only while `holder` still holds the lease; answers whether it did. */
export async function advanceProgress(db: Executor, holder: string, cursor: { auditSeq: number; requestEventId: string }, leaseUntil: string, now: string): Promise<boolean> {
  const result = await db
    .updateTable('detection_progress')
    .set({ audit_seq: cursor.auditSeq, request_event_id: cursor.requestEventId, lease_until: leaseUntil, updated_at: now })
    .where('consumer', '=', ENGINE)
    .where('lease_holder', '=', holder)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * The columns the engine reads. The User-Agent and the details only come back for the actions a
 * rule reads them from: most entries are record reads, and their text is never looked at.
 */
function auditEntries(db: Executor) {
  return db
    .selectFrom('audit_entries')
    .select(AUDIT_COLUMNS)
    .select((eb) => [
      eb.case().when('action', 'in', [...ACTIONS_WITH_AGENT]).then(eb.ref('user_agent')).else(null).end().as('user_agent'),
      eb.case().when('action', 'in', [...ACTIONS_WITH_DETAILS]).then(eb.ref('details')).else('{}').end().as('details'),
      MODE.as('mode'),
    ]);
}

export async function selectAuditAfter(db: Executor, seq: number, limit: number): Promise<AuditRow[]> {
  return auditEntries(db).where('seq', '>', seq).orderBy('seq').limit(limit).execute();
}

/** Entries after `afterSeq` up to `uptoSeq`: for warming up on history. */
export async function selectAuditHistory(db: Executor, afterSeq: number, uptoSeq: number, limit: number): Promise<AuditRow[]> {
  return auditEntries(db).where('seq', '>', afterSeq).where('seq', '<=', uptoSeq).orderBy('seq').limit(limit).execute();
}

/** The first sequence number of the history to warm up on: the later of a time and a count back from the head. */
export async function firstAuditSeqSince(db: Executor, from: string, uptoSeq: number, maxEntries: number): Promise<number> {
  const row = await db.selectFrom('audit_entries').select((eb) => eb.fn.min('seq').as('seq')).where('occurred_at', '>=', from).where('seq', '<=', uptoSeq).executeTakeFirst();
  const first = row?.seq === null || row?.seq === undefined ? uptoSeq + 1 : Number(row.seq);
  return Math.max(first, uptoSeq - maxEntries + 1);
}

export async function auditHead(db: Executor): Promise<{ seq: number; at: string | null }> {
  const head = await db.selectFrom('audit_head').select('seq').where('id', '=', 1).executeTakeFirst();
  const seq = Number(head?.seq ?? 0);
  if (seq === 0) return { seq, at: null };
  const entry = await db.selectFrom('audit_entries').select('occurred_at').where('seq', '=', seq).executeTakeFirst();
  return { seq, at: entry?.occurred_at ?? null };
}

export async function auditTimeOf(db: Executor, seq: number): Promise<string | null> {
  if (seq <= 0) return null;
  const entry = await db.selectFrom('audit_entries').select('occurred_at').where('seq', '=', seq).executeTakeFirst();
  return entry?.occurred_at ?? null;
}

export async function selectRequestEventsAfter(db: Executor, afterId: string, limit: number): Promise<RequestEventRow[]> {
  return db.selectFrom('request_events').select(REQUEST_COLUMNS).where('id', '>', afterId).orderBy('id').limit(limit).execute();
}

/** Request events from `from` (a time) up to the id `uptoId`, for warming up. */
export async function selectRequestEventHistory(db: Executor, from: string, afterId: string, uptoId: string, limit: number): Promise<RequestEventRow[]> {
  return db.selectFrom('request_events').select(REQUEST_COLUMNS).where('id', '>', afterId).where('id', '<=', uptoId).where('occurred_at', '>=', from).orderBy('id').limit(limit).execute();
}

export async function latestRequestEventId(db: Executor): Promise<string> {
  const row = await db.selectFrom('request_events').select('id').orderBy('id', 'desc').limit(1).executeTakeFirst();
  return row?.id ?? '';
}

export async function selectRuleRows(db: Executor): Promise<RuleRow[]> {
  return db.selectFrom('detection_rules').selectAll().execute();
}

export async function selectRuleRow(db: Executor, key: string): Promise<RuleRow | undefined> {
  return db.selectFrom('detection_rules').selectAll().where('key', '=', key).executeTakeFirst();
}

/**
 * Writes a rule's settings if its stored version is still `version` (0: never changed, no row
 * yet); answers whether it did.
 */
export async function writeRuleRow(db: Executor, row: Omit<RuleRow, 'version'>, version: number): Promise<boolean> {
  if (version === 0) {
    const inserted = await db
      .insertInto('detection_rules')
      .values({ ...row, version: 1 })
      .onConflict((oc) => oc.column('key').doNothing())
      .executeTakeFirst();
    return Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1;
  }
  const updated = await db
    .updateTable('detection_rules')
    .set({ enabled: row.enabled, severity: row.severity, settings: row.settings, responses: row.responses, updated_by: row.updated_by, updated_at: row.updated_at, version: version + 1 })
    .where('key', '=', row.key)
    .where('version', '=', version)
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1;
}

export async function selectBaselines(db: Executor, metric?: string): Promise<BaselineRow[]> {
  let qb = db.selectFrom('detection_baselines').selectAll();
  if (metric !== undefined) qb = qb.where('metric', '=', metric);
  return qb.execute();
}

export async function selectBaseline(db: Executor, kind: string, id: string, metric: string): Promise<BaselineRow | undefined> {
  return db
    .selectFrom('detection_baselines')
    .selectAll()
    .where('subject_kind', '=', kind as BaselineRow['subject_kind'])
    .where('subject_id', '=', id)
    .where('metric', '=', metric)
    .executeTakeFirst();
}

export async function upsertBaselines(db: Executor, rows: readonly BaselineRow[]): Promise<void> {
  for (let at = 0; at < rows.length; at += 200) {
    await db
      .insertInto('detection_baselines')
      .values(rows.slice(at, at + 200))
      .onConflict((oc) => oc.columns(['subject_kind', 'subject_id', 'metric']).doUpdateSet((eb) => ({ data: eb.ref('excluded.data'), updated_at: eb.ref('excluded.updated_at') })))
      .execute();
  }
}

export interface DirectoryRows {
  users: { id: string; status: string; updated_at: string; created_at: string; last_login_at: string | null }[];
  memberships: { user_id: string; role_id: string }[];
  roles: { id: string; definition: string }[];
  honeytokens: { record_id: string }[];
}

export async function selectDirectory(db: Executor): Promise<DirectoryRows> {
  const [users, memberships, roles, honeytokens] = await Promise.all([
    db.selectFrom('users').select(['id', 'status', 'updated_at', 'created_at', 'last_login_at']).execute(),
    db.selectFrom('user_roles').select(['user_id', 'role_id']).execute(),
    db.selectFrom('roles').select(['id', 'definition']).execute(),
    db.selectFrom('honeytokens').select('record_id').execute(),
  ]);
  return { users, memberships, roles, honeytokens };
}

/**
 * When each user was last seen besides the audit log: a session's last request, a token's last use.
 * A user seen there recently is not dormant, even when nothing they did was worth an audit entry.
 */
export async function selectLastSeen(db: Executor): Promise<{ user_id: string; at: string | null }[]> {
  const [sessions, tokens] = await Promise.all([
    db.selectFrom('sessions').select(['user_id', (eb) => eb.fn.max('last_seen_at').as('at')]).groupBy('user_id').execute(),
    db.selectFrom('api_tokens').select(['user_id', (eb) => eb.fn.max('last_used_at').as('at')]).groupBy('user_id').execute(),
  ]);
  return [...sessions, ...tokens].map((r) => ({ user_id: r.user_id, at: (r.at as string | null) ?? null }));
}

/** The alert of a subject that is still being dealt with (open or acknowledged): repeats fold into it. */
export async function selectOpenAlert(db: Executor, subjectKey: string): Promise<AlertRow | undefined> {
  return db.selectFrom('alerts').selectAll().where('subject_key', '=', subjectKey).where('status', 'in', ['open', 'acknowledged']).orderBy('created_at', 'desc').limit(1).executeTakeFirst();
}

export async function insertAlert(db: Executor, row: AlertRow): Promise<void> {
  await db.insertInto('alerts').values(row).execute();
}

/** Folds repeats into an alert: more events, a later last sighting, more evidence. Not a change a person made, so the version stays. */
export async function foldIntoAlert(db: Executor, id: string, changes: { event_count: number; last_seen_at: string; evidence: string; updated_at: string }): Promise<void> {
  await db.updateTable('alerts').set(changes).where('id', '=', id).execute();
}

/** The blocks an alert's responses put on an address (its block key), to tell one that ran out from one a person lifted. */
export async function selectAlertBlocks(db: Executor, alertId: string, blockKey: string): Promise<{ until: string; lifted_at: string | null }[]> {
  return db.selectFrom('address_blocks').select(['until', 'lifted_at']).where('address', '=', blockKey).where('alert_id', '=', alertId).execute();
}

export async function selectAlertById(db: Executor, id: string): Promise<AlertRow | undefined> {
  return db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function lastAlertAt(db: Executor): Promise<string | null> {
  const row = await db.selectFrom('alerts').select((eb) => eb.fn.max('created_at').as('at')).executeTakeFirst();
  return (row?.at as string | null | undefined) ?? null;
}
