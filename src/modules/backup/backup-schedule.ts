/**
 * When scheduled backups run, what their files are called, which of them retention keeps and
 * whether the newest is fresh enough: pure functions of times and names, no database, no disk.
 *
 * A schedule is either a daily time in UTC (`02:30`) or an interval in hours that divides a day
 * (`6h`: 00:00, 06:00, 12:00 and 18:00 UTC). Both come down to slots every `periodMinutes`,
 * shifted by `offsetMinutes` from midnight UTC, so a missed slot is easy to see after downtime.
 */
export interface BackupSchedule {
  /** The setting as written, for messages and the status screen. */
  readonly text: string;
  readonly kind: 'daily' | 'interval';
  readonly periodMinutes: number;
  readonly offsetMinutes: number;
}

export interface RetentionPolicy {
  readonly daily: number;
  readonly weekly: number;
  readonly monthly: number;
}

export type RetentionTier = 'daily' | 'weekly' | 'monthly' | 'newest';

export interface BackupFileTime {
  readonly name: string;
  readonly at: Date;
}

export interface RetentionPlan {
  /** File name → the rule that keeps it (the first that claims it: daily, weekly, monthly; `newest` when only that rule does). */
  readonly keep: ReadonlyMap<string, RetentionTier>;
  /** Files no rule keeps, oldest first. */
  readonly remove: readonly string[];
}

const DAY_MINUTES = 24 * 60;
const INTERVAL_HOURS = [1, 2, 3, 4, 6, 8, 12, 24];

/** Parses RAMPART_BACKUP_SCHEDULE; null when it is neither `HH:MM` nor one of the intervals. */
export function parseBackupSchedule(text: string): BackupSchedule | null {
  const daily = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  if (daily) return { text, kind: 'daily', periodMinutes: DAY_MINUTES, offsetMinutes: Number(daily[1]) * 60 + Number(daily[2]) };
  const interval = /^(\d{1,2})h$/.exec(text);
  if (interval && INTERVAL_HOURS.includes(Number(interval[1]))) return { text, kind: 'interval', periodMinutes: Number(interval[1]) * 60, offsetMinutes: 0 };
  return null;
}

/** What the setting may look like, for the configuration error. */
export const SCHEDULE_FORMAT = `a daily time in UTC as HH:MM (e.g. 02:00), or an interval of ${INTERVAL_HOURS.join(', ')} hours written like 6h`;

/** The latest slot at or before `now`. */
export function slotAtOrBefore(schedule: BackupSchedule, now: Date): Date {
  const minutes = Math.floor(now.getTime() / 60_000);
  const slot = Math.floor((minutes - schedule.offsetMinutes) / schedule.periodMinutes) * schedule.periodMinutes + schedule.offsetMinutes;
  return new Date(slot * 60_000);
}

/** The first slot after `now`. */
export function slotAfter(schedule: BackupSchedule, now: Date): Date {
  return new Date(slotAtOrBefore(schedule, now).getTime() + schedule.periodMinutes * 60_000);
}

/**
 * Whether a scheduled backup is due: no scheduled run has started since the latest slot. A server
 * that was down over a slot (or has never taken a backup) runs one as soon as it is back, once.
 */
export function isBackupDue(schedule: BackupSchedule, now: Date, lastScheduledStart: Date | null): boolean {
  return lastScheduledStart === null || lastScheduledStart.getTime() < slotAtOrBefore(schedule, now).getTime();
}

/** When the next scheduled backup starts: now when one is due, otherwise the next slot. */
export function nextBackupAt(schedule: BackupSchedule, now: Date, lastScheduledStart: Date | null): Date {
  return isBackupDue(schedule, now, lastScheduledStart) ? now : slotAfter(schedule, now);
}

/** How old the newest good backup may be and still count as fresh: 26 hours for a daily schedule, two periods otherwise. */
export function freshnessWindowMs(schedule: BackupSchedule): number {
  return schedule.kind === 'daily' ? 26 * 3_600_000 : 2 * schedule.periodMinutes * 60_000;
}

export function isFresh(schedule: BackupSchedule, now: Date, lastGoodAt: Date | null): boolean {
  return lastGoodAt !== null && now.getTime() - lastGoodAt.getTime() <= freshnessWindowMs(schedule);
}

export type DrillFrequency = 'daily' | 'weekly' | 'off';

/** Whether a drill should follow this backup: none yet, or the last one started about a period ago (an hour of slack, so a daily schedule drifting by minutes still drills). */
export function isDrillDue(frequency: DrillFrequency, now: Date, lastDrillStart: Date | null): boolean {
  if (frequency === 'off') return false;
  if (lastDrillStart === null) return true;
  const period = (frequency === 'daily' ? 1 : 7) * 86_400_000;
  return now.getTime() - lastDrillStart.getTime() >= period - 3_600_000;
}

const FILE_PATTERN = /^rampart-backup-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z\.rbk$/;

/** The name of a scheduled backup file: its UTC start time, so names sort by time. */
export function backupFileName(at: Date): string {
  const iso = at.toISOString();
  return `rampart-backup-${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z.rbk`;
}

/** The time in a name `backupFileName` made; null for any other name (files Rampart did not write). */
export function backupFileTime(name: string): Date | null {
  const m = FILE_PATTERN.exec(name);
  if (!m) return null;
  const at = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  return backupFileName(at) === name ? at : null;
}

function dayKey(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** ISO 8601 week, e.g. 2026-W01 (weeks start on Monday; week 1 holds the year's first Thursday). */
export function isoWeekKey(at: Date): string {
  const day = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((day.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${day.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

function monthKey(at: Date): string {
  return at.toISOString().slice(0, 7);
}

/**
 * Grandfather-father-son retention over good backups: the newest backup of each of the last
 * `daily` days that have one, of each of the last `weekly` ISO weeks that have one, and of each of
 * the last `monthly` months that have one; the newest backup of all is always kept. Counting
 * periods that have a backup (rather than calendar periods back from today) means downtime or a
 * stopped schedule never ages every backup out at once.
 */
export function planRetention(files: readonly BackupFileTime[], policy: RetentionPolicy): RetentionPlan {
  const newestFirst = [...files].sort((a, b) => b.at.getTime() - a.at.getTime() || (a.name < b.name ? 1 : -1));
  const keep = new Map<string, RetentionTier>();
  const rules: [Exclude<RetentionTier, 'newest'>, number, (at: Date) => string][] = [
    ['daily', policy.daily, dayKey],
    ['weekly', policy.weekly, isoWeekKey],
    ['monthly', policy.monthly, monthKey],
  ];
  for (const [tier, count, period] of rules) {
    const seen = new Set<string>();
    for (const file of newestFirst) {
      if (seen.size >= count) break;
      const key = period(file.at);
      if (seen.has(key)) continue;
      seen.add(key);
      if (!keep.has(file.name)) keep.set(file.name, tier);
    }
  }
  if (newestFirst.length > 0 && !keep.has(newestFirst[0]!.name)) keep.set(newestFirst[0]!.name, 'newest');
  const remove = newestFirst.filter((f) => !keep.has(f.name)).map((f) => f.name).reverse();
  return { keep, remove };
}
