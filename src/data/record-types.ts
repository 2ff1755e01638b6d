import type { RecordType, RecordTypeDef } from './field-registry.js';
import { companyFields } from '../modules/companies/companies.fields.js';
import { contactFields } from '../modules/contacts/contacts.fields.js';
import { leadFields } from '../modules/leads/leads.fields.js';
import { dealFields } from '../modules/deals/deals.fields.js';
import { activityFields } from '../modules/activities/activities.fields.js';
import { ticketFields } from '../modules/tickets/tickets.fields.js';

/** The built-in declaration of every CRM record type. */
export const RECORD_TYPE_DEFS: Readonly<Record<RecordType, RecordTypeDef>> = {
  companies: companyFields,
  contacts: contactFields,
  leads: leadFields,
  deals: dealFields,
  activities: activityFields,
  tickets: ticketFields,
};
