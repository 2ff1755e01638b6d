import { once } from 'node:events';
import { PassThrough, type Writable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { actorOf } from '../../http/authenticate.js';
import { fileBodyParser } from '../../http/file-body.js';
import { errorResponses } from '../../http/schemas.js';
import { AppError } from '../../shared/errors.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { csvBytes, importCsv, IMPORTABLE_TYPES, previewCsv, type ImportableType, type RowResult } from './transfer.import.js';
import { ImportColumnsQuery, ImportEventSchema, ImportParams, ImportPreviewSchema } from './transfer.schemas.js';
import { importFields, requireImportRights } from './transfer.service.js';

/** The largest CSV file an upload may carry: about 100,000 contacts of ordinary width. */
export const MAX_IMPORT_BYTES = 20 * 1_048_576;
/** Rows per transaction of an import over HTTP: small enough for a progress bar that moves. */
const IMPORT_BATCH_ROWS = 250;
const NDJSON = 'application/x-ndjson';

/**
 * Imports (`/api/v1/imports/<type>`). Exports are resources of their own (src/modules/exports).
 *
 * An import is one request that streams its progress back rather than a job with a status to
 * poll: the browser still holds the file, so the wizard sends it once to preview and once to run,
 * and the answer to the run is newline-delimited JSON, one line per batch with its rows' results
 * and a last line with the counts. Nothing about the run lives in one server process's memory
 * beyond the request itself, so any of several processes sharing a database can serve it, and no
 * table of jobs or files waiting to be cleaned up is needed. A run the client abandons goes on to
 * the end (each batch is its own transaction), and its audit entry records what was written.
 */
export function registerTransferRoutes(app: FastifyInstance, deps: AuthDeps): void {
  // CSV bodies are read only here, under their own size limit; the rest of the API stays JSON-only.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('text/csv', readCsvBody);
    scope.addContentTypeParser('*', (_request, _payload, done) => done(new AppError('import.unsupported_media_type', 'Send the file as CSV (Content-Type: text/csv)'), undefined));
    registerImportRoutes(scope, deps);
  });
}

function registerImportRoutes(app: FastifyInstance, deps: AuthDeps): void {
  const tags = ['imports'];
  // The rights are checked before the body is read: a caller who may not import never gets to
  // make the server hold a file. (An unknown type is left to the schema's 400.)
  app.addHook('preParsing', async (request) => {
    const type = (request.params as { type?: string }).type;
    if (type !== undefined && (IMPORTABLE_TYPES as readonly string[]).includes(type)) await requireImportRights(deps, actorOf(request), type as ImportableType);
  });
  const csvBody = { description: `The CSV file, UTF-8, its first line naming the columns; at most ${MAX_IMPORT_BYTES / 1_048_576} MB.`, content: { 'text/csv': { schema: Type.String() } } };

  app.post('/api/v1/imports/:type/preview', {
    // Nothing is written, but only a caller who may import is shown how the import would go.
    schema: {
      tags,
      summary: 'Read a CSV file and try its first rows without writing them',
      description: 'Answers the columns, the mapping their names suggest, the fields a column may feed, the number of rows and the first rows as they would be stored, with their problems. Needs the import action.',
      params: ImportParams,
      querystring: ImportColumnsQuery,
      body: csvBody,
      response: { 200: ImportPreviewSchema, ...errorResponses },
    } as Record<string, unknown>,
    handler: async (request) => {
      const ctx = actorOf(request);
      const type = (request.params as { type: ImportableType }).type;
      await requireImportRights(deps, ctx, type);
      const preview = await previewCsv(deps, ctx, type, csvBytes(uploaded(request)), mappingOf(request));
      return { ...preview, fields: await importFields(deps, ctx, type) };
    },
  });

  app.post('/api/v1/imports/:type', {
    schema: {
      tags,
      summary: 'Import a CSV file',
      description:
        'Writes every good row and reports every bad one by its line (the header is line 1); a row is written whole or not at all. A file that cannot be read, or a mapping that does not fit it, is refused before anything is written. ' +
        'The answer is newline-delimited JSON: a `started` line with the number of rows, a `rows` line per batch with what became of each row, and a `finished` line with the counts (or `failed`, should the server fail midway). Needs the import action.',
      params: ImportParams,
      querystring: ImportColumnsQuery,
      body: csvBody,
      response: { 200: { description: 'One JSON object per line.', content: { [NDJSON]: { schema: ImportEventSchema } } }, ...errorResponses },
    } as Record<string, unknown>,
    handler: async (request, reply) => {
      const ctx = actorOf(request);
      const type = (request.params as { type: ImportableType }).type;
      await requireImportRights(deps, ctx, type);
      const source = csvBytes(uploaded(request));
      const out = new PassThrough();
      let started = false;
      try {
        const summary = await importCsv(deps, ctx, type, source, {
          batchSize: IMPORT_BATCH_ROWS,
          columns: mappingOf(request),
          // The file has been read through once and found sound: from here the answer streams.
          onStart: (total) => {
            started = true;
            void reply.status(200).header('content-type', NDJSON).header('cache-control', 'no-store').send(out);
            return writeLine(out, { kind: 'started', total });
          },
          onRows: (rows: RowResult[]) => writeLine(out, { kind: 'rows', rows }),
          onProgress: () => undefined,
        });
        await writeLine(out, { kind: 'finished', imported: summary.imported, rejected: summary.rejected, total: summary.total, ignoredColumns: summary.ignoredColumns });
      } catch (error) {
        if (!started) throw error;
        const known = error instanceof AppError ? error : new AppError('internal.error', `Something went wrong on our side; quote request id ${request.id}`);
        if (!(error instanceof AppError)) request.log.error({ requestId: request.id }, 'an import failed midway');
        await writeLine(out, { kind: 'failed', error: { code: known.code, message: known.message } });
      }
      out.end();
      return reply;
    },
  });
}

/** The body the CSV parser read, or a refusal of an empty upload. */
function uploaded(request: FastifyRequest): Buffer {
  const body = request.body;
  if (typeof body !== 'string' || body.trim() === '') throw new AppError('import.invalid_file', 'The file is empty; the first line must name the columns');
  return Buffer.from(body, 'utf8');
}

/** `?columns=firstName,lastName,,email`: one mapping key per column, empty to skip it. */
function mappingOf(request: FastifyRequest): (string | null)[] | undefined {
  const columns = (request.query as { columns?: string }).columns;
  if (columns === undefined) return undefined;
  return columns.split(',').map((key) => (key === '' ? null : key));
}

/** A CSV upload: at most MAX_IMPORT_BYTES of strict UTF-8. */
const readCsvBody = fileBodyParser({
  maxBytes: MAX_IMPORT_BYTES,
  tooLarge: () => new AppError('import.too_large', `The file is larger than ${MAX_IMPORT_BYTES / 1_048_576} MB; split it into smaller files`),
  notUtf8: () => new AppError('import.invalid_file', 'The file is not UTF-8 text; save it as "CSV UTF-8" and try again'),
  interrupted: () => new AppError('import.invalid_file', 'The upload was interrupted'),
});

/** Writes one line of newline-delimited JSON, waiting while the client catches up. */
async function writeLine(out: Writable, event: unknown): Promise<void> {
  if (out.destroyed || out.writableEnded) return;
  if (!out.write(`${JSON.stringify(event)}\n`)) await Promise.race([once(out, 'drain'), once(out, 'close')]);
}
