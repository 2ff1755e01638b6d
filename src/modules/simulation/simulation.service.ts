import { requirePermission } from '../../data/access.js';
import { recordAudit } from '../../data/audit-trail.js';
import { inTransaction } from '../../data/record-store.js';
import { AppError } from '../../shared/errors.js';
import type { ActorContext } from '../../shared/principal.js';
import { MAX_ADVANCE_SECONDS, simulatedClockOf, type SimulatedClock } from '../../shared/simulated-clock.js';
import type { AuthDeps } from '../auth/auth.service.js';

export interface SimulatedTime {
  /** The time as Rampart sees it. */
  now: string;
  /** How far it runs ahead of real time, in whole seconds. */
  offsetSeconds: number;
}

function clockOf(deps: AuthDeps): SimulatedClock {
  const clock = deps.config.simulatedClock ? simulatedClockOf(deps.clock) : undefined;
  if (!clock) throw new AppError('simulation.disabled', 'This server does not run a simulated clock');
  return clock;
}

function timeOf(clock: SimulatedClock): SimulatedTime {
  return { now: clock.now().toISOString(), offsetSeconds: Math.floor(clock.offset / 1000) };
}

/**
 * At start, a simulated clock resumes from the newest time stored in the audit log, so that a
 * restarted rehearsal instance does not stamp new entries earlier than old ones.
 */
export async function resumeSimulatedClock(deps: Pick<AuthDeps, 'db' | 'clock'>): Promise<void> {
  const clock = simulatedClockOf(deps.clock);
  if (!clock) return;
  const newest = await deps.db.selectFrom('audit_entries').select('occurred_at').orderBy('seq', 'desc').limit(1).executeTakeFirst();
  if (newest) clock.catchUp(new Date(new Date(newest.occurred_at).getTime() + 1000));
}

/** The simulated time (settings.manage). */
export async function readSimulatedTime(deps: AuthDeps, ctx: ActorContext): Promise<SimulatedTime> {
  const clock = clockOf(deps);
  await requirePermission(deps, ctx, 'settings.manage', 'Your roles do not allow you to read the simulated clock');
  return timeOf(clock);
}

/**
 * Moves the simulated clock forward (settings.manage). The audit entry is written first, at the
 * time it was before the jump: the step cannot be taken back, so it is only taken once recorded.
 */
export async function advanceSimulatedTime(deps: AuthDeps, ctx: ActorContext, advanceSeconds: number): Promise<SimulatedTime> {
  const clock = clockOf(deps);
  await requirePermission(deps, ctx, 'settings.manage', 'Your roles do not allow you to move the simulated clock');
  if (!Number.isInteger(advanceSeconds) || advanceSeconds < 1 || advanceSeconds > MAX_ADVANCE_SECONDS) {
    throw new AppError('request.invalid', `advanceSeconds must be a whole number from 1 to ${MAX_ADVANCE_SECONDS}`, [{ field: 'advanceSeconds', message: `must be from 1 to ${MAX_ADVANCE_SECONDS}` }]);
  }
  const before = clock.now();
  await inTransaction(deps, async (tx) => {
    await recordAudit(tx, ctx, {
      action: 'simulation.clock_advanced',
      details: { advanceSeconds, from: before.toISOString(), to: new Date(before.getTime() + advanceSeconds * 1000).toISOString() },
    });
  });
  clock.advance(advanceSeconds);
  return timeOf(clock);
}
