import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { stringify } from 'csv-stringify';
import { RECORD_TYPES, type RecordType } from '../../data/field-registry.js';
import { countRecords, iterateRecords, visibleSchema, type DataDeps, type ListQuery } from '../../data/record-store.js';
import { AppError } from '../../shared/errors.js';
import type { ActorContext } from '../../shared/principal.js';
import { exportColumns } from './transfer.columns.js';
import { recordAudit } from '../../data/audit-trail.js';
import { writeFileAtomically } from '../../shared/atomic-file.js';
import { refuseExportInLockdown } from '../detection/containment.service.js';

/**
 * CSV export. Records are read through the protected data layer page by page (never by SQL of
 * its own), so whatever policy, masking and audit apply to a list apply to an export too.
 */

export interface ExportProgress {
  done: number;
  total: number;
}

/** Which records an export holds: the filters, search and sort of a list (without paging). */
export type ExportQuery = Omit<ListQuery, 'cursor' | 'limit' | 'purpose' | 'trash'>;

export interface ExportOptions {
  onProgress?: (progress: ExportProgress) => void;
  /** The list the export is of; without it, every live record the caller may export. */
  query?: ExportQuery;
}

export interface ExportResult {
  rows: number;
  /** SHA-256 of the CSV bytes, hex: what the audit log records, so a file found later can be matched to its export. */
  sha256: string;
}

// Spreadsheets run a cell that starts with one of these as a formula (CSV injection); a leading
// quote makes it text.
const FORMULA_START = /^[=+\-@\t\r]/;
const PROGRESS_EVERY = 1000;

/** Writes every live record of a type as CSV to `output`, header first. Answers the row count. */
export async function exportCsv(deps: DataDeps, ctx: ActorContext, type: RecordType, output: Writable, options: ExportOptions = {}): Promise<ExportResult> {
  if (!(RECORD_TYPES as readonly string[]).includes(type)) throw new AppError('export.invalid_request', `Exports are of ${RECORD_TYPES.join(', ')}`);
  await refuseExportInLockdown(deps);
  // Columns the caller's roles hide are left out altogether, header included.
  const schema = await visibleSchema(deps, ctx, type);
  const columns = exportColumns(schema);
  const total = options.onProgress ? await countRecords(deps, ctx, type) : 0;
  const csv = stringify({ header: true, columns: columns.map((c) => c.header), eof: true });
  const piped = new Promise<void>((resolve, reject) => {
    csv.on('error', reject);
    output.on('error', reject);
    output.on('finish', resolve);
    // A download the client gave up on closes the output without finishing it.
    output.on('close', () => reject(new AppError('export.invalid_request', 'The export was closed before it was complete')));
  });
  piped.catch(() => undefined);
  const fingerprint = createHash('sha256');
  csv.on('data', (chunk: Buffer | string) => fingerprint.update(chunk));
  csv.pipe(output);

  let rows = 0;
  try {
    for await (const record of iterateRecords(deps, ctx, type, { ...options.query, purpose: 'export' })) {
      const line = columns.map((column) => csvCell(column.value(record)));
      if (!csv.write(line)) await Promise.race([once(csv, 'drain'), piped]);
      rows += 1;
      if (options.onProgress && rows % PROGRESS_EVERY === 0) options.onProgress({ done: rows, total: Math.max(total, rows) });
    }
  } catch (error) {
    csv.destroy();
    throw error;
  }
  csv.end();
  await piped;
  options.onProgress?.({ done: rows, total: rows });
  const sha256 = fingerprint.digest('hex');
  // Each page read was recorded with its records as it was read; this entry closes the export.
  // Filter values can be personal data (an email, a name searched for): only which fields filtered is kept.
  await recordAudit(deps, ctx, { action: 'export.completed', recordType: type, fields: columns.map((c) => c.header), details: { format: 'csv', rows, sha256, ...narrowing(options.query) } });
  return { rows, sha256 };
}

/**
 * Exports to a file that only its owner can read (mode 0600), atomically; an existing file is kept
 * unless `overwrite` is set.
 */
export async function exportCsvFile(deps: DataDeps, ctx: ActorContext, type: RecordType, file: string, options: ExportOptions & { overwrite?: boolean } = {}): Promise<ExportResult> {
  return writeFileAtomically(file, 'export.invalid_request', options, (stream) => exportCsv(deps, ctx, type, stream, options));
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
