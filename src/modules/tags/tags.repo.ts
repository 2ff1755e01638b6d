import type { Executor } from '../../db/database.js';
import type { TagsTable } from '../../db/schema.js';

/** All SQL on tags and on which records carry them. */
export type TagRow = Omit<TagsTable, 'version'> & { version: number };

/** Every tag, by name. */
export async function selectTags(db: Executor): Promise<TagRow[]> {
  return db.selectFrom('tags').selectAll().orderBy('name').orderBy('id').execute();
}

/** One tag row by id. */
export async function selectTag(db: Executor, id: string): Promise<TagRow | undefined> {
  return db.selectFrom('tags').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The tag whose name equals `name` ignoring case, other than `exceptId`. */
export async function selectTagNamed(db: Executor, name: string, exceptId: string | null): Promise<TagRow | undefined> {
  let qb = db.selectFrom('tags').selectAll().where((eb) => eb(eb.fn('lower', ['name']), '=', name.toLowerCase()));
  if (exceptId !== null) qb = qb.where('id', '!=', exceptId);
  return qb.executeTakeFirst();
}

/** Writes a new tag row. */
export async function insertTag(db: Executor, row: TagRow): Promise<void> {
  await db.insertInto('tags').values(row).execute();
}

/** Writes name and colour if the stored version is `version`; answers whether it was. */
export async function updateTagRow(db: Executor, id: string, version: number, changes: { name: string; color: string; updated_at: string }): Promise<boolean> {
  const result = await db.updateTable('tags').set({ ...changes, version: version + 1 }).where('id', '=', id).where('version', '=', version).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Takes the tag off every record, then deletes it. */
export async function deleteTagRow(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('record_tags').where('tag_id', '=', id).execute();
  await db.deleteFrom('tags').where('id', '=', id).execute();
}
