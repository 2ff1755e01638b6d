import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { requirePermission } from '../../data/access.js';
import type { DataDeps } from '../../data/record-store.js';
import { actorOf } from '../../http/authenticate.js';
import { fileBodyParser } from '../../http/file-body.js';
import { errorResponses } from '../../http/schemas.js';
import { AppError } from '../../shared/errors.js';
import { MAX_TRACE_BYTES, traceExportFor } from './export-trace.js';

const TraceCandidateSchema = Type.Object(
  {
    exportId: Type.String({ description: 'The export the file came from.' }),
    exportNo: Type.Integer({ description: 'Its number, as the export list shows it.' }),
    exporter: Type.String({ description: 'Who exported: the user’s e-mail address, or `operator:<name>` for the command line.' }),
    requestedBy: Type.Union([Type.String(), Type.Null()], { description: 'The id of the user who exported, or null for the command-line operator.' }),
    type: Type.String({ description: 'What the export held.' }),
    format: Type.String({ description: 'csv or json.' }),
    exportedAt: Type.String({ description: 'When the export was asked for.' }),
    downloadedAt: Type.Union([Type.String(), Type.Null()], { description: 'When its file was downloaded, or null.' }),
    rowsWritten: Type.Union([Type.Integer(), Type.Null()], { description: 'Records the export held, or null when it did not finish.' }),
    sameFile: Type.Boolean({ description: 'Whether the file is byte for byte the one the export wrote.' }),
    confidence: Type.String({ enum: ['certain', 'likely'], description: '`certain`: a canary row or the keyed mark, which chance cannot explain; `likely`: weaker evidence pointing at this export only.' }),
    evidence: Type.Object(
      {
        canaryRows: Type.Integer({ description: 'File rows that are this export’s canary rows, matched on two or more of their values.' }),
        canaryHints: Type.Integer({ description: 'File rows holding one distinctive value of one of its canary rows.' }),
        markedRows: Type.Integer({ description: 'File rows carrying this export’s invisible mark.' }),
        markChunks: Type.Array(Type.Integer(), { description: 'Which of the mark’s four parts were read.' }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

const TraceResultSchema = Type.Object(
  {
    format: Type.String({ enum: ['csv', 'json'], description: 'How the file was read.' }),
    rows: Type.Integer({ description: 'Rows read, a CSV header included.' }),
    markedRows: Type.Integer({ description: 'Rows carrying any export mark, whether or not it names an export here.' }),
    candidates: Type.Array(TraceCandidateSchema, { description: 'The exports the file points at, newest first; empty when it carries no mark.' }),
  },
  { additionalProperties: false },
);

/**
 * `POST /api/v1/exports/trace`: which export a file found somewhere came from. A static path, so
 * it is matched before `/api/v1/exports/:id`. The file is the body, as CSV or JSON, read only here
 * and under its own size limit; the rest of the API stays JSON-only with the small limit.
 */
export function registerExportTraceRoutes(app: FastifyInstance, deps: DataDeps): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('text/csv', readFileBody);
    scope.addContentTypeParser('application/json', readFileBody);
    scope.addContentTypeParser('*', (_request, _payload, done) => done(new AppError('export.unsupported_media_type', 'Send the file as text/csv or application/json'), undefined));
    // Only a caller who may trace gets to make the server hold a file.
    scope.addHook('preParsing', async (request) => {
      await requirePermission(deps, actorOf(request), 'audit.read', 'Your roles do not allow you to trace exported files');
    });
    scope.post('/api/v1/exports/trace', {
      schema: {
        tags: ['exports'],
        summary: 'Trace an exported file back to its export',
        description:
          `Reads a CSV file (any column order, any columns left out) or a JSON export, finds the canary rows and invisible marks every export carries, and answers the exports it came from with who made them and when. At most ${MAX_TRACE_BYTES / 1_048_576} MB. Needs audit.read. ` +
          'Audited with the number of candidates found, never the file.',
        body: {
          description: 'The file, as found.',
          content: { 'text/csv': { schema: Type.String() }, 'application/json': { schema: Type.String({ description: 'The JSON export as text: an array of objects.' }) } },
        },
        response: { 200: TraceResultSchema, ...errorResponses },
      } as Record<string, unknown>,
      handler: async (request) => {
        const body = request.body;
        if (typeof body !== 'string' || body.trim() === '') throw new AppError('export.invalid_file', 'The file is empty');
        return traceExportFor(deps, actorOf(request), Buffer.from(body, 'utf8'));
      },
    });
  });
}

/** A file to trace: at most MAX_TRACE_BYTES of strict UTF-8 (a file that is not is no file Rampart wrote). */
const readFileBody = fileBodyParser({
  maxBytes: MAX_TRACE_BYTES,
  tooLarge: () => new AppError('export.too_large', `The file is larger than ${MAX_TRACE_BYTES / 1_048_576} MB`),
  notUtf8: () => new AppError('export.invalid_file', 'The file is not UTF-8 text, so it is not a file Rampart exported'),
  interrupted: () => new AppError('export.invalid_file', 'The upload was interrupted'),
});
