import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { DataDeps } from '../../data/record-store.js';
import { actorOf } from '../../http/authenticate.js';
import { IdParams } from '../../http/record-schemas.js';
import { errorResponses } from '../../http/schemas.js';
import { AppError } from '../../shared/errors.js';
import { createToken, listTokens, revokeToken } from './tokens.service.js';

const TokenSchema = Type.Object(
  {
    id: Type.String(),
    userId: Type.String(),
    name: Type.String(),
    prefix: Type.String({ description: 'The first characters of the token, to tell tokens apart.' }),
    scopes: Type.Array(Type.String()),
    createdAt: Type.String(),
    expiresAt: Type.String(),
    lastUsedAt: Type.Union([Type.String(), Type.Null()]),
    lastUsedAddress: Type.Union([Type.String(), Type.Null()], { description: 'Where the token was last used from.' }),
    revokedAt: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'Token' },
);

export function registerTokenRoutes(app: FastifyInstance, deps: DataDeps): void {
  app.get('/api/v1/tokens', {
    schema: { tags: ['tokens'], summary: 'List API tokens (your own; administrators see all)', response: { 200: Type.Object({ items: Type.Array(TokenSchema), nextCursor: Type.Null() }), ...errorResponses } },
    handler: async (request) => ({ items: await listTokens(deps, actorOf(request)), nextCursor: null }),
  });

  app.post('/api/v1/tokens', {
    schema: {
      tags: ['tokens'],
      summary: 'Create an API token; the token is shown only in this answer',
      body: Type.Object(
        {
          name: Type.String({ maxLength: 100 }),
          userId: Type.Optional(Type.String({ description: 'Whose token (administrators); yourself by default.' })),
          scopes: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 50, description: 'Like contacts:read or *:write; default *:read and *:write.' })),
          expires: Type.Optional(Type.String({ maxLength: 40, description: 'A lifetime such as 30d, or an ISO date; default 90 days, at most 366.' })),
        },
        { additionalProperties: false },
      ),
      response: { 201: Type.Object({ token: Type.String(), record: TokenSchema }), ...errorResponses },
    },
    handler: async (request, reply) => {
      const ctx = actorOf(request);
      const body = request.body as { name: string; userId?: string; scopes?: string[]; expires?: string };
      if (ctx.principal.kind === 'token') throw new AppError('auth.forbidden', 'An API token cannot create tokens');
      const self = ctx.principal.kind === 'user' ? ctx.principal.userId : '';
      reply.header('cache-control', 'no-store');
      return reply.status(201).send(await createToken(deps, ctx, { ...body, userId: body.userId ?? self }));
    },
  });

  app.post('/api/v1/tokens/:id/revoke', {
    schema: { tags: ['tokens'], summary: 'Revoke an API token', params: IdParams, response: { 200: TokenSchema, ...errorResponses } },
    handler: async (request) => revokeToken(deps, actorOf(request), (request.params as { id: string }).id),
  });
}
