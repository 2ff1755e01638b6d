import { runScheduledBackup, type BackupRunDeps } from './backup-runs.service.js';

export interface BackupSchedulerLog {
  warn(message: string): void;
}

/**
 * Takes the scheduled backups (RAMPART_BACKUP_DIR, RAMPART_BACKUP_SCHEDULE): looks every minute
 * whether a slot has passed since the last scheduled backup, so a server that was down over a slot
 * catches up once when it is back. Every server process runs one; the backup lease lets one of
 * them work at a time. Failures are recorded as runs; the log gets their code only.
 */
export class BackupScheduler {
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly deps: BackupRunDeps,
    private readonly log: BackupSchedulerLog,
    private readonly options: { pollMs?: number; firstLookMs?: number } = {},
  ) {}

  start(): void {
    if (!this.deps.config.backup.dir) return;
    this.schedule(this.options.firstLookMs ?? 5_000);
  }

  /** Stops looking; a backup under way is finished first, so no half-recorded run is left. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.current;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.current = this.look().finally(() => {
        this.current = null;
        this.schedule(this.options.pollMs ?? 60_000);
      });
    }, ms);
    this.timer.unref();
  }

  private async look(): Promise<void> {
    try {
      const result = await runScheduledBackup(this.deps);
      if (result.backup && result.backup.run.status !== 'ok') this.log.warn(`scheduled backup failed (${result.backup.run.error?.code ?? 'unknown'}); see rampart backup status`);
      const offsite = result.backup?.run.offsite;
      if (offsite?.status === 'failed') this.log.warn(`copying the scheduled backup to the store failed (${offsite.error ?? 'unknown'}${offsite.reason ? `, ${offsite.reason}` : ''}); the backup in the folder is good; see rampart backup status`);
      if (result.drill && result.drill.status !== 'ok') this.log.warn(`scheduled restore drill failed (${result.drill.error?.code ?? 'unknown'}); see rampart backup status`);
    } catch (error) {
      this.log.warn(`scheduled backup could not run (${(error as { code?: unknown })?.code ?? (error as Error)?.name ?? 'error'})`);
    }
  }
}
