import { randomBytes } from 'node:crypto';
import type { Config } from '../../config/config.js';
import { inTransaction, type DataDeps } from '../../data/record-store.js';
import { AppError } from '../../shared/errors.js';
import type { ActorContext, Principal } from '../../shared/principal.js';
import { recordAnonymousAudit, recordAudit, type AnonymousRequest } from '../../data/audit-trail.js';
import { hashSecret, newSecret } from '../../shared/secrets.js';
import { findUserByEmail, getUserById, type UserView } from '../users/users.service.js';
import { verifyAgainstNothing, verifyPassword } from './passwords.js';

export interface AuthDeps extends DataDeps {
  readonly config: Config;
}

export interface LoginResult {
  /** The raw session secret for the cookie; the database holds only its hash. */
  sessionToken: string;
  csrfToken: string;
  user: UserView;
  expiresAt: string;
}

export interface SessionInfo {
  principal: Extract<Principal, { kind: 'user' }>;
  csrfToken: string;
  user: UserView;
}

const LAST_SEEN_RESOLUTION_MS = 60_000;

/**
 * Checks an email and password and starts a session. The answer for a wrong password, an unknown
 * email and a disabled account is the same, and takes the same time.
 */
export async function login(deps: AuthDeps, input: { email: string; password: string }, request: AnonymousRequest): Promise<LoginResult> {
  const invalid = new AppError('auth.invalid_credentials', 'The email or password is wrong');
  // The log keeps why a sign-in failed and whose account it was tried on, never the email typed.
  const failed = async (userId: string | null, reason: string): Promise<never> => {
    await recordAnonymousAudit(deps, request, { action: 'auth.login_failed', outcome: 'failure', actorId: userId, details: { reason } });
    throw invalid;
  };
  const user = typeof input.email === 'string' && input.email.length <= 254 ? await findUserByEmail(deps, input.email) : undefined;
  const row = user ? await deps.db.selectFrom('users').select(['password_hash', 'status']).where('id', '=', user.id).executeTakeFirst() : undefined;
  if (!user || !row?.password_hash || typeof input.password !== 'string' || input.password.length > 1024) {
    await verifyAgainstNothing(typeof input.password === 'string' ? input.password.slice(0, 1024) : '');
    return failed(user?.id ?? null, user ? 'no password' : 'unknown account');
  }
  const ok = await verifyPassword(row.password_hash, input.password);
  if (!ok) return failed(user.id, 'wrong password');
  if (row.status !== 'active') return failed(user.id, 'account disabled');
  return startSession(deps, user, request);
}

export async function startSession(deps: AuthDeps, user: UserView, request: AnonymousRequest): Promise<LoginResult> {
  const { sourceAddress, userAgent } = request;
  const now = deps.clock.now();
  const sessionToken = newSecret('rps');
  const csrfToken = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + deps.config.session.absoluteHours * 3_600_000).toISOString();
  await inTransaction(deps, async (tx) => {
    await tx.db
      .insertInto('sessions')
      .values({
        id_hash: hashSecret(sessionToken),
        user_id: user.id,
        csrf_token: csrfToken,
        created_at: now.toISOString(),
        last_seen_at: now.toISOString(),
        expires_at: expiresAt,
        source_address: sourceAddress,
        user_agent: userAgent?.slice(0, 500) ?? null,
        revoked_at: null,
      })
      .execute();
    await tx.db.updateTable('users').set({ last_login_at: now.toISOString() }).where('id', '=', user.id).execute();
    await recordAudit(tx, sessionContext(user, hashSecret(sessionToken), request), { action: 'auth.login', details: { expiresAt } });
  });
  return { sessionToken, csrfToken, user, expiresAt };
}

/** The session behind a cookie value, or null when it is unknown, expired, revoked or its user disabled. */
export async function resolveSession(deps: AuthDeps, sessionToken: string): Promise<SessionInfo | null> {
  if (typeof sessionToken !== 'string' || sessionToken.length > 200) return null;
  const idHash = hashSecret(sessionToken);
  const row = await deps.db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['sessions.user_id', 'sessions.csrf_token', 'sessions.last_seen_at', 'sessions.expires_at', 'sessions.revoked_at', 'users.status'])
    .where('sessions.id_hash', '=', idHash)
    .executeTakeFirst();
  if (!row || row.revoked_at !== null || row.status !== 'active') return null;
  const now = deps.clock.now().getTime();
  const idleLimit = new Date(row.last_seen_at).getTime() + deps.config.session.idleMinutes * 60_000;
  if (now >= new Date(row.expires_at).getTime() || now >= idleLimit) return null;
  if (now - new Date(row.last_seen_at).getTime() > LAST_SEEN_RESOLUTION_MS) {
    await deps.db.updateTable('sessions').set({ last_seen_at: new Date(now).toISOString() }).where('id_hash', '=', idHash).execute();
  }
  const user = await getUserById(deps, row.user_id);
  return {
    principal: { kind: 'user', userId: user.id, email: user.email, roles: user.roles, teamId: user.teamId, sessionId: idHash },
    csrfToken: row.csrf_token,
    user,
  };
}

export async function logout(deps: AuthDeps, ctx: ActorContext, sessionToken: string): Promise<void> {
  await inTransaction(deps, async (tx) => {
    const ended = await tx.db
      .updateTable('sessions')
      .set({ revoked_at: tx.clock.now().toISOString() })
      .where('id_hash', '=', hashSecret(sessionToken))
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (Number(ended.numUpdatedRows) > 0) await recordAudit(tx, ctx, { action: 'auth.logout' });
  });
}

/** The acting context of a session that is just starting, for its own entry. */
function sessionContext(user: UserView, sessionId: string, request: AnonymousRequest): ActorContext {
  return {
    principal: { kind: 'user', userId: user.id, email: user.email, roles: user.roles, teamId: user.teamId, sessionId },
    channel: 'web',
    requestId: request.requestId,
    sourceAddress: request.sourceAddress,
    userAgent: request.userAgent,
  };
}
