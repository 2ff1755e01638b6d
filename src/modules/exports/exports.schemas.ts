import { Type, type TSchema } from 'typebox';
import { RECORD_TYPES } from '../../data/field-registry.js';
import { APPROVAL_STATUSES, MAX_REASON_CHARS } from '../approvals/approvals.service.js';
import { EXPORT_FORMATS } from '../transfer/transfer.export.js';
import { EXPORT_STATUSES } from './exports.service.js';

const Nullable = <T extends TSchema>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description });

/** An export as its requester (and those who oversee exports) see it. */
export const ExportSchema = Type.Object(
  {
    id: Type.String({ description: 'Export id.' }),
    exportNo: Type.Integer({ description: 'The export number, carried in the file’s fingerprint.' }),
    type: Type.String({ enum: [...RECORD_TYPES], description: 'The record type exported.' }),
    format: Type.String({ enum: [...EXPORT_FORMATS], description: 'csv or json.' }),
    status: Type.String({
      enum: [...EXPORT_STATUSES],
      description: 'pending_approval (waits for a second person), ready (may be downloaded once, until downloadExpiresAt), downloaded, denied, cancelled, or expired (not approved or not downloaded in time).',
    }),
    rows: Type.Integer({ description: 'Rows counted when it was asked for; the download writes at most this many.' }),
    reason: Type.String({ description: 'Why, as the requester wrote it.' }),
    requestedBy: Type.Object(
      { id: Nullable(Type.String(), 'The user; null for the command-line operator.'), label: Type.String({ description: 'The user’s email, or operator:<name>.' }) },
      { additionalProperties: false },
    ),
    approval: Nullable(
      Type.Object({ id: Type.String({ description: 'The approval request (GET /api/v1/approvals/{id}).' }), status: Type.String({ enum: [...APPROVAL_STATUSES] }) }, { additionalProperties: false }),
      'The approval request, for an export above the approval threshold; null otherwise.',
    ),
    createdAt: Type.String({ description: 'When it was asked for.' }),
    downloadExpiresAt: Nullable(Type.String(), 'Until when it may be downloaded: 24 hours from being ready (or approved); null while it waits.'),
    downloadedAt: Nullable(Type.String(), 'When it was downloaded.'),
    rowsWritten: Nullable(Type.Integer(), 'Rows the download wrote.'),
  },
  { $id: 'Export', additionalProperties: false },
);

export const ExportPageSchema = Type.Object(
  { items: Type.Array(ExportSchema), nextCursor: Nullable(Type.String(), 'Pass as cursor for the next page; null on the last.') },
  { additionalProperties: false },
);

const ExportQueryBody = Type.Record(Type.String({ maxLength: 100 }), Type.String({ maxLength: 500 }), {
  maxProperties: 50,
  description: 'The list’s filters, search and sort, as its query string would carry them: {"q": "acme", "sort": "-createdAt", "ownerId": "…", "amount[gte]": "1000", "custom.region": "north"}.',
});

export const ExportRequestBody = Type.Object(
  {
    type: Type.String({ enum: [...RECORD_TYPES], description: 'What to export.' }),
    format: Type.Optional(Type.String({ enum: [...EXPORT_FORMATS], description: 'csv (the default) or json.' })),
    reason: Type.String({ maxLength: MAX_REASON_CHARS * 4, description: `Why the data is needed, 1 to ${MAX_REASON_CHARS} characters; shown to whoever approves it.` }),
    query: Type.Optional(ExportQueryBody),
  },
  { additionalProperties: false },
);

export const ExportEstimateBody = Type.Object(
  {
    type: Type.String({ enum: [...RECORD_TYPES], description: 'What would be exported.' }),
    query: Type.Optional(ExportQueryBody),
  },
  { additionalProperties: false },
);

/** What an export would come to for the caller, before it is asked for. */
export const ExportEstimateSchema = Type.Object(
  {
    rows: Type.Integer({ description: 'Rows the caller may export under the query, counted up to maxRows + 1 (so maxRows + 1 means "more than maxRows").' }),
    maxRows: Nullable(Type.Integer(), 'The most rows one export may hold for the caller; null only for the command-line operator, who is not capped.'),
    approvalAboveRows: Nullable(Type.Integer(), 'Exports of more rows than this wait for a second person’s approval; null only for the command-line operator.'),
    dailyRowsLeft: Nullable(Type.Integer(), 'Rows the caller may still export or read through list pages today (UTC); null when uncapped.'),
    needsApproval: Type.Boolean({ description: 'true: a request for this export would wait for approval (rows above approvalAboveRows).' }),
    overCap: Type.Boolean({ description: 'true: a request for this export would be refused (rows above maxRows, export.too_many_rows, or above dailyRowsLeft, export.daily_cap_reached).' }),
  },
  { $id: 'ExportEstimate', additionalProperties: false },
);

export const ExportListQuery = Type.Object(
  {
    mine: Type.Optional(Type.String({ enum: ['true', 'false'], description: 'true: only your own (those who oversee exports otherwise see everyone’s).' })),
    cursor: Type.Optional(Type.String({ maxLength: 1024 })),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,3}$', description: 'Page size, 1 to 200 (default 50).' })),
  },
  { additionalProperties: false },
);

export const ExportParams = Type.Object({ id: Type.String({ maxLength: 64 }) }, { additionalProperties: false });
