import type { RecordType, RecordTypeDef } from './field-registry.js';
import { AppError } from '../shared/errors.js';
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

/** A list query plus the parameters a record type's service defines for its own views. */
export interface ServiceListQuery extends ListQuery {
  parameters?: Record<string, string>;
}

/**
 * What the HTTP routes and the CLI call for a record type. Most types use the store as it is; a
 * domain module replaces the operations that carry its rules (deal stages, ticket SLAs, ...).
 */
export interface RecordService {
  create(deps: DataDeps, ctx: ActorContext, input: RecordInput): Promise<RecordView>;
  get(deps: DataDeps, ctx: ActorContext, id: string): Promise<RecordView>;
  list(deps: DataDeps, ctx: ActorContext, query: ServiceListQuery): Promise<RecordPage>;
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

/**
 * Refuses an empty value for fields whose column always holds one: left out, the database default
 * applies; sent as null or blank, the write must fail as bad input rather than on the constraint.
 */
export function refuseEmpty(def: RecordTypeDef, input: RecordInput, keys: readonly string[]): void {
  const problems = keys
    .filter((key) => key in input && (input[key] === null || (typeof input[key] === 'string' && input[key].trim() === '')))
    .map((key) => ({ field: key, message: 'cannot be empty' }));
  if (problems.length > 0) {
    throw new AppError('record.validation_failed', `The ${def.singular} has invalid fields: ${problems.map((p) => p.field).join(', ')}`, problems);
  }
}

/**
 * The same deps with the clock stopped at one instant, so timestamps a service derives (closedAt,
 * slaDueAt) line up exactly with the `createdAt`/`updatedAt` the store writes in the same change.
 */
export function atOneInstant(deps: DataDeps): DataDeps {
  const now = deps.clock.now();
  return { ...deps, clock: { now: () => new Date(now) } };
}
