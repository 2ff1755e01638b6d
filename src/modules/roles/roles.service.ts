import { requireStepUp } from '../../data/step-up.js';
import { recordAudit } from '../../data/audit-trail.js';
import { requirePermission } from '../../data/access.js';
import { inTransaction, type DataDeps } from '../../data/record-store.js';
import { isUniqueViolation } from '../../db/database.js';
import type { RecordType } from '../../data/field-registry.js';
import { parseRoleDefinition, type Action, type FieldRule, type Permission, type RoleDefinition, type Scope, type TypeGrant } from '../../policy/model.js';
import { canonicalJson } from '../../shared/canonical-json.js';
import { AppError, type FieldProblem } from '../../shared/errors.js';
import type { ActorContext } from '../../shared/principal.js';

/**
 * Roles: the shipped ones, which read as they ship and cannot be changed, and custom ones made
 * through the API or the CLI. Anyone signed in may read roles (a user should know what their own
 * roles allow); changing them needs `roles.manage`. A change applies to every holder's next request.
 */
export interface RoleView {
  id: string;
  name: string;
  description: string;
  builtin: boolean;
  version: number;
  definition: RoleDefinition;
  createdAt: string;
  updatedAt: string | null;
}

export interface NewRole {
  id: string;
  name: string;
  description?: string;
  definition?: unknown;
}

export interface RoleChanges {
  name?: string;
  description?: string;
  definition?: unknown;
}

/** One change to a role's definition, as `rampart role grant|revoke` makes it. */
export type RoleGrant =
  | { kind: 'action'; type: RecordType; action: Action; scope: Scope }
  | { kind: 'field'; type: RecordType; target: string; rule: FieldRule }
  | { kind: 'permission'; permission: Permission }
  | { kind: 'network'; list: 'allow' | 'deny'; range: string };

export type RoleRevoke =
  | { kind: 'action'; type: RecordType; action: Action }
  | { kind: 'field'; type: RecordType; target: string }
  | { kind: 'permission'; permission: Permission }
  | { kind: 'network'; list: 'allow' | 'deny'; range: string };

const ROLE_ID = /^[a-z][a-z0-9_]{1,63}$/;

export async function listRoles(deps: DataDeps, _ctx: ActorContext): Promise<RoleView[]> {
  const rows = await deps.db.selectFrom('roles').selectAll().orderBy('id').execute();
  return rows.map(presentRole);
}

export async function getRole(deps: DataDeps, _ctx: ActorContext, id: string): Promise<RoleView> {
  // Checked before the query: text a role id cannot hold (NUL) must not reach PostgreSQL.
  const row = typeof id === 'string' && ROLE_ID.test(id) ? await deps.db.selectFrom('roles').selectAll().where('id', '=', id).executeTakeFirst() : undefined;
  if (!row) throw new AppError('role.not_found', 'No such role');
  return presentRole(row);
}

export async function createRole(deps: DataDeps, ctx: ActorContext, input: NewRole): Promise<RoleView> {
  await requireRoleManager(deps, ctx);
  const problems: FieldProblem[] = [];
  if (typeof input.id !== 'string' || !ROLE_ID.test(input.id)) problems.push({ field: 'id', message: 'must be 2 to 64 lower-case letters, digits and underscores, starting with a letter' });
  const name = checkText(input.name, 'name', 100, problems);
  const description = input.description === undefined ? '' : checkText(input.description, 'description', 500, problems);
  const definition = checkDefinition(input.definition ?? { records: {}, permissions: [] }, problems);
  if (problems.length > 0) throw new AppError('role.invalid', 'The role has invalid fields', problems);
  return inTransaction(deps, async (tx) => {
    const now = tx.clock.now().toISOString();
    try {
      await tx.db
        .insertInto('roles')
        .values({ id: input.id, name, description, builtin: 0, definition: JSON.stringify(definition), version: 1, created_at: now, updated_at: now })
        .execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('role.duplicate', 'A role with that id exists', [{ field: 'id', message: 'is taken' }]);
      throw error;
    }
    // Role definitions are no one's personal data: the log keeps them whole, so an auditor can
    // see exactly what was granted, when and by whom.
    await recordAudit(tx, ctx, { action: 'role.create', recordType: 'roles', recordIds: [input.id], fields: ['name', 'description', 'definition'], details: { definition } });
    return getRole(tx, ctx, input.id);
  });
}

/** Changes a custom role; `version` is the one the caller read, so two editors cannot overwrite each other. */
export async function updateRole(deps: DataDeps, ctx: ActorContext, id: string, version: number, changes: RoleChanges): Promise<RoleView> {
  await requireRoleManager(deps, ctx);
  return inTransaction(deps, async (tx) => {
    const current = await getRole(tx, ctx, id);
    const problems: FieldProblem[] = [];
    const name = changes.name === undefined ? current.name : checkText(changes.name, 'name', 100, problems);
    const description = changes.description === undefined ? current.description : checkText(changes.description, 'description', 500, problems);
    const definition = changes.definition === undefined ? current.definition : checkDefinition(changes.definition, problems);
    if (problems.length > 0) throw new AppError('role.invalid', 'The role has invalid fields', problems);
    // A shipped role keeps its grants; where it counts from (its networks) and whether it requires
    // a second factor are each site's to say.
    const grantsOf = (d: RoleDefinition) => canonicalJson({ records: d.records, permissions: [...d.permissions].sort() });
    if (current.builtin && (name !== current.name || description !== current.description || grantsOf(definition) !== grantsOf(current.definition))) {
      throw new AppError('role.builtin', 'Shipped roles cannot be changed, except for their networks and whether they require a second factor; make a custom role instead');
    }
    const result = await tx.db
      .updateTable('roles')
      .set({ name, description, definition: JSON.stringify(definition), version: version + 1, updated_at: tx.clock.now().toISOString() })
      .where('id', '=', id)
      .where('version', '=', version)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) throw new AppError('record.version_conflict', 'The role was changed by someone else; reload it and try again');
    // Holders of a role that starts requiring a second factor sign in again, and set one up.
    if (definition.mfaRequired && !current.definition.mfaRequired) {
      await tx.db
        .updateTable('sessions')
        .set({ revoked_at: tx.clock.now().toISOString() })
        .where('revoked_at', 'is', null)
        .where('user_id', 'in', (eb) => eb.selectFrom('user_roles').select('user_id').where('role_id', '=', id))
        .execute();
    }
    const fields = [name !== current.name ? 'name' : null, description !== current.description ? 'description' : null, canonicalJson(definition) !== canonicalJson(current.definition) ? 'definition' : null].filter((f): f is string => f !== null);
    await recordAudit(tx, ctx, { action: 'role.update', recordType: 'roles', recordIds: [id], fields, details: { before: current.definition, after: definition } });
    return getRole(tx, ctx, id);
  });
}

/** Adds one grant to a custom role (or widens it): what `rampart role grant` does. */
export async function grantToRole(deps: DataDeps, ctx: ActorContext, id: string, grant: RoleGrant): Promise<RoleView> {
  const role = await getRole(deps, ctx, id);
  const records = { ...role.definition.records };
  let permissions = [...role.definition.permissions];
  const networks = { allow: [...(role.definition.networks?.allow ?? [])], deny: [...(role.definition.networks?.deny ?? [])] };
  if (grant.kind === 'permission') permissions = [...new Set([...permissions, grant.permission])];
  else if (grant.kind === 'network') networks[grant.list] = [...new Set([...networks[grant.list], grant.range])];
  else {
    const current: TypeGrant = records[grant.type] ?? { actions: {}, fields: {} };
    records[grant.type] =
      grant.kind === 'action' ? { actions: { ...current.actions, [grant.action]: grant.scope }, fields: current.fields } : { actions: current.actions, fields: { ...current.fields, [grant.target]: grant.rule } };
  }
  return updateRole(deps, ctx, id, role.version, { definition: { ...role.definition, records, permissions, networks } });
}

/** Takes one grant away from a custom role: what `rampart role revoke` does. */
export async function revokeFromRole(deps: DataDeps, ctx: ActorContext, id: string, revoke: RoleRevoke): Promise<RoleView> {
  const role = await getRole(deps, ctx, id);
  const records = { ...role.definition.records };
  let permissions = [...role.definition.permissions];
  const networks = { allow: [...(role.definition.networks?.allow ?? [])], deny: [...(role.definition.networks?.deny ?? [])] };
  if (revoke.kind === 'permission') permissions = permissions.filter((p) => p !== revoke.permission);
  else if (revoke.kind === 'network') networks[revoke.list] = networks[revoke.list].filter((r) => r !== revoke.range);
  else {
    const current = records[revoke.type];
    if (current) {
      const actions = { ...current.actions };
      const fields = { ...current.fields };
      if (revoke.kind === 'action') delete actions[revoke.action];
      else delete fields[revoke.target];
      records[revoke.type] = { actions, fields };
    }
  }
  return updateRole(deps, ctx, id, role.version, { definition: { ...role.definition, records, permissions, networks } });
}

/** Deletes a custom role no user holds. */
export async function deleteRole(deps: DataDeps, ctx: ActorContext, id: string): Promise<void> {
  await requireRoleManager(deps, ctx);
  await inTransaction(deps, async (tx) => {
    const role = await getRole(tx, ctx, id);
    if (role.builtin) throw new AppError('role.builtin', 'Shipped roles cannot be deleted');
    const holders = await tx.db.selectFrom('user_roles').select((eb) => eb.fn.countAll().as('n')).where('role_id', '=', id).executeTakeFirst();
    if (Number(holders?.n ?? 0) > 0) throw new AppError('role.in_use', `${Number(holders!.n)} user(s) hold this role; take it from them first`);
    await tx.db.deleteFrom('roles').where('id', '=', id).execute();
    await recordAudit(tx, ctx, { action: 'role.delete', recordType: 'roles', recordIds: [id], details: { definition: role.definition } });
  });
}

async function requireRoleManager(deps: DataDeps, ctx: ActorContext): Promise<void> {
  await requirePermission(deps, ctx, 'roles.manage', 'Your roles do not allow you to manage roles');
  await requireStepUp(deps, ctx);
}

function checkText(raw: unknown, field: string, max: number, problems: FieldProblem[]): string {
  const value = typeof raw === 'string' ? raw.normalize('NFC').trim() : '';
  if (value.length < (field === 'description' ? 0 : 1) || value.length > max || /[\u0000-\u001f\u007f]/.test(value) || !value.isWellFormed()) {
    problems.push({ field, message: `must be ${field === 'description' ? 'at most' : '1 to'} ${max} characters of text` });
  }
  return value;
}

function checkDefinition(raw: unknown, problems: FieldProblem[]): RoleDefinition {
  const parsed = parseRoleDefinition(raw);
  if (parsed.ok) return parsed.definition;
  problems.push(...parsed.problems.map((p) => ({ field: `definition.${p.field}`, message: p.message })));
  return { records: {}, permissions: [] };
}

function presentRole(row: { id: string; name: string; description: string; builtin: number; version: number; definition: string; created_at: string; updated_at: string | null }): RoleView {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    builtin: Number(row.builtin) === 1,
    version: Number(row.version),
    definition: JSON.parse(row.definition) as RoleDefinition,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
