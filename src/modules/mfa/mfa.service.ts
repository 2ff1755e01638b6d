import { randomInt } from 'node:crypto';
import type { Kysely } from 'kysely';
import { mfaSecretAad } from '../../crypto/keyring.js';
import { requirePermission } from '../../data/access.js';
import { recordAudit } from '../../data/audit-trail.js';
import { inTransaction, type DataDeps } from '../../data/record-store.js';
import { requireStepUp, STEP_UP_WINDOW_MS } from '../../data/step-up.js';
import type { DatabaseSchema, SessionStage } from '../../db/schema.js';
import type { RoleDefinition } from '../../policy/model.js';
import { AppError } from '../../shared/errors.js';
import { newId, isId } from '../../shared/ids.js';
import type { ActorContext } from '../../shared/principal.js';
import { hashSecret } from '../../shared/secrets.js';
import { acceptedStep, newTotpSecret, totpUri } from './totp.js';
import { assertionOptions, listPasskeys, registerPasskey, registrationOptions, verifyAssertion, type PasskeyView, type RelyingParty } from './passkeys.js';
import { checkSignInAllowed, recordSignInFailure, signInAccountKey } from '../auth/sign-in-throttle.js';
import { verifyPassword } from '../auth/passwords.js';
import { addNotice } from '../notices/notices.service.js';
import { lockUser } from '../users/users.service.js';
import { currentLockdown } from '../detection/containment.service.js';

export const RECOVERY_CODE_COUNT = 10;
/** Second-factor codes one session may try, right or wrong, before it is ended. */
export const MFA_ATTEMPTS = 5;
const ISSUER = 'Rampart';
// Recovery codes: ten characters from an alphabet without look-alikes (no 0/o, 1/l/i), 50 bits each.
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

/**
 * What a user proves a second factor with: a code from the authenticator app, a recovery code, or
 * a passkey's answer to a challenge from `POST /api/v1/auth/passkeys/challenge`.
 */
export interface SecondFactorProof {
  code?: string;
  recoveryCode?: string;
  passkey?: { challengeId: string; response: unknown };
}

/** Where a passkey answer is checked: this site, and the session the challenge was made for. */
export interface PasskeyBinding {
  rp: RelyingParty;
  sessionId: string;
}

export interface MfaStatus {
  /** Whether one of the user's roles requires a second factor. */
  required: boolean;
  totp: { id: string; label: string; createdAt: string; lastUsedAt: string | null }[];
  passkeys: PasskeyView[];
  recoveryCodesLeft: number;
}

export interface TotpEnrolment {
  factorId: string;
  /** Base32, for typing into an authenticator app by hand. */
  secret: string;
  /** The `otpauth://` address to show as a QR code. */
  uri: string;
}

function sessionUser(ctx: ActorContext): { userId: string; sessionId: string } {
  if (ctx.principal.kind !== 'user') throw new AppError('auth.forbidden', 'Second factors are managed from a signed-in browser session');
  return { userId: ctx.principal.userId, sessionId: ctx.principal.sessionId };
}

/**
 * Takes one of a session's second-factor attempts, atomically, so that requests racing with
 * guesses get five between them; answers the attempt's number, or null when none is left.
 */
export async function reserveSecondFactorAttempt(deps: DataDeps, sessionId: string, stage: SessionStage): Promise<number | null> {
  const taken = await deps.db
    .updateTable('sessions')
    .set((eb) => ({ mfa_attempts: eb('mfa_attempts', '+', 1) }))
    .where('id_hash', '=', sessionId)
    .where('stage', '=', stage)
    .where('revoked_at', 'is', null)
    .where('mfa_attempts', '<', MFA_ATTEMPTS)
    .returning('mfa_attempts')
    .executeTakeFirst();
  return taken ? Number(taken.mfa_attempts) : null;
}

async function sessionStage(deps: DataDeps, sessionId: string): Promise<SessionStage> {
  const row = await deps.db.selectFrom('sessions').select('stage').where('id_hash', '=', sessionId).executeTakeFirst();
  if (!row) throw new AppError('auth.session_expired', 'Your session has ended; sign in again');
  return row.stage;
}

/** Whether any of these roles requires its holders to use a second factor. */
export async function rolesRequireMfa(db: Kysely<DatabaseSchema>, roleIds: readonly string[]): Promise<boolean> {
  if (roleIds.length === 0) return false;
  const rows = await db.selectFrom('roles').select('definition').where('id', 'in', [...roleIds]).execute();
  return rows.some((r) => (JSON.parse(r.definition) as RoleDefinition).mfaRequired === true);
}

export async function hasSecondFactor(deps: DataDeps, userId: string): Promise<boolean> {
  return (await factorCount(deps, userId)) > 0;
}

/** Authenticator apps in use and passkeys, together. */
async function factorCount(deps: DataDeps, userId: string): Promise<number> {
  const apps = await deps.db.selectFrom('mfa_factors').select((eb) => eb.fn.countAll().as('n')).where('user_id', '=', userId).where('confirmed_at', 'is not', null).executeTakeFirstOrThrow();
  const keys = await deps.db.selectFrom('passkeys').select((eb) => eb.fn.countAll().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow();
  return Number(apps.n) + Number(keys.n);
}

/** The second factors of the acting user; a session still waiting for its second factor is told nothing. */
export async function mfaStatusOf(deps: DataDeps, ctx: ActorContext): Promise<MfaStatus> {
  const { principal } = ctx;
  if (principal.kind !== 'user' && principal.kind !== 'token') throw new AppError('auth.forbidden', 'This route answers for a user');
  if (principal.kind === 'user' && (await sessionStage(deps, principal.sessionId)) === 'mfa') throw new AppError('auth.mfa_required', 'Finish signing in with your second factor first');
  return mfaStatus(deps, principal.userId, principal.roles);
}

export async function mfaStatus(deps: DataDeps, userId: string, roles: readonly string[]): Promise<MfaStatus> {
  const factors = await deps.db
    .selectFrom('mfa_factors')
    .select(['id', 'label', 'created_at', 'last_used_at'])
    .where('user_id', '=', userId)
    .where('confirmed_at', 'is not', null)
    .orderBy('created_at')
    .execute();
  const left = await deps.db.selectFrom('recovery_codes').select((eb) => eb.fn.countAll().as('n')).where('user_id', '=', userId).where('used_at', 'is', null).executeTakeFirst();
  return {
    required: await rolesRequireMfa(deps.db as Kysely<DatabaseSchema>, roles),
    totp: factors.map((f) => ({ id: f.id, label: f.label, createdAt: f.created_at, lastUsedAt: f.last_used_at })),
    passkeys: await listPasskeys(deps, userId),
    recoveryCodesLeft: Number(left?.n ?? 0),
  };
}

/**
 * Checks a second factor of a user and spends it: a TOTP code only if its time step comes after
 * the last one the factor accepted, a recovery code once, a passkey answer to its one challenge.
 * Answers how it was proved, or null.
 */
export async function spendSecondFactor(deps: DataDeps, userId: string, proof: SecondFactorProof, binding: PasskeyBinding | null): Promise<'totp' | 'recovery' | 'passkey' | null> {
  const now = deps.clock.now();
  if (proof.passkey !== undefined) {
    if (!binding) return null;
    const proved = await verifyAssertion(deps, binding.rp, { purpose: 'verify', userId, sessionId: binding.sessionId }, proof.passkey);
    return proved?.userId === userId ? 'passkey' : null;
  }
  if (typeof proof.code === 'string') {
    const code = proof.code.replace(/\s+/g, '');
    const factors = await deps.db
      .selectFrom('mfa_factors')
      .select(['id', 'kek_id', 'secret_wrapped', 'last_step'])
      .where('user_id', '=', userId)
      .where('confirmed_at', 'is not', null)
      .execute();
    for (const factor of factors) {
      const secret = await unwrapSecret(deps, factor.id, factor.kek_id, factor.secret_wrapped);
      const lastStep = factor.last_step === null ? null : Number(factor.last_step);
      const step = await acceptedStep(secret, code, Math.floor(now.getTime() / 1000), lastStep);
      if (step === null) continue;
      // Only one request can move the step forward: a code raced from two places works once.
      const moved = await deps.db
        .updateTable('mfa_factors')
        .set({ last_step: step, last_used_at: now.toISOString() })
        .where('id', '=', factor.id)
        .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) === 1) return 'totp';
    }
    return null;
  }
  if (typeof proof.recoveryCode === 'string') {
    const normal = normaliseRecoveryCode(proof.recoveryCode);
    if (normal === null) return null;
    const spent = await deps.db
      .updateTable('recovery_codes')
      .set({ used_at: now.toISOString() })
      .where('code_hash', '=', recoveryCodeHash(userId, normal))
      .where('user_id', '=', userId)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(spent.numUpdatedRows) === 1 ? 'recovery' : null;
  }
  return null;
}

/**
 * Proves a second factor again within a session, for the operations that ask for a recent one.
 * Wrong codes count against the account like wrong sign-ins, and five attempts end the session:
 * whoever holds a stolen session gets no more guesses than someone at the sign-in page.
 */
export async function stepUp(deps: DataDeps, ctx: ActorContext, rp: RelyingParty, proof: SecondFactorProof): Promise<{ validUntil: string }> {
  const { userId, sessionId } = sessionUser(ctx);
  const user = await deps.db.selectFrom('users').select('email').where('id', '=', userId).executeTakeFirstOrThrow();
  const accountKey = signInAccountKey(user.email);
  await checkSignInAllowed(deps, accountKey, ctx.sourceAddress);
  const attempt = await reserveSecondFactorAttempt(deps, sessionId, 'active');
  if (attempt === null) throw new AppError('auth.session_expired', 'Too many wrong codes; sign in again');
  const validUntil = await inTransaction(deps, async (tx) => {
    const method = await spendSecondFactor(tx, userId, proof, { rp, sessionId });
    if (!method) return null;
    const now = tx.clock.now();
    await tx.db.updateTable('sessions').set({ mfa_at: now.toISOString(), mfa_attempts: 0 }).where('id_hash', '=', sessionId).execute();
    await recordAudit(tx, ctx, { action: 'auth.step_up', recordType: 'users', recordIds: [userId], details: { method } });
    return new Date(now.getTime() + STEP_UP_WINDOW_MS).toISOString();
  });
  if (validUntil) return { validUntil };
  const sessionEnded = attempt >= MFA_ATTEMPTS;
  await inTransaction(deps, async (tx) => {
    if (sessionEnded) await tx.db.updateTable('sessions').set({ revoked_at: tx.clock.now().toISOString() }).where('id_hash', '=', sessionId).where('revoked_at', 'is', null).execute();
    const lockedNow = await recordSignInFailure(tx, accountKey, ctx.sourceAddress);
    if (lockedNow) await addNotice(tx, userId, 'sign_in.locked', { permanent: true });
    await recordAudit(tx, ctx, { action: 'auth.step_up', outcome: 'failure', recordType: 'users', recordIds: [userId], details: { attempt, sessionEnded, ...(lockedNow ? { locked: true } : {}) } });
  });
  if (sessionEnded) throw new AppError('auth.session_expired', 'Too many wrong codes; sign in again');
  throw new AppError('auth.mfa_invalid', 'The code is wrong, expired or already used');
}

/**
 * Starts setting up an authenticator app: a new secret, not yet in use until `confirmTotp` sees a
 * code made from it. A session that has only passed the password may not add a factor; one whose
 * user already has a factor must have proved it recently.
 */
export async function startTotpEnrolment(deps: DataDeps, ctx: ActorContext, input: { label?: unknown; password?: unknown }): Promise<TotpEnrolment> {
  const { userId } = await mayAddFactor(deps, ctx, input.password);
  const label = input.label;
  const name = typeof label === 'string' && label.trim().length > 0 ? label.trim().slice(0, 100) : 'Authenticator app';
  const user = await deps.db.selectFrom('users').select('email').where('id', '=', userId).executeTakeFirstOrThrow();
  const secret = newTotpSecret();
  const factorId = newId();
  const { kekId, wrapped } = await deps.keyring.kek.wrap(Buffer.from(secret), mfaSecretAad(factorId));
  const now = deps.clock.now().toISOString();
  await inTransaction(deps, async (tx) => {
    // One enrolment at a time: an abandoned one is replaced.
    await tx.db.deleteFrom('mfa_factors').where('user_id', '=', userId).where('confirmed_at', 'is', null).execute();
    await tx.db
      .insertInto('mfa_factors')
      .values({ id: factorId, user_id: userId, kind: 'totp', label: name, kek_id: kekId, secret_wrapped: wrapped.toString('base64'), last_step: null, created_at: now, confirmed_at: null, last_used_at: null })
      .execute();
  });
  return { factorId, secret, uri: totpUri(secret, ISSUER, user.email) };
}

/**
 * Who may add a second factor from this session: one that has passed only the password never
 * adds a factor to an account that has one; a full session adds a first factor with the current
 * password (whoever borrowed the session must know it too), a further one after a step-up.
 */
async function mayAddFactor(deps: DataDeps, ctx: ActorContext, password: unknown): Promise<{ userId: string; sessionId: string }> {
  const { userId, sessionId } = sessionUser(ctx);
  const stage = await sessionStage(deps, sessionId);
  const enrolled = await hasSecondFactor(deps, userId);
  if (stage === 'mfa' || (stage === 'enrol' && enrolled)) throw new AppError('auth.mfa_required', 'Sign in with your second factor first');
  if (stage === 'active') await refuseNewFactorInLockdown(deps);
  if (stage === 'active' && enrolled) await requireStepUp(deps, ctx);
  if (stage === 'active' && !enrolled) await requireCurrentPassword(deps, userId, sessionId, password);
  return { userId, sessionId };
}

/**
 * In lockdown a session already signed in adds no second factor: a stolen session would otherwise
 * make itself a lasting way back in. Setting up the factor a role requires at sign-in goes on.
 */
async function refuseNewFactorInLockdown(deps: DataDeps): Promise<void> {
  if ((await currentLockdown(deps)) !== null) throw new AppError('system.lockdown', 'Rampart is in lockdown: second factors can be added again once it is lifted');
}

/**
 * What follows a new factor, in its transaction: recovery codes with the first one, half-done
 * sign-ins elsewhere ended (they must now give a second factor), the session stepped up (the new
 * factor proved itself), and the audit entry.
 */
async function factorAdded(tx: DataDeps, ctx: ActorContext, userId: string, sessionId: string, first: boolean, factor: { kind: 'totp' | 'passkey'; id: string }): Promise<string[] | null> {
  const now = tx.clock.now().toISOString();
  await tx.db.updateTable('sessions').set({ revoked_at: now }).where('user_id', '=', userId).where('stage', '!=', 'active').where('id_hash', '!=', sessionId).where('revoked_at', 'is', null).execute();
  await tx.db.updateTable('sessions').set({ mfa_at: now }).where('id_hash', '=', sessionId).where('stage', '=', 'active').execute();
  const recoveryCodes = first ? await replaceRecoveryCodes(tx, userId) : null;
  await recordAudit(tx, ctx, { action: 'auth.mfa_enrolled', recordType: 'users', recordIds: [userId], details: { kind: factor.kind, factorId: factor.id, recoveryCodes: recoveryCodes?.length ?? 0 } });
  await addNotice(tx, userId, 'mfa.changed', { change: `${factor.kind}_added` });
  return recoveryCodes;
}

/** Options for the browser to make a passkey: the first step of adding one. */
export async function startPasskeyRegistration(deps: DataDeps, ctx: ActorContext, rp: RelyingParty, input: { password?: unknown }) {
  const { userId, sessionId } = await mayAddFactor(deps, ctx, input.password);
  const user = await deps.db.selectFrom('users').select(['id', 'email', 'name']).where('id', '=', userId).executeTakeFirstOrThrow();
  return registrationOptions(deps, rp, user, sessionId);
}

/** Keeps a passkey once the browser's answer checks out; the first factor comes with recovery codes. */
export async function completePasskeyRegistration(
  deps: DataDeps,
  ctx: ActorContext,
  rp: RelyingParty,
  input: { challengeId: unknown; response: unknown; label?: unknown },
): Promise<{ recoveryCodes: string[] | null; passkey: { id: string; label: string } }> {
  const { userId, sessionId } = sessionUser(ctx);
  const stage = await sessionStage(deps, sessionId);
  if (stage === 'mfa') throw new AppError('auth.mfa_required', 'Sign in with your second factor first');
  if (stage === 'active') await refuseNewFactorInLockdown(deps);
  return inTransaction(deps, async (tx) => {
    const first = !(await hasSecondFactor(tx, userId));
    const passkey = await registerPasskey(tx, rp, userId, sessionId, input);
    const recoveryCodes = await factorAdded(tx, ctx, userId, sessionId, first, { kind: 'passkey', id: passkey.id });
    return { recoveryCodes, passkey };
  });
}

/** A challenge for the user's passkeys: for the second step of a sign-in, or a step-up. */
export async function passkeyChallenge(deps: DataDeps, ctx: ActorContext, rp: RelyingParty) {
  const { userId, sessionId } = sessionUser(ctx);
  if ((await sessionStage(deps, sessionId)) === 'enrol') throw new AppError('auth.mfa_enrolment_required', 'Set up a second factor first');
  if ((await listPasskeys(deps, userId)).length === 0) throw new AppError('auth.mfa_not_enrolled', 'You have no passkey');
  return assertionOptions(deps, rp, { purpose: 'verify', userId, sessionId });
}

/**
 * Puts an authenticator app in use once it has shown a valid code. The first factor of a user
 * comes with ten recovery codes, shown this once.
 */
export async function confirmTotp(deps: DataDeps, ctx: ActorContext, factorId: unknown, code: unknown): Promise<{ recoveryCodes: string[] | null }> {
  const { userId, sessionId } = sessionUser(ctx);
  if (!isId(factorId) || typeof code !== 'string') throw new AppError('auth.mfa_invalid', 'The code is wrong, expired or already used');
  const stage = await sessionStage(deps, sessionId);
  if (stage === 'mfa') throw new AppError('auth.mfa_required', 'Sign in with your second factor first');
  if (stage === 'active') await refuseNewFactorInLockdown(deps);
  return inTransaction(deps, async (tx) => {
    const factor = await tx.db.selectFrom('mfa_factors').selectAll().where('id', '=', factorId).where('user_id', '=', userId).where('confirmed_at', 'is', null).executeTakeFirst();
    if (!factor) throw new AppError('auth.mfa_invalid', 'There is no authenticator app being set up; start again');
    const secret = await unwrapSecret(tx, factor.id, factor.kek_id, factor.secret_wrapped);
    const now = tx.clock.now();
    const step = await acceptedStep(secret, code.replace(/\s+/g, ''), Math.floor(now.getTime() / 1000), null);
    if (step === null) throw new AppError('auth.mfa_invalid', 'The code is wrong or expired; check the time on your phone and try the next code');
    const first = !(await hasSecondFactor(tx, userId));
    const confirmed = await tx.db
      .updateTable('mfa_factors')
      .set({ confirmed_at: now.toISOString(), last_step: step, last_used_at: now.toISOString() })
      .where('id', '=', factor.id)
      .where('confirmed_at', 'is', null)
      .executeTakeFirst();
    if (Number(confirmed.numUpdatedRows) !== 1) throw new AppError('auth.mfa_invalid', 'This authenticator app is already set up');
    return { recoveryCodes: await factorAdded(tx, ctx, userId, sessionId, first, { kind: 'totp', id: factor.id }) };
  });
}

/** Ten new recovery codes in place of the old ones, after a recent second-factor check. */
export async function regenerateRecoveryCodes(deps: DataDeps, ctx: ActorContext): Promise<string[]> {
  const { userId } = sessionUser(ctx);
  if (!(await hasSecondFactor(deps, userId))) throw new AppError('auth.mfa_not_enrolled', 'Set up an authenticator app first');
  await requireStepUp(deps, ctx);
  return inTransaction(deps, async (tx) => {
    const codes = await replaceRecoveryCodes(tx, userId);
    await recordAudit(tx, ctx, { action: 'auth.recovery_codes_replaced', recordType: 'users', recordIds: [userId], details: { count: codes.length } });
    await addNotice(tx, userId, 'mfa.changed', { change: 'recovery_codes_renewed' });
    return codes;
  });
}

/**
 * Removes one of the user's own authenticator apps or passkeys, after a recent second-factor
 * check. The last factor stays while a role of the user requires one.
 */
export async function removeFactor(deps: DataDeps, ctx: ActorContext, kind: 'totp' | 'passkey', factorId: string, roles: readonly string[]): Promise<void> {
  const { userId } = sessionUser(ctx);
  await requireStepUp(deps, ctx);
  await inTransaction(deps, async (tx) => {
    // Two removals at once must not both see the other factor still there.
    await lockUser(tx, userId);
    const found =
      kind === 'totp'
        ? await tx.db.selectFrom('mfa_factors').select('id').where('id', '=', factorId).where('user_id', '=', userId).where('confirmed_at', 'is not', null).executeTakeFirst()
        : await tx.db.selectFrom('passkeys').select('id').where('id', '=', factorId).where('user_id', '=', userId).executeTakeFirst();
    if (!found) throw new AppError('auth.mfa_not_enrolled', kind === 'totp' ? 'No such authenticator app' : 'No such passkey');
    const count = await factorCount(tx, userId);
    if (count === 1 && (await rolesRequireMfa(tx.db as Kysely<DatabaseSchema>, roles))) {
      throw new AppError('auth.mfa_required_by_role', 'Your role requires a second factor: set up another one before removing this one');
    }
    if (kind === 'totp') await tx.db.deleteFrom('mfa_factors').where('id', '=', factorId).execute();
    else await tx.db.deleteFrom('passkeys').where('id', '=', factorId).execute();
    if (count === 1) await tx.db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
    await recordAudit(tx, ctx, { action: 'auth.mfa_removed', recordType: 'users', recordIds: [userId], details: { kind, factorId } });
    await addNotice(tx, userId, 'mfa.changed', { change: `${kind}_removed` });
  });
}

/**
 * Removes every second factor and recovery code of another user, who lost them, and ends their
 * sessions: they set up a new factor at their next sign-in. Needs `users.manage` and, from a
 * browser, the administrator's own recent second-factor check.
 */
export async function resetMfa(deps: DataDeps, ctx: ActorContext, userId: string): Promise<{ factorsRemoved: number; sessionsEnded: number }> {
  await requirePermission(deps, ctx, 'users.manage', 'Your roles do not allow you to manage users');
  if ((ctx.principal.kind === 'user' || ctx.principal.kind === 'token') && ctx.principal.userId === userId) {
    throw new AppError('auth.forbidden', 'You cannot reset your own second factors; ask another administrator');
  }
  await requireStepUp(deps, ctx);
  return inTransaction(deps, async (tx) => {
    if (!isId(userId) || !(await tx.db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst())) throw new AppError('user.not_found', 'No such user');
    const removed = await tx.db.deleteFrom('mfa_factors').where('user_id', '=', userId).executeTakeFirst();
    const keys = await tx.db.deleteFrom('passkeys').where('user_id', '=', userId).executeTakeFirst();
    await tx.db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
    const ended = await tx.db.updateTable('sessions').set({ revoked_at: tx.clock.now().toISOString() }).where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst();
    const result = { factorsRemoved: Number(removed.numDeletedRows) + Number(keys.numDeletedRows), sessionsEnded: Number(ended.numUpdatedRows) };
    await recordAudit(tx, ctx, { action: 'auth.mfa_reset', recordType: 'users', recordIds: [userId], details: result });
    await addNotice(tx, userId, 'mfa.changed', { change: 'reset_by_administrator' });
    return result;
  });
}

/**
 * The current password, or, for an account that has none (it signs in at a single sign-on
 * provider), a sign-in in the last five minutes: proof that whoever holds the session just
 * signed in themself.
 */
async function requireCurrentPassword(deps: DataDeps, userId: string, sessionId: string, password: unknown): Promise<void> {
  const row = await deps.db.selectFrom('users').select('password_hash').where('id', '=', userId).executeTakeFirst();
  if (row && row.password_hash === null) {
    const session = await deps.db.selectFrom('sessions').select('created_at').where('id_hash', '=', sessionId).executeTakeFirst();
    if (session && deps.clock.now().getTime() - new Date(session.created_at).getTime() <= STEP_UP_WINDOW_MS) return;
    throw new AppError('auth.step_up_required', 'Sign in again, then set up the second factor within five minutes');
  }
  const ok = typeof password === 'string' && password.length <= 1024 && row?.password_hash ? await verifyPassword(row.password_hash, password) : false;
  if (!ok) throw new AppError('auth.invalid_credentials', 'Enter your current password to set up a second factor', [{ field: 'password', message: 'is not your current password' }]);
}

/** A recovery code as stored: hashed with the user it belongs to, so one table of hashes does not serve every account. */
function recoveryCodeHash(userId: string, normal: string): string {
  return hashSecret(`rampart|recovery-code|${userId}|${normal}`);
}

async function replaceRecoveryCodes(deps: DataDeps, userId: string): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, () => newRecoveryCode());
  const now = deps.clock.now().toISOString();
  await deps.db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
  await deps.db
    .insertInto('recovery_codes')
    .values(codes.map((code) => ({ code_hash: recoveryCodeHash(userId, normaliseRecoveryCode(code)!), user_id: userId, created_at: now, used_at: null })))
    .execute();
  return codes;
}

function newRecoveryCode(): string {
  const chars = Array.from({ length: 10 }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]);
  return `${chars.slice(0, 5).join('')}-${chars.slice(5).join('')}`;
}

/** Recovery codes are compared without case, spaces or dashes, as people type them. */
function normaliseRecoveryCode(input: string): string | null {
  if (input.length > 40) return null;
  const normal = input.toLowerCase().replace(/[\s-]+/g, '');
  return /^[a-z0-9]{10}$/.test(normal) ? normal : null;
}

async function unwrapSecret(deps: DataDeps, factorId: string, kekId: string | null, wrapped: string | null): Promise<string> {
  if (kekId === null || wrapped === null) throw new Error('a TOTP factor without its secret');
  return (await deps.keyring.kek.unwrap(kekId, Buffer.from(wrapped, 'base64'), mfaSecretAad(factorId))).toString();
}
