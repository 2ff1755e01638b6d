import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { SESSION_COOKIE, actorOf, anonymousRequest } from '../../http/authenticate.js';
import { describeError } from '../../http/errors.js';
import { errorResponses } from '../../http/schemas.js';
import { AppError } from '../../shared/errors.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { sessionCookieOptions } from '../auth/auth.routes.js';
import { completeSso, signInMethods, startSsoSignIn, startSsoStepUp, type SsoStart } from './sso.service.js';

/** The cookie that ties the provider's answer to the browser that went there; only the callback sees it. */
const BROWSER_COOKIE = 'rampart_sso';
const BROWSER_COOKIE_PATH = '/api/v1/auth/oidc';

const Redirect = Type.Null({ description: 'A redirect (Location header).' });

/**
 * Single sign-on with an OpenID provider: the sign-in methods the sign-in page offers, the
 * redirect to the provider, its answer, and a step-up at the provider for a signed-in session.
 */
export function registerSsoRoutes(app: FastifyInstance, deps: AuthDeps): void {
  const rateLimit = { max: deps.config.authRateLimitPerMinute, timeWindow: '1 minute' };

  const bindBrowser = (reply: FastifyReply, started: SsoStart): void => {
    reply.setCookie(BROWSER_COOKIE, started.browserKey, {
      httpOnly: true,
      // Lax: the cookie comes along when the provider sends the browser back with a top-level GET.
      sameSite: 'lax',
      secure: deps.config.publicUrl.startsWith('https://'),
      path: BROWSER_COOKIE_PATH,
      expires: new Date(started.expiresAt),
    });
  };

  /** An unreachable provider is the operator's to know about; the log says so, without the details of the request. */
  const noteUnavailable = (request: FastifyRequest, error: unknown): void => {
    if (error instanceof AppError && error.code === 'auth.sso_unavailable') request.log.warn({ requestId: request.id, error: describeError(error.cause) }, 'the single sign-on provider could not be reached');
  };

  app.get('/api/v1/auth/methods', {
    config: { public: true },
    schema: {
      tags: ['auth'],
      summary: 'The ways to sign in besides a password: the single sign-on provider, when one is configured',
      response: {
        200: Type.Object({
          oidc: Type.Union([Type.Object({ name: Type.String({ description: 'The name to show on the sign-in button.' }) }), Type.Null()], {
            description: 'Sign in at GET /api/v1/auth/oidc/start; null when single sign-on is not configured.',
          }),
        }),
        ...errorResponses,
      },
    },
    handler: async () => signInMethods(deps),
  });

  app.get('/api/v1/auth/oidc/start', {
    config: { public: true, rateLimit },
    schema: {
      tags: ['auth'],
      summary: 'Start signing in at the single sign-on provider: redirects the browser there (code flow with PKCE)',
      response: { 302: Redirect, ...errorResponses },
    },
    handler: async (request, reply) => {
      const started = await startSsoSignIn(deps).catch((error: unknown) => {
        noteUnavailable(request, error);
        throw error;
      });
      bindBrowser(reply, started);
      return reply.header('cache-control', 'no-store').redirect(started.authorizationUrl, 302);
    },
  });

  app.post('/api/v1/auth/oidc/step-up', {
    config: { rateLimit },
    schema: {
      tags: ['auth'],
      summary: "Confirm it is you at the single sign-on provider instead of with a factor here (when the provider's second factor counts): go to authorizationUrl",
      response: { 200: Type.Object({ authorizationUrl: Type.String({ description: 'Send the browser here; the provider sends it back to the callback.' }) }), ...errorResponses },
    },
    handler: async (request, reply) => {
      const started = await startSsoStepUp(deps, actorOf(request)).catch((error: unknown) => {
        noteUnavailable(request, error);
        throw error;
      });
      bindBrowser(reply, started);
      reply.header('cache-control', 'no-store');
      return { authorizationUrl: started.authorizationUrl };
    },
  });

  app.get('/api/v1/auth/oidc/callback', {
    config: { public: true, rateLimit },
    schema: {
      tags: ['auth'],
      summary: "Where the provider sends the browser back: signs in (or steps up) and redirects to /, or to /?sso_error=<code> when refused",
      querystring: Type.Object(
        {
          code: Type.Optional(Type.String({ maxLength: 4096 })),
          state: Type.Optional(Type.String({ maxLength: 512 })),
          iss: Type.Optional(Type.String({ maxLength: 2048 })),
          error: Type.Optional(Type.String({ maxLength: 256 })),
          error_description: Type.Optional(Type.String({ maxLength: 2048 })),
        },
        // Providers add parameters of their own (session_state, scope, …).
        { additionalProperties: true },
      ),
      response: { 302: Redirect, ...errorResponses },
    },
    handler: async (request, reply) => {
      const at = request.url.indexOf('?');
      const answer = { query: at === -1 ? '' : request.url.slice(at), browserKey: request.cookies[BROWSER_COOKIE], sessionToken: request.cookies[SESSION_COOKIE] };
      reply.header('cache-control', 'no-store');
      try {
        const outcome = await completeSso(deps, answer, anonymousRequest(request));
        reply.clearCookie(BROWSER_COOKIE, { path: BROWSER_COOKIE_PATH });
        if (outcome.kind === 'signed-in') reply.setCookie(SESSION_COOKIE, outcome.session.sessionToken, sessionCookieOptions(deps, outcome.session));
        return reply.redirect('/', 302);
      } catch (error) {
        if (!(error instanceof AppError) || error.code === 'auth.sso_not_configured') throw error;
        noteUnavailable(request, error);
        reply.clearCookie(BROWSER_COOKIE, { path: BROWSER_COOKIE_PATH });
        // Only our own code goes back to the page, never the provider's words.
        return reply.redirect(`/?sso_error=${encodeURIComponent(error.code)}`, 302);
      }
    },
  });
}
