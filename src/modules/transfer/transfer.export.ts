import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, type Transform, type Writable } from 'node:stream';
import { stringify } from 'csv-stringify';
import { RECORD_TYPES, SYSTEM_FIELDS, type RecordType } from '../../data/field-registry.js';
import { countRecords, iterateRecords, visibleSchema, type DataDeps, type ListQuery, type RecordSchema } from '../../data/record-store.js';
import { AppError } from '../../shared/errors.js';
import type { ActorContext } from '../../shared/principal.js';
import { ExportMarker, type CanaryColumn } from '../exports/export-fingerprint.js';
import { currentMarkKey } from '../exports/export-mark-keys.js';
import { exportColumns, type ExportColumn } from './transfer.columns.js';
import { recordAudit } from '../../data/audit-trail.js';
import { refuseExportInLockdown } from '../detection/containment.service.js';

/**
 * CSV and JSON export. Records are read through the protected data layer page by page (never by
 * SQL of its own), so whatever policy, masking and audit apply to a list apply to an export too.
 */

export interface ExportProgress {
  done: number;
  total: number;
}

/** Which records an export holds: the filters, search and sort of a list (without paging). */
export type ExportQuery = Omit<ListQuery, 'cursor' | 'limit' | 'purpose' | 'trash'>;

export interface ExportResult {
  rows: number;
  /** SHA-256 of the file's bytes, hex: what the audit log records, so a file found later can be matched to its export. */
  sha256: string;
}

// Spreadsheets run a cell that starts with one of these as a formula (CSV injection); a leading
// quote makes it text.
const FORMULA_START = /^[=+\-@\t\r]/;
const PROGRESS_EVERY = 1000;

/** The formats an export is written in. */
export type ExportFormat = 'csv' | 'json';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['csv', 'json'];

/** One governed export to write: what it holds, and the export it is (whose fingerprint it carries). */
export interface ExportWriteSpec {
  type: RecordType;
  format: ExportFormat;
  query?: ExportQuery;
  /** The export's id (a UUIDv7) and number: the per-export secret and the mark are made from them. */
  exportId: string;
  exportNo: number;
  /** At most this many records; without it, every record the query answers. */
  rowLimit?: number;
  onProgress?: (progress: ExportProgress) => void;
}

/**
 * Streams an export to `output` through the protected data layer (iterateRecords, purpose
 * 'export'), marked with the export's fingerprint (canary rows and the keyed mark, see
 * src/modules/exports/export-fingerprint.ts). CSV: the caller's visible columns, formula-defused
 * cells, lists joined by semicolons. JSON: an array of objects keyed by the same column names,
 * written object by object. Audits 'export.completed' with the export id, format, rows and
 * SHA-256. `rows` counts records, not canaries.
 */
export async function writeExport(deps: DataDeps, ctx: ActorContext, spec: ExportWriteSpec, output: Writable): Promise<ExportResult> {
  if (!(EXPORT_FORMATS as readonly string[]).includes(spec.format)) throw new AppError('export.invalid_request', `Exports are written as ${EXPORT_FORMATS.join(' or ')}`);
  if (!Number.isSafeInteger(spec.exportNo) || spec.exportNo < 1 || spec.exportNo > 0xffffffff || typeof spec.exportId !== 'string' || spec.exportId === '') {
    throw new AppError('export.invalid_request', 'An export needs its id and number');
  }
  if (spec.rowLimit !== undefined && (!Number.isSafeInteger(spec.rowLimit) || spec.rowLimit < 0)) throw new AppError('export.invalid_request', 'The row limit must be a whole number');
  return streamExport(deps, ctx, spec.type, output, {
    format: spec.format,
    ...(spec.query ? { query: spec.query } : {}),
    ...(spec.rowLimit !== undefined ? { rowLimit: spec.rowLimit } : {}),
    ...(spec.onProgress ? { onProgress: spec.onProgress } : {}),
    mark: { exportId: spec.exportId, exportNo: spec.exportNo },
  });
}

interface StreamOptions {
  format: ExportFormat;
  /** The list the export is of; without it, every live record the caller may export. */
  query?: ExportQuery;
  rowLimit?: number;
  onProgress?: (progress: ExportProgress) => void;
  mark: { exportId: string; exportNo: number };
}

async function streamExport(deps: DataDeps, ctx: ActorContext, type: RecordType, output: Writable, options: StreamOptions): Promise<ExportResult> {
  if (!(RECORD_TYPES as readonly string[]).includes(type)) throw new AppError('export.invalid_request', `Exports are of ${RECORD_TYPES.join(', ')}`);
  await refuseExportInLockdown(deps);
  // Columns the caller's roles hide are left out altogether, header included.
  const schema = await visibleSchema(deps, ctx, type);
  const columns = exportColumns(schema);
  const limit = options.rowLimit ?? Number.POSITIVE_INFINITY;
  const counted = options.onProgress ? await countRecords(deps, ctx, type, options.query?.filters ?? {}) : 0;
  const total = Math.min(counted, limit);

  const json = options.format === 'json';
  const source: Transform = json ? new PassThrough() : stringify({ header: true, columns: columns.map((c) => c.header), eof: true });
  const piped = new Promise<void>((resolve, reject) => {
    source.on('error', reject);
    output.on('error', reject);
    output.on('finish', resolve);
    // A download the client gave up on closes the output without finishing it.
    output.on('close', () => reject(new AppError('export.invalid_request', 'The export was closed before it was complete')));
  });
  piped.catch(() => undefined);
  const fingerprint = createHash('sha256');
  source.on('data', (chunk: Buffer | string) => fingerprint.update(chunk));
  source.pipe(output);

  const marker = new ExportMarker((await currentMarkKey(deps)).key, options.mark.exportId, options.mark.exportNo, type, columnKinds(schema, columns));
  let written = 0;
  const emit = async (values: unknown[]): Promise<void> => {
    let item: unknown;
    if (json) {
      const object: Record<string, unknown> = {};
      columns.forEach((c, i) => (object[c.header] = values[i] === undefined ? null : values[i]));
      item = `${written === 0 ? '[\n' : ',\n'}${JSON.stringify(object)}`;
    } else {
      item = values.map(csvCell);
    }
    written += 1;
    if (!source.write(item)) await Promise.race([once(source, 'drain'), piped]);
  };

  let rows = 0;
  try {
    for await (const record of iterateRecords(deps, ctx, type, { ...options.query, purpose: 'export' })) {
      if (rows >= limit) break;
      const values = columns.map((column) => column.value(record));
      for (const row of marker.add(values)) await emit(row);
      rows += 1;
      if (options.onProgress && rows % PROGRESS_EVERY === 0) options.onProgress({ done: rows, total: Math.max(total, rows) });
    }
    for (const row of marker.finish()) await emit(row);
    if (json && !source.write(written === 0 ? '[]\n' : '\n]\n')) await Promise.race([once(source, 'drain'), piped]);
  } catch (error) {
    source.destroy();
    throw error;
  }
  source.end();
  await piped;
  options.onProgress?.({ done: rows, total: rows });
  const sha256 = fingerprint.digest('hex');
  // Each page read was recorded with its records as it was read; this entry closes the export.
  // Filter values can be personal data (an email, a name searched for): only which fields filtered is kept.
  await recordAudit(deps, ctx, {
    action: 'export.completed',
    recordType: type,
    fields: columns.map((c) => c.header),
    details: { exportId: options.mark.exportId, format: options.format, rows, sha256, ...narrowing(options.query) },
  });
  return { rows, sha256 };
}

/** Each column's header key and field type, for the marks. */
function columnKinds(schema: RecordSchema, columns: ExportColumn[]): CanaryColumn[] {
  const builtIn = new Map([...SYSTEM_FIELDS, ...schema.fields].map((def) => [def.key, def.type as string]));
  const custom = new Map<string, string>();
  for (const def of schema.custom) {
    custom.set(def.key, def.type);
    custom.set(`custom.${def.key}`, def.type);
  }
  // A custom field whose key a built-in one has is exported as custom.<key>, so a bare key is built in.
  return columns.map((c) => ({ key: c.header, type: builtIn.get(c.header) ?? custom.get(c.header) ?? 'text' }));
}

function narrowing(query: ExportQuery | undefined): Record<string, unknown> {
  if (!query) return {};
  const filteredBy = [...Object.keys(query.filters ?? {}), ...(query.ranges ?? []).map((r) => `${r.key}[${r.op}]`)];
  return { ...(filteredBy.length > 0 ? { filteredBy } : {}), ...(query.q !== undefined && query.q.trim() !== '' ? { searched: true } : {}) };
}

/** One cell's text: empty for null, lists joined by semicolons, formulas defused. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return guardFormula(value.map(String).join(';'));
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return guardFormula(String(value));
}

function guardFormula(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}
