import type { FastifyInstance } from 'fastify';
import type { DataDeps } from '../../data/record-store.js';
import { actorOf } from '../../http/authenticate.js';
import { errorResponses } from '../../http/schemas.js';
import { ApprovalListQuery, ApprovalPageSchema, ApprovalParams, ApprovalSchema, DecisionBody } from './approvals.schemas.js';
import { approveRequest, cancelRequest, denyRequest, getApproval, listApprovals, type ApprovalQuery } from './approvals.service.js';

/** `/api/v1/approvals`: four-eyes approval of large exports and mass changes. */
export function registerApprovalRoutes(app: FastifyInstance, deps: DataDeps): void {
  const tags = ['approvals'];
  const idOf = (request: { params: unknown }) => (request.params as { id: string }).id;
  const noteOf = (request: { body: unknown }) => (request.body as { note?: string } | undefined)?.note ?? null;
  // A decision without a note may come without a body at all.
  const emptyBody = async (request: { body: unknown }) => {
    if (request.body === undefined || request.body === null) request.body = {};
  };

  app.get('/api/v1/approvals', {
    schema: {
      tags,
      summary: 'List approval requests, newest first (approvals.decide sees everyone’s; others their own)',
      querystring: ApprovalListQuery,
      response: { 200: ApprovalPageSchema, ...errorResponses },
    },
    handler: async (request) => {
      const { mine, limit, ...query } = request.query as Omit<ApprovalQuery, 'mine' | 'limit'> & { mine?: string; limit?: string };
      return listApprovals(deps, actorOf(request), { ...query, mine: mine === 'true', ...(limit !== undefined ? { limit: Number(limit) } : {}) });
    },
  });

  app.get('/api/v1/approvals/:id', {
    schema: { tags, summary: 'One approval request (its requester, or someone with approvals.decide)', params: ApprovalParams, response: { 200: ApprovalSchema, ...errorResponses } },
    handler: async (request) => getApproval(deps, actorOf(request), idOf(request)),
  });

  app.post('/api/v1/approvals/:id/approve', {
    schema: {
      tags,
      summary: 'Approve a pending request (approvals.decide and a recent second factor; never your own request)',
      description: 'The approved work must be done within 24 hours, once, exactly as asked for.',
      params: ApprovalParams,
      body: DecisionBody,
      response: { 200: ApprovalSchema, ...errorResponses },
    },
    preValidation: emptyBody,
    handler: async (request) => approveRequest(deps, actorOf(request), idOf(request), noteOf(request)),
  });

  app.post('/api/v1/approvals/:id/deny', {
    schema: { tags, summary: 'Deny a pending request (approvals.decide; never your own request)', params: ApprovalParams, body: DecisionBody, response: { 200: ApprovalSchema, ...errorResponses } },
    preValidation: emptyBody,
    handler: async (request) => denyRequest(deps, actorOf(request), idOf(request), noteOf(request)),
  });

  app.post('/api/v1/approvals/:id/cancel', {
    schema: { tags, summary: 'Withdraw your own request while it is pending or approved and unused', params: ApprovalParams, response: { 200: ApprovalSchema, ...errorResponses } },
    handler: async (request) => cancelRequest(deps, actorOf(request), idOf(request)),
  });
}
