import { type Admin, type Answer, CONTAINMENT_CODES, pause } from './client.js';

/** An alert as GET /api/v1/alerts lists it (the fields the simulation reads). */
export interface AlertView {
  readonly id: string;
  readonly rule: string;
  readonly severity: string;
  readonly status: string;
  readonly summary: string;
  readonly actorKind: string | null;
  readonly actorId: string | null;
  readonly sourceAddress: string | null;
  readonly eventCount: number;
  readonly firstSeenAt: string;
  readonly lastSeenAt: string;
  readonly createdAt: string;
}

/** Who an attack is about: the account acting or attacked, the address it came from. */
export interface Subject {
  readonly actorIds: readonly string[];
  readonly addresses: readonly string[];
}

export const POLL_INTERVAL_MS = 100;

export function concerns(alert: AlertView, subject: Subject): boolean {
  return (alert.actorId !== null && subject.actorIds.includes(alert.actorId)) || (alert.sourceAddress !== null && subject.addresses.includes(alert.sourceAddress));
}

/**
 * Watches GET /api/v1/alerts for an alert of some rules about a subject, as a person at the
 * alerts screen would see it. Alerts that already existed when the watch started count only if
 * they grew: the engine folds repeats of an open alert into it.
 */
export class AlertWatch {
  private readonly before = new Map<string, number>();

  constructor(
    private readonly admin: Admin,
    readonly rules: readonly string[],
    private readonly subject: () => Subject,
  ) {}

  async list(): Promise<AlertView[]> {
    const page = await this.admin.must<{ items: AlertView[] }>('GET', `/api/v1/alerts?rule=${encodeURIComponent(this.rules.join(','))}&limit=200`);
    return page.items;
  }

  async start(): Promise<void> {
    for (const alert of await this.list()) this.before.set(alert.id, alert.eventCount);
  }

  /** The newest alert that is about the subject and new (or grown) since the watch started. */
  async check(): Promise<AlertView | null> {
    const subject = this.subject();
    const found = (await this.list()).filter((a) => concerns(a, subject) && (this.before.get(a.id) ?? -1) < a.eventCount);
    // The first rule to see the attack detected it; alerts raised together are told apart by their first evidence.
    found.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.firstSeenAt.localeCompare(b.firstSeenAt));
    return found[0] ?? null;
  }
}

/** When things happened, in this process's monotonic milliseconds. */
export interface Timeline {
  /** The request from which the attack should be detectable was sent. */
  detectableAt: number | null;
  /** The alert was first seen through the API. */
  detectedAt: number | null;
  /** The attacker's next request was first refused. */
  containedAt: number | null;
  alert: AlertView | null;
  /** The code of the refusal that showed containment. */
  containedBy: string | null;
}

/**
 * Polls for the alert in the background while the attack runs and, from the moment it shows,
 * sends the attacker's next request every ~100 ms until the instance refuses it (the attacker is
 * contained) or the wait for containment runs out. The detection time is when the answer that
 * showed the alert arrived; the containment time, when the first refusal did.
 */
export class Detector {
  readonly timeline: Timeline = { detectableAt: null, detectedAt: null, containedAt: null, alert: null, containedBy: null };
  private watching = true;
  private loop: Promise<void> | null = null;
  private error: unknown = null;

  constructor(
    private readonly watch: AlertWatch,
    /** The attacker's next ordinary request; null when the attacker can no longer send one (signed out). */
    private readonly probe: () => Promise<Answer | null>,
    private readonly containWaitMs: number,
    private readonly codes: ReadonlySet<string> = CONTAINMENT_CODES,
  ) {}

  get detected(): boolean {
    return this.timeline.alert !== null;
  }

  get contained(): boolean {
    return this.timeline.containedAt !== null;
  }

  /** Marks the moment the attack became detectable (the first time only). */
  markDetectable(): void {
    this.timeline.detectableAt ??= performance.now();
  }

  async start(): Promise<void> {
    await this.watch.start();
    this.loop = (async () => {
      try {
        while (this.watching) {
          const alert = await this.watch.check();
          if (alert) {
            this.timeline.detectedAt = performance.now();
            this.timeline.alert = alert;
            await this.probeContainment();
            return;
          }
          await pause(POLL_INTERVAL_MS);
        }
      } catch (error) {
        this.error = error;
      }
    })();
  }

  private async probeContainment(): Promise<void> {
    const deadline = performance.now() + this.containWaitMs;
    while (performance.now() < deadline) {
      const answer = await this.probe();
      if (answer?.code != null && this.codes.has(answer.code)) {
        this.timeline.containedAt = performance.now();
        this.timeline.containedBy = answer.code;
        return;
      }
      await pause(POLL_INTERVAL_MS);
    }
  }

  /** Waits for the alert at most `ms` longer; answers whether it came. */
  async waitFor(ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (!this.detected && this.error === null && performance.now() < deadline) await pause(20);
    if (this.error !== null) throw this.error;
    return this.detected;
  }

  /** Stops watching for the alert if it has not come, and waits for the probing to end if it has. */
  async finish(): Promise<void> {
    if (!this.detected) this.watching = false;
    await this.loop;
    if (this.error !== null) throw this.error;
  }
}
