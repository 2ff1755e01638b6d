import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { RECORD_TYPES } from '../../data/field-registry.js';
import type { DataDeps } from '../../data/record-store.js';
import { actorOf } from '../../http/authenticate.js';
import { errorResponses } from '../../http/schemas.js';
import { MAX_SEARCH_HITS, searchRecords } from './search.service.js';

const HitSchema = Type.Object(
  {
    type: Type.String({ enum: [...RECORD_TYPES], description: 'The record type; with id it makes the record\'s address.' }),
    id: Type.String({ description: 'Record id.' }),
    title: Type.String({ description: 'What the record is called.' }),
    subtitle: Type.Union([Type.String(), Type.Null()], { description: 'A second line to tell hits apart.' }),
  },
  { $id: 'SearchHit', additionalProperties: false },
);

/** `GET /api/v1/search`: one search box over every record type the caller may read. */
export function registerSearchRoutes(app: FastifyInstance, deps: DataDeps): void {
  app.get('/api/v1/search', {
    schema: {
      tags: ['search'],
      summary: 'Search every record type at once',
      querystring: Type.Object(
        {
          q: Type.String({ minLength: 1, maxLength: 200, description: 'Words to find; each must start a word of the record.' }),
          limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$', description: `Most hits to answer, 1 to ${MAX_SEARCH_HITS} (default 20).` })),
        },
        { additionalProperties: false },
      ),
      response: { 200: Type.Object({ items: Type.Array(HitSchema) }), ...errorResponses },
    },
    handler: async (request) => {
      const query = request.query as { q: string; limit?: string };
      return { items: await searchRecords(deps, actorOf(request), query.q, query.limit === undefined ? undefined : Number(query.limit)) };
    },
  });
}
