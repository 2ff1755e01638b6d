import { recordAudit } from '../../data/audit-trail.js';
import { requirePermission } from '../../data/access.js';
import {
  CLASSIFICATIONS,
  CUSTOM_FIELD_TYPES,
  RECORD_TYPES,
  SYSTEM_FIELDS,
  field,
  parseFieldValue,
  type Classification,
  type CustomFieldType,
  type RecordType,
} from '../../data/field-registry.js';
import { RECORD_TYPE_DEFS } from '../../data/record-types.js';
import { inTransaction, type DataDeps } from '../../data/record-store.js';
import { isUniqueViolation } from '../../db/database.js';
import { AppError, type FieldProblem } from '../../shared/errors.js';
import { isId, newId } from '../../shared/ids.js';
import type { ActorContext } from '../../shared/principal.js';
import {
  countValuesHolding,
  customFieldStats,
  deleteCustomFieldRow,
  insertCustomField,
  selectCustomField,
  selectCustomFieldByKey,
  selectCustomFields,
  updateCustomFieldRow,
  type CustomFieldRow,
} from './custom-fields.repo.js';

export const CUSTOM_FIELD_KEY = /^[a-z][a-zA-Z0-9_]{0,63}$/;
export const MAX_CUSTOM_FIELDS_PER_TYPE = 100;
export const MAX_OPTIONS = 200;

export interface CustomFieldView {
  id: string;
  recordType: RecordType;
  key: string;
  label: string;
  type: CustomFieldType;
  classification: Classification;
  options: string[];
  required: boolean;
  position: number;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface NewCustomField {
  recordType: string;
  key: string;
  label: string;
  type: string;
  /** Required: what a leak of the values would harm decides how they are protected. */
  classification: string;
  options?: string[];
  required?: boolean;
  position?: number;
}

/** What may change once a field exists; key, type, record type and classification are fixed. */
export interface CustomFieldChanges {
  label?: string;
  options?: string[];
  required?: boolean;
  position?: number;
}

const LABEL = field('label', 'text', 'internal', { description: 'Label.', required: true, maxLength: 100 });
const OPTION = field('option', 'text', 'internal', { description: 'Option.', required: true, maxLength: 100 });

/** Custom fields change what every record of a type holds and how it is protected: administrators only. */
async function requireAdmin(deps: DataDeps, ctx: ActorContext): Promise<void> {
  await requirePermission(deps, ctx, 'settings.manage', 'Your roles do not allow you to change custom fields');
}

/** The definitions, of one record type or all; anyone signed in may read them to fill in forms. */
export async function listCustomFields(deps: DataDeps, _ctx: ActorContext, recordType?: string): Promise<CustomFieldView[]> {
  if (recordType !== undefined && !(RECORD_TYPES as readonly string[]).includes(recordType)) {
    throw new AppError('request.invalid_filter', `recordType must be one of: ${RECORD_TYPES.join(', ')}`);
  }
  return (await selectCustomFields(deps.db, recordType ?? null)).map(presentCustomField);
}

/** One definition, or custom_field.not_found. */
export async function getCustomField(deps: DataDeps, _ctx: ActorContext, id: string): Promise<CustomFieldView> {
  const row = isId(id) ? await selectCustomField(deps.db, id) : undefined;
  if (!row) throw new AppError('custom_field.not_found', 'No such custom field');
  return presentCustomField(row);
}

/** Defines a custom field; records of the type can hold it from the next request on. */
export async function createCustomField(deps: DataDeps, ctx: ActorContext, input: NewCustomField): Promise<CustomFieldView> {
  await requireAdmin(deps, ctx);
  const problems: FieldProblem[] = [];
  const recordType = input?.recordType as RecordType;
  if (!(RECORD_TYPES as readonly unknown[]).includes(recordType)) problems.push({ field: 'recordType', message: `must be one of: ${RECORD_TYPES.join(', ')}` });
  const key = input?.key;
  if (typeof key !== 'string' || !CUSTOM_FIELD_KEY.test(key)) {
    problems.push({ field: 'key', message: 'must start with a lower-case letter and hold at most 64 letters, digits and underscores' });
  } else if (problems.length === 0 && builtInKeys(recordType).has(key.toLowerCase())) {
    problems.push({ field: 'key', message: 'is the name of a built-in field' });
  }
  const type = input?.type as CustomFieldType;
  if (!(CUSTOM_FIELD_TYPES as readonly unknown[]).includes(type)) problems.push({ field: 'type', message: `must be one of: ${CUSTOM_FIELD_TYPES.join(', ')}` });
  const classification = input?.classification as Classification;
  if (!(CLASSIFICATIONS as readonly unknown[]).includes(classification)) problems.push({ field: 'classification', message: `must be one of: ${CLASSIFICATIONS.join(', ')}` });
  const label = parseLabel(input?.label, problems);
  const options = parseOptions(type, input?.options, problems);
  const required = parseRequired(input?.required, problems);
  const position = input?.position === undefined ? undefined : parsePosition(input.position, problems);
  if (problems.length > 0) throw invalidField(problems);

  return inTransaction(deps, async (tx) => {
    if (await selectCustomFieldByKey(tx.db, recordType, key)) throw duplicateKey();
    const stats = await customFieldStats(tx.db, recordType);
    if (stats.count >= MAX_CUSTOM_FIELDS_PER_TYPE) throw new AppError('custom_field.invalid', `A record type may have at most ${MAX_CUSTOM_FIELDS_PER_TYPE} custom fields`);
    const now = tx.clock.now().toISOString();
    const id = newId();
    await insertCustomField(tx.db, {
      id,
      record_type: recordType,
      key,
      label,
      type,
      classification,
      options: JSON.stringify(options),
      required: required ? 1 : 0,
      position: position ?? stats.nextPosition,
      version: 1,
      created_at: now,
      updated_at: now,
    }).catch((error: unknown) => {
      if (isUniqueViolation(error)) throw duplicateKey();
      throw error;
    });
    const created = await getCustomField(tx, ctx, id);
    await recordAudit(tx, ctx, { action: 'custom_field.create', recordType: 'custom_fields', recordIds: [id], fields: Object.keys(created), details: { field: created } });
    return created;
  });
}

/**
 * Changes a field's label, options, required flag or position if `version` is still current. An
 * option that records still hold cannot be removed: their values would stop being valid.
 */
export async function updateCustomField(deps: DataDeps, ctx: ActorContext, id: string, version: number, changes: CustomFieldChanges): Promise<CustomFieldView> {
  await requireAdmin(deps, ctx);
  return inTransaction(deps, async (tx) => {
    const row = isId(id) ? await selectCustomField(tx.db, id) : undefined;
    if (!row) throw new AppError('custom_field.not_found', 'No such custom field');
    const problems: FieldProblem[] = [];
    const label = changes?.label === undefined ? row.label : parseLabel(changes.label, problems);
    const options = changes?.options === undefined ? (JSON.parse(row.options) as string[]) : parseOptions(row.type as CustomFieldType, changes.options, problems);
    const required = changes?.required === undefined ? row.required === 1 : parseRequired(changes.required, problems);
    const position = changes?.position === undefined ? row.position : parsePosition(changes.position, problems);
    if (problems.length > 0) throw invalidField(problems);
    if (Number(row.version) !== version) throw staleVersion();

    const removed = (JSON.parse(row.options) as string[]).filter((o) => !options.includes(o));
    for (const option of removed) {
      const holders = await countValuesHolding(tx.db, id, option, row.type === 'multiselect');
      if (holders > 0) {
        throw new AppError('custom_field.invalid', `The option ${option} is held by ${holders} record(s); change them before removing it`, [{ field: 'options', message: 'leaves out an option records hold' }]);
      }
    }
    const updated = await updateCustomFieldRow(tx.db, id, version, {
      label,
      options: JSON.stringify(options),
      required: required ? 1 : 0,
      position,
      updated_at: tx.clock.now().toISOString(),
    });
    if (!updated) throw staleVersion();
    const after = await getCustomField(tx, ctx, id);
    await recordAudit(tx, ctx, { action: 'custom_field.update', recordType: 'custom_fields', recordIds: [id], fields: Object.keys(changes ?? {}), details: { field: after } });
    return after;
  });
}

/** Deletes a field together with every value records held in it. */
export async function deleteCustomField(deps: DataDeps, ctx: ActorContext, id: string): Promise<void> {
  await requireAdmin(deps, ctx);
  await inTransaction(deps, async (tx) => {
    const row = isId(id) ? await selectCustomField(tx.db, id) : undefined;
    if (!row) throw new AppError('custom_field.not_found', 'No such custom field');
    await deleteCustomFieldRow(tx.db, id);
    await recordAudit(tx, ctx, { action: 'custom_field.delete', recordType: 'custom_fields', recordIds: [id], details: { recordType: row.record_type, key: row.key } });
  });
}

/** Keys a custom field may not take, folded to lower case: a look-alike would confuse CSV headers. */
function builtInKeys(type: RecordType): Set<string> {
  return new Set([...SYSTEM_FIELDS, ...RECORD_TYPE_DEFS[type].fields].map((f) => f.key.toLowerCase()).concat(['customfields', 'tagids']));
}

function parseLabel(raw: unknown, problems: FieldProblem[]): string {
  const parsed = parseFieldValue(LABEL, raw);
  if (!parsed.ok) problems.push({ field: 'label', message: parsed.message });
  return parsed.ok ? (parsed.value as string) : '';
}

function parseOptions(type: CustomFieldType, raw: unknown, problems: FieldProblem[]): string[] {
  const choice = type === 'select' || type === 'multiselect';
  if (!choice) {
    if (raw !== undefined && !(Array.isArray(raw) && raw.length === 0)) problems.push({ field: 'options', message: 'are only for select and multiselect fields' });
    return [];
  }
  if (!Array.isArray(raw) || raw.length < 1 || raw.length > MAX_OPTIONS) {
    problems.push({ field: 'options', message: `must be a list of 1 to ${MAX_OPTIONS} options` });
    return [];
  }
  const options: string[] = [];
  raw.forEach((item: unknown, i) => {
    const parsed = parseFieldValue(OPTION, item);
    if (!parsed.ok) problems.push({ field: `options.${i}`, message: parsed.message });
    // Multi-select values may arrive as one text split on ; or |, so options cannot hold them.
    else if (type === 'multiselect' && /[;|]/.test(parsed.value as string)) problems.push({ field: `options.${i}`, message: 'must not contain ; or |' });
    else if (options.includes(parsed.value as string)) problems.push({ field: `options.${i}`, message: 'repeats another option' });
    else options.push(parsed.value as string);
  });
  return options;
}

function parseRequired(raw: unknown, problems: FieldProblem[]): boolean {
  if (raw !== undefined && typeof raw !== 'boolean') problems.push({ field: 'required', message: 'must be true or false' });
  return raw === true;
}

function parsePosition(raw: unknown, problems: FieldProblem[]): number {
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0 || raw > 100_000) {
    problems.push({ field: 'position', message: 'must be a whole number from 0 to 100000' });
    return 0;
  }
  return raw;
}

function presentCustomField(row: CustomFieldRow): CustomFieldView {
  return {
    id: row.id,
    recordType: row.record_type as RecordType,
    key: row.key,
    label: row.label,
    type: row.type as CustomFieldType,
    classification: row.classification as Classification,
    options: JSON.parse(row.options) as string[],
    required: row.required === 1,
    position: row.position,
    version: Number(row.version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function invalidField(problems: FieldProblem[]): AppError {
  return new AppError('custom_field.invalid', `The custom field has invalid fields: ${[...new Set(problems.map((p) => p.field))].join(', ')}`, problems);
}

function duplicateKey(): AppError {
  return new AppError('custom_field.duplicate', 'The record type has a custom field with that key', [{ field: 'key', message: 'is taken' }]);
}

function staleVersion(): AppError {
  return new AppError('record.version_conflict', 'The custom field was changed by someone else; reload it and try again');
}
