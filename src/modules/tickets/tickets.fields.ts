import { field, type RecordTypeDef } from '../../data/field-registry.js';

export const TICKET_STATUSES = ['new', 'open', 'pending', 'solved', 'closed'] as const;
export const TICKET_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
export const TICKET_CHANNELS = ['email', 'phone', 'web', 'chat', 'other'] as const;

export const ticketFields: RecordTypeDef = {
  type: 'tickets',
  singular: 'ticket',
  subject: 'organisation',
  subjectFrom: { column: 'contact_id' },
  defaultSort: '-createdAt',
  fields: [
    field('subject', 'text', 'internal', { description: 'One-line summary of the request.', required: true, maxLength: 300, searchable: true, sortable: true }),
    field('description', 'longtext', 'personal', { description: 'What the customer reported.' }),
    field('status', 'select', 'internal', { description: 'new, open, pending, solved or closed.', options: TICKET_STATUSES, filterable: true, sortable: true }),
    field('priority', 'select', 'internal', { description: 'low, normal, high or urgent.', options: TICKET_PRIORITIES, filterable: true, sortable: true }),
    field('channel', 'select', 'internal', { description: 'How the request came in.', options: TICKET_CHANNELS, filterable: true }),
    field('assigneeId', 'reference', 'internal', { description: 'The agent working on the ticket.', references: 'users', filterable: true }),
    field('contactId', 'reference', 'internal', { description: 'The customer who asked.', references: 'contacts', filterable: true }),
    field('companyId', 'reference', 'internal', { description: 'The customer company.', references: 'companies', filterable: true }),
    field('slaDueAt', 'datetime', 'internal', { description: 'When the ticket must be solved; set from the priority when left out.', sortable: true }),
    field('solvedAt', 'datetime', 'internal', { description: 'When the ticket was solved.', readOnly: true, sortable: true }),
    field('closedAt', 'datetime', 'internal', { description: 'When the ticket was closed.', readOnly: true }),
  ],
};
