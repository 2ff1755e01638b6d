import { field, type FieldDef } from './field-registry.js';

/**
 * The fields that identify a natural person, shared by contacts and leads so that both classify,
 * validate and search them alike (names and contact details are PIPL personal information).
 */
export const PERSON_FIELDS: readonly FieldDef[] = [
  field('firstName', 'text', 'personal', { description: 'Given name.', maxLength: 100, searchable: true, sortable: true }),
  field('lastName', 'text', 'personal', { description: 'Family name.', required: true, maxLength: 100, searchable: true, sortable: true }),
  field('email', 'email', 'personal', { description: 'Email address; `?email=` matches exactly.', filterable: true, searchable: true, sortable: true, blindIndex: 'email' }),
  field('phone', 'phone', 'personal', { description: 'Phone number; `?phone=` matches the same number written any way.', filterable: true, searchable: true, blindIndex: 'phone' }),
];
