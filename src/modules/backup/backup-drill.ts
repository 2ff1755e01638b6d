import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Keyring } from '../../crypto/keyring.js';
import { openDatabase, type Database, type Dialect } from '../../db/database.js';
import type { Clock } from '../../shared/clock.js';
import { AppError } from '../../shared/errors.js';
import type { ActorContext } from '../../shared/principal.js';
import { verifyBackup, type BackupProgress } from './backup.service.js';
import { restoreBackup } from './backup-restore.js';

/**
 * A restore drill proves a backup can be restored, not only read: the file is restored into a
 * scratch database the drill makes and removes (a temporary SQLite file, or a schema of its own in
 * a PostgreSQL database), and the restore reads every table back in canonical form and compares its
 * count and hash with the backup's manifest, which is the live data as of the backup.
 * Recording the drill is the caller's (backup-runs.service.ts).
 */
export type DrillTarget = { readonly dialect: 'sqlite' } | { readonly dialect: 'postgres'; readonly url: string };

export interface DrillOutcome {
  readonly backupId: string;
  readonly createdAt: string;
  readonly targetDialect: Dialect;
  readonly tables: number;
  readonly rows: number;
  /** The manifest's content hash (the live data as of the backup). */
  readonly contentSha256: string;
  readonly matched: boolean;
  /** The table whose restored content differs from the manifest (the restore stops at the first). */
  readonly differingTables: readonly string[];
}

export interface DrillDeps {
  readonly keyring: Keyring;
  readonly clock: Clock;
}

/**
 * The table a restore found not reading back as the backup holds it (the restore compares every
 * table's canonical content with the manifest before it commits, and stops at the first that
 * differs), or null when `error` is not such a finding. Other refusals (a damaged file, a wrong
 * key) are failures to restore, not differences.
 */
export function differingTableOf(error: unknown): string | null {
  if (!(error instanceof AppError) || error.code !== 'backup.incompatible') return null;
  const named = error.fields?.find((f) => f.field.startsWith('tables.'));
  if (named) return named.field.slice('tables.'.length);
  const m = /^The restored table ([a-z_][a-z0-9_]*) (?:does not read back|holds \d+ rows where)/.exec(error.message);
  return m ? m[1]! : null;
}

/** Restores `file` into a scratch database and compares what comes back with the manifest. Throws what the restore throws (a damaged file, a wrong key). */
export async function drillBackupFile(deps: DrillDeps, ctx: ActorContext, file: string, target: DrillTarget, onProgress?: (progress: BackupProgress) => void): Promise<DrillOutcome> {
  const scratch = await openScratch(target);
  let database: Database | null = null;
  try {
    const restored = await restoreBackup(file, {
      keyring: deps.keyring,
      target: () => (database = scratch.open()),
      targetDialect: target.dialect,
      clock: deps.clock,
      ctx,
      recordRestore: false,
      // Every table read back and compared with the manifest inside the restore's transaction,
      // before the search index and the erasure ledger are applied again.
      checkContent: true,
      ...(onProgress ? { onProgress } : {}),
    }).catch((error: unknown) => {
      const table = differingTableOf(error);
      if (table === null) throw error;
      return { mismatch: table };
    });
    if ('mismatch' in restored) {
      // The manifest's figures, for the record (a rare path: reading the file once more is fine).
      const manifest = await verifyBackup(file, { kek: deps.keyring.kek });
      return { backupId: manifest.backupId, createdAt: manifest.createdAt, targetDialect: target.dialect, tables: manifest.tables.length, rows: manifest.rows, contentSha256: manifest.contentSha256, matched: false, differingTables: [restored.mismatch] };
    }
    return {
      backupId: restored.backupId,
      createdAt: restored.createdAt,
      targetDialect: target.dialect,
      tables: restored.tables.length,
      rows: restored.rows,
      contentSha256: restored.contentSha256,
      matched: true,
      differingTables: [],
    };
  } finally {
    await (database as Database | null)?.close().catch(() => undefined);
    await scratch.remove();
  }
}

interface Scratch {
  open(): Database;
  remove(): Promise<void>;
}

/** A place to restore into that nothing else uses, and that leaves nothing behind. */
async function openScratch(target: DrillTarget): Promise<Scratch> {
  if (target.dialect === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-drill-'));
    fs.chmodSync(dir, 0o700);
    return {
      open: () => openDatabase({ dialect: 'sqlite', file: path.join(dir, 'drill.db') }),
      remove: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  }
  const schema = `rampart_drill_${randomBytes(6).toString('hex')}`;
  await withClient(target.url, (client) => client.query(`create schema ${schema}`));
  return {
    open: () => openDatabase({ dialect: 'postgres', url: target.url, schema }),
    remove: () => withClient(target.url, (client) => client.query(`drop schema if exists ${schema} cascade`)).then(() => undefined),
  };
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

