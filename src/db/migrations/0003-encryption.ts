import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../database.js';
import { createSearchIndex, searchIndexTables } from '../search-index.js';

/**
 * Encryption at rest: the tables of the key hierarchy, a data subject on every record that holds
 * personal data, blind-index columns in place of the plaintext indexes, and a search index of
 * tokens. Values already stored are sealed afterwards, in batches, by data/sealing.ts; a table that
 * is empty now has nothing to seal and is marked done at once.
 */
const BLIND_COLUMNS: Record<string, string[]> = {
  contacts: ['email', 'phone', 'mobile', 'id_number'],
  leads: ['email', 'phone'],
};
const SUBJECT_TABLES = ['contacts', 'leads', 'activities', 'tickets'];
const RECORD_TABLES = ['companies', 'contacts', 'leads', 'deals', 'activities', 'tickets'];

export async function up(db: Kysely<any>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('data_keys')
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('kek_id', 'text', (c) => c.notNull())
    .addColumn('wrapped', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('data_keys_pk', ['subject_id', 'version'])
    .execute();
  await db.schema.createIndex('data_keys_kek_idx').on('data_keys').columns(['kek_id']).execute();

  await db.schema
    .createTable('index_keys')
    .addColumn('version', 'integer', (c) => c.primaryKey())
    .addColumn('kek_id', 'text', (c) => c.notNull())
    .addColumn('wrapped', 'text', (c) => c.notNull())
    .addColumn('bits', 'integer', (c) => c.notNull())
    // active: answers lookups and indexes writes; building: being filled in by a rotation; retired.
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();

  // The erasure ledger: who was erased and when, nothing else. Restores re-apply it.
  await db.schema
    .createTable('erasures')
    .addColumn('subject_id', 'text', (c) => c.primaryKey())
    .addColumn('erased_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('integrity_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('occurred_at', 'text', (c) => c.notNull())
    .addColumn('table_name', 'text', (c) => c.notNull())
    .addColumn('column_name', 'text', (c) => c.notNull())
    .addColumn('record_id', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .execute();

  // Progress of long key jobs (sealing old data, rotations), so a crash resumes where it stopped.
  await db.schema
    .createTable('key_jobs')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('position', 'text')
    .addColumn('done', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  // The data key version a row's sealed values use: what rotation and `keys status` count by.
  for (const table of [...RECORD_TABLES, 'custom_values']) await db.schema.alterTable(table).addColumn('key_version', 'integer').execute();
  for (const table of SUBJECT_TABLES) {
    await db.schema.alterTable(table).addColumn('subject_id', 'text').execute();
    await db.schema.createIndex(`${table}_subject_idx`).on(table).columns(['subject_id']).execute();
  }
  for (const [table, columns] of Object.entries(BLIND_COLUMNS)) {
    await db.schema.dropIndex(`${table}_email_idx`).ifExists().execute();
    for (const column of columns) {
      await db.schema.alterTable(table).addColumn(`${column}_bidx`, 'integer').execute();
      await db.schema
        .createIndex(`${table}_${column}_bidx_idx`)
        .on(table)
        .columns([`${column}_bidx`])
        .where(sql.ref('deleted_at'), 'is', null)
        .execute();
    }
  }
  await db.schema.alterTable('custom_values').addColumn('blind', 'integer').execute();
  await db.schema.createIndex('custom_values_blind_idx').on('custom_values').columns(['field_id', 'blind']).execute();

  // The search index is rebuilt: words of personal fields become tokens.
  for (const table of searchIndexTables(dialect)) await db.schema.dropTable(table).execute();
  await createSearchIndex(db, dialect);

  const now = new Date().toISOString();
  for (const table of RECORD_TABLES) {
    const row = (await db.selectFrom(table).select('id').limit(1).executeTakeFirst()) as { id: string } | undefined;
    await db.insertInto('key_jobs').values({ name: `seal:${table}`, state: row ? 'pending' : 'done', position: null, done: 0, updated_at: now }).execute();
  }
}
