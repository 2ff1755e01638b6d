import { requirePermission } from '../../data/access.js';
import { recordAudit } from '../../data/audit-trail.js';
import { inTransaction, type DataDeps } from '../../data/record-store.js';
import { requireStepUp } from '../../data/step-up.js';
import type { SessionStage } from '../../db/schema.js';
import { AppError } from '../../shared/errors.js';
import { isId } from '../../shared/ids.js';
import type { ActorContext } from '../../shared/principal.js';
import { describeDevice } from './device.js';

/** A signed-in session as its user (or an administrator) sees it. */
export interface SessionView {
  /** The session's public id: a SHA-256 of its secret, which it cannot be turned back into. */
  id: string;
  /** Whether this is the session the request came with. */
  current: boolean;
  device: string;
  sourceAddress: string | null;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  stage: SessionStage;
}

const SESSION_ID = /^[0-9a-f]{64}$/;

/** The data layer, and the configured idle limit for sessions that keep none of their own. */
export type SessionDeps = DataDeps & { config: { session: { idleMinutes: number } } };

function ownUserId(ctx: ActorContext): string {
  if (ctx.principal.kind !== 'user' && ctx.principal.kind !== 'token') throw new AppError('auth.forbidden', 'This route answers for a user');
  return ctx.principal.userId;
}

function currentSessionId(ctx: ActorContext): string | null {
  return ctx.principal.kind === 'user' ? ctx.principal.sessionId : null;
}

/** The sessions of a user that have not ended: not signed out, revoked, expired or idle too long. */
async function liveSessions(deps: SessionDeps, userId: string, current: string | null): Promise<SessionView[]> {
  const now = deps.clock.now().getTime();
  const rows = await deps.db
    .selectFrom('sessions')
    .select(['id_hash', 'user_agent', 'source_address', 'created_at', 'last_seen_at', 'expires_at', 'stage', 'idle_minutes'])
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', new Date(now).toISOString())
    .orderBy('last_seen_at', 'desc')
    .execute();
  return rows
    .filter((r) => new Date(r.last_seen_at).getTime() + (r.idle_minutes ?? deps.config.session.idleMinutes) * 60_000 > now)
    .map((r) => ({
      id: r.id_hash,
      current: r.id_hash === current,
      device: describeDevice(r.user_agent),
      sourceAddress: r.source_address,
      createdAt: r.created_at,
      lastSeenAt: r.last_seen_at,
      expiresAt: r.expires_at,
      stage: r.stage,
    }));
}

/** The acting user's own sessions, the current one marked. */
export async function listOwnSessions(deps: SessionDeps, ctx: ActorContext): Promise<SessionView[]> {
  return liveSessions(deps, ownUserId(ctx), currentSessionId(ctx));
}

/** Ends one of the acting user's own sessions (a lost laptop, a forgotten browser). */
export async function endOwnSession(deps: SessionDeps, ctx: ActorContext, sessionId: string): Promise<void> {
  const userId = ownUserId(ctx);
  if (!SESSION_ID.test(sessionId)) throw new AppError('request.not_found', 'No such session');
  await inTransaction(deps, async (tx) => {
    const ended = await tx.db.updateTable('sessions').set({ revoked_at: tx.clock.now().toISOString() }).where('id_hash', '=', sessionId).where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst();
    if (Number(ended.numUpdatedRows) !== 1) throw new AppError('request.not_found', 'No such session');
    await recordAudit(tx, ctx, { action: 'auth.session_ended', recordType: 'users', recordIds: [userId], details: { reason: 'ended by its user', sessions: 1 } });
  });
}

/** Ends every session of the acting user but the one the request came with. */
export async function endOtherSessions(deps: SessionDeps, ctx: ActorContext): Promise<{ ended: number }> {
  const userId = ownUserId(ctx);
  const current = currentSessionId(ctx);
  return inTransaction(deps, async (tx) => {
    let query = tx.db.updateTable('sessions').set({ revoked_at: tx.clock.now().toISOString() }).where('user_id', '=', userId).where('revoked_at', 'is', null);
    if (current) query = query.where('id_hash', '!=', current);
    const ended = Number((await query.executeTakeFirst()).numUpdatedRows);
    await recordAudit(tx, ctx, { action: 'auth.session_ended', recordType: 'users', recordIds: [userId], details: { reason: 'other sessions ended by their user', sessions: ended } });
    return { ended };
  });
}

async function requireUser(deps: DataDeps, userId: string): Promise<void> {
  if (!isId(userId) || !(await deps.db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst())) throw new AppError('user.not_found', 'No such user');
}

/** Another user's sessions, for an administrator (`users.manage`). */
export async function listUserSessions(deps: SessionDeps, ctx: ActorContext, userId: string): Promise<SessionView[]> {
  await requirePermission(deps, ctx, 'users.manage', 'Your roles do not allow you to manage users');
  await requireUser(deps, userId);
  return liveSessions(deps, userId, currentSessionId(ctx));
}

/** Ends every session of a user, for an administrator (`users.manage`, with a recent step-up). */
export async function endUserSessions(deps: SessionDeps, ctx: ActorContext, userId: string): Promise<{ ended: number }> {
  await requirePermission(deps, ctx, 'users.manage', 'Your roles do not allow you to manage users');
  await requireStepUp(deps, ctx);
  await requireUser(deps, userId);
  return inTransaction(deps, async (tx) => {
    const ended = Number((await tx.db.updateTable('sessions').set({ revoked_at: tx.clock.now().toISOString() }).where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst()).numUpdatedRows);
    await recordAudit(tx, ctx, { action: 'auth.session_ended', recordType: 'users', recordIds: [userId], details: { reason: 'ended by an administrator', sessions: ended } });
    return { ended };
  });
}
