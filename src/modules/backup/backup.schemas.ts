import { Type, type TSchema } from 'typebox';
import { MAX_RUN_PAGE } from './backup-runs.service.js';

const Nullable = <T extends TSchema>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description });

export const BackupRunSchema = Type.Object(
  {
    id: Type.String({ description: 'Run id.' }),
    kind: Type.String({ enum: ['scheduled', 'manual', 'drill'], description: 'scheduled (the schedule), manual (started from the API or `rampart backup run`) or drill (a restore drill).' }),
    status: Type.String({ enum: ['running', 'ok', 'failed'], description: 'running, ok, or failed (see error; a drill whose restored data differs from the backup is failed with backup.drill_mismatch).' }),
    requestedBy: Nullable(Type.String(), 'The user who started it through the API; null for the schedule and the command line.'),
    startedAt: Type.String({ description: 'When it started (ISO 8601, UTC).' }),
    finishedAt: Nullable(Type.String(), 'When it finished; null while running.'),
    file: Nullable(Type.String(), 'The backup file name (never its folder): the file written, or the file drilled.'),
    bytes: Nullable(Type.Integer(), 'Size of the backup file.'),
    backupId: Nullable(Type.String(), 'The id inside the backup file.'),
    tables: Nullable(Type.Integer(), 'Tables in the backup.'),
    rows: Nullable(Type.Integer(), 'Rows in the backup, all tables together.'),
    contentSha256: Nullable(Type.String(), 'The canonical content hash of the data as backed up.'),
    verifiedAt: Nullable(Type.String(), 'When the file was read back in full and found whole.'),
    drill: Nullable(
      Type.Object(
        {
          matched: Type.Boolean({ description: 'Whether the restored data matched the backup table for table.' }),
          differingTables: Type.Array(Type.String(), { description: 'Tables whose restored content differs (empty when matched).' }),
        },
        { additionalProperties: false },
      ),
      'A finished drill\'s comparison; null for backups and for drills that could not restore.',
    ),
    error: Nullable(Type.Object({ code: Type.String({ description: 'A stable error code.' }), message: Type.String() }, { additionalProperties: false }), 'Why it failed.'),
    tier: Nullable(Type.String(), 'The retention rule that keeps this backup: daily, weekly, monthly or newest; null before retention ran, and once pruned.'),
    prunedAt: Nullable(Type.String(), 'When retention deleted the file.'),
    offsite: Nullable(
      Type.Object(
        {
          status: Type.String({ enum: ['ok', 'failed'], description: 'Whether the copy to the S3-compatible store was made and checked.' }),
          at: Nullable(Type.String(), 'When the copy was made, or failed.'),
          error: Nullable(Type.String(), 'A stable error code when it failed: backup.offsite_unreachable, backup.offsite_refused or backup.offsite_too_large.'),
          reason: Nullable(Type.String(), "The store's own error code name (AccessDenied, NoSuchBucket…) or the network's (ECONNREFUSED), when there was one."),
          prunedAt: Nullable(Type.String(), 'When retention deleted the copy from the store.'),
        },
        { additionalProperties: false },
      ),
      'The copy in the S3-compatible store (RAMPART_BACKUP_S3_URL); null when none was attempted: no store set up, a failed backup, a drill. A failed copy never fails the backup in the folder.',
    ),
  },
  { $id: 'BackupRun', additionalProperties: false },
);

export const BackupRunPageSchema = Type.Object(
  {
    items: Type.Array(BackupRunSchema),
    nextCursor: Nullable(Type.String(), 'Pass as cursor for the next page; null on the last page.'),
  },
  { additionalProperties: false },
);

export const BackupRunListQuery = Type.Object(
  {
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: `Page size, 1 to ${MAX_RUN_PAGE} (default 50).` })),
    cursor: Type.Optional(Type.String({ maxLength: 1024, description: 'The nextCursor of the previous page.' })),
  },
  { additionalProperties: false },
);

export const StartBackupRunBody = Type.Object(
  { kind: Type.String({ enum: ['backup', 'drill'], description: 'backup: a backup into the folder now, with retention after it; drill: a restore drill of the newest backup there.' }) },
  { additionalProperties: false },
);

export const BackupStatusSchema = Type.Object(
  {
    configured: Type.Boolean({ description: 'Whether scheduled backups to a folder are set up (RAMPART_BACKUP_DIR).' }),
    folder: Nullable(Type.String(), 'The backup folder\'s name (not its path); null when not configured.'),
    schedule: Type.String({ description: 'RAMPART_BACKUP_SCHEDULE: a daily UTC time (HH:MM) or an interval (6h).' }),
    nextRunAt: Nullable(Type.String(), 'When the next scheduled backup starts (now, when one is due); null when not configured.'),
    fresh: Type.Boolean({ description: 'Whether the newest good backup is recent: within 26 hours for a daily schedule, two intervals otherwise.' }),
    running: Type.Boolean({ description: 'Whether a backup or drill is running now.' }),
    lastBackup: Nullable(
      Type.Object(
        {
          at: Type.String({ description: 'When it was taken.' }),
          bytes: Type.Integer(),
          verifiedAt: Nullable(Type.String(), 'When it was read back and found whole.'),
          file: Nullable(Type.String(), 'Its file name.'),
        },
        { additionalProperties: false },
      ),
      'The newest good backup into the folder; null when there is none.',
    ),
    lastDrill: Nullable(
      Type.Object(
        {
          at: Type.String(),
          status: Type.String({ enum: ['ok', 'failed'] }),
          matched: Nullable(Type.Boolean(), 'Whether the restored data matched; null when the restore itself failed.'),
        },
        { additionalProperties: false },
      ),
      'The newest finished restore drill; null when none ran.',
    ),
    retention: Type.Object(
      {
        daily: Type.Integer({ description: 'Days (with a backup) whose newest backup is kept.' }),
        weekly: Type.Integer({ description: 'ISO weeks whose newest backup is kept.' }),
        monthly: Type.Integer({ description: 'Months whose newest backup is kept.' }),
      },
      { additionalProperties: false },
    ),
    drill: Type.String({ enum: ['daily', 'weekly', 'off'], description: 'How often a scheduled backup is followed by a restore drill.' }),
    filesKept: Type.Integer({ description: 'Good backups in the folder under retention.' }),
    offsite: Type.Object(
      {
        configured: Type.Boolean({ description: 'Whether each backup is copied to an S3-compatible store (RAMPART_BACKUP_S3_URL).' }),
        lastCopyAt: Nullable(Type.String(), 'When the newest good copy was made; null when none was.'),
        lastStatus: Nullable(Type.String({ enum: ['ok', 'failed'] }), 'How the newest attempted copy went; null when none was attempted.'),
        lastError: Nullable(Type.String(), 'The error code of the newest attempted copy when it failed.'),
        fresh: Type.Boolean({ description: 'Whether the newest good copy in the store is of a recent backup, by the same rule as the folder (false when no store is set up).' }),
      },
      { additionalProperties: false, description: 'The copies in the S3-compatible store.' },
    ),
  },
  { $id: 'BackupStatus', additionalProperties: false },
);
