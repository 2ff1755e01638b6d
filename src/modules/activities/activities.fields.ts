import { field, type RecordTypeDef } from '../../data/field-registry.js';

export const ACTIVITY_KINDS = ['note', 'call', 'meeting', 'task', 'email'] as const;
export const RELATED_TYPES = ['companies', 'contacts', 'leads', 'deals', 'tickets'] as const;

export const activityFields: RecordTypeDef = {
  type: 'activities',
  singular: 'activity',
  subject: 'organisation',
  defaultSort: '-createdAt',
  attachedTo: { column: 'related_id', parents: RELATED_TYPES },
  subjectFrom: { column: 'related_id', typeColumn: 'related_type' },
  fields: [
    field('kind', 'select', 'internal', { description: 'note, call, meeting, task or email.', required: true, options: ACTIVITY_KINDS, filterable: true, sortable: true }),
    field('subject', 'text', 'internal', { description: 'One-line summary.', required: true, maxLength: 300, searchable: true }),
    // Notes about a person are personal data: what was said on a call, what a customer bought.
    field('body', 'longtext', 'personal', { description: 'The note, minutes or task details.' }),
    field('dueAt', 'datetime', 'internal', { description: 'When a task or meeting is due.', sortable: true }),
    field('completedAt', 'datetime', 'internal', { description: 'When a task was completed; null while open (`?completedAt=` lists open ones).', sortable: true, filterable: true }),
    field('relatedType', 'select', 'internal', { description: 'The type of record the activity is attached to.', options: RELATED_TYPES, filterable: true }),
    field('relatedId', 'reference', 'internal', { description: 'The record the activity is attached to.', filterable: true }),
  ],
};
