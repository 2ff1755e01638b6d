import type { Executor } from '../../db/database.js';
import type { SavedViewsTable } from '../../db/schema.js';

/** All SQL on saved views. Every query names the owner, so no call can reach another user's view. */
export type SavedViewRow = Omit<SavedViewsTable, 'version'> & { version: number };

/** The owner's views, of one record type or all, by name. */
export async function selectViews(db: Executor, userId: string, recordType: string | null): Promise<SavedViewRow[]> {
  let qb = db.selectFrom('saved_views').selectAll().where('user_id', '=', userId);
  if (recordType !== null) qb = qb.where('record_type', '=', recordType);
  return qb.orderBy('record_type').orderBy('name').orderBy('id').execute();
}

/** One of the owner's views by id. */
export async function selectView(db: Executor, userId: string, id: string): Promise<SavedViewRow | undefined> {
  return db.selectFrom('saved_views').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
}

/** How many views the owner keeps, for the limit. */
export async function countViews(db: Executor, userId: string): Promise<number> {
  const row = await db.selectFrom('saved_views').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', userId).executeTakeFirst();
  return Number(row?.n ?? 0);
}

export async function insertView(db: Executor, row: SavedViewRow): Promise<void> {
  await db.insertInto('saved_views').values(row).execute();
}

/** Writes name and definition if the stored version is `version`; answers whether it was. */
export async function updateViewRow(db: Executor, userId: string, id: string, version: number, changes: { name: string; definition: string; updated_at: string }): Promise<boolean> {
  const result = await db
    .updateTable('saved_views')
    .set({ ...changes, version: version + 1 })
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .where('version', '=', version)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Deletes one of the owner's views; answers whether there was one. */
export async function deleteViewRow(db: Executor, userId: string, id: string): Promise<boolean> {
  const result = await db.deleteFrom('saved_views').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}
