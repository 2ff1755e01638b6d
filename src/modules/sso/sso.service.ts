import type { OidcSettings } from '../../config/config.js';
import { recordAnonymousAudit, recordAudit, type AnonymousRequest } from '../../data/audit-trail.js';
import { inTransaction } from '../../data/record-store.js';
import { STEP_UP_WINDOW_MS } from '../../data/step-up.js';
import type { SsoSignInsTable } from '../../db/schema.js';
import { AppError, type ErrorCode } from '../../shared/errors.js';
import type { ActorContext } from '../../shared/principal.js';
import { hashSecret, newSecret, safeEqual } from '../../shared/secrets.js';
import { resolveSession, sessionContext, stageAfterPassword, startSession, type AuthDeps, type LoginResult } from '../auth/auth.service.js';
import { findUserByEmail, getUserById, insertUser, lockUser, type UserView } from '../users/users.service.js';
import { applySsoEffects, ssoActor, type SsoEffects } from './sso-link.js';
import { authorizationRequest, callbackUrlOf, exchangeCode, isMultiFactor, ProviderAnswerRefused, type ProviderIdentity } from './oidc-client.js';

/** How long the provider has to send the browser back. */
const SIGN_IN_TTL_MS = 10 * 60_000;

/** The other ways to sign in the sign-in page offers. */
export interface SignInMethods {
  oidc: { name: string } | null;
}

/** A redirect to the provider, and the secret of the cookie that binds its answer to this browser. */
export interface SsoStart {
  authorizationUrl: string;
  browserKey: string;
  expiresAt: string;
}

/** A sign-in starts a session (at the stage the MFA policy gives); a step-up marks the session's second factor as fresh. */
export type SsoOutcome = { kind: 'signed-in'; session: LoginResult } | { kind: 'stepped-up' };

/** What came back from the provider: the query of its redirect, and this browser's cookies. */
export interface ProviderAnswer {
  query: string;
  browserKey: string | undefined;
  sessionToken: string | undefined;
}

/** A refusal with its reason for the audit log, and the user it concerned when one was known. */
class SsoRefusal extends AppError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly reason: string,
    readonly userId: string | null = null,
  ) {
    super(code, message);
  }
}

/** What the sign-in page offers besides a password: the provider's display name, when one is configured. */
export function signInMethods(deps: AuthDeps): SignInMethods {
  return { oidc: deps.config.oidc ? { name: deps.config.oidc.displayName } : null };
}

function settingsOf(deps: AuthDeps): OidcSettings {
  if (!deps.config.oidc) throw new AppError('auth.sso_not_configured', 'Single sign-on is not configured on this server');
  return deps.config.oidc;
}

/** Starts a sign-in at the provider: the authorization request, remembered once, for ten minutes. */
export async function startSsoSignIn(deps: AuthDeps): Promise<SsoStart> {
  return startAtProvider(deps, settingsOf(deps), null);
}

/**
 * Starts a step-up at the provider for a signed-in session: the provider is asked to sign the
 * user in again, now, and a second factor there counts as a step-up here. Only where the
 * provider's second factor counts (`mfa: provider`), and only for a user linked to the provider.
 */
export async function startSsoStepUp(deps: AuthDeps, ctx: ActorContext): Promise<SsoStart> {
  const settings = settingsOf(deps);
  if (settings.mfa !== 'provider') throw new AppError('auth.sso_not_configured', "Single sign-on is not configured to accept the provider's second factor");
  if (ctx.principal.kind !== 'user') throw new AppError('auth.forbidden', 'Step-up at the provider is for a signed-in browser session');
  const linked = await deps.db.selectFrom('sso_identities').select('subject').where('user_id', '=', ctx.principal.userId).executeTakeFirst();
  if (!linked) throw new AppError('auth.sso_no_account', 'Your account is not linked to the single sign-on provider');
  return startAtProvider(deps, settings, ctx.principal.sessionId);
}

async function startAtProvider(deps: AuthDeps, settings: OidcSettings, sessionId: string | null): Promise<SsoStart> {
  const request = await authorizationRequest(settings, callbackUrlOf(deps.config.publicUrl), { reauthenticate: sessionId !== null });
  const browserKey = newSecret('rsso');
  const now = deps.clock.now();
  const expiresAt = new Date(now.getTime() + SIGN_IN_TTL_MS).toISOString();
  await deps.db
    .insertInto('sso_sign_ins')
    .values({ state_hash: hashSecret(request.state), browser_hash: hashSecret(browserKey), code_verifier: request.codeVerifier, nonce: request.nonce, session_id: sessionId, created_at: now.toISOString(), expires_at: expiresAt })
    .execute();
  // Sign-ins nobody finished are dropped as new ones start.
  await deps.db.deleteFrom('sso_sign_ins').where('expires_at', '<', now.toISOString()).execute();
  return { authorizationUrl: request.url, browserKey, expiresAt };
}

/**
 * Takes the provider's answer: the sign-in it belongs to (once, in time, in the browser that
 * started it), the code exchanged for an ID token, then a sign-in or a step-up. Every refusal is
 * recorded with its reason and thrown as an AppError with a stable code.
 */
export async function completeSso(deps: AuthDeps, answer: ProviderAnswer, request: AnonymousRequest): Promise<SsoOutcome> {
  const settings = settingsOf(deps);
  try {
    const pending = await takePendingSignIn(deps, new URLSearchParams(answer.query).get('state'), answer.browserKey);
    const callbackUrl = new URL(callbackUrlOf(deps.config.publicUrl));
    callbackUrl.search = answer.query;
    const identity = await exchangeCode(settings, callbackUrl, { state: pending.state, nonce: pending.row.nonce, codeVerifier: pending.row.code_verifier }, claimsWanted(settings)).catch((error: unknown) => {
      if (error instanceof ProviderAnswerRefused) throw new SsoRefusal('auth.sso_refused', "The single sign-on provider's answer was not accepted", error.reason);
      throw error;
    });
    if (pending.row.session_id !== null) return await stepUpAtProvider(deps, settings, identity, pending.row.session_id, answer.sessionToken, request);
    return { kind: 'signed-in', session: await signInAsProviderUser(deps, settings, identity, request) };
  } catch (error) {
    if (error instanceof AppError) {
      const reason = error instanceof SsoRefusal ? error.reason : error.code;
      await recordAnonymousAudit(deps, request, { action: 'auth.sso_refused', outcome: 'failure', actorId: error instanceof SsoRefusal ? error.userId : null, details: { reason, code: error.code } });
    }
    throw error;
  }
}

/** Claims the ID token should carry, which the userinfo endpoint is asked for when it does not. */
function claimsWanted(settings: OidcSettings): string[] {
  return ['email', 'email_verified', 'name', ...(settings.roleMap.length > 0 ? [settings.groupsClaim] : [])];
}

async function takePendingSignIn(deps: AuthDeps, state: string | null, browserKey: string | undefined): Promise<{ state: string; row: SsoSignInsTable }> {
  const invalid = (reason: string) => new SsoRefusal('auth.sso_state_invalid', 'This single sign-on attempt is unknown, expired, already used or from another browser; start again', reason);
  if (!state || state.length > 512) throw invalid('no state');
  const stateHash = hashSecret(state);
  const row = await deps.db.selectFrom('sso_sign_ins').selectAll().where('state_hash', '=', stateHash).executeTakeFirst();
  if (!row) throw invalid('unknown state');
  // Used once: whatever follows, the row is gone, so the same answer twice finds nothing.
  const taken = await deps.db.deleteFrom('sso_sign_ins').where('state_hash', '=', stateHash).executeTakeFirst();
  if (Number(taken.numDeletedRows) !== 1) throw invalid('unknown state');
  if (typeof browserKey !== 'string' || browserKey.length > 200 || !safeEqual(hashSecret(browserKey), row.browser_hash)) throw invalid('another browser');
  if (row.expires_at <= deps.clock.now().toISOString()) throw invalid('expired');
  return { state, row };
}

/**
 * Signs in the user the provider vouches for: the one linked to this identity; else the user
 * with the provider's email, when the provider has verified it (and the two are linked from now
 * on); else, when configured, a new user. Roles follow the provider's groups when a role map is
 * configured. The session starts where the MFA policy says.
 */
async function signInAsProviderUser(deps: AuthDeps, settings: OidcSettings, identity: ProviderIdentity, request: AnonymousRequest): Promise<LoginResult> {
  const account = await accountOf(deps, settings, identity);
  if (account.user && account.user.status !== 'active') throw new SsoRefusal('auth.sso_refused', 'This account is disabled', 'account disabled', account.user.id);
  const roles = rolesFromGroups(settings, identity.claims);
  if (roles !== null && roles.length === 0) throw new SsoRefusal('auth.sso_refused', 'None of your groups at the provider gives a role here; ask an administrator', 'no mapped group', account.user?.id ?? null);
  if (!account.user && roles === null) throw new SsoRefusal('auth.sso_no_account', 'There is no account for you here; ask an administrator for one', 'no role for a new account');
  // No password is involved, so the password throttle does not apply: failed password guesses
  // against an account must not lock its owner out of single sign-on.
  const providerMfa = settings.mfa === 'provider' && isMultiFactor(identity.amr);
  const effects: SsoEffects = { issuer: identity.issuer, subject: identity.subject, linkBy: account.linkBy, roles };
  return inTransaction(deps, async (tx) => {
    let user = account.user;
    if (!user) {
      // A new account has nothing to take over; it is made, linked and given its roles at once.
      user = await insertUser(tx, ssoActor(request), { email: account.email, name: nameOf(identity.claims, account.email), password: null, roles: roles ?? [], locale: localeOf(identity.claims) });
    }
    await lockUser(tx, user.id);
    // The stricter of the roles held and the roles coming decides whether a second factor is due.
    const stage = providerMfa ? 'active' : await stageAfterPassword(tx, { ...user, roles: [...new Set([...user.roles, ...(roles ?? [])])] });
    const applyNow = stage === 'active' || account.user === null;
    if (applyNow) user = await applySsoEffects(tx, user.id, effects, request);
    // The provider's second factor counts for step-up from when it was given, not from now.
    const mfaAt = providerMfa && identity.authTime !== null ? new Date(Math.min(identity.authTime * 1000, tx.clock.now().getTime())).toISOString() : undefined;
    const session = await startSession(tx, user, request, { stage, firstFactor: 'sso', ...(mfaAt ? { mfaAt } : {}), ...(applyNow ? {} : { ssoPending: effects }) });
    await recordAudit(tx, sessionContext(user, hashSecret(session.sessionToken), request), {
      action: 'auth.sso_signed_in',
      recordType: 'users',
      recordIds: [user.id],
      details: { issuer: identity.issuer, stage, providerMfa, ...(account.linkBy ? { linkedBy: account.linkBy } : {}), ...(applyNow ? {} : { pendingUntilSecondFactor: true }) },
    });
    return session;
  });
}

interface Account {
  user: UserView | null;
  /** The provider's email, verified by it; for a new user. */
  email: string;
  /** Set when this identity is to be linked now: to the user with its email, or to a new user. */
  linkBy: 'email' | 'new account' | null;
}

async function accountOf(deps: AuthDeps, settings: OidcSettings, identity: ProviderIdentity): Promise<Account> {
  const linked = await deps.db.selectFrom('sso_identities').select('user_id').where('issuer', '=', identity.issuer).where('subject', '=', identity.subject).executeTakeFirst();
  if (linked) {
    const user = await getUserById(deps, linked.user_id);
    return { user, email: user.email, linkBy: null };
  }
  const email = typeof identity.claims.email === 'string' ? identity.claims.email : '';
  // An address the provider has not verified could be anyone's: it neither finds nor makes an account.
  if (email === '' || identity.claims.email_verified !== true) throw new SsoRefusal('auth.sso_refused', 'The provider has not verified your email address', email === '' ? 'no email' : 'email not verified');
  const user = await findUserByEmail(deps, email);
  if (user) {
    const other = await deps.db.selectFrom('sso_identities').select('subject').where('issuer', '=', identity.issuer).where('user_id', '=', user.id).executeTakeFirst();
    if (other) throw new SsoRefusal('auth.sso_refused', 'This account is linked to another identity at the provider', 'linked to another identity', user.id);
    return { user, email: user.email, linkBy: 'email' };
  }
  if (!settings.createUsers) throw new SsoRefusal('auth.sso_no_account', 'There is no account for you here; ask an administrator for one', 'no account');
  return { user: null, email, linkBy: 'new account' };
}

/** The roles the provider's groups map to, in a stable order; null when roles do not follow groups. */
function rolesFromGroups(settings: OidcSettings, claims: Readonly<Record<string, unknown>>): string[] | null {
  if (settings.roleMap.length === 0) return null;
  const raw = claims[settings.groupsClaim];
  const groups = Array.isArray(raw) ? raw.filter((g): g is string => typeof g === 'string') : typeof raw === 'string' ? [raw] : [];
  return [...new Set(settings.roleMap.filter((entry) => groups.includes(entry.group)).map((entry) => entry.role))].sort();
}

/** A display name from the provider's claims, as a user's name must be: 1 to 200 characters of text. */
function nameOf(claims: Readonly<Record<string, unknown>>, email: string): string {
  const text = (value: unknown) => (typeof value === 'string' ? value.replace(/[\u0000-\u001f\u007f]/g, '').normalize('NFC').trim().slice(0, 200) : '');
  const candidates = [text(claims.name), text([claims.given_name, claims.family_name].filter((p) => typeof p === 'string').join(' ')), text(claims.preferred_username)];
  return candidates.find((name) => name !== '' && name.isWellFormed()) ?? email.slice(0, 200);
}

function localeOf(claims: Readonly<Record<string, unknown>>): string {
  return typeof claims.locale === 'string' && /^zh\b/i.test(claims.locale) ? 'zh-CN' : 'en';
}

/**
 * Completes a step-up at the provider: the answer must come to the session that asked, in the
 * same browser, for the user linked to the identity, with a second factor given just now.
 */
async function stepUpAtProvider(deps: AuthDeps, settings: OidcSettings, identity: ProviderIdentity, sessionId: string, sessionToken: string | undefined, request: AnonymousRequest): Promise<SsoOutcome> {
  const session = sessionToken ? await resolveSession(deps, sessionToken, request) : null;
  if (!session || session.principal.sessionId !== sessionId || session.stage !== 'active') throw new SsoRefusal('auth.sso_state_invalid', 'The session that asked for this step-up has ended; sign in again', 'session ended');
  const linked = await deps.db.selectFrom('sso_identities').select('user_id').where('issuer', '=', identity.issuer).where('subject', '=', identity.subject).executeTakeFirst();
  if (linked?.user_id !== session.user.id) throw new SsoRefusal('auth.sso_refused', 'The provider signed in someone else', 'another identity', session.user.id);
  const now = deps.clock.now().getTime();
  const authTime = identity.authTime === null ? null : Math.min(identity.authTime * 1000, now);
  if (settings.mfa !== 'provider' || !isMultiFactor(identity.amr) || authTime === null || now - authTime > STEP_UP_WINDOW_MS) {
    throw new SsoRefusal('auth.sso_refused', 'The provider did not confirm a second factor just now', 'no fresh second factor', session.user.id);
  }
  const ctx = sessionContext(session.user, sessionId, request);
  await inTransaction(deps, async (tx) => {
    await tx.db.updateTable('sessions').set({ mfa_at: new Date(authTime).toISOString(), mfa_attempts: 0 }).where('id_hash', '=', sessionId).execute();
    await recordAudit(tx, ctx, { action: 'auth.step_up', recordType: 'users', recordIds: [session.user.id], details: { method: 'provider', issuer: identity.issuer } });
  });
  return { kind: 'stepped-up' };
}
