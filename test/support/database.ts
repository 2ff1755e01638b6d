import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/db/database.js';
import { LocalKeyFile } from '../../src/crypto/key-file.js';
import { Keyring } from '../../src/crypto/keyring.js';
import { migrateTo, migrateToLatest } from '../../src/db/migrator.js';

/**
 * A fresh, migrated database for one test file: a temporary SQLite file, or, when
 * RAMPART_TEST_DATABASE_URL is set, a PostgreSQL schema of its own, so runs never collide.
 */
export interface TestDatabase {
  database: Database;
  dialect: 'sqlite' | 'postgres';
  /** SQLite: the database file. */
  file?: string;
  /** PostgreSQL: the schema. */
  schema?: string;
  /** A keyring over a key file of its own, as a first start would make. */
  keyring: Keyring;
  /** That key file, for server processes that open the same database. */
  keyFile: string;
  /** How a server process reaches this database (RAMPART_DATABASE_URL). */
  url: string;
  cleanup(): Promise<void>;
}

export const testDialect: 'sqlite' | 'postgres' = process.env.RAMPART_TEST_DATABASE_URL ? 'postgres' : 'sqlite';

/** A keyring with a fresh key file in `dir`. */
export function createTestKeyring(dir: string, options: { expectedPeople?: number } = {}): Keyring {
  const kek = LocalKeyFile.open({ file: path.join(dir, 'rampart.key'), create: true });
  return new Keyring({ kek, cacheSize: 1000, expectedPeople: options.expectedPeople ?? 1_000_000, callingCode: '86' });
}

export async function createTestDatabase(options: { expectedPeople?: number; migrateTo?: string } = {}): Promise<TestDatabase> {
  const url = process.env.RAMPART_TEST_DATABASE_URL;
  const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-keys-'));
  const keyring = createTestKeyring(keyDir, options);
  if (url) {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    const database = openDatabase({ dialect: 'postgres', url, schema });
    await (options.migrateTo ? migrateTo(database, options.migrateTo) : migrateToLatest(database));
    const reach = new URL(url);
    reach.searchParams.set('options', `-c search_path=${schema}`);
    return {
      database,
      dialect: 'postgres',
      schema,
      keyring,
      keyFile: path.join(keyDir, 'rampart.key'),
      url: reach.toString(),
      async cleanup() {
        await database.close();
        fs.rmSync(keyDir, { recursive: true, force: true });
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.query(`drop schema if exists ${schema} cascade`);
        await client.end();
      },
    };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-test-'));
  const file = path.join(dir, 'rampart.db');
  const database = openDatabase({ dialect: 'sqlite', file });
  await (options.migrateTo ? migrateTo(database, options.migrateTo) : migrateToLatest(database));
  return {
    database,
    dialect: 'sqlite',
    file,
    keyring,
    keyFile: path.join(keyDir, 'rampart.key'),
    url: `sqlite:${file}`,
    async cleanup() {
      await database.close();
      fs.rmSync(keyDir, { recursive: true, force: true });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
