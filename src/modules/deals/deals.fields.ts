import { field, type RecordTypeDef } from '../../data/field-registry.js';

export const DEAL_STATUSES = ['open', 'won', 'lost'] as const;

export const dealFields: RecordTypeDef = {
  type: 'deals',
  singular: 'deal',
  subject: 'organisation',
  defaultSort: '-createdAt',
  fields: [
    field('name', 'text', 'internal', { description: 'Deal name.', required: true, maxLength: 200, sortable: true, searchable: true }),
    field('companyId', 'reference', 'internal', { description: 'The customer company.', references: 'companies', filterable: true }),
    field('contactId', 'reference', 'internal', { description: 'The main contact person.', references: 'contacts', filterable: true }),
    field('pipelineId', 'reference', 'internal', { description: 'Pipeline; the default pipeline when left out.', references: 'pipelines', filterable: true }),
    field('stageId', 'reference', 'internal', { description: 'Stage within the pipeline; its first stage when left out.', references: 'pipeline_stages', filterable: true }),
    field('amount', 'money', 'internal', { description: 'Expected value in major units (two decimals).', sortable: true }),
    field('currency', 'text', 'internal', { description: 'ISO 4217 currency code.', maxLength: 3, filterable: true }),
    field('expectedCloseDate', 'date', 'internal', { description: 'When the deal is expected to close.', sortable: true, filterable: true }),
    field('status', 'select', 'internal', { description: 'open, won or lost; follows the stage outcome.', options: DEAL_STATUSES, filterable: true, sortable: true, readOnly: true }),
    field('lostReason', 'text', 'internal', { description: 'Why the deal was lost.', maxLength: 500 }),
    field('closedAt', 'datetime', 'internal', { description: 'When the deal was won or lost.', readOnly: true, sortable: true }),
    field('description', 'longtext', 'internal', { description: 'Free-form description.' }),
  ].map((f) => (f.key === 'amount' ? { ...f, column: 'amount_cents' } : f)),
};
