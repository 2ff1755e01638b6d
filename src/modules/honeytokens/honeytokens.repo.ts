import type { Executor } from '../../db/database.js';
import type { HoneytokensTable } from '../../db/schema.js';

/** All SQL on the list of decoy records. The decoys themselves live in the record tables, like any record. */
export type HoneytokenRow = HoneytokensTable;

export async function selectHoneytokens(db: Executor): Promise<HoneytokenRow[]> {
  return db.selectFrom('honeytokens').selectAll().orderBy('planted_at', 'desc').orderBy('record_id').execute();
}

export async function selectHoneytoken(db: Executor, recordId: string): Promise<HoneytokenRow | undefined> {
  return db.selectFrom('honeytokens').selectAll().where('record_id', '=', recordId).executeTakeFirst();
}

export async function insertHoneytokens(db: Executor, rows: readonly HoneytokenRow[]): Promise<void> {
  if (rows.length > 0) await db.insertInto('honeytokens').values([...rows]).execute();
}

export async function deleteHoneytoken(db: Executor, recordId: string): Promise<boolean> {
  const result = await db.deleteFrom('honeytokens').where('record_id', '=', recordId).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}
