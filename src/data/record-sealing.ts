import type { Kysely } from 'kysely';
import { IntegrityError } from '../crypto/aead.js';
import { blindIndex, normalizeForIndex, searchToken } from '../crypto/blind-index.js';
import type { SubjectKeys } from '../crypto/keyring.js';
import type { CustomValuesTable } from '../db/schema.js';
import { AppError } from '../shared/errors.js';
import { isPersonal, presentFieldValue, SYSTEM_FIELDS, type FieldDef, type RecordType } from './field-registry.js';
import { canonicalJson } from '../shared/canonical-json.js';
import { valueDigest, valueDigestKey } from '../audit/value-digest.js';
import { openValue, sealValue, sealedVersion, type ValuePlace } from './field-crypto.js';
import { createDataKeys, ERASED, indexKeys, IntegrityFailure, organisationKeys, ORGANISATION, recordIntegrityEvent, subjectKeys, type IndexKeyVersion, type KeyDeps, type SubjectKeyState } from './keys.js';
import { phoneNumberTerms, termsForRecord } from './search-terms.js';

/**
 * Encryption of record rows, between the data layer's SQL and its callers. Rows arrive here with
 * plaintext values and leave with personal values sealed under their subject's data key, blind
 * indexes filled in and a search document made; rows read from the database are opened here.
 */
export interface SchemaLike {
  readonly def: { readonly type: RecordType; readonly subject: 'person' | 'organisation'; readonly subjectFrom?: { readonly column: string; readonly typeColumn?: string } };
  readonly fields: readonly FieldDef[];
  readonly custom: readonly FieldDef[];
}

/** The types whose records are data subjects themselves. */
const PERSON_TYPES: readonly RecordType[] = ['contacts', 'leads'];

const personalCache = new WeakMap<readonly FieldDef[], FieldDef[]>();

/** Built-in personal fields that have a column. */
export function personalFields(schema: SchemaLike): FieldDef[] {
  let list = personalCache.get(schema.fields);
  if (!list) {
    list = schema.fields.filter((f) => isPersonal(f) && f.column);
    personalCache.set(schema.fields, list);
  }
  return list;
}

/** Whether this record type keeps a subject id on its rows. */
export function hasSubjectColumn(schema: SchemaLike): boolean {
  return schema.def.subject === 'person' || schema.def.subjectFrom !== undefined;
}

export function bidxColumn(def: FieldDef): string {
  return `${def.column}_bidx`;
}

function anyDb(deps: KeyDeps): Kysely<any> {
  return deps.db as unknown as Kysely<any>;
}

/**
 * The subject of each row: a person's own id; for records that can belong to a person, that
 * person's subject; otherwise null, for the organisation key.
 */
export async function subjectsOfRows(deps: KeyDeps, schema: SchemaLike, rows: Record<string, unknown>[]): Promise<(string | null)[]> {
  if (schema.def.subject === 'person') return rows.map((r) => String(r.id));
  const from = schema.def.subjectFrom;
  if (!from) return rows.map(() => null);
  const wanted = new Map<RecordType, Set<string>>();
  const targetOf = (row: Record<string, unknown>): RecordType | null => {
    const id = row[from.column];
    if (typeof id !== 'string') return null;
    const type = (from.typeColumn ? row[from.typeColumn] : 'contacts') as RecordType;
    return PERSON_TYPES.includes(type) ? type : null;
  };
  for (const row of rows) {
    const type = targetOf(row);
    if (type) {
      const ids = wanted.get(type) ?? new Set<string>();
      ids.add(String(row[from.column]));
      wanted.set(type, ids);
    }
  }
  const subjectOf = new Map<string, string | null>();
  for (const [type, ids] of wanted) {
    const list = [...ids];
    for (let at = 0; at < list.length; at += 500) {
      const found = (await anyDb(deps).selectFrom(type).select(['id', 'subject_id']).where('id', 'in', list.slice(at, at + 500)).execute()) as { id: string; subject_id: string | null }[];
      for (const row of found) subjectOf.set(`${type}:${row.id}`, row.subject_id);
    }
  }
  return rows.map((row) => {
    const type = targetOf(row);
    return type ? (subjectOf.get(`${type}:${String(row[from.column])}`) ?? null) : null;
  });
}

/** Keys for sealing and opening the rows of the given subjects (null: the organisation). */
export async function keysForSubjects(deps: KeyDeps, subjects: Iterable<string | null>, options: { fresh?: boolean } = {}): Promise<Map<string, SubjectKeyState>> {
  const ids = new Set<string>();
  let organisation = false;
  for (const s of subjects) {
    if (s === null) organisation = true;
    else ids.add(s);
  }
  const keys = await subjectKeys(deps, ids, options);
  if (organisation) keys.set(ORGANISATION, await organisationKeys(deps, options));
  return keys;
}

/** A row of `custom_values` as stored. */
export type CustomValueRow = CustomValuesTable;

/** A new record on its way into the database. */
export interface RowToSeal {
  row: Record<string, unknown>;
  /** Custom values, already in their text encoding. */
  custom: { def: FieldDef; encoded: string }[];
}

export interface SealedRow {
  /** The terms of the record's search document: words of plain fields and tokens of personal ones. */
  terms: string[];
  customRows: CustomValueRow[];
  /** Keyed digests of the values written, for the audit log. */
  digests: ValueDigests;
}

/**
 * What a write changed, for the audit log: per field (`email`, `customFields.<key>`), the keyed
 * digests of the old and new value (null for empty), under a key derived from the subject's data
 * key of `keyVersion`. Never the values.
 */
export interface ValueDigests {
  keyVersion: number;
  changes: Record<string, [string | null, string | null]>;
}

const OWNERSHIP_FIELDS = SYSTEM_FIELDS.filter((f) => f.key === 'ownerId' || f.key === 'teamId');

/** The text a column value is digested as: its API form in canonical JSON, the same for old and new. */
function columnText(def: FieldDef, value: unknown): string | null {
  return value === null || value === undefined ? null : canonicalJson(presentFieldValue(def, value));
}

function digester(keys: SubjectKeys): (field: string, text: string | null) => string | null {
  const key = valueDigestKey(keys.versions.get(keys.current)!);
  return (field, text) => (text === null ? null : valueDigest(key, field, text));
}

/**
 * Seals new rows in place: gives each its subject (and new people their data keys), replaces
 * personal values by sealed ones, fills the blind indexes, and answers the search document and
 * custom value rows of each. Runs inside the caller's transaction.
 */
export async function sealNewRows(deps: KeyDeps, schema: SchemaLike, items: RowToSeal[]): Promise<SealedRow[]> {
  if (items.length === 0) return [];
  const rows = items.map((i) => i.row);
  const subjects = await subjectsOfRows(deps, schema, rows);
  if (schema.def.subject === 'person') await createDataKeys(deps, subjects as string[]);
  const keys = await keysForSubjects(deps, subjects, { fresh: schema.def.subject !== 'person' });
  const index = (await indexKeys(deps)).writing;
  const withSubject = hasSubjectColumn(schema);
  return items.map((item, i) => {
    const subject = subjects[i] ?? null;
    if (withSubject) item.row.subject_id = subject;
    const subjectKeys = usableKeys(keys, subject);
    return sealRow(schema, item.row, item.custom, subject, subjectKeys, index, deps.keyring.callingCode);
  });
}

function usableKeys(keys: Map<string, SubjectKeyState>, subject: string | null): SubjectKeys {
  const state = keys.get(subject ?? ORGANISATION);
  if (!state) throw new Error(`keys for subject ${subject ?? ORGANISATION} were not loaded`);
  if (state === ERASED) throw new AppError('record.erased', 'The person this record belongs to was erased; nothing more can be written about them');
  return state;
}

function sealRow(schema: SchemaLike, row: Record<string, unknown>, custom: { def: FieldDef; encoded: string }[], subject: string | null, keys: SubjectKeys, index: IndexKeyVersion, callingCode: string): SealedRow {
  const recordId = String(row.id);
  const table = schema.def.type;
  const terms = searchTerms(schema, row, index);
  const digest = digester(keys);
  const digests: ValueDigests = { keyVersion: keys.current, changes: {} };
  for (const def of schema.fields.concat(OWNERSHIP_FIELDS)) {
    const text = def.column ? columnText(def, row[def.column]) : null;
    if (text !== null) digests.changes[def.key] = [null, digest(def.key, text)];
  }
  for (const { def, encoded } of custom) digests.changes[`customFields.${def.key}`] = [null, digest(`customFields.${def.key}`, encoded)];
  for (const def of schema.fields) {
    if (!def.blindIndex || !def.column) continue;
    const value = row[def.column];
    row[bidxColumn(def)] = value === null || value === undefined ? null : blindOf(index, table, def.column, def.blindIndex, String(value), callingCode);
  }
  const place = { table, column: '', recordId, subjectId: subject ?? ORGANISATION };
  for (const def of personalFields(schema)) {
    const value = row[def.column!];
    if (value !== null && value !== undefined) row[def.column!] = sealValue(keys, { ...place, column: def.column! }, String(value));
  }
  row.key_version = keys.current;
  const customRows = custom.map(({ def, encoded }) => sealCustomValue(schema, def, recordId, subject, keys, index, encoded, callingCode));
  return { terms, customRows, digests };
}

/** A custom value as stored: sealed with a blind index when the field is personal. */
export function sealCustomValue(schema: SchemaLike, def: FieldDef, recordId: string, subject: string | null, keys: SubjectKeys, index: IndexKeyVersion, encoded: string, callingCode: string): CustomValueRow {
  const base = { record_type: schema.def.type, record_id: recordId, field_id: def.customFieldId! };
  if (!isPersonal(def)) return { ...base, value: encoded, blind: null, key_version: null };
  return {
    ...base,
    key_version: keys.current,
    value: sealValue(keys, { table: 'custom_values', column: def.customFieldId!, recordId, subjectId: subject ?? ORGANISATION }, encoded),
    blind: blindOf(index, 'custom_values', def.customFieldId!, def.blindIndex ?? 'text', encoded, callingCode),
  };
}

/** The blind index of a value under one index key version, or null when it has nothing to index. */
export function blindOf(index: IndexKeyVersion, table: string, column: string, kind: NonNullable<FieldDef['blindIndex']>, value: string, callingCode: string): number | null {
  const normalized = normalizeForIndex(kind, value, callingCode);
  return normalized === null ? null : blindIndex(index.columnKey(table, column), normalized, index.bits);
}

const searchableCache = new WeakMap<readonly FieldDef[], { plain: string[]; personal: string[]; phones: string[] }>();

/**
 * A record's search document: prefix-searchable words of plain fields, whole-word tokens of
 * personal ones. A personal phone number gives tokens of the whole number only (as dialled, and
 * without its country code): tokens of its short groups ("138") would match half the book and
 * show how often each group occurs.
 */
export function searchTerms(schema: SchemaLike, row: Record<string, unknown>, index: IndexKeyVersion): string[] {
  let columns = searchableCache.get(schema.fields);
  if (!columns) {
    const searchable = schema.fields.filter((f) => f.searchable && f.column);
    const personal = searchable.filter(isPersonal);
    columns = {
      plain: searchable.filter((f) => !isPersonal(f)).map((f) => f.column!),
      personal: personal.filter((f) => f.type !== 'phone').map((f) => f.column!),
      phones: personal.filter((f) => f.type === 'phone').map((f) => f.column!),
    };
    searchableCache.set(schema.fields, columns);
  }
  const terms = termsForRecord(columns.plain.map((c) => row[c]));
  const tokenKey = index.tokenKey(schema.def.type);
  for (const term of termsForRecord(columns.personal.map((c) => row[c]))) terms.push(tokenOf(tokenKey, term));
  for (const column of columns.phones) {
    const value = row[column];
    if (typeof value === 'string') for (const number of phoneNumberTerms(value)) terms.push(tokenOf(tokenKey, number));
  }
  return terms;
}

// Tokens of recent words: names repeat across people, and a bulk load meets them again and again.
const recentTokens = new Map<string, string>();
const RECENT_TOKENS_MAX = 50_000;
const tokenKeyIds = new WeakMap<Buffer, number>();
let nextTokenKeyId = 0;

function tokenOf(tokenKey: Buffer, term: string): string {
  let id = tokenKeyIds.get(tokenKey);
  if (id === undefined) {
    id = nextTokenKeyId++;
    tokenKeyIds.set(tokenKey, id);
  }
  const memo = `${id}|${term}`;
  let token = recentTokens.get(memo);
  if (token === undefined) {
    token = searchToken(tokenKey, term);
    if (recentTokens.size >= RECENT_TOKENS_MAX) recentTokens.clear();
    recentTokens.set(memo, token);
  }
  return token;
}

/** The tokens a query word can match under the index versions in force. */
export function queryTokens(index: readonly IndexKeyVersion[], type: RecordType, word: string): string[] {
  return index.map((v) => tokenOf(v.tokenKey(type), word));
}

/**
 * Opens the personal values of rows read from the database, in place. Values of an erased person
 * read as null. A value that fails to open is recorded as an integrity event and stops the read
 * with `data.integrity_failed`: damaged data is never returned as if it were data.
 */
export async function openRows<C extends { record_id: string; field_id: string; value: string }>(deps: KeyDeps, schema: SchemaLike, rows: Record<string, unknown>[], customRows: C[] = []): Promise<C[]> {
  const personal = personalFields(schema);
  const personalCustom = new Set(schema.custom.filter(isPersonal).map((f) => f.customFieldId!));
  if (personal.length === 0 && personalCustom.size === 0) return customRows;
  const withSubject = hasSubjectColumn(schema);
  const subjectOfRow = (row: Record<string, unknown>): string | null => (withSubject ? ((row.subject_id as string | null) ?? null) : null);
  let keys = await keysForSubjects(deps, rows.map(subjectOfRow));
  // A value sealed under a version this process has not cached yet (a rotation elsewhere) sends
  // its subject back to the table once before anything is called damaged.
  const stale = new Set<string | null>();
  for (const row of rows) {
    const state = keys.get(subjectOfRow(row) ?? ORGANISATION);
    if (!state || state === ERASED) continue;
    for (const def of personal) {
      const version = sealedVersion(row[def.column!]);
      if (version !== null && !state.versions.has(version)) stale.add(subjectOfRow(row));
    }
  }
  if (stale.size > 0) {
    for (const s of stale) deps.keyring.forget(s ?? ORGANISATION);
    keys = await keysForSubjects(deps, rows.map(subjectOfRow));
  }
  const table = schema.def.type;
  const subjectById = new Map<string, string | null>();
  for (const row of rows) {
    const subject = subjectOfRow(row);
    subjectById.set(String(row.id), subject);
    const state = keys.get(subject ?? ORGANISATION)!;
    for (const def of personal) {
      const stored = row[def.column!];
      if (stored === null || stored === undefined) continue;
      if (state === ERASED) {
        row[def.column!] = null;
        continue;
      }
      const opened = openOrReport(deps, state, { table, column: def.column!, recordId: String(row.id), subjectId: subject ?? ORGANISATION }, String(stored));
      row[def.column!] = typeof opened === 'string' ? opened : await opened;
    }
  }
  const kept: C[] = [];
  for (const cv of customRows) {
    if (personalCustom.has(cv.field_id)) {
      const subject = subjectById.get(cv.record_id) ?? null;
      const state = keys.get(subject ?? ORGANISATION)!;
      if (state === ERASED) continue;
      const opened = openOrReport(deps, state, { table: 'custom_values', column: cv.field_id, recordId: cv.record_id, subjectId: subject ?? ORGANISATION }, cv.value);
      cv.value = typeof opened === 'string' ? opened : await opened;
    }
    kept.push(cv);
  }
  return kept;
}

function openOrReport(deps: KeyDeps, keys: SubjectKeys, place: ValuePlace, stored: string): string | Promise<never> {
  try {
    return openValue(keys, place, stored);
  } catch (error) {
    if (!(error instanceof IntegrityError)) throw error;
    return reportIntegrityFailure(deps, place, error);
  }
}

/**
 * Records the failure (never the value) and answers `data.integrity_failed`. Inside a transaction,
 * which the error rolls back, the event is recorded by `inTransaction` after the rollback.
 */
async function reportIntegrityFailure(deps: KeyDeps, place: ValuePlace, error: IntegrityError): Promise<never> {
  const event = { table: place.table, column: place.column, recordId: place.recordId, reason: error.message };
  const inside = deps.db.isTransaction;
  if (!inside) await recordIntegrityEvent(deps, event).catch(() => undefined);
  throw new IntegrityFailure(`Stored data of a ${place.table} record failed its integrity check and was not returned; the event was recorded for the administrators`, event, !inside);
}

export interface SealedUpdate {
  /** Columns to set: sealed personal values, blind indexes, and the subject when it changed. */
  columns: Record<string, unknown>;
  /** Custom value rows to replace, by field id; a null row deletes the value. */
  customRows: Map<string, CustomValueRow | null>;
  /** The new search document, or null when no searchable value changed. */
  terms: string[] | null;
  /** Keyed digests of the values that changed, for the audit log. */
  digests: ValueDigests;
}

/**
 * Seals the changes to an existing row. When the change moves the record to another person (a note
 * attached to someone else), every personal value it holds is sealed again under that person's key.
 */
export async function sealUpdate(deps: KeyDeps, schema: SchemaLike, existing: Record<string, unknown>, changes: Record<string, unknown>, customChanges: Map<FieldDef, unknown>, encode: (def: FieldDef, value: unknown) => string): Promise<SealedUpdate> {
  const recordId = String(existing.id);
  const oldSubject = hasSubjectColumn(schema) ? ((existing.subject_id as string | null) ?? null) : null;
  const opened = { ...existing };
  const storedCustom = (await anyDb(deps).selectFrom('custom_values').select(['record_id', 'field_id', 'value']).where('record_id', '=', recordId).execute()) as { record_id: string; field_id: string; value: string }[];
  const oldKeys = await keysForSubjects(deps, [oldSubject]);
  if (oldKeys.get(oldSubject ?? ORGANISATION) === ERASED) throw new AppError('record.erased', 'The person this record belongs to was erased; it can no longer be changed');
  await openRows(deps, schema, [opened], storedCustom);
  const merged = { ...opened, ...changes };
  const [newSubject] = await subjectsOfRows(deps, schema, [merged]);
  const subject = newSubject ?? null;
  // A record moved to another person, or last sealed under an older key version, is sealed again
  // whole, so that all its values always share one subject and one version.
  const keys = usableKeys(await keysForSubjects(deps, [subject], { fresh: true }), subject);
  const moved = subject !== oldSubject || Number(existing.key_version ?? 0) !== keys.current;
  const index = (await indexKeys(deps)).writing;
  const table = schema.def.type;
  const place = { table, column: '', recordId, subjectId: subject ?? ORGANISATION };

  const columns: Record<string, unknown> = { ...changes, key_version: keys.current };
  if (moved && hasSubjectColumn(schema)) columns.subject_id = subject;
  for (const def of personalFields(schema)) {
    const column = def.column!;
    if (!(column in changes) && !moved) continue;
    const value = merged[column];
    columns[column] = value === null || value === undefined ? null : sealValue(keys, { ...place, column }, String(value));
  }
  for (const def of schema.fields) {
    if (!def.blindIndex || !def.column || !(def.column in changes)) continue;
    const value = changes[def.column];
    columns[bidxColumn(def)] = value === null || value === undefined ? null : blindOf(index, table, def.column, def.blindIndex, String(value), deps.keyring.callingCode);
  }

  const customRows = new Map<string, CustomValueRow | null>();
  const customById = new Map(schema.custom.map((f) => [f.customFieldId!, f]));
  if (moved) {
    for (const cv of storedCustom) {
      const def = customById.get(cv.field_id);
      if (def && isPersonal(def)) customRows.set(cv.field_id, sealCustomValue(schema, def, recordId, subject, keys, index, cv.value, deps.keyring.callingCode));
    }
  }
  for (const [def, value] of customChanges) {
    const empty = value === null || (Array.isArray(value) && value.length === 0);
    customRows.set(def.customFieldId!, empty ? null : sealCustomValue(schema, def, recordId, subject, keys, index, encode(def, value), deps.keyring.callingCode));
  }

  const digest = digester(keys);
  const digests: ValueDigests = { keyVersion: keys.current, changes: {} };
  for (const def of schema.fields.concat(OWNERSHIP_FIELDS)) {
    if (!def.column || !(def.column in changes)) continue;
    const before = columnText(def, opened[def.column]);
    const after = columnText(def, changes[def.column]);
    if (before !== after) digests.changes[def.key] = [digest(def.key, before), digest(def.key, after)];
  }
  for (const [def, value] of customChanges) {
    const name = `customFields.${def.key}`;
    const before = storedCustom.find((cv) => cv.field_id === def.customFieldId)?.value ?? null;
    const after = value === null || (Array.isArray(value) && value.length === 0) ? null : encode(def, value);
    if (before !== after) digests.changes[name] = [digest(name, before), digest(name, after)];
  }

  const searchableChanged = schema.fields.some((f) => f.searchable && f.column && f.column in changes);
  return { columns, customRows, terms: searchableChanged ? searchTerms(schema, merged, index) : null, digests };
}
