import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { DataDeps } from '../../data/record-store.js';
import { actorOf } from '../../http/authenticate.js';
import { IdParams } from '../../http/record-schemas.js';
import { errorResponses } from '../../http/schemas.js';
import { TAG_COLORS, createTag, deleteTag, getTag, listTags, updateTag } from './tags.service.js';

const TagSchema = Type.Object(
  {
    id: Type.String({ description: 'Tag id; records carry it in tagIds.' }),
    name: Type.String({ description: 'Tag name, unique regardless of case.' }),
    color: Type.String({ enum: [...TAG_COLORS], description: 'One of the fixed palette.' }),
    version: Type.Integer({ description: 'Optimistic-concurrency version; send it back with an update.' }),
    createdAt: Type.String({ description: 'When the tag was created.' }),
    updatedAt: Type.String({ description: 'When the tag last changed.' }),
  },
  { $id: 'Tag', additionalProperties: false },
);

/** `/api/v1/tags`: anyone signed in lists and creates tags; administrators and managers rename and delete them. */
export function registerTagRoutes(app: FastifyInstance, deps: DataDeps): void {
  const tags = ['tags'];

  app.get('/api/v1/tags', {
    schema: { tags, summary: 'List tags', response: { 200: Type.Object({ items: Type.Array(TagSchema), nextCursor: Type.Null() }), ...errorResponses } },
    handler: async (request) => ({ items: await listTags(deps, actorOf(request)), nextCursor: null }),
  });

  app.post('/api/v1/tags', {
    schema: {
      tags,
      summary: 'Create a tag',
      body: Type.Object(
        {
          name: Type.String({ maxLength: 50, description: 'Tag name, unique regardless of case.' }),
          color: Type.Optional(Type.String({ enum: [...TAG_COLORS], description: 'One of the fixed palette; gray by default.' })),
        },
        { additionalProperties: false },
      ),
      response: { 201: TagSchema, ...errorResponses },
    },
    handler: async (request, reply) => reply.status(201).send(await createTag(deps, actorOf(request), request.body as { name: string; color?: string })),
  });

  app.get('/api/v1/tags/:id', {
    schema: { tags, summary: 'Read a tag', params: IdParams, response: { 200: TagSchema, ...errorResponses } },
    handler: async (request) => getTag(deps, actorOf(request), (request.params as { id: string }).id),
  });

  app.patch('/api/v1/tags/:id', {
    schema: {
      tags,
      summary: 'Rename or recolour a tag (administrators and managers)',
      params: IdParams,
      body: Type.Object(
        {
          version: Type.Integer({ minimum: 1, description: 'The version you read; a stale version answers 409.' }),
          name: Type.Optional(Type.String({ maxLength: 50, description: 'New name.' })),
          color: Type.Optional(Type.String({ enum: [...TAG_COLORS], description: 'New colour.' })),
        },
        { additionalProperties: false },
      ),
      response: { 200: TagSchema, ...errorResponses },
    },
    handler: async (request) => {
      const { version, ...changes } = request.body as { version: number; name?: string; color?: string };
      return updateTag(deps, actorOf(request), (request.params as { id: string }).id, version, changes);
    },
  });

  app.delete('/api/v1/tags/:id', {
    schema: { tags, summary: 'Delete a tag and take it off every record (administrators and managers)', params: IdParams, response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      await deleteTag(deps, actorOf(request), (request.params as { id: string }).id);
      return reply.status(204).send();
    },
  });
}
