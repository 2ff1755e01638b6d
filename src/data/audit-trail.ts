import type { ActorContext } from '../shared/principal.js';
import type { AuditEntry } from '../audit/entry.js';
import { appendAudit, type NewAuditEntry } from './audit-log.js';
import type { KeyDeps } from './keys.js';

/**
 * What the services and the data layer say happened, turned into audit entries: who acted (from
 * the request's ActorContext), through which channel, from where, on what. `recordAudit` appends
 * in the caller's transaction, so an entry commits with the change it describes or not at all.
 */
export interface AuditEvent {
  action: string;
  outcome?: AuditEntry['outcome'];
  recordType?: string | null;
  recordIds?: readonly string[];
  fields?: readonly string[];
  details?: Record<string, unknown>;
}

/** The entry for an event by the principal of `ctx`. */
function auditEntryOf(ctx: ActorContext, event: AuditEvent): NewAuditEntry {
  const p = ctx.principal;
  const actor: Actor =
    p.kind === 'user'
      ? { actorKind: 'user', actorId: p.userId, sessionId: p.sessionId }
      : p.kind === 'token'
        ? { actorKind: 'token', actorId: p.userId, sessionId: p.tokenId }
        : p.kind === 'cli'
          ? { actorKind: 'cli', actorId: p.userId ?? p.operator, sessionId: null }
          : { actorKind: 'system', actorId: p.job, sessionId: null };
  return entryOf(actor, ctx, event);
}

/**
 * Records events. Inside a transaction they are kept and appended just before it commits, so they
 * commit with the work they describe or not at all; outside one they are appended at once.
 */
export async function recordAudit(deps: KeyDeps, ctx: ActorContext, events: AuditEvent | readonly AuditEvent[]): Promise<void> {
  const list = Array.isArray(events) ? (events as readonly AuditEvent[]) : [events as AuditEvent];
  await append(deps, list.map((event) => auditEntryOf(ctx, event)));
}

async function append(deps: KeyDeps, entries: NewAuditEntry[]): Promise<void> {
  if (deps.db.isTransaction && deps.pendingAudit) deps.pendingAudit.push(...entries);
  else await appendAudit(deps, entries);
}

/** An event with no principal behind it: a failed sign-in, a request refused before anyone was known. */
export interface AnonymousRequest {
  readonly channel: ActorContext['channel'];
  readonly requestId: string | null;
  readonly sourceAddress: string | null;
  readonly userAgent: string | null;
}

/** `actorId` names the account an anonymous attempt was made on, when there is one. */
export async function recordAnonymousAudit(deps: KeyDeps, request: AnonymousRequest, event: AuditEvent & { actorId?: string | null }): Promise<void> {
  await append(deps, [entryOf({ actorKind: 'anonymous', actorId: event.actorId ?? null, sessionId: null }, request, event)]);
}

type Actor = Pick<AuditEntry, 'actorKind' | 'actorId' | 'sessionId'>;

function entryOf(actor: Actor, request: AnonymousRequest, event: AuditEvent): NewAuditEntry {
  return {
    ...actor,
    sourceAddress: request.sourceAddress,
    userAgent: request.userAgent === null ? null : request.userAgent.slice(0, 300),
    channel: request.channel,
    action: event.action,
    recordType: event.recordType ?? null,
    recordIds: event.recordIds ?? [],
    fields: event.fields ?? [],
    outcome: event.outcome ?? 'success',
    requestId: request.requestId,
    details: event.details ?? {},
  };
}
