import { sql, type Expression, type Kysely, type SqlBool } from 'kysely';
import type { Dialect, Executor } from './database.js';
import { insertMany } from './insert-many.js';

/**
 * The full-text index behind `q`. Each record has one document: the terms of its searchable
 * fields (see data/search-terms.ts). A query matches a record when each of its terms is a prefix
 * of one of the document's terms.
 *
 * Each database uses its own inverted index, because a plain table of (term, record) rows costs
 * a random-order B-tree insert per term and made bulk loads ten times slower:
 * - SQLite: a contentless FTS5 table, whose integer rowids map to record ids in `search_rows`;
 * - PostgreSQL: a `tsvector` per record in `search_documents` with a GIN index.
 * Terms reach both as ready-made tokens of letters and digits, so neither database's own text
 * parsing changes them. Words of personal fields arrive as blind tokens (`_` and hex, see
 * crypto/blind-index.ts) and only ever match whole; no typed prefix can reach them, since query
 * words never start with `_`.
 */
export interface SearchDocument {
  recordId: string;
  terms: string[];
}

const FTS_CHUNK = 500;

function anyDb(db: Executor): Kysely<any> {
  return db as unknown as Kysely<any>;
}

/** Creates the index tables; called by the foundation migration. */
export async function createSearchIndex(db: Kysely<any>, dialect: Dialect): Promise<void> {
  if (dialect === 'sqlite') {
    await db.schema
      .createTable('search_rows')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('record_type', 'text', (c) => c.notNull())
      .addColumn('record_id', 'text', (c) => c.notNull().unique())
      .execute();
    // contentless_delete keeps no copy of the text yet lets a record's document be replaced;
    // detail=none keeps no positions, which prefix and AND queries do not need; `_` joins the
    // characters of a term so that tokens stay whole.
    await sql`create virtual table search_fts using fts5(terms, content='', contentless_delete=1, detail=none, tokenize="unicode61 remove_diacritics 0 tokenchars '_'")`.execute(db);
    return;
  }
  await db.schema
    .createTable('search_documents')
    .addColumn('record_id', 'text', (c) => c.primaryKey())
    .addColumn('record_type', 'text', (c) => c.notNull())
    .addColumn('terms', sql`tsvector`, (c) => c.notNull())
    .execute();
  await sql`create index search_documents_terms_idx on search_documents using gin (terms)`.execute(db);
}

/** Adds the documents of new records. */
export async function indexDocuments(db: Executor, dialect: Dialect, recordType: string, documents: SearchDocument[]): Promise<void> {
  const docs = documents.filter((d) => d.terms.length > 0);
  for (let at = 0; at < docs.length; at += FTS_CHUNK) {
    const chunk = docs.slice(at, at + FTS_CHUNK);
    if (dialect === 'postgres') {
      await anyDb(db)
        .insertInto('search_documents')
        .values(chunk.map((d) => ({ record_id: d.recordId, record_type: recordType, terms: sql`array_to_tsvector(${d.terms}::text[])` })))
        .execute();
      continue;
    }
    const rows = (await insertMany(db, dialect, 'search_rows', chunk.map((d) => ({ record_type: recordType, record_id: d.recordId })), ['id', 'record_id'])) as { id: number; record_id: string }[];
    const rowIdOf = new Map(rows.map((r) => [r.record_id, r.id]));
    await insertMany(db, dialect, 'search_fts', chunk.map((d) => ({ rowid: rowIdOf.get(d.recordId), terms: d.terms.join(' ') })));
  }
}

/**
 * Adds the documents of many new records at once (a restore rebuilding the whole index): on SQLite
 * the row ids are given here instead of read back one statement at a time, on PostgreSQL a batch
 * is one JSON parameter that the server turns into rows. The index ends up as indexDocuments would
 * leave it.
 */
export async function indexDocumentsInBulk(db: Executor, dialect: Dialect, recordType: string, documents: SearchDocument[]): Promise<void> {
  const docs = documents.filter((d) => d.terms.length > 0);
  if (docs.length === 0) return;
  if (dialect === 'postgres') {
    const batch = JSON.stringify(docs.map((d) => ({ id: d.recordId, terms: d.terms })));
    await sql`insert into search_documents (record_id, record_type, terms) select d.id, ${recordType}, array_to_tsvector(d.terms) from json_to_recordset(${batch}::json) as d(id text, terms text[])`.execute(db);
    return;
  }
  const [top] = (await sql<{ id: number | null }>`select max(id) as id from search_rows`.execute(db)).rows;
  const first = Number(top?.id ?? 0) + 1;
  await insertMany(db, dialect, 'search_rows', docs.map((d, i) => ({ id: first + i, record_type: recordType, record_id: d.recordId })));
  await insertMany(db, dialect, 'search_fts', docs.map((d, i) => ({ rowid: first + i, terms: d.terms.join(' ') })));
}

/** Removes the documents of records, whatever they hold. */
export async function removeDocuments(db: Executor, dialect: Dialect, recordIds: string[]): Promise<void> {
  for (let at = 0; at < recordIds.length; at += FTS_CHUNK) {
    const chunk = recordIds.slice(at, at + FTS_CHUNK);
    if (dialect === 'postgres') {
      await anyDb(db).deleteFrom('search_documents').where('record_id', 'in', chunk).execute();
      continue;
    }
    const rows = (await anyDb(db).selectFrom('search_rows').select('id').where('record_id', 'in', chunk).execute()) as { id: number }[];
    if (rows.length === 0) continue;
    await anyDb(db).deleteFrom('search_fts').where('rowid', 'in', rows.map((r) => r.id)).execute();
    await anyDb(db).deleteFrom('search_rows').where('record_id', 'in', chunk).execute();
  }
}

/** Replaces one record's document after its searchable fields changed. */
export async function reindexDocument(db: Executor, dialect: Dialect, recordType: string, document: SearchDocument): Promise<void> {
  if (dialect === 'postgres') {
    if (document.terms.length === 0) {
      await anyDb(db).deleteFrom('search_documents').where('record_id', '=', document.recordId).execute();
      return;
    }
    await anyDb(db)
      .insertInto('search_documents')
      .values({ record_id: document.recordId, record_type: recordType, terms: sql`array_to_tsvector(${document.terms}::text[])` })
      .onConflict((oc) => oc.column('record_id').doUpdateSet({ terms: sql`excluded.terms` }))
      .execute();
    return;
  }
  const existing = (await anyDb(db).selectFrom('search_rows').select('id').where('record_id', '=', document.recordId).executeTakeFirst()) as { id: number } | undefined;
  if (!existing) {
    await indexDocuments(db, dialect, recordType, [document]);
    return;
  }
  await anyDb(db).deleteFrom('search_fts').where('rowid', '=', existing.id).execute();
  if (document.terms.length > 0) await anyDb(db).insertInto('search_fts').values({ rowid: existing.id, terms: document.terms.join(' ') }).execute();
}

/** One word of a query: matched as a prefix of plain words, or whole as one of its tokens. */
export interface QueryTerm {
  word: string;
  tokens: string[];
}

/**
 * The condition "record `idColumn` of `recordType` matches every query term", for a WHERE.
 * Words hold letters and digits only (data/search-terms.ts) and tokens `_` and hex, so both can
 * be quoted as they are.
 */
export function matchesTerms(dialect: Dialect, recordType: string, idColumn: string, terms: QueryTerm[]): Expression<SqlBool> {
  if (dialect === 'postgres') {
    const query = terms.map((t) => `(${[`'${t.word}':*`, ...t.tokens.map((k) => `'${k}'`)].join(' | ')})`).join(' & ');
    return sql<SqlBool>`${sql.ref(idColumn)} in (select record_id from search_documents where record_type = ${recordType} and terms @@ ${query}::tsquery)`;
  }
  const query = terms.map((t) => `(${[`"${t.word}"*`, ...t.tokens.map((k) => `"${k}"`)].join(' OR ')})`).join(' AND ');
  return sql<SqlBool>`${sql.ref(idColumn)} in (select record_id from search_rows where record_type = ${recordType} and id in (select rowid from search_fts where search_fts match ${query}))`;
}

/** The tables that hold the index on this database, for tools that copy or clear whole tables. */
export function searchIndexTables(dialect: Dialect): string[] {
  return dialect === 'postgres' ? ['search_documents'] : ['search_fts', 'search_rows'];
}

/** The ids of the records of `recordType` that have a document in the index. */
export async function indexedRecordIds(db: Executor, dialect: Dialect, recordType: string): Promise<string[]> {
  const table = dialect === 'postgres' ? 'search_documents' : 'search_rows';
  const rows = (await anyDb(db).selectFrom(table).select('record_id').where('record_type', '=', recordType).execute()) as { record_id: string }[];
  return rows.map((r) => r.record_id);
}
