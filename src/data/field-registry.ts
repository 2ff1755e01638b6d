import type { IndexKind } from '../crypto/blind-index.js';
import { isId } from '../shared/ids.js';

/**
 * Every field of every record type is declared once, here and in the `<module>.fields.ts` files:
 * type, validation and data classification. The protected data layer reads these declarations for
 * validation, filtering, sorting, search and (later) encryption, policy and audit; nothing reaches a
 * record column any other way.
 */

/** SPEC §3.1: how much harm a leak of the value does. `personal` and `sensitive` are personal data. */
export const CLASSIFICATIONS = ['public', 'internal', 'personal', 'sensitive'] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

export const FIELD_TYPES = [
  'text',
  'longtext',
  'email',
  'phone',
  'url',
  'integer',
  'number',
  'money',
  'date',
  'datetime',
  'boolean',
  'select',
  'multiselect',
  'reference',
] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** The types an administrator may give a custom field. */
export const CUSTOM_FIELD_TYPES = ['text', 'number', 'date', 'boolean', 'select', 'multiselect', 'email', 'phone', 'url'] as const;
export type CustomFieldType = (typeof CUSTOM_FIELD_TYPES)[number];

export const RECORD_TYPES = ['companies', 'contacts', 'leads', 'deals', 'activities', 'tickets'] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

/** What a reference field points at: another record type, or one of the configuration tables. */
export type ReferenceTarget = RecordType | 'users' | 'teams' | 'pipelines' | 'pipeline_stages';

export interface FieldDef {
  /** The camelCase name used by the API, the CLI and CSV headers. */
  readonly key: string;
  /** The snake_case column, or null for custom fields (stored in `custom_values`). */
  readonly column: string | null;
  readonly type: FieldType;
  readonly classification: Classification;
  readonly label: string;
  /** One sentence for the API documentation. */
  readonly description: string;
  readonly required?: boolean;
  readonly maxLength?: number;
  readonly options?: readonly string[];
  readonly references?: ReferenceTarget;
  /** Set by the system (a service), never by a caller. */
  readonly readOnly?: boolean;
  /** Answers exact-match filters `?key=value`. */
  readonly filterable?: boolean;
  /**
   * May be a sort key. A personal field is sorted in memory after decryption, and only when the
   * filtered list is small enough (see record-store.ts); the database never holds its order.
   */
  readonly sortable?: boolean;
  /** For personal fields that answer exact-match filters: how values are normalized for their blind index. */
  readonly blindIndex?: IndexKind;
  /** Feeds full-text search (`q`). */
  readonly searchable?: boolean;
  /** The id of the custom field definition, for custom fields. */
  readonly customFieldId?: string;
}

export interface RecordTypeDef {
  readonly type: RecordType;
  readonly singular: string;
  /** Whether a record of this type is a natural person: a data subject with a data key of its own. */
  readonly subject: 'person' | 'organisation';
  /**
   * For records that can belong to a person (a note on a contact): the column naming that person
   * and, for records that can hang off several types, the column naming the type. Their personal
   * fields are sealed under that person's key, and erasing the person erases them too.
   */
  readonly subjectFrom?: { readonly column: string; readonly typeColumn?: string };
  readonly fields: readonly FieldDef[];
  /** The default sort, a sortable key with an optional leading `-` for descending. */
  readonly defaultSort: string;
  /**
   * For records that hang off another record (activities): the column holding the parent's id and
   * the types a parent can be. Such a record is hidden while its parent is in the trash.
   */
  readonly attachedTo?: { readonly column: string; readonly parents: readonly RecordType[] };
}

/** Fields every record has; the data layer maintains them. */
export const SYSTEM_FIELDS: readonly FieldDef[] = [
  field('id', 'reference', 'internal', { description: 'Record id (UUIDv7).', readOnly: true, filterable: false }),
  field('version', 'integer', 'internal', { description: 'Optimistic-concurrency version; send it back with an update.', readOnly: true }),
  field('ownerId', 'reference', 'internal', { description: 'The user who owns the record.', references: 'users', filterable: true }),
  field('teamId', 'reference', 'internal', { description: 'The team the record belongs to.', references: 'teams', filterable: true }),
  field('createdAt', 'datetime', 'internal', { description: 'When the record was created.', readOnly: true, sortable: true }),
  field('updatedAt', 'datetime', 'internal', { description: 'When the record last changed.', readOnly: true, sortable: true }),
  field('createdBy', 'reference', 'internal', { description: 'Who created the record.', references: 'users', readOnly: true }),
  field('updatedBy', 'reference', 'internal', { description: 'Who last changed the record.', references: 'users', readOnly: true }),
  field('deletedAt', 'datetime', 'internal', { description: 'When the record was moved to the trash, or null.', readOnly: true }),
];

type FieldOptions = Partial<Omit<FieldDef, 'key' | 'type' | 'classification'>> & { description: string };

/** Declares a built-in field; the column defaults to the snake_case of the key. */
export function field(key: string, type: FieldType, classification: Classification, options: FieldOptions): FieldDef {
  const sortable = options.sortable ?? false;
  const personal = classification === 'personal' || classification === 'sensitive';
  if (personal && options.filterable && !options.blindIndex) throw new Error(`field ${key}: a ${classification} field answers filters only through a blind index`);
  if (!personal && options.blindIndex) throw new Error(`field ${key}: only personal fields are encrypted and need a blind index`);
  return {
    column: key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
    label: key.replace(/([A-Z])/g, ' $1').replace(/^./, (c) => c.toUpperCase()).replace(/ Id$/, ''),
    ...options,
    key,
    type,
    classification,
    sortable,
  };
}

export function isPersonal(def: FieldDef): boolean {
  return def.classification === 'personal' || def.classification === 'sensitive';
}

/** Bounds a list filter may put on an ordered field: `dueAt[lt]=…`, `amount[gte]=…`. */
export const RANGE_OPERATORS = ['lt', 'lte', 'gt', 'gte'] as const;
export type RangeOperator = (typeof RANGE_OPERATORS)[number];

const ORDERED_TYPES: ReadonlySet<FieldType> = new Set(['integer', 'number', 'money', 'date', 'datetime']);

/**
 * Whether a field answers range filters. Repeated ranges narrow a value down as surely as a sort
 * order does, so only sortable fields (never personal ones) qualify.
 */
export function isRangeField(def: FieldDef): boolean {
  return def.sortable === true && !isPersonal(def) && def.column !== null && ORDERED_TYPES.has(def.type);
}

// ---- Values ------------------------------------------------------------------------------------

export type FieldResult = { ok: true; value: unknown } | { ok: false; message: string };

/** An email address: no spaces, brackets, quotes or control characters (PostgreSQL rejects NUL). */
export const EMAIL_PATTERN = /^[^\s@<>()[\]\\,;:"\u0000-\u001f\u007f]+@[^\s@<>()[\]\\,;:"\u0000-\u001f\u007f]+\.[^\s@<>()[\]\\,;:"\u0000-\u001f\u007f]+$/;
const PHONE = /^\+?[0-9 ()./-]{3,32}$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
// Control characters other than tab, newline and carriage return have no place in CRM text, and
// NUL is refused outright by PostgreSQL.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const CONTROL_SINGLE_LINE = /[\u0000-\u001f\u007f]/;

/**
 * Turns a value from a request into what is stored, or says what is wrong with it. `null` clears an
 * optional field. Messages never echo the value: it may be personal data.
 */
export function parseFieldValue(def: FieldDef, raw: unknown): FieldResult {
  if (raw === null || raw === undefined || (typeof raw === 'string' && raw.trim() === '' && def.type !== 'boolean')) {
    return def.required ? { ok: false, message: 'is required' } : { ok: true, value: null };
  }
  switch (def.type) {
    case 'text':
    case 'longtext':
    case 'email':
    case 'phone':
    case 'url': {
      if (typeof raw !== 'string') return { ok: false, message: 'must be a string' };
      if (!raw.isWellFormed()) return { ok: false, message: 'must be valid Unicode text' };
      const value = raw.normalize('NFC').trim();
      const max = def.maxLength ?? (def.type === 'longtext' ? 20_000 : 500);
      if (value.length > max) return { ok: false, message: `must be at most ${max} characters` };
      if ((def.type === 'longtext' ? CONTROL : CONTROL_SINGLE_LINE).test(value)) return { ok: false, message: 'must not contain control characters' };
      if (def.type === 'email') {
        if (value.length > 254 || !EMAIL_PATTERN.test(value)) return { ok: false, message: 'must be an email address' };
        return { ok: true, value: value.toLowerCase() };
      }
      if (def.type === 'phone' && !PHONE.test(value)) return { ok: false, message: 'must be a phone number' };
      if (def.type === 'url') {
        try {
          const url = new URL(value.includes('://') ? value : `https://${value}`);
          if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, message: 'must be an http(s) address' };
        } catch {
          return { ok: false, message: 'must be a web address' };
        }
      }
      return { ok: true, value };
    }
    case 'integer': {
      const n = typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isSafeInteger(n)) return { ok: false, message: 'must be a whole number' };
      // Whole-number columns are 32-bit on PostgreSQL.
      if (n > 2_147_483_647 || n < -2_147_483_648) return { ok: false, message: 'is out of range' };
      return { ok: true, value: n };
    }
    case 'number': {
      const n = typeof raw === 'string' && /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isFinite(n)) return { ok: false, message: 'must be a number' };
      if (Math.abs(n) > 1e15) return { ok: false, message: 'is out of range' };
      return { ok: true, value: n };
    }
    case 'money': {
      const n = typeof raw === 'string' && /^-?\d+(\.\d{1,2})?$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isFinite(n)) return { ok: false, message: 'must be an amount' };
      const cents = Math.round(n * 100);
      if (Math.abs(n * 100 - cents) > 1e-6) return { ok: false, message: 'must have at most two decimals' };
      if (cents < 0 || cents > 1e15) return { ok: false, message: 'is out of range' };
      return { ok: true, value: cents };
    }
    case 'date': {
      if (typeof raw !== 'string') return { ok: false, message: 'must be a date (YYYY-MM-DD)' };
      const m = DATE.exec(raw.trim());
      if (!m || !isRealDate(Number(m[1]), Number(m[2]), Number(m[3]))) return { ok: false, message: 'must be a date (YYYY-MM-DD)' };
      return { ok: true, value: raw.trim() };
    }
    case 'datetime': {
      if (typeof raw !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(raw.trim())) {
        return { ok: false, message: 'must be a date and time (ISO 8601 with a time zone)' };
      }
      const time = new Date(raw.trim());
      if (Number.isNaN(time.getTime())) return { ok: false, message: 'must be a valid date and time' };
      return { ok: true, value: time.toISOString() };
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return { ok: true, value: raw ? 1 : 0 };
      if (raw === 'true' || raw === '1') return { ok: true, value: 1 };
      if (raw === 'false' || raw === '0') return { ok: true, value: 0 };
      return { ok: false, message: 'must be true or false' };
    }
    case 'select': {
      if (typeof raw !== 'string' || !def.options?.includes(raw)) return { ok: false, message: `must be one of: ${(def.options ?? []).join(', ')}` };
      return { ok: true, value: raw };
    }
    case 'multiselect': {
      const list = typeof raw === 'string' ? raw.split(/[;|]/).map((s) => s.trim()).filter(Boolean) : raw;
      if (!Array.isArray(list) || list.length > 100) return { ok: false, message: 'must be a list of options' };
      for (const item of list) {
        if (typeof item !== 'string' || !def.options?.includes(item)) return { ok: false, message: `may only hold: ${(def.options ?? []).join(', ')}` };
      }
      return { ok: true, value: [...new Set(list as string[])].sort() };
    }
    case 'reference': {
      if (!isId(raw)) return { ok: false, message: 'must be a record id' };
      return { ok: true, value: raw };
    }
  }
}

/** Turns a stored value into what the API answers. */
export function presentFieldValue(def: FieldDef, stored: unknown): unknown {
  if (stored === null || stored === undefined) return def.type === 'multiselect' ? [] : null;
  switch (def.type) {
    case 'money':
      return Number(stored) / 100;
    case 'boolean':
      return stored === 1 || stored === true || stored === '1';
    case 'integer':
    case 'number':
      return Number(stored);
    default:
      return stored;
  }
}

/** Custom values live in one text column; these are the exact encodings so filters can match them. */
export function encodeCustomValue(def: FieldDef, value: unknown): string {
  return def.type === 'multiselect' ? JSON.stringify(value) : String(value);
}

export function decodeCustomValue(def: FieldDef, text: string): unknown {
  switch (def.type) {
    case 'multiselect':
      return JSON.parse(text) as string[];
    case 'number':
    case 'integer':
    case 'money':
      return Number(text);
    case 'boolean':
      return text === '1' ? 1 : 0;
    default:
      return text;
  }
}

function isRealDate(year: number, month: number, day: number): boolean {
  const d = new Date(Date.UTC(year, month - 1, day));
  return year >= 1 && year <= 9999 && d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}
