/**
 * What the engine learns of each user's ordinary work, and keeps across restarts (in
 * detection_baselines): how many records they read in their busiest hour and in a day, how many
 * values they reveal, at what hours of the day they work, when they were last active, and the
 * devices and networks they sign in from.
 */

/**
 * A running mean and variance: exact over the first samples, then exponentially weighted so the
 * baseline follows a user whose work changes over weeks, but not over one afternoon.
 */
export interface Stat {
  n: number;
  mean: number;
  variance: number;
}

const MIN_ALPHA = 0.05;

export function emptyStat(): Stat {
  return { n: 0, mean: 0, variance: 0 };
}

export function observe(stat: Stat, value: number): void {
  stat.n += 1;
  const alpha = Math.max(1 / stat.n, MIN_ALPHA);
  const delta = value - stat.mean;
  stat.mean += alpha * delta;
  stat.variance = (1 - alpha) * (stat.variance + alpha * delta * delta);
}

/** A high but ordinary value: the mean plus two standard deviations; 0 before `minSamples`. */
export function typicalHigh(stat: Stat, minSamples: number): number {
  if (stat.n < minSamples) return 0;
  return stat.mean + 2 * Math.sqrt(Math.max(0, stat.variance));
}

export interface UserProfile {
  /** The most distinct records read within the sliding hour, per hour the user read anything. */
  hourlyReads: Stat;
  /** Distinct records read per day, per day the user read anything. */
  dailyReads: Stat;
  /** The most values revealed within the sliding hour, per hour the user revealed anything. */
  hourlyReveals: Stat;
  /** Reading activity by hour of the organisation's day, decayed a little each active day. */
  hours: number[];
  /** Days on which the user read personal data. */
  activeDays: number;
  /** The last day (days since the epoch) counted in `activeDays`. */
  lastDay: number;
  /** When the user last did anything the engine saw; null when never. */
  lastActiveAt: number | null;
  /** Devices ("Firefox on Linux") and networks (/24, /48) the user has completed a sign-in from, newest first. */
  devices: string[];
  networks: string[];
  /**
   * Event time up to which this profile has learned. Events replayed after a restart that are not
   * newer are not learned twice.
   */
  asOf: number;
}

export const KNOWN_PLACES = 20;

export function emptyProfile(): UserProfile {
  return {
    hourlyReads: emptyStat(),
    dailyReads: emptyStat(),
    hourlyReveals: emptyStat(),
    hours: Array<number>(24).fill(0),
    activeDays: 0,
    lastDay: -1,
    lastActiveAt: null,
    devices: [],
    networks: [],
    asOf: 0,
  };
}

/** Puts a place first in a most-recent-first list of at most KNOWN_PLACES; answers whether it was new. */
export function rememberPlace(list: string[], value: string): boolean {
  const index = list.indexOf(value);
  if (index === 0) return false;
  if (index > 0) list.splice(index, 1);
  list.unshift(value);
  if (list.length > KNOWN_PLACES) list.length = KNOWN_PLACES;
  return index < 0;
}

/** The share of a user's reading that falls within an hour of `hour` (of the organisation's day). */
export function shareNear(profile: UserProfile, hour: number): number {
  let total = 0;
  for (const v of profile.hours) total += v;
  if (total <= 0) return 0;
  const at = (h: number): number => profile.hours[(h + 24) % 24] ?? 0;
  return (at(hour - 1) + at(hour) + at(hour + 1)) / total;
}

/** A profile read back from storage; anything malformed starts afresh rather than failing the engine. */
export function profileFromJson(text: string): UserProfile {
  const fresh = emptyProfile();
  let raw: Partial<UserProfile>;
  try {
    raw = JSON.parse(text) as Partial<UserProfile>;
  } catch {
    return fresh;
  }
  const stat = (s: unknown): Stat => {
    const v = s as Partial<Stat> | null;
    return v && Number.isFinite(v.n) && Number.isFinite(v.mean) && Number.isFinite(v.variance) ? { n: v.n!, mean: v.mean!, variance: v.variance! } : emptyStat();
  };
  const strings = (l: unknown): string[] => (Array.isArray(l) ? l.filter((x): x is string => typeof x === 'string').slice(0, KNOWN_PLACES) : []);
  return {
    hourlyReads: stat(raw.hourlyReads),
    dailyReads: stat(raw.dailyReads),
    hourlyReveals: stat(raw.hourlyReveals),
    hours: Array.isArray(raw.hours) && raw.hours.length === 24 && raw.hours.every((h) => Number.isFinite(h)) ? raw.hours.map(Number) : fresh.hours,
    activeDays: Number.isFinite(raw.activeDays) ? Number(raw.activeDays) : 0,
    lastDay: Number.isFinite(raw.lastDay) ? Number(raw.lastDay) : -1,
    lastActiveAt: Number.isFinite(raw.lastActiveAt) ? Number(raw.lastActiveAt) : null,
    devices: strings(raw.devices),
    networks: strings(raw.networks),
    asOf: Number.isFinite(raw.asOf) ? Number(raw.asOf) : 0,
  };
}

/** The 75th percentile of some values; 0 for none. Peers are compared at p75 so one outlier cannot lift a role's bar. */
export function upperQuartile(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.75))]!;
}
