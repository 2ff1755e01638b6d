import type { RecordType } from '../data/field-registry.js';
import { plainRecordService, type RecordService } from '../data/record-service.js';

/** The service behind each record type; the HTTP routes and the CLI both use these. */
export const recordServices: Record<RecordType, RecordService> = {
  companies: plainRecordService('companies'),
  contacts: plainRecordService('contacts'),
  leads: plainRecordService('leads'),
  deals: plainRecordService('deals'),
  activities: plainRecordService('activities'),
  tickets: plainRecordService('tickets'),
};
