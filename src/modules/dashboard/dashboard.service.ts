import { activitiesByOwner, dealOutcomesByMonth, dealValueByStage, ticketsBy, type MonthOutcome, type ValueCount } from '../../data/record-aggregates.js';
import type { DataDeps } from '../../data/record-store.js';
import { AppError } from '../../shared/errors.js';
import type { ActorContext } from '../../shared/principal.js';
import { findPipeline, getDefaultPipeline, type PipelineView, type StageOutcome } from '../pipelines/pipelines.service.js';
import { TICKET_PRIORITIES, TICKET_STATUSES } from '../tickets/tickets.fields.js';
import { selectUserNames } from './dashboard.repo.js';

/** How far back the deal outcomes and the activity counts reach. */
export const OUTCOME_MONTHS = 12;
export const ACTIVITY_DAYS = 30;

export interface DashboardStage {
  stageId: string;
  name: string;
  outcome: StageOutcome;
  /** Readable live deals in the stage. */
  count: number;
  /** Their total amount per currency, largest first. */
  amounts: { currency: string; amount: number }[];
}

export interface DashboardView {
  /** Deal value by stage of one pipeline; null without read access to deals (or their amounts), or with no pipeline. */
  pipeline: { id: string; name: string; stages: DashboardStage[] } | null;
  /** Deals won and lost per month, oldest first, every one of the last twelve months; null without access. */
  dealOutcomes: MonthOutcome[] | null;
  /** Ticket counts, every status and priority listed; null without read access to tickets. */
  ticketsByStatus: ValueCount[] | null;
  ticketsByPriority: ValueCount[] | null;
  /** Activities created in the last 30 days per owner, most first; null without read access to activities. */
  activitiesByUser: { userId: string; name: string; count: number }[] | null;
  /** Where the figures start: the first day of the oldest month, and 30 days ago. */
  outcomesSince: string;
  activitiesSince: string;
}

/**
 * The dashboard's figures for the caller, each over the records the caller may read (see
 * data/record-aggregates.ts). A figure the caller's roles do not reach is null; the others still
 * answer. `pipelineId` picks the pipeline; the default one otherwise.
 */
export async function dashboardFigures(deps: DataDeps, ctx: ActorContext, options: { pipelineId?: string } = {}): Promise<DashboardView> {
  const now = deps.clock.now();
  const outcomesSince = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - (OUTCOME_MONTHS - 1), 1)).toISOString();
  const activitiesSince = new Date(now.getTime() - ACTIVITY_DAYS * 86_400_000).toISOString();

  const pipeline = await choosePipeline(deps, options.pipelineId);
  const [stageTotals, outcomes, byStatus, byPriority, byOwner] = await Promise.all([
    pipeline ? dealValueByStage(deps, ctx, pipeline.id) : Promise.resolve(null),
    dealOutcomesByMonth(deps, ctx, outcomesSince),
    ticketsBy(deps, ctx, 'status'),
    ticketsBy(deps, ctx, 'priority'),
    activitiesByOwner(deps, ctx, activitiesSince),
  ]);
  const names = byOwner && byOwner.length > 0 ? await selectUserNames(deps.db, byOwner.map((o) => o.ownerId)) : new Map<string, string>();

  return {
    pipeline:
      pipeline && stageTotals
        ? {
            id: pipeline.id,
            name: pipeline.name,
            stages: pipeline.stages.map((stage) => {
              const rows = stageTotals.filter((t) => t.stageId === stage.id).sort((a, b) => b.amount - a.amount || a.currency.localeCompare(b.currency));
              return { stageId: stage.id, name: stage.name, outcome: stage.outcome, count: rows.reduce((n, r) => n + r.count, 0), amounts: rows.map((r) => ({ currency: r.currency, amount: r.amount })) };
            }),
          }
        : null,
    dealOutcomes: outcomes && everyMonth(outcomesSince, outcomes),
    ticketsByStatus: byStatus && everyValue(TICKET_STATUSES, byStatus),
    ticketsByPriority: byPriority && everyValue(TICKET_PRIORITIES, byPriority),
    activitiesByUser: byOwner && byOwner.map((o) => ({ userId: o.ownerId, name: names.get(o.ownerId) ?? '', count: o.count })),
    outcomesSince,
    activitiesSince,
  };
}

async function choosePipeline(deps: DataDeps, id: string | undefined): Promise<PipelineView | null> {
  if (id !== undefined) {
    const pipeline = await findPipeline(deps, id);
    if (!pipeline) throw new AppError('pipeline.not_found', 'No such pipeline');
    return pipeline;
  }
  // An installation whose default pipeline was removed still has a dashboard, without this figure.
  return getDefaultPipeline(deps).catch((error: unknown) => {
    if (error instanceof AppError && error.code === 'pipeline.not_found') return null;
    throw error;
  });
}

/** Twelve months from `since`, those without a closed deal as zeros, so a chart's axis has no gaps. */
function everyMonth(since: string, found: MonthOutcome[]): MonthOutcome[] {
  const start = new Date(since);
  return Array.from({ length: OUTCOME_MONTHS }, (_, i) => {
    const month = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + i, 1)).toISOString().slice(0, 7);
    return found.find((f) => f.month === month) ?? { month, won: 0, lost: 0 };
  });
}

/** Every value of a select field in its declared order, the ones no record holds as zeros. */
function everyValue(values: readonly string[], found: ValueCount[]): ValueCount[] {
  return values.map((value) => ({ value, count: found.find((f) => f.value === value)?.count ?? 0 }));
}
