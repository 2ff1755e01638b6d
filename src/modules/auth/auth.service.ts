import { randomBytes } from 'node:crypto';
import type { Config } from '../../config/config.js';
import type { BackgroundWork } from '../../shared/background.js';
import type { Mailer } from '../mail/mailer.js';
import { inTransaction, type DataDeps } from '../../data/record-store.js';
import { AppError } from '../../shared/errors.js';
import type { ActorContext, Principal } from '../../shared/principal.js';
import { recordAnonymousAudit, recordAudit, type AnonymousRequest } from '../../data/audit-trail.js';
import { hashSecret, newSecret } from '../../shared/secrets.js';
import type { SessionStage } from '../../db/schema.js';
import { findUserByEmail, getUserById, lockUser, type UserView } from '../users/users.service.js';
import { hasSecondFactor, MFA_ATTEMPTS, reserveSecondFactorAttempt, rolesRequireMfa, spendSecondFactor, type SecondFactorProof } from '../mfa/mfa.service.js';
import { verifyAgainstNothing, verifyPassword } from './passwords.js';
import { assertionOptions, relyingPartyOf, verifyAssertion } from '../mfa/passkeys.js';
import { browserFamily } from '../sessions/device.js';
import { addNotice, noteSignInPlace } from '../notices/notices.service.js';
import { applySsoEffects, type SsoEffects } from '../sso/sso-link.js';
import type { RoleDefinition } from '../../policy/model.js';
import { checkSignInAllowed, clearSignInFailures, recordSignInFailure, signInAccountKey, unlockSignIn } from './sign-in-throttle.js';
import { requirePermission } from '../../data/access.js';
import { isId } from '../../shared/ids.js';

export interface AuthDeps extends DataDeps {
  readonly config: Config;
  /** Sends password links and notices. */
  readonly mailer: Mailer;
  /** Work started by a request that its answer does not wait for. */
  readonly background: BackgroundWork;
}

export interface LoginResult {
  /** The raw session secret for the cookie; the database holds only its hash. */
  sessionToken: string;
  csrfToken: string;
  user: UserView;
  expiresAt: string;
  /** `mfa`: send a second factor next; `enrol`: set one up next; `active`: signed in. */
  stage: SessionStage;
}

export interface SessionInfo {
  principal: Extract<Principal, { kind: 'user' }>;
  csrfToken: string;
  user: UserView;
  stage: SessionStage;
}

const LAST_SEEN_RESOLUTION_MS = 60_000;
/** A session that has passed the password but not yet the second factor lasts this long at most. */
const PARTIAL_SESSION_MS = 10 * 60_000;

/**
 * Checks an email and password and starts a session. The answer for a wrong password, an unknown
 * email and a disabled account is the same, and takes the same time.
 */
export async function login(deps: AuthDeps, input: { email: string; password: string }, request: AnonymousRequest): Promise<LoginResult> {
  const invalid = new AppError('auth.invalid_credentials', 'The email or password is wrong');
  const accountKey = signInAccountKey(typeof input.email === 'string' ? input.email.slice(0, 254) : '');
  await checkSignInAllowed(deps, accountKey, request.sourceAddress);
  // The log keeps why a sign-in failed and whose account it was tried on, never the email typed.
  const failed = async (userId: string | null, reason: string): Promise<never> => {
    await inTransaction(deps, async (tx) => {
      const lockedNow = await recordSignInFailure(tx, accountKey, request.sourceAddress);
      await recordAnonymousAudit(tx, request, { action: 'auth.login_failed', outcome: 'failure', actorId: userId, details: { reason, ...(lockedNow ? { locked: true } : {}) } });
      if (lockedNow && userId) await addNotice(tx, userId, 'sign_in.locked', { permanent: true });
    });
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
  return startSession(deps, user, request, { stage: await stageAfterPassword(deps, user), checkedHash: row.password_hash });
}

/** Where a sign-in stands once the password is right: the second factor, setting one up, or done. */
export async function stageAfterPassword(deps: AuthDeps, user: UserView): Promise<SessionStage> {
  if (await hasSecondFactor(deps, user.id)) return 'mfa';
  return (await rolesRequireMfa(deps.db, user.roles)) ? 'enrol' : 'active';
}

export interface SessionStart {
  stage?: SessionStage;
  /** A second factor was checked now… */
  proved?: boolean;
  /** …or at this time, elsewhere (a single sign-on provider's, when it counts). */
  mfaAt?: string;
  /** How the first step was passed, for the audit entry of a partial session. */
  firstFactor?: 'password' | 'sso';
  /**
   * The password hash the sign-in was checked against: a password changed or reset since then
   * (while the check ran) refuses the session, as the change ended every other one.
   */
  checkedHash?: string;
  /** A single sign-on's changes to the account, kept on a partial session until it completes. */
  ssoPending?: SsoEffects;
}

/**
 * Starts a session at a stage: `active` when the sign-in is complete, or a short-lived partial
 * session that only the second-factor routes accept.
 */
export async function startSession(deps: AuthDeps, user: UserView, request: AnonymousRequest, options: SessionStart = {}): Promise<LoginResult> {
  // Every way of signing in ends here once its credentials were checked, so a locked account is
  // told so only to someone who proved they hold it.
  const lock = await deps.db.selectFrom('users').select('locked_at').where('id', '=', user.id).executeTakeFirst();
  if (lock?.locked_at) throw accountLocked();
  const { sourceAddress, userAgent } = request;
  const stage = options.stage ?? 'active';
  const now = deps.clock.now();
  if (stage === 'active') await clearSignInFailures(deps, signInAccountKey(user.email));
  const sessionToken = newSecret('rps');
  const csrfToken = randomBytes(32).toString('base64url');
  const limits = await sessionLimitsOf(deps, user.roles);
  const lifetime = stage === 'active' ? limits.absoluteHours * 3_600_000 : PARTIAL_SESSION_MS;
  const expiresAt = new Date(now.getTime() + lifetime).toISOString();
  await inTransaction(deps, async (tx) => {
    await lockUser(tx, user.id);
    if (options.checkedHash !== undefined) {
      const current = await tx.db.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirst();
      if (current?.password_hash !== options.checkedHash) throw new AppError('auth.invalid_credentials', 'The email or password is wrong');
    }
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
        browser: browserFamily(userAgent),
        idle_minutes: limits.idleMinutes,
        stage,
        mfa_at: options.proved ? now.toISOString() : (options.mfaAt ?? null),
        mfa_attempts: 0,
        sso_pending: stage !== 'active' && options.ssoPending ? JSON.stringify(options.ssoPending) : null,
      })
      .execute();
    if (stage === 'active') {
      await tx.db.updateTable('users').set({ last_login_at: now.toISOString() }).where('id', '=', user.id).execute();
      await noteSignInPlace(tx, user.id, request);
    }
    const action = stage === 'active' ? 'auth.login' : `auth.${options.firstFactor ?? 'password'}_accepted`;
    await recordAudit(tx, sessionContext(user, hashSecret(sessionToken), request), { action, details: { expiresAt, ...(stage !== 'active' ? { next: stage } : {}), ...(options.proved ? { secondFactor: true } : {}) } });
  });
  return { sessionToken, csrfToken, user, expiresAt, stage };
}

/**
 * Completes a sign-in that waits for its second factor. The partial session ends either way it
 * goes: on success a new session, with a new secret, takes its place; after five wrong codes it
 * is simply over and the sign-in starts again from the password.
 */
export async function completeSecondFactor(deps: AuthDeps, sessionToken: string, proof: SecondFactorProof, request: AnonymousRequest): Promise<LoginResult> {
  const session = await resolveSession(deps, sessionToken, request);
  if (!session) throw new AppError('auth.session_expired', 'Your sign-in has expired; sign in again');
  if (session.stage !== 'mfa') throw new AppError('auth.forbidden', 'This session is not waiting for a second factor');
  const ctx = sessionContext(session.user, session.principal.sessionId, request);
  // Wrong codes count against the account like wrong passwords: knowing the password buys no
  // more guesses at the code.
  const accountKey = signInAccountKey(session.user.email);
  await checkSignInAllowed(deps, accountKey, request.sourceAddress);
  const attempt = await reserveSecondFactorAttempt(deps, session.principal.sessionId, 'mfa');
  if (attempt === null) throw new AppError('auth.session_expired', 'Too many wrong codes; sign in again');
  // The half-signed-in session ends with the code that completes it, exactly once, and the full
  // one starts in the same transaction: a password reset either ends the first or sees the second.
  const completed = await inTransaction(deps, async (tx) => {
    await lockUser(tx, session.user.id);
    const spent = await spendSecondFactor(tx, session.user.id, proof, { rp: relyingPartyOf(deps.config.publicUrl), sessionId: session.principal.sessionId });
    if (!spent) return null;
    if (!(await endSession(tx, session.principal.sessionId))) throw new AppError('auth.session_expired', 'Your sign-in has expired; sign in again');
    return startSession(tx, await withSsoEffects(tx, session.principal.sessionId, session.user, request), request, { stage: 'active', proved: true });
  });
  if (!completed) {
    const sessionEnded = attempt >= MFA_ATTEMPTS;
    await inTransaction(deps, async (tx) => {
      if (sessionEnded) await endSession(tx, session.principal.sessionId);
      const lockedNow = await recordSignInFailure(tx, accountKey, request.sourceAddress);
      if (lockedNow) await addNotice(tx, session.user.id, 'sign_in.locked', { permanent: true });
      await recordAudit(tx, ctx, {
        action: 'auth.mfa_failed',
        outcome: 'failure',
        recordType: 'users',
        recordIds: [session.user.id],
        details: { attempt, sessionEnded, ...(lockedNow ? { locked: true } : {}) },
      });
    });
    if (sessionEnded) throw new AppError('auth.session_expired', 'Too many wrong codes; sign in again');
    throw new AppError('auth.mfa_invalid', 'The code is wrong, expired or already used');
  }
  return completed;
}

/**
 * Ends a session that had to set up a second factor, once it has, and starts a full one in its
 * place with a new secret.
 */
export async function completeEnrolment(deps: AuthDeps, sessionId: string, request: AnonymousRequest): Promise<LoginResult | null> {
  const row = await deps.db.selectFrom('sessions').select(['user_id', 'stage']).where('id_hash', '=', sessionId).where('revoked_at', 'is', null).executeTakeFirst();
  if (!row || row.stage !== 'enrol') return null;
  return inTransaction(deps, async (tx) => {
    await lockUser(tx, row.user_id);
    if (!(await endSession(tx, sessionId))) return null;
    return startSession(tx, await withSsoEffects(tx, sessionId, await getUserById(tx, row.user_id), request), request, { stage: 'active', proved: true });
  });
}

/** The user once what a single sign-on left waiting on the partial session is applied. */
async function withSsoEffects(tx: DataDeps, sessionId: string, user: UserView, request: AnonymousRequest): Promise<UserView> {
  const row = await tx.db.selectFrom('sessions').select('sso_pending').where('id_hash', '=', sessionId).executeTakeFirst();
  return row?.sso_pending ? applySsoEffects(tx, user.id, JSON.parse(row.sso_pending) as SsoEffects, request) : user;
}

/** An account that detection or a person who handles alerts has locked until they unlock it. */
export function accountLocked(): AppError {
  return new AppError('auth.account_locked', 'This account is locked; someone who handles security alerts can unlock it');
}

/** Ends a session that has not ended yet; answers whether this call ended it. */
async function endSession(deps: DataDeps, sessionId: string): Promise<boolean> {
  const ended = await deps.db.updateTable('sessions').set({ revoked_at: deps.clock.now().toISOString() }).where('id_hash', '=', sessionId).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(ended.numUpdatedRows) === 1;
}

/**
 * The session behind a cookie value, or null when it is unknown, expired, idle too long, revoked
 * or its user disabled. Given the request, a cookie that arrives from another browser family than
 * the one the session started in ends the session: it was most likely copied.
 */
export async function resolveSession(deps: AuthDeps, sessionToken: string, request?: AnonymousRequest): Promise<SessionInfo | null> {
  if (typeof sessionToken !== 'string' || sessionToken.length > 200) return null;
  const idHash = hashSecret(sessionToken);
  const row = await deps.db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['sessions.user_id', 'sessions.csrf_token', 'sessions.last_seen_at', 'sessions.expires_at', 'sessions.revoked_at', 'sessions.stage', 'sessions.browser', 'sessions.idle_minutes', 'users.status', 'users.locked_at'])
    .where('sessions.id_hash', '=', idHash)
    .executeTakeFirst();
  if (!row || row.revoked_at !== null || row.status !== 'active') return null;
  if (row.locked_at !== null) throw accountLocked();
  const now = deps.clock.now().getTime();
  const idleLimit = new Date(row.last_seen_at).getTime() + (row.idle_minutes ?? deps.config.session.idleMinutes) * 60_000;
  if (now >= new Date(row.expires_at).getTime() || now >= idleLimit) return null;
  if (request && row.browser !== null && browserFamily(request.userAgent) !== row.browser) {
    const user = await getUserById(deps, row.user_id);
    await inTransaction(deps, async (tx) => {
      if (await endSession(tx, idHash)) {
        await recordAudit(tx, sessionContext(user, idHash, request), { action: 'auth.session_ended', outcome: 'denied', recordType: 'users', recordIds: [user.id], details: { reason: 'browser changed', from: row.browser, to: browserFamily(request.userAgent) } });
      }
    });
    return null;
  }
  if (now - new Date(row.last_seen_at).getTime() > LAST_SEEN_RESOLUTION_MS) {
    await deps.db.updateTable('sessions').set({ last_seen_at: new Date(now).toISOString() }).where('id_hash', '=', idHash).execute();
  }
  const user = await getUserById(deps, row.user_id);
  return {
    principal: { kind: 'user', userId: user.id, email: user.email, roles: user.roles, teamId: user.teamId, sessionId: idHash },
    csrfToken: row.csrf_token,
    user,
    stage: row.stage,
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
export function sessionContext(user: UserView, sessionId: string, request: AnonymousRequest): ActorContext {
  return {
    principal: { kind: 'user', userId: user.id, email: user.email, roles: user.roles, teamId: user.teamId, sessionId },
    channel: 'web',
    requestId: request.requestId,
    sourceAddress: request.sourceAddress,
    userAgent: request.userAgent,
  };
}

/**
 * Lifts the sign-in lock of a user (a hundred failures in a row) and forgets their failures.
 * Needs `users.manage`; from the server's command line, the operator may do it for anyone.
 */
export async function unlockSignInOf(deps: DataDeps, ctx: ActorContext, userId: string): Promise<{ unlocked: boolean }> {
  await requirePermission(deps, ctx, 'users.manage', 'Your roles do not allow you to manage users');
  const user = isId(userId) ? await deps.db.selectFrom('users').select(['id', 'email']).where('id', '=', userId).executeTakeFirst() : undefined;
  if (!user) throw new AppError('user.not_found', 'No such user');
  return inTransaction(deps, async (tx) => {
    const unlocked = await unlockSignIn(tx, signInAccountKey(user.email));
    await recordAudit(tx, ctx, { action: 'auth.unlock', recordType: 'users', recordIds: [user.id], details: { hadFailures: unlocked } });
    return { unlocked };
  });
}

/** A challenge for signing in with a passkey alone: whoever's passkey answers it. */
export async function passkeySignInOptions(deps: AuthDeps) {
  return assertionOptions(deps, relyingPartyOf(deps.config.publicUrl), { purpose: 'sign-in' });
}

/**
 * Signs in with a passkey alone: it proves a device the user holds and, with user verification,
 * something they know or are, so the session starts complete. Refusals count against the
 * address (and the passkey's account, when it has one) like wrong passwords.
 */
export async function signInWithPasskey(deps: AuthDeps, input: { challengeId: unknown; response: unknown }, request: AnonymousRequest): Promise<LoginResult> {
  const credentialId = typeof (input.response as { id?: unknown } | null)?.id === 'string' ? String((input.response as { id: string }).id).slice(0, 1024) : '';
  const owner = credentialId ? await deps.db.selectFrom('passkeys').innerJoin('users', 'users.id', 'passkeys.user_id').select(['users.id', 'users.email']).where('passkeys.id', '=', credentialId).executeTakeFirst() : undefined;
  const accountKey = signInAccountKey(owner?.email ?? `passkey:${credentialId}`);
  await checkSignInAllowed(deps, accountKey, request.sourceAddress);
  const proved = await verifyAssertion(deps, relyingPartyOf(deps.config.publicUrl), { purpose: 'sign-in' }, input).catch((error: unknown) => {
    if (error instanceof AppError) return null;
    throw error;
  });
  const user = proved ? await getUserById(deps, proved.userId) : undefined;
  if (!proved || !user || user.status !== 'active') {
    await inTransaction(deps, async (tx) => {
      const lockedNow = await recordSignInFailure(tx, accountKey, request.sourceAddress);
      await recordAnonymousAudit(tx, request, { action: 'auth.login_failed', outcome: 'failure', actorId: owner?.id ?? null, details: { reason: proved ? 'account disabled' : 'passkey refused', ...(lockedNow ? { locked: true } : {}) } });
      if (lockedNow && owner) await addNotice(tx, owner.id, 'sign_in.locked', { permanent: true });
    });
    throw new AppError('auth.invalid_credentials', 'The passkey was not accepted');
  }
  return startSession(deps, user, request, { stage: 'active', proved: true });
}

/** The session limits of a user: the configured ones, shortened by the strictest of their roles. */
export async function sessionLimitsOf(deps: AuthDeps, roleIds: readonly string[]): Promise<{ idleMinutes: number; absoluteHours: number }> {
  const rows = roleIds.length === 0 ? [] : await deps.db.selectFrom('roles').select('definition').where('id', 'in', [...roleIds]).execute();
  let { idleMinutes, absoluteHours } = deps.config.session;
  for (const row of rows) {
    const limits = (JSON.parse(row.definition) as RoleDefinition).session;
    if (limits?.idleMinutes) idleMinutes = Math.min(idleMinutes, limits.idleMinutes);
    if (limits?.absoluteHours) absoluteHours = Math.min(absoluteHours, limits.absoluteHours);
  }
  return { idleMinutes, absoluteHours };
}
