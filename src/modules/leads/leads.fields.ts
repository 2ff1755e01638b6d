import { field, type RecordTypeDef } from '../../data/field-registry.js';
import { PERSON_FIELDS } from '../../data/person-fields.js';

export const LEAD_STATUSES = ['new', 'contacted', 'qualified', 'unqualified', 'converted'] as const;

export const leadFields: RecordTypeDef = {
  type: 'leads',
  singular: 'lead',
  subject: 'person',
  defaultSort: '-createdAt',
  fields: [
    ...PERSON_FIELDS,
    field('companyName', 'text', 'public', { description: 'The company the lead named.', maxLength: 200, sortable: true, searchable: true }),
    field('jobTitle', 'text', 'internal', { description: 'Job title.', maxLength: 200, searchable: true }),
    field('source', 'text', 'internal', { description: 'Where the lead came from.', maxLength: 100, filterable: true, sortable: true }),
    field('status', 'select', 'internal', { description: 'Qualification status; `converted` is set by conversion only.', options: LEAD_STATUSES, filterable: true, sortable: true }),
    field('description', 'longtext', 'personal', { description: 'Notes on the lead.' }),
    field('convertedAt', 'datetime', 'internal', { description: 'When the lead was converted.', readOnly: true }),
    field('convertedContactId', 'reference', 'internal', { description: 'Contact made by conversion.', references: 'contacts', readOnly: true }),
    field('convertedCompanyId', 'reference', 'internal', { description: 'Company made or used by conversion.', references: 'companies', readOnly: true }),
    field('convertedDealId', 'reference', 'internal', { description: 'Deal made by conversion.', references: 'deals', readOnly: true }),
  ],
};
