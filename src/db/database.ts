import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { Kysely, PostgresDialect, SqliteDialect, type Transaction } from 'kysely';
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
  close(): Promise<void>;
}

export type DatabaseTarget = Config['database'] & { schema?: string };

/** Opens the configured database. SQLite: WAL, foreign keys on, a busy timeout. */
export function openDatabase(target: DatabaseTarget): Database {
  if (target.dialect === 'sqlite') {
    if (target.file !== ':memory:') fs.mkdirSync(path.dirname(target.file), { recursive: true, mode: 0o700 });
    const sqlite = new SQLite(target.file);
    sqlite.pragma('journal_mode = WAL');
    // NORMAL in WAL mode keeps every committed transaction when the process dies; only a power
    // cut can lose the last commits. FULL costs an fsync per commit.
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    // 64 MiB of page cache instead of SQLite's 2 MiB: at a million contacts the indexes that
    // inserts land in at random (email, owner, company) no longer fit in 2 MiB.
    sqlite.pragma('cache_size = -65536');
    if (target.file !== ':memory:') {
      for (const suffix of ['', '-wal', '-shm']) {
        if (fs.existsSync(target.file + suffix)) fs.chmodSync(target.file + suffix, 0o600);
      }
    }
    const db = new Kysely<DatabaseSchema>({ dialect: new SqliteDialect({ database: sqlite }) });
    return { db, dialect: 'sqlite', close: () => db.destroy() };
  }
  const pool = new pg.Pool({
    connectionString: target.url,
    max: 10,
    ...(target.schema ? { options: `-c search_path=${target.schema}` } : {}),
  });
  const db = new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', close: () => db.destroy() };
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
