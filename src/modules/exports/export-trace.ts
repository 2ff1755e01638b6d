import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import type { Kysely } from 'kysely';
import { recordAudit } from '../../data/audit-trail.js';
import { requirePermission } from '../../data/access.js';
import { RECORD_TYPES, SYSTEM_FIELDS, type RecordType } from '../../data/field-registry.js';
import { listRecords, recordSchema, type DataDeps } from '../../data/record-store.js';
import { AppError } from '../../shared/errors.js';
import type { ActorContext } from '../../shared/principal.js';
import { TraceIndex, type CanaryColumn, type TraceVerdict } from './export-fingerprint.js';
import { normaliseHeader } from '../transfer/transfer.columns.js';
import { allMarkKeys } from './export-mark-keys.js';

/**
 * Tracing a file back to its export: the file is read (CSV in any column order, with any columns
 * left out, or JSON), every cell is searched for the keyed mark and every row for the values of the
 * canary rows of every recorded export (TraceIndex in export-fingerprint.ts weighs the evidence:
 * 'certain' when chance could not explain it, 'likely' when it points at one export but less
 * firmly). A file that carries no mark answers an empty list: one from another installation, or
 * made before exports were fingerprinted, carries none.
 */

export interface TraceCandidate extends TraceVerdict {
  exportId: string;
  exportNo: number;
  /** Who exported: the user's e-mail address, or `operator:<name>` for the command line. */
  exporter: string;
  requestedBy: string | null;
  type: string;
  format: string;
  exportedAt: string;
  downloadedAt: string | null;
  rowsWritten: number | null;
  /** Whether the file is byte for byte the one the export wrote (its SHA-256 as recorded). */
  sameFile: boolean;
}

export interface TraceResult {
  /** Format the file was read as. */
  format: 'csv' | 'json';
  /** Rows read, a CSV header included. */
  rows: number;
  /** Rows carrying any export mark, this installation's or not. */
  markedRows: number;
  /** Newest export first. */
  candidates: TraceCandidate[];
}

/** The largest file a trace reads. */
export const MAX_TRACE_BYTES = 50 * 1_048_576;

interface ExportRow {
  id: string;
  export_no: number;
  requested_by: string | null;
  requested_by_label: string;
  type: string;
  format: string;
  rows_written: number | null;
  created_at: string;
  downloaded_at: string | null;
  sha256: string | null;
}

/**
 * Traces a file for an actor: needs 'audit.read', and is audited as 'export.traced' with the
 * number of candidates found (never the file or what it holds).
 */
export async function traceExportFor(deps: DataDeps, ctx: ActorContext, bytes: Buffer): Promise<TraceResult> {
  await requirePermission(deps, ctx, 'audit.read', 'Your roles do not allow you to trace exported files');
  const result = await traceExport(deps, bytes);
  await recordAudit(deps, ctx, { action: 'export.traced', details: { candidates: result.candidates.length, format: result.format } });
  return result;
}

/** Names the exports a file came from, with the evidence; see the module comment. */
export async function traceExport(deps: DataDeps, bytes: Buffer): Promise<TraceResult> {
  if (bytes.length > MAX_TRACE_BYTES) throw new AppError('export.too_large', `The file is larger than ${MAX_TRACE_BYTES / 1_048_576} MB`);
  const text = decode(bytes);
  const format = looksLikeJson(text) ? 'json' : 'csv';
  const exports = (await (deps.db as unknown as Kysely<any>)
    .selectFrom('exports')
    .select(['id', 'export_no', 'requested_by', 'requested_by_label', 'type', 'format', 'rows_written', 'created_at', 'downloaded_at', 'sha256'])
    // Only exports that wrote a file: one asked for and never downloaded marked nothing.
    .where((eb: any) => eb.or([eb('downloaded_at', 'is not', null), eb('rows_written', 'is not', null)]))
    .orderBy('created_at', 'desc')
    .orderBy('export_no', 'desc')
    .execute()) as ExportRow[];
  const keys = (await allMarkKeys(deps)).map((k) => k.key);
  const extraColumns = await customColumns(deps, new Set(exports.map((e) => e.type)));
  const index = new TraceIndex();
  for (const row of exports) {
    index.add(
      { exportId: row.id, exportNo: Number(row.export_no), type: row.type, rowsWritten: row.rows_written === null ? null : Number(row.rows_written), extraColumns: extraColumns.get(row.type) ?? [] },
      keys,
    );
  }
  const onRow = (cells: string[], id?: string): void => index.scan(cells, id);
  if (format === 'json') readJson(text, onRow);
  else await readCsv(bytes, text, onRow);

  const verdicts = index.verdicts(await importedCanaries(deps, index.matchedCanaries()));
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const candidates: TraceCandidate[] = [];
  exports.forEach((row, at) => {
    // An export of no rows carries no mark, and every such file of a type looks the same.
    const sameFile = row.sha256 === sha256 && Number(row.rows_written ?? 0) > 0;
    const verdict: TraceVerdict | undefined = verdicts.get(at) ?? (sameFile ? { confidence: 'certain', evidence: { canaryRows: 0, canaryHints: 0, markedRows: 0, markChunks: [] } } : undefined);
    if (!verdict) return;
    candidates.push({
      exportId: row.id,
      exportNo: Number(row.export_no),
      exporter: row.requested_by_label,
      requestedBy: row.requested_by,
      type: row.type,
      format: row.format,
      exportedAt: row.created_at,
      downloadedAt: row.downloaded_at,
      rowsWritten: row.rows_written === null ? null : Number(row.rows_written),
      sameFile,
      evidence: verdict.evidence,
      confidence: sameFile ? 'certain' : verdict.confidence,
    });
  });
  return { format, rows: index.rows, markedRows: index.markedRows, candidates };
}

/** Reads on behalf of the trace itself: whether a record exists, never shown to anyone. */
const TRACE_CONTEXT: ActorContext = { principal: { kind: 'system', job: 'export-trace' }, channel: 'job', requestId: null, sourceAddress: null, userAgent: null };

/**
 * The matched canaries that live records now hold: someone imported that export back, so its
 * canaries became records, went into later exports, and say nothing of where a file came from.
 */
async function importedCanaries(deps: DataDeps, matched: ReturnType<TraceIndex['matchedCanaries']>): Promise<Set<string>> {
  const imported = new Set<string>();
  for (const canary of matched) {
    const lookup: Record<string, string> | null = canary.type === 'contacts' || canary.type === 'leads' ? { email: canary.email } : canary.type === 'companies' ? { domain: canary.domain } : null;
    if (lookup === null) continue;
    const page = await listRecords(deps, TRACE_CONTEXT, canary.type as RecordType, { filters: lookup, limit: 1 }, { audited: false });
    if (page.items.length > 0) imported.add(canary.key);
  }
  return imported;
}

/** The e-mail and phone custom fields of each type, by the header an export gives them. */
async function customColumns(deps: DataDeps, types: Set<string>): Promise<Map<string, CanaryColumn[]>> {
  const columns = new Map<string, CanaryColumn[]>();
  for (const type of types) {
    if (!(RECORD_TYPES as readonly string[]).includes(type)) continue;
    const schema = await recordSchema(deps, type as RecordType);
    // Named as exportColumns names them: a key a built-in field has takes the custom. prefix.
    const builtIn = new Set([...SYSTEM_FIELDS, ...schema.fields].map((f) => f.key));
    columns.set(
      type,
      schema.custom.filter((def) => def.type === 'email' || def.type === 'phone').map((def) => ({ key: builtIn.has(def.key) ? `custom.${def.key}` : def.key, type: def.type })),
    );
  }
  return columns;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decode(bytes: Buffer): string {
  try {
    return utf8.decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    throw new AppError('export.invalid_file', 'The file is not UTF-8 text, so it is not a file Rampart exported');
  }
}

function looksLikeJson(text: string): boolean {
  const first = text.trimStart()[0];
  return first === '[' || first === '{';
}

/** A JSON export: an array of objects (or one object); every value of every object is a cell. */
function readJson(text: string, onRow: (cells: string[], id?: string) => void): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new AppError('export.invalid_file', 'The file is neither valid JSON nor CSV');
  }
  for (const item of Array.isArray(parsed) ? parsed : [parsed]) {
    const id = item !== null && typeof item === 'object' && !Array.isArray(item) ? (item as Record<string, unknown>).id : undefined;
    onRow(cellsOf(item), typeof id === 'string' ? id : undefined);
  }
}

function cellsOf(item: unknown): string[] {
  if (item === null || item === undefined) return [];
  if (Array.isArray(item)) return [item.map((v) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v))).join(';'), ...item.flatMap(cellsOf)];
  if (typeof item === 'object') return Object.values(item as Record<string, unknown>).flatMap(cellsOf);
  return [String(item)];
}

/** A CSV file, separated by commas, semicolons or tabs (as spreadsheets save in some languages). */
async function readCsv(bytes: Buffer, text: string, onRow: (cells: string[], id?: string) => void): Promise<void> {
  const firstLine = text.slice(0, text.search(/\r|\n|$/));
  const count = (c: string): number => firstLine.split(c).length - 1;
  const delimiter = [',', ';', '\t'].reduce((best, c) => (count(c) > count(best) ? c : best), ',');
  const parser = parse({ bom: true, delimiter, relax_column_count: true, relax_quotes: true, skip_empty_lines: true, max_record_size: 4 * 1_048_576 });
  // Fed in slices, so the parser keeps pace with the reading rather than building every row first.
  const SLICE = 64 * 1024;
  const source = Readable.from(
    (function* () {
      for (let at = 0; at < bytes.length; at += SLICE) yield bytes.subarray(at, at + SLICE);
    })(),
    { objectMode: false },
  );
  source.on('error', (error) => parser.destroy(error));
  source.pipe(parser);
  try {
    // The first line names the columns; the one named id, wherever it now is, holds record ids.
    let idColumn: number | null = null;
    for await (const record of parser as AsyncIterable<string[]>) {
      if (idColumn === null) idColumn = record.findIndex((name) => normaliseHeader(name) === 'id');
      onRow(record, idColumn >= 0 ? record[idColumn] : undefined);
    }
  } catch {
    throw new AppError('export.invalid_file', 'The file cannot be read as CSV or JSON');
  }
}
