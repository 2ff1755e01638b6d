import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { CSRF_HEADER, SESSION_COOKIE, actorOf, anonymousRequest } from '../../http/authenticate.js';
import { errorResponses } from '../../http/schemas.js';
import { AppError } from '../../shared/errors.js';
import { completeSetup, setupStatus } from '../setup/setup.service.js';
import { UserSchema } from '../users/users.routes.js';
import { IdParams } from '../../http/record-schemas.js';
import { changePassword, completePasswordReset, requestPasswordReset, RESET_LINK_MINUTES, sendResetLink } from './passwords.service.js';
import { login, logout, resolveSession, stageAfterPassword, startSession, type AuthDeps, type LoginResult } from './auth.service.js';

export const SessionBody = Type.Object({
  user: UserSchema,
  csrfToken: Type.String({ description: `Send it back in the ${CSRF_HEADER} header on every write made with the session cookie.` }),
  expiresAt: Type.String({ description: 'When the session ends at the latest.' }),
  stage: Type.String({
    enum: ['mfa', 'enrol', 'active'],
    description: 'active: signed in. mfa: send a code to POST /api/v1/auth/mfa/verify next. enrol: your role requires a second factor; set one up with POST /api/v1/auth/mfa/totp first.',
  }),
});

/** The session cookie: out of reach of scripts, sent only to this site, over HTTPS when the site is. */
export function sessionCookieOptions(deps: AuthDeps, result: Pick<LoginResult, 'expiresAt'>) {
  return { httpOnly: true, sameSite: 'lax', secure: deps.config.publicUrl.startsWith('https://'), path: '/', expires: new Date(result.expiresAt) } as const;
}

export function registerAuthRoutes(app: FastifyInstance, deps: AuthDeps): void {
  const rateLimit = { max: deps.config.authRateLimitPerMinute, timeWindow: '1 minute' };

  const setCookie = (reply: FastifyReply, result: LoginResult): void => {
    reply.setCookie(SESSION_COOKIE, result.sessionToken, sessionCookieOptions(deps, result));
  };

  app.post('/api/v1/auth/login', {
    config: { public: true, rateLimit },
    schema: {
      tags: ['auth'],
      summary: 'Sign in with email and password; starts a cookie session, which waits for a second factor when the account has one',
      body: Type.Object({ email: Type.String({ maxLength: 254 }), password: Type.String({ maxLength: 1024 }) }, { additionalProperties: false }),
      response: { 200: SessionBody, ...errorResponses },
    },
    handler: async (request, reply) => {
      const body = request.body as { email: string; password: string };
      const result = await login(deps, body, anonymousRequest(request));
      setCookie(reply, result);
      return { user: result.user, csrfToken: result.csrfToken, expiresAt: result.expiresAt, stage: result.stage };
    },
  });

  app.post('/api/v1/auth/logout', {
    config: { public: true },
    schema: { tags: ['auth'], summary: 'End the cookie session', response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      const cookie = request.cookies[SESSION_COOKIE];
      if (cookie) {
        const session = await resolveSession(deps, cookie, anonymousRequest(request));
        // Logging out is a write: without the CSRF token another site could sign a user out.
        if (session && request.headers[CSRF_HEADER] === session.csrfToken) await logout(deps, { ...anonymousRequest(request), principal: session.principal }, cookie);
        else if (session) throw new AppError('auth.csrf_failed', 'The request lacks a valid CSRF token');
      }
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.status(204).send();
    },
  });

  app.get('/api/v1/auth/session', {
    config: { partialSession: true },
    schema: { tags: ['auth'], summary: 'The signed-in user and the CSRF token of the session', response: { 200: SessionBody, ...errorResponses } },
    handler: async (request) => {
      if (actorOf(request).channel !== 'web') throw new AppError('auth.forbidden', 'This route answers for a browser session, not an API token');
      const session = await resolveSession(deps, request.cookies[SESSION_COOKIE] ?? '', anonymousRequest(request));
      if (!session) throw new AppError('auth.session_expired', 'Your session has ended; sign in again');
      const row = await deps.db.selectFrom('sessions').select('expires_at').where('id_hash', '=', session.principal.sessionId).executeTakeFirstOrThrow();
      return { user: session.user, csrfToken: session.csrfToken, expiresAt: row.expires_at, stage: session.stage };
    },
  });

  app.post('/api/v1/auth/password', {
    schema: {
      tags: ['auth'],
      summary: 'Change your password (browser session): ends your other sessions and gives this one a new secret and CSRF token',
      body: Type.Object({ currentPassword: Type.String({ maxLength: 1024 }), newPassword: Type.String({ maxLength: 1024 }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ csrfToken: Type.String(), expiresAt: Type.String() }), ...errorResponses },
    },
    handler: async (request, reply) => {
      const result = await changePassword(deps, actorOf(request), request.body as { currentPassword: string; newPassword: string });
      reply.setCookie(SESSION_COOKIE, result.sessionToken, sessionCookieOptions(deps, result));
      return { csrfToken: result.csrfToken, expiresAt: result.expiresAt };
    },
  });

  app.post('/api/v1/auth/password-reset', {
    config: { public: true, rateLimit },
    schema: {
      tags: ['auth'],
      summary: `Ask for a password reset link by mail; the answer is the same whether or not the account exists. The link works once, for ${RESET_LINK_MINUTES} minutes`,
      body: Type.Object({ email: Type.String({ maxLength: 254 }) }, { additionalProperties: false }),
      response: { 202: Type.Object({ message: Type.String() }), ...errorResponses },
    },
    handler: async (request, reply) => {
      requestPasswordReset(deps, (request.body as { email: string }).email, anonymousRequest(request));
      return reply.status(202).send({ message: 'If an account signs in with this address, a link to set a new password is on its way.' });
    },
  });

  app.post('/api/v1/auth/password-reset/complete', {
    config: { public: true, rateLimit },
    schema: {
      tags: ['auth'],
      summary: 'Set a new password with the secret from a reset link; ends every session of the account. Sign in afterwards (with the second factor, if any)',
      body: Type.Object({ token: Type.String({ maxLength: 200 }), newPassword: Type.String({ maxLength: 1024 }) }, { additionalProperties: false }),
      response: { 204: Type.Null(), ...errorResponses },
    },
    handler: async (request, reply) => {
      await completePasswordReset(deps, request.body as { token: string; newPassword: string }, anonymousRequest(request));
      return reply.status(204).send();
    },
  });

  app.post('/api/v1/users/:id/password-reset', {
    schema: {
      tags: ['users'],
      summary: 'Mail a user a one-time link to set a new password (users.manage; a recent second factor in a browser)',
      params: IdParams,
      response: { 202: Type.Object({ expiresInMinutes: Type.Integer() }), ...errorResponses },
    },
    handler: async (request, reply) => reply.status(202).send(await sendResetLink(deps, actorOf(request), (request.params as { id: string }).id)),
  });

  app.get('/api/v1/setup', {
    config: { public: true },
    schema: { tags: ['auth'], summary: 'Whether the first administrator still has to be created', response: { 200: Type.Object({ needed: Type.Boolean() }), ...errorResponses } },
    handler: async () => setupStatus(deps),
  });

  app.post('/api/v1/setup', {
    config: { public: true, rateLimit },
    schema: {
      tags: ['auth'],
      summary: 'Create the first administrator with the one-time setup secret; signs them in',
      body: Type.Object(
        { token: Type.String({ maxLength: 200 }), email: Type.String({ maxLength: 254 }), name: Type.String({ maxLength: 200 }), password: Type.String({ maxLength: 1024 }) },
        { additionalProperties: false },
      ),
      response: { 201: SessionBody, ...errorResponses },
    },
    handler: async (request, reply) => {
      const body = request.body as { token: string; email: string; name: string; password: string };
      const user = await completeSetup(deps, anonymousRequest(request), body);
      const result = await startSession(deps, user, anonymousRequest(request), { stage: await stageAfterPassword(deps, user) });
      setCookie(reply, result);
      return reply.status(201).send({ user: result.user, csrfToken: result.csrfToken, expiresAt: result.expiresAt, stage: result.stage });
    },
  });
}
