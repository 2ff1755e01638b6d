import { SYSTEM_FIELDS, type FieldDef, type RecordType } from '../../data/field-registry.js';
import type { RecordSchema, RecordView } from '../../data/record-store.js';
import { AppError } from '../../shared/errors.js';

/**
 * How CSV columns relate to record fields, in both directions. Exports write field keys; imports
 * accept keys, labels and column names in any case or spacing, so a file exported from Rampart,
 * or typed by hand with "First Name", maps without a mapping screen.
 */

/** What one CSV column feeds on import. */
export type ColumnTarget =
  | { kind: 'field'; def: FieldDef }
  | { kind: 'custom'; def: FieldDef }
  /** Contacts: the company by name (or id), resolved to `companyId`. */
  | { kind: 'company' }
  /** Set by the system (id, timestamps): written by exports, skipped by imports. */
  | { kind: 'ignored' };

export interface ExportColumn {
  header: string;
  value(record: RecordView): unknown;
}

/** The system fields an export writes; `deletedAt` is always empty in a list of live records. */
const EXPORTED_SYSTEM_FIELDS = SYSTEM_FIELDS.filter((f) => f.key !== 'deletedAt');
const WRITABLE_SYSTEM_KEYS = new Set(['ownerId', 'teamId']);
const MAX_REPORTED_HEADER = 60;

/** "First Name", "first_name", "firstName" and "FIRST-NAME" are one name. */
export function normaliseHeader(header: string): string {
  return header.normalize('NFKC').trim().toLowerCase().replace(/[\s_\-.]+/g, '');
}

/** The columns of an export: system fields, the type's fields, then custom fields. */
export function exportColumns(schema: RecordSchema): ExportColumn[] {
  const builtIn = [...EXPORTED_SYSTEM_FIELDS, ...schema.fields];
  const taken = new Set(builtIn.map((f) => f.key));
  return [
    ...builtIn.map((def) => ({ header: def.key, value: (record: RecordView) => record[def.key] })),
    ...schema.custom.map((def) => ({
      // A custom key that shadows a built-in one is written with its prefix so it imports back.
      header: taken.has(def.key) ? `custom.${def.key}` : def.key,
      value: (record: RecordView) => (record.customFields as Record<string, unknown> | undefined)?.[def.key] ?? null,
    })),
  ];
}

/** Every name a column may carry for each target, normalised; the first claim on a name wins. */
function headerNames(schema: RecordSchema, type: RecordType): Map<string, ColumnTarget> {
  const names = new Map<string, ColumnTarget>();
  const add = (name: string, target: ColumnTarget): void => {
    const key = normaliseHeader(name);
    if (key !== '' && !names.has(key)) names.set(key, target);
  };
  if (type === 'contacts') {
    add('company', { kind: 'company' });
    add('companyName', { kind: 'company' });
  }
  const builtIn = [...SYSTEM_FIELDS, ...schema.fields];
  const builtInTarget = (def: FieldDef): ColumnTarget =>
    def.readOnly || (SYSTEM_FIELDS.includes(def) && !WRITABLE_SYSTEM_KEYS.has(def.key)) ? { kind: 'ignored' } : { kind: 'field', def };
  // Keys and column names first, labels after: a label never hides another field's key.
  for (const def of builtIn) {
    add(def.key, builtInTarget(def));
    if (def.column) add(def.column, builtInTarget(def));
  }
  for (const def of builtIn) add(def.label, builtInTarget(def));
  for (const def of schema.custom) add(`custom.${def.key}`, { kind: 'custom', def });
  for (const def of schema.custom) add(def.key, { kind: 'custom', def });
  for (const def of schema.custom) add(def.label, { kind: 'custom', def });
  return names;
}

/** What a column names, to tell two columns holding the same field apart from two skipped ones. */
function targetIdentity(target: ColumnTarget): string | null {
  if (target.kind === 'field' || target.kind === 'custom') return `${target.kind}:${target.def.key}`;
  return target.kind === 'company' ? 'company' : null;
}

/**
 * Maps a CSV header to fields. Every column must map somewhere: an unknown column fails the whole
 * import before anything is written, because silently dropping a column loses data.
 */
export function mapHeader(schema: RecordSchema, type: RecordType, header: string[]): ColumnTarget[] {
  const names = headerNames(schema, type);
  const targets: ColumnTarget[] = [];
  const unknown: string[] = [];
  const seen = new Map<string, number>();
  header.forEach((raw, index) => {
    const target = names.get(normaliseHeader(raw));
    if (!target) {
      unknown.push(raw.trim() === '' ? `(empty header in column ${index + 1})` : `"${printable(raw)}" (column ${index + 1})`);
      return;
    }
    const identity = targetIdentity(target);
    if (identity !== null) {
      const earlier = seen.get(identity);
      if (earlier !== undefined) {
        throw new AppError('import.invalid_file', `Columns ${earlier + 1} and ${index + 1} both hold ${target.kind === 'company' ? 'the company' : (target as { def: FieldDef }).def.key}; keep one`);
      }
      seen.set(identity, index);
    }
    targets.push(target);
  });
  if (unknown.length > 0) {
    const known = [...schema.fields.filter((f) => !f.readOnly).map((f) => f.key), 'ownerId', 'teamId', ...(type === 'contacts' ? ['company'] : []), ...schema.custom.map((f) => f.key)];
    throw new AppError('import.unknown_column', `Unknown column${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; columns may be: ${known.join(', ')}`);
  }
  return targets;
}

/** The key a mapping names a target by: a field's key, `custom.<key>` for a custom field, `company`. */
export function targetKey(target: ColumnTarget): string | null {
  switch (target.kind) {
    case 'field':
      return target.def.key;
    case 'custom':
      return `custom.${target.def.key}`;
    case 'company':
      return 'company';
    case 'ignored':
      return null;
  }
}

/**
 * The mapping an import screen starts from: for each column, the key of the field its header
 * names, or null when it names none or a value the system sets (which is then skipped). Never
 * throws; a person fixes what it could not guess.
 */
export function suggestMapping(schema: RecordSchema, type: RecordType, header: string[]): (string | null)[] {
  const names = headerNames(schema, type);
  const taken = new Set<string>();
  return header.map((raw) => {
    const target = names.get(normaliseHeader(raw));
    const key = target ? targetKey(target) : null;
    // A second column naming the same field is left for the person to decide.
    if (key === null || taken.has(key)) return null;
    taken.add(key);
    return key;
  });
}

/** The targets an import may write, by mapping key: what a person chooses from for each column. */
export function importTargets(schema: RecordSchema, type: RecordType): Map<string, ColumnTarget> {
  const targets = new Map<string, ColumnTarget>();
  if (type === 'contacts') targets.set('company', { kind: 'company' });
  for (const def of [...SYSTEM_FIELDS, ...schema.fields]) {
    const target: ColumnTarget = def.readOnly || (SYSTEM_FIELDS.includes(def) && !WRITABLE_SYSTEM_KEYS.has(def.key)) ? { kind: 'ignored' } : { kind: 'field', def };
    if (target.kind === 'field') targets.set(def.key, target);
  }
  for (const def of schema.custom) targets.set(`custom.${def.key}`, { kind: 'custom', def });
  return targets;
}

/**
 * Targets from a mapping chosen by a person: one key (see `targetKey`) or null (skip) per column.
 * A key that names nothing, or two columns feeding one field, refuse the import before it starts.
 */
export function mapColumns(schema: RecordSchema, type: RecordType, header: string[], keys: readonly (string | null)[]): ColumnTarget[] {
  if (keys.length !== header.length) {
    throw new AppError('import.invalid_mapping', `The mapping names ${keys.length} column${keys.length === 1 ? '' : 's'}; the file has ${header.length}`);
  }
  const known = importTargets(schema, type);
  const seen = new Map<string, number>();
  return keys.map((key, index) => {
    if (key === null || key === '') return { kind: 'ignored' };
    const target = known.get(key);
    if (!target) throw new AppError('import.invalid_mapping', `Column ${index + 1} is mapped to ${printable(key)}, which is not a field that can be imported`);
    const earlier = seen.get(key);
    if (earlier !== undefined) throw new AppError('import.invalid_mapping', `Columns ${earlier + 1} and ${index + 1} are both mapped to ${key}; map one of them only`);
    seen.set(key, index);
    return target;
  });
}

/** Header text goes into an error message: shorten it and drop control characters. */
function printable(header: string): string {
  const clean = header.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  return clean.length > MAX_REPORTED_HEADER ? `${clean.slice(0, MAX_REPORTED_HEADER)}…` : clean;
}
