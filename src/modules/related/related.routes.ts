import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { RECORD_TYPE_DEFS } from '../../data/record-types.js';
import type { DataDeps } from '../../data/record-store.js';
import { actorOf } from '../../http/authenticate.js';
import { IdParams, pageSchema, recordSchema } from '../../http/record-schemas.js';
import { errorResponses } from '../../http/schemas.js';
import { tallyListRead } from '../exports/export-caps.js';
import { RELATIONS, contactTimeline, listRelated } from './related.service.js';

const pageQuery = {
  limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: 'Page size, 1 to 200 (default 25).' })),
  cursor: Type.Optional(Type.String({ maxLength: 1024, description: 'The nextCursor of the previous page.' })),
};

/** Query values arrive as text; the schema has checked their shape. */
function pageFrom(query: { limit?: string; cursor?: string; sort?: string }): { limit?: number; cursor?: string; sort?: string } {
  return {
    ...(query.limit !== undefined ? { limit: Number(query.limit) } : {}),
    ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
    ...(query.sort !== undefined ? { sort: query.sort } : {}),
  };
}

/** `/api/v1/<parent>/:id/<child>` for every relation, and `/api/v1/contacts/:id/timeline`. */
export function registerRelatedRoutes(app: FastifyInstance, deps: DataDeps): void {
  for (const relation of RELATIONS) {
    const parent = RECORD_TYPE_DEFS[relation.parent];
    app.get(`/api/v1/${relation.parent}/:id/${relation.child}`, {
      schema: {
        tags: [relation.parent],
        summary: `List the ${relation.child} of a ${parent.singular}`,
        params: IdParams,
        querystring: Type.Object(
          { ...pageQuery, sort: Type.Optional(Type.String({ maxLength: 64, description: 'A sortable field, with a leading - for descending.' })) },
          { additionalProperties: false },
        ),
        response: { 200: pageSchema(recordSchema(RECORD_TYPE_DEFS[relation.child])), ...errorResponses },
      },
      // Reading page by page counts against the reader's daily export allowance, as lists do.
      handler: async (request) => {
        const ctx = actorOf(request);
        return tallyListRead(deps, ctx, await listRelated(deps, ctx, relation, (request.params as { id: string }).id, pageFrom(request.query as Record<string, string>)), relation.child);
      },
    });
  }

  app.get('/api/v1/contacts/:id/timeline', {
    schema: {
      tags: ['contacts'],
      summary: "A contact's history, newest first: attached activities, and when the contact was created and last changed",
      params: IdParams,
      querystring: Type.Object(pageQuery, { additionalProperties: false }),
      response: {
        200: Type.Object({
          items: Type.Array(
            Type.Object(
              {
                type: Type.String({ enum: ['activity', 'created', 'updated'], description: 'An attached activity, or the contact being created or last changed.' }),
                at: Type.String({ description: 'When it happened.' }),
                actorId: Type.Union([Type.String(), Type.Null()], { description: 'The user who did it.' }),
                activity: Type.Union([recordSchema(RECORD_TYPE_DEFS.activities), Type.Null()], { description: 'The activity, for activity entries.' }),
              },
              { additionalProperties: false },
            ),
          ),
          nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as cursor for the next page; null on the last page.' }),
        }),
        ...errorResponses,
      },
    },
    handler: async (request) => {
      const ctx = actorOf(request);
      const page = await contactTimeline(deps, ctx, (request.params as { id: string }).id, pageFrom(request.query as Record<string, string>));
      // Only the attached activities are records read; the created and changed entries are not.
      await tallyListRead(deps, ctx, { items: page.items.filter((item) => item.activity !== null) }, 'activities');
      return page;
    },
  });
}
