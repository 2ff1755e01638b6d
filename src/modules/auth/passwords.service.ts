import { randomBytes } from 'node:crypto';
import { recordAnonymousAudit, recordAudit, type AnonymousRequest } from '../../data/audit-trail.js';
import { requirePermission } from '../../data/access.js';
import { requireStepUp } from '../../data/step-up.js';
import { inTransaction, type DataDeps } from '../../data/record-store.js';
import { AppError } from '../../shared/errors.js';
import { isId } from '../../shared/ids.js';
import type { ActorContext } from '../../shared/principal.js';
import { hashSecret, newSecret } from '../../shared/secrets.js';
import { hasSecondFactor, rolesRequireMfa } from '../mfa/mfa.service.js';
import { addNotice } from '../notices/notices.service.js';
import { findUserByEmail, getUserById, lockUser, type UserView } from '../users/users.service.js';
import type { AuthDeps } from './auth.service.js';
import { hashPassword, passwordProblems, verifyAgainstNothing, verifyPassword } from './passwords.js';
import { checkSignInAllowed, recordSignInFailure, signInAccountKey } from './sign-in-throttle.js';

/** A reset link works once, for this long. */
export const RESET_LINK_MINUTES = 30;
/** At most this many links are mailed to one account per hour, however often someone asks. */
const RESET_LINKS_PER_HOUR = 3;

/** A password that satisfies the rules for this user, hashed; otherwise `auth.weak_password`. */
async function acceptablePasswordHash(deps: DataDeps, user: UserView, password: unknown): Promise<string> {
  const withSecondFactor = (await hasSecondFactor(deps, user.id)) || (await rolesRequireMfa(deps.db, user.roles));
  const problems = passwordProblems(password, { email: user.email, name: user.name }, withSecondFactor);
  if (problems.length > 0) throw new AppError('auth.weak_password', 'Choose another password', problems.map((p) => ({ ...p, field: 'newPassword' })));
  return hashPassword(password as string);
}

/** Every reset link of the user not used yet stops working. */
async function supersedeResetLinks(deps: DataDeps, userId: string): Promise<void> {
  await deps.db.updateTable('password_resets').set({ superseded_at: deps.clock.now().toISOString() }).where('user_id', '=', userId).where('used_at', 'is', null).where('superseded_at', 'is', null).execute();
}

/**
 * Changes the password of the signed-in user, who proves the current one. Wrong current passwords
 * count against the account like failed sign-ins, so a borrowed session cannot guess it. Every
 * other session of the user ends; this one continues under a new secret, which the answer carries.
 */
export async function changePassword(deps: AuthDeps, ctx: ActorContext, input: { currentPassword: unknown; newPassword: unknown }): Promise<{ sessionToken: string; csrfToken: string; expiresAt: string }> {
  if (ctx.principal.kind !== 'user') throw new AppError('auth.forbidden', 'Change your password from a signed-in browser session, not with an API token');
  const principal = ctx.principal;
  const sessionId = principal.sessionId;
  const user = await getUserById(deps, ctx.principal.userId);
  const row = await deps.db.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow();
  if (row.password_hash === null) throw new AppError('auth.forbidden', 'This account signs in without a password');
  const accountKey = signInAccountKey(user.email);
  await checkSignInAllowed(deps, accountKey, ctx.sourceAddress);
  const current = typeof input.currentPassword === 'string' && input.currentPassword.length <= 1024 ? input.currentPassword : '';
  if (!(await verifyPassword(row.password_hash, current))) {
    await inTransaction(deps, async (tx) => {
      const lockedNow = await recordSignInFailure(tx, accountKey, ctx.sourceAddress);
      if (lockedNow) await addNotice(tx, user.id, 'sign_in.locked', { permanent: true });
      await recordAudit(tx, ctx, { action: 'auth.password_change_failed', outcome: 'failure', recordType: 'users', recordIds: [user.id], details: { reason: 'wrong current password', ...(lockedNow ? { locked: true } : {}) } });
    });
    throw new AppError('auth.current_password_wrong', 'Your current password is not right', [{ field: 'currentPassword', message: 'is not your current password' }]);
  }
  const newHash = await acceptablePasswordHash(deps, user, input.newPassword);
  if (await verifyPassword(row.password_hash, input.newPassword as string)) {
    throw new AppError('auth.password_unchanged', 'The new password is the one you have', [{ field: 'newPassword', message: 'is your current password' }]);
  }
  const sessionToken = newSecret('rps');
  const csrfToken = randomBytes(32).toString('base64url');
  return inTransaction(deps, async (tx) => {
    await lockUser(tx, user.id);
    const now = tx.clock.now().toISOString();
    // Another change or reset may have come first, while the new hash was being made.
    const still = await tx.db.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow();
    if (still.password_hash !== row.password_hash) throw new AppError('auth.current_password_wrong', 'Your password changed meanwhile; sign in again', [{ field: 'currentPassword', message: 'is no longer your current password' }]);
    await tx.db.updateTable('users').set({ password_hash: newHash, updated_at: now }).where('id', '=', user.id).execute();
    await supersedeResetLinks(tx, user.id);
    const others = await tx.db.updateTable('sessions').set({ revoked_at: now }).where('user_id', '=', user.id).where('id_hash', '!=', sessionId).where('revoked_at', 'is', null).executeTakeFirst();
    // The session that changed the password goes on under a new secret: one stolen before the change is worthless after it.
    const rotated = await tx.db.updateTable('sessions').set({ id_hash: hashSecret(sessionToken), csrf_token: csrfToken }).where('id_hash', '=', sessionId).where('revoked_at', 'is', null).returning('expires_at').executeTakeFirst();
    if (!rotated) throw new AppError('auth.session_expired', 'Your session has ended; sign in again');
    await recordAudit(tx, { ...ctx, principal: { ...principal, sessionId: hashSecret(sessionToken) } }, { action: 'auth.password_changed', recordType: 'users', recordIds: [user.id], details: { how: 'changed', sessionsEnded: Number(others.numUpdatedRows) } });
    await addNotice(tx, user.id, 'password.changed', { how: 'changed', address: ctx.sourceAddress ?? '' });
    return { sessionToken, csrfToken, expiresAt: rotated.expires_at };
  });
}

/**
 * Mails a one-time link that sets a new password, to the account with this email if there is one
 * that signs in with a password. The answer is the same either way and does not wait: the work
 * runs after it, so neither words nor timing tell whether the account exists.
 */
export function requestPasswordReset(deps: AuthDeps, email: unknown, request: AnonymousRequest): void {
  deps.background.run('password reset mail', async () => {
    const user = typeof email === 'string' && email.length <= 254 ? await findUserByEmail(deps, email) : undefined;
    if (!user || user.status !== 'active') {
      await recordAnonymousAudit(deps, request, { action: 'auth.password_reset_requested', outcome: 'failure', details: { reason: user ? 'account disabled' : 'unknown account' } });
      return;
    }
    const link = await issueResetLink(deps, request, user, { limited: true });
    if (link === null) return;
    await deps.mailer.send(resetMail(deps, user, link));
  });
}

/**
 * Makes a reset link for a user: every earlier one stops working. `limited`: asked for from the
 * sign-in page, so at most three an hour, beyond which nothing is sent (null).
 */
async function issueResetLink(deps: AuthDeps, by: ActorContext | AnonymousRequest, user: UserView, options: { limited: boolean }): Promise<string | null> {
  const row = await deps.db.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow();
  const token = newSecret('rpr');
  const issued = await inTransaction(deps, async (tx) => {
    // Requests at the same moment take turns, so none of them miscounts the links of the hour.
    await lockUser(tx, user.id);
    const now = tx.clock.now();
    const hourAgo = new Date(now.getTime() - 3_600_000).toISOString();
    const recent = await tx.db.selectFrom('password_resets').select((eb) => eb.fn.countAll().as('n')).where('user_id', '=', user.id).where('created_at', '>', hourAgo).executeTakeFirstOrThrow();
    const refused = row.password_hash === null ? 'account has no password' : options.limited && Number(recent.n) >= RESET_LINKS_PER_HOUR ? 'too many links this hour' : null;
    const event = { action: 'auth.password_reset_requested', recordType: 'users', recordIds: [user.id], ...(refused ? { outcome: 'failure' as const, details: { reason: refused } } : { details: { expiresInMinutes: RESET_LINK_MINUTES } }) };
    if ('principal' in by) await recordAudit(tx, by, event);
    // Whoever asked is not known: the account is what the request named, not who made it.
    else await recordAnonymousAudit(tx, by, event);
    if (refused) return false;
    await supersedeResetLinks(tx, user.id);
    await tx.db
      .insertInto('password_resets')
      .values({ token_hash: hashSecret(token), user_id: user.id, created_at: now.toISOString(), expires_at: new Date(now.getTime() + RESET_LINK_MINUTES * 60_000).toISOString(), used_at: null, superseded_at: null })
      .execute();
    return true;
  });
  // The secret travels in the fragment, which browsers never send to a server or put in a Referer.
  return issued ? `${deps.config.publicUrl}/reset-password#token=${token}` : null;
}

function resetMail(deps: AuthDeps, user: UserView, link: string) {
  const zh = user.locale === 'zh-CN';
  return {
    to: user.email,
    subject: zh ? 'Rampart：重置密码' : 'Rampart: set a new password',
    text: (zh
      ? [`${user.name}，您好：`, '', `有人请求重置您的 Rampart 密码。打开以下链接设置新密码，链接可用一次，${RESET_LINK_MINUTES} 分钟内有效：`, '', link, '', '如果不是您本人请求，请忽略此邮件，您的密码不会改变。']
      : [`Hello ${user.name},`, '', `Someone asked to reset your Rampart password. Open this link to set a new one; it works once, for ${RESET_LINK_MINUTES} minutes:`, '', link, '', 'If you did not ask, ignore this mail: your password stays as it is.']
    ).join('\n'),
  };
}

/**
 * An administrator sends a user a reset link (`users.manage`, with a recent second factor in a
 * browser): the administrator never learns the new password.
 */
export async function sendResetLink(deps: AuthDeps, ctx: ActorContext, userId: string): Promise<{ expiresInMinutes: number }> {
  await requirePermission(deps, ctx, 'users.manage', 'Your roles do not allow you to manage users');
  await requireStepUp(deps, ctx);
  const user = isId(userId) ? await getUserById(deps, userId) : undefined;
  if (!user || user.status !== 'active') throw new AppError('user.not_found', 'No such active user');
  const link = await issueResetLink(deps, ctx, user, { limited: false });
  if (link === null) throw new AppError('auth.forbidden', 'This account signs in without a password');
  try {
    await deps.mailer.send(resetMail(deps, user, link));
  } catch {
    // A link nobody received is no use; the mail server's answer may name the address, so it
    // goes nowhere.
    await supersedeResetLinks(deps, user.id);
    throw new AppError('mail.unavailable', 'The mail could not be sent; check the mail settings (RAMPART_MAIL_TRANSPORT) and try again');
  }
  return { expiresInMinutes: RESET_LINK_MINUTES };
}

/** For the operator at the server (`rampart user reset-password`): the link itself, to hand over. */
export async function resetLinkFor(deps: AuthDeps, ctx: ActorContext, email: string): Promise<{ link: string; expiresInMinutes: number }> {
  const user = await findUserByEmail(deps, email);
  if (!user || user.status !== 'active') throw new AppError('user.not_found', 'No such active user');
  const link = await issueResetLink(deps, ctx, user, { limited: false });
  if (link === null) throw new AppError('auth.forbidden', 'This account signs in without a password');
  return { link, expiresInMinutes: RESET_LINK_MINUTES };
}

/**
 * Sets a new password with a reset link's secret. The link works once and not after it expired,
 * a newer link was made or the password changed; not at all while the account is locked
 * (`auth.account_locked`, the link left unspent). Every session of the user ends; the second
 * factor is still asked at the next sign-in: for an account with one, a mailbox alone does not
 * open it.
 */
export async function completePasswordReset(deps: AuthDeps, input: { token: unknown; newPassword: unknown }, request: AnonymousRequest): Promise<void> {
  const invalid = new AppError('auth.reset_link_invalid', 'This reset link is not valid: it was used, has expired or a newer one was sent. Ask for a new one.');
  const token = typeof input.token === 'string' && input.token.length <= 200 ? input.token : '';
  const link = token ? await deps.db.selectFrom('password_resets').selectAll().where('token_hash', '=', hashSecret(token)).executeTakeFirst() : undefined;
  if (!link || link.used_at !== null || link.superseded_at !== null || deps.clock.now().getTime() >= new Date(link.expires_at).getTime()) {
    await verifyAgainstNothing(token);
    throw invalid;
  }
  const user = await getUserById(deps, link.user_id);
  if (user.status !== 'active') throw invalid;
  const newHash = await acceptablePasswordHash(deps, user, input.newPassword);
  await inTransaction(deps, async (tx) => {
    await lockUser(tx, user.id);
    // A locked account stays shut until someone who handles alerts opens it; the link stays unspent.
    const lock = await tx.db.selectFrom('users').select('locked_at').where('id', '=', user.id).executeTakeFirstOrThrow();
    if (lock.locked_at !== null) throw new AppError('auth.account_locked', 'This account is locked; someone who handles security alerts can unlock it');
    const now = tx.clock.now().toISOString();
    // Spent in the same statement that checks it, so two uses at once cannot both pass.
    const spent = await tx.db.updateTable('password_resets').set({ used_at: now }).where('token_hash', '=', link.token_hash).where('used_at', 'is', null).where('superseded_at', 'is', null).executeTakeFirst();
    if (Number(spent.numUpdatedRows) !== 1) throw invalid;
    await tx.db.updateTable('users').set({ password_hash: newHash, updated_at: now }).where('id', '=', user.id).execute();
    await supersedeResetLinks(tx, user.id);
    const ended = await tx.db.updateTable('sessions').set({ revoked_at: now }).where('user_id', '=', user.id).where('revoked_at', 'is', null).executeTakeFirst();
    await recordAnonymousAudit(tx, request, { action: 'auth.password_changed', actorId: user.id, recordType: 'users', recordIds: [user.id], details: { how: 'reset link', sessionsEnded: Number(ended.numUpdatedRows) } });
    await addNotice(tx, user.id, 'password.changed', { how: 'reset', address: request.sourceAddress ?? '' });
  });
}
