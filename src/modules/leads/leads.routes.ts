import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { RECORD_TYPE_DEFS } from '../../data/record-types.js';
import type { DataDeps } from '../../data/record-store.js';
import { actorOf } from '../../http/authenticate.js';
import { IdParams, recordSchema } from '../../http/record-schemas.js';
import { errorResponses } from '../../http/schemas.js';
import { convertLead, type LeadConversion } from './leads.service.js';

/** `POST /api/v1/leads/:id/convert`; the other lead routes are the common record routes. */
export function registerLeadRoutes(app: FastifyInstance, deps: DataDeps): void {
  app.post('/api/v1/leads/:id/convert', {
    schema: {
      tags: ['leads'],
      summary: 'Convert a lead into a contact, a company and optionally a deal, all or nothing',
      params: IdParams,
      body: Type.Object(
        {
          companyId: Type.Optional(Type.String({ format: 'uuid', description: 'An existing company for the new contact.' })),
          companyName: Type.Optional(Type.String({ maxLength: 200, description: 'Name of a new company; the lead\'s company name by default. Not with companyId.' })),
          createDeal: Type.Optional(Type.Boolean({ description: 'Also open a deal in the default pipeline.' })),
          dealName: Type.Optional(Type.String({ maxLength: 200, description: 'Name of the deal; the company\'s or the person\'s name by default.' })),
          amount: Type.Optional(Type.Number({ description: 'Expected value of the deal in major units (two decimals).' })),
        },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object(
          {
            lead: recordSchema(RECORD_TYPE_DEFS.leads),
            contact: recordSchema(RECORD_TYPE_DEFS.contacts),
            company: Type.Union([recordSchema(RECORD_TYPE_DEFS.companies), Type.Null()]),
            deal: Type.Union([recordSchema(RECORD_TYPE_DEFS.deals), Type.Null()]),
          },
          { additionalProperties: false },
        ),
        ...errorResponses,
      },
    },
    handler: async (request) => convertLead(deps, actorOf(request), (request.params as { id: string }).id, (request.body ?? {}) as LeadConversion),
  });
}
