import type { Kysely } from 'kysely';
import { CompiledQuery } from 'kysely';
import { indexKeyAad, type Keyring } from '../../crypto/keyring.js';
import { openDatabase, withBulkLoad, type Database, type Dialect, type Executor } from '../../db/database.js';
import { migrateTo, migrateToLatest } from '../../db/migrator.js';
import { indexDocumentsInBulk, searchIndexTables } from '../../db/search-index.js';
import type { Damage } from '../../audit/verify.js';
import { verifyAuditLog } from '../../data/audit-log.js';
import { recordAudit } from '../../data/audit-trail.js';
import { PERSON_TYPES, reapplyErasures } from '../../data/erasure.js';
import { RECORD_TYPES } from '../../data/field-registry.js';
import { indexKeys } from '../../data/keys.js';
import type { DataDeps } from '../../data/record-store.js';
import { hasSubjectColumn, openRows } from '../../data/record-sealing.js';
import type { Clock } from '../../shared/clock.js';
import { AppError } from '../../shared/errors.js';
import type { ActorContext } from '../../shared/principal.js';
import { openBackupFile, openFileKey, type OpenedBackupFile } from './backup-format.js';
import { readDump, type DumpBegin, type DumpManifest, type DumpTable } from './backup-dump.js';
import { searchSchema, SearchTermsMaker } from './restore-search-terms.js';
import type { BackupKeySource, BackupProgress, BackupTableSummary } from './backup.service.js';
import { canonicalContent, countRows, describeTables, quoteIdentifier, storedValue, type TableShape } from './canonical-content.js';

/**
 * Restoring a backup into an empty database, SQLite or PostgreSQL whichever made it:
 *
 * 1. The whole file is verified first (every chunk, every table's count and hash, the manifest)
 *    and the key file is checked against the backup's keys: a damaged, truncated or foreign file
 *    stops here, before anything is written, migrations included.
 * 2. The target must be empty (no table holds more than the migrations themselves put there) and
 *    at most at the backup's schema version; it is migrated to exactly the backup's version.
 * 3. In one transaction: the rows are loaded (foreign keys checked and secondary indexes built once
 *    everything is in), each table's rows are counted (or, asked to, the target's canonical content
 *    is read back and compared with the manifest), the
 *    search index is made again from the records, the erasure ledger is applied again (with
 *    erasures made after the backup, when given), the restore is recorded in the audit log and the
 *    whole chain is verified. Any failure rolls everything back.
 * 4. Later migrations of this version run on the restored data; when there are any, step 3's work
 *    after the comparison runs after them, in a second transaction.
 */
export interface ErasureEntry {
  readonly subjectId: string;
  readonly erasedAt: string;
}

export interface RestoreOptions {
  /** The keyring of the installation that made the backup: its KEK opens the restored keys. */
  readonly keyring: Keyring;
  /** The backup passphrase, for a backup protected by one. */
  readonly passphrase?: string;
  /**
   * The database to restore into, or a function that opens it once the file has verified (so a
   * refused file leaves not even an empty database behind); null for a new SQLite file that does
   * not exist yet (dry run).
   */
  readonly target: Database | null | (() => Database | null);
  readonly targetDialect: Dialect;
  readonly clock: Clock;
  readonly ctx: ActorContext;
  /** Verify the file and check the target, and write nothing. */
  readonly dryRun?: boolean;
  /**
   * Erasures made after the backup was taken (from the live database, or a newer backup): the
   * people they name stay erased in the restored database.
   */
  readonly laterErasures?: readonly ErasureEntry[];
  /** Commit even when the restored audit chain shows damage (reported all the same). */
  readonly acceptAuditDamage?: boolean;
  /**
   * Read the restored database back and compare its canonical content with the manifest, table by
   * table, before committing (restore drills do); otherwise row counts are compared. The file
   * itself is always verified in full first.
   */
  readonly checkContent?: boolean;
  /** Append a `backup.restore` entry to the restored audit log (default true). */
  readonly recordRestore?: boolean;
  /** The verifier key the restored log's checkpoints must be signed by, when known. */
  readonly verifierKey?: string;
  readonly onProgress?: (progress: BackupProgress) => void;
}

export interface RestoreSummary {
  readonly dryRun: boolean;
  readonly backupId: string;
  readonly createdAt: string;
  readonly sourceDialect: Dialect;
  readonly targetDialect: Dialect;
  readonly keySource: BackupKeySource;
  readonly tables: BackupTableSummary[];
  readonly rows: number;
  readonly contentSha256: string;
  readonly migrations: {
    readonly backup: number;
    /** Applied to the target before the rows went in (to reach the backup's version). */
    readonly before: readonly string[];
    /** Applied to the restored data afterwards (this version's newer migrations). */
    readonly after: readonly string[];
  };
  readonly erasures: {
    /** People in the backup's ledger. */
    readonly inBackup: number;
    /** Ledger entries added from `laterErasures`. */
    readonly added: number;
    /** People whose keys or values were found and destroyed again. */
    readonly reapplied: number;
  };
  readonly searchDocuments: number;
  /** Null on a dry run. */
  readonly auditChain: { readonly entries: number; readonly problems: readonly string[] } | null;
}

const CAPTURED = new Set(['index_keys', 'erasures']);
const INDEX_BATCH = 1000;
const TERMS_WORKER_MIN_RECORDS = 20_000;

function incompatible(message: string): AppError {
  return new AppError('backup.incompatible', message);
}

async function query<R>(db: Executor, text: string, params: readonly unknown[] = []): Promise<R[]> {
  return (await db.executeQuery<R>(CompiledQuery.raw(text, [...params]))).rows as R[];
}

/** Rows of a captured table as objects by column name. */
function objects(table: TableShape, rows: readonly unknown[][]): Record<string, unknown>[] {
  return rows.map((row) => Object.fromEntries(table.columns.map((c, i) => [c.name, row[i]])));
}

export async function restoreBackup(file: string, options: RestoreOptions): Promise<RestoreSummary> {
  const opened = await openBackupFile(file);
  try {
    const fileKey = await openFileKey(opened.header, { kek: options.keyring.kek, ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}) });
    try {
      return await restoreOpened(opened, fileKey, options);
    } finally {
      fileKey.fill(0);
    }
  } finally {
    await opened.handle.close();
  }
}

async function restoreOpened(opened: OpenedBackupFile, fileKey: Buffer, options: RestoreOptions): Promise<RestoreSummary> {
  const { onProgress } = options;
  // 1. The whole file, before anything is written.
  let begin: DumpBegin | null = null;
  let manifest: DumpManifest | null = null;
  const captured = new Map<string, { table: DumpTable; rows: unknown[][] }>();
  for await (const event of readDump(opened, fileKey, { parse: false, capture: CAPTURED, onChunk: (p) => onProgress?.({ phase: 'read', done: p.bytes, total: p.size }) })) {
    if (event.kind === 'begin') begin = event.begin;
    else if (event.kind === 'manifest') manifest = event.manifest;
    else if (event.kind === 'rows' && event.rows) {
      const kept = captured.get(event.table.name) ?? { table: event.table, rows: [] };
      kept.rows.push(...event.rows);
      captured.set(event.table.name, kept);
    }
  }
  await checkKeysOpen(options.keyring, captured.get('index_keys'));
  const ledger = captured.get('erasures') ? objects(captured.get('erasures')!.table, captured.get('erasures')!.rows) : [];
  const inBackup = new Set(ledger.map((r) => String(r.subject_id)));
  const added = (options.laterErasures ?? []).filter((e) => !inBackup.has(e.subjectId));

  // 2. The target.
  const target = typeof options.target === 'function' ? options.target() : options.target;
  const facts = await targetFacts(target, options.targetDialect);
  if (facts.occupied.length > 0) {
    throw new AppError(
      'backup.target_not_empty',
      `The target database is not empty (${facts.occupied.map((o) => `${o.table}: ${o.rows} rows`).join(', ')}). Restore into a new data directory or an empty PostgreSQL database or schema; nothing was changed.`,
    );
  }
  const plan = migrationPlan(begin!, facts);
  const summary = {
    dryRun: Boolean(options.dryRun),
    backupId: opened.header.backupId,
    createdAt: opened.header.createdAt,
    sourceDialect: begin!.dialect,
    targetDialect: options.targetDialect,
    keySource: opened.header.key.source,
    tables: Object.entries(manifest!.tables).map(([name, t]) => ({ name, rows: t.rows, sha256: t.sha256 })),
    rows: Object.values(manifest!.tables).reduce((sum, t) => sum + t.rows, 0),
    contentSha256: manifest!.sha256,
    migrations: { backup: begin!.migrations.length, before: plan.before, after: plan.after },
  };
  if (options.dryRun || !target) {
    if (!options.dryRun) throw new Error('a restore needs a target database');
    return { ...summary, erasures: { inBackup: inBackup.size, added: added.length, reapplied: 0 }, searchDocuments: 0, auditChain: null };
  }
  if (plan.before.length > 0) await migrateTo(target, begin!.migrations.at(-1)!);

  // 3. and 4.
  const finishing = async (db: Executor): Promise<Pick<RestoreSummary, 'erasures' | 'searchDocuments' | 'auditChain'>> => {
    const deps: DataDeps = { db, dialect: target.dialect, clock: options.clock, keyring: options.keyring };
    const searchDocuments = await rebuildSearchIndex(deps, onProgress);
    const reapplied = await applyLedger(deps, added);
    const erasures = { inBackup: inBackup.size, added: added.length, reapplied };
    const audit = await finishAudit(deps, options, { ...summary, erasures, searchDocuments });
    return { erasures, searchDocuments, auditChain: audit };
  };
  const finished: { value?: Pick<RestoreSummary, 'erasures' | 'searchDocuments' | 'auditChain'> } = {};
  // SQLite: a rollback journal rather than the write-ahead log for the load (see
  // withRollbackJournal), checkpoints spaced out (see withBulkLoad), and the sorts that build
  // indexes over millions of rows in temporary files rather than in memory.
  await withRollbackJournal(target, () =>
    withTempFiles(target, () =>
      withBulkLoad(target.db, target.dialect, () =>
        target.db.transaction().execute(async (trx) => {
          await loadRows(trx, target.dialect, opened, fileKey, begin!, manifest!, Boolean(options.checkContent), onProgress);
          if (plan.after.length === 0) finished.value = await finishing(trx);
        }),
      ),
    ),
  );
  if (plan.after.length > 0) {
    await migrateToLatest(target);
    await target.db.transaction().execute(async (trx) => {
      finished.value = await finishing(trx);
    });
  }
  return { ...summary, ...finished.value! };
}

/**
 * SQLite: runs `work` (the one transaction that loads everything) with a rollback journal instead
 * of the write-ahead log, and WAL mode back afterwards. The target holds nothing but what the
 * migrations wrote, so the journal keeps only those few pages, and the gigabytes of rows are
 * written once, straight into the database file; in WAL mode each page went into the log first and
 * was copied into the file again by the checkpoint after the commit. The journal still rolls back
 * a failed load, and one interrupted by a crash when the database is next opened, so nothing of a
 * failed restore stays behind. When the mode cannot change (another connection has the file
 * open), the load runs in WAL mode as before.
 */
async function withRollbackJournal<T>(target: Database, work: () => Promise<T>): Promise<T> {
  if (target.dialect !== 'sqlite') return work();
  const [before] = await query<{ journal_mode: string }>(target.db, 'pragma journal_mode');
  if (before?.journal_mode !== 'wal') return work();
  const [changed] = await query<{ journal_mode: string }>(target.db, 'pragma journal_mode = delete').catch(() => []);
  if (changed?.journal_mode !== 'delete') return work();
  let result: T;
  try {
    result = await work();
  } catch (error) {
    await query(target.db, 'pragma journal_mode = wal').catch(() => undefined);
    throw error;
  }
  await query(target.db, 'pragma journal_mode = wal');
  return result;
}

/** Runs `work` with SQLite's temporary storage in files, as it was afterwards. */
async function withTempFiles<T>(target: Database, work: () => Promise<T>): Promise<T> {
  if (target.dialect !== 'sqlite') return work();
  const [before] = await query<{ temp_store: number }>(target.db, 'pragma temp_store');
  await query(target.db, 'pragma temp_store = file');
  try {
    return await work();
  } finally {
    await query(target.db, `pragma temp_store = ${Math.max(0, Math.min(2, Math.trunc(Number(before?.temp_store ?? 0))))}`);
  }
}

/** The key file must open the backup's keys: otherwise every restored value would be unreadable. */
async function checkKeysOpen(keyring: Keyring, indexKeysTable: { table: DumpTable; rows: unknown[][] } | undefined): Promise<void> {
  if (!indexKeysTable || indexKeysTable.rows.length === 0) return;
  const [first] = objects(indexKeysTable.table, indexKeysTable.rows).sort((a, b) => Number(a.version) - Number(b.version));
  try {
    await keyring.kek.unwrap(String(first!.kek_id), Buffer.from(String(first!.wrapped), 'base64'), indexKeyAad(Number(first!.version)));
  } catch {
    throw new AppError(
      'backup.wrong_key',
      `The key file here does not open the keys in this backup (key version ${String(first!.kek_id)}): restore with the key file of the installation that made it. Nothing was restored.`,
    );
  }
}

interface TargetFacts {
  /** Migrations the target has applied, in order (none for a database with no tables). */
  readonly applied: readonly string[];
  /** Every migration this version of Rampart knows, in order. */
  readonly known: readonly string[];
  /** Tables holding more rows than the migrations put there. */
  readonly occupied: readonly { table: string; rows: number }[];
}

/**
 * What the target holds, compared with what the migrations alone would put there: a scratch
 * in-memory database is migrated to the target's version and its rows counted per table.
 */
async function targetFacts(target: Database | null, dialect: Dialect): Promise<TargetFacts> {
  const scratch = openDatabase({ dialect: 'sqlite', file: ':memory:' });
  try {
    const applied = target ? await appliedMigrations(target.db, dialect) : [];
    const seeded = new Map<string, number>();
    if (applied.length > 0) {
      try {
        await migrateTo(scratch, applied.at(-1)!);
      } catch {
        throw incompatible('The target database was set up by a newer version of Rampart; restore into a database with no tables.');
      }
      for (const table of await describeTables(scratch.db, 'sqlite')) seeded.set(table.name, await countRows(scratch.db, table.name));
    }
    await migrateToLatest(scratch);
    const known = await appliedMigrations(scratch.db, 'sqlite');
    const occupied: { table: string; rows: number }[] = [];
    if (target) {
      const tables = (await describeTables(target.db, dialect)).map((t) => t.name);
      for (const table of [...tables, ...searchIndexTables(dialect)]) {
        const rows = await countRows(target.db, table).catch(() => 0);
        if (rows > (seeded.get(table) ?? 0)) occupied.push({ table, rows });
      }
    }
    return { applied, known, occupied };
  } finally {
    await scratch.close();
  }
}

async function appliedMigrations(db: Executor, dialect: Dialect): Promise<string[]> {
  const exists =
    dialect === 'sqlite'
      ? await query(db, `select name from sqlite_master where type = 'table' and name = 'kysely_migration'`)
      : await query(db, `select relname from pg_class where relnamespace = current_schema()::regnamespace and relname = 'kysely_migration'`);
  if (exists.length === 0) return [];
  return (await query<{ name: string }>(db, 'select name from kysely_migration order by name')).map((r) => r.name);
}

/** Which migrations run before the rows go in and after; refuses what cannot be restored here. */
function migrationPlan(begin: DumpBegin, facts: TargetFacts): { before: string[]; after: string[] } {
  const backup = begin.migrations;
  const unknown = backup.filter((m) => !facts.known.includes(m));
  if (unknown.length > 0) throw incompatible(`This backup was made by a newer version of Rampart (migrations ${unknown.join(', ')} are unknown here); restore it with that version or a later one.`);
  if (!backup.every((m, i) => facts.known[i] === m)) throw incompatible("The backup's migrations do not match this version's.");
  if (facts.applied.length > backup.length || !facts.applied.every((m, i) => backup[i] === m)) {
    throw incompatible("The target database's schema is newer than the backup's; restore into a database with no tables (a new data directory, or an empty PostgreSQL schema).");
  }
  return { before: backup.slice(facts.applied.length), after: facts.known.slice(backup.length) };
}

/**
 * Loads every table of the dump into the target in the caller's transaction, then checks each
 * table's row count against the manifest or, with `checkContent`, reads everything back and
 * compares its canonical content. Foreign keys are checked once everything is in: tables go in
 * name order, and a table may refer to itself.
 */
async function loadRows(trx: Executor, dialect: Dialect, opened: OpenedBackupFile, fileKey: Buffer, begin: DumpBegin, manifest: DumpManifest, checkContent: boolean, onProgress?: (progress: BackupProgress) => void): Promise<void> {
  const targetTables = new Map((await describeTables(trx, dialect)).map((t) => [t.name, t]));
  const missing = begin.tables.filter((t) => !targetTables.has(t.name)).map((t) => t.name);
  const extra = [...targetTables.keys()].filter((name) => !begin.tables.some((t) => t.name === name));
  if (missing.length > 0 || extra.length > 0) throw incompatible(`The target's tables differ from the backup's (${[...missing, ...extra].join(', ')}). Nothing was restored.`);
  for (const table of begin.tables) {
    const shape = targetTables.get(table.name)!;
    const names = shape.columns.map((c) => c.name).join(',');
    if (names !== table.columns.map((c) => c.name).join(',')) throw incompatible(`The target's table ${table.name} has other columns than the backup's. Nothing was restored.`);
  }
  // What the migrations put there (roles, the default pipeline, the audit head) is replaced by the
  // backup's; nothing refers to it yet, so its foreign keys are checked as it goes.
  for (const table of targetTables.keys()) if ((await countRows(trx, table)) > 0) await query(trx, `delete from ${quoteIdentifier(table)}`);
  const foreignKeys = await deferForeignKeys(trx, dialect);

  // Secondary indexes are built once every row is in (sorting once instead of inserting row by row)
  // and after the foreign keys are checked: PostgreSQL builds no index over pending checks.
  const dropped: { name: string; definition: string }[] = [];
  const emptied = new Set<string>();
  let loaded = 0;
  const total = Object.values(manifest.tables).reduce((sum, t) => sum + t.rows, 0);
  for await (const event of readDump(opened, fileKey, { parse: true })) {
    if (event.kind !== 'rows') continue;
    const table = event.table;
    if (!emptied.has(table.name)) {
      emptied.add(table.name);
      dropped.push(...(await dropSecondaryIndexes(trx, dialect, table.name)));
    }
    await insertRows(trx, dialect, targetTables.get(table.name)!, event.rows!);
    loaded += event.rows!.length;
    onProgress?.({ phase: 'load', table: table.name, done: loaded, total });
  }
  await checkForeignKeys(trx, dialect, foreignKeys);
  for (const index of dropped) await query(trx, index.definition);
  // Statistics now, inside the transaction: without them PostgreSQL plans the paging queries that
  // follow (the search index, the audit chain) as if the tables were empty, scanning whole tables.
  if (dialect === 'postgres') await query(trx, `analyze ${begin.tables.map((t) => quoteIdentifier(t.name)).join(', ')}`);
  if (!checkContent) {
    for (const [name, expected] of Object.entries(manifest.tables)) {
      const rows = await countRows(trx, name);
      if (rows !== expected.rows) throw incompatible(`The restored table ${name} holds ${rows} rows where the backup holds ${expected.rows}. Nothing was restored.`);
    }
    return;
  }
  let checkedBefore = 0;
  let checking = '';
  const restored = await canonicalContent(trx, dialect, {
    onProgress: ({ table, done }) => {
      if (table !== checking) {
        checkedBefore += manifest.tables[checking]?.rows ?? 0;
        checking = table;
      }
      onProgress?.({ phase: 'check', table, done: checkedBefore + done, total });
    },
  });
  for (const [name, expected] of Object.entries(manifest.tables)) {
    const actual = restored.tables[name];
    if (!actual || actual.rows !== expected.rows || actual.sha256 !== expected.sha256) {
      throw incompatible(`The restored table ${name} does not read back as the backup holds it (${actual?.rows ?? 0} of ${expected.rows} rows). Nothing was restored.`);
    }
  }
}

/**
 * Inserts canonical rows (values in the target's column order, which was checked to be the
 * backup's). PostgreSQL takes a batch as one JSON parameter that the server turns into rows,
 * instead of thousands of bound parameters to parse per statement; tables with JSON or binary
 * columns, whose canonical form is not their JSON form, go the ordinary way.
 */
async function insertRows(trx: Executor, dialect: Dialect, table: TableShape, rows: readonly unknown[][]): Promise<void> {
  if (rows.length === 0) return;
  const columns = table.columns;
  if (dialect === 'postgres' && columns.every((c) => c.kind !== 'json' && c.kind !== 'blob')) {
    const names = columns.map((c) => quoteIdentifier(c.name)).join(', ');
    const objects = rows.map((row) => {
      const object: Record<string, unknown> = {};
      for (let i = 0; i < columns.length; i++) object[columns[i]!.name] = row[i];
      return object;
    });
    await query(trx, `insert into ${quoteIdentifier(table.name)} (${names}) select ${names} from json_populate_recordset(null::${quoteIdentifier(table.name)}, $1::json)`, [JSON.stringify(objects)]);
    return;
  }
  // Statements of a few fixed sizes, so that their compiled form is reused (see insert-many.ts);
  // the largest takes a whole batch of the dump where the parameters allow, since every statement
  // costs a round through the query layer whatever its size.
  const convert = columns.some((c) => c.kind === 'boolean' || c.kind === 'blob' || c.kind === 'json');
  const largest = Math.max(100, Math.min(MAX_ROWS_PER_INSERT, Math.floor(MAX_PARAMETERS / columns.length)));
  let at = 0;
  for (const size of [largest, 100, 10, 1]) {
    for (; rows.length - at >= size; at += size) {
      const params = new Array<unknown>(size * columns.length);
      let p = 0;
      for (let r = at; r < at + size; r++) {
        const row = rows[r]!;
        for (let i = 0; i < columns.length; i++) params[p++] = convert ? storedValue(columns[i]!.kind, dialect, row[i]) : row[i];
      }
      await trx.executeQuery(CompiledQuery.raw(insertText(dialect, table, size), params));
    }
  }
}

/** Rows in the largest insert statement, and the bound parameters it may hold (SQLite allows 32,766; PostgreSQL 65,535). */
const MAX_ROWS_PER_INSERT = 500;
const MAX_PARAMETERS = 30_000;

const insertTexts = new Map<string, string>();

function insertText(dialect: Dialect, table: TableShape, rows: number): string {
  const key = `${dialect}|${table.name}|${table.columns.map((c) => c.name).join(',')}|${rows}`;
  let text = insertTexts.get(key);
  if (text === undefined) {
    let n = 0;
    const tuple = () => `(${table.columns.map(() => (dialect === 'postgres' ? `$${++n}` : '?')).join(', ')})`;
    text = `insert into ${quoteIdentifier(table.name)} (${table.columns.map((c) => quoteIdentifier(c.name)).join(', ')}) values ${Array.from({ length: rows }, tuple).join(', ')}`;
    if (insertTexts.size > 500) insertTexts.clear();
    insertTexts.set(key, text);
  }
  return text;
}

interface DeferredForeignKey {
  readonly table: string;
  readonly name: string;
}

/**
 * SQLite: checked at commit (defer_foreign_keys lasts for this transaction). PostgreSQL: the
 * schema's foreign keys are made deferrable for this transaction and restored by checkForeignKeys
 * (both are DDL, undone with the transaction if it fails).
 */
async function deferForeignKeys(trx: Executor, dialect: Dialect): Promise<DeferredForeignKey[]> {
  if (dialect === 'sqlite') {
    await query(trx, 'pragma defer_foreign_keys = on');
    return [];
  }
  const keys = await query<DeferredForeignKey>(
    trx,
    `select t.relname as table, c.conname as name from pg_constraint c join pg_class t on t.oid = c.conrelid
      where c.contype = 'f' and not c.condeferrable and t.relnamespace = current_schema()::regnamespace`,
  );
  for (const key of keys) await query(trx, `alter table ${quoteIdentifier(key.table)} alter constraint ${quoteIdentifier(key.name)} deferrable initially deferred`);
  await query(trx, 'set constraints all deferred');
  return keys;
}

async function checkForeignKeys(trx: Executor, dialect: Dialect, keys: readonly DeferredForeignKey[]): Promise<void> {
  try {
    if (dialect === 'sqlite') {
      const broken = await query<{ table: string }>(trx, 'select "table" from pragma_foreign_key_check limit 1');
      if (broken.length > 0) throw new Error(broken[0]!.table);
      return;
    }
    await query(trx, 'set constraints all immediate');
  } catch (error) {
    const table = error instanceof Error && /^[a-z_]+$/.test(error.message) ? ` (${error.message})` : '';
    throw incompatible(`The backup's rows do not satisfy the target's foreign keys${table}. Nothing was restored.`);
  }
  for (const key of keys) await query(trx, `alter table ${quoteIdentifier(key.table)} alter constraint ${quoteIdentifier(key.name)} not deferrable`);
}

/**
 * Drops a table's secondary indexes so that its rows go in without them; the caller creates them
 * again from their definitions once the table is full (building an index from finished rows sorts
 * once). Indexes behind primary keys and unique constraints stay: they check what goes in.
 */
async function dropSecondaryIndexes(trx: Executor, dialect: Dialect, table: string): Promise<{ name: string; definition: string }[]> {
  const indexes =
    dialect === 'sqlite'
      ? await query<{ name: string; definition: string }>(trx, `select name, sql as definition from sqlite_master where type = 'index' and tbl_name = ? and sql is not null and sql not like '% unique %'`, [table])
      : await query<{ name: string; definition: string }>(
          trx,
          `select x.relname as name, pg_get_indexdef(i.indexrelid) as definition
             from pg_index i join pg_class x on x.oid = i.indexrelid join pg_class t on t.oid = i.indrelid
            where t.relnamespace = current_schema()::regnamespace and t.relname = $1 and not i.indisunique and not i.indisprimary
              and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)`,
          [table],
        );
  for (const index of indexes) await query(trx, `drop index ${quoteIdentifier(index.name)}`);
  return indexes;
}

/**
 * The full-text index is built differently on each database (and on SQLite keeps no copy of its
 * text), so a backup leaves it out and a restore makes every record's document again, as a
 * blind-index rotation does: from the opened values, under the blind-index key in force. While
 * the terms of one batch are made on a second thread (restore-search-terms.ts), this one reads
 * and opens the next batch and writes the documents of the one before.
 */
async function rebuildSearchIndex(deps: DataDeps, onProgress?: (progress: BackupProgress) => void): Promise<number> {
  const db = deps.db as unknown as Kysely<any>;
  const index = (await indexKeys(deps)).writing;
  const dropped: { name: string; definition: string }[] = [];
  for (const table of searchIndexTables(deps.dialect)) dropped.push(...(await dropSecondaryIndexes(deps.db, deps.dialect, table)));
  let documents = 0;
  let total = 0;
  for (const type of RECORD_TYPES) total += await countRows(deps.db, type);
  const maker = new SearchTermsMaker(index);
  // A second thread pays for itself only over many records (starting one takes a moment).
  if (total >= TERMS_WORKER_MIN_RECORDS) await maker.start();
  // Documents are written one batch at a time, in order; a failure waits for the write under way,
  // so that nothing runs on the transaction once it is rolled back.
  let writing: Promise<void> = Promise.resolve();
  try {
    for (const type of RECORD_TYPES) {
      // Only what a document is made of is read and opened: the searchable fields.
      const schema = searchSchema(type);
      const columns = ['id', ...(hasSubjectColumn(schema) ? ['subject_id'] : []), ...schema.fields.map((f) => f.column!)];
      let after = '';
      for (;;) {
        const rows = (await db.selectFrom(type).select(columns).where('id', '>', after).orderBy('id').limit(INDEX_BATCH).execute()) as Record<string, unknown>[];
        if (rows.length === 0) break;
        try {
          await openRows(deps, schema, rows);
        } catch (error) {
          if (error instanceof AppError && error.code === 'data.integrity_failed') {
            throw new AppError('data.integrity_failed', `A sealed value of a ${type} record in the backup does not open with the key file here. Nothing was restored.`);
          }
          throw error;
        }
        const terms = maker.terms({ type, rows });
        await writing;
        writing = terms.then((made) => indexDocumentsInBulk(deps.db, deps.dialect, type, rows.map((row, i) => ({ recordId: String(row.id), terms: made[i]! }))));
        writing.catch(() => undefined);
        documents += rows.length;
        after = String(rows.at(-1)!.id);
        onProgress?.({ phase: 'index', table: type, done: documents, total });
        if (rows.length < INDEX_BATCH) break;
      }
    }
    await writing;
  } finally {
    await writing.catch(() => undefined);
    await maker.stop();
  }
  for (const index of dropped) await query(deps.db, index.definition);
  if (deps.dialect === 'postgres') await query(deps.db, `analyze ${searchIndexTables(deps.dialect).map(quoteIdentifier).join(', ')}`);
  return documents;
}

/**
 * Erasures made after the backup join the restored ledger, their people's records become the
 * tombstones erasure leaves, and then every ledger entry is applied again: keys a backup brought
 * back are destroyed and the values cleared. Answers how many people needed it.
 */
async function applyLedger(deps: DataDeps, later: readonly ErasureEntry[]): Promise<number> {
  const db = deps.db as unknown as Kysely<any>;
  for (const entry of later) {
    await db.insertInto('erasures').values({ subject_id: entry.subjectId, erased_at: entry.erasedAt }).onConflict((oc: any) => oc.column('subject_id').doNothing()).execute();
    for (const type of PERSON_TYPES) {
      await db
        .updateTable(type)
        .set({ deleted_at: entry.erasedAt, updated_at: entry.erasedAt })
        .where((eb: any) => eb.or([eb('subject_id', '=', entry.subjectId), eb('id', '=', entry.subjectId)]))
        .where('deleted_at', 'is', null)
        .execute();
    }
  }
  return reapplyErasures(deps);
}

/** Records the restore in the restored log, then verifies the whole chain, that entry included. */
async function finishAudit(deps: DataDeps, options: RestoreOptions, summary: Omit<RestoreSummary, 'auditChain'>): Promise<{ entries: number; problems: string[] }> {
  if (options.recordRestore !== false) {
    await recordAudit(deps, options.ctx, {
      action: 'backup.restore',
      details: {
        backupId: summary.backupId,
        backupCreatedAt: summary.createdAt,
        sourceDialect: summary.sourceDialect,
        keySource: summary.keySource,
        rows: summary.rows,
        contentSha256: summary.contentSha256,
        migrationsAfter: summary.migrations.after.length,
        erasuresAdded: summary.erasures.added,
        erasuresReapplied: summary.erasures.reapplied,
        auditDamageAccepted: Boolean(options.acceptAuditDamage),
      },
    });
  }
  const verified = await verifyAuditLog(deps, {
    ...(options.verifierKey ? { verifierKey: options.verifierKey } : {}),
    onProgress: (done, total) => options.onProgress?.({ phase: 'audit', done, total }),
  });
  const problems = verified.problems.map((p) => describeDamage(p));
  if (problems.length > 0 && !options.acceptAuditDamage) {
    throw new AppError('backup.invalid', `The audit log in this backup does not verify (${problems[0]}${problems.length > 1 ? `, and ${problems.length - 1} more` : ''}). Nothing was restored; to restore it all the same, accept the damage explicitly.`);
  }
  return { entries: verified.entries, problems };
}

function describeDamage(damage: Damage): string {
  return `${damage.kind}${damage.seq !== null ? ` at entry ${damage.seq}` : ''}: ${damage.detail}`;
}

/** The erasure ledger of a database: for a restore of an older backup over which people were erased since. */
export async function erasureLedgerOf(db: Executor): Promise<ErasureEntry[]> {
  const rows = (await (db as unknown as Kysely<any>).selectFrom('erasures').select(['subject_id', 'erased_at']).orderBy('subject_id').execute()) as { subject_id: string; erased_at: string }[];
  return rows.map((r) => ({ subjectId: r.subject_id, erasedAt: r.erased_at }));
}

/** The erasure ledger inside a (newer) backup file, read and verified with the whole file. */
export async function erasureLedgerOfBackup(file: string, keys: { kek?: Keyring['kek']; passphrase?: string }): Promise<ErasureEntry[]> {
  const opened = await openBackupFile(file);
  try {
    const fileKey = await openFileKey(opened.header, keys);
    const entries: ErasureEntry[] = [];
    try {
      for await (const event of readDump(opened, fileKey, { parse: false, capture: new Set(['erasures']) })) {
        if (event.kind === 'rows' && event.rows && event.table.name === 'erasures') {
          for (const row of objects(event.table, event.rows)) entries.push({ subjectId: String(row.subject_id), erasedAt: String(row.erased_at) });
        }
      }
    } finally {
      fileKey.fill(0);
    }
    return entries;
  } finally {
    await opened.handle.close();
  }
}
