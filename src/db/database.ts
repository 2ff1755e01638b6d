import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { CompiledQuery, Kysely, PostgresDialect, SqliteDialect, sql, type DatabaseConnection, type Driver, type SqliteDatabase, type Transaction } from 'kysely';
import type { Config } from '../config/config.js';
import type { DatabaseSchema } from './schema.js';

// COUNT(*) and BIGINT columns come back from pg as strings; every such value Rampart stores fits
// in a double, so read them as numbers like SQLite does.
pg.types.setTypeParser(20, (value) => Number(value));

export type Dialect = 'sqlite' | 'postgres';
export type Db = Kysely<DatabaseSchema>;
export type Trx = Transaction<DatabaseSchema>;
/** A connection or an open transaction: repository functions take either. */
export type Executor = Db | Trx;

export interface Database {
  readonly db: Db;
  readonly dialect: Dialect;
  /** PostgreSQL: the schema this connection works in, when not the default one. */
  readonly schema?: string;
  close(): Promise<void>;
}

export type DatabaseTarget = Config['database'] & { schema?: string };

/**
 * SQLite transactions that take the write lock when they begin (BEGIN IMMEDIATE). A deferred
 * transaction reads first and asks for the lock at its first write; if another process wrote in
 * between, SQLite cannot upgrade it and fails at once, whatever the busy timeout. Taken at the
 * start, the lock waits its turn instead, so a second process (a CLI command beside the server,
 * a second server) queues rather than failing.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  override createDriver(): Driver {
    const driver = super.createDriver();
    driver.beginTransaction = async (connection: DatabaseConnection) => {
      await connection.executeQuery(CompiledQuery.raw('begin immediate'));
    };
    return driver;
  }
}

/** Opens the configured database. SQLite: WAL, foreign keys on, a busy timeout. */
export function openDatabase(target: DatabaseTarget): Database {
  if (target.dialect === 'sqlite') {
    if (target.file !== ':memory:') fs.mkdirSync(path.dirname(target.file), { recursive: true, mode: 0o700 });
    const sqlite = new SQLite(target.file);
    sqlite.pragma('journal_mode = WAL');
    // FULL: a commit is on disk before the answer that acknowledges it leaves. NORMAL in WAL mode
    // survives a killed process but lets a power cut or an operating-system crash take back the
    // last commits, after the caller was told they were saved and after the audit checkpointer
    // may have sent a signed tree head covering them off the server; the shorter log would then
    // fail verification against that checkpoint. PostgreSQL's default commit is just as durable.
    // The cost is one fsync of the WAL per commit (well under a millisecond on a local SSD); bulk
    // loads commit thousands of rows at a time and barely notice.
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    // 64 MiB of page cache instead of SQLite's 2 MiB: at a million contacts the indexes that
    // inserts land in at random (email, owner, company) no longer fit in 2 MiB.
    sqlite.pragma('cache_size = -65536');
    // Statement journals in memory rather than temporary files. SQLite keeps one for every
    // statement that writes many rows inside a transaction, only so that a failing statement can be
    // undone on its own; it is never read after a crash, so this costs no durability. On disk, a
    // bulk load spent a tenth of its time writing those files.
    sqlite.pragma('temp_store = MEMORY');
    // Deleted rows (an erased person's key, replaced values) are zeroed on the pages a write
    // touches anyway, so they do not linger in the file; FAST costs no extra writes.
    sqlite.pragma('secure_delete = FAST');
    if (target.file !== ':memory:') {
      for (const suffix of ['', '-wal', '-shm']) {
        if (fs.existsSync(target.file + suffix)) fs.chmodSync(target.file + suffix, 0o600);
      }
    }
    const db = new Kysely<DatabaseSchema>({ dialect: new ImmediateSqliteDialect({ database: withStatementCache(sqlite) }) });
    return { db, dialect: 'sqlite', close: () => db.destroy() };
  }
  const pool = new pg.Pool({
    connectionString: target.url,
    max: 10,
    ...(target.schema ? { options: `-c search_path=${target.schema}` } : {}),
  });
  const db = new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', ...(target.schema ? { schema: target.schema } : {}), close: () => db.destroy() };
}

const CACHED_STATEMENTS = 300;

/**
 * Kysely prepares every query afresh, and better-sqlite3 compiles SQL on every prepare(); for the
 * short queries of a page view and the multi-row inserts of a load, compiling cost as much as
 * running. This keeps the most recently used statements by their SQL text. A statement that is
 * still being iterated is never handed out twice: that query gets a fresh one.
 */
function withStatementCache(sqlite: SQLite.Database): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(text) {
      const cached = cache.get(text);
      if (cached && !cached.busy) {
        cache.delete(text);
        cache.set(text, cached);
        return cached;
      }
      const statement = sqlite.prepare(text);
      if (!cached) {
        if (cache.size >= CACHED_STATEMENTS) cache.delete(cache.keys().next().value!);
        cache.set(text, statement);
      }
      return statement;
    },
  };
}

/** WAL pages between automatic checkpoints during a bulk load: about 200 MiB at 4 KiB pages. */
const BULK_LOAD_AUTOCHECKPOINT = 50_000;

/**
 * Runs a long series of write transactions (sample data, large imports) with settings for loading
 * many rows, and restores the usual ones afterwards, also when `work` fails.
 *
 * SQLite: checkpoints are spaced out. By default every commit that leaves more than 1,000 pages in
 * the WAL copies them into the database file; a load touches the same index pages in transaction
 * after transaction, so it wrote each of them again and again. Commits stay as durable as ever;
 * only the copying into the database file waits. At the end, one checkpoint moves everything over
 * and truncates the WAL. PostgreSQL: nothing changes.
 *
 * Inside a caller's transaction it changes nothing: the final checkpoint needs the transaction to
 * have ended.
 */
export async function withBulkLoad<T>(db: Executor, dialect: Dialect, work: () => Promise<T>): Promise<T> {
  if (dialect !== 'sqlite' || db.isTransaction) return work();
  const before = (await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(db)).rows[0]?.wal_autocheckpoint ?? 1000;
  await sql.raw(`pragma wal_autocheckpoint = ${BULK_LOAD_AUTOCHECKPOINT}`).execute(db);
  try {
    return await work();
  } finally {
    await sql.raw(`pragma wal_autocheckpoint = ${Math.max(0, Math.trunc(Number(before)))}`).execute(db);
    await sql`pragma wal_checkpoint(TRUNCATE)`.execute(db);
  }
}

/**
 * Runs `work`, which adds many rows to `table`, with the table's secondary indexes built after the
 * rows are in rather than row by row. Building an index from a finished table sorts once; keeping
 * it up to date inserts each row at a random place, which at a million rows cost more than the
 * rows themselves. SQLite only, and only inside a transaction, so that the indexes are back before
 * anyone else can see the table and a failure or a killed process leaves them as they were.
 * Indexes behind UNIQUE and PRIMARY KEY constraints stay, since they check what goes in.
 */
export async function withDeferredIndexes<T>(db: Executor, dialect: Dialect, table: string, work: () => Promise<T>): Promise<T> {
  if (dialect !== 'sqlite') return work();
  if (!db.isTransaction) throw new Error('withDeferredIndexes needs a transaction');
  const indexes = (await sql<{ name: string; sql: string }>`select name, sql from sqlite_master where type = 'index' and tbl_name = ${table} and sql is not null`.execute(db)).rows;
  for (const index of indexes) await sql`drop index ${sql.id(index.name)}`.execute(db);
  const result = await work();
  for (const index of indexes) await sql.raw(index.sql).execute(db);
  return result;
}

/** True when a write failed on a UNIQUE constraint, on either database. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string } | null;
  return e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e?.code === '23505';
}

/** True when a write failed on a FOREIGN KEY constraint, on either database. */
export function isForeignKeyViolation(error: unknown): boolean {
  const e = error as { code?: string } | null;
  return e?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || e?.code === '23503';
}
