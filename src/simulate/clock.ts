import { SimulationError, type Admin } from './client.js';

/** The longest step the clock route takes at once (30 days). */
const MAX_STEP_SECONDS = 30 * 86_400;

/** Working hours in the organisation's time zone: weekdays only, from `start` to `end` minutes past midnight. */
export interface WorkingHours {
  readonly utcOffsetMinutes: number;
  readonly startMinute: number;
  readonly endMinute: number;
  /** 0 = Sunday … 6 = Saturday. */
  readonly days: readonly number[];
}

export const OFFICE_HOURS: WorkingHours = { utcOffsetMinutes: 0, startMinute: 9 * 60, endMinute: 17 * 60, days: [1, 2, 3, 4, 5] };

/**
 * The instance's clock as the simulation sees it: read and moved through
 * /api/v1/simulation/clock, which exists only on a server started with RAMPART_SIMULATED_CLOCK=on.
 */
export class ServerClock {
  constructor(private readonly admin: Admin) {}

  /** Whether the instance runs a simulated clock this token may move. */
  async available(): Promise<boolean> {
    const answer = await this.admin.send('GET', '/api/v1/simulation/clock');
    return answer.status === 200;
  }

  async now(): Promise<Date> {
    const answer = await this.admin.send('GET', '/api/v1/simulation/clock');
    if (answer.status === 404) throw new SimulationError('This scenario needs days of simulated time: start the server with RAMPART_SIMULATED_CLOCK=on');
    if (answer.status !== 200) throw new SimulationError(`GET /api/v1/simulation/clock answered ${answer.status}${answer.code ? ` ${answer.code}` : ''}`);
    return new Date((answer.body as { now: string }).now);
  }

  async advance(seconds: number): Promise<Date> {
    let left = Math.ceil(seconds);
    let now: Date | null = null;
    while (left > 0) {
      const step = Math.min(left, MAX_STEP_SECONDS);
      const body = await this.admin.must<{ now: string }>('POST', '/api/v1/simulation/clock', { advanceSeconds: step });
      now = new Date(body.now);
      left -= step;
    }
    return now ?? this.now();
  }

  /** Moves the clock to `target` (never back); answers the time reached. */
  async advanceTo(target: Date): Promise<Date> {
    const now = await this.now();
    const seconds = Math.ceil((target.getTime() - now.getTime()) / 1000);
    return seconds > 0 ? this.advance(seconds) : now;
  }
}

/** Minutes past local midnight and the local weekday of a time. */
export function localTime(at: Date, hours: WorkingHours): { minute: number; day: number } {
  const local = new Date(at.getTime() + hours.utcOffsetMinutes * 60_000);
  return { minute: local.getUTCHours() * 60 + local.getUTCMinutes(), day: local.getUTCDay() };
}

/** The first working day's local `minute` after `at`: weekends and other days off are skipped, as people do. */
export function nextWorkdayAt(at: Date, hours: WorkingHours, minute: number): Date {
  const local = new Date(at.getTime() + hours.utcOffsetMinutes * 60_000);
  const midnight = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate());
  for (let days = 0; days <= 14; days++) {
    const candidateLocal = midnight + days * 86_400_000 + minute * 60_000;
    const candidate = new Date(candidateLocal - hours.utcOffsetMinutes * 60_000);
    if (candidate.getTime() > at.getTime() && hours.days.includes(new Date(candidateLocal).getUTCDay())) return candidate;
  }
  throw new SimulationError('The working hours name no working day');
}
