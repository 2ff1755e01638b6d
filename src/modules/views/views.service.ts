import { loadCustomFieldDefs } from '../../data/custom-field-defs.js';
import { isPersonal, type RecordType } from '../../data/field-registry.js';
import { RECORD_TYPE_DEFS } from '../../data/record-types.js';
import type { Executor } from '../../db/database.js';
import { inTransaction, type DataDeps } from '../../data/record-store.js';
import { AppError, type FieldProblem } from '../../shared/errors.js';
import { isId, newId } from '../../shared/ids.js';
import { actingUserId, type ActorContext } from '../../shared/principal.js';
import { countViews, deleteViewRow, insertView, selectView, selectViews, updateViewRow, type SavedViewRow } from './views.repo.js';

/** What a list shows: its columns in order, its sort (the API's `sort`), its filters and search words. */
export interface ViewDefinition {
  columns: string[];
  sort: string | null;
  filters: Record<string, string>;
  q: string | null;
}

export interface SavedView {
  id: string;
  recordType: RecordType;
  name: string;
  definition: ViewDefinition;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** Enough for any working habit, and a bound on what one account can store. */
export const MAX_VIEWS_PER_USER = 200;

/**
 * The user a view belongs to. Views are a person's own working state (their filter values may
 * name customers), so only principals that are a user have them, and nobody reads another's.
 */
function ownerOf(ctx: ActorContext): string {
  const userId = actingUserId(ctx.principal);
  if (userId === null || ctx.principal.kind === 'cli') throw new AppError('auth.forbidden', 'Saved views belong to a signed-in user');
  return userId;
}

/** The caller's views, optionally of one record type. */
export async function listViews(deps: DataDeps, ctx: ActorContext, recordType: RecordType | null): Promise<SavedView[]> {
  return (await selectViews(deps.db, ownerOf(ctx), recordType)).map(presentView);
}

/** Saves a new view for the caller. */
export async function createView(deps: DataDeps, ctx: ActorContext, input: { recordType: RecordType; name: string; definition: ViewDefinition }): Promise<SavedView> {
  const userId = ownerOf(ctx);
  const name = parseName(input.name);
  return inTransaction(deps, async (tx) => {
    if ((await countViews(tx.db, userId)) >= MAX_VIEWS_PER_USER) {
      throw new AppError('record.validation_failed', `You can keep at most ${MAX_VIEWS_PER_USER} saved views; delete one first`);
    }
    const now = tx.clock.now().toISOString();
    const definition = await keepable(tx.db, input.recordType, input.definition);
    const row: SavedViewRow = { id: newId(), user_id: userId, record_type: input.recordType, name, definition: JSON.stringify(definition), version: 1, created_at: now, updated_at: now };
    await insertView(tx.db, row);
    return presentView(row);
  });
}

/** Renames or redefines one of the caller's views if `version` is still current. */
export async function updateView(deps: DataDeps, ctx: ActorContext, id: string, version: number, changes: { name?: string; definition?: ViewDefinition }): Promise<SavedView> {
  const userId = ownerOf(ctx);
  const name = changes.name === undefined ? undefined : parseName(changes.name);
  return inTransaction(deps, async (tx) => {
    const row = isId(id) ? await selectView(tx.db, userId, id) : undefined;
    if (!row) throw notFound();
    if (Number(row.version) !== version) throw staleVersion();
    const definition = changes.definition ? JSON.stringify(await keepable(tx.db, row.record_type as RecordType, changes.definition)) : row.definition;
    const next = { name: name ?? row.name, definition, updated_at: tx.clock.now().toISOString() };
    if (!(await updateViewRow(tx.db, userId, id, version, next))) throw staleVersion();
    return presentView({ ...row, ...next, version: version + 1 });
  });
}

/** Deletes one of the caller's views. */
export async function deleteView(deps: DataDeps, ctx: ActorContext, id: string): Promise<void> {
  const userId = ownerOf(ctx);
  if (!isId(id) || !(await deleteViewRow(deps.db, userId, id))) throw notFound();
}

/**
 * What of a list's state a view keeps. Personal values live only sealed, under their person's key,
 * where erasing the person destroys them; a saved view is not such a place. So a view keeps
 * filters on fields that hold no personal data, and no search words (they name people as often as
 * not); the rest of the list's state (columns, sort) is kept as given.
 */
async function keepable(db: Executor, type: RecordType, definition: ViewDefinition): Promise<ViewDefinition> {
  const defs = [...RECORD_TYPE_DEFS[type].fields, ...(await loadCustomFieldDefs(db, type))];
  const impersonal = new Set(defs.filter((def) => !isPersonal(def)).map((def) => def.key));
  const filters = Object.fromEntries(Object.entries(definition.filters).filter(([key]) => impersonal.has(key.replace(/\[(lt|lte|gt|gte)\]$/, ''))));
  return { ...definition, filters, q: null };
}

function parseName(raw: string): string {
  const name = raw.trim();
  const problems: FieldProblem[] = [];
  if (!name) problems.push({ field: 'name', message: 'is required' });
  else if (/[\u0000-\u001f\u007f]/.test(name)) problems.push({ field: 'name', message: 'must be one line of text' });
  if (problems.length > 0) throw new AppError('record.validation_failed', 'The view has invalid fields: name', problems);
  return name;
}

function presentView(row: SavedViewRow): SavedView {
  const stored = JSON.parse(row.definition) as Partial<ViewDefinition>;
  return {
    id: row.id,
    recordType: row.record_type as RecordType,
    name: row.name,
    definition: { columns: stored.columns ?? [], sort: stored.sort ?? null, filters: stored.filters ?? {}, q: stored.q ?? null },
    version: Number(row.version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

// Another user's view answers exactly like a missing one, so ids reveal nothing.
function notFound(): AppError {
  return new AppError('view.not_found', 'No such saved view');
}

function staleVersion(): AppError {
  return new AppError('record.version_conflict', 'The view was changed elsewhere; reload it and try again');
}
