import type { paths } from '../api/schema';
import { formatDateTime } from '../shared/format';

type Json<T> = T extends { responses: { 200: { content: { 'application/json': infer B } } } } ? B : never;

export type AlertsPage = Json<paths['/api/v1/alerts']['get']>;
export type AlertSummary = AlertsPage['items'][number];
export type AlertsQuery = NonNullable<paths['/api/v1/alerts']['get']['parameters']['query']>;
export type AlertDetail = Json<paths['/api/v1/alerts/{id}']['get']>;
export type AlertResponse = AlertDetail['responses'][number];
export type AlertSeverity = AlertSummary['severity'];
export type AlertStatus = AlertSummary['status'];
export type ResponseKind = AlertResponse['kind'];
export type RuleKey = AlertSummary['rule'];

/** Most severe first, as the filters and the rules editor list them. */
export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const satisfies readonly AlertSeverity[];

export const STATUSES = ['open', 'acknowledged', 'resolved', 'false_positive'] as const satisfies readonly AlertStatus[];

/** The responses a rule can take, in the order of how far they reach. */
export const RESPONSE_KINDS = ['notify', 'step_up', 'end_sessions', 'lock_account', 'block_address', 'lockdown'] as const satisfies readonly ResponseKind[];

/**
 * The responses an administrator can undo once done: everything but a notice, which has gone out.
 * (Ended sessions stay ended; reversing gives back the tokens that were revoked with them.)
 */
export const REVERSIBLE_KINDS: ReadonlySet<string> = new Set<ResponseKind>(['step_up', 'end_sessions', 'lock_account', 'block_address', 'lockdown']);

/** Responses that act on the alert's user; the others act on its address or the whole organisation. */
export const ON_USER: ReadonlySet<string> = new Set<ResponseKind>(['step_up', 'end_sessions', 'lock_account']);

/** What a response acts on, or would once executed: a suggested one has no target of its own yet. */
export function responseTarget(response: { kind: string; target: string | null }, alert: { actorId: string | null; sourceAddress: string | null }): string | null {
  if (response.target) return response.target;
  if (ON_USER.has(response.kind)) return alert.actorId;
  if (response.kind === 'block_address') return alert.sourceAddress;
  return null;
}

/**
 * The shipped rules, by their stable keys, in the order the filters list them; their names and
 * explanations are in the texts. The API declares the keys: this stops compiling when the server
 * adds a rule the list lacks, or drops one it holds.
 */
export const RULE_KEYS = [
  'auth.brute_force',
  'auth.credential_stuffing',
  'auth.password_spraying',
  'auth.success_after_failures',
  'auth.new_device',
  'session.hijack',
  'data.read_spike',
  'data.slow_exfiltration',
  'data.bulk_export',
  'data.off_hours',
  'data.reveal_spike',
  'access.privilege_escalation',
  'account.dormant_active',
  'account.disabled_activity',
  'token.new_address',
  'honeytoken.touched',
  'request.probe',
  'audit.verification_failed',
  'data.mass_delete',
] as const satisfies readonly RuleKey[];
const everyRule: Exclude<RuleKey, (typeof RULE_KEYS)[number]> extends never ? true : never = true;
void everyRule;

export function severityColor(severity: string): string {
  return severity === 'critical' ? 'red' : severity === 'high' ? 'orange' : severity === 'medium' ? 'yellow' : 'gray';
}

export function statusColor(status: string): string {
  return status === 'open' ? 'red' : status === 'acknowledged' ? 'blue' : status === 'resolved' ? 'green' : 'gray';
}

export function responseStateColor(state: string): string {
  return state === 'done' ? 'green' : state === 'suggested' ? 'blue' : state === 'failed' ? 'red' : 'gray';
}

/** Resolved and false-positive alerts are closed: nothing more is done with them. */
export function isClosed(status: string): boolean {
  return status === 'resolved' || status === 'false_positive';
}

/** How often open screens ask again, so a new alert or a response that ran shows without a reload. */
export const REFRESH_MS = 5000;

/** "recordsRead" or "records_read" as "Records read": for figures the texts do not name. */
export function humanize(key: string): string {
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_.]+/g, ' ').toLowerCase().trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

/** A figure's value as text: numbers and times in the reader's language, lists joined, anything else as JSON. */
export function figureText(value: unknown, language: string, yesNo: (yes: boolean) => string = String): string {
  if (typeof value === 'number') return value.toLocaleString(language);
  if (typeof value === 'string') return ISO_TIME.test(value) ? formatDateTime(value, language) : value;
  if (typeof value === 'boolean') return yesNo(value);
  if (value === null) return '—';
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' || typeof v === 'number')) return value.join(', ');
  return JSON.stringify(value);
}
