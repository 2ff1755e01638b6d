import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { RECORD_TYPES, type RecordType } from '../../data/field-registry.js';
import { actorOf } from '../../http/authenticate.js';
import { IdParams } from '../../http/record-schemas.js';
import { errorResponses } from '../../http/schemas.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { createView, deleteView, listViews, updateView, type ViewDefinition } from './views.service.js';

const RecordTypeSchema = Type.String({ enum: [...RECORD_TYPES], description: 'The record type whose list the view shapes.' });

const DefinitionSchema = Type.Object(
  {
    columns: Type.Array(Type.String({ maxLength: 80 }), { maxItems: 60, description: 'Column keys in display order.' }),
    sort: Type.Union([Type.String({ maxLength: 65 }), Type.Null()], { description: 'The list\'s sort: a sortable field, with a leading - for descending.' }),
    filters: Type.Record(Type.String({ maxLength: 80 }), Type.String({ maxLength: 500 }), { maxProperties: 30, description: 'Field filters by field key, as the list takes them.' }),
    q: Type.Union([Type.String({ maxLength: 200 }), Type.Null()], { description: 'Search words, as the list\'s q.' }),
  },
  { additionalProperties: false, description: 'What the list shows. Filter values may be personal data: they are only ever sent back to their owner.' },
);

const SavedViewSchema = Type.Object(
  {
    id: Type.String({ description: 'Saved view id.' }),
    recordType: RecordTypeSchema,
    name: Type.String({ description: 'What the owner called the view.' }),
    definition: DefinitionSchema,
    version: Type.Integer({ description: 'Optimistic-concurrency version; send it back with an update.' }),
    createdAt: Type.String({ description: 'When the view was saved.' }),
    updatedAt: Type.String({ description: 'When the view last changed.' }),
  },
  { $id: 'SavedView', additionalProperties: false },
);

const Name = Type.String({ minLength: 1, maxLength: 100, description: 'What to call the view.' });

/** `/api/v1/views`: each signed-in user's own saved list views; nobody sees or changes another's. */
export function registerViewsRoutes(app: FastifyInstance, deps: AuthDeps): void {
  const tags = ['views'];

  app.get('/api/v1/views', {
    schema: {
      tags,
      summary: 'List your saved views',
      querystring: Type.Object({ recordType: Type.Optional(RecordTypeSchema) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(SavedViewSchema), nextCursor: Type.Null() }), ...errorResponses },
    },
    handler: async (request) => {
      const { recordType } = request.query as { recordType?: RecordType };
      return { items: await listViews(deps, actorOf(request), recordType ?? null), nextCursor: null };
    },
  });

  app.post('/api/v1/views', {
    schema: {
      tags,
      summary: 'Save a view of a list',
      body: Type.Object({ recordType: RecordTypeSchema, name: Name, definition: DefinitionSchema }, { additionalProperties: false }),
      response: { 201: SavedViewSchema, ...errorResponses },
    },
    handler: async (request, reply) => reply.status(201).send(await createView(deps, actorOf(request), request.body as { recordType: RecordType; name: string; definition: ViewDefinition })),
  });

  app.patch('/api/v1/views/:id', {
    schema: {
      tags,
      summary: 'Rename or change one of your saved views',
      params: IdParams,
      body: Type.Object(
        {
          version: Type.Integer({ minimum: 1, description: 'The version you read; a stale version answers 409.' }),
          name: Type.Optional(Name),
          definition: Type.Optional(DefinitionSchema),
        },
        { additionalProperties: false },
      ),
      response: { 200: SavedViewSchema, ...errorResponses },
    },
    handler: async (request) => {
      const { version, ...changes } = request.body as { version: number; name?: string; definition?: ViewDefinition };
      return updateView(deps, actorOf(request), (request.params as { id: string }).id, version, changes);
    },
  });

  app.delete('/api/v1/views/:id', {
    schema: { tags, summary: 'Delete one of your saved views', params: IdParams, response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      await deleteView(deps, actorOf(request), (request.params as { id: string }).id);
      return reply.status(204).send();
    },
  });
}
