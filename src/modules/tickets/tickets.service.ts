import { atOneInstant, plainRecordService, refuseEmpty, type RecordService } from '../../data/record-service.js';
import { createRecord, getRecord, inTransaction, updateRecord, type DataDeps, type RecordInput, type RecordView } from '../../data/record-store.js';
import type { ActorContext } from '../../shared/principal.js';
import { ticketFields, type TICKET_PRIORITIES, type TICKET_STATUSES } from './tickets.fields.js';

type TicketStatus = (typeof TICKET_STATUSES)[number];
type TicketPriority = (typeof TICKET_PRIORITIES)[number];

/** How long after it comes in a ticket must be solved, by priority, unless the caller sets `slaDueAt`. */
export const SLA_HOURS: Readonly<Record<TicketPriority, number>> = { urgent: 4, high: 8, normal: 24, low: 72 };

/** Columns that always hold a value; the database default applies when they are left out. */
const NOT_EMPTY = ['status', 'priority'] as const;

/** Creates a ticket; its SLA deadline follows from the priority when the caller sets none. */
export async function createTicket(deps: DataDeps, ctx: ActorContext, input: RecordInput): Promise<RecordView> {
  refuseEmpty(ticketFields, input, NOT_EMPTY);
  return inTransaction(deps, async (tx) => {
    const at = atOneInstant(tx);
    const now = at.clock.now();
    const priority = (input.priority ?? 'normal') as TicketPriority;
    const derived: Record<string, unknown> = { ...statusStamps(null, (input.status ?? 'new') as TicketStatus, null, now) };
    const hours = SLA_HOURS[priority];
    // An unknown priority is left for the store to refuse with the field named.
    if (input.slaDueAt === undefined && hours !== undefined) derived.slaDueAt = new Date(now.getTime() + hours * 3_600_000).toISOString();
    return createRecord(at, ctx, 'tickets', input, derived);
  });
}

/** Updates a ticket; a change of status stamps or clears `solvedAt` and `closedAt`. */
export async function updateTicket(deps: DataDeps, ctx: ActorContext, id: string, version: number, input: RecordInput): Promise<RecordView> {
  refuseEmpty(ticketFields, input, NOT_EMPTY);
  return inTransaction(deps, async (tx) => {
    const at = atOneInstant(tx);
    const current = await getRecord(at, ctx, 'tickets', id, { audited: false });
    const next = input.status as TicketStatus | undefined;
    const derived = next === undefined || next === current.status ? {} : statusStamps(current.status as TicketStatus, next, current, at.clock.now());
    return updateRecord(at, ctx, 'tickets', id, version, input, derived);
  });
}

export const ticketService: RecordService = plainRecordService('tickets', { create: createTicket, update: updateTicket });

/**
 * Moving to solved stamps `solvedAt`; moving to closed stamps `closedAt`; reopening (new, open,
 * pending) clears both. Moving from closed back to solved keeps the first solve time.
 */
function statusStamps(from: TicketStatus | null, to: TicketStatus, current: RecordView | null, now: Date): Record<string, unknown> {
  const iso = now.toISOString();
  switch (to) {
    case 'solved':
      return { solvedAt: from === 'closed' && current?.solvedAt ? current.solvedAt : iso, closedAt: null };
    case 'closed':
      return { closedAt: iso };
    case 'new':
    case 'open':
    case 'pending':
      return from === null ? {} : { solvedAt: null, closedAt: null };
    default:
      return {};
  }
}
