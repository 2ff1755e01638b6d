import { requireStepUp } from '../../data/step-up.js';
import { accessOf, requirePermission } from '../../data/access.js';
import type { DataDeps } from '../../data/record-store.js';
import { inTransaction } from '../../data/record-store.js';
import { EMAIL_PATTERN } from '../../data/field-registry.js';
import { isUniqueViolation } from '../../db/database.js';
import { AppError, type FieldProblem } from '../../shared/errors.js';
import { newId, isId } from '../../shared/ids.js';
import type { ActorContext } from '../../shared/principal.js';
import { recordAnonymousAudit, recordAudit, type AnonymousRequest, type AuditEvent } from '../../data/audit-trail.js';
import { hashPassword, passwordProblems } from '../auth/passwords.js';
import { rolesRequireMfa } from '../mfa/mfa.service.js';

export interface UserView {
  id: string;
  email: string;
  name: string;
  roles: string[];
  teamId: string | null;
  status: 'active' | 'disabled';
  locale: string;
  createdAt: string;
  updatedAt: string;
  lastLoginAt: string | null;
}

export interface NewUser {
  email: string;
  name: string;
  password: string;
  roles: string[];
  teamId?: string | null;
  locale?: string;
}

/**
 * A user as a trusted caller (setup, sample data, operator tooling) may create it: `password: null`
 * makes an account that cannot sign in with a password, such as a record owner in sample data.
 */
export interface TrustedNewUser extends Omit<NewUser, 'password'> {
  password: string | null;
}

const ROLE_ID = /^[a-z][a-z0-9_]{0,63}$/;

async function requireAdmin(deps: DataDeps, ctx: ActorContext): Promise<void> {
  await requirePermission(deps, ctx, 'users.manage', 'Your roles do not allow you to manage users');
}

export function normaliseEmail(email: string): string {
  return email.normalize('NFC').trim().toLowerCase();
}

/** A user, for the user themself or a principal who may read the user directory; to anyone else, no such user. */
export async function readUser(deps: DataDeps, ctx: ActorContext, id: string): Promise<UserView> {
  const self = ctx.principal.kind === 'user' || ctx.principal.kind === 'token' ? ctx.principal.userId : null;
  if (id !== self && !(await accessOf(deps, ctx)).may('users.read')) throw new AppError('user.not_found', 'No such user');
  return getUserById(deps, id);
}

/** Creates a user. Administrators only; the first administrator comes from the setup link. */
export async function createUser(deps: DataDeps, ctx: ActorContext, input: NewUser): Promise<UserView> {
  await requireAdmin(deps, ctx);
  // A new account with a password the creator chose is as good as a grant of its roles.
  await requireStepUp(deps, ctx);
  return insertUser(deps, ctx, input);
}

/**
 * Writes a user without a permission check: for the one-time setup, which has its own proof, and
 * for operator tooling. A null password comes only from code (sample data), never from a request:
 * the HTTP schemas require a password string. `by` is whoever the audit log names: the acting
 * principal, or the request that carried the setup secret.
 */
export async function insertUser(deps: DataDeps, by: ActorContext | AnonymousRequest, input: TrustedNewUser): Promise<UserView> {
  const problems: FieldProblem[] = [];
  const email = typeof input.email === 'string' ? normaliseEmail(input.email) : '';
  if (email.length > 254 || !EMAIL_PATTERN.test(email)) problems.push({ field: 'email', message: 'must be an email address' });
  const name = typeof input.name === 'string' ? input.name.normalize('NFC').trim() : '';
  if (name.length < 1 || name.length > 200 || /[\u0000-\u001f\u007f]/.test(name) || !name.isWellFormed()) {
    problems.push({ field: 'name', message: 'must be 1 to 200 characters of text' });
  }
  const roles = [...new Set(input.roles)];
  if (roles.length === 0) throw new AppError('user.invalid_role', 'A user needs at least one role');
  if (!roles.every((role) => typeof role === 'string' && ROLE_ID.test(role))) {
    throw new AppError('user.invalid_role', 'Unknown role', [{ field: 'roles', message: 'names a role that does not exist' }]);
  }
  // A role that requires a second factor makes the user set one up at the first sign-in.
  if (input.password !== null) problems.push(...passwordProblems(input.password, { email, name }, await rolesRequireMfa(deps.db, roles)));
  if (problems.length > 0) {
    throw new AppError(problems.some((p) => p.field === 'password') && problems.length === 1 ? 'auth.weak_password' : 'record.validation_failed', 'The user has invalid fields', problems);
  }

  const passwordHash = input.password === null ? null : await hashPassword(input.password);
  return inTransaction(deps, async (tx) => {
    const known = await tx.db.selectFrom('roles').select('id').where('id', 'in', roles).execute();
    if (known.length !== roles.length) throw new AppError('user.invalid_role', 'Unknown role', [{ field: 'roles', message: 'names a role that does not exist' }]);
    if (input.teamId != null) {
      if (!isId(input.teamId) || !(await tx.db.selectFrom('teams').select('id').where('id', '=', input.teamId).executeTakeFirst())) {
        throw new AppError('team.not_found', 'No such team', [{ field: 'teamId', message: 'does not name a team' }]);
      }
    }
    const now = tx.clock.now().toISOString();
    const id = newId();
    try {
      await tx.db
        .insertInto('users')
        .values({ id, email, name, password_hash: passwordHash, team_id: input.teamId ?? null, status: 'active', locale: input.locale === 'zh-CN' ? 'zh-CN' : 'en', created_at: now, updated_at: now, last_login_at: null })
        .execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new AppError('user.duplicate_email', 'A user with that email exists', [{ field: 'email', message: 'is taken' }]);
      throw error;
    }
    await tx.db.insertInto('user_roles').values(roles.map((role) => ({ user_id: id, role_id: role }))).execute();
    const event: AuditEvent = { action: 'user.create', recordType: 'users', recordIds: [id], fields: ['email', 'name', 'roles', 'teamId'], details: { roles, teamId: input.teamId ?? null } };
    if ('principal' in by) await recordAudit(tx, by, event);
    else await recordAnonymousAudit(tx, by, event);
    return getUserById(tx, id);
  });
}

/**
 * Holds the user's row until the transaction ends, so that what changes an account's credentials
 * or sessions (a password change or reset, a sign-in completing) happens one at a time. SQLite
 * already runs one writing transaction at a time; PostgreSQL needs the row lock.
 */
export async function lockUser(deps: DataDeps, userId: string): Promise<void> {
  if (deps.dialect === 'postgres') await deps.db.selectFrom('users').select('id').where('id', '=', userId).forUpdate().execute();
}

export async function getUserById(deps: DataDeps, id: string): Promise<UserView> {
  const row = isId(id) ? await deps.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst() : undefined;
  if (!row) throw new AppError('user.not_found', 'No such user');
  const roles = await deps.db.selectFrom('user_roles').select('role_id').where('user_id', '=', id).orderBy('role_id').execute();
  return presentUser(row, roles.map((r) => r.role_id));
}

export async function findUserByEmail(deps: DataDeps, email: string): Promise<UserView | undefined> {
  if (!EMAIL_PATTERN.test(normaliseEmail(email))) return undefined;
  const row = await deps.db.selectFrom('users').select('id').where('email', '=', normaliseEmail(email)).executeTakeFirst();
  return row ? getUserById(deps, row.id) : undefined;
}

export async function listUsers(deps: DataDeps, ctx: ActorContext): Promise<UserView[]> {
  await requirePermission(deps, ctx, 'users.read', 'Your roles do not allow you to list users');
  const rows = await deps.db.selectFrom('users').selectAll().orderBy('email').execute();
  const roles = await deps.db.selectFrom('user_roles').selectAll().execute();
  return rows.map((row) => presentUser(row, roles.filter((r) => r.user_id === row.id).map((r) => r.role_id).sort()));
}

/**
 * The signed-in user's own language, chosen with the web app's switch: security notices and the
 * mail that carries them are written in it.
 */
export async function setOwnLocale(deps: DataDeps, ctx: ActorContext, locale: 'en' | 'zh-CN'): Promise<UserView> {
  const userId = ctx.principal.kind === 'user' || ctx.principal.kind === 'token' ? ctx.principal.userId : null;
  if (!userId) throw new AppError('auth.forbidden', 'Only a user has a language of their own');
  await inTransaction(deps, async (tx) => {
    await tx.db.updateTable('users').set({ locale, updated_at: tx.clock.now().toISOString() }).where('id', '=', userId).execute();
    await recordAudit(tx, ctx, { action: 'user.update_own', recordType: 'users', recordIds: [userId], fields: ['locale'], details: { locale } });
  });
  return getUserById(deps, userId);
}

/** Disables a user; their sessions and tokens stop working on the next request. */
export async function disableUser(deps: DataDeps, ctx: ActorContext, userId: string): Promise<UserView> {
  await requireAdmin(deps, ctx);
  if (ctx.principal.kind !== 'cli' && ctx.principal.kind !== 'system' && ctx.principal.userId === userId) {
    throw new AppError('auth.forbidden', 'You cannot disable your own account');
  }
  return inTransaction(deps, async (tx) => {
    await getUserById(tx, userId);
    const now = tx.clock.now().toISOString();
    await tx.db.updateTable('users').set({ status: 'disabled', updated_at: now }).where('id', '=', userId).execute();
    const ended = await tx.db.updateTable('sessions').set({ revoked_at: now }).where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst();
    await recordAudit(tx, ctx, { action: 'user.disable', recordType: 'users', recordIds: [userId], fields: ['status'], details: { sessionsRevoked: Number(ended.numUpdatedRows) } });
    return getUserById(tx, userId);
  });
}

/** What `setUserAccess` changes: the whole set of roles, and/or the team (null for none). */
export interface AccessChanges {
  roles?: string[];
  teamId?: string | null;
}

/**
 * Gives a user another set of roles or another team. It takes effect on the user's next request.
 * Nobody changes their own: an administrator cannot widen, or lock themselves out of, their own rights.
 */
export async function setUserAccess(deps: DataDeps, ctx: ActorContext, userId: string, changes: AccessChanges): Promise<UserView> {
  await requireAdmin(deps, ctx);
  await requireStepUp(deps, ctx);
  if ((ctx.principal.kind === 'user' || ctx.principal.kind === 'token') && ctx.principal.userId === userId) {
    throw new AppError('auth.forbidden', 'You cannot change your own roles or team');
  }
  return inTransaction(deps, async (tx) => {
    const before = await getUserById(tx, userId);
    if (changes.roles !== undefined) {
      const roles = Array.isArray(changes.roles) ? [...new Set(changes.roles)] : [];
      if (roles.length === 0 || roles.length > 20) throw new AppError('user.invalid_role', 'A user needs 1 to 20 roles', [{ field: 'roles', message: 'must name 1 to 20 roles' }]);
      const valid = roles.every((role) => typeof role === 'string' && ROLE_ID.test(role));
      const known = valid ? await tx.db.selectFrom('roles').select('id').where('id', 'in', roles).execute() : [];
      if (known.length !== roles.length) throw new AppError('user.invalid_role', 'Unknown role', [{ field: 'roles', message: 'names a role that does not exist' }]);
      await tx.db.deleteFrom('user_roles').where('user_id', '=', userId).execute();
      await tx.db.insertInto('user_roles').values(roles.map((role) => ({ user_id: userId, role_id: role }))).execute();
      // New rights, new sign-in: the user's sessions end, and a role that requires a second factor
      // makes them set one up.
      await tx.db.updateTable('sessions').set({ revoked_at: tx.clock.now().toISOString() }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
    }
    if (changes.teamId !== undefined) {
      if (changes.teamId !== null && (!isId(changes.teamId) || !(await tx.db.selectFrom('teams').select('id').where('id', '=', changes.teamId).executeTakeFirst()))) {
        throw new AppError('team.not_found', 'No such team', [{ field: 'teamId', message: 'does not name a team' }]);
      }
      await tx.db.updateTable('users').set({ team_id: changes.teamId, updated_at: tx.clock.now().toISOString() }).where('id', '=', userId).execute();
    }
    const after = await getUserById(tx, userId);
    const details: Record<string, unknown> = {};
    if (changes.roles !== undefined) details.roles = [before.roles, after.roles];
    if (changes.teamId !== undefined) details.teamId = [before.teamId, after.teamId];
    await recordAudit(tx, ctx, { action: 'user.change_access', recordType: 'users', recordIds: [userId], fields: Object.keys(details), details });
    return after;
  });
}

export async function countUsers(deps: DataDeps): Promise<number> {
  const row = await deps.db.selectFrom('users').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst();
  return Number(row?.n ?? 0);
}

function presentUser(row: { id: string; email: string; name: string; team_id: string | null; status: 'active' | 'disabled'; locale: string; created_at: string; updated_at: string; last_login_at: string | null }, roles: string[]): UserView {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    roles,
    teamId: row.team_id,
    status: row.status,
    locale: row.locale,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastLoginAt: row.last_login_at,
  };
}
