import { recordAudit } from '../../data/audit-trail.js';
import { requirePermission } from '../../data/access.js';
import { field, parseFieldValue } from '../../data/field-registry.js';
import { inTransaction, type DataDeps } from '../../data/record-store.js';
import { isUniqueViolation } from '../../db/database.js';
import { AppError, type FieldProblem } from '../../shared/errors.js';
import { isId, newId } from '../../shared/ids.js';
import type { ActorContext } from '../../shared/principal.js';
import { deleteTagRow, insertTag, selectTag, selectTagNamed, selectTags, updateTagRow, type TagRow } from './tags.repo.js';

/** The colours a tag may have; the web interface maps each to a colour that reads in both themes. */
export const TAG_COLORS = ['gray', 'red', 'orange', 'yellow', 'green', 'teal', 'blue', 'indigo', 'purple', 'pink'] as const;
export type TagColor = (typeof TAG_COLORS)[number];

export interface TagView {
  id: string;
  name: string;
  color: TagColor;
  version: number;
  createdAt: string;
  updatedAt: string;
}

const TAG_NAME = field('name', 'text', 'internal', { description: 'Tag name.', required: true, maxLength: 50 });

/**
 * Anyone signed in may tag records and make new tags; renaming or deleting a tag changes every
 * record that carries it, so that is for administrators and managers.
 */
async function requireTagManager(deps: DataDeps, ctx: ActorContext): Promise<void> {
  await requirePermission(deps, ctx, 'tags.manage', 'Your roles do not allow you to rename or delete tags');
}

/** Every tag, by name; anyone signed in may read them. */
export async function listTags(deps: DataDeps, _ctx: ActorContext): Promise<TagView[]> {
  return (await selectTags(deps.db)).map(presentTag);
}

/** One tag, or tag.not_found. */
export async function getTag(deps: DataDeps, _ctx: ActorContext, id: string): Promise<TagView> {
  const row = isId(id) ? await selectTag(deps.db, id) : undefined;
  if (!row) throw new AppError('tag.not_found', 'No such tag');
  return presentTag(row);
}

/** Creates a tag; names are unique regardless of case. */
export async function createTag(deps: DataDeps, ctx: ActorContext, input: { name: string; color?: string }): Promise<TagView> {
  const problems: FieldProblem[] = [];
  const name = parseName(input?.name, problems);
  const color = parseColor(input?.color ?? 'gray', problems);
  if (problems.length > 0) throw invalidTag(problems);
  return inTransaction(deps, async (tx) => {
    if (await selectTagNamed(tx.db, name, null)) throw duplicateName();
    const now = tx.clock.now().toISOString();
    const id = newId();
    await insertTag(tx.db, { id, name, color, version: 1, created_at: now, updated_at: now }).catch(uniqueAsDuplicate);
    await recordAudit(tx, ctx, { action: 'tag.create', recordType: 'tags', recordIds: [id], fields: ['name', 'color'], details: { name, color } });
    return getTag(tx, ctx, id);
  });
}

/** Renames or recolours a tag if `version` is still current. */
export async function updateTag(deps: DataDeps, ctx: ActorContext, id: string, version: number, changes: { name?: string; color?: string }): Promise<TagView> {
  await requireTagManager(deps, ctx);
  const problems: FieldProblem[] = [];
  const name = changes?.name === undefined ? undefined : parseName(changes.name, problems);
  const color = changes?.color === undefined ? undefined : parseColor(changes.color, problems);
  if (problems.length > 0) throw invalidTag(problems);
  return inTransaction(deps, async (tx) => {
    const row = isId(id) ? await selectTag(tx.db, id) : undefined;
    if (!row) throw new AppError('tag.not_found', 'No such tag');
    if (Number(row.version) !== version) throw staleVersion();
    if (name !== undefined && (await selectTagNamed(tx.db, name, id))) throw duplicateName();
    const updated = await updateTagRow(tx.db, id, version, { name: name ?? row.name, color: color ?? row.color, updated_at: tx.clock.now().toISOString() }).catch(uniqueAsDuplicate);
    if (!updated) throw staleVersion();
    await recordAudit(tx, ctx, { action: 'tag.update', recordType: 'tags', recordIds: [id], fields: Object.keys(changes ?? {}), details: { name: name ?? row.name, color: color ?? row.color } });
    return getTag(tx, ctx, id);
  });
}

/** Deletes a tag and takes it off every record that carried it. */
export async function deleteTag(deps: DataDeps, ctx: ActorContext, id: string): Promise<void> {
  await requireTagManager(deps, ctx);
  await inTransaction(deps, async (tx) => {
    const row = isId(id) ? await selectTag(tx.db, id) : undefined;
    if (!row) throw new AppError('tag.not_found', 'No such tag');
    await deleteTagRow(tx.db, id);
    await recordAudit(tx, ctx, { action: 'tag.delete', recordType: 'tags', recordIds: [id], details: { name: row.name } });
  });
}

function parseName(raw: unknown, problems: FieldProblem[]): string {
  const parsed = parseFieldValue(TAG_NAME, raw);
  if (!parsed.ok) problems.push({ field: 'name', message: parsed.message });
  return parsed.ok ? (parsed.value as string) : '';
}

function parseColor(raw: unknown, problems: FieldProblem[]): TagColor {
  if (typeof raw !== 'string' || !(TAG_COLORS as readonly string[]).includes(raw)) problems.push({ field: 'color', message: `must be one of: ${TAG_COLORS.join(', ')}` });
  return raw as TagColor;
}

function presentTag(row: TagRow): TagView {
  return { id: row.id, name: row.name, color: row.color as TagColor, version: Number(row.version), createdAt: row.created_at, updatedAt: row.updated_at };
}

function invalidTag(problems: FieldProblem[]): AppError {
  return new AppError('record.validation_failed', `The tag has invalid fields: ${problems.map((p) => p.field).join(', ')}`, problems);
}

function duplicateName(): AppError {
  return new AppError('tag.duplicate', 'A tag with that name exists', [{ field: 'name', message: 'is taken' }]);
}

function uniqueAsDuplicate(error: unknown): never {
  if (isUniqueViolation(error)) throw duplicateName();
  throw error;
}

function staleVersion(): AppError {
  return new AppError('record.version_conflict', 'The tag was changed by someone else; reload it and try again');
}
