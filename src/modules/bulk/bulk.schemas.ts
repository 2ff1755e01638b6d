import { Type } from 'typebox';
import { ApprovalSchema } from '../approvals/approvals.schemas.js';
import { LIVE_STATUSES, MAX_BULK_IDS } from './bulk.service.js';

const Ids = Type.Array(Type.String({ maxLength: 64, description: 'Record id.' }), {
  minItems: 1,
  maxItems: MAX_BULK_IDS,
  uniqueItems: true,
  description: `The records, 1 to ${MAX_BULK_IDS}, each once. Every one must be live and within your reach, or nothing is done.`,
});
const ApprovalId = Type.String({ maxLength: 64, description: 'An approved request for exactly this batch (same type, ids and changes), when it needs one. Used up by the call. POST /api/v1/bulk-changes/{approvalId}/run runs the approved batch without sending it again.' });
const Reason = Type.String({ maxLength: 500, description: 'Why, shown to the approvers. Needed when the batch goes for approval: without it the answer is 409 bulk.approval_required. Never written to the audit log.' });

export const BulkDeleteBody = Type.Object({ ids: Ids, approvalId: Type.Optional(ApprovalId), reason: Type.Optional(Reason) }, { additionalProperties: false });

export const BulkUpdateBody = Type.Object(
  {
    ids: Ids,
    changes: Type.Record(Type.String({ maxLength: 80 }), Type.Unknown(), {
      description: 'Field values to set on every record, as in an update: built-in fields by key (ownerId and teamId included), custom fields under customFields, tags as tagIds. No version.',
    }),
    approvalId: Type.Optional(ApprovalId),
    reason: Type.Optional(Reason),
  },
  { additionalProperties: false },
);

export const BulkDeletedSchema = Type.Object({ deleted: Type.Integer({ description: 'Records moved to the trash.' }) }, { additionalProperties: false });
export const BulkUpdatedSchema = Type.Object({ updated: Type.Integer({ description: 'Records changed.' }) }, { additionalProperties: false });
export const BulkApprovalSchema = Type.Object(
  { approval: ApprovalSchema },
  { additionalProperties: false, description: 'The batch is larger than RAMPART_BULK_APPROVAL_RECORDS, or would take your unapproved bulk changes within the hour past it: an approval was asked for, and the batch kept under its id. Once approved, run it with POST /api/v1/bulk-changes/{approvalId}/run (or send the same request with its id as approvalId).' },
);

export const BulkChangeParams = Type.Object({ approvalId: Type.String({ maxLength: 64, description: 'The approval request the mass change was asked under.' }) }, { additionalProperties: false });

export const BulkRunSchema = Type.Object(
  {
    approvalId: Type.String({ description: 'The approval used up by the run.' }),
    kind: Type.String({ enum: ['bulk_delete', 'bulk_update'], description: 'bulk_delete (moved to the trash) or bulk_update (fields set).' }),
    type: Type.String({ description: 'The record type.' }),
    records: Type.Integer({ description: 'Records moved to the trash or changed.' }),
  },
  { additionalProperties: false },
);

export const BulkChangeListQuery = Type.Object(
  {
    status: Type.Optional(Type.String({ enum: [...LIVE_STATUSES], description: 'pending (waiting for a decision) or approved (ready to run); both when left out.' })),
    cursor: Type.Optional(Type.String({ maxLength: 1024, description: 'nextCursor of the page before.' })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$', description: 'Page size, 1 to 200 (default 50).' })),
  },
  { additionalProperties: false },
);

export const BulkChangePageSchema = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        {
          approvalId: Type.String({ description: 'The approval request it waits on; POST /api/v1/bulk-changes/{approvalId}/run once approved.' }),
          kind: Type.String({ enum: ['bulk_delete', 'bulk_update'], description: 'bulk_delete or bulk_update.' }),
          type: Type.String({ description: 'The record type.' }),
          records: Type.Integer({ description: 'How many records it names.' }),
          fields: Type.Array(Type.String(), { description: 'The fields an update sets (custom ones as customFields.<key>); empty for a delete. Never the values.' }),
          status: Type.String({ enum: [...LIVE_STATUSES], description: 'pending or approved.' }),
          requestedAt: Type.String({ format: 'date-time', description: 'When approval was asked for.' }),
          expiresAt: Type.String({ format: 'date-time', description: 'Pending: when the request lapses undecided. Approved: by when it must be run.' }),
        },
        { additionalProperties: false },
      ),
      { description: 'Newest first.' },
    ),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as cursor for the next page; null on the last.' }),
  },
  { additionalProperties: false },
);
