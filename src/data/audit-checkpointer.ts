import fs from 'node:fs';
import { NoteError, openNote, parseCheckpoint } from '../audit/checkpoint.js';
import type { AuditSigningKey } from '../audit/signing-key-file.js';
import { ChainWalker, storedCheckpoints, storeCheckpoint, type SealedCheckpoint } from './audit-log.js';
import type { KeyDeps } from './keys.js';

/**
 * Signs checkpoints of the audit log as it grows: once `entries` entries are not yet covered by a
 * checkpoint, or once the oldest uncovered one has waited `seconds`. Each checkpoint is stored in
 * the database and sent to the configured sinks (a file, an HTTPS webhook, standard output), where
 * a rewrite of the database cannot reach it.
 *
 * The checkpointer verifies before it signs, incrementally: it keeps a ChainWalker and moves it over
 * the new entries only, so a signature never covers a broken chain and signing costs what was added
 * since the last one. Several server processes on one database each run one; whichever signs a
 * size first stores it, and all of them check every stored checkpoint as they walk past it.
 */
export interface CheckpointPolicy {
  readonly entries: number;
  readonly seconds: number;
  readonly file?: string | undefined;
  readonly url?: string | undefined;
  readonly stdout?: { write(line: string): unknown } | undefined;
  /** How often the log's head is looked at. */
  readonly pollMs?: number;
}

export interface CheckpointerLog {
  warn(message: string): void;
  error(message: string): void;
}

const WEBHOOK_TIMEOUT_MS = 5000;
const WEBHOOK_RETRY_MS = 10_000;

export class AuditCheckpointer {
  private walker: ChainWalker | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;
  /** When entries were first seen uncovered by a checkpoint (ms), or null when all are covered. */
  private uncoveredSince: number | null = null;
  private reportedBroken = false;
  private webhookBehind: SealedCheckpoint | null = null;
  private webhookRetryAt = 0;
  /** The largest tree this process signed. */
  private signedSize = 0;
  private reportedForeign = false;

  constructor(
    private readonly deps: KeyDeps,
    private readonly key: AuditSigningKey,
    private readonly policy: CheckpointPolicy,
    private readonly log: CheckpointerLog,
  ) {}

  start(): void {
    const every = this.policy.pollMs ?? 250;
    const loop = (): void => {
      if (this.stopped) return;
      this.running = this.tick()
        .catch((error: unknown) => this.log.error(`audit checkpoint failed: ${(error as Error).message}`))
        .finally(() => {
          this.running = null;
          if (!this.stopped) this.timer = setTimeout(loop, every).unref();
        });
    };
    this.timer = setTimeout(loop, 0).unref();
  }

  /** Stops; with `flush`, first signs whatever entries no checkpoint covers yet. */
  async stop(options: { flush?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    if (options.flush) await this.tick({ force: true }).catch((error: unknown) => this.log.error(`audit checkpoint failed: ${(error as Error).message}`));
  }

  /** Signs a checkpoint if one is due (with `force`, if any entry is uncovered); answers it, or null. */
  async tick(options: { force?: boolean } = {}): Promise<SealedCheckpoint | null> {
    const head = await this.deps.db.selectFrom('audit_head').select(['seq', 'entry_hash']).where('id', '=', 1).executeTakeFirstOrThrow();
    const size = Number(head.seq);
    const covered = Math.max(this.signedSize, await this.coveredByOthers(size));
    if (this.webhookBehind && Date.now() >= this.webhookRetryAt) await this.sendToWebhook(this.webhookBehind);
    if (size <= covered) {
      this.uncoveredSince = null;
      return null;
    }
    const now = this.deps.clock.now().getTime();
    this.uncoveredSince ??= now;
    if (!options.force && size - covered < this.policy.entries && now - this.uncoveredSince < this.policy.seconds * 1000) return null;

    this.walker ??= new ChainWalker(await storedCheckpoints(this.deps));
    await this.walker.advance(this.deps, size);
    // What the walk found must also be what the head records: an entry cut off the end, or the
    // last one rewritten, leaves no trace in the rows alone.
    const endsWrong = this.walker.size !== size || this.walker.verifier.lastHash !== head.entry_hash || !this.walker.verifier.lastRowHolds;
    const first = this.walker.problems[0] ?? (endsWrong ? { kind: 'truncated or modified', seq: size, detail: 'the newest entries are not the ones the head records' } : undefined);
    if (first) {
      if (!this.reportedBroken) this.log.error(`the audit log is broken (${first.kind}${first.seq === null ? '' : ` at entry ${first.seq}`}: ${first.detail}); no checkpoint is signed until it is looked into. Run rampart audit verify`);
      this.reportedBroken = true;
      return null;
    }
    const checkpoint = await storeCheckpoint(this.deps, this.key, this.walker.size, this.walker.verifier.tree.root().toString('hex'));
    this.signedSize = checkpoint.size;
    this.uncoveredSince = null;
    await this.deliver(checkpoint);
    return checkpoint;
  }

  /**
   * The newest checkpoint another process (or `rampart audit checkpoint`) stored, counted only when
   * its signature holds: a row slipped into the table must not stop the signing.
   */
  private async coveredByOthers(size: number): Promise<number> {
    const latest = await this.deps.db.selectFrom('audit_checkpoints').selectAll().where('tree_size', '<=', size).orderBy('tree_size', 'desc').limit(1).executeTakeFirst();
    if (!latest) return 0;
    try {
      const signed = parseCheckpoint(openNote(latest.note, this.key.verifierKey));
      if (signed.size === Number(latest.tree_size) && signed.rootHash.toString('hex') === latest.root_hash) return signed.size;
    } catch (error) {
      if (!(error instanceof NoteError)) throw error;
    }
    if (!this.reportedForeign) this.log.error(`a checkpoint at size ${Number(latest.tree_size)} is stored that the audit key did not sign; it is ignored. Run rampart audit verify`);
    this.reportedForeign = true;
    return 0;
  }

  private async deliver(checkpoint: SealedCheckpoint): Promise<void> {
    if (this.policy.file) {
      const handle = await fs.promises.open(this.policy.file, 'a', 0o600);
      try {
        await handle.appendFile(`${checkpoint.note}\n`);
        await handle.datasync();
      } finally {
        await handle.close();
      }
    }
    this.policy.stdout?.write(`${JSON.stringify({ auditCheckpoint: checkpoint })}\n`);
    if (this.policy.url) await this.sendToWebhook(checkpoint);
  }

  /** A webhook that fails is sent the newest checkpoint on a later tick; a newer one covers the older. */
  private async sendToWebhook(checkpoint: SealedCheckpoint): Promise<void> {
    try {
      const response = await fetch(this.policy.url!, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(checkpoint),
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      if (!response.ok) throw new Error(`it answered ${response.status}`);
      this.webhookBehind = null;
    } catch (error) {
      if (!this.webhookBehind) this.log.warn(`the audit checkpoint webhook did not take checkpoint ${checkpoint.size}: ${(error as Error).message}; trying again every ${WEBHOOK_RETRY_MS / 1000} s`);
      this.webhookBehind = checkpoint;
      this.webhookRetryAt = Date.now() + WEBHOOK_RETRY_MS;
    }
  }
}
