import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { CompiledQuery } from 'kysely';
import type { Keyring } from '../../crypto/keyring.js';
import type { Dialect, Executor } from '../../db/database.js';
import { recordAudit } from '../../data/audit-trail.js';
import type { KeyDeps } from '../../data/keys.js';
import { writeFileAtomically } from '../../shared/atomic-file.js';
import type { Clock } from '../../shared/clock.js';
import { newId } from '../../shared/ids.js';
import type { ActorContext } from '../../shared/principal.js';
import { ChunkSealer, CHUNK_BYTES, encodeHeader, FORMAT, newFileKey, openBackupFile, openFileKey, type BackupHeader, type BackupKeys } from './backup-format.js';
import { dumpLines, readDump, type DumpBegin, type DumpManifest, type DumpProgress } from './backup-dump.js';
import { countRows, describeTables, withSnapshot, type TableContent } from './canonical-content.js';

/**
 * Backups: one file holding a logical dump of every table (the audit log, the wrapped keys and
 * the erasure ledger among them; never the key-encryption key), read from one snapshot while
 * Rampart keeps serving, streamed through gzip and sealed in authenticated chunks (backup-format.ts)
 * under a key of its own, wrapped by the KEK or by a backup passphrase. Restoring is in
 * backup-restore.ts. These functions keep no schedule and choose no file names: a command, a
 * scheduled job or a restore drill decides where and when.
 */
export interface BackupDeps {
  readonly db: Executor;
  readonly dialect: Dialect;
  readonly clock: Clock;
  readonly keyring: Keyring;
}

export type BackupKeySource = 'keyring' | 'passphrase';

export interface BackupTableSummary {
  readonly name: string;
  readonly rows: number;
  readonly sha256: string;
}

export interface BackupSummary {
  readonly backupId: string;
  readonly createdAt: string;
  readonly dialect: Dialect;
  readonly keySource: BackupKeySource;
  /** The KEK version that wraps the file key, when the keyring protects the backup. */
  readonly kekId: string | null;
  readonly migrations: number;
  readonly tables: BackupTableSummary[];
  readonly rows: number;
  /** The canonical content hash of the database as backed up (canonical-content.ts). */
  readonly contentSha256: string;
  /** Size and SHA-256 of the whole file. */
  readonly bytes: number;
  readonly sha256: string;
}

export type BackupProgress =
  | ({ readonly phase: 'dump' } & DumpProgress)
  | { readonly phase: 'read'; readonly done: number; readonly total: number }
  | { readonly phase: 'load' | 'check' | 'index'; readonly table: string; readonly done: number; readonly total: number }
  | { readonly phase: 'audit'; readonly done: number; readonly total: number };

export interface CreateBackupOptions {
  /** Protect the file with this passphrase instead of the keyring. */
  readonly passphrase?: string;
  /** zlib level, 1 (fastest) to 9; sealed values hardly compress, so the default favours speed. */
  readonly compressionLevel?: number;
  /** Compressed bytes per sealed chunk (1 KiB to 16 MiB); 1 MiB unless a test wants many chunks. */
  readonly chunkBytes?: number;
  readonly onProgress?: (progress: BackupProgress) => void;
}

const DEFAULT_COMPRESSION = 3;

function tableList(tables: Readonly<Record<string, TableContent>>): BackupTableSummary[] {
  return Object.entries(tables).map(([name, t]) => ({ name, rows: t.rows, sha256: t.sha256 }));
}

function totalRows(tables: Readonly<Record<string, TableContent>>): number {
  return Object.values(tables).reduce((sum, t) => sum + t.rows, 0);
}

/**
 * Writes a backup of the database to `out` and ends it. The whole dump comes from one read-only
 * snapshot that blocks no writer; memory stays flat whatever the size (rows are read, compressed
 * and sealed a batch at a time, with backpressure all the way to the file).
 *
 * On SQLite the snapshot holds the connection it reads through for the whole backup: a process
 * that serves requests should hand this a connection of its own.
 */
export async function writeBackup(deps: BackupDeps, out: Writable, options: CreateBackupOptions = {}): Promise<BackupSummary> {
  const backupId = newId();
  const createdAt = deps.clock.now().toISOString();
  const keys: BackupKeys = options.passphrase !== undefined ? { passphrase: options.passphrase } : { kek: deps.keyring.kek };
  const chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < 1024 || chunkBytes > 16 * 1024 * 1024) throw new Error('chunkBytes must be between 1 KiB and 16 MiB');
  const { fileKey, wrapped } = await newFileKey(backupId, keys);
  try {
    const header: BackupHeader = { format: FORMAT, backupId, createdAt, cipher: 'aes-256-gcm', compression: 'gzip', chunkBytes, key: wrapped };
    const encoded = encodeHeader(header);
    const digest = createHash('sha256').update(encoded.bytes);
    let bytes = encoded.bytes.length;
    const measure = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        digest.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    if (!out.write(encoded.bytes)) await once(out, 'drain');
    const { begin, manifest } = await withSnapshot(deps.db, deps.dialect, async (snapshot) => {
      const migrations = (await snapshot.executeQuery<{ name: string }>(CompiledQuery.raw('select name from kysely_migration order by name'))).rows.map((r) => r.name);
      const tables = [];
      for (const shape of await describeTables(snapshot, deps.dialect)) tables.push({ ...shape, rows: await countRows(snapshot, shape.name) });
      const begin: DumpBegin = { kind: 'backup', backupId, createdAt, dialect: deps.dialect, migrations, tables };
      const result: { manifest?: DumpManifest } = {};
      const onProgress = options.onProgress;
      await pipeline(
        Readable.from(dumpLines(snapshot, begin, result, onProgress ? (p) => onProgress({ phase: 'dump', ...p }) : undefined)),
        createGzip({ level: options.compressionLevel ?? DEFAULT_COMPRESSION }),
        new ChunkSealer(fileKey, encoded.hash, chunkBytes),
        measure,
        out,
      );
      return { begin, manifest: result.manifest! };
    });
    return {
      backupId,
      createdAt,
      dialect: deps.dialect,
      keySource: wrapped.source,
      kekId: wrapped.source === 'keyring' ? wrapped.kekId : null,
      migrations: begin.migrations.length,
      tables: tableList(manifest.tables),
      rows: totalRows(manifest.tables),
      contentSha256: manifest.sha256,
      bytes,
      sha256: digest.digest('hex'),
    };
  } finally {
    fileKey.fill(0);
  }
}

/**
 * Writes a backup file (readable by its owner only, in place only once complete) and records it
 * in the audit log: who took a copy of everything, when, and the file's hash.
 */
export async function createBackupFile(deps: BackupDeps & Pick<KeyDeps, 'pendingAudit'>, ctx: ActorContext, file: string, options: CreateBackupOptions & { overwrite?: boolean } = {}): Promise<BackupSummary> {
  const summary = await writeFileAtomically(file, 'request.invalid', { overwrite: Boolean(options.overwrite) }, (stream) => writeBackup(deps, stream, options));
  await recordAudit(deps, ctx, {
    action: 'backup.create',
    details: {
      backupId: summary.backupId,
      keySource: summary.keySource,
      kekId: summary.kekId,
      tables: summary.tables.length,
      rows: summary.rows,
      contentSha256: summary.contentSha256,
      bytes: summary.bytes,
      sha256: summary.sha256,
    },
  });
  return summary;
}

export interface VerifiedBackup extends BackupSummary {
  readonly chunks: number;
}

/**
 * Checks a whole backup without restoring anything: the key opens it, every chunk authenticates
 * in order up to the final one, the content decompresses and every table matches its count and
 * hash and the manifest. Throws `backup.invalid` or `backup.wrong_key` otherwise.
 */
export async function verifyBackup(file: string, keys: BackupKeys, onProgress?: (progress: BackupProgress) => void): Promise<VerifiedBackup> {
  const opened = await openBackupFile(file);
  try {
    const fileKey = await openFileKey(opened.header, keys);
    let chunks = 0;
    const digest = createHash('sha256').update(opened.prefix);
    let begin: DumpBegin | null = null;
    let manifest: DumpManifest | null = null;
    try {
      for await (const event of readDump(opened, fileKey, {
        parse: false,
        onBytes: (bytes) => digest.update(bytes),
        onChunk: (p) => {
          chunks = p.chunks;
          onProgress?.({ phase: 'read', done: p.bytes, total: p.size });
        },
      })) {
        if (event.kind === 'begin') begin = event.begin;
        else if (event.kind === 'manifest') manifest = event.manifest;
      }
    } finally {
      fileKey.fill(0);
    }
    const key = opened.header.key;
    return {
      backupId: opened.header.backupId,
      createdAt: opened.header.createdAt,
      dialect: begin!.dialect,
      keySource: key.source,
      kekId: key.source === 'keyring' ? key.kekId : null,
      migrations: begin!.migrations.length,
      tables: tableList(manifest!.tables),
      rows: totalRows(manifest!.tables),
      contentSha256: manifest!.sha256,
      bytes: opened.size,
      sha256: digest.digest('hex'),
      chunks,
    };
  } finally {
    await opened.handle.close();
  }
}
