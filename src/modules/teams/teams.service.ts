import { requirePermission } from '../../data/access.js';
import { inTransaction, type DataDeps } from '../../data/record-store.js';
import { recordAudit } from '../../data/audit-trail.js';
import { isUniqueViolation } from '../../db/database.js';
import { AppError } from '../../shared/errors.js';
import { newId, isId } from '../../shared/ids.js';
import type { ActorContext } from '../../shared/principal.js';

export interface TeamView {
  id: string;
  name: string;
  parentId: string | null;
  createdAt: string;
  updatedAt: string;
}

export async function createTeam(deps: DataDeps, ctx: ActorContext, input: { name: string; parentId?: string | null }): Promise<TeamView> {
  await requirePermission(deps, ctx, 'teams.manage', 'Your roles do not allow you to manage teams');
  const name = typeof input.name === 'string' ? input.name.normalize('NFC').trim() : '';
  if (name.length < 1 || name.length > 100 || /[\u0000-\u001f\u007f]/.test(name) || !name.isWellFormed()) {
    throw new AppError('record.validation_failed', 'The team has invalid fields', [{ field: 'name', message: 'must be 1 to 100 characters of text' }]);
  }
  if (input.parentId != null && (!isId(input.parentId) || !(await deps.db.selectFrom('teams').select('id').where('id', '=', input.parentId).executeTakeFirst()))) {
    throw new AppError('team.not_found', 'No such parent team', [{ field: 'parentId', message: 'does not name a team' }]);
  }
  const now = deps.clock.now().toISOString();
  const id = newId();
  await inTransaction(deps, async (tx) => {
    try {
      await tx.db.insertInto('teams').values({ id, name, parent_id: input.parentId ?? null, created_at: now, updated_at: now }).execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('team.duplicate', 'A team with that name exists', [{ field: 'name', message: 'is taken' }]);
      throw error;
    }
    await recordAudit(tx, ctx, { action: 'team.create', recordType: 'teams', recordIds: [id], fields: ['name', 'parentId'], details: { name, parentId: input.parentId ?? null } });
  });
  return { id, name, parentId: input.parentId ?? null, createdAt: now, updatedAt: now };
}

export async function listTeams(deps: DataDeps, _ctx: ActorContext): Promise<TeamView[]> {
  const rows = await deps.db.selectFrom('teams').selectAll().orderBy('name').execute();
  return rows.map((r) => ({ id: r.id, name: r.name, parentId: r.parent_id, createdAt: r.created_at, updatedAt: r.updated_at }));
}

export async function findTeamByName(deps: DataDeps, name: string): Promise<TeamView | undefined> {
  const r = await deps.db.selectFrom('teams').selectAll().where('name', '=', name.trim()).executeTakeFirst();
  return r ? { id: r.id, name: r.name, parentId: r.parent_id, createdAt: r.created_at, updatedAt: r.updated_at } : undefined;
}
