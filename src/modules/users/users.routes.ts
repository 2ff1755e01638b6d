import type { FastifyInstance } from 'fastify';
import { unlockSignInOf } from '../auth/auth.service.js';
import { Type } from 'typebox';
import type { DataDeps } from '../../data/record-store.js';
import { actorOf } from '../../http/authenticate.js';
import { IdParams } from '../../http/record-schemas.js';
import { errorResponses } from '../../http/schemas.js';
import { createTeam, listTeams } from '../teams/teams.service.js';
import { createUser, disableUser, listUsers, readUser, setOwnLocale, setUserAccess } from './users.service.js';

/** A user as the API shows it; no password hash, ever. */
export const UserSchema = Type.Object(
  {
    id: Type.String(),
    email: Type.String(),
    name: Type.String(),
    roles: Type.Array(Type.String()),
    teamId: Type.Union([Type.String(), Type.Null()]),
    status: Type.String({ enum: ['active', 'disabled'] }),
    locale: Type.String(),
    createdAt: Type.String(),
    updatedAt: Type.String(),
    lastLoginAt: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'User' },
);

const TeamSchema = Type.Object({ id: Type.String(), name: Type.String(), parentId: Type.Union([Type.String(), Type.Null()]), createdAt: Type.String(), updatedAt: Type.String() }, { $id: 'Team' });

export function registerUserRoutes(app: FastifyInstance, deps: DataDeps): void {
  app.put('/api/v1/auth/locale', {
    schema: {
      tags: ['auth'],
      summary: 'Your language: security notices and their mail are written in it',
      body: Type.Object({ locale: Type.String({ enum: ['en', 'zh-CN'] }) }, { additionalProperties: false }),
      response: { 200: UserSchema, ...errorResponses },
    },
    handler: async (request) => setOwnLocale(deps, actorOf(request), (request.body as { locale: 'en' | 'zh-CN' }).locale),
  });

  app.get('/api/v1/users', {
    schema: { tags: ['users'], summary: 'List users (users.read)', response: { 200: Type.Object({ items: Type.Array(UserSchema), nextCursor: Type.Null() }), ...errorResponses } },
    handler: async (request) => ({ items: await listUsers(deps, actorOf(request)), nextCursor: null }),
  });

  app.post('/api/v1/users', {
    schema: {
      tags: ['users'],
      summary: 'Create a user (users.manage)',
      body: Type.Object(
        {
          email: Type.String({ maxLength: 254 }),
          name: Type.String({ maxLength: 200 }),
          password: Type.String({ maxLength: 1024, description: 'At least 15 characters, or 12 when a role of the user requires a second factor; not the name or email, not on the list of passwords attackers try first.' }),
          roles: Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 20 }),
          teamId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
          locale: Type.Optional(Type.String({ enum: ['en', 'zh-CN'] })),
        },
        { additionalProperties: false },
      ),
      response: { 201: UserSchema, ...errorResponses },
    },
    handler: async (request, reply) => reply.status(201).send(await createUser(deps, actorOf(request), request.body as never)),
  });

  app.get('/api/v1/users/:id', {
    schema: { tags: ['users'], summary: 'Read a user', params: IdParams, response: { 200: UserSchema, ...errorResponses } },
    handler: async (request) => readUser(deps, actorOf(request), (request.params as { id: string }).id),
  });

  app.patch('/api/v1/users/:id', {
    schema: {
      tags: ['users'],
      summary: "Change a user's roles or team (users.manage); applies to their next request",
      params: IdParams,
      body: Type.Object(
        {
          roles: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { minItems: 1, maxItems: 20, description: 'The whole new set of roles.' })),
          teamId: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()], { description: 'The new team, or null for none.' })),
        },
        { additionalProperties: false, minProperties: 1 },
      ),
      response: { 200: UserSchema, ...errorResponses },
    },
    handler: async (request) => setUserAccess(deps, actorOf(request), (request.params as { id: string }).id, request.body as { roles?: string[]; teamId?: string | null }),
  });

  app.post('/api/v1/users/:id/disable', {
    schema: { tags: ['users'], summary: 'Disable a user; their sessions and tokens stop working at once', params: IdParams, response: { 200: UserSchema, ...errorResponses } },
    handler: async (request) => disableUser(deps, actorOf(request), (request.params as { id: string }).id),
  });

  app.post('/api/v1/users/:id/unlock', {
    schema: {
      tags: ['users'],
      summary: 'Lift the sign-in lock a hundred failed attempts in a row put on a user, and forget their failures (users.manage)',
      params: IdParams,
      response: { 200: Type.Object({ unlocked: Type.Boolean({ description: 'Whether there was a lock or a failure to lift.' }) }), ...errorResponses },
    },
    handler: async (request) => unlockSignInOf(deps, actorOf(request), (request.params as { id: string }).id),
  });

  app.get('/api/v1/teams', {
    schema: { tags: ['teams'], summary: 'List teams', response: { 200: Type.Object({ items: Type.Array(TeamSchema), nextCursor: Type.Null() }), ...errorResponses } },
    handler: async (request) => ({ items: await listTeams(deps, actorOf(request)), nextCursor: null }),
  });

  app.post('/api/v1/teams', {
    schema: {
      tags: ['teams'],
      summary: 'Create a team (administrators)',
      body: Type.Object({ name: Type.String({ maxLength: 100 }), parentId: Type.Optional(Type.Union([Type.String(), Type.Null()])) }, { additionalProperties: false }),
      response: { 201: TeamSchema, ...errorResponses },
    },
    handler: async (request, reply) => reply.status(201).send(await createTeam(deps, actorOf(request), request.body as never)),
  });

}
