import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrator.js';

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
  cleanup(): Promise<void>;
}

export const testDialect: 'sqlite' | 'postgres' = process.env.RAMPART_TEST_DATABASE_URL ? 'postgres' : 'sqlite';

export async function createTestDatabase(): Promise<TestDatabase> {
  const url = process.env.RAMPART_TEST_DATABASE_URL;
  if (url) {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    const database = openDatabase({ dialect: 'postgres', url, schema });
    await migrateToLatest(database);
    return {
      database,
      dialect: 'postgres',
      schema,
      async cleanup() {
        await database.close();
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
  await migrateToLatest(database);
  return {
    database,
    dialect: 'sqlite',
    file,
    async cleanup() {
      await database.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
