import { sql, type Kysely } from 'kysely';
import { indexDocuments, removeDocuments } from '../db/search-index.js';
import { insertMany } from '../db/insert-many.js';
import type { RecordType } from './field-registry.js';
import { sealedVersion } from './field-crypto.js';
import { loadCustomFieldDefs } from './custom-field-defs.js';
import { bidxColumn, hasSubjectColumn, personalFields, sealNewRows } from './record-sealing.js';
import { RECORD_TYPE_DEFS } from './record-types.js';
import type { KeyDeps } from './keys.js';

/**
 * Seals the records a database held before encryption at rest: plaintext personal values are
 * sealed in place, blind indexes and subjects filled in, and search documents made again, in
 * batches of one transaction each. The position is saved with every batch, so a crash or a
 * killed process resumes where it stopped. A database made by this version has nothing to seal.
 */
export interface SealingProgress {
  table: RecordType;
  done: number;
  total: number;
}

const BATCH = 500;
// Parents before what hangs off them: activities and tickets take the subject of their person.
const ORDER: readonly RecordType[] = ['companies', 'contacts', 'leads', 'deals', 'tickets', 'activities'];

function anyDb(deps: KeyDeps): Kysely<any> {
  return deps.db as unknown as Kysely<any>;
}

export async function sealExistingRecords(deps: KeyDeps, onProgress?: (progress: SealingProgress) => void): Promise<number> {
  let sealed = 0;
  for (const type of ORDER) {
    const job = (await anyDb(deps).selectFrom('key_jobs').select(['state', 'position', 'done']).where('name', '=', `seal:${type}`).executeTakeFirst()) as
      | { state: string; position: string | null; done: number }
      | undefined;
    if (!job || job.state === 'done') continue;
    const total = Number(((await anyDb(deps).selectFrom(type).select((eb: any) => eb.fn.countAll().as('n')).executeTakeFirst()) as { n: number | string }).n);
    let position = job.position;
    let done = Number(job.done);
    onProgress?.({ table: type, done, total });
    for (;;) {
      const moved = await anyDb(deps)
        .transaction()
        .execute(async (trx) => {
          const tx: KeyDeps = { ...deps, db: trx };
          let qb = trx.selectFrom(type).selectAll().orderBy('id').limit(BATCH);
          if (position !== null) qb = qb.where('id', '>', position);
          const rows = (await qb.execute()) as Record<string, unknown>[];
          if (rows.length > 0) await sealBatch(tx, type, rows);
          const last = rows.length > 0 ? String(rows.at(-1)!.id) : position;
          await trx
            .updateTable('key_jobs')
            .set({ state: rows.length < BATCH ? 'done' : 'running', position: last, done: done + rows.length, updated_at: deps.clock.now().toISOString() })
            .where('name', '=', `seal:${type}`)
            .execute();
          return { count: rows.length, last };
        });
      position = moved.last;
      done += moved.count;
      sealed += moved.count;
      onProgress?.({ table: type, done, total });
      if (moved.count < BATCH) break;
    }
  }
  if (sealed > 0) await purgeOldPages(deps);
  return sealed;
}

/**
 * Rewrites the database files so that the plaintext the sealed rows replaced leaves the disk, not
 * only the tables: SQLite keeps it in free pages and the WAL until a VACUUM, PostgreSQL in dead
 * row versions until a VACUUM FULL. Runs once, after a sealing that changed anything.
 */
async function purgeOldPages(deps: KeyDeps): Promise<void> {
  if (deps.dialect === 'sqlite') {
    await sql`pragma wal_checkpoint(TRUNCATE)`.execute(deps.db);
    await sql`vacuum`.execute(deps.db);
    await sql`pragma wal_checkpoint(TRUNCATE)`.execute(deps.db);
    return;
  }
  for (const table of [...ORDER, 'custom_values']) await sql`vacuum full ${sql.table(table)}`.execute(deps.db);
}

async function sealBatch(deps: KeyDeps, type: RecordType, all: Record<string, unknown>[]): Promise<void> {
  const schema = { def: RECORD_TYPE_DEFS[type], fields: RECORD_TYPE_DEFS[type].fields, custom: await loadCustomFieldDefs(deps.db, type) };
  // A row written by this version already holds sealed values; sealing it again would bury them.
  const rows = all.filter((row) => !personalFields(schema).some((f) => sealedVersion(row[f.column!]) !== null) && !(hasSubjectColumn(schema) && row.subject_id));
  if (rows.length === 0) return;
  const ids = rows.map((r) => String(r.id));
  const customById = new Map(schema.custom.map((f) => [f.customFieldId!, f]));
  const stored = (await anyDb(deps).selectFrom('custom_values').select(['record_id', 'field_id', 'value']).where('record_id', 'in', ids).execute()) as { record_id: string; field_id: string; value: string }[];
  const customOf = new Map<string, { def: NonNullable<ReturnType<typeof customById.get>>; encoded: string }[]>();
  for (const cv of stored) {
    const def = customById.get(cv.field_id);
    if (!def) continue;
    const list = customOf.get(cv.record_id) ?? [];
    // Stored values are already in their text encoding.
    list.push({ def, encoded: cv.value });
    customOf.set(cv.record_id, list);
  }
  const results = await sealNewRows(deps, schema, rows.map((row) => ({ row, custom: customOf.get(String(row.id)) ?? [] })));
  const columns = [
    ...personalFields(schema).map((f) => f.column!),
    ...schema.fields.filter((f) => f.blindIndex && f.column).map(bidxColumn),
    ...(hasSubjectColumn(schema) ? ['subject_id'] : []),
    'key_version',
  ];
  for (const row of rows) {
    await anyDb(deps)
      .updateTable(type)
      .set(Object.fromEntries(columns.map((c) => [c, row[c] ?? null])))
      .where('id', '=', String(row.id))
      .execute();
  }
  await anyDb(deps).deleteFrom('custom_values').where('record_id', 'in', ids).execute();
  await insertMany(deps.db, deps.dialect, 'custom_values', results.flatMap((r) => r.customRows));
  await removeDocuments(deps.db, deps.dialect, rows.map((row) => String(row.id)));
  await indexDocuments(deps.db, deps.dialect, type, rows.map((row, i) => ({ recordId: String(row.id), terms: results[i]!.terms })));
}
