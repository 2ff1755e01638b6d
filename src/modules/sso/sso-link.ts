import { recordAudit, type AnonymousRequest } from '../../data/audit-trail.js';
import type { DataDeps } from '../../data/record-store.js';
import { isUniqueViolation } from '../../db/database.js';
import { AppError } from '../../shared/errors.js';
import type { ActorContext } from '../../shared/principal.js';
import { getUserById, setUserAccess, type UserView } from '../users/users.service.js';

/**
 * What a single sign-on does to the account it signs in: link the provider identity (found by a
 * verified email, or made with a new account) and set the roles its groups map to. Applied when
 * the sign-in is complete: at once, or, when Rampart asks for its own second factor, only once
 * that is given, so that someone who passes the provider but not the factor changes nothing.
 */
export interface SsoEffects {
  issuer: string;
  subject: string;
  linkBy: 'email' | 'new account' | null;
  /** The roles from the provider's groups; null when roles do not follow groups. */
  roles: string[] | null;
}

export function ssoActor(request: AnonymousRequest): ActorContext {
  return { principal: { kind: 'system', job: 'single-sign-on' }, channel: request.channel, requestId: request.requestId, sourceAddress: request.sourceAddress, userAgent: request.userAgent };
}

/** Applies the effects in the caller's transaction and answers the user as they now are. */
export async function applySsoEffects(tx: DataDeps, userId: string, effects: SsoEffects, request: AnonymousRequest): Promise<UserView> {
  const system = ssoActor(request);
  const now = tx.clock.now().toISOString();
  if (effects.linkBy) {
    try {
      await tx.db.insertInto('sso_identities').values({ issuer: effects.issuer, subject: effects.subject, user_id: userId, created_at: now, last_used_at: now }).execute();
    } catch (error) {
      // Two sign-ins racing to link, or an account linked meanwhile to another identity.
      if (isUniqueViolation(error)) throw new AppError('auth.sso_refused', 'This account is linked to another identity at the provider');
      throw error;
    }
    await recordAudit(tx, system, { action: 'user.sso_linked', recordType: 'users', recordIds: [userId], details: { issuer: effects.issuer, by: effects.linkBy } });
  } else {
    await tx.db.updateTable('sso_identities').set({ last_used_at: now }).where('issuer', '=', effects.issuer).where('subject', '=', effects.subject).execute();
  }
  // Compared with the roles as they are now, in this transaction, not as they were read before it.
  const current = await getUserById(tx, userId);
  const roles = effects.roles;
  if (roles === null || (roles.length === current.roles.length && roles.every((role) => current.roles.includes(role)))) return current;
  // The role change goes the way an administrator's does: audited, and the user's sessions end.
  return setUserAccess(tx, system, userId, { roles });
}
