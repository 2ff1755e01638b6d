import { accessOf } from '../../data/access.js';
import { recordSchema, type DataDeps } from '../../data/record-store.js';
import { AppError } from '../../shared/errors.js';
import type { ActorContext } from '../../shared/principal.js';
import { requireScope } from '../tokens/tokens.service.js';
import { importTargets } from './transfer.columns.js';
import type { ImportableType } from './transfer.import.js';

/**
 * The rules around imports over HTTP, before any byte of an answer is sent: who may start one; and
 * when an export is large enough that its download asks for a recent second factor (exports
 * themselves are governed in src/modules/exports). The work itself is transfer.import.ts and
 * transfer.export.ts, which the command line uses too.
 */

/** Downloading an export of more rows than this needs a second factor proved in the last few minutes. */
export const STEP_UP_EXPORT_ROWS = 1_000;

/** A field a column can be mapped to. */
export interface ImportField {
  /** The mapping key: the field's key, `custom.<key>` for a custom field, `company` for a contact's company by name. */
  key: string;
  label: string;
  required: boolean;
}

/**
 * Refuses a caller who may not import records of this type (the import
 * and create actions, and a token's scopes over the type), so a refusal writes nothing.
 */
export async function requireImportRights(deps: DataDeps, ctx: ActorContext, type: ImportableType): Promise<void> {
  requireScope(ctx, type, 'write');
  const access = await accessOf(deps, ctx);
  if (access.scope(type, 'import') === null || access.scope(type, 'create') === null) {
    throw new AppError('auth.forbidden', `Your roles do not allow you to import ${type}`);
  }
}

/** The fields the caller may fill from a column: those its roles let it write. */
export async function importFields(deps: DataDeps, ctx: ActorContext, type: ImportableType): Promise<ImportField[]> {
  const access = await accessOf(deps, ctx);
  const schema = await recordSchema(deps, type);
  const fields: ImportField[] = [];
  for (const [key, target] of importTargets(schema, type)) {
    if (target.kind === 'company') fields.push({ key, label: 'Company', required: false });
    else if (target.kind === 'field' || target.kind === 'custom') {
      if (access.fieldRule(type, target.def) !== 'write') continue;
      fields.push({ key, label: target.def.label, required: Boolean(target.def.required) });
    }
  }
  return fields;
}
