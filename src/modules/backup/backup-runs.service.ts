import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { requirePermission } from '../../data/access.js';
import { recordAudit } from '../../data/audit-trail.js';
import { decodeCursor, encodeCursor } from '../../data/cursor.js';
import { inTransaction } from '../../data/keys.js';
import { requireStepUp } from '../../data/step-up.js';
import { openDatabase, type Executor } from '../../db/database.js';
import { writeFileAtomically } from '../../shared/atomic-file.js';
import { AppError, type ErrorCode } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';
import { actingUserId, type ActorContext } from '../../shared/principal.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { drillBackupFile, type DrillTarget } from './backup-drill.js';
import {
  backupFileName,
  backupFileTime,
  isBackupDue,
  isDrillDue,
  isFresh,
  nextBackupAt,
  planRetention,
  type RetentionPolicy,
} from './backup-schedule.js';
import {
  backupLeaseHeld,
  failAbandonedRuns,
  insertBackupRun,
  keptBackupRuns,
  lastScheduledAttempt,
  latestBackupRun,
  latestOffsiteRun,
  markOffsitePruned,
  releaseBackupLease,
  selectBackupRun,
  selectBackupRunPage,
  takeBackupLease,
  updateBackupRun,
  type BackupRunKind,
  type BackupRunRow,
  type BackupRunStatus,
} from './backup-runs.repo.js';
import { verifyBackup, writeBackup } from './backup.service.js';
import { deleteBackupObject, getBackupObject, listBackupObjects, OffsiteError, putBackupObject, type OffsiteStore } from './offsite-s3.js';

/**
 * Backups into the backup folder and restore drills, each recorded as a run: the scheduler, the
 * `rampart backup run|drill|status` commands and the administrators' API all come through here.
 * One process at a time takes a backup or runs a drill (the backup lease); a backup is verified
 * right after it is written, and retention then thins the folder out. With a store set up
 * (RAMPART_BACKUP_S3_URL) the file is then copied there and the same retention thins the store
 * out; a failed copy is recorded on the run and never fails the backup itself. Runs hold counts,
 * hashes and file names only, never content, where the folder is, or anything about the store's keys.
 */
export type BackupRunDeps = Pick<AuthDeps, 'db' | 'dialect' | 'clock' | 'keyring' | 'config' | 'background'>;

export interface BackupRunView {
  id: string;
  kind: BackupRunKind;
  status: BackupRunStatus;
  /** The user who asked for it through the API; null for the schedule and the command line. */
  requestedBy: string | null;
  startedAt: string;
  finishedAt: string | null;
  /** The backup file's name (never its folder). */
  file: string | null;
  bytes: number | null;
  backupId: string | null;
  tables: number | null;
  rows: number | null;
  contentSha256: string | null;
  /** When the file was read back in full and found whole (a drill verifies it too). */
  verifiedAt: string | null;
  drill: { matched: boolean; differingTables: string[] } | null;
  error: { code: string; message: string } | null;
  /** The retention rule that keeps the file (daily, weekly, monthly, newest); null before retention ran or once pruned. */
  tier: string | null;
  /** When retention deleted the file. */
  prunedAt: string | null;
  /** The copy in the S3-compatible store; null when none was attempted (no store set up, a failed backup, a drill). */
  offsite: OffsiteCopyView | null;
}

export interface OffsiteCopyView {
  status: 'ok' | 'failed';
  /** When the copy was made, or failed. */
  at: string | null;
  /** A stable error code when it failed (backup.offsite_unreachable, backup.offsite_refused, backup.offsite_too_large). */
  error: string | null;
  /** The store's own error code name (AccessDenied) or the network's (ECONNREFUSED), when there was one. */
  reason: string | null;
  /** When retention deleted the copy from the store. */
  prunedAt: string | null;
}

/** The scheduler's actor: audit entries of scheduled backups name the job, not a person. */
export const BACKUP_JOB: ActorContext = { principal: { kind: 'system', job: 'backup' }, channel: 'job', requestId: null, sourceAddress: null, userAgent: null };

const LEASE_MS = 60_000;
const RENEW_MS = 15_000;

function num(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}

export function presentRun(row: BackupRunRow): BackupRunView {
  return {
    id: row.id,
    kind: row.kind as BackupRunKind,
    status: row.status as BackupRunStatus,
    requestedBy: row.requested_by,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    file: row.file,
    bytes: num(row.bytes),
    backupId: row.backup_id,
    tables: row.table_count,
    rows: num(row.row_count),
    contentSha256: row.content_sha256,
    verifiedAt: row.verified_at,
    drill: row.kind === 'drill' && row.drill_matched !== null ? { matched: Number(row.drill_matched) === 1, differingTables: JSON.parse(row.drill_differs ?? '[]') as string[] } : null,
    error: row.error_code ? { code: row.error_code, message: row.error_message ?? '' } : null,
    tier: row.pruned_at ? null : row.tier,
    prunedAt: row.pruned_at,
    offsite:
      row.offsite_status === 'ok' || row.offsite_status === 'failed'
        ? { status: row.offsite_status, at: row.offsite_at, error: row.offsite_error, reason: row.offsite_reason, prunedAt: row.offsite_pruned_at }
        : null,
  };
}

async function runView(db: Executor, id: string): Promise<BackupRunView> {
  return presentRun((await selectBackupRun(db, id))!);
}

// ---- The lease ---------------------------------------------------------------------------------

/** The backup lease while this process holds it, renewed in the background until released. */
export interface BackupLease {
  release(): Promise<void>;
}

/**
 * Takes the backup lease, or answers null when another process (or this one) is taking a backup
 * or running a drill. Runs a dead holder left `running` are marked failed on the way in.
 */
export async function tryBackupLease(deps: Pick<BackupRunDeps, 'db' | 'clock'>): Promise<BackupLease | null> {
  const holder = newId();
  const until = () => new Date(deps.clock.now().getTime() + LEASE_MS).toISOString();
  if (!(await takeBackupLease(deps.db, holder, deps.clock.now().toISOString(), until()))) return null;
  await failAbandonedRuns(deps.db, deps.clock.now().toISOString());
  const renewing = setInterval(() => {
    takeBackupLease(deps.db, holder, deps.clock.now().toISOString(), until()).catch(() => undefined);
  }, RENEW_MS);
  renewing.unref();
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(renewing);
      await releaseBackupLease(deps.db, holder);
    },
  };
}

async function requireBackupLease(deps: BackupRunDeps): Promise<BackupLease> {
  const lease = await tryBackupLease(deps);
  if (!lease) throw new AppError('backup.already_running', 'A backup or restore drill is running already; wait for it to finish');
  return lease;
}

// ---- Backups into the folder -------------------------------------------------------------------

/** A started run: its row is in, marked running. */
interface StartedRun {
  readonly id: string;
  readonly kind: BackupRunKind;
  readonly startedAt: Date;
}

async function startRun(deps: BackupRunDeps, ctx: ActorContext, kind: BackupRunKind, file: string | null): Promise<StartedRun> {
  const run = { id: newId(), kind, startedAt: deps.clock.now() };
  await insertBackupRun(deps.db, { id: run.id, kind, requested_by: ctx.principal.kind === 'user' || ctx.principal.kind === 'token' ? actingUserId(ctx.principal) : null, started_at: run.startedAt.toISOString(), file });
  return run;
}

/**
 * The error a run records: an AppError's code and message (written without personal data), or a
 * generic one: an unexpected error's own text could carry anything.
 */
function failureOf(error: unknown): { code: ErrorCode; message: string } {
  if (error instanceof AppError) return { code: error.code, message: error.message.slice(0, 500) };
  const kind = (error as NodeJS.ErrnoException)?.code;
  return { code: 'internal.error', message: `Stopped on an unexpected error${typeof kind === 'string' && /^[A-Z0-9_]{2,40}$/.test(kind) ? ` (${kind})` : ''}.` };
}

async function recordFailure(deps: BackupRunDeps, ctx: ActorContext, run: StartedRun, action: 'backup.created' | 'backup.drill', error: unknown): Promise<BackupRunView> {
  const failure = failureOf(error);
  await inTransaction(deps, async (tx) => {
    await updateBackupRun(tx.db, run.id, { status: 'failed', finished_at: deps.clock.now().toISOString(), error_code: failure.code, error_message: failure.message });
    await recordAudit(tx, ctx, { action, outcome: 'failure', details: { runId: run.id, kind: run.kind, errorCode: failure.code } });
  });
  return runView(deps.db, run.id);
}

/**
 * On SQLite a backup's snapshot holds the connection it reads through until it ends; a server
 * hands it a connection of its own so requests keep being answered. PostgreSQL takes one from the pool.
 */
async function snapshotSource(deps: BackupRunDeps): Promise<{ db: Executor; close(): Promise<void> }> {
  if (deps.dialect !== 'sqlite') return { db: deps.db, close: async () => undefined };
  const { rows } = await sql<{ file: string }>`select file from pragma_database_list where name = 'main'`.execute(deps.db);
  const file = rows[0]?.file;
  if (!file) return { db: deps.db, close: async () => undefined };
  const second = openDatabase({ dialect: 'sqlite', file });
  return { db: second.db, close: () => second.close() };
}

export interface FolderBackupResult {
  readonly run: BackupRunView;
  /** Files retention deleted afterwards. */
  readonly pruned: readonly string[];
  /** Copies retention deleted from the store afterwards. */
  readonly offsitePruned: readonly string[];
}

/**
 * Writes a backup into `dir` under a name from its UTC start time (mode 0600, complete or not at
 * all), reads it back in full, records the run and audits `backup.created`, then applies
 * retention. A file that does not verify is deleted and the run recorded as failed. The caller
 * holds the backup lease.
 */
async function backupIntoFolder(deps: BackupRunDeps, ctx: ActorContext, run: StartedRun, dir: string, keep: RetentionPolicy): Promise<FolderBackupResult> {
  const name = backupFileName(run.startedAt);
  const file = path.join(dir, name);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const source = await snapshotSource(deps);
    let summary;
    try {
      summary = await writeFileAtomically(file, 'backup.not_configured', { overwrite: false }, (stream) => writeBackup({ ...deps, db: source.db }, stream));
    } finally {
      await source.close();
    }
    try {
      const verified = await verifyBackup(file, { kek: deps.keyring.kek });
      if (verified.sha256 !== summary.sha256 || verified.contentSha256 !== summary.contentSha256) throw new AppError('backup.invalid', 'The backup just written does not read back as it was written; it was deleted.');
    } catch (error) {
      fs.rmSync(file, { force: true });
      throw error;
    }
    const finishedAt = deps.clock.now().toISOString();
    await inTransaction(deps, async (tx) => {
      await updateBackupRun(tx.db, run.id, {
        status: 'ok',
        finished_at: finishedAt,
        file: name,
        bytes: summary.bytes,
        backup_id: summary.backupId,
        table_count: summary.tables.length,
        row_count: summary.rows,
        content_sha256: summary.contentSha256,
        verified_at: finishedAt,
      });
      await recordAudit(tx, ctx, {
        action: 'backup.created',
        details: { runId: run.id, kind: run.kind, file: name, backupId: summary.backupId, bytes: summary.bytes, sha256: summary.sha256, tables: summary.tables.length, rows: summary.rows, contentSha256: summary.contentSha256 },
      });
    });
  } catch (error) {
    return { run: await recordFailure(deps, ctx, run, 'backup.created', error), pruned: [], offsitePruned: [] };
  }
  const pruned = await applyRetention(deps, ctx, dir, keep);
  const offsitePruned = await copyOffsite(deps, ctx, run, dir, name, keep);
  return { run: await runView(deps.db, run.id), pruned, offsitePruned };
}

// ---- The copy in an S3-compatible store --------------------------------------------------------

/** What a failed copy records: a stable code, and the store's or network's code name when known. */
function offsiteFailureOf(error: unknown): { code: ErrorCode; reason: string | null } {
  if (error instanceof OffsiteError) return { code: error.code, reason: error.reason };
  return { code: failureOf(error).code, reason: null };
}

/**
 * Copies the backup just written and verified to the store (same name under the prefix), records
 * the result on its run and audits it (`backup.offsite_copied`, or `backup.offsite_failed` with the
 * codes only), then applies retention to the store. A failure is recorded, never thrown: the
 * backup in the folder stands either way. Answers the copies retention deleted.
 */
async function copyOffsite(deps: BackupRunDeps, ctx: ActorContext, run: StartedRun, dir: string, name: string, keep: RetentionPolicy): Promise<string[]> {
  const store = deps.config.backup.offsite;
  if (!store) return [];
  try {
    const copied = await putBackupObject(store, name, path.join(dir, name));
    await inTransaction(deps, async (tx) => {
      await updateBackupRun(tx.db, run.id, { offsite_status: 'ok', offsite_at: deps.clock.now().toISOString(), offsite_error: null, offsite_reason: null });
      await recordAudit(tx, ctx, { action: 'backup.offsite_copied', details: { runId: run.id, file: name, bytes: copied.bytes, sha256: copied.sha256 } });
    });
  } catch (error) {
    const failure = offsiteFailureOf(error);
    await inTransaction(deps, async (tx) => {
      await updateBackupRun(tx.db, run.id, { offsite_status: 'failed', offsite_at: deps.clock.now().toISOString(), offsite_error: failure.code, offsite_reason: failure.reason });
      await recordAudit(tx, ctx, { action: 'backup.offsite_failed', outcome: 'failure', details: { runId: run.id, file: name, stage: 'copy', errorCode: failure.code, reason: failure.reason } });
    });
    return [];
  }
  try {
    return await applyOffsiteRetention(deps, ctx, store, keep, name);
  } catch (error) {
    // Retention is tried again after the next copy; the copy itself stands.
    const failure = offsiteFailureOf(error);
    await recordAudit(deps, ctx, { action: 'backup.offsite_failed', outcome: 'failure', details: { runId: run.id, file: name, stage: 'retention', errorCode: failure.code, reason: failure.reason } });
    return [];
  }
}

/**
 * The folder's retention over the store: the objects directly under the prefix that carry
 * Rampart's backup names (any other object is never touched) are planned like files, and the
 * ones no rule keeps are deleted. `newest` (the copy just made) and the newest copy a run recorded
 * as good are kept whatever the plan says, so a stray object with a later name cannot push them out.
 * Deletions are audited (`backup.offsite_pruned`, names only).
 */
export async function applyOffsiteRetention(deps: BackupRunDeps, ctx: ActorContext, store: OffsiteStore, keep: RetentionPolicy, newest: string): Promise<string[]> {
  const objects = (await listBackupObjects(store)).filter((o) => backupFileTime(o.name) !== null);
  const plan = planRetention(
    objects.map((o) => ({ name: o.name, at: backupFileTime(o.name)! })),
    keep,
  );
  const lastGood = (await latestOffsiteRun(deps.db, 'ok'))?.file;
  const removed: string[] = [];
  let failed: unknown = null;
  for (const name of plan.remove) {
    if (name === newest || name === lastGood) continue;
    try {
      await deleteBackupObject(store, name);
      removed.push(name);
    } catch (error) {
      // Left for the next run; it stays a candidate.
      failed ??= error;
    }
  }
  if (removed.length > 0) {
    await inTransaction(deps, async (tx) => {
      await markOffsitePruned(tx.db, removed, deps.clock.now().toISOString());
      await recordAudit(tx, ctx, { action: 'backup.offsite_pruned', details: { objects: removed, kept: objects.length - removed.length, retention: { ...keep } } });
    });
  }
  if (failed) throw failed;
  return removed;
}

/**
 * Grandfather-father-son retention over the good backups in `dir` that runs recorded (files of
 * any other name, or that no run wrote, are never touched). Files go first, then the runs are
 * marked pruned and `backup.pruned` audited with the file names.
 */
export async function applyRetention(deps: BackupRunDeps, ctx: ActorContext, dir: string, keep: RetentionPolicy): Promise<string[]> {
  const runs = (await keptBackupRuns(deps.db)).filter((r) => backupFileTime(r.file!) !== null && fs.existsSync(path.join(dir, r.file!)));
  const plan = planRetention(
    runs.map((r) => ({ name: r.file!, at: backupFileTime(r.file!)! })),
    keep,
  );
  const removed: string[] = [];
  for (const name of plan.remove) {
    try {
      fs.rmSync(path.join(dir, name));
      removed.push(name);
    } catch {
      // Left for the next run; it stays a candidate.
    }
  }
  const now = deps.clock.now().toISOString();
  await inTransaction(deps, async (tx) => {
    for (const r of runs) {
      if (removed.includes(r.file!)) await updateBackupRun(tx.db, r.id, { pruned_at: now, tier: null });
      else if (plan.keep.get(r.file!) !== undefined && plan.keep.get(r.file!) !== r.tier) await updateBackupRun(tx.db, r.id, { tier: plan.keep.get(r.file!)! });
    }
    if (removed.length > 0) await recordAudit(tx, ctx, { action: 'backup.pruned', details: { files: removed, kept: plan.keep.size, retention: { ...keep } } });
  });
  return removed;
}

// ---- Drills ------------------------------------------------------------------------------------

/** The newest backup file in `dir` by the time in its name; null when there is none. */
export function latestBackupFile(dir: string): string | null {
  if (!fs.existsSync(dir)) return null;
  const names = fs.readdirSync(dir).filter((name) => backupFileTime(name) !== null).sort();
  return names.length > 0 ? path.join(dir, names.at(-1)!) : null;
}

async function drillRun(deps: BackupRunDeps, ctx: ActorContext, run: StartedRun, file: string, target: DrillTarget): Promise<BackupRunView> {
  let outcome;
  try {
    outcome = await drillBackupFile(deps, ctx, file, target);
  } catch (error) {
    return recordFailure(deps, ctx, run, 'backup.drill', error);
  }
  const finishedAt = deps.clock.now().toISOString();
  await inTransaction(deps, async (tx) => {
    await updateBackupRun(tx.db, run.id, {
      status: outcome.matched ? 'ok' : 'failed',
      finished_at: finishedAt,
      backup_id: outcome.backupId,
      table_count: outcome.tables,
      row_count: outcome.rows,
      content_sha256: outcome.contentSha256,
      verified_at: finishedAt,
      drill_matched: outcome.matched ? 1 : 0,
      drill_differs: JSON.stringify(outcome.differingTables),
      ...(outcome.matched
        ? {}
        : { error_code: 'backup.drill_mismatch', error_message: `The restored data differs from the backup's manifest in ${outcome.differingTables.length} table(s): ${outcome.differingTables.slice(0, 20).join(', ')}.` }),
    });
    await recordAudit(tx, ctx, {
      action: 'backup.drill',
      outcome: outcome.matched ? 'success' : 'failure',
      details: { runId: run.id, file: path.basename(file), backupId: outcome.backupId, backupCreatedAt: outcome.createdAt, target: outcome.targetDialect, matched: outcome.matched, differingTables: outcome.differingTables, rows: outcome.rows },
    });
  });
  return runView(deps.db, run.id);
}

// ---- What the command line and the scheduler call ----------------------------------------------

/** `rampart backup run`: a backup into `dir` now, verified, recorded and followed by retention. */
export async function runFolderBackup(deps: BackupRunDeps, ctx: ActorContext, options: { dir: string; keep?: RetentionPolicy; kind?: 'manual' | 'scheduled' }): Promise<FolderBackupResult> {
  const lease = await requireBackupLease(deps);
  try {
    const run = await startRun(deps, ctx, options.kind ?? 'manual', null);
    return await backupIntoFolder(deps, ctx, run, options.dir, options.keep ?? deps.config.backup.keep);
  } finally {
    await lease.release();
  }
}

/**
 * `rampart backup drill`: restores `file` (or the newest backup in the folder) into a scratch
 * database and compares. With `fromStore`, or when the folder holds no backup and a store is set
 * up, the newest copy in the store is downloaded to a temporary file first (removed afterwards).
 */
export async function runDrill(deps: BackupRunDeps, ctx: ActorContext, options: { file?: string; target?: DrillTarget; fromStore?: boolean }): Promise<BackupRunView> {
  const store = deps.config.backup.offsite;
  if (options.fromStore && options.file !== undefined) throw new AppError('request.invalid', 'Drill either a file or the newest copy in the store, not both');
  const file = options.file ?? (deps.config.backup.dir && !options.fromStore ? latestBackupFile(deps.config.backup.dir) : null);
  if (options.fromStore || (!file && store)) return drillFromStore(deps, ctx, store, options.target ?? { dialect: 'sqlite' });
  if (!file) throw new AppError(deps.config.backup.dir ? 'backup.no_backup' : 'backup.not_configured', deps.config.backup.dir ? 'The backup folder holds no backup to drill yet' : 'Name a backup file, or set RAMPART_BACKUP_DIR');
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new AppError('backup.no_backup', 'That backup file does not exist');
  const lease = await requireBackupLease(deps);
  try {
    const run = await startRun(deps, ctx, 'drill', path.basename(file));
    return await drillRun(deps, ctx, run, file, options.target ?? { dialect: 'sqlite' });
  } finally {
    await lease.release();
  }
}

async function drillFromStore(deps: BackupRunDeps, ctx: ActorContext, store: OffsiteStore | undefined, target: DrillTarget): Promise<BackupRunView> {
  if (!store) throw new AppError('backup.not_configured', 'No S3-compatible store is set up (RAMPART_BACKUP_S3_URL)');
  const lease = await requireBackupLease(deps);
  try {
    const names = (await listBackupObjects(store)).map((o) => o.name).filter((name) => backupFileTime(name) !== null).sort();
    const newest = names.at(-1);
    if (!newest) throw new AppError('backup.no_backup', 'The store holds no backup to drill yet');
    const run = await startRun(deps, ctx, 'drill', newest);
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rampart-store-drill-'));
    try {
      const file = path.join(scratch, newest);
      try {
        await getBackupObject(store, newest, file);
      } catch (error) {
        return await recordFailure(deps, ctx, run, 'backup.drill', error);
      }
      return await drillRun(deps, ctx, run, file, target);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  } finally {
    await lease.release();
  }
}

export type ScheduledOutcome = 'off' | 'not_due' | 'busy' | 'ran';

/**
 * One look by the scheduler: when a slot has passed since the last scheduled backup started (or
 * none ever did), and no other process is at it, a backup into the folder, then a drill of it when
 * one is due. Due-ness is checked again once the lease is held, so two processes never both run
 * for one slot.
 */
export async function runScheduledBackup(deps: BackupRunDeps): Promise<{ outcome: ScheduledOutcome; backup?: FolderBackupResult; drill?: BackupRunView }> {
  const settings = deps.config.backup;
  if (!settings.dir) return { outcome: 'off' };
  const due = async () => isBackupDue(settings.schedule, deps.clock.now(), startOf(await lastScheduledAttempt(deps.db)));
  if (!(await due())) return { outcome: 'not_due' };
  const lease = await tryBackupLease(deps);
  if (!lease) return { outcome: 'busy' };
  try {
    if (!(await due())) return { outcome: 'not_due' };
    const run = await startRun(deps, BACKUP_JOB, 'scheduled', null);
    const backup = await backupIntoFolder(deps, BACKUP_JOB, run, settings.dir, settings.keep);
    if (backup.run.status !== 'ok' || !isDrillDue(settings.drill, deps.clock.now(), startOf(await latestBackupRun(deps.db, ['drill'])))) return { outcome: 'ran', backup };
    const drill = await drillRun(deps, BACKUP_JOB, await startRun(deps, BACKUP_JOB, 'drill', backup.run.file), path.join(settings.dir, backup.run.file!), { dialect: 'sqlite' });
    return { outcome: 'ran', backup, drill };
  } finally {
    await lease.release();
  }
}

function startOf(row: BackupRunRow | undefined): Date | null {
  return row ? new Date(row.started_at) : null;
}

// ---- What administrators see and start ---------------------------------------------------------

export interface BackupStatusView {
  configured: boolean;
  folder: string | null;
  schedule: string;
  nextRunAt: string | null;
  fresh: boolean;
  running: boolean;
  lastBackup: { at: string; bytes: number; verifiedAt: string | null; file: string | null } | null;
  lastDrill: { at: string; status: BackupRunStatus; matched: boolean | null } | null;
  retention: RetentionPolicy;
  drill: string;
  filesKept: number;
  /** The copies in the S3-compatible store (RAMPART_BACKUP_S3_URL). */
  offsite: {
    configured: boolean;
    /** When the newest good copy was made. */
    lastCopyAt: string | null;
    /** How the newest attempted copy went. */
    lastStatus: 'ok' | 'failed' | null;
    /** Its error code when it failed. */
    lastError: string | null;
    /** Whether the newest good copy is of a backup recent by the same rule as the folder's. */
    fresh: boolean;
  };
}

/** Whether backups are configured, fresh and restorable (backups.manage). */
export async function backupStatus(deps: BackupRunDeps, ctx: ActorContext): Promise<BackupStatusView> {
  await requirePermission(deps, ctx, 'backups.manage', 'Your roles do not allow you to manage backups');
  const settings = deps.config.backup;
  const now = deps.clock.now();
  const lastGood = await latestBackupRun(deps.db, ['scheduled', 'manual'], ['ok']);
  const lastScheduled = await lastScheduledAttempt(deps.db);
  const drills = await latestBackupRun(deps.db, ['drill'], ['ok', 'failed']);
  const dir = settings.dir;
  const filesKept = dir ? (await keptBackupRuns(deps.db)).filter((r) => fs.existsSync(path.join(dir, r.file!))).length : 0;
  const lastCopy = await latestOffsiteRun(deps.db, 'ok');
  const lastAttempt = await latestOffsiteRun(deps.db);
  return {
    configured: dir !== undefined,
    folder: dir ? path.basename(dir) : null,
    schedule: settings.schedule.text,
    nextRunAt: dir ? nextBackupAt(settings.schedule, now, startOf(lastScheduled)).toISOString() : null,
    fresh: isFresh(settings.schedule, now, startOf(lastGood)),
    running: await backupLeaseHeld(deps.db, now.toISOString()),
    lastBackup: lastGood ? { at: lastGood.started_at, bytes: Number(lastGood.bytes ?? 0), verifiedAt: lastGood.verified_at, file: lastGood.file } : null,
    lastDrill: drills ? { at: drills.started_at, status: drills.status as BackupRunStatus, matched: drills.drill_matched === null ? null : Number(drills.drill_matched) === 1 } : null,
    retention: { ...settings.keep },
    drill: settings.drill,
    filesKept,
    offsite: {
      configured: settings.offsite !== undefined,
      lastCopyAt: lastCopy?.offsite_at ?? null,
      lastStatus: lastAttempt ? (lastAttempt.offsite_status as 'ok' | 'failed') : null,
      lastError: lastAttempt?.offsite_status === 'failed' ? lastAttempt.offsite_error : null,
      fresh: settings.offsite !== undefined && isFresh(settings.schedule, now, startOf(lastCopy)),
    },
  };
}

export const DEFAULT_RUN_PAGE = 50;
export const MAX_RUN_PAGE = 200;
const CURSOR_KEY = 'backup_runs';

/** Backup runs and drills, newest first (backups.manage). */
export async function listBackupRuns(deps: BackupRunDeps, ctx: ActorContext, query: { limit?: string; cursor?: string }): Promise<{ items: BackupRunView[]; nextCursor: string | null }> {
  await requirePermission(deps, ctx, 'backups.manage', 'Your roles do not allow you to manage backups');
  const limit = query.limit === undefined || query.limit === '' ? DEFAULT_RUN_PAGE : Number(query.limit);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_RUN_PAGE) throw new AppError('request.invalid_filter', `limit must be 1 to ${MAX_RUN_PAGE}`, [{ field: 'limit', message: `must be 1 to ${MAX_RUN_PAGE}` }]);
  let after: { startedAt: string; id: string } | null = null;
  if (query.cursor !== undefined && query.cursor !== '') {
    const { value, id } = decodeCursor(query.cursor, CURSOR_KEY);
    if (typeof value !== 'string') throw new AppError('request.invalid_cursor', 'The cursor is not valid for this list; start again without it');
    after = { startedAt: value, id };
  }
  const rows = await selectBackupRunPage(deps.db, limit + 1, after);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { items: page.map(presentRun), nextCursor: rows.length > limit && last ? encodeCursor(CURSOR_KEY, last.started_at, last.id) : null };
}

/**
 * Starts a backup into the folder (with retention after it) or a drill of the newest backup there,
 * in the background, and answers its run at once (backups.manage and a recent second factor).
 * Refused while another is running: one at a time among every process.
 */
export async function startBackupRun(deps: BackupRunDeps, ctx: ActorContext, kind: 'backup' | 'drill'): Promise<BackupRunView> {
  await requirePermission(deps, ctx, 'backups.manage', 'Your roles do not allow you to manage backups');
  await requireStepUp(deps, ctx);
  const dir = deps.config.backup.dir;
  if (!dir) throw new AppError('backup.not_configured', 'Backups to a folder are not set up on this server (RAMPART_BACKUP_DIR)');
  const file = kind === 'drill' ? latestBackupFile(dir) : null;
  if (kind === 'drill' && !file) throw new AppError('backup.no_backup', 'The backup folder holds no backup to drill yet');
  const lease = await requireBackupLease(deps);
  let run: StartedRun;
  try {
    run = await startRun(deps, ctx, kind === 'drill' ? 'drill' : 'manual', file ? path.basename(file) : null);
  } catch (error) {
    await lease.release();
    throw error;
  }
  deps.background.run(kind === 'drill' ? 'backup drill' : 'backup', async () => {
    try {
      if (kind === 'drill') await drillRun(deps, ctx, run, file!, { dialect: 'sqlite' });
      else await backupIntoFolder(deps, ctx, run, dir, deps.config.backup.keep);
    } finally {
      await lease.release();
    }
  });
  return runView(deps.db, run.id);
}
