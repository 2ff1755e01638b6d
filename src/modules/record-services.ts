import type { RecordType } from '../data/field-registry.js';
import { plainRecordService, type RecordService } from '../data/record-service.js';
import { activityService } from './activities/activities.service.js';
import { dealService } from './deals/deals.service.js';
import { leadService } from './leads/leads.service.js';
import { ticketService } from './tickets/tickets.service.js';

/** The service behind each record type; the HTTP routes and the CLI both use these. */
export const recordServices: Record<RecordType, RecordService> = {
  companies: plainRecordService('companies'),
  contacts: plainRecordService('contacts'),
  leads: leadService,
  deals: dealService,
  activities: activityService,
  tickets: ticketService,
};
