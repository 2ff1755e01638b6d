import type { FastifyInstance } from 'fastify';
import { RECORD_TYPES } from '../../data/field-registry.js';
import { RECORD_TYPE_DEFS } from '../../data/record-types.js';
import type { RecordInput } from '../../data/record-store.js';
import { actorOf } from '../../http/authenticate.js';
import { errorResponses } from '../../http/schemas.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { BulkApprovalSchema, BulkChangeListQuery, BulkChangePageSchema, BulkChangeParams, BulkDeleteBody, BulkDeletedSchema, BulkRunSchema, BulkUpdateBody, BulkUpdatedSchema } from './bulk.schemas.js';
import { bulkDelete, bulkUpdate, listBulkChanges, runApprovedChange } from './bulk.service.js';

/**
 * `POST /api/v1/<type>/bulk-delete` and `bulk-update`: mass changes, all or nothing, with approval
 * above the threshold; `/api/v1/bulk-changes`: the caller's mass changes waiting on an approval,
 * and running an approved one from its approval alone.
 */
export function registerBulkRoutes(app: FastifyInstance, deps: AuthDeps): void {
  for (const type of RECORD_TYPES) {
    const def = RECORD_TYPE_DEFS[type];
    const tags = [type];

    app.post(`/api/v1/${type}/bulk-delete`, {
      schema: {
        tags,
        summary: `Move many ${type} to the trash at once, all or none`,
        description: `Each ${def.singular} must be live and within your delete scope; the first that is not refuses the whole batch and nothing is deleted. More records than RAMPART_BULK_APPROVAL_RECORDS, in one request or within an hour (your unapproved bulk changes of this and the previous UTC hour count), need a second person's approval: without approvalId, a call with a reason answers 202 with the approval request (and the batch is kept under its id), one without a reason 409 bulk.approval_required. Once approved, run it with POST /api/v1/bulk-changes/{approvalId}/run, or send the same ids with approvalId.`,
        body: BulkDeleteBody,
        response: { 200: BulkDeletedSchema, 202: BulkApprovalSchema, ...errorResponses },
      },
      handler: async (request, reply) => {
        const body = request.body as { ids: string[]; approvalId?: string; reason?: string };
        const outcome = await bulkDelete(deps, actorOf(request), type, body);
        return reply.status('approval' in outcome ? 202 : 200).send(outcome);
      },
    });

    app.post(`/api/v1/${type}/bulk-update`, {
      schema: {
        tags,
        summary: `Set the same fields on many ${type} at once, all or none`,
        description: `Each ${def.singular} is updated as a single update would be (validation, per-field write rules, reassignment rules, the type's own rules); the first refusal stops the batch and nothing is changed. More records than RAMPART_BULK_APPROVAL_RECORDS, in one request or within an hour (your unapproved bulk changes of this and the previous UTC hour count), need a second person's approval: without approvalId, a call with a reason answers 202 with the approval request (and the batch, its changes sealed, is kept under its id), one without a reason 409 bulk.approval_required. Once approved, run it with POST /api/v1/bulk-changes/{approvalId}/run, or send the same ids and changes with approvalId.`,
        body: BulkUpdateBody,
        response: { 200: BulkUpdatedSchema, 202: BulkApprovalSchema, ...errorResponses },
      },
      handler: async (request, reply) => {
        const body = request.body as { ids: string[]; changes: RecordInput; approvalId?: string; reason?: string };
        const outcome = await bulkUpdate(deps, actorOf(request), type, body);
        return reply.status('approval' in outcome ? 202 : 200).send(outcome);
      },
    });
  }

  app.get('/api/v1/bulk-changes', {
    schema: {
      tags: ['bulk-changes'],
      summary: 'Your mass changes waiting on an approval: pending ones, and approved ones ready to run',
      description: 'Only your own. Each names its approval, kind, record type, how many records and which fields (never values). A change whose approval was used, denied, cancelled or lapsed is no longer listed (and no longer kept).',
      querystring: BulkChangeListQuery,
      response: { 200: BulkChangePageSchema, ...errorResponses },
    },
    handler: async (request) => {
      const query = request.query as { status?: string; cursor?: string; limit?: string };
      return listBulkChanges(deps, actorOf(request), { ...(query.status !== undefined ? { status: query.status } : {}), ...(query.cursor !== undefined ? { cursor: query.cursor } : {}), ...(query.limit !== undefined ? { limit: Number(query.limit) } : {}) });
    },
  });

  app.post('/api/v1/bulk-changes/:approvalId/run', {
    schema: {
      tags: ['bulk-changes'],
      summary: 'Run an approved mass change from its approval alone, exactly as asked for',
      description:
        'No body: the batch (type, ids and changes) kept when approval was asked for is run as approved, all or nothing, and the approval used up in the same transaction. Only its requester may run it (bulk.not_found for anyone else), once approved and within 24 hours (approval.not_pending, approval.expired). Each record is checked again as the bulk routes do. A token needs bulk-changes:write and write on the record type.',
      params: BulkChangeParams,
      response: { 200: BulkRunSchema, ...errorResponses },
    },
    handler: async (request) => runApprovedChange(deps, actorOf(request), (request.params as { approvalId: string }).approvalId),
  });
}
