import type { FastifyInstance } from 'fastify';
import { RECORD_TYPES, type RecordType } from '../../data/field-registry.js';
import { RECORD_TYPE_DEFS } from '../../data/record-types.js';
import { actorOf } from '../../http/authenticate.js';
import { IdParams } from '../../http/record-schemas.js';
import { errorResponses } from '../../http/schemas.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { PurgeBody, PurgeResultSchema, TrashPageQuery, TrashPageSchema, TrashSummarySchema } from './trash.schemas.js';
import { purgeFromTrash, trashPage, trashSummary } from './trash.service.js';

/** The trash: its summary, each type's contents, and purging records from it for good (trash.purge and a recent second factor). */
export function registerTrashRoutes(app: FastifyInstance, deps: AuthDeps): void {
  app.get('/api/v1/trash/summary', {
    schema: {
      tags: ['trash'],
      summary: 'What the trash holds, per record type the caller may read: how many, the oldest deletion and when it is purged automatically',
      response: { 200: TrashSummarySchema, ...errorResponses },
    },
    handler: async (request) => trashSummary(deps, actorOf(request)),
  });

  app.post('/api/v1/trash/purge', {
    schema: {
      tags: ['trash'],
      summary: 'Purge records of one type from the trash for good, all or none (trash.purge, a recent second factor)',
      description:
        'Removes the records with their custom values, tags, search entries and attached activities; references to them from other records are emptied. Every record must be in the trash (record.not_deleted otherwise) and within the delete scope. Audited record.purge with the ids. Cannot be undone: a purged record can no longer be restored.',
      body: PurgeBody,
      response: { 200: PurgeResultSchema, ...errorResponses },
    },
    handler: async (request) => {
      const body = request.body as { type: RecordType; ids: string[] };
      return purgeFromTrash(deps, actorOf(request), body.type, body.ids);
    },
  });

  for (const type of RECORD_TYPES) {
    const def = RECORD_TYPE_DEFS[type];
    app.get(`/api/v1/trash/${type}`, {
      schema: {
        tags: ['trash'],
        summary: `The ${type} in the trash that you may read, longest there first: title, when and by whom deleted, when purged`,
        description: `The same right as GET /api/v1/${type}?trash=true (read on ${type}; a token needs trash:read and ${type}:read). Titles are shown as lists show them, masked where your roles mask them, and the read is audited as a list. The deleter's name needs no right to read users.`,
        querystring: TrashPageQuery,
        response: { 200: TrashPageSchema, ...errorResponses },
      },
      handler: async (request) => {
        const query = request.query as { limit?: string; cursor?: string };
        return trashPage(deps, actorOf(request), type, { ...(query.limit !== undefined ? { limit: Number(query.limit) } : {}), ...(query.cursor !== undefined ? { cursor: query.cursor } : {}) });
      },
    });

    app.post(`/api/v1/${type}/:id/purge`, {
      schema: {
        tags: [type],
        summary: `Purge a ${def.singular} from the trash for good (trash.purge, a recent second factor)`,
        description: `Removes the ${def.singular} with everything hanging on it; it must be in the trash. Cannot be undone.`,
        params: IdParams,
        response: { 200: PurgeResultSchema, ...errorResponses },
      },
      handler: async (request) => purgeFromTrash(deps, actorOf(request), type, [(request.params as { id: string }).id]),
    });
  }
}
