import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../config/config.js';
import type { Keyring } from '../crypto/keyring.js';
import type { Database } from '../db/database.js';
import type { BackupProgress, BackupSummary } from '../modules/backup/backup.service.js';
import type { ErasureEntry, RestoreSummary } from '../modules/backup/backup-restore.js';
import { cliContext } from '../shared/principal.js';
import { printJson, printLine, printTable, progressBar, type Progress } from './output.js';
import { withPassphrase } from './passphrase.js';
import { configFor, readStdin, UsageError, withDatabase } from './runtime.js';

const PHASE_LABELS: Record<BackupProgress['phase'], string> = {
  dump: 'backing up',
  read: 'verifying',
  load: 'restoring',
  check: 'checking',
  index: 'search index',
  audit: 'audit chain',
};

/** One progress bar per phase, on a terminal only (progressBar draws nothing for --json or a pipe). */
function progressOf(json: boolean): { onProgress: (p: BackupProgress) => void; stop: () => void } {
  let phase: BackupProgress['phase'] | null = null;
  let bar: Progress | null = null;
  return {
    onProgress(p) {
      if (p.phase !== phase) {
        bar?.stop();
        phase = p.phase;
        bar = progressBar(PHASE_LABELS[p.phase], json);
      }
      if (p.total > 0) bar!.update(Math.min(p.done, p.total), p.total);
    },
    stop() {
      bar?.stop();
    },
  };
}

/** The backup passphrase from standard input (one line; a trailing newline is not part of it). */
async function passphraseFromStdin(wanted: boolean | undefined): Promise<string | undefined> {
  if (!wanted) return undefined;
  if (process.stdin.isTTY) throw new UsageError('--passphrase-stdin reads the passphrase from a pipe or file, not a terminal');
  const text = (await readStdin()).replace(/\r?\n$/, '');
  if (text.length === 0) throw new UsageError('--passphrase-stdin was given but standard input was empty');
  return text;
}

/** The keyring of this installation, only opened (never created): a backup is useless under a new key. */
async function existingKeyring(config: Config, required: boolean): Promise<Keyring | undefined> {
  if (!fs.existsSync(config.keys.file)) {
    if (!required) return undefined;
    throw new UsageError(`Restoring needs the key file of the installation that made the backup: put it at ${config.keys.file} (or set RAMPART_KEY_FILE). Without it nothing in the backup can be read.`);
  }
  const { openKeyring } = await import('../crypto/setup.js');
  return openKeyring(config, { create: false });
}

function operatorName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return `uid:${process.getuid?.() ?? 'unknown'}`;
  }
}

function printSummary(summary: BackupSummary): void {
  printTable(
    ['TABLE', 'ROWS', 'SHA-256'],
    summary.tables.filter((t) => t.rows > 0).map((t) => [t.name, String(t.rows), t.sha256.slice(0, 16)]),
  );
  printLine(`${summary.tables.length} tables (${summary.tables.filter((t) => t.rows === 0).length} empty), ${summary.rows} rows; content sha256 ${summary.contentSha256}`);
}

/** The erasure ledger to re-apply from `--erasures-from`: a database URL, or a newer backup file. */
async function laterErasures(source: string | undefined, keyring: Keyring, passphrase: string | undefined): Promise<ErasureEntry[] | undefined> {
  if (source === undefined) return undefined;
  const { erasureLedgerOf, erasureLedgerOfBackup } = await import('../modules/backup/backup-restore.js');
  const isPostgres = /^postgres(ql)?:\/\//.test(source);
  if (!isPostgres && !source.startsWith('sqlite:')) return erasureLedgerOfBackup(source, { kek: keyring.kek, ...(passphrase !== undefined ? { passphrase } : {}) });
  const { openDatabase } = await import('../db/database.js');
  const file = path.resolve(source.slice('sqlite:'.length));
  if (!isPostgres && !fs.existsSync(file)) throw new UsageError('--erasures-from names a SQLite file that does not exist');
  const database = openDatabase(isPostgres ? { dialect: 'postgres', url: source } : { dialect: 'sqlite', file });
  try {
    return await erasureLedgerOf(database.db);
  } finally {
    await database.close();
  }
}

/** `backup create|verify|restore|run|drill|status`. */
export function registerBackupCommands(program: Command): void {
  const backup = program.command('backup').description('Encrypted, verified backups of the whole database, restoring them, scheduled backups and restore drills');

  backup
    .command('create')
    .description('Write one encrypted file holding every table (audit log, wrapped keys and erasure ledger included; never the key file)')
    .requiredOption('--out <file>', 'the backup file to write (readable by its owner only)')
    .option('--passphrase-stdin', 'protect the file with a backup passphrase read from standard input instead of the key file')
    .option('--force', 'replace the file if it exists')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nKeep the key file (and the audit signing key file) safe apart from the backups: a backup protected by the key file opens only with it, and the data inside is sealed under it either way.')
    .action(async (opts: { out: string; passphraseStdin?: boolean; force?: boolean; json?: boolean }, command: Command) => {
      const passphrase = await passphraseFromStdin(opts.passphraseStdin);
      const { createBackupFile } = await import('../modules/backup/backup.service.js');
      await withDatabase(command, async ({ deps, ctx }) => {
        const progress = progressOf(Boolean(opts.json));
        const started = performance.now();
        let summary: BackupSummary;
        try {
          summary = await createBackupFile(deps, ctx, opts.out, { overwrite: Boolean(opts.force), onProgress: progress.onProgress, ...(passphrase !== undefined ? { passphrase } : {}) });
        } finally {
          progress.stop();
        }
        const seconds = Number(((performance.now() - started) / 1000).toFixed(1));
        if (opts.json) return printJson({ file: path.resolve(opts.out), ...summary, seconds });
        printSummary(summary);
        printLine(`Wrote backup ${summary.backupId} to ${opts.out}: ${summary.bytes} bytes, sha256 ${summary.sha256}, in ${seconds} s.`);
        printLine(summary.keySource === 'keyring' ? `Protected by the key file (key version ${summary.kekId}).` : 'Protected by the backup passphrase.');
      });
    });

  backup
    .command('verify')
    .description('Check a whole backup without restoring it: the key, every chunk, every table against the manifest')
    .argument('<file>', 'the backup file')
    .option('--passphrase-stdin', 'the backup passphrase, from standard input')
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { passphraseStdin?: boolean; json?: boolean }, command: Command) => {
      const passphrase = await passphraseFromStdin(opts.passphraseStdin);
      const config = await withPassphrase(configFor(command));
      const keyring = await existingKeyring(config, false);
      const { verifyBackup } = await import('../modules/backup/backup.service.js');
      const progress = progressOf(Boolean(opts.json));
      let verified;
      try {
        verified = await verifyBackup(file, { ...(keyring ? { kek: keyring.kek } : {}), ...(passphrase !== undefined ? { passphrase } : {}) }, progress.onProgress);
      } finally {
        progress.stop();
      }
      if (opts.json) return printJson({ ok: true, ...verified });
      printSummary(verified);
      printLine(`Backup ${verified.backupId} of ${verified.createdAt} (${verified.dialect}, ${verified.migrations} migrations) verifies: ${verified.chunks} chunks, ${verified.bytes} bytes, sha256 ${verified.sha256}.`);
    });

  backup
    .command('restore')
    .description('Restore a backup into an empty database (SQLite or PostgreSQL, whichever made it); --data-dir or RAMPART_DATABASE_URL chooses the target')
    .argument('<file>', 'the backup file')
    .option('--dry-run', 'verify the file and check the target, and write nothing')
    .option('--passphrase-stdin', 'the backup passphrase, from standard input')
    .option('--erasures-from <source>', 'also keep erased everyone erased in this newer source: a database URL (sqlite:FILE or postgres://…), or a newer backup file opened with the same key file or passphrase')
    .option('--check-content', 'read the restored database back and compare it with the backup table by table before committing (slower; row counts are always compared)')
    .option('--accept-audit-damage', 'restore even when the audit log in the backup does not verify (the damage is reported and recorded)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nThe key file of the installation that made the backup must be in place (RAMPART_KEY_FILE): the restored data is sealed under it.')
    .action(async (file: string, opts: { dryRun?: boolean; passphraseStdin?: boolean; erasuresFrom?: string; checkContent?: boolean; acceptAuditDamage?: boolean; json?: boolean }, command: Command) => {
      const passphrase = await passphraseFromStdin(opts.passphraseStdin);
      const config = await withPassphrase(configFor(command));
      const keyring = (await existingKeyring(config, true))!;
      const later = await laterErasures(opts.erasuresFrom, keyring, passphrase);
      const { openDatabase } = await import('../db/database.js');
      const { restoreBackup } = await import('../modules/backup/backup-restore.js');
      const { systemClock } = await import('../shared/clock.js');
      const newFile = config.database.dialect === 'sqlite' && !fs.existsSync(config.database.file);
      const { ensureDataDir } = await import('../config/config.js');
      let target: Database | null = null;
      // Opened only once the file has verified; a dry run leaves a database file that does not exist yet uncreated.
      const openTarget = (): Database | null => {
        if (opts.dryRun && newFile) return null;
        if (config.database.dialect === 'sqlite') ensureDataDir(config);
        target = openDatabase(config.database);
        return target;
      };
      const progress = progressOf(Boolean(opts.json));
      const started = performance.now();
      let result: RestoreSummary;
      try {
        result = await restoreBackup(file, {
          keyring,
          target: openTarget,
          targetDialect: config.database.dialect,
          clock: systemClock,
          ctx: cliContext(operatorName()),
          dryRun: Boolean(opts.dryRun),
          acceptAuditDamage: Boolean(opts.acceptAuditDamage),
          checkContent: Boolean(opts.checkContent),
          onProgress: progress.onProgress,
          ...(passphrase !== undefined ? { passphrase } : {}),
          ...(later ? { laterErasures: later } : {}),
          ...(await verifierKeyOf(config)),
        });
      } finally {
        progress.stop();
        await (target as Database | null)?.close();
      }
      const seconds = Number(((performance.now() - started) / 1000).toFixed(1));
      if (opts.json) return printJson({ ...result, seconds });
      if (result.dryRun) {
        printLine(
          `Dry run: backup ${result.backupId} of ${result.createdAt} verifies (${result.rows} rows in ${result.tables.length} tables) and the ${result.targetDialect} target can take it` +
            `${result.migrations.before.length > 0 ? ` after ${result.migrations.before.length} migrations` : ''}${result.migrations.after.length > 0 ? `, with ${result.migrations.after.length} newer migrations run afterwards` : ''}. Nothing was written.`,
        );
        if (result.erasures.added > 0) printLine(`${result.erasures.added} people erased since the backup would be erased again.`);
        return;
      }
      printLine(`Restored backup ${result.backupId} of ${result.createdAt} (${result.sourceDialect}) into ${result.targetDialect}: ${result.rows} rows in ${result.tables.length} tables, content sha256 ${result.contentSha256}, in ${seconds} s.`);
      printLine(`Search index made again for ${result.searchDocuments} records; erasure ledger: ${result.erasures.inBackup} in the backup, ${result.erasures.added} added, ${result.erasures.reapplied} erased again.`);
      const chain = result.auditChain!;
      if (chain.problems.length === 0) printLine(`Audit log verified: ${chain.entries} entries.`);
      else printLine(`WARNING: the audit log does not verify (${chain.problems.length} problem(s), first: ${chain.problems[0]}); restored because --accept-audit-damage was given.`);
    });

  backup
    .command('run')
    .description('Take a backup into the backup folder now, as the schedule does: named by its UTC time, verified, recorded, then retention applied')
    .option('--dir <folder>', 'the folder (default RAMPART_BACKUP_DIR)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { dir?: string; json?: boolean }, command: Command) => {
      const { runFolderBackup } = await import('../modules/backup/backup-runs.service.js');
      const { describeStore } = await import('../modules/backup/offsite-s3.js');
      await withDatabase(command, async ({ config, deps, ctx }) => {
        const dir = opts.dir !== undefined ? path.resolve(opts.dir) : config.backup.dir;
        if (!dir) throw new UsageError('Name a folder with --dir, or set RAMPART_BACKUP_DIR');
        const result = await runFolderBackup(deps, ctx, { dir });
        if (opts.json) printJson(result);
        else if (result.run.status === 'ok') {
          printLine(`Wrote and verified ${result.run.file} in ${dir}: ${result.run.bytes} bytes, ${result.run.rows} rows in ${result.run.tables} tables.`);
          printLine(result.pruned.length > 0 ? `Retention removed ${result.pruned.length} older backup(s): ${result.pruned.join(', ')}.` : 'Retention removed nothing.');
          const offsite = result.run.offsite;
          if (offsite?.status === 'ok') printLine(`Copied to ${describeStore(config.backup.offsite!)}${result.offsitePruned.length > 0 ? `; retention removed ${result.offsitePruned.length} older copy(ies) there: ${result.offsitePruned.join(', ')}` : ''}.`);
          else if (offsite?.status === 'failed') process.stderr.write(`Copying to the store failed (${offsite.error ?? 'unknown'}${offsite.reason ? `, ${offsite.reason}` : ''}); the backup in the folder is good.\n`);
        }
        if (result.run.status !== 'ok') failRun(result.run, Boolean(opts.json));
      });
    });

  backup
    .command('drill')
    .description('Restore a backup into a scratch database (removed afterwards) and compare its content with the backup, table by table; recorded and audited')
    .option('--file <file>', 'the backup to drill (default: the newest in RAMPART_BACKUP_DIR, or in the S3-compatible store when the folder holds none)')
    .option('--from-s3', 'drill the newest copy in the S3-compatible store (RAMPART_BACKUP_S3_URL), downloaded to a temporary file first')
    .option('--target-url <url>', 'restore into a schema of its own in this PostgreSQL database (dropped afterwards) instead of a temporary SQLite file')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { file?: string; fromS3?: boolean; targetUrl?: string; json?: boolean }, command: Command) => {
      if (opts.targetUrl !== undefined && !/^postgres(ql)?:\/\//.test(opts.targetUrl)) throw new UsageError('--target-url must be a postgres:// URL');
      if (opts.fromS3 && opts.file !== undefined) throw new UsageError('--from-s3 and --file cannot be combined');
      const { runDrill } = await import('../modules/backup/backup-runs.service.js');
      await withDatabase(command, async ({ deps, ctx }) => {
        const run = await runDrill(deps, ctx, { ...(opts.file !== undefined ? { file: path.resolve(opts.file) } : {}), ...(opts.fromS3 ? { fromStore: true } : {}), ...(opts.targetUrl ? { target: { dialect: 'postgres' as const, url: opts.targetUrl } } : {}) });
        if (opts.json) printJson(run);
        else if (run.status === 'ok') printLine(`Drill of ${run.file}: restored ${run.rows} rows in ${run.tables} tables into a scratch ${opts.targetUrl ? 'PostgreSQL schema' : 'SQLite database'}; every table matches the backup (content sha256 ${run.contentSha256}).`);
        if (run.status !== 'ok') failRun(run, Boolean(opts.json));
      });
    });

  backup
    .command('status')
    .description('The backup schedule, whether the newest backup is fresh, the last drill, retention')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const { backupStatus } = await import('../modules/backup/backup-runs.service.js');
      await withDatabase(command, async ({ deps, ctx }) => {
        const status = await backupStatus(deps, ctx);
        if (opts.json) return printJson(status);
        printLine(status.configured ? `Scheduled backups to folder ${status.folder}, schedule ${status.schedule} (UTC), next at ${status.nextRunAt}.` : 'Scheduled backups are off (set RAMPART_BACKUP_DIR).');
        printLine(status.lastBackup ? `Last good backup: ${status.lastBackup.at}, ${status.lastBackup.bytes} bytes, verified ${status.lastBackup.verifiedAt ?? 'no'}; ${status.fresh ? 'fresh' : 'NOT FRESH'}.` : 'No good backup recorded yet.');
        printLine(status.lastDrill ? `Last drill: ${status.lastDrill.at}, ${status.lastDrill.status}${status.lastDrill.matched === null ? '' : status.lastDrill.matched ? ', content matched' : ', content DIFFERED'}.` : 'No restore drill recorded yet.');
        printLine(`Retention: ${status.retention.daily} daily, ${status.retention.weekly} weekly, ${status.retention.monthly} monthly; ${status.filesKept} file(s) kept; drills ${status.drill}.`);
        const offsite = status.offsite;
        if (offsite.configured) {
          printLine(
            `Copies to the S3-compatible store: last good copy ${offsite.lastCopyAt ?? 'never'}; last attempt ${offsite.lastStatus ?? 'none'}${offsite.lastError ? ` (${offsite.lastError})` : ''}; ${offsite.fresh ? 'fresh' : 'NOT FRESH'}.`,
          );
        }
      });
    });
}

/** A run that failed is reported like any failed command: its code and message, and exit status 1. */
function failRun(run: { error: { code: string; message: string } | null }, json: boolean): void {
  if (!json) process.stderr.write(`Failed (${run.error?.code ?? 'unknown'}): ${run.error?.message ?? ''}\n`);
  process.exitCode = 1;
}

/** The verifier key of this installation's audit signing key, when it has one. */
async function verifierKeyOf(config: Config): Promise<{ verifierKey?: string }> {
  if (!fs.existsSync(config.audit.keyFile)) return {};
  const { loadAuditSigningKey } = await import('../audit/signing-key-file.js');
  return { verifierKey: loadAuditSigningKey(config.audit.keyFile, '', { create: false }).verifierKey };
}
