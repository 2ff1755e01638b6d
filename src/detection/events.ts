import { isIPv4, isIPv6 } from 'node:net';
import { keyHash } from './windows.js';

/**
 * One thing that happened, as the engine sees it: an audit entry or a request event, reduced to
 * the fields the rules read. Times are the events' own (milliseconds since the epoch), never the
 * reading process's clock, so a simulated clock and a replay of history behave like live traffic.
 */
export interface DetectionEvent {
  readonly source: 'audit' | 'request';
  /** The audit entry's sequence number; 0 for request events. */
  readonly seq: number;
  /** The request event's id; '' for audit entries. */
  readonly requestEventId: string;
  readonly at: number;
  /** The audit action, or `request.<kind>` for request events (`request.probe`, `request.not_found`…). */
  readonly action: string;
  readonly outcome: string;
  /** `user`, `token`, `cli`, `system`, `anonymous`; null when a request event had nobody behind it. */
  readonly actorKind: string | null;
  /** For users and tokens, the user id; for anonymous sign-in failures, the account tried, if known. */
  readonly actorId: string | null;
  /** The session (hash) or token id the event came through. */
  readonly sessionId: string | null;
  readonly address: string | null;
  readonly userAgent: string | null;
  readonly recordType: string | null;
  readonly recordIds: readonly string[];
  /** How many record ids there are (without splitting them out). */
  readonly recordCount: number;
  /**
   * How a read reached its records (`details.mode` of record.read and record.export): `open` (one
   * record fetched by its id), `list` (a list page or a search), `duplicates` (a duplicate check),
   * `export`; null when the entry does not say (entries written before reads said it).
   */
  readonly mode: string | null;
  readonly details: Readonly<Record<string, unknown>>;
  /** Request events: the answer's status, the probe kind, and how many more like it were only counted. */
  readonly status: number;
  readonly probe: string | null;
  readonly path: string;
  readonly repeats: number;
  /** Writes `keyHash` of each record id into `out` from index 0; answers how many there are. */
  hashRecords(out: number[]): number;
}

const NO_IDS: readonly string[] = Object.freeze([]);
const NO_DETAILS: Readonly<Record<string, unknown>> = Object.freeze({});
const SMALL = 0x3fffffff;
const QUOTE = 34;

/** Audit actions whose `details` a rule reads; the others are not parsed, which keeps replay fast. */
const DETAILED_ACTIONS = new Set([
  'auth.login_failed',
  'auth.session_ended',
  'auth.token_refused',
  'user.change_access',
  'user.create',
  'role.update',
  'role.create',
  'export.completed',
  'token.create',
  'token.revoke',
  'token.new_address',
  'audit.verify',
]);

/** Audit actions that say how they read (`details.mode`). */
export const ACTIONS_WITH_MODE: readonly string[] = Object.freeze(['record.read', 'record.export']);
/** The read modes there are; anything else is taken as unsaid. */
export const READ_MODES: readonly string[] = Object.freeze(['open', 'list', 'duplicates', 'export']);

/** An audit entry as stored (the columns the engine reads). */
export interface AuditRow {
  seq: number | string;
  occurred_at: string;
  actor_kind: string;
  actor_id: string | null;
  session_id: string | null;
  source_address: string | null;
  user_agent: string | null;
  action: string;
  record_type?: string | null;
  record_ids: string;
  outcome: string;
  details: string;
  /** `details.mode`, when the database picked it out (the runner's reads); otherwise read from `details`. */
  mode?: string | null;
}

/** A request event as stored. */
export interface RequestEventRow {
  id: string;
  occurred_at: string;
  source_address: string | null;
  user_agent: string | null;
  method?: string;
  path: string;
  status: number;
  kind: string;
  probe: string | null;
  actor_kind: string | null;
  actor_id: string | null;
  session_id: string | null;
  repeats: number;
}

/** Audit actions whose `details` a rule reads: the runner asks the database for no others. */
export const ACTIONS_WITH_DETAILS: readonly string[] = Object.freeze([...DETAILED_ACTIONS]);
/** Audit actions whose User-Agent a rule reads (a completed sign-in's device). */
export const ACTIONS_WITH_AGENT: readonly string[] = Object.freeze(['auth.login']);

/**
 * An event as read from storage. Record ids and details stay the text they were stored as until a
 * rule asks for them: most events are reads whose ids are only hashed, straight from the text, and
 * whose details nobody reads. One class for every event, so the engine's code sees one shape.
 */
class StoredEvent implements DetectionEvent {
  private ids: readonly string[] | null;
  private parsed: Readonly<Record<string, unknown>> | null;

  constructor(
    readonly source: 'audit' | 'request',
    readonly seq: number,
    readonly requestEventId: string,
    readonly at: number,
    readonly action: string,
    readonly outcome: string,
    readonly actorKind: string | null,
    readonly actorId: string | null,
    readonly sessionId: string | null,
    readonly address: string | null,
    readonly userAgent: string | null,
    readonly recordType: string | null,
    readonly mode: string | null,
    readonly status: number,
    readonly probe: string | null,
    readonly path: string,
    readonly repeats: number,
    ids: readonly string[] | null,
    private readonly idsText: string,
    details: Readonly<Record<string, unknown>> | null,
    private readonly detailsText: string,
  ) {
    this.ids = ids;
    this.parsed = details;
  }

  get recordIds(): readonly string[] {
    return (this.ids ??= idsOf(this.idsText));
  }

  get recordCount(): number {
    if (this.ids !== null) return this.ids.length;
    const n = scanIds(this.idsText, null);
    return n >= 0 ? n : this.recordIds.length;
  }

  get details(): Readonly<Record<string, unknown>> {
    if (this.parsed === null) {
      const value = this.detailsText === '' || this.detailsText === '{}' ? null : parseJson(this.detailsText);
      this.parsed = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : NO_DETAILS;
    }
    return this.parsed;
  }

  hashRecords(out: number[]): number {
    if (this.ids === null) {
      const n = scanIds(this.idsText, out);
      if (n >= 0) return n;
    }
    const ids = this.recordIds;
    for (let i = 0; i < ids.length; i += 1) out[i] = keyHash(ids[i]!);
    return ids.length;
  }
}

/**
 * Record ids as stored: canonical JSON of an array of ids. Ids never hold quotes or backslashes,
 * so splitting the text answers what parsing it would, at a fraction of the cost on a list page.
 */
function idsOf(text: string): readonly string[] {
  if (text === '[]' || text === '') return NO_IDS;
  if (text.length > 4 && text.startsWith('["') && text.endsWith('"]') && !text.includes('\\')) return text.slice(2, -2).split('","');
  const parsed = parseJson(text);
  return Array.isArray(parsed) && parsed.every((id) => typeof id === 'string') ? (parsed as string[]) : NO_IDS;
}

/**
 * Counts the ids in stored text and, given `out`, writes the `keyHash` of each, without making a
 * string of any: the same FNV-1a, taken over the characters between the quotes. Answers -1 for text it
 * does not read this way (an escape, anything but strings between the brackets): the caller then
 * parses it properly.
 */
function scanIds(text: string, out: number[] | null): number {
  const length = text.length;
  if (length < 2 || text.charCodeAt(0) !== 91 || text.charCodeAt(length - 1) !== 93) return text === '' ? 0 : -1;
  let n = 0;
  let inside = false;
  let hash = 0;
  for (let i = 1; i < length - 1; i += 1) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      if (inside) {
        if (out !== null) out[n] = hash & SMALL;
        n += 1;
        inside = false;
      } else {
        inside = true;
        hash = 0x811c9dc5;
      }
    } else if (inside) {
      if (c === 92) return -1;
      if (out !== null) {
        hash ^= c;
        hash = Math.imul(hash, 0x01000193);
      }
    } else if (c !== 44) {
      return -1;
    }
  }
  return inside ? -1 : n;
}

/** `details.mode` out of stored details, without parsing them (canonical JSON: no spaces, keys quoted). */
function modeIn(details: string): string | null {
  const at = details.indexOf('"mode":"');
  if (at < 0) return null;
  const end = details.indexOf('"', at + 8);
  return end < 0 ? null : readMode(details.slice(at + 8, end));
}

function readMode(value: unknown): string | null {
  return typeof value === 'string' && READ_MODES.includes(value) ? value : null;
}

export function eventFromAudit(row: AuditRow): DetectionEvent {
  const modal = ACTIONS_WITH_MODE.includes(row.action);
  const mode = !modal ? null : row.mode !== undefined ? readMode(row.mode) : modeIn(row.details);
  return new StoredEvent(
    'audit',
    Number(row.seq),
    '',
    Date.parse(row.occurred_at),
    row.action,
    row.outcome,
    row.actor_kind,
    row.actor_id,
    row.session_id,
    bareAddress(row.source_address),
    row.user_agent,
    row.record_type ?? null,
    mode,
    0,
    null,
    '',
    0,
    null,
    row.record_ids,
    null,
    row.details,
  );
}

export function eventFromRequest(row: RequestEventRow): DetectionEvent {
  const status = Number(row.status);
  return new StoredEvent(
    'request',
    0,
    row.id,
    Date.parse(row.occurred_at),
    `request.${row.kind}`,
    status >= 400 ? 'failure' : 'success',
    row.actor_kind,
    row.actor_id,
    row.session_id,
    bareAddress(row.source_address),
    row.user_agent,
    null,
    null,
    status,
    row.probe,
    row.path,
    Math.max(0, Number(row.repeats) || 0),
    NO_IDS,
    '[]',
    NO_DETAILS,
    '{}',
  );
}

type EventFields = Omit<DetectionEvent, 'recordCount' | 'hashRecords' | 'mode'> & { mode: string | null };

/** A partial event for tests and replays: everything not given takes its empty value; `mode` defaults to `details.mode`. */
export function detectionEvent(fields: Partial<EventFields> & Pick<DetectionEvent, 'action' | 'at'>): DetectionEvent {
  const details = fields.details ?? NO_DETAILS;
  const mode = fields.mode !== undefined ? fields.mode : ACTIONS_WITH_MODE.includes(fields.action) ? readMode(details.mode) : null;
  return new StoredEvent(
    fields.source ?? 'audit',
    fields.seq ?? 0,
    fields.requestEventId ?? '',
    fields.at,
    fields.action,
    fields.outcome ?? 'success',
    fields.actorKind ?? null,
    fields.actorId ?? null,
    fields.sessionId ?? null,
    fields.address ?? null,
    fields.userAgent ?? null,
    fields.recordType ?? null,
    mode,
    fields.status ?? 0,
    fields.probe ?? null,
    fields.path ?? '',
    fields.repeats ?? 0,
    fields.recordIds ?? NO_IDS,
    '[]',
    details,
    '{}',
  );
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** An IPv4 address as itself, not in its IPv4-mapped IPv6 form, so both count as one address. */
export function bareAddress(address: string | null): string | null {
  if (!address) return null;
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/** The network a sign-in came from: an IPv4 /24 or an IPv6 /48, as the sign-in notices count them. */
export function networkOf(address: string | null): string | null {
  if (!address) return null;
  if (isIPv4(address)) return `${address.slice(0, address.lastIndexOf('.'))}.0/24`;
  if (!isIPv6(address)) return null;
  const [head = '', tail = ''] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = address.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 3).map((g) => parseInt(g, 16).toString(16)).join(':')}::/48`;
}
