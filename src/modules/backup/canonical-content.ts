import { createHash } from 'node:crypto';
import { CompiledQuery } from 'kysely';
import type { Dialect, Executor } from '../../db/database.js';
import { searchIndexTables } from '../../db/search-index.js';
import { canonicalJson } from '../../shared/canonical-json.js';

/**
 * The content of a database in a form that does not depend on which database holds it: every
 * table the migrations made, its rows in primary-key order (byte order of the UTF-8 text, as
 * SQLite's BINARY and PostgreSQL's "C" collation sort), each row a JSON array of its values in
 * column-name order, normalized by the column's kind (PostgreSQL's bigint strings and SQLite's
 * numbers both become numbers, booleans true and false, JSON text canonical). A backup stores
 * exactly these lines, so its manifest, the live database it came from and a database restored
 * from it can be compared hash for hash.
 *
 * Tables are found in the database's own catalogue, never from a list kept here, so tables that
 * later migrations add are covered without a change. Left out: the migrator's bookkeeping (a
 * backup names its migrations instead) and the full-text search index, which is built
 * differently on each database and is made again from the records on restore.
 */
export type ColumnKind = 'integer' | 'real' | 'boolean' | 'text' | 'json' | 'blob';

export interface ColumnShape {
  readonly name: string;
  readonly kind: ColumnKind;
}

export interface TableShape {
  readonly name: string;
  /** In name order: the order of the values in a canonical row. */
  readonly columns: readonly ColumnShape[];
  /** The primary key's columns in key order; every column when a table has none. */
  readonly key: readonly string[];
}

export interface TableContent {
  readonly rows: number;
  /** SHA-256 over the table's canonical rows, each followed by a newline, hex. */
  readonly sha256: string;
}

export interface CanonicalContent {
  readonly tables: Readonly<Record<string, TableContent>>;
  /** SHA-256 over the canonical JSON of `tables`: one value that stands for the whole database. */
  readonly sha256: string;
}

/** Names Rampart's tables and columns use; anything else in the catalogue is refused, not quoted. */
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
const MIGRATOR_TABLES = new Set(['kysely_migration', 'kysely_migration_lock']);
/** Rows fetched per round trip: small enough for wide tables, large enough to keep the round trips cheap. */
export const READ_BATCH = 2000;

export function isIdentifier(name: unknown): name is string {
  return typeof name === 'string' && IDENTIFIER.test(name);
}

export function quoteIdentifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`unexpected name in the database catalogue: ${JSON.stringify(name)}`);
  return `"${name}"`;
}

async function query<R>(db: Executor, text: string, params: readonly unknown[] = []): Promise<R[]> {
  return (await db.executeQuery<R>(CompiledQuery.raw(text, [...params]))).rows as R[];
}

/** The kind of a column from the type the database declares for it. */
export function columnKind(declared: string): ColumnKind {
  const type = declared.toLowerCase();
  if (type.includes('int')) return 'integer';
  if (type.includes('bool')) return 'boolean';
  if (/real|double|float|numeric|decimal/.test(type)) return 'real';
  if (type.includes('json')) return 'json';
  if (type.includes('blob') || type.includes('bytea')) return 'blob';
  return 'text';
}

/** Every table that holds data, with its columns and key, in name order. */
export async function describeTables(db: Executor, dialect: Dialect): Promise<TableShape[]> {
  const skipped = new Set([...MIGRATOR_TABLES, ...searchIndexTables(dialect)]);
  const shapes: TableShape[] = [];
  if (dialect === 'sqlite') {
    // Virtual tables and their shadow tables (the FTS5 index) are listed with their own types.
    const tables = await query<{ name: string }>(db, `select name from pragma_table_list where schema = 'main' and type = 'table' and name not like 'sqlite_%' order by name`);
    for (const { name } of tables) {
      if (skipped.has(name)) continue;
      quoteIdentifier(name);
      const info = await query<{ name: string; type: string; pk: number }>(db, 'select name, type, pk from pragma_table_info(?)', [name]);
      shapes.push(shapeOf(name, info.map((c) => ({ name: c.name, type: c.type, keyAt: Number(c.pk) }))));
    }
    return shapes;
  }
  // The catalogue itself rather than information_schema, whose views check privileges on every
  // schema's relations and fail when another session drops one at the same moment.
  const tables = await query<{ name: string }>(db, `select relname as name from pg_class where relnamespace = current_schema()::regnamespace and relkind in ('r', 'p') order by relname`);
  for (const { name } of tables) {
    if (skipped.has(name)) continue;
    quoteIdentifier(name);
    const columns = await query<{ name: string; type: string; at: number | null }>(
      db,
      `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type, k.position as at
         from pg_attribute a
         join pg_class c on c.oid = a.attrelid
         left join pg_index i on i.indrelid = c.oid and i.indisprimary
         left join lateral unnest(i.indkey::int2[]) with ordinality as k(attnum, position) on k.attnum = a.attnum
        where c.relnamespace = current_schema()::regnamespace and c.relname = $1 and a.attnum > 0 and not a.attisdropped`,
      [name],
    );
    shapes.push(shapeOf(name, columns.map((c) => ({ name: c.name, type: c.type, keyAt: Number(c.at ?? 0) }))));
  }
  return shapes;
}

function shapeOf(name: string, columns: { name: string; type: string; keyAt: number }[]): TableShape {
  for (const c of columns) quoteIdentifier(c.name);
  const sorted = [...columns].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const key = columns.filter((c) => c.keyAt > 0).sort((a, b) => a.keyAt - b.keyAt).map((c) => c.name);
  return { name, columns: sorted.map((c) => ({ name: c.name, kind: columnKind(c.type) })), key: key.length > 0 ? key : sorted.map((c) => c.name) };
}

/** A value as a canonical row holds it. */
export function canonicalValue(kind: ColumnKind, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case 'integer':
      if (typeof value === 'number') return value;
      if (typeof value === 'boolean') return value ? 1 : 0;
      if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
      if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number.isSafeInteger(Number(value)) ? Number(value) : value;
      return value instanceof Buffer ? { base64: value.toString('base64') } : value;
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'number' || typeof value === 'bigint') return Number(value) !== 0;
      if (value === 't' || value === 'true' || value === '1') return true;
      if (value === 'f' || value === 'false' || value === '0') return false;
      return value;
    case 'real':
      return typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
    case 'json':
      if (typeof value === 'string') {
        try {
          return canonicalJson(JSON.parse(value));
        } catch {
          return value;
        }
      }
      return canonicalJson(value);
    case 'blob':
      return value instanceof Uint8Array ? { base64: Buffer.from(value).toString('base64') } : value;
    case 'text':
      if (value instanceof Date) return value.toISOString();
      if (value instanceof Uint8Array) return { base64: Buffer.from(value).toString('base64') };
      return typeof value === 'string' ? value : String(value);
  }
}

/** The text of one canonical row: a JSON array of its normalized values, in column-name order. */
export function canonicalLine(table: TableShape, row: Record<string, unknown>): string {
  const values = new Array<unknown>(table.columns.length);
  for (let i = 0; i < table.columns.length; i++) {
    const column = table.columns[i]!;
    values[i] = canonicalValue(column.kind, row[column.name]);
  }
  return JSON.stringify(values);
}

/** A canonical value turned back into what the target database takes for a column of this kind. */
export function storedValue(kind: ColumnKind, dialect: Dialect, value: unknown): unknown {
  if (value === null) return null;
  if (typeof value === 'object' && value !== null && typeof (value as { base64?: unknown }).base64 === 'string') return Buffer.from((value as { base64: string }).base64, 'base64');
  if (kind === 'boolean' && typeof value === 'boolean') return dialect === 'sqlite' ? (value ? 1 : 0) : value;
  return value;
}

/** How many rows a table holds. */
export async function countRows(db: Executor, table: string): Promise<number> {
  const [row] = await query<{ n: number | string }>(db, `select count(*) as n from ${quoteIdentifier(table)}`);
  return Number(row?.n ?? 0);
}

/**
 * Whether PostgreSQL's default collation already sorts text by code point, as "C" does: then the
 * primary-key indexes give the canonical order and no sort is needed.
 */
async function sortsByCodePoint(db: Executor): Promise<boolean> {
  const [row] = await query<{ collation: string }>(db, 'select datcollate as collation from pg_database where datname = current_database()');
  return /^(c|posix|c\.utf-?8|ucs_basic)$/i.test(row?.collation ?? '');
}

const codePointOrder = new WeakMap<object, boolean>();

/**
 * The rows of a table in canonical order, a batch at a time, as the database answers them (not yet
 * normalized). SQLite pages through the primary key; PostgreSQL reads one cursor, so the order is
 * sorted once however large the table. PostgreSQL cursors need the caller's transaction.
 */
export async function* tableRows(db: Executor, dialect: Dialect, table: TableShape, batch = READ_BATCH): AsyncGenerator<Record<string, unknown>[]> {
  const name = quoteIdentifier(table.name);
  const columns = table.columns.map((c) => quoteIdentifier(c.name)).join(', ');
  if (dialect === 'postgres') {
    let byCodePoint = codePointOrder.get(db);
    if (byCodePoint === undefined) {
      byCodePoint = await sortsByCodePoint(db);
      codePointOrder.set(db, byCodePoint);
    }
    const kindOf = new Map(table.columns.map((c) => [c.name, c.kind]));
    const order = table.key.map((k) => (kindOf.get(k) === 'text' && !byCodePoint ? `${quoteIdentifier(k)} collate "C"` : quoteIdentifier(k))).join(', ');
    const cursor = quoteIdentifier(`rampart_read_${table.name}`);
    await query(db, `declare ${cursor} no scroll cursor for select ${columns} from ${name} order by ${order}`);
    try {
      for (;;) {
        const rows = await query<Record<string, unknown>>(db, `fetch forward ${batch} from ${cursor}`);
        if (rows.length > 0) yield rows;
        if (rows.length < batch) break;
      }
    } finally {
      await query(db, `close ${cursor}`);
    }
    return;
  }
  const key = table.key.map(quoteIdentifier);
  const order = key.join(', ');
  const after = key.length === 1 ? `${key[0]} > ?` : `(${order}) > (${key.map(() => '?').join(', ')})`;
  let last: unknown[] | null = null;
  for (;;) {
    const rows: Record<string, unknown>[] = last === null
      ? await query(db, `select ${columns} from ${name} order by ${order} limit ${batch}`)
      : await query(db, `select ${columns} from ${name} where ${after} order by ${order} limit ${batch}`, last);
    if (rows.length > 0) yield rows;
    if (rows.length < batch) break;
    const tail = rows[rows.length - 1]!;
    last = table.key.map((k) => tail[k]);
  }
}

/**
 * Runs `work` on one connection inside a read-only snapshot: every table it reads is as of the
 * same moment, while other connections go on writing. Inside a caller's transaction, that one.
 * SQLite: a deferred transaction, which in WAL mode reads one snapshot and blocks no writer (the
 * Kysely transactions of this codebase begin IMMEDIATE, which would). PostgreSQL: REPEATABLE READ.
 */
export async function withSnapshot<T>(db: Executor, dialect: Dialect, work: (db: Executor) => Promise<T>): Promise<T> {
  if (db.isTransaction) return work(db);
  return db.connection().execute(async (connection) => {
    await query(connection, dialect === 'postgres' ? 'begin transaction isolation level repeatable read, read only' : 'begin deferred');
    try {
      const result = await work(connection);
      await query(connection, 'commit');
      return result;
    } catch (error) {
      await query(connection, 'rollback').catch(() => undefined);
      throw error;
    }
  });
}

/** Hashes canonical rows as they go by, for one table. */
export class TableHasher {
  private readonly hash = createHash('sha256');
  rows = 0;

  addLine(line: string): void {
    this.hash.update(line);
    this.hash.update('\n');
    this.rows += 1;
  }

  addBytes(lineWithNewline: Uint8Array): void {
    this.hash.update(lineWithNewline);
    this.rows += 1;
  }

  /** Several whole lines at once, each followed by its newline, as they stand in a dump. */
  addLines(linesWithNewlines: Uint8Array, lines: number): void {
    this.hash.update(linesWithNewlines);
    this.rows += lines;
  }

  finish(): TableContent {
    return { rows: this.rows, sha256: this.hash.digest('hex') };
  }
}

/** The hash that stands for a whole database: over the canonical JSON of its tables' figures. */
export function contentDigest(tables: Readonly<Record<string, TableContent>>): string {
  return createHash('sha256').update(canonicalJson(tables)).digest('hex');
}

export interface CanonicalContentOptions {
  /** Leave these tables out (restore drills compare what a backup holds, not what came later). */
  exclude?: readonly string[];
  onProgress?: (progress: { table: string; done: number }) => void;
}

/**
 * The canonical content of a database, read in one snapshot (or in the caller's transaction).
 * Equal hashes mean equal data, whichever of the two databases holds each side.
 */
export async function canonicalContent(db: Executor, dialect: Dialect, options: CanonicalContentOptions = {}): Promise<CanonicalContent> {
  const exclude = new Set(options.exclude ?? []);
  return withSnapshot(db, dialect, async (snapshot) => {
    const tables: Record<string, TableContent> = {};
    for (const table of await describeTables(snapshot, dialect)) {
      if (exclude.has(table.name)) continue;
      const hasher = new TableHasher();
      for await (const rows of tableRows(snapshot, dialect, table)) {
        for (const row of rows) hasher.addLine(canonicalLine(table, row));
        options.onProgress?.({ table: table.name, done: hasher.rows });
      }
      tables[table.name] = hasher.finish();
    }
    return { tables, sha256: contentDigest(tables) };
  });
}
