import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/authenticate.js';
import { errorResponses } from '../../http/schemas.js';
import { ACTIONS, FIELD_RULES, PERMISSIONS, SCOPES } from '../../policy/model.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { describeAccess } from './access.service.js';

const RecordAccessSchema = Type.Object({
  actions: Type.Record(Type.String({ enum: [...ACTIONS] }), Type.String({ enum: [...SCOPES] }), { description: 'Per action, the records it reaches (own, team, subtree, all); actions that reach none are left out.' }),
  fields: Type.Record(Type.String(), Type.String({ enum: [...FIELD_RULES] }), { description: 'Per field key (custom fields as customFields.<key>): hidden, masked, read or write.' }),
});

const AccessSchema = Type.Object(
  {
    permissions: Type.Array(Type.String({ enum: [...PERMISSIONS] }), { description: 'The system permissions held now, after network rules and token scopes.' }),
    records: Type.Record(Type.String(), RecordAccessSchema, { description: 'Per record type that can be reached at all.' }),
    stepUpUntil: Type.Union([Type.String(), Type.Null()], { description: 'Until when the last second-factor check counts for operations that ask for a recent one; null when it does not now.' }),
    lockdown: Type.Boolean({ description: 'The organisation is in lockdown: read-only for everyone but those who handle alerts, and no exports. Screens show a banner.' }),
  },
  { $id: 'Access' },
);

export function registerAccessRoutes(app: FastifyInstance, deps: AuthDeps): void {
  app.get('/api/v1/auth/access', {
    schema: {
      tags: ['auth'],
      summary: 'What you may do now: permissions, actions and field rules per record type. For showing only what will be allowed; every request is still checked.',
      response: { 200: AccessSchema, ...errorResponses },
    },
    handler: async (request) => describeAccess(deps, actorOf(request)),
  });
}
