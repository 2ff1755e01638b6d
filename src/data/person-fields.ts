import { field, type FieldDef } from './field-registry.js';

/**
 * The fields that identify a natural person, shared by contacts and leads so that both classify,
 * validate and search them alike (names and contact details are PIPL personal information).
 */
export const PERSON_FIELDS: readonly FieldDef[] = [
  field('firstName', 'text', 'personal', { description: 'Given name.', maxLength: 100, searchable: true }),
  field('lastName', 'text', 'personal', { description: 'Family name.', required: true, maxLength: 100, searchable: true }),
  field('email', 'email', 'personal', { description: 'Email address; `?email=` matches exactly.', filterable: true, searchable: true }),
  field('phone', 'phone', 'personal', { description: 'Phone number.', filterable: true, searchable: true }),
];
