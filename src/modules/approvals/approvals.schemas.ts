import { Type, type TSchema } from 'typebox';
import { APPROVAL_KINDS, APPROVAL_STATUSES, MAX_REASON_CHARS } from './approvals.service.js';

const Nullable = <T extends TSchema>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description });

const PersonSchema = Type.Object(
  { id: Type.String({ description: 'User id.' }), name: Type.String({ description: "The user's display name; empty for a user since deleted." }) },
  { additionalProperties: false },
);

export const ApprovalKindSchema = Type.String({ enum: [...APPROVAL_KINDS], description: 'export, bulk_delete or bulk_update.' });
export const ApprovalStatusSchema = Type.String({
  enum: [...APPROVAL_STATUSES],
  description: 'pending (waiting for a decision), approved (may be used once within 24 hours), denied, cancelled (by its requester), used, or expired (not decided within 7 days, or not used within 24 hours of approval).',
});

/** An approval request as its requester and deciders see it. */
export const ApprovalSchema = Type.Object(
  {
    id: Type.String({ description: 'Approval request id.' }),
    kind: ApprovalKindSchema,
    status: ApprovalStatusSchema,
    requestedBy: PersonSchema,
    requestedAt: Type.String({ description: 'When it was asked for.' }),
    reason: Type.String({ description: 'Why, as the requester wrote it.' }),
    summary: Type.Record(Type.String(), Type.Unknown(), { description: 'What is asked for, in figures: for an export {type, format, rows}; for a mass change {type, records, fields}. No personal data.' }),
    recordCount: Type.Integer({ description: 'How many records the work touches.' }),
    decidedBy: Nullable(PersonSchema, 'Who approved or denied it; null before a decision. When the command-line operator decided, id and name both read operator:<name>.'),
    decidedAt: Nullable(Type.String(), 'When it was approved or denied.'),
    decisionNote: Nullable(Type.String(), 'What the decider wrote.'),
    expiresAt: Type.String({ description: 'Pending: when it lapses undecided. Approved: by when it must be used.' }),
    usedAt: Nullable(Type.String(), 'When the approved work was done.'),
  },
  { $id: 'Approval', additionalProperties: false },
);

export const ApprovalPageSchema = Type.Object(
  { items: Type.Array(ApprovalSchema), nextCursor: Nullable(Type.String(), 'Pass as cursor for the next page; null on the last.') },
  { additionalProperties: false },
);

export const ApprovalListQuery = Type.Object(
  {
    status: Type.Optional(ApprovalStatusSchema),
    kind: Type.Optional(ApprovalKindSchema),
    mine: Type.Optional(Type.String({ enum: ['true', 'false'], description: 'true: only your own requests (deciders otherwise see everyone’s).' })),
    cursor: Type.Optional(Type.String({ maxLength: 1024 })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$', description: 'Page size, 1 to 200 (default 50).' })),
  },
  { additionalProperties: false },
);

export const ApprovalParams = Type.Object({ id: Type.String({ maxLength: 64 }) }, { additionalProperties: false });

export const DecisionBody = Type.Object(
  { note: Type.Optional(Type.String({ maxLength: MAX_REASON_CHARS * 2, description: `An optional note for the requester, at most ${MAX_REASON_CHARS} characters.` })) },
  { additionalProperties: false },
);
