import { requirePermission } from '../../data/access.js';
import { recordAudit } from '../../data/audit-trail.js';
import { decodeCursor, encodeCursor } from '../../data/cursor.js';
import { inTransaction, type DataDeps } from '../../data/record-store.js';
import { requireStepUp } from '../../data/step-up.js';
import type { AlertSeverity, AlertStatus, ResponseKind } from '../../db/schema.js';
import { ALERT_SEVERITIES } from '../../detection/model.js';
import { AppError, type FieldProblem } from '../../shared/errors.js';
import { isId } from '../../shared/ids.js';
import { tokenAllows } from '../../policy/access.js';
import { actingUserId, type ActorContext } from '../../shared/principal.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { executeResponse, reverseResponse, type ResponseView } from '../detection/containment.service.js';
import { tuneForFalsePositive } from '../detection/detection.service.js';
import { selectAlert, selectAlertPage, selectResponses, updateAlertRow, type AlertResponseRow, type AlertRow, type AlertRowFilter } from './alerts.repo.js';

export const ALERT_STATUSES = ['open', 'acknowledged', 'resolved', 'false_positive'] as const satisfies readonly AlertStatus[];

/** An alert as the API and the command line show it. Summaries hold figures and ids, never names. */
export interface AlertView {
  id: string;
  rule: string;
  severity: AlertSeverity;
  status: AlertStatus;
  summary: string;
  actorKind: string | null;
  actorId: string | null;
  sourceAddress: string | null;
  eventCount: number;
  firstSeenAt: string;
  lastSeenAt: string;
  createdAt: string;
  updatedAt: string;
  handledBy: string | null;
  handledAt: string | null;
  note: string | null;
  incidentId: string | null;
  version: number;
}

/** What the engine saw: audit entries and request events by their numbers, and the rule's figures. */
export interface AlertEvidence {
  auditSeqs: number[];
  requestEventIds: string[];
  figures: Record<string, unknown>;
}

/**
 * What a response did, as handlers are shown it: counts and plain facts. The stored details hold
 * more (the hashes of the sessions it sent back to the second step, the ids of the tokens it
 * revoked, so that it can be undone); those stay on the server.
 */
export interface ResponseDetails {
  /** The error code, when it failed. */
  error?: string;
  /** step_up: `second_factor` (sessions must prove a second factor again) or `ended` (the user has none). */
  mode?: 'ended' | 'second_factor';
  /** Sessions ended, or sent back to the second factor. */
  sessions?: number;
  /** API tokens revoked. */
  tokens?: number;
  alreadyLocked?: boolean;
  /** block_address: when the block ends by itself. */
  until?: string;
  alreadyInForce?: boolean;
  /** notify: how many handlers were told, and on which channels besides the app. */
  handlers?: number;
  channels?: string[];
  /** What undoing it did. */
  reversal?: { sessionsRestored?: number; tokensRestored?: number; unlocked?: boolean; blockLifted?: boolean; lockdownLifted?: boolean };
}

export interface AlertResponseView {
  id: string;
  kind: ResponseKind;
  target: string | null;
  state: AlertResponseRow['state'];
  details: ResponseDetails;
  createdAt: string;
  executedAt: string | null;
  reversedAt: string | null;
  reversedBy: string | null;
}

export interface AlertDetail extends AlertView {
  evidence: AlertEvidence;
  responses: AlertResponseView[];
}

export interface AlertPage {
  items: AlertView[];
  nextCursor: string | null;
}

/** A list request as it arrives (query strings), checked by `parseAlertQuery`. */
export interface RawAlertQuery {
  status?: string;
  severity?: string;
  rule?: string;
  actorId?: string;
  since?: string;
  until?: string;
  limit?: string | number;
  cursor?: string;
}

export interface AlertQuery {
  filter: AlertRowFilter;
  limit: number;
  cursor: string | null;
}

export const MAX_ALERT_PAGE = 200;
const DEFAULT_ALERT_PAGE = 50;
const MAX_NOTE = 1000;
const MAX_INCIDENT_ID = 100;
const CURSOR_KEY = 'alerts:createdAt';

/** Everything here needs `alerts.handle`: alerts name accounts and addresses under attack. */
export async function requireAlertHandler(deps: DataDeps, ctx: ActorContext): Promise<void> {
  await requirePermission(deps, ctx, 'alerts.handle', 'Handling alerts and detection needs the alerts.handle permission');
}

/**
 * Reading alerts needs `alerts.handle` from the roles too. An API token asks it with its `alerts`
 * scope: `alerts:read` reads them, and handling them (every change) takes `alerts:write`.
 */
export async function requireAlertReader(deps: DataDeps, ctx: ActorContext): Promise<void> {
  const p = ctx.principal;
  if (p.kind !== 'token') return requireAlertHandler(deps, ctx);
  if (!tokenAllows(p.scopes, 'alerts', 'read')) throw new AppError('auth.forbidden', "The token's scopes do not allow read access to alerts");
  // The scope is settled above; the roles are asked as for a token that may handle alerts.
  await requireAlertHandler(deps, { ...ctx, principal: { ...p, scopes: ['alerts:write'] } });
}

/**
 * Changing what detection does, or closing what it found, is what someone who took over a
 * handler's session would do first to cover their tracks: it needs alerts.handle and a second
 * factor proved in the last minutes (the permission is checked first, so those without it are
 * told so rather than asked for a factor).
 */
export async function requireHandlerStepUp(deps: DataDeps, ctx: ActorContext): Promise<void> {
  await requireAlertHandler(deps, ctx);
  await requireStepUp(deps, ctx);
}

/** Checks a list request: known statuses and severities, real times, a page size in range. */
export function parseAlertQuery(raw: RawAlertQuery): AlertQuery {
  const problems: FieldProblem[] = [];
  const list = (field: string, value: string | undefined): string[] => {
    if (value === undefined) return [];
    const items = value.split(',').map((v) => v.trim()).filter(Boolean);
    if (items.length > 20) problems.push({ field, message: 'names at most 20 values' });
    return items;
  };
  const oneOf = <T extends string>(field: string, value: string | undefined, allowed: readonly T[]): T[] => {
    const items = list(field, value);
    const unknown = items.filter((v) => !(allowed as readonly string[]).includes(v));
    if (unknown.length > 0) problems.push({ field, message: `must be among ${allowed.join(', ')}` });
    return items as T[];
  };
  const time = (field: string, value: string | undefined): string | null => {
    if (value === undefined || value === '') return null;
    const at = /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) ? new Date(value) : new Date(Number.NaN);
    if (Number.isNaN(at.getTime())) {
      problems.push({ field, message: 'must be a date or an ISO-8601 time' });
      return null;
    }
    return at.toISOString();
  };
  const statuses = oneOf('status', raw.status, ALERT_STATUSES);
  const severities = oneOf('severity', raw.severity, ALERT_SEVERITIES);
  const rules = list('rule', raw.rule);
  if (rules.some((r) => !/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/.test(r) || r.length > 80)) problems.push({ field: 'rule', message: 'must be rule keys such as auth.brute_force' });
  const actorId = raw.actorId === undefined || raw.actorId === '' ? null : raw.actorId;
  if (actorId !== null && (actorId.length > 200 || !actorId.isWellFormed() || /[\u0000-\u001f]/.test(actorId))) problems.push({ field: 'actorId', message: 'is not an actor id' });
  const since = time('since', raw.since);
  const until = time('until', raw.until);
  const limit = raw.limit === undefined || raw.limit === '' ? DEFAULT_ALERT_PAGE : Number(raw.limit);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_ALERT_PAGE) problems.push({ field: 'limit', message: `must be 1 to ${MAX_ALERT_PAGE}` });
  if (problems.length > 0) throw new AppError('request.invalid_filter', `The alert list request has invalid parameters: ${[...new Set(problems.map((p) => p.field))].join(', ')}`, problems);
  return { filter: { statuses, severities, rules, actorId, since, until }, limit, cursor: raw.cursor === undefined || raw.cursor === '' ? null : raw.cursor };
}

/** Alerts, newest first, filtered and paged by cursor. */
export async function listAlerts(deps: DataDeps, ctx: ActorContext, query: AlertQuery): Promise<AlertPage> {
  await requireAlertReader(deps, ctx);
  let after: { createdAt: string; id: string } | null = null;
  if (query.cursor !== null) {
    const { value, id } = decodeCursor(query.cursor, CURSOR_KEY);
    if (typeof value !== 'string') throw new AppError('request.invalid_cursor', 'The cursor is not valid for this list; start again without it');
    after = { createdAt: value, id };
  }
  const rows = await selectAlertPage(deps.db, query.filter, query.limit + 1, after);
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return { items: page.map(presentAlert), nextCursor: rows.length > query.limit && last ? encodeCursor(CURSOR_KEY, last.created_at, last.id) : null };
}

/** One alert with its evidence and the responses taken or offered. */
export async function getAlert(deps: DataDeps, ctx: ActorContext, id: string): Promise<AlertDetail> {
  await requireAlertReader(deps, ctx);
  const row = await findAlert(deps, id);
  return presentDetail(row, await selectResponses(deps.db, row.id));
}

/** What a person can do with an alert, and the states each may start from. */
const TRANSITIONS = {
  acknowledge: { from: ['open'], to: 'acknowledged', action: 'alert.acknowledged' },
  resolve: { from: ['open', 'acknowledged'], to: 'resolved', action: 'alert.resolved' },
  false_positive: { from: ['open', 'acknowledged'], to: 'false_positive', action: 'alert.false_positive' },
} as const satisfies Record<string, { from: readonly AlertStatus[]; to: AlertStatus; action: string }>;

export type AlertTransition = keyof typeof TRANSITIONS;

export interface TransitionInput {
  /** The version read; a stale one answers 409 record.version_conflict. */
  version: number;
  /** Replaces the alert's note when given. */
  note?: string | null;
}

/** Someone is looking at it. */
export function acknowledgeAlert(deps: AuthDeps, ctx: ActorContext, id: string, input: TransitionInput): Promise<AlertView> {
  return transitionAlert(deps, ctx, id, 'acknowledge', input);
}

/** It was real and has been dealt with. */
export function resolveAlert(deps: AuthDeps, ctx: ActorContext, id: string, input: TransitionInput): Promise<AlertView> {
  return transitionAlert(deps, ctx, id, 'resolve', input);
}

/** It was ordinary work: closes it and teaches the baselines, so the same work raises no alert again. */
export function markFalsePositive(deps: AuthDeps, ctx: ActorContext, id: string, input: TransitionInput): Promise<AlertView> {
  return transitionAlert(deps, ctx, id, 'false_positive', input);
}

/**
 * Moves an alert along (open → acknowledged → resolved or false positive), if it may go there
 * from where it is and `version` is still current. The change, its audit entry and, for a false
 * positive, the tuning of the baselines commit together or not at all. It needs a recent second
 * factor, and someone else than the user the alert is about: nobody closes their own alert.
 */
export async function transitionAlert(deps: AuthDeps, ctx: ActorContext, id: string, transition: AlertTransition, input: TransitionInput): Promise<AlertView> {
  await requireHandlerStepUp(deps, ctx);
  const step = TRANSITIONS[transition];
  const note = input.note === undefined ? undefined : parseNote(input.note);
  return inTransaction(deps, async (tx) => {
    const row = await findAlert(tx, id);
    const self = actingUserId(ctx.principal);
    if (self !== null && row.actor_id === self) throw new AppError('auth.forbidden', 'This alert is about your own account; another handler must deal with it');
    if (!(step.from as readonly AlertStatus[]).includes(row.status)) {
      throw new AppError('alert.invalid_transition', `The alert is ${row.status.replace('_', ' ')}; it cannot be marked ${step.to.replace('_', ' ')} from there`);
    }
    if (Number(row.version) !== input.version) throw staleVersion();
    const now = tx.clock.now().toISOString();
    const changes = { status: step.to, handled_by: handlerOf(ctx), handled_at: now, updated_at: now, ...(note !== undefined ? { note } : {}) };
    if (!(await updateAlertRow(tx.db, row.id, input.version, changes))) throw staleVersion();
    if (transition === 'false_positive') await tuneForFalsePositive(tx, row.id);
    // The note is free text a person typed; the log says only that there is one.
    await recordAudit(tx, ctx, {
      action: step.action,
      recordType: 'alerts',
      recordIds: [row.id],
      fields: note !== undefined ? ['status', 'note'] : ['status'],
      details: { rule: row.rule, from: row.status, to: step.to, noted: note !== undefined && note !== null },
    });
    return presentAlert({ ...row, ...changes, version: input.version + 1 });
  });
}

/**
 * Links an alert to an incident, or unlinks it with null. Incidents are handled elsewhere; the id
 * is a free reference (a ticket number in another system will do). `version`, when given, must be
 * current.
 */
export async function linkIncident(deps: AuthDeps, ctx: ActorContext, id: string, input: { incidentId: string | null; version?: number }): Promise<AlertView> {
  await requireAlertHandler(deps, ctx);
  const incidentId = parseIncidentId(input.incidentId);
  return inTransaction(deps, async (tx) => {
    const row = await findAlert(tx, id);
    const version = input.version ?? Number(row.version);
    if (Number(row.version) !== version) throw staleVersion();
    const now = tx.clock.now().toISOString();
    const changes = { incident_id: incidentId, updated_at: now };
    if (!(await updateAlertRow(tx.db, row.id, version, changes))) throw staleVersion();
    // The reference is free text a person typed; the log says only whether one is linked now.
    await recordAudit(tx, ctx, { action: 'alert.incident_linked', recordType: 'alerts', recordIds: [row.id], fields: ['incidentId'], details: { linked: incidentId !== null } });
    return presentAlert({ ...row, ...changes, version: version + 1 });
  });
}

/** Takes a response the rule only suggested (ends sessions, locks the account…), now, by a person with a recent second factor. */
export async function executeAlertResponse(deps: AuthDeps, ctx: ActorContext, alertId: string, responseId: string): Promise<AlertResponseView> {
  await requireHandlerStepUp(deps, ctx);
  return withoutAlertId(await executeResponse(deps, ctx, alertId, responseId));
}

/** Undoes a response that was taken: unlocks, unblocks, lifts the lockdown, gives back revoked tokens. */
export async function reverseAlertResponse(deps: AuthDeps, ctx: ActorContext, alertId: string, responseId: string): Promise<AlertResponseView> {
  await requireAlertHandler(deps, ctx);
  return withoutAlertId(await reverseResponse(deps, ctx, alertId, responseId));
}

function withoutAlertId(view: ResponseView): AlertResponseView {
  const { alertId: _alertId, details, ...rest } = view;
  return { ...rest, details: presentDetails(details) };
}

async function findAlert(deps: DataDeps, id: string): Promise<AlertRow> {
  const row = isId(id) ? await selectAlert(deps.db, id) : undefined;
  if (!row) throw new AppError('alert.not_found', 'No such alert');
  return row;
}

/** Who handled an alert: a user id, or the operator or job for work without one. */
export function handlerOf(ctx: ActorContext): string {
  const p = ctx.principal;
  if (p.kind === 'system') return `system:${p.job}`;
  if (p.kind === 'cli') return p.userId ?? `cli:${p.operator}`;
  return p.userId;
}

function parseNote(raw: string | null): string | null {
  if (raw === null) return null;
  const note = raw.trim();
  if (note.length > MAX_NOTE || !note.isWellFormed() || /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(note)) {
    throw new AppError('request.invalid', `The note must be text of at most ${MAX_NOTE} characters`, [{ field: 'note', message: `must be text of at most ${MAX_NOTE} characters` }]);
  }
  return note === '' ? null : note;
}

function parseIncidentId(raw: string | null): string | null {
  if (raw === null) return null;
  const id = raw.trim();
  if (id === '' || id.length > MAX_INCIDENT_ID || !id.isWellFormed() || /[\u0000-\u001f\u007f]/.test(id)) {
    throw new AppError('request.invalid', `The incident id must be one line of 1 to ${MAX_INCIDENT_ID} characters, or null`, [{ field: 'incidentId', message: `must be one line of 1 to ${MAX_INCIDENT_ID} characters` }]);
  }
  return id;
}

function staleVersion(): AppError {
  return new AppError('record.version_conflict', 'The alert was changed elsewhere; reload it and try again');
}

export function presentAlert(row: AlertRow): AlertView {
  return {
    id: row.id,
    rule: row.rule,
    severity: row.severity,
    status: row.status,
    summary: row.summary,
    actorKind: row.actor_kind,
    actorId: row.actor_id,
    sourceAddress: row.source_address,
    eventCount: Number(row.event_count),
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    handledBy: row.handled_by,
    handledAt: row.handled_at,
    note: row.note,
    incidentId: row.incident_id,
    version: Number(row.version),
  };
}

function presentDetail(row: AlertRow, responses: AlertResponseRow[]): AlertDetail {
  return { ...presentAlert(row), evidence: parseEvidence(row.evidence), responses: responses.map(presentResponse) };
}

export function presentResponse(row: AlertResponseRow): AlertResponseView {
  return {
    id: row.id,
    kind: row.kind,
    target: row.target,
    state: row.state,
    details: presentDetails(parseObject(row.details)),
    createdAt: row.created_at,
    executedAt: row.executed_at,
    reversedAt: row.reversed_at,
    reversedBy: row.reversed_by,
  };
}

/** The whitelist of ResponseDetails: each fact only when it has its type; everything else stays out. */
export function presentDetails(raw: Record<string, unknown>): ResponseDetails {
  const shown: ResponseDetails = {};
  const count = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  if (typeof raw.error === 'string' && /^[a-z_]+(\.[a-z_]+)+$/.test(raw.error)) shown.error = raw.error;
  if (raw.mode === 'ended' || raw.mode === 'second_factor') shown.mode = raw.mode;
  if (count(raw.sessions)) shown.sessions = raw.sessions;
  if (count(raw.tokens)) shown.tokens = raw.tokens;
  if (typeof raw.alreadyLocked === 'boolean') shown.alreadyLocked = raw.alreadyLocked;
  if (typeof raw.until === 'string' && !Number.isNaN(Date.parse(raw.until))) shown.until = raw.until;
  if (typeof raw.alreadyInForce === 'boolean') shown.alreadyInForce = raw.alreadyInForce;
  if (count(raw.handlers)) shown.handlers = raw.handlers;
  if (Array.isArray(raw.channels)) shown.channels = raw.channels.filter((c): c is string => c === 'email' || c === 'webhook' || c === 'syslog');
  const undone = typeof raw.reversal === 'object' && raw.reversal !== null && !Array.isArray(raw.reversal) ? (raw.reversal as Record<string, unknown>) : null;
  if (undone) {
    const reversal: NonNullable<ResponseDetails['reversal']> = {};
    if (count(undone.sessionsRestored)) reversal.sessionsRestored = undone.sessionsRestored;
    if (count(undone.tokensRestored)) reversal.tokensRestored = undone.tokensRestored;
    for (const key of ['unlocked', 'blockLifted', 'lockdownLifted'] as const) if (typeof undone[key] === 'boolean') reversal[key] = undone[key];
    shown.reversal = reversal;
  }
  return shown;
}

function parseEvidence(text: string): AlertEvidence {
  const raw = parseObject(text);
  const seqs = Array.isArray(raw.auditSeqs) ? raw.auditSeqs.map(Number).filter((n) => Number.isSafeInteger(n)) : [];
  const ids = Array.isArray(raw.requestEventIds) ? raw.requestEventIds.filter((v): v is string => typeof v === 'string') : [];
  const figures = typeof raw.figures === 'object' && raw.figures !== null && !Array.isArray(raw.figures) ? (raw.figures as Record<string, unknown>) : {};
  return { auditSeqs: seqs, requestEventIds: ids, figures };
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
