/**
 * Who is acting. Every service function takes the acting principal (inside `ActorContext`) first, so
 * the data layer can apply policy and record the actor for every path: browser, API token, CLI, job.
 */
export type Principal =
  | { kind: 'user'; userId: string; email: string; roles: string[]; teamId: string | null; sessionId: string }
  | { kind: 'token'; userId: string; email: string; roles: string[]; teamId: string | null; tokenId: string; scopes: string[] }
  | { kind: 'cli'; operator: string; userId: string | null; actingAs?: { roles: string[]; teamId: string | null } }
  | { kind: 'system'; job: string };

export type Channel = 'web' | 'api' | 'cli' | 'job';

export interface ActorContext {
  principal: Principal;
  channel: Channel;
  requestId: string | null;
  sourceAddress: string | null;
  userAgent: string | null;
}

/** The user id a write is attributed to, or null for operator and system actions. */
export function actingUserId(principal: Principal): string | null {
  return principal.kind === 'system' ? null : principal.userId;
}

export function cliContext(operator: string): ActorContext {
  return { principal: { kind: 'cli', operator, userId: null }, channel: 'cli', requestId: null, sourceAddress: null, userAgent: null };
}
