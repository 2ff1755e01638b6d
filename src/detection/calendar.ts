/**
 * The organisation's local time of an instant: hour of the day, day of the week, and a day number
 * that changes at local midnight (so a working day is one day, wherever UTC's midnight falls).
 * Time zones change their offset at most on quarter hours, so the answer is kept per quarter hour:
 * events come in time order, and nearly every one is answered from the last quarter hour asked.
 */
export interface LocalTime {
  /** 0–23. */
  readonly hour: number;
  /** 0 = Sunday … 6 = Saturday. */
  readonly weekday: number;
  /** Days since 1970-01-01 in local time. */
  readonly day: number;
}

const QUARTER = 15 * 60_000;
const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

export class OrganisationCalendar {
  private readonly format: Intl.DateTimeFormat | null;
  private readonly cache = new Map<number, LocalTime>();
  private lastSlot = Number.NaN;
  private lastValue: LocalTime = { hour: 0, weekday: 4, day: 0 };

  constructor(readonly timeZone: string) {
    this.format =
      timeZone === 'UTC'
        ? null
        : new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', weekday: 'short' });
  }

  at(ms: number): LocalTime {
    const slot = Math.floor(ms / QUARTER);
    if (slot === this.lastSlot) return this.lastValue;
    let value = this.cache.get(slot);
    if (!value) {
      value = this.compute(slot * QUARTER);
      if (this.cache.size > 4096) this.cache.clear();
      this.cache.set(slot, value);
    }
    this.lastSlot = slot;
    this.lastValue = value;
    return value;
  }

  private compute(ms: number): LocalTime {
    if (!this.format) {
      const date = new Date(ms);
      return { hour: date.getUTCHours(), weekday: date.getUTCDay(), day: Math.floor(ms / 86_400_000) };
    }
    const parts: Record<string, string> = {};
    for (const part of this.format.formatToParts(new Date(ms))) parts[part.type] = part.value;
    const day = Math.floor(Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day)) / 86_400_000);
    return { hour: Number(parts.hour) % 24, weekday: WEEKDAYS[parts.weekday ?? 'Sun'] ?? 0, day };
  }
}
