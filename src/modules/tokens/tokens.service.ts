import { addNotice } from '../notices/notices.service.js';
import { requireStepUp } from '../../data/step-up.js';
import { recordAudit, type AnonymousRequest } from '../../data/audit-trail.js';
import { inTransaction, type DataDeps } from '../../data/record-store.js';
import { tokenAllows } from '../../policy/access.js';
import { AppError } from '../../shared/errors.js';
import { newId, isId } from '../../shared/ids.js';
import type { ActorContext, Principal } from '../../shared/principal.js';
import type { ApiTokensTable } from '../../db/schema.js';
import { accessOf } from '../../data/access.js';
import { hashSecret, newSecret } from '../../shared/secrets.js';
import { getUserById } from '../users/users.service.js';

/**
 * A scope is `<resource>:<read|write>`, or `*:read` / `*:write` for every resource. Scopes only
 * narrow what the token's owner may do; they never add to it.
 */
export const TOKEN_RESOURCES = [
  'companies', 'contacts', 'leads', 'deals', 'pipelines', 'activities', 'tickets', 'tags', 'custom-fields', 'users', 'teams', 'roles', 'tokens', 'search', 'audit', 'alerts', 'detection', 'honeytokens',
  // A resource is the first path segment after /api/v1/ (authentication checks it), or the scope a
  // system permission needs as well (PERMISSION_SCOPE in policy/access.ts).
  'trash', 'bulk-changes', 'approvals', 'exports', 'imports', 'backups', 'keys', 'incidents', 'privacy-requests', 'views', 'notices', 'dashboard', 'settings',
] as const;
const SCOPE = new RegExp(`^(\\*|${TOKEN_RESOURCES.join('|')}):(read|write)$`);
export const DEFAULT_SCOPES = ['*:read', '*:write'];
const MAX_LIFETIME_DAYS = 366;
const DEFAULT_LIFETIME_DAYS = 90;

export interface TokenView {
  id: string;
  userId: string;
  name: string;
  /** The first characters of the token, to tell tokens apart; not enough to use it. */
  prefix: string;
  scopes: string[];
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
  /** Where the token was last used from. */
  lastUsedAddress: string | null;
  revokedAt: string | null;
}

export interface NewToken {
  userId: string;
  name: string;
  scopes?: string[];
  /** ISO date-time, or a lifetime such as `30d`. */
  expires?: string;
}

/** Creates an API token; answers the token once. Users make their own; administrators anyone's. */
export async function createToken(deps: DataDeps, ctx: ActorContext, input: NewToken): Promise<{ token: string; record: TokenView }> {
  await assertMayManage(deps, ctx, input.userId);
  await requireStepUp(deps, ctx);
  const owner = await getUserById(deps, input.userId);
  if (owner.status !== 'active') throw new AppError('user.not_found', 'The user is disabled');
  const name = typeof input.name === 'string' ? input.name.trim() : '';
  if (name.length < 1 || name.length > 100 || /[\u0000-\u001f\u007f]/.test(name) || !name.isWellFormed()) {
    throw new AppError('record.validation_failed', 'The token has invalid fields', [{ field: 'name', message: 'must be 1 to 100 characters of text' }]);
  }
  const scopes = [...new Set(input.scopes ?? DEFAULT_SCOPES)];
  if (scopes.length === 0 || scopes.length > 50 || !scopes.every((s) => typeof s === 'string' && SCOPE.test(s))) {
    throw new AppError('token.invalid_scope', 'Scopes look like contacts:read or *:write', [{ field: 'scopes', message: 'holds an unknown scope' }]);
  }
  const now = deps.clock.now();
  const expiresAt = parseExpiry(input.expires, now);
  const token = newSecret('rpt');
  const id = newId();
  await inTransaction(deps, async (tx) => {
    await tx.db
      .insertInto('api_tokens')
      .values({ id, user_id: owner.id, name, token_hash: hashSecret(token), prefix: token.slice(0, 10), scopes: JSON.stringify(scopes.sort()), created_at: now.toISOString(), expires_at: expiresAt, last_used_at: null, revoked_at: null })
      .execute();
    await recordAudit(tx, ctx, { action: 'token.create', recordType: 'api_tokens', recordIds: [id], fields: ['name', 'scopes', 'expiresAt'], details: { userId: owner.id, scopes, expiresAt } });
  });
  return { token, record: await getToken(deps, id) };
}

export async function listTokens(deps: DataDeps, ctx: ActorContext, userId?: string): Promise<TokenView[]> {
  let qb = deps.db.selectFrom('api_tokens').selectAll().orderBy('created_at', 'desc');
  if (userId !== undefined) {
    await assertMayManage(deps, ctx, userId);
    qb = qb.where('user_id', '=', userId);
  } else if (!(await accessOf(deps, ctx)).may('users.manage')) {
    const own = ctx.principal.kind === 'user' || ctx.principal.kind === 'token' ? ctx.principal.userId : '';
    qb = qb.where('user_id', '=', own);
  }
  return (await qb.execute()).map(presentToken);
}

export async function revokeToken(deps: DataDeps, ctx: ActorContext, id: string): Promise<TokenView> {
  const token = isId(id) ? await deps.db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst() : undefined;
  if (!token) throw new AppError('token.not_found', 'No such token');
  try {
    await assertMayManage(deps, ctx, token.user_id);
  } catch {
    throw new AppError('token.not_found', 'No such token');
  }
  await inTransaction(deps, async (tx) => {
    const revoked = await tx.db.updateTable('api_tokens').set({ revoked_at: tx.clock.now().toISOString() }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    if (Number(revoked.numUpdatedRows) > 0) await recordAudit(tx, ctx, { action: 'token.revoke', recordType: 'api_tokens', recordIds: [id], details: { userId: token.user_id } });
  });
  return getToken(deps, id);
}

/** The principal behind a bearer token, or null when it is unknown, expired, revoked or its user disabled. */
type TokenPrincipal = Extract<Principal, { kind: 'token' }>;

/**
 * Why a token that exists was refused, and whose it is: the refusal the audit log keeps names the
 * user and the reason, so someone still using what was taken away (a revoked token, the token of a
 * disabled or locked account) shows as that user's doing.
 */
export interface TokenRefusal {
  userId: string;
  tokenId: string;
  reason: 'token revoked' | 'account disabled' | 'token expired' | 'account locked';
}

/** A bearer token checked: its principal, or why it was refused (null for a token that does not exist). */
export type TokenCheck = { principal: TokenPrincipal; refusal: null } | { principal: null; refusal: TokenRefusal | null };

/**
 * Checks a bearer token: the principal behind it, or, for a token that exists but may not be
 * used, whose it is and why not (revoked, its user disabled, expired, its user locked, in that
 * order). Each use keeps when and where from (to the minute); the first use from an address the
 * token has never been seen at is written to the audit log as `token.new_address`, the second
 * time onwards that a token turns up somewhere new.
 */
export async function checkToken(deps: DataDeps, raw: string, request: AnonymousRequest | null = null): Promise<TokenCheck> {
  if (typeof raw !== 'string' || raw.length > 200 || !raw.startsWith('rpt_')) return { principal: null, refusal: null };
  const row = await deps.db
    .selectFrom('api_tokens')
    .innerJoin('users', 'users.id', 'api_tokens.user_id')
    .select(['api_tokens.id', 'api_tokens.user_id', 'api_tokens.scopes', 'api_tokens.expires_at', 'api_tokens.revoked_at', 'api_tokens.last_used_at', 'api_tokens.last_used_address', 'users.status', 'users.locked_at'])
    .where('api_tokens.token_hash', '=', hashSecret(raw))
    .executeTakeFirst();
  if (!row) return { principal: null, refusal: null };
  const now = deps.clock.now();
  const refused = (reason: TokenRefusal['reason']): TokenCheck => ({ principal: null, refusal: { userId: row.user_id, tokenId: row.id, reason } });
  if (row.revoked_at !== null) return refused('token revoked');
  if (row.status !== 'active') return refused('account disabled');
  if (new Date(row.expires_at).getTime() <= now.getTime()) return refused('token expired');
  // A locked account's tokens are kept, not revoked: they work again once it is unlocked.
  if (row.locked_at !== null) return refused('account locked');
  const address = request?.sourceAddress ?? null;
  if (!row.last_used_at || now.getTime() - new Date(row.last_used_at).getTime() > 60_000 || (address !== null && address !== row.last_used_address)) {
    await deps.db.updateTable('api_tokens').set({ last_used_at: now.toISOString(), ...(address !== null ? { last_used_address: address } : {}) }).where('id', '=', row.id).execute();
  }
  const user = await getUserById(deps, row.user_id);
  const principal = { kind: 'token' as const, userId: user.id, email: user.email, roles: user.roles, teamId: user.teamId, tokenId: row.id, scopes: JSON.parse(row.scopes) as string[] };
  if (request && address !== null && address !== row.last_used_address) await noteTokenAddress(deps, principal, request, address, now.toISOString());
  return { principal, refusal: null };
}

/**
 * The principal behind a bearer token, or null when it is unknown, expired, revoked or its user
 * disabled; a locked user's token is refused with `auth.account_locked`. `checkToken` also says
 * whose a refused token is and why.
 */
export async function resolveToken(deps: DataDeps, raw: string, request: AnonymousRequest | null = null): Promise<TokenPrincipal | null> {
  const checked = await checkToken(deps, raw, request);
  if (checked.refusal?.reason === 'account locked') throw accountLocked();
  return checked.principal;
}

/** The answer to a locked account's token. */
export function accountLocked(): AppError {
  return new AppError('auth.account_locked', 'The account this token belongs to is locked; someone who handles security alerts can unlock it');
}

async function noteTokenAddress(deps: DataDeps, principal: Extract<Principal, { kind: 'token' }>, request: AnonymousRequest, address: string, now: string): Promise<void> {
  await inTransaction(deps, async (tx) => {
    const seen = await tx.db.selectFrom('token_addresses').select((eb) => eb.fn.countAll().as('n')).where('token_id', '=', principal.tokenId).executeTakeFirstOrThrow();
    const added = await tx.db
      .insertInto('token_addresses')
      .values({ token_id: principal.tokenId, address, first_seen_at: now })
      .onConflict((oc) => oc.columns(['token_id', 'address']).doNothing())
      .executeTakeFirst();
    if (Number(added.numInsertedOrUpdatedRows ?? 0) > 0 && Number(seen.n) > 0) {
      await recordAudit(tx, { principal, channel: request.channel, requestId: request.requestId, sourceAddress: address, userAgent: request.userAgent }, { action: 'token.new_address', recordType: 'api_tokens', recordIds: [principal.tokenId], details: { knownAddresses: Number(seen.n) } });
      const token = await tx.db.selectFrom('api_tokens').select('name').where('id', '=', principal.tokenId).executeTakeFirstOrThrow();
      await addNotice(tx, principal.userId, 'token.new_address', { tokenName: token.name, address });
    }
  });
}

/** Whether a token's scopes allow this kind of access to this resource. */
export const scopeAllows = tokenAllows;

async function getToken(deps: DataDeps, id: string): Promise<TokenView> {
  const row = await deps.db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  return presentToken(row);
}

function presentToken(row: ApiTokensTable): TokenView {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    prefix: row.prefix,
    scopes: JSON.parse(row.scopes) as string[],
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    lastUsedAddress: row.last_used_address,
    revokedAt: row.revoked_at,
  };
}

async function assertMayManage(deps: DataDeps, ctx: ActorContext, userId: string): Promise<void> {
  const p = ctx.principal;
  if ((p.kind === 'user' || p.kind === 'token') && p.userId === userId) return;
  if ((await accessOf(deps, ctx)).may('users.manage')) return;
  throw new AppError('auth.forbidden', 'You may only manage your own tokens');
}

function parseExpiry(raw: string | undefined, now: Date): string {
  const max = now.getTime() + MAX_LIFETIME_DAYS * 86_400_000;
  if (raw === undefined || raw === '') return new Date(now.getTime() + DEFAULT_LIFETIME_DAYS * 86_400_000).toISOString();
  const lifetime = /^(\d{1,3})d$/.exec(raw);
  const at = lifetime ? now.getTime() + Number(lifetime[1]) * 86_400_000 : /^\d{4}-\d{2}-\d{2}/.test(raw) ? new Date(raw).getTime() : Number.NaN;
  if (Number.isNaN(at) || at <= now.getTime() || at > max) {
    throw new AppError('record.validation_failed', `Expiry must be in the future and at most ${MAX_LIFETIME_DAYS} days away`, [{ field: 'expires', message: 'must be like 30d or an ISO date' }]);
  }
  return new Date(at).toISOString();
}

/**
 * Refuses a token whose scopes do not cover `resource`. Authentication checks the resource in the
 * path; routes that read or write other resources too (related lists, conversion, search) call this.
 */
export function requireScope(ctx: ActorContext, resource: string, access: 'read' | 'write'): void {
  if (ctx.principal.kind === 'token' && !scopeAllows(ctx.principal.scopes, resource, access)) {
    throw new AppError('auth.forbidden', `The token's scopes do not allow ${access} access to ${resource}`);
  }
}
