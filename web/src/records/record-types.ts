/**
 * What the record screens know about each record type: its fields as forms group them, the
 * columns its list offers, which of them the API sorts and filters by, and its related lists.
 * Keys are the API's JSON names; labels are text keys in the records namespace (`field.<key>`).
 */

export type RecordType = 'companies' | 'contacts' | 'leads' | 'deals' | 'activities' | 'tickets';
export const RECORD_TYPES: readonly RecordType[] = ['companies', 'contacts', 'leads', 'deals', 'activities', 'tickets'];

export type FieldKind = 'text' | 'longtext' | 'email' | 'phone' | 'url' | 'integer' | 'money' | 'date' | 'datetime' | 'select' | 'reference' | 'currency';

export interface FieldSpec {
  key: string;
  kind: FieldKind;
  /** Choices of a select, as the API names them (their labels are `option.<value>`). */
  options?: readonly string[];
  /** The record type a reference points at. */
  references?: RecordType | 'users' | 'pipelines' | 'stages';
  required?: boolean;
  /** Set by the server (conversion, stage outcome): shown, never edited. */
  readOnly?: boolean;
  maxLength?: number;
}

export interface FieldGroup {
  /** Text key `group.<name>`. */
  name: string;
  fields: FieldSpec[];
}

export interface RelatedList {
  /** The related type, which names the path `/api/v1/<type>/:id/<related>`. */
  type: RecordType;
}

export interface RecordTypeSpec {
  type: RecordType;
  groups: FieldGroup[];
  /** Columns a list shows before the user chooses. */
  defaultColumns: string[];
  /** Fields the API sorts by (see the field declarations on the server). */
  sortable: string[];
  /** Fields the list offers as exact-match filters. */
  filters: string[];
  related: RelatedList[];
  /** How a record is called in headings and links. */
  title(record: RecordItem): string;
}

/** A record as the API answers it: its fields, plus the keys of those it answers masked. */
export type RecordItem = { id: string; version: number; deletedAt?: string | null; maskedFields?: string[]; customFields?: Record<string, unknown>; tagIds?: string[] } & Record<string, unknown>;

const text = (key: string, extra: Partial<FieldSpec> = {}): FieldSpec => ({ key, kind: 'text', ...extra });

export const LIFECYCLE_STAGES = ['subscriber', 'lead', 'opportunity', 'customer', 'evangelist', 'other'] as const;
export const LEAD_STATUSES = ['new', 'contacted', 'qualified', 'unqualified', 'converted'] as const;
export const DEAL_STATUSES = ['open', 'won', 'lost'] as const;
export const ACTIVITY_KINDS = ['note', 'call', 'meeting', 'task', 'email'] as const;
export const TICKET_STATUSES = ['new', 'open', 'pending', 'solved', 'closed'] as const;
export const TICKET_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export const TICKET_CHANNELS = ['email', 'phone', 'web', 'chat', 'other'] as const;

const personName = (r: RecordItem): string => [r.firstName, r.lastName].filter((part) => typeof part === 'string' && part).join(' ');
const named = (key: string) => (r: RecordItem): string => (typeof r[key] === 'string' ? (r[key] as string) : '');

export const RECORD_SPECS: Record<RecordType, RecordTypeSpec> = {
  companies: {
    type: 'companies',
    groups: [
      { name: 'company', fields: [text('name', { required: true, maxLength: 200 }), text('industry', { maxLength: 100 }), { key: 'employees', kind: 'integer' }, text('domain', { maxLength: 253 }), { key: 'website', kind: 'url' }] },
      { name: 'reach', fields: [{ key: 'phone', kind: 'phone' }, text('address'), text('city', { maxLength: 100 }), text('country', { maxLength: 100 })] },
      { name: 'notes', fields: [{ key: 'description', kind: 'longtext' }] },
    ],
    defaultColumns: ['name', 'industry', 'city', 'country', 'createdAt'],
    sortable: ['name', 'industry', 'employees', 'city', 'country', 'createdAt', 'updatedAt'],
    filters: ['name', 'domain', 'industry', 'city', 'country'],
    related: [{ type: 'contacts' }, { type: 'deals' }, { type: 'tickets' }],
    title: named('name'),
  },
  contacts: {
    type: 'contacts',
    groups: [
      { name: 'person', fields: [text('firstName', { maxLength: 100 }), text('lastName', { required: true, maxLength: 100 }), text('jobTitle', { maxLength: 200 }), { key: 'companyId', kind: 'reference', references: 'companies' }, { key: 'birthday', kind: 'date' }, text('idNumber', { maxLength: 64 })] },
      { name: 'reach', fields: [{ key: 'email', kind: 'email' }, { key: 'phone', kind: 'phone' }, { key: 'mobile', kind: 'phone' }, text('address'), text('city', { maxLength: 100 }), text('country', { maxLength: 100 })] },
      { name: 'pipeline', fields: [{ key: 'lifecycleStage', kind: 'select', options: LIFECYCLE_STAGES }, text('source', { maxLength: 100 })] },
    ],
    defaultColumns: ['lastName', 'firstName', 'email', 'city', 'lifecycleStage', 'createdAt'],
    sortable: ['firstName', 'lastName', 'email', 'jobTitle', 'city', 'country', 'lifecycleStage', 'createdAt', 'updatedAt'],
    filters: ['email', 'phone', 'city', 'country', 'source', 'lifecycleStage'],
    related: [{ type: 'deals' }, { type: 'tickets' }],
    title: personName,
  },
  leads: {
    type: 'leads',
    groups: [
      { name: 'person', fields: [text('firstName', { maxLength: 100 }), text('lastName', { required: true, maxLength: 100 }), text('jobTitle', { maxLength: 200 }), text('companyName', { maxLength: 200 })] },
      { name: 'reach', fields: [{ key: 'email', kind: 'email' }, { key: 'phone', kind: 'phone' }] },
      {
        name: 'qualification',
        fields: [
          { key: 'status', kind: 'select', options: LEAD_STATUSES.filter((s) => s !== 'converted') },
          text('source', { maxLength: 100 }),
          { key: 'description', kind: 'longtext' },
          { key: 'convertedAt', kind: 'datetime', readOnly: true },
          { key: 'convertedContactId', kind: 'reference', references: 'contacts', readOnly: true },
          { key: 'convertedCompanyId', kind: 'reference', references: 'companies', readOnly: true },
          { key: 'convertedDealId', kind: 'reference', references: 'deals', readOnly: true },
        ],
      },
    ],
    defaultColumns: ['lastName', 'firstName', 'companyName', 'status', 'source', 'createdAt'],
    sortable: ['firstName', 'lastName', 'email', 'companyName', 'source', 'status', 'createdAt', 'updatedAt'],
    filters: ['email', 'phone', 'source', 'status'],
    related: [],
    title: personName,
  },
  deals: {
    type: 'deals',
    groups: [
      { name: 'deal', fields: [text('name', { required: true, maxLength: 200 }), { key: 'amount', kind: 'money' }, { key: 'currency', kind: 'currency', maxLength: 3 }, { key: 'expectedCloseDate', kind: 'date' }] },
      { name: 'parties', fields: [{ key: 'companyId', kind: 'reference', references: 'companies' }, { key: 'contactId', kind: 'reference', references: 'contacts' }] },
      {
        name: 'progress',
        fields: [
          { key: 'pipelineId', kind: 'reference', references: 'pipelines' },
          { key: 'stageId', kind: 'reference', references: 'stages' },
          { key: 'status', kind: 'select', options: DEAL_STATUSES, readOnly: true },
          text('lostReason', { maxLength: 500 }),
          { key: 'closedAt', kind: 'datetime', readOnly: true },
        ],
      },
      { name: 'notes', fields: [{ key: 'description', kind: 'longtext' }] },
    ],
    defaultColumns: ['name', 'amount', 'currency', 'status', 'expectedCloseDate', 'createdAt'],
    sortable: ['name', 'amount', 'expectedCloseDate', 'status', 'closedAt', 'createdAt', 'updatedAt'],
    filters: ['status', 'currency', 'expectedCloseDate'],
    related: [],
    title: named('name'),
  },
  activities: {
    type: 'activities',
    groups: [
      { name: 'activity', fields: [{ key: 'kind', kind: 'select', options: ACTIVITY_KINDS, required: true }, text('subject', { required: true, maxLength: 300 }), { key: 'body', kind: 'longtext' }] },
      { name: 'schedule', fields: [{ key: 'dueAt', kind: 'datetime' }, { key: 'completedAt', kind: 'datetime' }] },
      { name: 'about', fields: [{ key: 'relatedType', kind: 'select', options: ['companies', 'contacts', 'leads', 'deals', 'tickets'] }, { key: 'relatedId', kind: 'text' }] },
    ],
    defaultColumns: ['kind', 'subject', 'dueAt', 'completedAt', 'createdAt'],
    sortable: ['kind', 'dueAt', 'completedAt', 'createdAt', 'updatedAt'],
    filters: ['kind', 'relatedType'],
    related: [],
    title: named('subject'),
  },
  tickets: {
    type: 'tickets',
    groups: [
      { name: 'ticket', fields: [text('subject', { required: true, maxLength: 300 }), { key: 'description', kind: 'longtext' }] },
      {
        name: 'handling',
        fields: [
          { key: 'status', kind: 'select', options: TICKET_STATUSES },
          { key: 'priority', kind: 'select', options: TICKET_PRIORITIES },
          { key: 'channel', kind: 'select', options: TICKET_CHANNELS },
          { key: 'assigneeId', kind: 'reference', references: 'users' },
          { key: 'slaDueAt', kind: 'datetime' },
          { key: 'solvedAt', kind: 'datetime', readOnly: true },
          { key: 'closedAt', kind: 'datetime', readOnly: true },
        ],
      },
      { name: 'parties', fields: [{ key: 'contactId', kind: 'reference', references: 'contacts' }, { key: 'companyId', kind: 'reference', references: 'companies' }] },
    ],
    defaultColumns: ['subject', 'status', 'priority', 'channel', 'slaDueAt', 'createdAt'],
    sortable: ['subject', 'status', 'priority', 'slaDueAt', 'solvedAt', 'createdAt', 'updatedAt'],
    filters: ['status', 'priority', 'channel'],
    related: [],
    title: named('subject'),
  },
};

/** Every field of a type, system timestamps included, for list columns. */
export function columnKeys(spec: RecordTypeSpec): string[] {
  return [...spec.groups.flatMap((g) => g.fields.map((f) => f.key)), 'createdAt', 'updatedAt'];
}

export function fieldSpec(spec: RecordTypeSpec, key: string): FieldSpec | undefined {
  if (key === 'createdAt' || key === 'updatedAt') return { key, kind: 'datetime', readOnly: true };
  return spec.groups.flatMap((g) => g.fields).find((f) => f.key === key);
}

export function isRecordType(value: string): value is RecordType {
  return (RECORD_TYPES as readonly string[]).includes(value);
}
