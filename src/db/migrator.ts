import { Migrator, sql, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely';
import type { Database } from './database.js';
import * as foundation from './migrations/0001-foundation.js';
import * as defaultPipeline from './migrations/0002-default-pipeline.js';
import * as encryption from './migrations/0003-encryption.js';
import * as accessControl from './migrations/0004-access-control.js';
import * as audit from './migrations/0005-audit.js';
import * as auditQueries from './migrations/0006-audit-queries.js';
import * as auditArchive from './migrations/0007-audit-archive.js';
import * as auditRowid from './migrations/0008-audit-rowid.js';
import * as sparseIndexes from './migrations/0009-sparse-indexes.js';
import * as mfa from './migrations/0010-mfa.js';
import * as signInThrottle from './migrations/0011-sign-in-throttle.js';
import * as passkeys from './migrations/0012-passkeys.js';
import * as sessionControl from './migrations/0013-session-control.js';
import * as tokenAddresses from './migrations/0014-token-addresses.js';
import * as accountMail from './migrations/0015-account-mail.js';
import * as singleSignOn from './migrations/0016-single-sign-on.js';
import * as savedViews from './migrations/0017-saved-views.js';
import * as detection from './migrations/0018-detection.js';
import * as securityOfficer from './migrations/0019-security-officer.js';
import * as approvalsExports from './migrations/0020-approvals-exports.js';
import * as trash from './migrations/0021-trash.js';
import * as backupRuns from './migrations/0022-backup-runs.js';
import * as backupOffsite from './migrations/0023-backup-offsite.js';
import * as bulkRequests from './migrations/0024-bulk-requests.js';
import * as bulkTallies from './migrations/0025-bulk-tallies.js';

/** Migrations are listed in code, in order, so a build carries them and nothing scans the disk. */
function migrationsFor(database: Database): Record<string, Migration> {
  return {
    '0001-foundation': { up: (db) => foundation.up(db, database.dialect) },
    '0002-default-pipeline': { up: (db) => defaultPipeline.up(db) },
    '0003-encryption': { up: (db) => encryption.up(db, database.dialect) },
    '0004-access-control': { up: (db) => accessControl.up(db) },
    '0005-audit': { up: (db) => audit.up(db, database.dialect) },
    '0006-audit-queries': { up: (db) => auditQueries.up(db) },
    '0007-audit-archive': { up: (db) => auditArchive.up(db, database.dialect) },
    '0008-audit-rowid': { up: (db) => auditRowid.up(db, database.dialect) },
    '0009-sparse-indexes': { up: (db) => sparseIndexes.up(db) },
    '0010-mfa': { up: (db) => mfa.up(db) },
    '0011-sign-in-throttle': { up: (db) => signInThrottle.up(db) },
    '0012-passkeys': { up: (db) => passkeys.up(db) },
    '0013-session-control': { up: (db) => sessionControl.up(db) },
    '0014-token-addresses': { up: (db) => tokenAddresses.up(db) },
    '0015-account-mail': { up: (db) => accountMail.up(db) },
    '0016-single-sign-on': { up: (db) => singleSignOn.up(db) },
    '0017-saved-views': { up: (db) => savedViews.up(db) },
    '0018-detection': { up: (db) => detection.up(db) },
    '0019-security-officer': { up: (db) => securityOfficer.up(db) },
    '0020-approvals-exports': { up: (db) => approvalsExports.up(db) },
    '0021-trash': { up: (db) => trash.up(db) },
    '0022-backup-runs': { up: (db) => backupRuns.up(db) },
    '0023-backup-offsite': { up: (db) => backupOffsite.up(db) },
    '0024-bulk-requests': { up: (db) => bulkRequests.up(db) },
    '0025-bulk-tallies': { up: (db) => bulkTallies.up(db) },
  };
}

export class MigrationError extends Error {}

/** Brings the schema up to date; the same call serves `rampart migrate` and server start. */
export async function migrateToLatest(database: Database): Promise<string[]> {
  return migrate(database, (migrator) => migrator.migrateToLatest());
}

/** Brings the schema to a given migration: how tests build a database of an earlier version. */
export async function migrateTo(database: Database, name: string): Promise<string[]> {
  return migrate(database, (migrator) => migrator.migrateTo(name));
}

async function migrate(database: Database, run: (migrator: Migrator) => Promise<MigrationResultSet>): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: async () => migrationsFor(database) };
  // Kysely looks for its bookkeeping tables by name in every schema unless told which one: with
  // several schemas in one database it would find another schema's tables and skip its own.
  const schema = database.dialect === 'postgres' ? (database.schema ?? (await sql<{ name: string }>`select current_schema() as name`.execute(database.db)).rows[0]?.name) : undefined;
  const migrator = new Migrator({ db: database.db, provider, ...(schema ? { migrationTableSchema: schema } : {}) });
  const { error, results } = await run(migrator);
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new MigrationError(`migration ${failed} failed: ${(error as Error).message}`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
