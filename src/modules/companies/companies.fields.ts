import { field, type RecordTypeDef } from '../../data/field-registry.js';

export const companyFields: RecordTypeDef = {
  type: 'companies',
  singular: 'company',
  subject: 'organisation',
  defaultSort: '-createdAt',
  fields: [
    field('name', 'text', 'public', { description: 'Company name.', required: true, maxLength: 200, sortable: true, searchable: true, filterable: true }),
    field('domain', 'text', 'public', { description: 'Main web domain, used for duplicate detection.', maxLength: 253, filterable: true, searchable: true }),
    field('website', 'url', 'public', { description: 'Web site address.' }),
    field('industry', 'text', 'internal', { description: 'Industry.', maxLength: 100, filterable: true, sortable: true }),
    field('employees', 'integer', 'internal', { description: 'Number of employees.', sortable: true }),
    field('phone', 'phone', 'internal', { description: 'Switchboard number.', searchable: true }),
    field('address', 'text', 'internal', { description: 'Street address.' }),
    field('city', 'text', 'internal', { description: 'City.', maxLength: 100, filterable: true, sortable: true }),
    field('country', 'text', 'internal', { description: 'Country.', maxLength: 100, filterable: true, sortable: true }),
    field('description', 'longtext', 'internal', { description: 'Free-form description.' }),
  ],
};
