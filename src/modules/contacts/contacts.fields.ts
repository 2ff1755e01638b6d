import { field, type RecordTypeDef } from '../../data/field-registry.js';
import { PERSON_FIELDS } from '../../data/person-fields.js';

export const LIFECYCLE_STAGES = ['subscriber', 'lead', 'opportunity', 'customer', 'evangelist', 'other'] as const;

/** Classifications follow PIPL: names and contact details are personal; ID numbers are sensitive. */
export const contactFields: RecordTypeDef = {
  type: 'contacts',
  singular: 'contact',
  subject: 'person',
  defaultSort: '-createdAt',
  fields: [
    ...PERSON_FIELDS,
    field('mobile', 'phone', 'personal', { description: 'Mobile number.', filterable: true, searchable: true, blindIndex: 'phone' }),
    field('jobTitle', 'text', 'internal', { description: 'Job title.', maxLength: 200, sortable: true, searchable: true }),
    field('companyId', 'reference', 'internal', { description: 'The company the person works for.', references: 'companies', filterable: true }),
    field('address', 'text', 'personal', { description: 'Postal address.' }),
    field('city', 'text', 'internal', { description: 'City.', maxLength: 100, filterable: true, sortable: true }),
    field('country', 'text', 'internal', { description: 'Country.', maxLength: 100, filterable: true, sortable: true }),
    field('birthday', 'date', 'personal', { description: 'Date of birth.' }),
    field('idNumber', 'text', 'sensitive', { description: 'National ID or passport number (PIPL Art. 28 sensitive); `?idNumber=` matches exactly.', maxLength: 64, filterable: true, blindIndex: 'id-number' }),
    field('source', 'text', 'internal', { description: 'Where the contact came from.', maxLength: 100, filterable: true }),
    field('lifecycleStage', 'select', 'internal', { description: 'Where the person stands in the customer lifecycle.', options: LIFECYCLE_STAGES, filterable: true, sortable: true }),
  ],
};
