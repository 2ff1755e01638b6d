import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { DataDeps } from '../../data/record-store.js';
import { actorOf } from '../../http/authenticate.js';
import { IdParams } from '../../http/record-schemas.js';
import { errorResponses } from '../../http/schemas.js';
import { listNotices, markNoticesRead } from './notices.service.js';

const NoticeSchema = Type.Object(
  {
    id: Type.String(),
    kind: Type.String({ enum: ['sign_in.new_device', 'sign_in.locked', 'mfa.changed', 'password.changed', 'token.new_address', 'security.alert', 'approval.requested', 'approval.decided'] }),
    title: Type.String({ description: "In the user's language." }),
    body: Type.String(),
    createdAt: Type.String(),
    readAt: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'Notice' },
);

export function registerNoticeRoutes(app: FastifyInstance, deps: DataDeps): void {
  app.get('/api/v1/notices', {
    schema: {
      tags: ['notices'],
      summary: 'Your security notices, newest first: sign-ins from a new device or network, second-factor and password changes, tokens used from a new address; approval requests to decide, and decisions on your own',
      querystring: Type.Object(
        {
          unread: Type.Optional(Type.String({ enum: ['true', 'false'], description: 'true: only the notices not read yet.' })),
          limit: Type.Optional(Type.String({ pattern: '^(?:[1-9]|[1-9][0-9]|1[0-9][0-9]|200)$', description: 'At most this many (1 to 200; default 50).' })),
        },
        { additionalProperties: false },
      ),
      response: { 200: Type.Object({ items: Type.Array(NoticeSchema), unread: Type.Integer() }), ...errorResponses },
    },
    handler: async (request) => {
      const query = request.query as { unread?: string; limit?: string };
      return listNotices(deps, actorOf(request), { unreadOnly: query.unread === 'true', ...(query.limit ? { limit: Number(query.limit) } : {}) });
    },
  });

  app.post('/api/v1/notices/:id/read', {
    schema: { tags: ['notices'], summary: 'Mark one of your notices read', params: IdParams, response: { 200: Type.Object({ marked: Type.Integer() }), ...errorResponses } },
    handler: async (request) => markNoticesRead(deps, actorOf(request), (request.params as { id: string }).id),
  });

  app.post('/api/v1/notices/read', {
    schema: { tags: ['notices'], summary: 'Mark all your notices read', response: { 200: Type.Object({ marked: Type.Integer() }), ...errorResponses } },
    handler: async (request) => markNoticesRead(deps, actorOf(request), null),
  });
}
