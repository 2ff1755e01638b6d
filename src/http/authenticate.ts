import type {} from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { resolveSession, type AuthDeps } from '../modules/auth/auth.service.js';
import { accountLocked, checkToken, scopeAllows } from '../modules/tokens/tokens.service.js';
import { accessOf } from '../data/access.js';
import { AppError } from '../shared/errors.js';
import type { ActorContext } from '../shared/principal.js';
import { recordAnonymousAudit, type AnonymousRequest } from '../data/audit-trail.js';
import { RefusalCounter } from './refusal-counter.js';
import { safeEqual } from '../shared/secrets.js';
import { refuseWriteInLockdown } from '../modules/detection/containment.service.js';

export const SESSION_COOKIE = 'rampart_session';
export const CSRF_HEADER = 'x-csrf-token';

declare module 'fastify' {
  interface FastifyRequest {
    /** The acting principal and where the request came from; set for every authenticated route. */
    actor: ActorContext | null;
  }
  interface FastifyContextConfig {
    /** Routes that answer without a session or token (login, setup). */
    public?: boolean;
    /** Routes that also answer a session still waiting for its second factor, or for one to be set up. */
    partialSession?: boolean;
    /** The access a route needs from a token's scopes when its method alone would say otherwise (a POST that only reads). */
    access?: 'read' | 'write';
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Every `/api/v1` route needs a valid session cookie or bearer token, except those marked public.
 * It is checked as the request arrives, before its body is read or validated, so a stranger learns
 * nothing from validation messages and costs the server no parsing.
 * Cookie-authenticated writes must carry the session's CSRF token in a header, which a page on
 * another site cannot read or set.
 */
export function installAuthentication(app: FastifyInstance, deps: AuthDeps): void {
  app.decorateRequest('actor', null);
  const refusedTokens = new RefusalCounter(60_000, 10_000);
  app.addHook('onRequest', async (request: FastifyRequest, _reply: FastifyReply) => {
    // The matched route pattern, not the raw URL: the router decodes `%61pi/v1/…` to a route that
    // the raw URL would not have named.
    const route = request.routeOptions.url ?? request.url;
    if (!route.startsWith('/api/v1/') || request.routeOptions.config?.public) return;
    const base = { requestId: request.id, sourceAddress: request.ip ?? null, userAgent: request.headers['user-agent']?.slice(0, 500) ?? null };
    const authorization = request.headers.authorization;
    if (authorization !== undefined) {
      const match = /^Bearer ([A-Za-z0-9_-]{1,200})$/.exec(authorization);
      const checked = match ? await checkToken(deps, match[1]!, anonymousRequest(request, 'api')) : null;
      const principal = checked?.principal ?? null;
      if (!principal) {
        // A token that exists names whose it is and why it was refused: a revoked token or a
        // disabled user's still in use is something detection looks for.
        const refusal = checked?.refusal ?? null;
        const unrecorded = refusedTokens.count(refusal ? `token:${refusal.tokenId}` : (request.ip ?? ''), Date.now());
        if (unrecorded !== null) {
          await recordAnonymousAudit(deps, anonymousRequest(request, 'api'), {
            action: 'auth.token_refused',
            outcome: 'failure',
            ...(refusal ? { actorId: refusal.userId, recordType: 'api_tokens', recordIds: [refusal.tokenId] } : {}),
            details: { alsoRefusedBefore: unrecorded, ...(refusal ? { reason: refusal.reason } : {}) },
          });
        }
        if (refusal?.reason === 'account locked') throw accountLocked();
        throw new AppError('auth.unauthenticated', 'The API token is invalid, expired or revoked');
      }
      // Known before the scopes are checked, so a refusal is recorded against the token.
      request.actor = { principal, channel: 'api', ...base };
      const resource = route.slice('/api/v1/'.length).split(/[/?]/)[0] ?? '';
      const access = request.routeOptions.config?.access ?? (SAFE_METHODS.has(request.method) ? 'read' : 'write');
      if (!scopeAllows(principal.scopes, resource, access)) throw new AppError('auth.forbidden', `The token's scopes do not allow ${access} access to ${resource}`);
      await refuseOutsideRoleNetworks(deps, request.actor);
      await refuseWritesInLockdown(deps, request, request.actor);
      return;
    }
    const cookie = request.cookies[SESSION_COOKIE];
    const session = cookie ? await resolveSession(deps, cookie, anonymousRequest(request)) : null;
    if (!session) throw new AppError(cookie ? 'auth.session_expired' : 'auth.unauthenticated', cookie ? 'Your session has ended; sign in again' : 'Sign in first');
    if (!SAFE_METHODS.has(request.method)) {
      const sent = request.headers[CSRF_HEADER];
      if (typeof sent !== 'string' || !safeEqual(sent, session.csrfToken)) throw new AppError('auth.csrf_failed', 'The request lacks a valid CSRF token');
    }
    request.actor = { principal: session.principal, channel: 'web', ...base };
    if (session.stage !== 'active' && !request.routeOptions.config?.partialSession) {
      throw session.stage === 'mfa'
        ? new AppError('auth.mfa_required', 'Finish signing in with your second factor first')
        : new AppError('auth.mfa_enrolment_required', 'Your role requires a second factor: set up an authenticator app first');
    }
    await refuseOutsideRoleNetworks(deps, request.actor);
    await refuseWritesInLockdown(deps, request, request.actor);
  });
}

/**
 * Routes that stay open for writes in lockdown: a person's own sign-in, second factors, password
 * and sessions, reading their notices, and revoking a token. Lockdown stops changes to the data,
 * not people securing their own accounts (adding a second factor from a session already signed in
 * is refused by the second-factor service: a stolen session must not make itself a way back).
 */
const OPEN_IN_LOCKDOWN = [/^\/api\/v1\/auth\//, /^\/api\/v1\/notices(\/|$)/, /^\/api\/v1\/tokens\/:id\/revoke$/];

/**
 * What those who handle alerts may still write in lockdown: the alerts and detection themselves
 * (lifting it among them), decoys, and shutting accounts out (ending sessions, disabling users).
 * Everything else waits, for them too: a stolen administrator session is what a lockdown is for.
 * The rehearsal clock (a server started with RAMPART_SIMULATED_CLOCK only) keeps moving.
 */
const HANDLERS_IN_LOCKDOWN = [
  /^\/api\/v1\/alerts(\/|$)/,
  /^\/api\/v1\/detection(\/|$)/,
  /^\/api\/v1\/honeytokens(\/|$)/,
  /^\/api\/v1\/users\/:id\/sessions\/end$/,
  /^\/api\/v1\/users\/:id\/disable$/,
  /^\/api\/v1\/simulation\//,
];

/**
 * During lockdown only those who handle alerts may write, and only to contain the attack and to
 * lift the lockdown; routes that only read go on. Costs nothing while there is no lockdown: the
 * state is cached per process.
 */
async function refuseWritesInLockdown(deps: AuthDeps, request: FastifyRequest, actor: ActorContext): Promise<void> {
  if (SAFE_METHODS.has(request.method) || request.routeOptions.config?.access === 'read') return;
  const route = request.routeOptions.url ?? '';
  if (OPEN_IN_LOCKDOWN.some((open) => open.test(route))) return;
  await refuseWriteInLockdown(deps, async () => HANDLERS_IN_LOCKDOWN.some((open) => open.test(route)) && (await accessOf(deps, actor)).may('alerts.handle'));
}

/**
 * A role counts only from its own networks; a principal none of whose roles counts from where the
 * request came is refused outright (and the refusal kept in the audit log, errors.ts).
 */
async function refuseOutsideRoleNetworks(deps: AuthDeps, actor: ActorContext): Promise<void> {
  const access = await accessOf(deps, actor);
  if (access.refusedByNetwork) throw new AppError('auth.network_refused', 'Your roles do not allow access from this network');
}

/** Where a request came from, for entries written before (or without) a principal. */
export function anonymousRequest(request: FastifyRequest, channel: AnonymousRequest['channel'] = 'web'): AnonymousRequest {
  return { channel, requestId: request.id, sourceAddress: request.ip ?? null, userAgent: request.headers['user-agent']?.slice(0, 500) ?? null };
}

/** The actor of an authenticated route; routes marked public have none. */
export function actorOf(request: FastifyRequest): ActorContext {
  if (!request.actor) throw new AppError('auth.unauthenticated', 'Sign in first');
  return request.actor;
}
