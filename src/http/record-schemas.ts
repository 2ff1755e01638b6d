import { Type, type TSchema, type TObject } from 'typebox';
import { RANGE_OPERATORS, SYSTEM_FIELDS, isRangeField, type FieldDef, type RecordTypeDef } from '../data/field-registry.js';

/**
 * Request and response schemas for a record type, built from its field declarations so the API
 * documentation, validation and the data layer never disagree. Response schemas are whitelists.
 */
function valueSchema(def: FieldDef): TSchema {
  const doc = { description: `${def.description} (${def.classification})` };
  switch (def.type) {
    case 'text':
    case 'longtext':
    case 'email':
    case 'phone':
    case 'url':
    case 'date':
    case 'datetime':
      return Type.String({ ...doc, ...(def.maxLength ? { maxLength: def.maxLength } : {}) });
    case 'reference':
      return Type.String({ ...doc, format: 'uuid' });
    case 'integer':
      return Type.Integer(doc);
    case 'number':
    case 'money':
      return Type.Number(doc);
    case 'boolean':
      return Type.Boolean(doc);
    case 'select':
      return Type.String({ ...doc, enum: [...(def.options ?? [])] });
    case 'multiselect':
      return Type.Array(Type.String({ enum: [...(def.options ?? [])] }), doc);
  }
}

function nullable(schema: TSchema): TSchema {
  return Type.Union([schema, Type.Null()], { description: (schema as { description?: string }).description });
}

const customFieldsInput = Type.Record(Type.String({ maxLength: 64 }), Type.Unknown(), { description: 'Custom field values by key; null clears one.' });
const tagIdsInput = Type.Array(Type.String({ format: 'uuid' }), { maxItems: 50, description: 'Tags on the record; replaces the set.' });

export function createBodySchema(def: RecordTypeDef): TObject {
  const props: Record<string, TSchema> = {};
  for (const f of def.fields) if (!f.readOnly) props[f.key] = f.required ? valueSchema(f) : Type.Optional(nullable(valueSchema(f)));
  for (const f of SYSTEM_FIELDS.filter((s) => s.key === 'ownerId' || s.key === 'teamId')) props[f.key] = Type.Optional(nullable(valueSchema(f)));
  props.customFields = Type.Optional(customFieldsInput);
  props.tagIds = Type.Optional(tagIdsInput);
  return Type.Object(props, { additionalProperties: false, $id: `${def.singular}-create` });
}

export function updateBodySchema(def: RecordTypeDef): TObject {
  const props: Record<string, TSchema> = {
    version: Type.Integer({ minimum: 1, description: 'The version you read; a stale version answers 409.' }),
  };
  for (const f of def.fields) if (!f.readOnly) props[f.key] = Type.Optional(f.required ? valueSchema(f) : nullable(valueSchema(f)));
  for (const f of SYSTEM_FIELDS.filter((s) => s.key === 'ownerId' || s.key === 'teamId')) props[f.key] = Type.Optional(nullable(valueSchema(f)));
  props.customFields = Type.Optional(customFieldsInput);
  props.tagIds = Type.Optional(tagIdsInput);
  return Type.Object(props, { additionalProperties: false, $id: `${def.singular}-update` });
}

const recordSchemas = new Map<RecordTypeDef, TObject>();

/** The response schema of a record type. One object per type: every route answering it shares the same `$id`. */
export function recordSchema(def: RecordTypeDef): TObject {
  const known = recordSchemas.get(def);
  if (known) return known;
  const props: Record<string, TSchema> = {};
  for (const f of SYSTEM_FIELDS) props[f.key] = f.key === 'id' || f.key === 'version' || f.key === 'createdAt' || f.key === 'updatedAt' ? valueSchema(f) : nullable(valueSchema(f));
  // A field the caller's roles hide is left out of the record, so every field is optional here.
  for (const f of def.fields) props[f.key] = Type.Optional(f.type === 'multiselect' ? valueSchema(f) : nullable(valueSchema(f)));
  props.customFields = Type.Record(Type.String(), Type.Unknown(), { description: 'Custom field values by key; fields hidden from the caller are left out.' });
  props.tagIds = Type.Array(Type.String(), { description: 'Ids of the tags on the record.' });
  props.maskedFields = Type.Optional(
    Type.Array(Type.String(), { description: 'The fields shown masked to the caller (custom ones as customFields.<key>); a reveal with a reason shows them in clear.' }),
  );
  const schema = Type.Object(props, { $id: def.singular, additionalProperties: false });
  recordSchemas.set(def, schema);
  return schema;
}

/** The query-string key of a range filter: `dueAt[lt]`. */
export const RANGE_KEY = new RegExp(`^([A-Za-z][A-Za-z0-9]{0,63})\\[(${RANGE_OPERATORS.join('|')})\\]$`);

/**
 * The list query of a record type: paging, sorting, search, exact filters on filterable fields,
 * range filters on sortable ordered fields, and any parameters the type's service adds.
 */
export function listQuerySchema(def: RecordTypeDef, parameters: Record<string, TSchema> = {}): TObject {
  const props: Record<string, TSchema> = {
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: 'Page size, 1 to 200 (default 25).' })),
    cursor: Type.Optional(Type.String({ maxLength: 1024, description: 'The nextCursor of the previous page.' })),
    sort: Type.Optional(Type.String({ maxLength: 64, description: 'A sortable field, with a leading - for descending.' })),
    q: Type.Optional(Type.String({ maxLength: 200, description: 'Full-text search over the searchable fields.' })),
    trash: Type.Optional(Type.String({ enum: ['true', 'false'], description: 'List records in the trash instead.' })),
    tagId: Type.Optional(Type.String({ description: 'Only records with this tag.' })),
  };
  for (const f of [...SYSTEM_FIELDS, ...def.fields]) {
    if (f.filterable) props[f.key] = Type.Optional(Type.String({ maxLength: 500, description: `Exact match on ${f.key}; empty matches no value.` }));
  }
  Object.assign(props, parameters);
  const patternProperties: Record<string, TSchema> = { '^custom\\.[A-Za-z][A-Za-z0-9_]{0,63}$': Type.String({ maxLength: 500 }) };
  const ranged = [...SYSTEM_FIELDS, ...def.fields].filter(isRangeField).map((f) => f.key);
  if (ranged.length > 0) {
    patternProperties[`^(${ranged.join('|')})\\[(${RANGE_OPERATORS.join('|')})\\]$`] = Type.String({
      maxLength: 100,
      description: `A bound on ${ranged.join(', ')}: key[lt], key[lte], key[gt] or key[gte].`,
    });
  }
  return Type.Object(props, { additionalProperties: false, patternProperties });
}

export function pageSchema(item: TSchema): TObject {
  return Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as cursor for the next page; null on the last page.' }),
  });
}

export const IdParams = Type.Object({ id: Type.String({ maxLength: 64, description: 'Record id.' }) });
