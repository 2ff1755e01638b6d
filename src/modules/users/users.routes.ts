import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { DataDeps } from '../../data/record-store.js';
import { actorOf } from '../../http/authenticate.js';
import { IdParams } from '../../http/record-schemas.js';
import { errorResponses } from '../../http/schemas.js';
import { createTeam, listTeams } from '../teams/teams.service.js';
import { createUser, disableUser, getUserById, listUsers } from './users.service.js';
import { AppError } from '../../shared/errors.js';
import { hasRole } from '../../shared/principal.js';

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
const RoleSchema = Type.Object({ id: Type.String(), name: Type.String(), description: Type.String(), builtin: Type.Boolean() }, { $id: 'Role' });

export function registerUserRoutes(app: FastifyInstance, deps: DataDeps): void {
  app.get('/api/v1/users', {
    schema: { tags: ['users'], summary: 'List users (administrators and managers)', response: { 200: Type.Object({ items: Type.Array(UserSchema), nextCursor: Type.Null() }), ...errorResponses } },
    handler: async (request) => ({ items: await listUsers(deps, actorOf(request)), nextCursor: null }),
  });

  app.post('/api/v1/users', {
    schema: {
      tags: ['users'],
      summary: 'Create a user (administrators)',
      body: Type.Object(
        {
          email: Type.String({ maxLength: 254 }),
          name: Type.String({ maxLength: 200 }),
          password: Type.String({ maxLength: 1024, description: 'At least 12 characters; not your name or email.' }),
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
    handler: async (request) => {
      const ctx = actorOf(request);
      const id = (request.params as { id: string }).id;
      const self = ctx.principal.kind === 'user' || ctx.principal.kind === 'token' ? ctx.principal.userId : null;
      if (id !== self && !hasRole(ctx.principal, 'admin') && !hasRole(ctx.principal, 'manager')) throw new AppError('user.not_found', 'No such user');
      return getUserById(deps, id);
    },
  });

  app.post('/api/v1/users/:id/disable', {
    schema: { tags: ['users'], summary: 'Disable a user; their sessions and tokens stop working at once', params: IdParams, response: { 200: UserSchema, ...errorResponses } },
    handler: async (request) => disableUser(deps, actorOf(request), (request.params as { id: string }).id),
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

  app.get('/api/v1/roles', {
    schema: { tags: ['roles'], summary: 'List roles', response: { 200: Type.Object({ items: Type.Array(RoleSchema), nextCursor: Type.Null() }), ...errorResponses } },
    handler: async (request) => {
      actorOf(request);
      const rows = await deps.db.selectFrom('roles').selectAll().orderBy('id').execute();
      return { items: rows.map((r) => ({ id: r.id, name: r.name, description: r.description, builtin: r.builtin === 1 })), nextCursor: null };
    },
  });
}
