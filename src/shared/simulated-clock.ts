import type { Clock } from './clock.js';

/** The longest single step forward: long enough for a month of rehearsal, short of a typo's decades. */
export const MAX_ADVANCE_SECONDS = 30 * 86_400;

/**
 * Real time plus an offset that only ever grows, for rehearsal instances: scenarios that span
 * days (slow exfiltration, dormant accounts) run in minutes. The offset never shrinks, so time as
 * Rampart sees it never runs backwards: audit entries, sessions and cursors stay in order.
 *
 * The offset lives in this process only; a rehearsal instance runs as one server process.
 */
export class SimulatedClock implements Clock {
  private offsetMs = 0;

  constructor(private readonly realNow: () => number = Date.now) {}

  now(): Date {
    return new Date(this.realNow() + this.offsetMs);
  }

  /** How far ahead of real time the clock runs, in milliseconds. */
  get offset(): number {
    return this.offsetMs;
  }

  /**
   * Moves the clock forward to at least `time`, never back. A restarted server resumes from the
   * newest time it stored, so time does not run backwards across restarts either.
   */
  catchUp(time: Date): void {
    const needed = time.getTime() - this.realNow();
    if (needed > this.offsetMs) this.offsetMs = needed;
  }

  /** Moves the clock forward; answers the new time. */
  advance(seconds: number): Date {
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_ADVANCE_SECONDS) {
      throw new RangeError(`The clock moves forward by 1 to ${MAX_ADVANCE_SECONDS} whole seconds at a time`);
    }
    this.offsetMs += seconds * 1000;
    return this.now();
  }
}

/** The clock as a simulated one, when it is. */
export function simulatedClockOf(clock: Clock): SimulatedClock | undefined {
  return clock instanceof SimulatedClock ? clock : undefined;
}
