import fs from 'node:fs';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse, type CsvError, type Info } from 'csv-parse';
import { createRecords, listRecords, recordSchema, type DataDeps, type RecordInput } from '../../data/record-store.js';
import { AppError, type FieldProblem } from '../../shared/errors.js';
import { isId } from '../../shared/ids.js';
import type { ActorContext } from '../../shared/principal.js';
import { mapHeader, type ColumnTarget } from './transfer.columns.js';

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
}

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
  /** Columns that hold system values (id, timestamps) and were skipped, as named in the header. */
  ignoredColumns: string[];
}

export interface ImportProgress {
  /** Data rows handled so far, written or rejected. */
  done: number;
  total: number;
}

export interface ImportOptions {
  /** Rows written per transaction. */
  batchSize?: number;
  onProgress?: (progress: ImportProgress) => void;
}

const DEFAULT_BATCH = 1000;
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
  await readCsv(source, delimiter, (cells) => {
    if (header === null) {
      header = cells;
      targets = mapHeader(schema, type, cells);
    } else {
      total += 1;
    }
  });
  if (header === null) throw new AppError('import.invalid_file', 'The file is empty; the first line must name the columns');
  const columns: string[] = header;

  // Pass two: write.
  const summary: ImportSummary = {
    imported: 0,
    rejected: 0,
    rejectedLines: [],
    rejectedLinesTruncated: false,
    ignoredColumns: columns.filter((_, i) => targets[i]!.kind === 'ignored').map((name) => name.trim()),
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
    await writeBatch(deps, ctx, type, rows, companies, reject, (n) => {
      summary.imported += n;
    });
    done += rows.length;
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
  return summary;
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

async function writeBatch(
  deps: DataDeps,
  ctx: ActorContext,
  type: ImportableType,
  rows: PendingRow[],
  companies: CompanyResolver,
  reject: (line: number, problems: FieldProblem[]) => void,
  imported: (count: number) => void,
): Promise<void> {
  await companies.prefetch(rows.filter((r) => r.problems === null && r.company !== null).map((r) => r.company!));
  const writable: PendingRow[] = [];
  for (const row of rows) {
    if (row.problems) {
      reject(row.line, row.problems);
      continue;
    }
    if (row.company !== null) {
      const resolved = companies.resolve(row.company);
      if (!resolved.ok) {
        reject(row.line, [{ field: 'company', message: resolved.message }]);
        continue;
      }
      if (row.input.companyId !== undefined && row.input.companyId !== resolved.id) {
        reject(row.line, [{ field: 'company', message: 'names a different company than companyId' }]);
        continue;
      }
      row.input.companyId = resolved.id;
    }
    writable.push(row);
  }
  if (writable.length === 0) return;
  const results = await createRecords(deps, ctx, type, writable.map((r) => r.input), [], { purpose: 'import' });
  let ok = 0;
  results.forEach((result, i) => {
    if (result.ok) ok += 1;
    else reject(writable[i]!.line, result.problems);
  });
  imported(ok);
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
async function readCsv(source: CsvSource, delimiter: string, onRecord: (cells: string[], line: number) => void | Promise<void>): Promise<void> {
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
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: Info }>) {
      const line = guard.lineAt(start);
      start = item.info.bytes;
      if (item.record.every((cell) => cell.trim() === '')) continue;
      await onRecord(item.record, line);
    }
    await piping;
  } catch (error) {
    throw asFileError(error);
  }
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
