import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { SESSION_COOKIE, actorOf, anonymousRequest } from '../../http/authenticate.js';
import { errorResponses } from '../../http/schemas.js';
import { completeEnrolment, completeSecondFactor, passkeySignInOptions, signInWithPasskey, type AuthDeps, type LoginResult } from '../auth/auth.service.js';
import { SessionBody, sessionCookieOptions } from '../auth/auth.routes.js';
import {
  completePasskeyRegistration,
  confirmTotp,
  mfaStatusOf,
  passkeyChallenge,
  regenerateRecoveryCodes,
  removeFactor,
  resetMfa,
  startPasskeyRegistration,
  startTotpEnrolment,
  stepUp,
  type SecondFactorProof,
} from './mfa.service.js';
import { relyingPartyOf } from './passkeys.js';

const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

/** A browser's answer to a WebAuthn ceremony (`PublicKeyCredential.toJSON()`), checked in full by the service. */
const CredentialJson = Type.Object(
  {
    id: Type.String({ maxLength: 1024 }),
    rawId: Type.String({ maxLength: 1024 }),
    type: Type.Literal('public-key'),
    response: Type.Record(Type.String({ maxLength: 64 }), Type.Unknown()),
    clientExtensionResults: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Unknown())),
    authenticatorAttachment: Type.Optional(Type.String({ maxLength: 32 })),
  },
  { additionalProperties: false },
);

const PasskeyAnswer = Type.Object({ challengeId: Type.String({ maxLength: 64 }), response: CredentialJson }, { additionalProperties: false });

const ProofBody = Type.Object(
  {
    code: Type.Optional(Type.String({ maxLength: 20, description: 'The six digits the authenticator app shows.' })),
    recoveryCode: Type.Optional(Type.String({ maxLength: 40, description: 'One of the recovery codes; each works once.' })),
    passkey: Type.Optional(Type.Object({ ...PasskeyAnswer.properties }, { additionalProperties: false, description: 'A passkey answer to a challenge from POST /api/v1/auth/passkeys/challenge.' })),
  },
  { additionalProperties: false, minProperties: 1, maxProperties: 1 },
);

const Challenge = Type.Object({
  challengeId: Type.String({ description: 'Send it back with the answer; it works once, for five minutes.' }),
  options: Type.Record(Type.String(), Type.Unknown(), { description: 'For navigator.credentials.create() or .get() (WebAuthn JSON form).' }),
});

const PasskeySchema = Type.Object({ id: Type.String(), label: Type.String(), createdAt: Type.String(), lastUsedAt: Type.Union([Type.String(), Type.Null()]) });

const RecoveryCodes = Type.Array(Type.String(), { description: 'Shown this once: keep them somewhere safe, away from the phone.' });

const MfaStatusSchema = Type.Object({
  required: Type.Boolean({ description: 'A role of the user requires a second factor.' }),
  totp: Type.Array(Type.Object({ id: Type.String(), label: Type.String(), createdAt: Type.String(), lastUsedAt: Type.Union([Type.String(), Type.Null()]) })),
  passkeys: Type.Array(PasskeySchema),
  recoveryCodesLeft: Type.Integer(),
});

/**
 * Second factors: finishing a sign-in with one, setting up an authenticator app, step-up before
 * sensitive operations, recovery codes, and an administrator's reset for someone who lost theirs.
 * Routes marked `partialSession` also answer a session that has passed only the password.
 */
export function registerMfaRoutes(app: FastifyInstance, deps: AuthDeps): void {
  const rateLimit = { max: deps.config.authRateLimitPerMinute, timeWindow: '1 minute' };
  const setCookie = (reply: FastifyReply, result: LoginResult): void => {
    reply.setCookie(SESSION_COOKIE, result.sessionToken, sessionCookieOptions(deps, result));
  };
  const sessionAnswer = (result: LoginResult) => ({ user: result.user, csrfToken: result.csrfToken, expiresAt: result.expiresAt, stage: result.stage });
  const rp = relyingPartyOf(deps.config.publicUrl);

  app.post('/api/v1/auth/mfa/verify', {
    config: { partialSession: true, rateLimit },
    schema: {
      tags: ['auth'],
      summary: 'Finish signing in with a code from the authenticator app, a passkey or a recovery code; the session gets a new secret',
      body: ProofBody,
      response: { 200: SessionBody, ...errorResponses },
    },
    handler: async (request, reply) => {
      const result = await completeSecondFactor(deps, request.cookies[SESSION_COOKIE] ?? '', request.body as SecondFactorProof, anonymousRequest(request));
      setCookie(reply, result);
      return sessionAnswer(result);
    },
  });

  app.get('/api/v1/auth/mfa', {
    config: { partialSession: true },
    schema: { tags: ['auth'], summary: 'Your second factors, and whether your roles require one', response: { 200: MfaStatusSchema, ...errorResponses } },
    handler: async (request) => mfaStatusOf(deps, actorOf(request)),
  });

  app.post('/api/v1/auth/mfa/totp', {
    config: { partialSession: true, rateLimit },
    schema: {
      tags: ['auth'],
      summary: 'Start setting up an authenticator app: a new secret to scan as a QR code, in use once confirmed',
      body: Type.Object(
        {
          label: Type.Optional(Type.String({ maxLength: 100 })),
          password: Type.Optional(Type.String({ maxLength: 1024, description: 'Your current password: needed to set up a first factor from a session that is already signed in.' })),
        },
        { additionalProperties: false },
      ),
      response: { 200: Type.Object({ factorId: Type.String(), secret: Type.String(), uri: Type.String() }), ...errorResponses },
    },
    handler: async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return startTotpEnrolment(deps, actorOf(request), (request.body as { label?: string; password?: string } | undefined) ?? {});
    },
  });

  app.post('/api/v1/auth/mfa/totp/confirm', {
    config: { partialSession: true, rateLimit },
    schema: {
      tags: ['auth'],
      summary: 'Confirm a new authenticator app with a code from it; a session that had to set one up becomes a full one',
      body: Type.Object({ factorId: Type.String({ maxLength: 64 }), code: Type.String({ maxLength: 20 }) }, { additionalProperties: false }),
      response: {
        200: Type.Object({ recoveryCodes: Type.Union([RecoveryCodes, Type.Null()]), session: Type.Union([SessionBody, Type.Null()]) }),
        ...errorResponses,
      },
    },
    handler: async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const actor = actorOf(request);
      const body = request.body as { factorId: string; code: string };
      const { recoveryCodes } = await confirmTotp(deps, actor, body.factorId, body.code);
      const promoted = actor.principal.kind === 'user' ? await completeEnrolment(deps, actor.principal.sessionId, anonymousRequest(request)) : null;
      if (promoted) setCookie(reply, promoted);
      return { recoveryCodes, session: promoted ? sessionAnswer(promoted) : null };
    },
  });

  app.delete('/api/v1/auth/mfa/totp/:id', {
    schema: { tags: ['auth'], summary: 'Remove one of your authenticator apps (needs a recent step-up)', params: IdParams, response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      const actor = actorOf(request);
      const roles = actor.principal.kind === 'user' ? actor.principal.roles : [];
      await removeFactor(deps, actor, 'totp', (request.params as { id: string }).id, roles);
      return reply.status(204).send();
    },
  });

  app.post('/api/v1/auth/mfa/recovery-codes', {
    schema: { tags: ['auth'], summary: 'Replace your recovery codes with ten new ones (needs a recent step-up)', response: { 200: Type.Object({ recoveryCodes: RecoveryCodes }), ...errorResponses } },
    handler: async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return { recoveryCodes: await regenerateRecoveryCodes(deps, actorOf(request)) };
    },
  });

  app.post('/api/v1/auth/step-up', {
    config: { rateLimit },
    schema: {
      tags: ['auth'],
      summary: 'Prove your second factor again; sensitive operations accept it for five minutes',
      body: ProofBody,
      response: { 200: Type.Object({ validUntil: Type.String() }), ...errorResponses },
    },
    handler: async (request) => stepUp(deps, actorOf(request), rp, request.body as SecondFactorProof),
  });

  app.post('/api/v1/auth/passkeys/registration-options', {
    config: { partialSession: true, rateLimit },
    schema: {
      tags: ['auth'],
      summary: 'Start adding a passkey: options for navigator.credentials.create()',
      body: Type.Object(
        { password: Type.Optional(Type.String({ maxLength: 1024, description: 'Your current password: needed to add a first factor from a session that is already signed in.' })) },
        { additionalProperties: false },
      ),
      response: { 200: Challenge, ...errorResponses },
    },
    handler: async (request) => startPasskeyRegistration(deps, actorOf(request), rp, (request.body as { password?: string } | undefined) ?? {}),
  });

  app.post('/api/v1/auth/passkeys', {
    config: { partialSession: true, rateLimit },
    schema: {
      tags: ['auth'],
      summary: "Keep a new passkey, from the browser's answer; a session that had to set up a second factor becomes a full one",
      body: Type.Object({ ...PasskeyAnswer.properties, label: Type.Optional(Type.String({ maxLength: 100 })) }, { additionalProperties: false }),
      response: {
        200: Type.Object({ passkey: Type.Object({ id: Type.String(), label: Type.String() }), recoveryCodes: Type.Union([RecoveryCodes, Type.Null()]), session: Type.Union([SessionBody, Type.Null()]) }),
        ...errorResponses,
      },
    },
    handler: async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const actor = actorOf(request);
      const { recoveryCodes, passkey } = await completePasskeyRegistration(deps, actor, rp, request.body as { challengeId: string; response: unknown; label?: string });
      const promoted = actor.principal.kind === 'user' ? await completeEnrolment(deps, actor.principal.sessionId, anonymousRequest(request)) : null;
      if (promoted) setCookie(reply, promoted);
      return { passkey, recoveryCodes, session: promoted ? sessionAnswer(promoted) : null };
    },
  });

  app.post('/api/v1/auth/passkeys/challenge', {
    config: { partialSession: true, rateLimit },
    schema: {
      tags: ['auth'],
      summary: 'A challenge for your passkeys, to finish signing in or to step up: options for navigator.credentials.get()',
      response: { 200: Challenge, ...errorResponses },
    },
    handler: async (request) => passkeyChallenge(deps, actorOf(request), rp),
  });

  app.delete('/api/v1/auth/passkeys/:id', {
    schema: { tags: ['auth'], summary: 'Remove one of your passkeys (needs a recent step-up)', params: Type.Object({ id: Type.String({ maxLength: 1024 }) }), response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      const actor = actorOf(request);
      const roles = actor.principal.kind === 'user' ? actor.principal.roles : [];
      await removeFactor(deps, actor, 'passkey', (request.params as { id: string }).id, roles);
      return reply.status(204).send();
    },
  });

  app.post('/api/v1/auth/passkeys/sign-in-options', {
    config: { public: true, rateLimit },
    schema: { tags: ['auth'], summary: 'A challenge for signing in with a passkey alone: options for navigator.credentials.get()', response: { 200: Challenge, ...errorResponses } },
    handler: async () => passkeySignInOptions(deps),
  });

  app.post('/api/v1/auth/passkeys/sign-in', {
    config: { public: true, rateLimit },
    schema: {
      tags: ['auth'],
      summary: 'Sign in with a passkey alone (it proves the device and, with user verification, the person); starts a full session',
      body: PasskeyAnswer,
      response: { 200: SessionBody, ...errorResponses },
    },
    handler: async (request, reply) => {
      const result = await signInWithPasskey(deps, request.body as { challengeId: string; response: unknown }, anonymousRequest(request));
      setCookie(reply, result);
      return sessionAnswer(result);
    },
  });

  app.post('/api/v1/users/:id/mfa/reset', {
    schema: {
      tags: ['users'],
      summary: "Remove another user's second factors and end their sessions, for someone who lost theirs (users.manage, recent step-up)",
      params: IdParams,
      response: { 200: Type.Object({ factorsRemoved: Type.Integer(), sessionsEnded: Type.Integer() }), ...errorResponses },
    },
    handler: async (request) => resetMfa(deps, actorOf(request), (request.params as { id: string }).id),
  });
}
