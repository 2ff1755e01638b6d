import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { RecordType } from '../../data/field-registry.js';
import type { DataDeps } from '../../data/record-store.js';
import { actorOf } from '../../http/authenticate.js';
import { listQueryFrom } from '../../http/record-routes.js';
import { errorResponses } from '../../http/schemas.js';
import { AppError } from '../../shared/errors.js';
import { writeExport, type ExportFormat, type ExportQuery } from '../transfer/transfer.export.js';
import { STEP_UP_EXPORT_ROWS } from '../transfer/transfer.service.js';
import { ExportEstimateBody, ExportEstimateSchema, ExportListQuery, ExportPageSchema, ExportParams, ExportRequestBody, ExportSchema } from './exports.schemas.js';
import { cancelExport, claimDownload, estimateExport, getExport, listExports, recordWritten, requestExport } from './exports.service.js';

const CONTENT_TYPES: Record<ExportFormat, string> = { csv: 'text/csv; charset=utf-8', json: 'application/json; charset=utf-8' };

/**
 * `/api/v1/exports`: asking for an export (with a reason, under the caller's caps, approved by a
 * second person above the threshold), following it, and downloading it once.
 */
export function registerExportRoutes(app: FastifyInstance, deps: DataDeps): void {
  const tags = ['exports'];
  const idOf = (request: { params: unknown }) => (request.params as { id: string }).id;

  app.post('/api/v1/exports', {
    schema: {
      tags,
      summary: 'Ask for an export of records (the export action on the type, and a reason)',
      description:
        'Counts the rows the caller may export under the list’s filters, search and sort, and refuses more than the caller’s per-export cap (export.too_many_rows) or the day’s allowance (export.daily_cap_reached). ' +
        'Up to the approval threshold the export is ready at once and may be downloaded once within 24 hours; above it, an approval request is made and the export waits for a second person (pending_approval).',
      body: ExportRequestBody,
      response: { 201: ExportSchema, ...errorResponses },
    },
    handler: async (request, reply) => {
      const body = request.body as { type: RecordType; format?: ExportFormat; reason: string; query?: Record<string, string> };
      const view = await requestExport(deps, actorOf(request), { type: body.type, format: body.format ?? 'csv', reason: body.reason, query: exportQueryFrom(body.query) });
      return reply.status(201).send(view);
    },
  });

  app.post('/api/v1/exports/estimate', {
    schema: {
      tags,
      summary: 'What an export would come to, before asking for it (the export action on the type)',
      description:
        'Counts, as a request would and without recording anything, the rows the caller may export under the list’s filters, search and sort (up to maxRows + 1), ' +
        'and says whether a request would wait for approval or be refused for its size or the day’s allowance. Refused as a request is: auth.forbidden, system.lockdown, request.invalid_filter.',
      body: ExportEstimateBody,
      response: { 200: ExportEstimateSchema, ...errorResponses },
    },
    handler: async (request) => {
      const body = request.body as { type: RecordType; query?: Record<string, string> };
      return estimateExport(deps, actorOf(request), { type: body.type, query: exportQueryFrom(body.query) });
    },
  });

  app.get('/api/v1/exports', {
    schema: {
      tags,
      summary: 'List exports, newest first (your own; approvals.decide or audit.read see everyone’s)',
      querystring: ExportListQuery,
      response: { 200: ExportPageSchema, ...errorResponses },
    },
    handler: async (request) => {
      const { mine, limit, cursor } = request.query as { mine?: string; limit?: string; cursor?: string };
      return listExports(deps, actorOf(request), { mine: mine === 'true', ...(limit !== undefined ? { limit: Number(limit) } : {}), ...(cursor !== undefined ? { cursor } : {}) });
    },
  });

  app.get('/api/v1/exports/:id', {
    schema: { tags, summary: 'One export (its requester; approvals.decide or audit.read)', params: ExportParams, response: { 200: ExportSchema, ...errorResponses } },
    handler: async (request) => getExport(deps, actorOf(request), idOf(request)),
  });

  app.post('/api/v1/exports/:id/cancel', {
    schema: { tags, summary: 'Withdraw your export before it is downloaded (its approval request with it)', params: ExportParams, response: { 200: ExportSchema, ...errorResponses } },
    handler: async (request) => cancelExport(deps, actorOf(request), idOf(request)),
  });

  app.get('/api/v1/exports/:id/download', {
    schema: {
      tags,
      summary: 'Download a ready export, once (its requester only)',
      description: `Writes at most the rows counted (and approved), with the export’s fingerprint. Once started, the export counts as downloaded. More than ${STEP_UP_EXPORT_ROWS.toLocaleString('en-US')} rows need a second factor proved in the last five minutes (auth.step_up_required).`,
      params: ExportParams,
      response: {
        200: { description: 'The file.', content: { 'text/csv': { schema: Type.String() }, 'application/json': { schema: Type.String() } } },
        ...errorResponses,
      },
    } as Record<string, unknown>,
    handler: async (request, reply) => {
      const ctx = actorOf(request);
      const id = idOf(request);
      const claimed = await claimDownload(deps, ctx, id);
      const out = new PassThrough();
      void reply
        .status(200)
        .header('content-type', CONTENT_TYPES[claimed.spec.format])
        .header('content-disposition', `attachment; filename="${claimed.filename}"`)
        .header('cache-control', 'no-store')
        .send(out);
      try {
        await recordWritten(deps, id, await writeExport(deps, ctx, claimed.spec, out));
      } catch (error) {
        // The header is gone; cutting the download short is how a failure shows now.
        request.log.error({ requestId: request.id, code: error instanceof AppError ? error.code : undefined }, 'an export download failed midway');
        out.destroy();
      }
      return reply;
    },
  });
}

/** The list query an export body carries, as the list's query string would: filters, ranges, search and sort. */
function exportQueryFrom(raw: Record<string, string> | undefined): ExportQuery {
  if (raw === undefined) return {};
  if (raw.trash !== undefined) throw new AppError('export.invalid_request', 'Records in the trash are not exported');
  const { limit: _limit, cursor: _cursor, trash: _trash, parameters: _parameters, ...query } = listQueryFrom(raw);
  return query;
}
