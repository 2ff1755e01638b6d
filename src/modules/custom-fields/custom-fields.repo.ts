import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import type { CustomFieldsTable } from '../../db/schema.js';

/** All SQL on custom field definitions; their values are the record store's business. */
export type CustomFieldRow = Omit<CustomFieldsTable, 'version'> & { version: number };

/** The definitions of one record type, or of all when `recordType` is null, in form order. */
export async function selectCustomFields(db: Executor, recordType: string | null): Promise<CustomFieldRow[]> {
  let qb = db.selectFrom('custom_fields').selectAll();
  if (recordType !== null) qb = qb.where('record_type', '=', recordType);
  return qb.orderBy('record_type').orderBy('position').orderBy('key').execute();
}

/** One definition by id. */
export async function selectCustomField(db: Executor, id: string): Promise<CustomFieldRow | undefined> {
  return db.selectFrom('custom_fields').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The field of the record type whose key equals `key` ignoring case. */
export async function selectCustomFieldByKey(db: Executor, recordType: string, key: string): Promise<CustomFieldRow | undefined> {
  return db
    .selectFrom('custom_fields')
    .selectAll()
    .where('record_type', '=', recordType)
    .where((eb) => eb(eb.fn('lower', ['key']), '=', key.toLowerCase()))
    .executeTakeFirst();
}

/** How many fields the record type has, and the position after the last one. */
export async function customFieldStats(db: Executor, recordType: string): Promise<{ count: number; nextPosition: number }> {
  const row = await db
    .selectFrom('custom_fields')
    .select((eb) => [eb.fn.countAll().as('n'), eb.fn.max('position').as('last')])
    .where('record_type', '=', recordType)
    .executeTakeFirst();
  const count = Number(row?.n ?? 0);
  return { count, nextPosition: count === 0 ? 0 : Number(row?.last ?? 0) + 1 };
}

/** Writes a new definition. */
export async function insertCustomField(db: Executor, row: CustomFieldRow): Promise<void> {
  await db.insertInto('custom_fields').values(row).execute();
}

/** Writes the changes if the stored version is `version`; answers whether it was. */
export async function updateCustomFieldRow(
  db: Executor,
  id: string,
  version: number,
  changes: Pick<CustomFieldRow, 'label' | 'options' | 'required' | 'position' | 'updated_at'>,
): Promise<boolean> {
  const result = await db.updateTable('custom_fields').set({ ...changes, version: version + 1 }).where('id', '=', id).where('version', '=', version).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Deletes the field and every value stored for it. */
export async function deleteCustomFieldRow(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('custom_values').where('field_id', '=', id).execute();
  await db.deleteFrom('custom_fields').where('id', '=', id).execute();
}

/**
 * How many records hold `option` in the field. Multi-select values are stored as JSON arrays, so
 * they are matched on the quoted option.
 */
export async function countValuesHolding(db: Executor, fieldId: string, option: string, multiselect: boolean): Promise<number> {
  let qb = db.selectFrom('custom_values').select((eb) => eb.fn.countAll().as('n')).where('field_id', '=', fieldId);
  if (multiselect) {
    const needle = `%${JSON.stringify(option).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    qb = qb.where(sql<boolean>`value like ${needle} escape '\\'`);
  } else {
    qb = qb.where('value', '=', option);
  }
  const row = await qb.executeTakeFirst();
  return Number(row?.n ?? 0);
}
