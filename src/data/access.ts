import type { Kysely } from 'kysely';
import type { Executor } from '../db/database.js';
import { Access } from '../policy/access.js';
import type { RoleDefinition } from '../policy/model.js';
import { networkAllows, OPEN_NETWORK } from '../policy/networks.js';
import { AppError } from '../shared/errors.js';
import type { ActorContext } from '../shared/principal.js';

/**
 * The access of the principal behind a request, read from the database once per request: roles and
 * teams are looked up afresh for every request, so revoking a role or moving a user to another team
 * changes what the very next request may do.
 */
const perRequest = new WeakMap<ActorContext, Promise<Access>>();

export function accessOf(deps: { readonly db: Executor }, ctx: ActorContext): Promise<Access> {
  let access = perRequest.get(ctx);
  if (!access) {
    access = loadAccess(deps.db, ctx);
    perRequest.set(ctx, access);
    // A failed lookup is not remembered: the next call tries again.
    access.catch(() => perRequest.delete(ctx));
  }
  return access;
}

async function loadAccess(db: Executor, ctx: ActorContext): Promise<Access> {
  const principal = ctx.principal;
  if (principal.kind === 'system' || (principal.kind === 'cli' && !principal.actingAs)) return Access.unrestricted();
  // An operator who runs a command `--as` a user gets exactly that user's access.
  const held = principal.kind === 'cli' ? principal.actingAs! : principal;
  if (principal.kind === 'cli' && principal.userId === null) throw new Error('acting as a user needs the user');
  const userId = principal.userId!;
  const roles = held.roles.length === 0 ? [] : ((await (db as unknown as Kysely<any>).selectFrom('roles').select('definition').where('id', 'in', held.roles).execute()) as { definition: string }[]);
  const all = roles.map((r) => JSON.parse(r.definition) as RoleDefinition);
  // A role counts only from its networks: an administrator's rights can be kept to the office.
  // The command line runs on the server itself and has no source address to check.
  const definitions = principal.kind === 'cli' ? all : all.filter((d) => networkAllows(d.networks ?? OPEN_NETWORK, ctx.sourceAddress));
  const teamIds = held.teamId ? await teamAndBelow(db, held.teamId) : [];
  return Access.ofRoles({ userId, teamIds }, definitions, principal.kind === 'token' ? principal.scopes : null, all.length > 0 && definitions.length === 0);
}

/** A team and every team below it, the team first. Teams are few; the whole tree is read. */
async function teamAndBelow(db: Executor, teamId: string): Promise<string[]> {
  const teams = (await (db as unknown as Kysely<any>).selectFrom('teams').select(['id', 'parent_id']).execute()) as { id: string; parent_id: string | null }[];
  const children = new Map<string, string[]>();
  for (const t of teams) if (t.parent_id) children.set(t.parent_id, [...(children.get(t.parent_id) ?? []), t.id]);
  const found = [teamId];
  const seen = new Set(found);
  for (let i = 0; i < found.length; i++) {
    for (const child of children.get(found[i]!) ?? []) {
      if (!seen.has(child)) {
        seen.add(child);
        found.push(child);
      }
    }
  }
  return found;
}

/** Refuses, with `auth.forbidden`, a principal without a system permission. */
export async function requirePermission(deps: { readonly db: Executor }, ctx: ActorContext, permission: Parameters<Access['may']>[0], message: string): Promise<Access> {
  const access = await accessOf(deps, ctx);
  if (!access.may(permission)) throw new AppError('auth.forbidden', message);
  return access;
}
