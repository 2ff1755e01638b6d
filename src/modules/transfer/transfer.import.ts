import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse, type CsvError, type Info } from 'csv-parse';
import { recordAudit } from '../../data/audit-trail.js';
import { createRecords, getRecord, inTransaction, listRecords, recordSchema, type DataDeps, type RecordInput, type RecordView } from '../../data/record-store.js';
import { AppError, type FieldProblem } from '../../shared/errors.js';
import { isId } from '../../shared/ids.js';
import type { ActorContext } from '../../shared/principal.js';
import { stripMarks } from '../exports/export-fingerprint.js';
import { mapColumns, mapHeader, suggestMapping, targetKey, type ColumnTarget } from './transfer.columns.js';

/**
 * CSV import. The file is read twice: a first pass proves it is UTF-8 CSV with known columns and
 * counts its rows, so a broken file is refused before anything is written; the second pass writes
 * good rows in batches through the protected data layer and reports each bad row by line number.
 */

export const IMPORTABLE_TYPES = ['contacts', 'companies'] as const;
export type ImportableType = (typeof IMPORTABLE_TYPES)[number];

/** Where CSV bytes come from; `open` is called once per pass, so it must start over each time. */
export interface CsvSource {
  open(): Readable;
  /** At most this many records (the header included); more refuses the file with import.too_large. */
  readonly maxRecords?: number;
}

/** The rows one uploaded file may hold: enough for any list people keep, and a bound on one request's work. */
export const MAX_UPLOAD_ROWS = 100_000;

/** The slices an upload is fed to the parser in, so it parses no further ahead than it is read. */
const UPLOAD_SLICE = 64 * 1024;

export interface RejectedLine {
  /** The line of the file the row starts on; the header is line 1. */
  line: number;
  /** What is wrong, field by field; never the value, which may be personal data. */
  problems: FieldProblem[];
}

export interface ImportSummary {
  imported: number;
  rejected: number;
  /** The first rejected lines, in file order; `rejectedLinesTruncated` says whether there were more. */
  rejectedLines: RejectedLine[];
  rejectedLinesTruncated: boolean;
  /**
   * Columns that were skipped, as named in the header: those holding system values (id,
   * timestamps), and with a chosen mapping those mapped to nothing.
   */
  ignoredColumns: string[];
  /** Data rows in the file, written or rejected. */
  total: number;
  /** SHA-256 of the file's bytes, hex, as the audit entry of the import records it. */
  sha256: string;
}

/** What became of one data row: the record written, or what is wrong with the row. */
export type RowResult = { line: number; ok: true; id: string } | { line: number; ok: false; problems: FieldProblem[] };

export interface ImportProgress {
  /** Data rows handled so far, written or rejected. */
  done: number;
  total: number;
}

export interface ImportOptions {
  /** Rows written per transaction. */
  batchSize?: number;
  onProgress?: (progress: ImportProgress) => void;
  /**
   * The field each column feeds, chosen by a person: one mapping key per column of the header
   * (see `targetKey`), null to skip the column. Without it the header's names decide.
   */
  columns?: readonly (string | null)[];
  /** Called once the file has been read through and found sound, before anything is written; awaited. */
  onStart?: (total: number) => void | Promise<void>;
  /** Called after each batch with what became of each of its rows, in file order; awaited. */
  onRows?: (rows: RowResult[]) => void | Promise<void>;
}

const DEFAULT_BATCH = 1000;
/** Rows a preview shows and tries. */
export const PREVIEW_ROWS = 10;
const MAX_REPORTED_LINES = 1000;
const MAX_RECORD_BYTES = 1_000_000;
const COMPANY_CACHE_LIMIT = 10_000;
// A cell a spreadsheet would run as a formula is written with a leading quote by exports; an
// import takes the quote off again so a round trip keeps the value.
const GUARDED_CELL = /^'[=+\-@\t\r]/;

/** Reads a CSV file from disk; a missing or unreadable file is a bad file, not a crash. */
export function csvFile(file: string): CsvSource {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new AppError('import.invalid_file', 'The file does not exist or cannot be read');
  }
  if (!stat.isFile()) throw new AppError('import.invalid_file', 'That is not a file');
  return { open: () => fs.createReadStream(file) };
}

/**
 * Imports contacts or companies from CSV. Unknown columns, a file that is not UTF-8 CSV and an
 * empty file fail with nothing written; otherwise every good row is written and every bad row is
 * reported with its line number. A row is written whole or not at all.
 */
export async function importCsv(deps: DataDeps, ctx: ActorContext, type: ImportableType, source: CsvSource, options: ImportOptions = {}): Promise<ImportSummary> {
  if (!(IMPORTABLE_TYPES as readonly string[]).includes(type)) throw new AppError('import.invalid_file', `Only ${IMPORTABLE_TYPES.join(' and ')} can be imported`);
  const batchSize = Math.max(1, Math.min(options.batchSize ?? DEFAULT_BATCH, 10_000));
  const schema = await recordSchema(deps, type);
  const delimiter = await detectDelimiter(source);

  // Pass one: structure, encoding and columns; nothing is written.
  let header: string[] | null = null;
  let targets: ColumnTarget[] = [];
  let total = 0;
  const sha256 = await readCsv(source, delimiter, (cells) => {
    if (header === null) {
      header = cells;
      targets = options.columns ? mapColumns(schema, type, cells, options.columns) : mapHeader(schema, type, cells);
    } else {
      total += 1;
    }
  });
  if (header === null) throw emptyFile();
  const columns: string[] = header;
  await options.onStart?.(total);

  // Pass two: write.
  const summary: ImportSummary = {
    imported: 0,
    rejected: 0,
    rejectedLines: [],
    rejectedLinesTruncated: false,
    ignoredColumns: columns.filter((_, i) => targets[i]!.kind === 'ignored').map((name) => name.trim()),
    total,
    sha256,
  };
  const reject = (line: number, problems: FieldProblem[]): void => {
    summary.rejected += 1;
    if (summary.rejectedLines.length < MAX_REPORTED_LINES) summary.rejectedLines.push({ line, problems });
    else summary.rejectedLinesTruncated = true;
  };
  const companies = new CompanyResolver(deps, ctx);
  let batch: PendingRow[] = [];
  let done = 0;
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    const results = await writeBatch(deps, ctx, type, rows, companies);
    for (const result of results) {
      if (result.ok) summary.imported += 1;
      else reject(result.line, result.problems);
    }
    done += rows.length;
    await options.onRows?.(results);
    options.onProgress?.({ done, total });
  };

  let seenHeader = false;
  await readCsv(source, delimiter, async (cells, line) => {
    if (!seenHeader) {
      seenHeader = true;
      return;
    }
    const row = rowFromCells(cells, columns.length, targets);
    if ('problems' in row) {
      // Rejected before the database: counted in file order with the rest of the batch.
      batch.push({ line, input: {}, company: null, problems: row.problems });
    } else {
      batch.push({ line, input: row.input, company: row.company, problems: null });
    }
    if (batch.length >= batchSize) await flush();
  });
  await flush();
  options.onProgress?.({ done, total });
  summary.rejectedLines.sort((a, b) => a.line - b.line);
  // Each written record has its own entry; this one closes the import with its counts and the
  // file's fingerprint, as an export's does.
  await recordAudit(deps, ctx, {
    action: 'import.completed',
    recordType: type,
    fields: targets.map(targetKey).filter((key): key is string => key !== null),
    details: { format: 'csv', rows: total, imported: summary.imported, rejected: summary.rejected, sha256 },
  });
  return summary;
}

/** What an import screen shows before anything is written. */
export interface ImportPreview {
  /** The header's column names, in file order. */
  header: string[];
  /** For each column, the mapping key its name suggests, or null. */
  suggested: (string | null)[];
  /** Data rows in the file. */
  total: number;
  /** The first rows under the mapping (the given one, else the suggested one), tried but not written. */
  rows: PreviewRow[];
}

export interface PreviewRow {
  line: number;
  /**
   * By mapping key: the value as it would be stored and shown to the caller (normalised, masked
   * where the caller's roles mask it) when the row is good, else the cell's text.
   */
  values: Record<string, string | null>;
  problems: FieldProblem[];
}

/**
 * Reads the file (refusing it as an import would), suggests a mapping and tries the first rows
 * under the chosen one in a transaction that is rolled back: the problems shown are the ones the
 * import would meet, and nothing is written or recorded.
 */
export async function previewCsv(deps: DataDeps, ctx: ActorContext, type: ImportableType, source: CsvSource, columns?: readonly (string | null)[]): Promise<ImportPreview> {
  if (!(IMPORTABLE_TYPES as readonly string[]).includes(type)) throw new AppError('import.invalid_file', `Only ${IMPORTABLE_TYPES.join(' and ')} can be imported`);
  const schema = await recordSchema(deps, type);
  const delimiter = await detectDelimiter(source);
  let header: string[] | null = null;
  let total = 0;
  const sample: { cells: string[]; line: number }[] = [];
  await readCsv(source, delimiter, (cells, line) => {
    if (header === null) header = cells;
    else {
      total += 1;
      if (sample.length < PREVIEW_ROWS) sample.push({ cells, line });
    }
  });
  if (header === null) throw emptyFile();
  const names: string[] = header;
  const suggested = suggestMapping(schema, type, names);
  const targets = mapColumns(schema, type, names, columns ?? suggested);
  const keyed = targets.map((target, i) => ({ target, key: targetKey(target), index: i })).filter((c): c is { target: ColumnTarget; key: string; index: number } => c.key !== null);
  const cellValues = (cells: string[]): Record<string, string | null> => Object.fromEntries(keyed.map((c) => [c.key, blankToNull(cells[c.index])]));

  const pending: PendingRow[] = sample.map(({ cells, line }) => {
    const row = rowFromCells(cells, names.length, targets);
    return 'problems' in row ? { line, input: {}, company: null, problems: row.problems } : { line, input: row.input, company: row.company, problems: null };
  });
  const rows = await tryWithoutWriting(deps, async (tx) => {
    const results = await writeBatch(tx, ctx, type, pending, new CompanyResolver(tx, ctx));
    const tried: PreviewRow[] = [];
    for (const [i, result] of results.entries()) {
      const cells = sample[i]!.cells;
      if (!result.ok) {
        tried.push({ line: result.line, values: cellValues(cells), problems: result.problems });
        continue;
      }
      // The caller wrote these values a moment ago; reading them back is not a read of stored data.
      const view = await getRecord(tx, ctx, type, result.id, { audited: false });
      tried.push({ line: result.line, values: { ...cellValues(cells), ...storedValues(view, keyed) }, problems: [] });
    }
    return tried;
  });
  return { header: names, suggested, total, rows };
}

/** Runs `work` in a transaction and rolls it back, records, keys and audit entries alike. */
async function tryWithoutWriting<T>(deps: DataDeps, work: (tx: DataDeps) => Promise<T>): Promise<T> {
  // Inside a caller's transaction the rollback would take the caller's work with it.
  if (deps.db.isTransaction) throw new Error('a trial write needs a transaction of its own');
  const marker = { rolledBack: true as const, value: undefined as T | undefined };
  try {
    await inTransaction(deps, async (tx) => {
      marker.value = await work(tx);
      throw marker;
    });
  } catch (error) {
    if (error === marker) return marker.value as T;
    throw error;
  }
  throw new Error('unreachable: the trial transaction was not rolled back');
}

function storedValues(view: RecordView, columns: { target: ColumnTarget; key: string }[]): Record<string, string | null> {
  const values: Record<string, string | null> = {};
  for (const { target, key } of columns) {
    if (target.kind === 'field') values[key] = displayText(view[target.def.key]);
    else if (target.kind === 'custom') values[key] = displayText((view.customFields as Record<string, unknown> | undefined)?.[target.def.key]);
  }
  return values;
}

function displayText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map(String).join(';');
  return String(value);
}

function blankToNull(cell: string | undefined): string | null {
  return cell === undefined || cell.trim() === '' ? null : cell;
}

/**
 * A source over bytes already in memory, such as an uploaded file. Handed to the parser whole, the
 * parser would build every row before the first is read (a 10 MB file of short lines took gigabytes);
 * in slices it keeps pace with the reader.
 */
export function csvBytes(bytes: Buffer, maxRecords = MAX_UPLOAD_ROWS + 1): CsvSource {
  function* slices() {
    for (let at = 0; at < bytes.length; at += UPLOAD_SLICE) yield bytes.subarray(at, at + UPLOAD_SLICE);
  }
  return { open: () => Readable.from(slices(), { objectMode: false }), maxRecords };
}

function emptyFile(): AppError {
  return new AppError('import.invalid_file', 'The file is empty; the first line must name the columns');
}

interface PendingRow {
  line: number;
  input: RecordInput;
  /** The company column's text, to resolve to `companyId`. */
  company: string | null;
  /** Problems found before the database was asked, or null. */
  problems: FieldProblem[] | null;
}

function rowFromCells(cells: string[], width: number, targets: ColumnTarget[]): { input: RecordInput; company: string | null } | { problems: FieldProblem[] } {
  // Spreadsheets often leave trailing separators; extra empty cells are harmless.
  const extra = cells.slice(width);
  if (cells.length < width || extra.some((c) => c.trim() !== '')) {
    return { problems: [{ field: 'row', message: `has ${cells.length} values; the header has ${width}` }] };
  }
  const input: RecordInput = {};
  let company: string | null = null;
  targets.forEach((target, i) => {
    let cell = cells[i]!;
    if (cell.trim() === '') return;
    if (GUARDED_CELL.test(cell)) cell = cell.slice(1);
    switch (target.kind) {
      case 'field':
        input[target.def.key] = cell;
        break;
      case 'custom':
        input.customFields = { ...input.customFields, [target.def.key]: cell };
        break;
      case 'company':
        company = cell.normalize('NFC').trim();
        break;
      case 'ignored':
        break;
    }
  });
  return { input, company };
}

/** Writes the good rows of a batch in one transaction; answers what became of every row, in order. */
async function writeBatch(deps: DataDeps, ctx: ActorContext, type: ImportableType, rows: PendingRow[], companies: CompanyResolver): Promise<RowResult[]> {
  await companies.prefetch(rows.filter((r) => r.problems === null && r.company !== null).map((r) => r.company!));
  const results: RowResult[] = [];
  const writable: { row: PendingRow; at: number }[] = [];
  for (const row of rows) {
    if (row.problems) {
      results.push({ line: row.line, ok: false, problems: row.problems });
      continue;
    }
    if (row.company !== null) {
      const resolved = companies.resolve(row.company);
      if (!resolved.ok) {
        results.push({ line: row.line, ok: false, problems: [{ field: 'company', message: resolved.message }] });
        continue;
      }
      if (row.input.companyId !== undefined && row.input.companyId !== resolved.id) {
        results.push({ line: row.line, ok: false, problems: [{ field: 'company', message: 'names a different company than companyId' }] });
        continue;
      }
      row.input.companyId = resolved.id;
    }
    writable.push({ row, at: results.length });
    // Filled in once the database has answered.
    results.push({ line: row.line, ok: false, problems: [] });
  }
  if (writable.length === 0) return results;
  const written = await createRecords(deps, ctx, type, writable.map((w) => w.row.input), [], { purpose: 'import' });
  written.forEach((result, i) => {
    const { row, at } = writable[i]!;
    results[at] = result.ok ? { line: row.line, ok: true, id: result.id } : { line: row.line, ok: false, problems: result.problems };
  });
  return results;
}

type Resolution = { ok: true; id: string } | { ok: false; message: string };

/** Turns company names in a contacts file into ids, asking the data layer once per distinct name. */
class CompanyResolver {
  private readonly known = new Map<string, Resolution>();

  constructor(
    private readonly deps: DataDeps,
    private readonly ctx: ActorContext,
  ) {}

  async prefetch(names: string[]): Promise<void> {
    if (this.known.size > COMPANY_CACHE_LIMIT) this.known.clear();
    for (const name of new Set(names)) {
      if (this.known.has(name) || isRecordId(name)) continue;
      if (name.length > 200) {
        this.known.set(name, { ok: false, message: 'is longer than any company name' });
        continue;
      }
      const page = await listRecords(this.deps, this.ctx, 'companies', { filters: { name }, limit: 2 }, { audited: false });
      this.known.set(
        name,
        page.items.length === 1
          ? { ok: true, id: page.items[0]!.id }
          : { ok: false, message: page.items.length === 0 ? 'does not name an existing company' : 'names more than one company; give its id in companyId instead' },
      );
    }
  }

  resolve(name: string): Resolution {
    if (isRecordId(name)) return { ok: true, id: name };
    return this.known.get(name) ?? { ok: false, message: 'does not name an existing company' };
  }
}

/** A company column may hold an id instead of a name. */
function isRecordId(text: string): boolean {
  return isId(text);
}

// ---- Reading -----------------------------------------------------------------------------------

/**
 * Streams the records of a CSV source with the line each starts on. Blank lines are skipped.
 * Invalid UTF-8, NUL bytes and broken quoting fail with `import.invalid_file`.
 */
async function readCsv(source: CsvSource, delimiter: string, onRecord: (cells: string[], line: number) => void | Promise<void>): Promise<string> {
  const guard = new CsvGuard();
  const parser = parse({
    bom: true,
    delimiter,
    info: true,
    relax_column_count: true,
    // Blank lines come through as records so byte offsets stay contiguous for line numbers.
    skip_empty_lines: false,
    max_record_size: MAX_RECORD_BYTES,
  });
  const piping = pipeline(source.open(), guard, parser);
  // The pipeline's own rejection is the same error the loop below sees; it is awaited there.
  piping.catch(() => undefined);
  let start = 0;
  let records = 0;
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: Info }>) {
      const line = guard.lineAt(start);
      start = item.info.bytes;
      if (item.record.every((cell) => cell.trim() === '')) continue;
      records += 1;
      if (source.maxRecords !== undefined && records > source.maxRecords) {
        throw new AppError('import.too_large', `The file has more than ${source.maxRecords - 1} rows; split it into smaller files`);
      }
      // An exported file carries invisible export marks in some cells: they are never stored.
      await onRecord(item.record.map(stripMarks), line);
    }
    await piping;
  } catch (error) {
    throw asFileError(error);
  }
  return guard.sha256();
}

/** Looks at the first line: a header split by semicolons or tabs and no commas is read that way. */
async function detectDelimiter(source: CsvSource): Promise<string> {
  const stream = source.open();
  let head = '';
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      head += chunk.toString('utf8');
      if (head.includes('\n') || head.length > 65_536) break;
    }
  } catch {
    throw new AppError('import.invalid_file', 'The file cannot be read');
  } finally {
    stream.destroy();
  }
  const firstLine = head.split('\n', 1)[0] ?? '';
  const count = (c: string): number => firstLine.split(c).length - 1;
  if (count(',') > 0) return ',';
  if (count(';') > 0) return ';';
  if (count('\t') > 0) return '\t';
  return ',';
}

const CSV_PROBLEMS: Record<string, string> = {
  CSV_QUOTE_NOT_CLOSED: 'a quoted value is never closed',
  CSV_INVALID_CLOSING_QUOTE: 'a closing quote is followed by other text',
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: 'a closing quote is followed by other text',
  CSV_MAX_RECORD_SIZE: `a row is longer than ${MAX_RECORD_BYTES / 1_000_000} MB`,
};

function asFileError(error: unknown): unknown {
  if (error instanceof AppError) return error;
  const csv = error as Partial<CsvError> & { lines?: number };
  if (typeof csv.code === 'string' && csv.code.startsWith('CSV_')) {
    const reason = CSV_PROBLEMS[csv.code] ?? 'it cannot be read as CSV';
    return new AppError('import.invalid_file', `The file is not valid CSV: ${reason}${typeof csv.lines === 'number' ? ` (near line ${csv.lines})` : ''}`);
  }
  if ((error as NodeJS.ErrnoException | null)?.code?.startsWith('E')) return new AppError('import.invalid_file', 'The file cannot be read');
  return error;
}

/**
 * Sits between the file and the parser: refuses bytes that are not UTF-8 text and notes where
 * each line ends, so a record's starting byte offset turns into a line number.
 */
class CsvGuard extends Transform {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private readonly fingerprint = createHash('sha256');
  private offset = 0;
  /** Byte offsets of line terminators not yet passed by `lineAt`. */
  private breaks: number[] = [];
  private head = 0;
  private line = 1;
  private lastWasCr = false;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.decoder.decode(chunk, { stream: true });
    } catch {
      callback(notUtf8());
      return;
    }
    if (chunk.includes(0)) {
      callback(new AppError('import.invalid_file', 'The file holds NUL bytes, so it is not a CSV text file'));
      return;
    }
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      // CRLF, LF and a lone CR each end one line.
      if (byte === 0x0a) {
        if (!this.lastWasCr) this.breaks.push(this.offset + i);
        this.lastWasCr = false;
      } else if (byte === 0x0d) {
        this.breaks.push(this.offset + i);
        this.lastWasCr = true;
      } else {
        this.lastWasCr = false;
      }
    }
    this.offset += chunk.length;
    this.fingerprint.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.decoder.decode();
    } catch {
      callback(notUtf8());
      return;
    }
    callback();
  }

  /** SHA-256 of every byte passed, hex; once the file has been read through. */
  sha256(): string {
    return this.fingerprint.digest('hex');
  }

  /** The line a byte offset falls on. Offsets must be asked in increasing order. */
  lineAt(offset: number): number {
    while (this.head < this.breaks.length && this.breaks[this.head]! < offset) {
      this.head += 1;
      this.line += 1;
    }
    if (this.head > 4096) {
      this.breaks = this.breaks.slice(this.head);
      this.head = 0;
    }
    return this.line;
  }
}

function notUtf8(): AppError {
  return new AppError('import.invalid_file', 'The file is not UTF-8 text; save it as "CSV UTF-8" and try again');
}
