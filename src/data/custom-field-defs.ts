import type { Executor } from '../db/database.js';
import type { Classification, CustomFieldType, FieldDef, RecordType } from './field-registry.js';

/**
 * Custom fields come from the `custom_fields` table and join the registry as `FieldDef`s, so the
 * data layer treats them exactly like built-in fields. They are read per operation: a field an
 * administrator adds or removes applies to the very next request, in every server process.
 */
export async function loadCustomFieldDefs(db: Executor, type: RecordType): Promise<FieldDef[]> {
  const rows = await db.selectFrom('custom_fields').selectAll().where('record_type', '=', type).orderBy('position').orderBy('key').execute();
  return rows.map((row) => customFieldDef(row));
}

export function customFieldDef(row: { id: string; key: string; label: string; type: string; classification: string; options: string; required: number }): FieldDef {
  const type = row.type as CustomFieldType;
  return {
    key: row.key,
    column: null,
    type,
    classification: row.classification as Classification,
    label: row.label,
    description: row.label,
    required: row.required === 1,
    options: JSON.parse(row.options) as string[],
    filterable: true,
    sortable: false,
    // Personal custom values are sealed; their filters go through a blind index of the value.
    ...(row.classification === 'personal' || row.classification === 'sensitive' ? { blindIndex: type === 'email' ? 'email' : type === 'phone' ? 'phone' : 'text' } : {}),
    searchable: false,
    customFieldId: row.id,
    ...(type === 'text' ? { maxLength: 1000 } : {}),
  };
}
