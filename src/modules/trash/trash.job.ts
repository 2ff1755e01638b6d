import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { ActorContext } from '../../shared/principal.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { noteJobRun, releaseJobLease, takeJobLease } from './trash.repo.js';
import { purgeExpiredTrash, RETENTION_JOB, type ExpiredPurge } from './trash.service.js';
import { dropClosedBulkRequests, pruneOldBulkTallies } from '../bulk/bulk.service.js';

/**
 * The trash's retention: every so often, the records that went to the trash more than
 * `RAMPART_TRASH_RETENTION_DAYS` ago are purged for good, in batches, as the system (audited
 * `record.purge` with `reason: 'retention'`). Among several server processes on one database, the
 * one holding the lease runs it; another takes over once the lease runs out. The time is the
 * server's clock, so a rehearsal clock moves the retention too. Each run also drops the stored
 * mass changes whose approval closed (modules/bulk).
 */
export interface RetentionOptions {
  /** Names this process in the lease; random per process by default. */
  holder?: string;
  /** How often a run starts. */
  everyMs?: number;
  /** Records per transaction. */
  batchSize?: number;
  leaseSeconds?: number;
  log?: { warn(message: string): void };
}

export interface RetentionRun {
  /** Whether this process held the lease and ran. */
  held: boolean;
  result: ExpiredPurge | null;
  /** Stored mass changes dropped because their approval was used, denied, cancelled or lapsed. */
  droppedBulkChanges: number;
}

/** The job's own audit entries: a system principal, never taken for a person's action. */
const RETENTION_ACTOR: ActorContext = { principal: { kind: 'system', job: RETENTION_JOB }, channel: 'job', requestId: null, sourceAddress: null, userAgent: null };

export class TrashRetention {
  readonly holder: string;
  private readonly everyMs: number;
  private readonly batchSize: number;
  private readonly leaseMs: number;
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<unknown> | null = null;
  private stopped = true;
  /** Set by stop(): a run in flight ends after its batch. */
  private stopping = false;

  constructor(
    private readonly deps: AuthDeps,
    private readonly options: RetentionOptions = {},
  ) {
    this.holder = options.holder ?? `${os.hostname().slice(0, 60)}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.everyMs = options.everyMs ?? 3_600_000;
    this.batchSize = options.batchSize ?? 200;
    this.leaseMs = (options.leaseSeconds ?? 900) * 1000;
  }

  /** Runs soon after start, then every `everyMs`, until stopped. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.stopping = false;
    this.schedule(5_000);
  }

  /** Stops after the batch in flight and gives the lease up for another process. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.current?.catch(() => undefined);
    await releaseJobLease(this.deps.db, RETENTION_JOB, this.holder).catch(() => undefined);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const work = this.runOnce().then(
        () => this.schedule(this.everyMs),
        (error: unknown) => {
          // The error of a query may quote values; only its kind is logged.
          this.options.log?.warn(`trash retention failed (${(error as { code?: unknown })?.code ?? (error as Error)?.name ?? 'error'})`);
          this.schedule(Math.min(this.everyMs, 60_000));
        },
      );
      this.current = work.finally(() => {
        this.current = null;
      });
    }, delay);
    this.timer.unref?.();
  }

  /** One run: takes or renews the lease, then purges what outstayed the retention, batch by batch. */
  async runOnce(): Promise<RetentionRun> {
    if (!(await this.holdLease())) return { held: false, result: null, droppedBulkChanges: 0 };
    const result = await purgeExpiredTrash(this.deps, RETENTION_ACTOR, {
      olderThanDays: this.deps.config.trashRetentionDays,
      reason: 'retention',
      batchSize: this.batchSize,
      // Between batches the lease is renewed; a process that lost it, or is stopping, stops.
      keepGoing: async () => !this.stopping && (await this.holdLease()),
    });
    // Mass changes kept for their approval carry sealed values; none outlives its approval for long.
    const droppedBulkChanges = result.interrupted ? 0 : await dropClosedBulkRequests(this.deps);
    if (!result.interrupted) await pruneOldBulkTallies(this.deps);
    if (!result.interrupted) await noteJobRun(this.deps.db, RETENTION_JOB, this.holder, this.deps.clock.now().toISOString());
    return { held: true, result, droppedBulkChanges };
  }

  private async holdLease(): Promise<boolean> {
    const now = this.deps.clock.now().getTime();
    return takeJobLease(this.deps.db, RETENTION_JOB, this.holder, new Date(now).toISOString(), new Date(now + this.leaseMs).toISOString());
  }
}
