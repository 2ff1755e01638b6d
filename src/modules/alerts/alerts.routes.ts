import type { FastifyInstance } from 'fastify';
import { actorOf } from '../../http/authenticate.js';
import { errorResponses } from '../../http/schemas.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { AlertDetailSchema, AlertListQuery, AlertPageSchema, AlertParams, AlertResponseParams, AlertResponseSchema, AlertSchema, IncidentBody, TransitionBody } from './alerts.schemas.js';
import {
  executeAlertResponse,
  getAlert,
  linkIncident,
  listAlerts,
  parseAlertQuery,
  reverseAlertResponse,
  transitionAlert,
  type AlertTransition,
  type RawAlertQuery,
  type TransitionInput,
} from './alerts.service.js';

/** `/api/v1/alerts`: what detection raised, and handling it (alerts.handle). */
export function registerAlertRoutes(app: FastifyInstance, deps: AuthDeps): void {
  const tags = ['alerts'];

  app.get('/api/v1/alerts', {
    schema: {
      tags,
      summary: 'List alerts, newest first, with filters (alerts.handle; a token needs alerts:read)',
      querystring: AlertListQuery,
      response: { 200: AlertPageSchema, ...errorResponses },
    },
    handler: async (request) => listAlerts(deps, actorOf(request), parseAlertQuery(request.query as RawAlertQuery)),
  });

  app.get('/api/v1/alerts/:id', {
    schema: {
      tags,
      summary: 'One alert with its evidence and the responses taken or offered (alerts.handle; a token needs alerts:read)',
      params: AlertParams,
      response: { 200: AlertDetailSchema, ...errorResponses },
    },
    handler: async (request) => getAlert(deps, actorOf(request), (request.params as { id: string }).id),
  });

  const transitions: [string, AlertTransition, string][] = [
    ['acknowledge', 'acknowledge', 'Acknowledge an open alert: someone is on it (alerts.handle, a recent second factor; not an alert about yourself)'],
    ['resolve', 'resolve', 'Resolve an open or acknowledged alert: it was real and is dealt with (alerts.handle, a recent second factor; not an alert about yourself)'],
    ['false-positive', 'false_positive', 'Mark an open or acknowledged alert a false positive; the baselines learn from it (alerts.handle, a recent second factor; not an alert about yourself)'],
  ];
  for (const [path, transition, summary] of transitions) {
    app.post(`/api/v1/alerts/:id/${path}`, {
      schema: { tags, summary, params: AlertParams, body: TransitionBody, response: { 200: AlertSchema, ...errorResponses } },
      handler: async (request) => transitionAlert(deps, actorOf(request), (request.params as { id: string }).id, transition, request.body as TransitionInput),
    });
  }

  app.put('/api/v1/alerts/:id/incident', {
    schema: {
      tags,
      summary: 'Link an alert to an incident, or unlink it with null (alerts.handle)',
      params: AlertParams,
      body: IncidentBody,
      response: { 200: AlertSchema, ...errorResponses },
    },
    handler: async (request) => linkIncident(deps, actorOf(request), (request.params as { id: string }).id, request.body as { incidentId: string | null; version?: number }),
  });

  app.post('/api/v1/alerts/:id/responses/:responseId/execute', {
    schema: {
      tags,
      summary: 'Take a response the rule only suggested (alerts.handle and a recent second factor)',
      params: AlertResponseParams,
      response: { 200: AlertResponseSchema, ...errorResponses },
    },
    handler: async (request) => {
      const { id, responseId } = request.params as { id: string; responseId: string };
      return executeAlertResponse(deps, actorOf(request), id, responseId);
    },
  });

  app.post('/api/v1/alerts/:id/responses/:responseId/reverse', {
    schema: {
      tags,
      summary: 'Undo a response that was taken: unlock the account, lift the block or the lockdown, give back revoked tokens (alerts.handle and a recent second factor); a notification cannot be undone',
      params: AlertResponseParams,
      response: { 200: AlertResponseSchema, ...errorResponses },
    },
    handler: async (request) => {
      const { id, responseId } = request.params as { id: string; responseId: string };
      return reverseAlertResponse(deps, actorOf(request), id, responseId);
    },
  });
}
