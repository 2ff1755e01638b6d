import type { Kysely, SelectQueryBuilder } from 'kysely';
import type { AuditEntry } from '../audit/entry.js';
import type { Executor } from '../db/database.js';
import type { DatabaseSchema } from '../db/schema.js';
import type { ActorContext } from '../shared/principal.js';
import { accessOf } from './access.js';
import { storedEntry } from './audit-log.js';
import type { KeyDeps } from './keys.js';

/**
 * Questions asked of the audit log: entries by who, from where, on what, when; and the blast
 * radius of a compromised account, token, session or address. Only the audit service calls these,
 * after checking `audit.read`, and records that it did.
 */
export interface AuditFilter {
  /** User ids (for tokens, the token's owner), CLI operators or job names. */
  actors?: readonly string[];
  /** API token ids. */
  tokens?: readonly string[];
  /** Session ids as the log holds them. */
  sessions?: readonly string[];
  addresses?: readonly string[];
  /** A record id: entries that name it. */
  record?: string;
  /** A data subject (a contact's or lead's id): entries about them or their notes and tickets. */
  subject?: string;
  /** Exact actions, or a family ending in `.*` (`record.*`). */
  actions?: readonly string[];
  outcome?: AuditEntry['outcome'];
  recordType?: string;
  /** ISO-8601, inclusive. */
  from?: string;
  /** ISO-8601, exclusive. */
  to?: string;
}

type EntryQuery = SelectQueryBuilder<DatabaseSchema, 'audit_entries', {}>;

/**
 * What of the log a reader is shown. The entries about decoy records (planting, listing and
 * removing them, and the job's writing of them) would tell anyone reading the log which customers
 * are decoys; only those who handle alerts, who know the decoys anyway, see them.
 */
export interface AuditVisibility {
  decoys: boolean;
}

/** The default: decoys hidden. */
export const WITHOUT_DECOYS: AuditVisibility = { decoys: false };

/** The actions about decoys, as a prefix; and the job that writes them (see honeytokens.service). */
const DECOY_ACTIONS = 'detection.honeytoken';
const DECOY_JOB = 'honeytokens';

/** What a principal is shown: decoy entries only with `alerts.handle`. */
export async function auditVisibility(deps: { readonly db: Executor }, ctx: ActorContext): Promise<AuditVisibility> {
  return { decoys: (await accessOf(deps, ctx)).may('alerts.handle') };
}

function applyVisibility(qb: EntryQuery, visibility: AuditVisibility): EntryQuery {
  if (visibility.decoys) return qb;
  return qb.where((eb) =>
    eb.and([
      eb(eb.fn('substr', ['action', eb.val(1), eb.val(DECOY_ACTIONS.length)]), '<>', DECOY_ACTIONS),
      // Written out with the nulls, so that an entry without an actor id is not dropped as unknown.
      eb.or([eb('actor_kind', '<>', 'system'), eb('actor_id', 'is', null), eb('actor_id', '<>', DECOY_JOB)]),
    ]),
  );
}

/**
 * The SQL condition of a filter. Ids reach LIKE patterns only after the caller checked that they
 * are ids (letters, digits, dashes), so they carry no wildcard.
 */
function applyFilter(qb: EntryQuery, filter: AuditFilter): EntryQuery {
  const who: ((eb: any) => any)[] = [];
  if (filter.actors?.length) who.push((eb) => eb('actor_id', 'in', filter.actors));
  if (filter.tokens?.length) who.push((eb) => eb.and([eb('actor_kind', '=', 'token'), eb('session_id', 'in', filter.tokens)]));
  if (filter.sessions?.length) who.push((eb) => eb('session_id', 'in', filter.sessions));
  if (filter.addresses?.length) who.push((eb) => eb('source_address', 'in', filter.addresses));
  if (who.length > 0) qb = qb.where((eb) => eb.or(who.map((w) => w(eb))));
  if (filter.record) qb = qb.where('record_ids', 'like', `%"${filter.record}"%`);
  if (filter.subject) {
    const id = filter.subject;
    qb = qb.where((eb) => eb.or([eb('record_ids', 'like', `%"${id}"%`), eb('details', 'like', `%"${id}"%`)]));
  }
  if (filter.actions?.length) {
    const exact = filter.actions.filter((a) => !a.endsWith('.*'));
    // A family is a prefix compared as text, not a LIKE pattern, in which `_` would match anything.
    const families = filter.actions.filter((a) => a.endsWith('.*')).map((a) => a.slice(0, -1));
    qb = qb.where((eb) => eb.or([...(exact.length > 0 ? [eb('action', 'in', exact)] : []), ...families.map((f) => eb(eb.fn('substr', ['action', eb.val(1), eb.val(f.length)]), '=', f))]));
  }
  if (filter.outcome) qb = qb.where('outcome', '=', filter.outcome);
  if (filter.recordType) qb = qb.where('record_type', '=', filter.recordType);
  if (filter.from) qb = qb.where('occurred_at', '>=', filter.from);
  if (filter.to) qb = qb.where('occurred_at', '<', filter.to);
  return qb;
}

function entries(deps: KeyDeps): EntryQuery {
  return (deps.db as Kysely<DatabaseSchema>).selectFrom('audit_entries');
}

export interface EntryPage {
  items: AuditEntry[];
  /** The sequence number to pass as `before` for the next (older) page, or null. */
  nextBefore: number | null;
}

/** Entries matching the filter, newest first, `limit` at a time; those about decoys only if `visibility` says so. */
export async function findEntries(deps: KeyDeps, filter: AuditFilter, page: { limit: number; before?: number }, visibility: AuditVisibility = WITHOUT_DECOYS): Promise<EntryPage> {
  let qb = applyVisibility(applyFilter(entries(deps), filter), visibility);
  if (page.before !== undefined) qb = qb.where('seq', '<', page.before);
  const rows = await qb.selectAll().orderBy('seq', 'desc').limit(page.limit + 1).execute();
  const items = rows.slice(0, page.limit).map(storedEntry);
  return { items, nextBefore: rows.length > page.limit ? items.at(-1)!.seq : null };
}

/** What was done to one data subject's data within the window. */
export interface SubjectExposure {
  subject: string;
  /** `contacts` or `leads`, when the subject's record still exists. */
  subjectType: string | null;
  /** Per field: how often it was read (in the answer), changed, exported or revealed. */
  fields: Record<string, { read: number; changed: number; exported: number; revealed: number }>;
  /** The records of theirs that were touched: their own and notes, tickets about them. */
  records: string[];
  first: string;
  last: string;
}

export interface BlastRadius {
  filter: AuditFilter;
  /** Entries in the window by the selected actors. */
  entries: number;
  subjects: SubjectExposure[];
  /** Records that belong to no person (companies, deals), per type. */
  organisationRecords: Record<string, { read: number; changed: number; exported: number; records: number }>;
  /** Exports finished in the window: type, rows and file fingerprint. */
  exports: { seq: number; time: string; recordType: string | null; rows: number; sha256: string }[];
  /** Refusals and failures in the window: attempts that did not get through. */
  refused: number;
}

const PERSON_TYPES = new Set(['contacts', 'leads']);
const BATCH = 2000;

type Touch = 'read' | 'changed' | 'exported' | 'revealed';

function touchOf(action: string): Touch | null {
  switch (action) {
    case 'record.read':
      return 'read';
    case 'record.export':
      return 'exported';
    case 'record.reveal':
      return 'revealed';
    case 'record.create':
    case 'record.import':
    case 'record.update':
    case 'record.delete':
    case 'record.restore':
    case 'record.merge':
    case 'record.erase':
    // Removed for good: the record and what hung on it (subjects named) are gone.
    case 'record.purge':
      return 'changed';
    // record.bulk_delete and record.bulk_update name no records: each record of the batch has its
    // own record.delete or record.update entry, counted above.
    default:
      return null;
  }
}

/**
 * Every data subject and field the selected actors read, changed, exported or revealed within the
 * window, with counts: the answer to "what did this account see" after a compromise. Walks the
 * matching entries once, oldest first, in batches. Decoys' entries count only if `visibility` says
 * so; reads of decoys by the selected actors are theirs, and stay.
 */
export async function blastRadius(deps: KeyDeps, filter: AuditFilter, visibility: AuditVisibility = WITHOUT_DECOYS): Promise<BlastRadius> {
  const bySubject = new Map<string, SubjectExposure & { recordSet: Set<string> }>();
  const organisation = new Map<string, { read: number; changed: number; exported: number; records: Set<string> }>();
  const exports: BlastRadius['exports'] = [];
  let count = 0;
  let refused = 0;
  let after = 0;
  for (;;) {
    const rows = await applyVisibility(applyFilter(entries(deps), filter), visibility).selectAll().where('seq', '>', after).orderBy('seq').limit(BATCH).execute();
    if (rows.length === 0) break;
    for (const row of rows) {
      const entry = storedEntry(row);
      after = entry.seq;
      count += 1;
      if (entry.outcome !== 'success') {
        refused += 1;
        continue;
      }
      if (entry.action === 'export.completed') {
        exports.push({ seq: entry.seq, time: entry.time, recordType: entry.recordType, rows: Number(entry.details.rows ?? 0), sha256: String(entry.details.sha256 ?? '') });
        continue;
      }
      const touch = touchOf(entry.action);
      if (!touch || !entry.recordType) continue;
      const personal = PERSON_TYPES.has(entry.recordType);
      const subjects = personal ? entry.recordIds : Array.isArray(entry.details.subjects) ? (entry.details.subjects as string[]) : [];
      if (subjects.length === 0) {
        const bucket = organisation.get(entry.recordType) ?? { read: 0, changed: 0, exported: 0, records: new Set<string>() };
        if (touch !== 'revealed') bucket[touch] += entry.recordIds.length;
        for (const id of entry.recordIds) bucket.records.add(id);
        organisation.set(entry.recordType, bucket);
        continue;
      }
      for (const subject of subjects) {
        let exposure = bySubject.get(subject);
        if (!exposure) {
          exposure = { subject, subjectType: null, fields: {}, records: [], recordSet: new Set(), first: entry.time, last: entry.time };
          bySubject.set(subject, exposure);
        }
        exposure.last = entry.time;
        if (personal) exposure.recordSet.add(subject);
        else for (const id of entry.recordIds) exposure.recordSet.add(id);
        const fields = entry.fields.length > 0 ? entry.fields : ['(record)'];
        for (const field of fields) {
          const counts = (exposure.fields[field] ??= { read: 0, changed: 0, exported: 0, revealed: 0 });
          counts[touch] += 1;
        }
      }
    }
  }
  const subjects = [...bySubject.values()];
  await nameSubjectTypes(deps, subjects);
  return {
    filter,
    entries: count,
    subjects: subjects
      .map(({ recordSet, ...exposure }) => ({ ...exposure, records: [...recordSet].sort() }))
      .sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0)),
    organisationRecords: Object.fromEntries([...organisation].map(([type, b]) => [type, { read: b.read, changed: b.changed, exported: b.exported, records: b.records.size }])),
    exports,
    refused,
  };
}

async function nameSubjectTypes(deps: KeyDeps, subjects: SubjectExposure[]): Promise<void> {
  const ids = subjects.map((s) => s.subject);
  const typeOf = new Map<string, string>();
  for (const type of PERSON_TYPES) {
    for (let at = 0; at < ids.length; at += 500) {
      const found = (await (deps.db as unknown as Kysely<any>).selectFrom(type).select('id').where('id', 'in', ids.slice(at, at + 500)).execute()) as { id: string }[];
      for (const row of found) typeOf.set(row.id, type);
    }
  }
  for (const s of subjects) s.subjectType = typeOf.get(s.subject) ?? null;
}

/** The blast radius as CSV: one row per subject and field. Ids and counts only, no personal values. */
export function blastRadiusCsv(radius: BlastRadius): string {
  const lines = ['subject,subject_type,field,read,changed,exported,revealed,first,last'];
  for (const s of radius.subjects) {
    for (const [field, c] of Object.entries(s.fields)) lines.push([s.subject, s.subjectType ?? '', field, c.read, c.changed, c.exported, c.revealed, s.first, s.last].join(','));
  }
  return `${lines.join('\n')}\n`;
}
