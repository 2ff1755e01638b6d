import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { Dialect, Executor } from '../../db/database.js';
import { AppError } from '../../shared/errors.js';
import { openChunks, type ChunkProgress, type OpenedBackupFile } from './backup-format.js';
import { canonicalLine, contentDigest, isIdentifier, tableRows, TableHasher, type ColumnKind, type ColumnShape, type TableContent, type TableShape } from './canonical-content.js';

/**
 * The logical dump inside a backup: newline-separated JSON, gzip-compressed before it is sealed.
 *
 *   {"kind":"backup", backupId, createdAt, dialect, migrations, tables: [shape + row count]}
 *   for each table, in name order:
 *     {"kind":"table","name":…}
 *     one canonical row per line (a JSON array, see canonical-content.ts)
 *     {"kind":"table-end","name":…,"rows":…,"sha256":…}
 *   {"kind":"manifest","tables":{name: {rows, sha256}},"sha256":…}
 *
 * Rows are arrays and everything else an object, so the first byte of a line says which it is.
 * A table's hash is over its row lines exactly as written, which is its canonical content hash:
 * verifying a file needs no parsing of rows, and the manifest compares directly with a database.
 */
export interface DumpTable extends TableShape {
  /** Rows counted when the snapshot began; the manifest has the rows written. */
  readonly rows: number;
}

export interface DumpBegin {
  readonly kind: 'backup';
  readonly backupId: string;
  readonly createdAt: string;
  readonly dialect: Dialect;
  /** The migrations the database had, in order: a restore brings its target to exactly these first. */
  readonly migrations: readonly string[];
  readonly tables: readonly DumpTable[];
}

export interface DumpManifest {
  readonly tables: Readonly<Record<string, TableContent>>;
  /** The canonical content hash of the whole database (canonical-content.ts). */
  readonly sha256: string;
}

/** Rows written so far and in all, over every table; `table` is the one being read. */
export type DumpProgress = { table: string; done: number; total: number };

/** Canonical rows per string handed to the compressor: fewer, larger writes. */
const LINES_PER_WRITE = 500;

/**
 * The lines of a dump of `tables`, read through `db` (a snapshot). The manifest is kept in
 * `result` once the last line is out. Every table must yield exactly the rows counted at the start
 * of the snapshot, or the dump stops: a row the key order skipped would otherwise go missing.
 */
export async function* dumpLines(db: Executor, begin: DumpBegin, result: { manifest?: DumpManifest }, onProgress?: (progress: DumpProgress) => void): AsyncGenerator<string> {
  yield `${JSON.stringify(begin)}\n`;
  const tables: Record<string, TableContent> = {};
  const total = begin.tables.reduce((sum, t) => sum + t.rows, 0);
  let written = 0;
  for (const table of begin.tables) {
    yield `${JSON.stringify({ kind: 'table', name: table.name })}\n`;
    const hasher = new TableHasher();
    onProgress?.({ table: table.name, done: written, total });
    for await (const rows of tableRows(db, begin.dialect, table)) {
      for (let at = 0; at < rows.length; at += LINES_PER_WRITE) {
        let text = '';
        for (const row of rows.slice(at, at + LINES_PER_WRITE)) {
          const line = canonicalLine(table, row);
          hasher.addLine(line);
          text += `${line}\n`;
        }
        yield text;
      }
      onProgress?.({ table: table.name, done: written + hasher.rows, total });
    }
    const content = hasher.finish();
    written += content.rows;
    if (content.rows !== table.rows) throw new Error(`table ${table.name}: read ${content.rows} rows of ${table.rows}`);
    tables[table.name] = content;
    yield `${JSON.stringify({ kind: 'table-end', name: table.name, ...content })}\n`;
  }
  const manifest: DumpManifest = { tables, sha256: contentDigest(tables) };
  result.manifest = manifest;
  yield `${JSON.stringify({ kind: 'manifest', ...manifest })}\n`;
}

export type DumpEvent =
  | { readonly kind: 'begin'; readonly begin: DumpBegin }
  /** Rows of a table, parsed when asked for (or captured), else only counted. */
  | { readonly kind: 'rows'; readonly table: DumpTable; readonly rows: unknown[][] | null; readonly count: number }
  | { readonly kind: 'table-end'; readonly table: DumpTable; readonly content: TableContent }
  | { readonly kind: 'manifest'; readonly manifest: DumpManifest };

export interface ReadDumpOptions {
  /** Parse every row (a restore); otherwise rows are only hashed and counted (verification). */
  readonly parse: boolean;
  /** Tables whose rows are parsed all the same (small ones a restore needs to look at first). */
  readonly capture?: ReadonlySet<string>;
  readonly onChunk?: (progress: ChunkProgress) => void;
  /** Sees every byte of every frame as it is read (after it authenticated). */
  readonly onBytes?: (bytes: Buffer) => void;
}

const ROWS_PER_EVENT = 500;
const MAX_LINE_BYTES = 64 * 1024 * 1024;
const KINDS: ReadonlySet<ColumnKind> = new Set(['integer', 'real', 'boolean', 'text', 'json', 'blob']);

function invalid(message: string): AppError {
  return new AppError('backup.invalid', `${message} Nothing was restored.`);
}

/**
 * Reads the dump of an opened backup file: every chunk opened and checked, decompressed, split
 * into lines, every table's rows counted and hashed against its end line and the manifest, and
 * the order of everything checked. Any fault throws `backup.invalid`; a caller that restores as it
 * reads does so in a transaction that the fault rolls back.
 */
export async function* readDump(file: OpenedBackupFile, fileKey: Buffer, options: ReadDumpOptions): AsyncGenerator<DumpEvent> {
  const reader = new DumpReader(file.header.backupId, options);
  const gunzip = createGunzip();
  const feeding = pipeline(Readable.from(openChunks(file, fileKey, options.onChunk, options.onBytes)), gunzip);
  // Its failure also ends the iteration below, which is where it is reported.
  feeding.catch(() => undefined);
  let carry: Buffer | null = null;
  try {
    for await (const data of gunzip as AsyncIterable<Buffer>) {
      const text: Buffer = carry ? Buffer.concat([carry, data]) : data;
      let start = 0;
      for (;;) {
        const end = text.indexOf(10, start);
        if (end < 0) break;
        // Rows that are only counted and hashed go to the hash as one run rather than line by line.
        let room = text[start] === 0x5b ? reader.rowsToHashInBulk() : 0;
        if (room === 0) {
          reader.line(text.subarray(start, end + 1));
          start = end + 1;
          continue;
        }
        let stop = end + 1;
        let rows = 1;
        for (room -= 1; room > 0 && text[stop] === 0x5b; room--, rows++) {
          const next = text.indexOf(10, stop);
          if (next < 0) break;
          stop = next + 1;
        }
        reader.rowRun(text.subarray(start, stop), rows);
        start = stop;
      }
      carry = start < text.length ? text.subarray(start) : null;
      if (carry && carry.length > MAX_LINE_BYTES) throw invalid('The backup holds a line longer than any row can be.');
      yield* reader.drain();
    }
    await feeding;
  } catch (error) {
    if (error instanceof AppError) throw error;
    const code = (error as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('Z_')) throw invalid('The backup content does not decompress.');
    throw error;
  } finally {
    gunzip.destroy();
  }
  if (carry) throw invalid('The backup content ends in the middle of a line.');
  reader.finish();
  yield* reader.drain();
}

/** The checks of a dump, line by line. */
class DumpReader {
  private begin: DumpBegin | null = null;
  private next = 0;
  private table: DumpTable | null = null;
  private hasher: TableHasher | null = null;
  private batch: unknown[][] = [];
  private counted = 0;
  private parseTable = false;
  private ended: Record<string, TableContent> = {};
  private manifest: DumpManifest | null = null;
  private events: DumpEvent[] = [];

  constructor(
    private readonly backupId: string,
    private readonly options: ReadDumpOptions,
  ) {}

  *drain(): Generator<DumpEvent> {
    const events = this.events;
    this.events = [];
    yield* events;
  }

  line(bytes: Buffer): void {
    if (this.manifest) throw invalid('The backup holds data after its manifest.');
    if (bytes[0] === 0x5b) return this.row(bytes);
    let control: Record<string, unknown>;
    try {
      control = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw invalid('The backup content is malformed.');
    }
    if (control === null || typeof control !== 'object') throw invalid('The backup content is malformed.');
    if (!this.begin) return this.start(control);
    switch (control.kind) {
      case 'table':
        return this.openTable(control);
      case 'table-end':
        return this.closeTable(control);
      case 'manifest':
        return this.closeDump(control);
      default:
        throw invalid('The backup content is malformed.');
    }
  }

  private start(control: Record<string, unknown>): void {
    const begin = control as unknown as DumpBegin;
    if (begin.kind !== 'backup' || begin.backupId !== this.backupId) throw invalid('The backup content does not belong to its header.');
    if ((begin.dialect !== 'sqlite' && begin.dialect !== 'postgres') || !Array.isArray(begin.migrations) || !begin.migrations.every((m) => typeof m === 'string') || !Array.isArray(begin.tables)) {
      throw invalid('The backup content is malformed.');
    }
    const names = new Set<string>();
    for (const table of begin.tables) {
      const ok =
        table && isIdentifier(table.name) && Array.isArray(table.columns) && table.columns.length > 0 && Array.isArray(table.key) && Number.isSafeInteger(table.rows) &&
        table.columns.every((c: ColumnShape) => isIdentifier(c?.name) && KINDS.has(c.kind)) && !names.has(table.name);
      if (!ok) throw invalid('The backup content is malformed.');
      names.add(table.name);
    }
    this.begin = begin;
    this.events.push({ kind: 'begin', begin });
  }

  private openTable(control: Record<string, unknown>): void {
    const expected = this.begin!.tables[this.next];
    if (this.table || !expected || control.name !== expected.name) throw invalid('The backup tables are out of order.');
    this.table = expected;
    this.next += 1;
    this.hasher = new TableHasher();
    this.parseTable = this.options.parse || Boolean(this.options.capture?.has(expected.name));
  }

  /**
   * How many row lines may be handed to rowRun at once: none while rows are parsed or no table is
   * open (each line then goes through line()), else up to the next rows event.
   */
  rowsToHashInBulk(): number {
    return this.table && !this.parseTable && !this.manifest ? ROWS_PER_EVENT - this.counted : 0;
  }

  /** `rows` complete row lines of the open table, each with its newline, that are not parsed. */
  rowRun(bytes: Buffer, rows: number): void {
    this.hasher!.addLines(bytes, rows);
    this.counted += rows;
    if (this.counted >= ROWS_PER_EVENT) this.flushRows();
  }

  private row(bytes: Buffer): void {
    if (!this.table) throw invalid('The backup holds a row outside any table.');
    this.hasher!.addBytes(bytes);
    this.counted += 1;
    if (this.parseTable) {
      let row: unknown;
      try {
        row = JSON.parse(bytes.toString('utf8'));
      } catch {
        throw invalid(`The backup holds a malformed row in ${this.table.name}.`);
      }
      if (!Array.isArray(row) || row.length !== this.table.columns.length) throw invalid(`The backup holds a malformed row in ${this.table.name}.`);
      this.batch.push(row);
    }
    if (this.counted >= ROWS_PER_EVENT) this.flushRows();
  }

  private flushRows(): void {
    if (this.counted === 0) return;
    this.events.push({ kind: 'rows', table: this.table!, rows: this.parseTable ? this.batch : null, count: this.counted });
    this.batch = [];
    this.counted = 0;
  }

  private closeTable(control: Record<string, unknown>): void {
    const table = this.table;
    if (!table || control.name !== table.name) throw invalid('The backup tables are out of order.');
    this.flushRows();
    const content = this.hasher!.finish();
    if (control.rows !== content.rows || control.sha256 !== content.sha256) throw invalid(`The backup's table ${table.name} does not match its own count and hash.`);
    this.ended[table.name] = content;
    this.table = null;
    this.hasher = null;
    this.events.push({ kind: 'table-end', table, content });
  }

  private closeDump(control: Record<string, unknown>): void {
    if (this.table || this.next !== this.begin!.tables.length) throw invalid('The backup ends before all its tables.');
    const tables = control.tables as Record<string, TableContent> | undefined;
    const names = Object.keys(this.ended);
    const matches =
      !!tables && typeof tables === 'object' && Object.keys(tables).length === names.length &&
      names.every((n) => tables[n]?.rows === this.ended[n]!.rows && tables[n]?.sha256 === this.ended[n]!.sha256) &&
      control.sha256 === contentDigest(this.ended);
    if (!matches) throw invalid("The backup's manifest does not match its tables.");
    this.manifest = { tables: this.ended, sha256: contentDigest(this.ended) };
    this.events.push({ kind: 'manifest', manifest: this.manifest });
  }

  finish(): void {
    if (!this.manifest) throw invalid('The backup content ends before its manifest.');
  }
}
