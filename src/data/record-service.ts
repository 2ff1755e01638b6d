import type { RecordType } from './field-registry.js';
import type { ActorContext } from '../shared/principal.js';
import {
  createRecord,
  deleteRecord,
  getRecord,
  listRecords,
  restoreRecord,
  updateRecord,
  type DataDeps,
  type ListQuery,
  type RecordInput,
  type RecordPage,
  type RecordView,
} from './record-store.js';

/**
 * What the HTTP routes and the CLI call for a record type. Most types use the store as it is; a
 * domain module replaces the operations that carry its rules (deal stages, ticket SLAs, ...).
 */
export interface RecordService {
  create(deps: DataDeps, ctx: ActorContext, input: RecordInput): Promise<RecordView>;
  get(deps: DataDeps, ctx: ActorContext, id: string): Promise<RecordView>;
  list(deps: DataDeps, ctx: ActorContext, query: ListQuery): Promise<RecordPage>;
  update(deps: DataDeps, ctx: ActorContext, id: string, version: number, input: RecordInput): Promise<RecordView>;
  remove(deps: DataDeps, ctx: ActorContext, id: string): Promise<void>;
  restore(deps: DataDeps, ctx: ActorContext, id: string): Promise<RecordView>;
}

export function plainRecordService(type: RecordType, overrides: Partial<RecordService> = {}): RecordService {
  return {
    create: (deps, ctx, input) => createRecord(deps, ctx, type, input),
    get: (deps, ctx, id) => getRecord(deps, ctx, type, id),
    list: (deps, ctx, query) => listRecords(deps, ctx, type, query),
    update: (deps, ctx, id, version, input) => updateRecord(deps, ctx, type, id, version, input),
    remove: (deps, ctx, id) => deleteRecord(deps, ctx, type, id),
    restore: (deps, ctx, id) => restoreRecord(deps, ctx, type, id),
    ...overrides,
  };
}
