import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/authenticate.js';
import { errorResponses } from '../../http/schemas.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { endOtherSessions, endOwnSession, endUserSessions, listOwnSessions, listUserSessions } from './sessions.service.js';

const SessionSchema = Type.Object({
  id: Type.String({ description: "A SHA-256 of the session's secret: names it without being able to use it." }),
  current: Type.Boolean({ description: 'The session this request came with.' }),
  device: Type.String({ description: 'Browser and system, as the User-Agent claims them.' }),
  sourceAddress: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  lastSeenAt: Type.String({ description: 'Kept to the minute.' }),
  expiresAt: Type.String(),
  stage: Type.String({ enum: ['mfa', 'enrol', 'active'] }),
});

const SessionList = Type.Object({ items: Type.Array(SessionSchema), nextCursor: Type.Null() });
const Ended = Type.Object({ ended: Type.Integer() });
const IdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

/** Sessions: a user's own, and an administrator's view of anyone's. */
export function registerSessionRoutes(app: FastifyInstance, deps: AuthDeps): void {
  app.get('/api/v1/auth/sessions', {
    schema: { tags: ['auth'], summary: 'Your sessions: device, address, when last seen', response: { 200: SessionList, ...errorResponses } },
    handler: async (request) => ({ items: await listOwnSessions(deps, actorOf(request)), nextCursor: null }),
  });

  app.delete('/api/v1/auth/sessions/:id', {
    schema: { tags: ['auth'], summary: 'End one of your sessions', params: IdParams, response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      await endOwnSession(deps, actorOf(request), (request.params as { id: string }).id);
      return reply.status(204).send();
    },
  });

  app.post('/api/v1/auth/sessions/end-others', {
    schema: { tags: ['auth'], summary: 'End all your sessions but this one', response: { 200: Ended, ...errorResponses } },
    handler: async (request) => endOtherSessions(deps, actorOf(request)),
  });

  app.get('/api/v1/users/:id/sessions', {
    schema: { tags: ['users'], summary: "A user's sessions (users.manage)", params: IdParams, response: { 200: SessionList, ...errorResponses } },
    handler: async (request) => ({ items: await listUserSessions(deps, actorOf(request), (request.params as { id: string }).id), nextCursor: null }),
  });

  app.post('/api/v1/users/:id/sessions/end', {
    schema: { tags: ['users'], summary: "End all of a user's sessions (users.manage, recent step-up)", params: IdParams, response: { 200: Ended, ...errorResponses } },
    handler: async (request) => endUserSessions(deps, actorOf(request), (request.params as { id: string }).id),
  });
}
