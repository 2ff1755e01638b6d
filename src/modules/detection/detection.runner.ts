import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { inTransaction } from '../../data/record-store.js';
import { recordAudit } from '../../data/audit-trail.js';
import type { ActorContext } from '../../shared/principal.js';
import { newId } from '../../shared/ids.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { DetectionEngine, type Directory, type DirectoryRole, type DirectoryUser, type Finding } from '../../detection/engine.js';
import { eventFromAudit, eventFromRequest, type DetectionEvent } from '../../detection/events.js';
import { profileFromJson } from '../../detection/profile.js';
import type { RaisedAlert } from '../../detection/model.js';
import { respondToAlert } from './responses.js';
import { blockKeyOf, forgetContainment, isAddressBlocked } from './containment.service.js';
import { pruneRequestEvents } from '../../http/request-events.js';
import { activeRules, loadTolerances } from './detection.service.js';
import {
  advanceProgress,
  auditHead,
  auditTimeOf,
  ensureProgress,
  firstAuditSeqSince,
  foldIntoAlert,
  insertAlert,
  latestRequestEventId,
  releaseLease,
  selectAlertBlocks,
  selectAuditAfter,
  selectAuditHistory,
  selectBaselines,
  selectDirectory,
  selectOpenAlert,
  selectProgress,
  selectRequestEventHistory,
  selectRequestEventsAfter,
  selectLastSeen,
  takeLease,
  upsertBaselines,
  type AlertRow,
  type BaselineRow,
  type DirectoryRows,
} from './detection.repo.js';

/**
 * Runs the detection engine against the database, so that it sees what every server process
 * writes: it holds a lease (one engine among several processes; the others wait to take over),
 * reads the audit log and the request events from where it left off every quarter second, feeds
 * the engine, and stores what it finds. New alerts, the cursor and the responses taken commit in
 * one transaction: an alert is never stored without its responses, nor read twice.
 *
 * On its first start the engine warms up on the recent past of both streams without raising
 * alerts; after a restart, or when another process takes over, it warms up on the history just
 * before its cursor (again silently), so its windows are whole, and continues. What it learned
 * of users is kept in detection_baselines, written every minute and when it stops. The process
 * that runs the engine also deletes request events past their keeping (thirty days).
 */

export interface RunnerOptions {
  /** Names this process in the lease; random per process by default. */
  holder?: string;
  pollMs?: number;
  /** Rows read from each stream per batch. */
  batchSize?: number;
  leaseSeconds?: number;
  /** How often what was learned is written to detection_baselines. */
  persistSeconds?: number;
  /** How far back a start warms up, at most, and on at most how many audit entries. */
  warmupHours?: number;
  warmupEntries?: number;
  /** How often rules, tolerances, users and decoys are read again even when nothing says they changed. */
  reloadSeconds?: number;
  /** How often, at most, request events past their keeping are deleted, and how many days they are kept. */
  housekeepingMinutes?: number;
  requestEventDays?: number;
  log?: { warn(message: string): void };
}

export interface DetectionRun {
  /** Whether this process holds the lease (only the holder evaluates). */
  held: boolean;
  events: number;
  findings: number;
  alertsRaised: number;
  alertsFolded: number;
  /** Whether both streams were read to their end. */
  caughtUp: boolean;
}

interface Cursor {
  auditSeq: number;
  requestEventId: string;
}

/** The engine's own audit entries: a system principal, so its actions are never taken for a person's. */
const ENGINE_ACTOR: ActorContext = { principal: { kind: 'system', job: 'detection' }, channel: 'job', requestId: null, sourceAddress: null, userAgent: null };

/**
 * Request events are ordered by their UUIDv7 id, but two processes can commit out of id order.
 * Each read reaches this far back before the cursor and skips the ids already seen, so a row that
 * committed late is still read once.
 */
const REQUEST_OVERLAP_MS = 3000;
/** Evidence kept on one alert: the first and the newest references. */
const EVIDENCE_KEPT = 50;
const PROFILE_METRIC = 'profile';
const PEERS_METRIC = 'peers';

class LeaseLost extends Error {}

export class DetectionRunner {
  readonly holder: string;
  private readonly pollMs: number;
  private readonly batchSize: number;
  private readonly leaseMs: number;
  private readonly persistMs: number;
  private readonly warmupMs: number;
  private readonly warmupEntries: number;
  private readonly reloadMs: number;
  private readonly housekeepingMs: number;
  private readonly requestEventsKeptMs: number;
  private lastHousekeeping = Number.NEGATIVE_INFINITY;
  private engine: DetectionEngine | null = null;
  private cursor: Cursor = { auditSeq: 0, requestEventId: '' };
  /** Request event ids read within the overlap, with their times. */
  private recentRequests = new Map<string, number>();
  private overlapReady = false;
  private leaseUntil = 0;
  private progressMade = false;
  private lastPersist = 0;
  private lastReload = 0;
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<unknown> | null = null;
  private stopped = true;

  constructor(
    private readonly deps: AuthDeps,
    private readonly options: RunnerOptions = {},
  ) {
    this.holder = options.holder ?? `${os.hostname().slice(0, 60)}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.pollMs = options.pollMs ?? 250;
    this.batchSize = options.batchSize ?? 5000;
    this.leaseMs = (options.leaseSeconds ?? 15) * 1000;
    this.persistMs = (options.persistSeconds ?? 60) * 1000;
    this.warmupMs = (options.warmupHours ?? 48) * 3_600_000;
    this.warmupEntries = options.warmupEntries ?? 1_000_000;
    this.reloadMs = (options.reloadSeconds ?? 10) * 1000;
    this.housekeepingMs = (options.housekeepingMinutes ?? 5) * 60_000;
    this.requestEventsKeptMs = (options.requestEventDays ?? 30) * 86_400_000;
  }

  /** Polls until stopped. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops polling, stores what was learned and gives the lease up for another process to take at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.current?.catch(() => undefined);
    if (this.engine) {
      // Only the holder's learning is current; a process that lost the lease keeps quiet.
      const progress = await selectProgress(this.deps.db).catch(() => undefined);
      if (progress?.lease_holder === this.holder) await this.persist().catch(() => undefined);
      this.engine = null;
    }
    await releaseLease(this.deps.db, this.holder).catch(() => undefined);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const work = this.runOnce().then(
        // A process that does not hold the lease only looks again a few times per lease period.
        (run) => this.schedule(!run.held ? Math.max(this.pollMs, this.leaseMs / 3) : run.caughtUp ? this.pollMs : 0),
        (error: unknown) => {
          // The error of a query may quote values; only its kind is logged.
          this.options.log?.warn(`detection run failed (${(error as { code?: unknown })?.code ?? (error as Error)?.name ?? 'error'})`);
          this.engine = null;
          this.schedule(Math.max(this.pollMs, 2000));
        },
      );
      this.current = work.finally(() => {
        this.current = null;
      });
    }, delay);
    this.timer.unref?.();
  }

  /** Reads and evaluates until both streams are read to their end (or `maxBatches`). */
  async runUntilCaughtUp(maxBatches = 10_000): Promise<DetectionRun> {
    const total: DetectionRun = { held: false, events: 0, findings: 0, alertsRaised: 0, alertsFolded: 0, caughtUp: false };
    for (let i = 0; i < maxBatches; i += 1) {
      const run = await this.runOnce();
      total.held = run.held;
      total.events += run.events;
      total.findings += run.findings;
      total.alertsRaised += run.alertsRaised;
      total.alertsFolded += run.alertsFolded;
      total.caughtUp = run.caughtUp;
      if (!run.held || run.caughtUp) break;
    }
    return total;
  }

  /** One batch: takes or renews the lease, reads, evaluates, stores. */
  async runOnce(): Promise<DetectionRun> {
    const idle: DetectionRun = { held: false, events: 0, findings: 0, alertsRaised: 0, alertsFolded: 0, caughtUp: true };
    if (!(await this.holdLease())) {
      // Another process evaluates; what this one knew goes stale and is read afresh if it takes over.
      this.engine = null;
      return idle;
    }
    if (!this.engine) await this.initialise();
    const engine = this.engine!;
    const { events, next, caughtUp } = await this.readBatch();
    if (events.length === 0 && next.auditSeq === this.cursor.auditSeq && next.requestEventId === this.cursor.requestEventId) {
      await this.maybePersist();
      if (caughtUp) await this.housekeeping();
      return { ...idle, held: true, caughtUp };
    }
    await this.reloadFor(events);
    const findings = engine.observeAll(events);
    let stored: { raised: number; folded: number };
    try {
      stored = await this.store(findings, next);
    } catch (error) {
      // The engine has seen events whose results were not stored: start again from the stored cursor.
      this.engine = null;
      if (error instanceof LeaseLost) return idle;
      throw error;
    }
    this.cursor = next;
    await this.maybePersist();
    if (caughtUp) await this.housekeeping();
    return { held: true, events: events.length, findings: findings.length, alertsRaised: stored.raised, alertsFolded: stored.folded, caughtUp };
  }

  // ---- Lease -----------------------------------------------------------------------------------

  private async holdLease(): Promise<boolean> {
    const now = this.deps.clock.now().getTime();
    if (this.engine && this.leaseUntil - now > this.leaseMs / 2) return true;
    const nowIso = new Date(now).toISOString();
    if (!this.progressMade) {
      await ensureProgress(this.deps.db, nowIso);
      this.progressMade = true;
    }
    // Reading first keeps the processes that wait from writing four times a second.
    const current = await selectProgress(this.deps.db);
    if (current?.lease_holder && current.lease_holder !== this.holder && current.lease_until && current.lease_until > nowIso) {
      this.leaseUntil = 0;
      return false;
    }
    const until = now + this.leaseMs;
    const held = await takeLease(this.deps.db, this.holder, nowIso, new Date(until).toISOString());
    this.leaseUntil = held ? until : 0;
    return held;
  }

  // ---- Start and warm-up -----------------------------------------------------------------------

  private async initialise(): Promise<void> {
    const engine = new DetectionEngine({ rules: await activeRules(this.deps.db) });
    const directoryRows = await selectDirectory(this.deps.db);
    engine.setDirectory(directoryOf(directoryRows));
    engine.setTolerances(await loadTolerances(this.deps.db));
    const baselines = await selectBaselines(this.deps.db, PROFILE_METRIC);
    engine.loadProfiles(baselines.filter((b) => b.subject_kind === 'user').map((b) => [b.subject_id, profileFromJson(b.data)]));

    const progress = await selectProgress(this.deps.db);
    let cursor: Cursor = { auditSeq: Number(progress?.audit_seq ?? 0), requestEventId: progress?.request_event_id ?? '' };
    const fresh = cursor.auditSeq === 0 && cursor.requestEventId === '';
    if (fresh) {
      // First start: everything so far predates the engine. Learn from the recent part, raise nothing.
      const head = await auditHead(this.deps.db);
      // Never empty once started, so a restart can tell "started on an empty log" from "never started".
      cursor = { auditSeq: head.seq, requestEventId: (await latestRequestEventId(this.deps.db)) || idFloor(0) };
    }
    const requestTime = cursor.requestEventId ? timeOfId(cursor.requestEventId) : 0;
    const until = (await auditTimeOf(this.deps.db, cursor.auditSeq)) ?? (requestTime > 0 ? new Date(requestTime).toISOString() : null);
    if (until) {
      await this.warmUp(engine, cursor, new Date(new Date(until).getTime() - this.warmupMs).toISOString());
      const untilMs = new Date(until).getTime();
      const seen = [...directoryRows.users.map((u) => ({ user_id: u.id, at: u.last_login_at ?? u.created_at })), ...(await selectLastSeen(this.deps.db))];
      for (const { user_id, at: last } of seen) {
        const at = last === null ? Number.NaN : new Date(last).getTime();
        // What happened after the cursor is for the engine to read yet; it must not count as known.
        if (Number.isFinite(at) && at <= untilMs) engine.seedLastActive(user_id, at);
      }
    }
    if (fresh) {
      const now = this.deps.clock.now().toISOString();
      if (!(await advanceProgress(this.deps.db, this.holder, cursor, new Date(this.leaseUntil).toISOString(), now))) throw new LeaseLost();
    }
    this.cursor = cursor;
    this.recentRequests = new Map();
    this.overlapReady = false;
    this.engine = engine;
    this.lastPersist = performance.now();
    this.lastReload = performance.now();
  }

  /** Feeds the engine, silently, the history in [from, cursor] of both streams, merged in time order. */
  private async warmUp(engine: DetectionEngine, cursor: Cursor, from: string): Promise<void> {
    const db = this.deps.db;
    let auditAfter = (await firstAuditSeqSince(db, from, cursor.auditSeq, this.warmupEntries)) - 1;
    // Request event ids follow the real clock, their times the server's (which may be simulated): read by time.
    let requestAfter = '';
    let audits: DetectionEvent[] = [];
    let requests: DetectionEvent[] = [];
    let ai = 0;
    let ri = 0;
    let auditDone = cursor.auditSeq <= 0;
    let requestDone = cursor.requestEventId === '';
    let chunk: DetectionEvent[] = [];
    for (;;) {
      if (ai >= audits.length && !auditDone) {
        const rows = await selectAuditHistory(db, auditAfter, cursor.auditSeq, this.batchSize);
        audits = rows.map(eventFromAudit);
        ai = 0;
        if (rows.length > 0) auditAfter = Number(rows.at(-1)!.seq);
        if (rows.length < this.batchSize) auditDone = true;
      }
      if (ri >= requests.length && !requestDone) {
        const rows = await selectRequestEventHistory(db, from, requestAfter, cursor.requestEventId, this.batchSize);
        requests = rows.map(eventFromRequest);
        ri = 0;
        if (rows.length > 0) requestAfter = rows.at(-1)!.id;
        if (rows.length < this.batchSize) requestDone = true;
      }
      const a = ai < audits.length ? audits[ai] : undefined;
      const r = ri < requests.length ? requests[ri] : undefined;
      if (!a && !r) {
        if (auditDone && requestDone) break;
        continue;
      }
      if (a && (!r || a.at <= r.at)) {
        chunk.push(a);
        ai += 1;
      } else {
        chunk.push(r!);
        ri += 1;
      }
      if (chunk.length >= this.batchSize) {
        engine.observeAll(chunk, { silent: true });
        chunk = [];
      }
    }
    if (chunk.length > 0) engine.observeAll(chunk, { silent: true });
  }

  // ---- Reading ---------------------------------------------------------------------------------

  private async readBatch(): Promise<{ events: DetectionEvent[]; next: Cursor; caughtUp: boolean }> {
    const db = this.deps.db;
    const cursor = this.cursor;
    const lower = this.overlapReady && cursor.requestEventId !== '' ? minId(cursor.requestEventId, idFloor(timeOfId(cursor.requestEventId) - REQUEST_OVERLAP_MS)) : cursor.requestEventId;
    const auditRows = await selectAuditAfter(db, cursor.auditSeq, this.batchSize);
    let requestRows = await selectRequestEventsAfter(db, lower, this.batchSize);
    // A full page of rows already read (a burst within the overlap) would be read again forever.
    if (requestRows.length === this.batchSize && requestRows.every((r) => this.recentRequests.has(r.id))) requestRows = await selectRequestEventsAfter(db, cursor.requestEventId, this.batchSize);
    this.overlapReady = true;
    const audits = auditRows.map(eventFromAudit);
    const requests: DetectionEvent[] = [];
    let requestEventId = cursor.requestEventId;
    for (const row of requestRows) {
      if (this.recentRequests.has(row.id)) continue;
      requests.push(eventFromRequest(row));
      this.recentRequests.set(row.id, timeOfId(row.id));
      if (row.id > requestEventId) requestEventId = row.id;
    }
    if (requestEventId !== '') {
      const horizon = timeOfId(requestEventId) - 2 * REQUEST_OVERLAP_MS;
      for (const [id, at] of this.recentRequests) if (at < horizon) this.recentRequests.delete(id);
    }
    const next = { auditSeq: auditRows.length > 0 ? Number(auditRows.at(-1)!.seq) : cursor.auditSeq, requestEventId };
    return { events: mergeByTime(audits, requests), next, caughtUp: auditRows.length < this.batchSize && requestRows.length < this.batchSize };
  }

  /** Rules, tolerances, users and decoys are read again when the batch says they changed, and every few seconds. */
  private async reloadFor(events: readonly DetectionEvent[]): Promise<void> {
    const engine = this.engine!;
    const stale = performance.now() - this.lastReload > this.reloadMs;
    let directory = stale;
    let rules = stale;
    let tolerances = stale;
    for (const e of events) {
      const action = e.action;
      if (action.startsWith('user.') || action.startsWith('role.') || action.startsWith('detection.honeytoken')) directory = true;
      else if (action === 'detection.rule_updated') rules = true;
      else if (action === 'alert.false_positive') tolerances = true;
    }
    if (rules) engine.configure(await activeRules(this.deps.db));
    if (tolerances) engine.setTolerances(await loadTolerances(this.deps.db));
    if (directory) engine.setDirectory(directoryOf(await selectDirectory(this.deps.db)));
    if (stale) this.lastReload = performance.now();
  }

  // ---- Storing ---------------------------------------------------------------------------------

  /**
   * In one transaction: moves the cursor (only while the lease is still ours), stores new alerts
   * and folds repeats into open ones (blocking the address again when the alert's block ran out
   * and the attack goes on), records each new alert in the audit log and takes its responses.
   */
  private async store(findings: readonly Finding[], next: Cursor): Promise<{ raised: number; folded: number }> {
    const groups = new Map<string, Finding[]>();
    for (const f of findings) {
      const list = groups.get(f.subjectKey);
      if (list) list.push(f);
      else groups.set(f.subjectKey, [f]);
    }
    let raised = 0;
    let folded = 0;
    const now = this.deps.clock.now();
    const leaseUntil = new Date(Math.max(this.leaseUntil, now.getTime() + this.leaseMs)).toISOString();
    const write = async (deps: AuthDeps): Promise<void> => {
      if (!(await advanceProgress(deps.db, this.holder, next, leaseUntil, now.toISOString()))) throw new LeaseLost();
      for (const [subjectKey, list] of groups) {
        const first = list[0]!;
        const last = list.at(-1)!;
        const open = await selectOpenAlert(deps.db, subjectKey);
        if (open) {
          await foldIntoAlert(deps.db, open.id, {
            event_count: Number(open.event_count) + list.length,
            last_seen_at: laterOf(open.last_seen_at, new Date(last.at).toISOString()),
            evidence: JSON.stringify(mergeEvidence(parseEvidence(open.evidence), list)),
            updated_at: now.toISOString(),
          });
          folded += 1;
          if (await blockRanOut(deps, open, list)) {
            // The attack goes on after its block ran out: the block is taken again, as a new response of the same alert.
            const alert: RaisedAlert = { id: open.id, rule: open.rule, severity: open.severity, summary: open.summary, actorKind: open.actor_kind, actorId: open.actor_id, sessionId: null, sourceAddress: open.source_address, raisedAt: new Date(open.created_at) };
            await respondToAlert(deps, alert, { automatic: ['block_address'], suggested: [] });
          }
          continue;
        }
        const id = newId(now.getTime());
        const row: AlertRow = {
          id,
          rule: first.rule,
          severity: first.severity,
          status: 'open',
          summary: last.summary.slice(0, 500),
          subject_key: subjectKey,
          actor_kind: first.actorKind,
          actor_id: first.actorId,
          source_address: first.sourceAddress,
          evidence: JSON.stringify(mergeEvidence({ auditSeqs: [], requestEventIds: [], figures: {} }, list)),
          event_count: list.length,
          first_seen_at: new Date(first.at).toISOString(),
          last_seen_at: new Date(last.at).toISOString(),
          created_at: now.toISOString(),
          updated_at: now.toISOString(),
          handled_by: null,
          handled_at: null,
          note: null,
          incident_id: null,
          version: 1,
        };
        await insertAlert(deps.db, row);
        await recordAudit(deps, ENGINE_ACTOR, {
          action: 'alert.raised',
          recordType: 'alerts',
          recordIds: [id],
          details: { rule: first.rule, severity: first.severity, events: list.length, ...(first.actorId ? { actorId: first.actorId } : {}) },
        });
        const alert: RaisedAlert = {
          id,
          rule: first.rule,
          severity: first.severity,
          summary: row.summary,
          actorKind: first.actorKind,
          actorId: first.actorId,
          sessionId: sessionOf(list),
          sourceAddress: first.sourceAddress,
          raisedAt: new Date(first.at),
        };
        await respondToAlert(deps, alert, { automatic: first.automatic, suggested: first.suggested });
        raised += 1;
      }
    };
    if (groups.size === 0) {
      // Nothing found: moving the cursor is one statement, no transaction needed.
      await write(this.deps);
    } else {
      await inTransaction(this.deps, write);
      // Blocks and lockdown the responses took are committed: this process reads them afresh.
      forgetContainment();
    }
    this.leaseUntil = new Date(leaseUntil).getTime();
    return { raised, folded };
  }

  // ---- Housekeeping ----------------------------------------------------------------------------

  /**
   * Deletes request events past their keeping, at most every few minutes, by the one process that
   * holds the lease, and only once both streams are read to their end: nothing is deleted unread.
   * A failure is logged and tried again next time; it never stops detection.
   */
  private async housekeeping(): Promise<void> {
    const started = performance.now();
    if (started - this.lastHousekeeping < this.housekeepingMs) return;
    this.lastHousekeeping = started;
    const olderThan = new Date(this.deps.clock.now().getTime() - this.requestEventsKeptMs);
    await pruneRequestEvents(this.deps, olderThan).catch((error: unknown) => {
      this.options.log?.warn(`request events could not be pruned (${(error as { code?: unknown })?.code ?? (error as Error)?.name ?? 'error'})`);
    });
  }

  // ---- Baselines -------------------------------------------------------------------------------

  private async maybePersist(): Promise<void> {
    if (performance.now() - this.lastPersist < this.persistMs) return;
    await this.persist();
  }

  /** Writes the profiles that changed, and each role's peer baselines. */
  async persist(): Promise<void> {
    const engine = this.engine;
    if (!engine) return;
    this.lastPersist = performance.now();
    const now = this.deps.clock.now().toISOString();
    const rows: BaselineRow[] = engine.takeDirtyProfiles().map(([id, profile]) => ({ subject_kind: 'user', subject_id: id, metric: PROFILE_METRIC, data: JSON.stringify(profile), updated_at: now }));
    for (const [role, peer] of engine.peerBaselines()) rows.push({ subject_kind: 'role', subject_id: role, metric: PEERS_METRIC, data: JSON.stringify(peer), updated_at: now });
    await upsertBaselines(this.deps.db, rows);
  }
}

/**
 * The session to act on: the newest one the findings came through. For a sign-in that succeeded
 * after failures, the session that sign-in opened, so a step-up asks that session alone again.
 */
function sessionOf(findings: readonly Finding[]): string | null {
  for (let i = findings.length - 1; i >= 0; i -= 1) {
    const session = findings[i]!.sessionId;
    if (session !== null) return session;
  }
  return null;
}

/**
 * Whether an open alert's address block ran out while the attack goes on: the rule blocks
 * automatically, the folded findings come from the alert's address, the alert did block it before
 * (a block held back or refused is not forced now), no person lifted one of its blocks, and no
 * block is in force on the address.
 */
async function blockRanOut(deps: AuthDeps, open: AlertRow, findings: readonly Finding[]): Promise<boolean> {
  const address = open.source_address;
  if (!address || !findings.at(-1)!.automatic.includes('block_address')) return false;
  if (!findings.some((f) => f.sourceAddress === address)) return false;
  const key = blockKeyOf(address);
  if (key === null) return false;
  const blocks = await selectAlertBlocks(deps.db, open.id, key);
  const now = deps.clock.now().toISOString();
  if (blocks.length === 0 || blocks.some((b) => b.lifted_at !== null || b.until > now)) return false;
  return !(await isAddressBlocked(deps, address));
}

function mergeByTime(a: DetectionEvent[], b: DetectionEvent[]): DetectionEvent[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out: DetectionEvent[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]!.at <= b[j]!.at)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

interface StoredEvidence {
  auditSeqs: number[];
  requestEventIds: string[];
  figures: Record<string, unknown>;
}

function parseEvidence(text: string): StoredEvidence {
  try {
    const raw = JSON.parse(text) as Partial<StoredEvidence>;
    return { auditSeqs: Array.isArray(raw.auditSeqs) ? raw.auditSeqs : [], requestEventIds: Array.isArray(raw.requestEventIds) ? raw.requestEventIds : [], figures: raw.figures ?? {} };
  } catch {
    return { auditSeqs: [], requestEventIds: [], figures: {} };
  }
}

/** Adds findings' evidence to an alert's: no repeats, the first references and the newest, the latest figures. */
function mergeEvidence(evidence: StoredEvidence, findings: readonly Finding[]): StoredEvidence {
  const seqs = new Set(evidence.auditSeqs);
  const requests = new Set(evidence.requestEventIds);
  for (const f of findings) {
    for (const s of f.auditSeqs) seqs.add(s);
    for (const r of f.requestEventIds) requests.add(r);
  }
  return { auditSeqs: keepEnds([...seqs].sort((x, y) => x - y)), requestEventIds: keepEnds([...requests].sort()), figures: { ...findings.at(-1)!.figures } };
}

function keepEnds<T>(list: T[]): T[] {
  if (list.length <= 2 * EVIDENCE_KEPT) return list;
  return [...list.slice(0, EVIDENCE_KEPT), ...list.slice(-EVIDENCE_KEPT)];
}

function laterOf(a: string, b: string): string {
  return a > b ? a : b;
}

/** The time in a UUIDv7's first 48 bits. */
function timeOfId(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/** The smallest UUIDv7 of a millisecond. */
function idFloor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}

function minId(a: string, b: string): string {
  return a < b ? a : b;
}

/** Users with their roles, what each role grants, and the decoys. */
export function directoryOf(rows: DirectoryRows): Directory {
  const rolesOf = new Map<string, string[]>();
  for (const m of rows.memberships) {
    const list = rolesOf.get(m.user_id);
    if (list) list.push(m.role_id);
    else rolesOf.set(m.user_id, [m.role_id]);
  }
  const users = new Map<string, DirectoryUser>();
  for (const u of rows.users) {
    users.set(u.id, { roles: rolesOf.get(u.id) ?? [], disabledAt: u.status === 'disabled' ? new Date(u.updated_at).getTime() : null });
  }
  const roles = new Map<string, DirectoryRole>();
  for (const r of rows.roles) {
    let definition: { permissions?: unknown; records?: Record<string, { actions?: Record<string, unknown> }> } = {};
    try {
      definition = JSON.parse(r.definition) as typeof definition;
    } catch {
      definition = {};
    }
    const permissions = Array.isArray(definition.permissions) ? definition.permissions.filter((p): p is string => typeof p === 'string') : [];
    const grants = Object.values(definition.records ?? {});
    roles.set(r.id, {
      admin: permissions.includes('users.manage') || permissions.includes('roles.manage'),
      exports: grants.some((g) => g?.actions?.export !== undefined),
      reveals: grants.some((g) => g?.actions?.reveal !== undefined),
      permissions,
    });
  }
  return { users, roles, honeytokens: new Set(rows.honeytokens.map((h) => h.record_id)) };
}

const onceRunners = new WeakMap<object, DetectionRunner>();

/**
 * Reads both streams to their end once and stores what the engine finds, as the running server
 * would. The engine and what it learned stay with the database handle between calls, as in a
 * process that keeps running; the first call on a database warms up on what is already there
 * without raising alerts. For tests and tools that drive detection step by step.
 */
export async function runDetectionOnce(deps: AuthDeps, options: RunnerOptions = {}): Promise<DetectionRun> {
  let runner = onceRunners.get(deps.db);
  if (!runner) {
    runner = new DetectionRunner(deps, { holder: 'detection-once', ...options });
    onceRunners.set(deps.db, runner);
  }
  return runner.runUntilCaughtUp();
}
