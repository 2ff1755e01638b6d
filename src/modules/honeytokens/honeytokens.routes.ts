import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/authenticate.js';
import { errorResponses } from '../../http/schemas.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { HoneytokenList, HoneytokenParams, PlantBody } from './honeytokens.schemas.js';
import { listHoneytokens, plantHoneytokens, removeHoneytoken, type PlantInput } from './honeytokens.service.js';

/** `/api/v1/honeytokens`: decoy customer records, for the people who handle alerts only (alerts.handle). */
export function registerHoneytokenRoutes(app: FastifyInstance, deps: AuthDeps): void {
  const tags = ['honeytokens'];

  app.get('/api/v1/honeytokens', {
    schema: { tags, summary: 'List the decoy records (alerts.handle)', response: { 200: HoneytokenList, ...errorResponses } },
    handler: async (request) => ({ items: await listHoneytokens(deps, actorOf(request)), nextCursor: null }),
  });

  app.post('/api/v1/honeytokens', {
    schema: {
      tags,
      summary: 'Plant decoy contacts or companies that look like any other; opening, revealing or exporting one raises an alert (alerts.handle)',
      body: PlantBody,
      response: { 201: HoneytokenList, ...errorResponses },
    },
    handler: async (request, reply) => reply.status(201).send({ items: await plantHoneytokens(deps, actorOf(request), request.body as PlantInput), nextCursor: null }),
  });

  app.delete('/api/v1/honeytokens/:recordId', {
    schema: { tags, summary: 'Take a decoy away: a contact is erased, a company moved to the trash (alerts.handle and a recent second factor)', params: HoneytokenParams, response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      await removeHoneytoken(deps, actorOf(request), (request.params as { recordId: string }).recordId);
      return reply.status(204).send();
    },
  });
}
