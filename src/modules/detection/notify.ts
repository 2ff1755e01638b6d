import { createHmac } from 'node:crypto';
import dgram from 'node:dgram';
import os from 'node:os';
import { isIPv6 } from 'node:net';
import type { Config } from '../../config/config.js';
import type { AlertDeliveriesTable } from '../../db/schema.js';
import type { DataDeps } from '../../data/record-store.js';
import type { RoleDefinition } from '../../policy/model.js';
import { newId } from '../../shared/ids.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { describeNotice, type Locale } from '../notices/notice-texts.js';

/**
 * Telling people about a new alert: an in-app notice to everyone who handles alerts, and one
 * delivery per channel (mail to those people, the signed webhook, syslog) written in the alert's
 * transaction and sent afterwards by a courier in any server process, retried with backoff.
 * Nothing sent carries personal data: ids, the rule, the severity, the summary (figures only) and a
 * link to the alert.
 */

/** What a notification says of an alert. */
export interface AlertNotice {
  readonly id: string;
  readonly rule: string;
  readonly severity: string;
  readonly summary: string;
  /** When it was raised (ISO). */
  readonly raisedAt: string;
  /** The user the alert is about, who is not told of it even if they handle alerts. */
  readonly subjectId?: string | null;
}

type Channel = AlertDeliveriesTable['channel'];

/** A failed delivery is tried again after these waits (about two and a half hours in all), then left as failed. */
const RETRY_MINUTES = [1, 5, 30, 120];
/** A claim older than this belongs to a process that stopped mid-send; another may take the delivery. */
const CLAIM_TIMEOUT_MS = 2 * 60_000;
const SEND_TIMEOUT_MS = 10_000;

/** Whether any of these roles grants `alerts.handle`. */
export async function rolesHandleAlerts(deps: Pick<DataDeps, 'db'>, roleIds: readonly string[]): Promise<boolean> {
  if (roleIds.length === 0) return false;
  const rows = await deps.db.selectFrom('roles').select('definition').where('id', 'in', [...roleIds]).execute();
  return rows.some((r) => handlesAlerts(r.definition));
}

function handlesAlerts(definition: string): boolean {
  return ((JSON.parse(definition) as RoleDefinition).permissions ?? []).includes('alerts.handle');
}

/** The roles that grant `alerts.handle`. */
export async function handlerRoleIds(deps: Pick<DataDeps, 'db'>): Promise<string[]> {
  return (await deps.db.selectFrom('roles').select(['id', 'definition']).execute()).filter((r) => handlesAlerts(r.definition)).map((r) => r.id);
}

/**
 * The active, unlocked users who hold a role granting `alerts.handle`, but `except` (the user an
 * alert is about: telling a suspect that they are suspected helps them hide).
 */
export async function alertHandlers(deps: Pick<DataDeps, 'db'>, options: { except?: string | null } = {}): Promise<{ id: string; email: string; name: string; locale: Locale }[]> {
  const roles = await handlerRoleIds(deps);
  if (roles.length === 0) return [];
  let query = deps.db
    .selectFrom('users')
    .innerJoin('user_roles', 'user_roles.user_id', 'users.id')
    .select(['users.id', 'users.email', 'users.name', 'users.locale'])
    .distinct()
    .where('user_roles.role_id', 'in', roles)
    .where('users.status', '=', 'active')
    .where('users.locked_at', 'is', null);
  if (options.except) query = query.where('users.id', '!=', options.except);
  const rows = await query.orderBy('users.id').execute();
  return rows.map((r) => ({ id: r.id, email: r.email, name: r.name, locale: r.locale === 'zh-CN' ? 'zh-CN' : 'en' }));
}

/** Where people look at an alert in the web app. */
export function alertLink(config: Pick<Config, 'publicUrl'>, alertId: string): string {
  return `${config.publicUrl}/security/alerts/${alertId}`;
}

/** The channels set up besides the app: mail always (to those who handle alerts), webhook and syslog when configured. */
function channelsOf(config: Config, handlers: number): Channel[] {
  return [...(handlers > 0 ? ['email' as const] : []), ...(config.alerts.webhookUrl ? ['webhook' as const] : []), ...(config.alerts.syslog ? ['syslog' as const] : [])];
}

/**
 * Writes, in the caller's transaction, the in-app notices and one pending delivery per channel.
 * Answers what the response's details keep: how many people and which channels.
 */
export async function queueAlertNotifications(deps: AuthDeps, alert: AlertNotice): Promise<Record<string, unknown>> {
  const now = deps.clock.now().toISOString();
  const handlers = await alertHandlers(deps, { except: alert.subjectId });
  const details = JSON.stringify({ alertId: alert.id, rule: alert.rule, severity: alert.severity, summary: alert.summary, at: alert.raisedAt, link: alertLink(deps.config, alert.id) });
  if (handlers.length > 0) {
    // The mail copy of these notices is the alert's own `email` delivery (one per alert, retried
    // like the other channels), so the notices' courier is told there is nothing to mail.
    await deps.db
      .insertInto('notices')
      .values(handlers.map((h) => ({ id: newId(), user_id: h.id, kind: 'security.alert' as const, details, created_at: now, read_at: null, mail_state: 'sent' as const, mail_attempts: 0, mail_claimed_at: null, mail_next_at: now })))
      .execute();
  }
  const channels = channelsOf(deps.config, handlers.length);
  if (channels.length > 0) {
    await deps.db
      .insertInto('alert_deliveries')
      .values(channels.map((channel) => ({ id: newId(), alert_id: alert.id, channel, state: 'pending' as const, attempts: 0, next_at: now, last_error: null, created_at: now })))
      .execute();
  }
  return { handlers: handlers.length, channels };
}

/** The JSON an alert goes out as: nothing that names or locates a person. */
async function payloadOf(deps: AuthDeps, alertId: string): Promise<Record<string, unknown> | null> {
  const row = await deps.db.selectFrom('alerts').select(['id', 'rule', 'severity', 'status', 'summary', 'event_count', 'first_seen_at', 'last_seen_at', 'created_at']).where('id', '=', alertId).executeTakeFirst();
  if (!row) return null;
  return {
    type: 'rampart.alert',
    alert: { id: row.id, rule: row.rule, severity: row.severity, status: row.status, summary: row.summary, eventCount: row.event_count, firstSeenAt: row.first_seen_at, lastSeenAt: row.last_seen_at, createdAt: row.created_at },
    link: alertLink(deps.config, row.id),
  };
}

/** The signature header of a webhook body: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. */
export function webhookSignature(secret: string, body: string, unixSeconds: number): string {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}

/** A failure as the delivery row keeps it: a code, never a message that could quote a URL or a secret. */
class DeliveryFailure extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

async function sendWebhook(deps: AuthDeps, payload: Record<string, unknown>): Promise<void> {
  const { webhookUrl, webhookSecret } = deps.config.alerts;
  if (!webhookUrl || !webhookSecret) throw new DeliveryFailure('not_configured');
  const body = JSON.stringify({ ...payload, sentAt: new Date().toISOString() });
  let status: number;
  try {
    const answer = await fetch(webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'Rampart alerts', 'x-rampart-signature': webhookSignature(webhookSecret, body, Math.floor(Date.now() / 1000)) },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
    });
    status = answer.status;
    await answer.body?.cancel().catch(() => undefined);
  } catch {
    throw new DeliveryFailure('network');
  }
  if (status < 200 || status > 299) throw new DeliveryFailure(`http_${status}`);
}

const SYSLOG_SEVERITY: Record<string, number> = { critical: 2, high: 3, medium: 4, low: 5 };
/** Facility 4: security/authorization messages. */
const SYSLOG_FACILITY = 4;

/** An SD-PARAM value: `"`, `\` and `]` escaped (RFC 5424 6.3.3). */
function sdValue(value: unknown): string {
  return String(value).replace(/[\\"\]]/g, (c) => `\\${c}`);
}

/** A header field: printable US-ASCII without spaces, or `-` (RFC 5424 6.2). */
function headerField(value: string, max: number): string {
  const clean = value.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return clean === '' ? '-' : clean;
}

/** The RFC 5424 message for an alert. 32473 is the enterprise number RFC 5612 sets aside for documentation and examples. */
export function syslogMessage(payload: { alert: { id: string; rule: string; severity: string; summary: string }; link: string }, at: Date = new Date()): string {
  const { alert } = payload;
  const pri = SYSLOG_FACILITY * 8 + (SYSLOG_SEVERITY[alert.severity] ?? 4);
  const data = `[rampart@32473 alertId="${sdValue(alert.id)}" rule="${sdValue(alert.rule)}" severity="${sdValue(alert.severity)}" link="${sdValue(payload.link)}"]`;
  return `<${pri}>1 ${at.toISOString()} ${headerField(os.hostname(), 255)} rampart ${process.pid} alert ${data} \uFEFF${alert.summary.slice(0, 1000)}`;
}

async function sendSyslog(deps: AuthDeps, payload: Record<string, unknown>): Promise<void> {
  const target = deps.config.alerts.syslog;
  if (!target) throw new DeliveryFailure('not_configured');
  const message = Buffer.from(syslogMessage(payload as Parameters<typeof syslogMessage>[0]), 'utf8');
  const socket = dgram.createSocket(isIPv6(target.host) ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new DeliveryFailure('timeout')), SEND_TIMEOUT_MS);
      socket.once('error', () => {
        clearTimeout(timer);
        reject(new DeliveryFailure('network'));
      });
      socket.send(message, target.port, target.host, (error) => {
        clearTimeout(timer);
        if (error) reject(new DeliveryFailure('network'));
        else resolve();
      });
    });
  } finally {
    socket.close();
  }
}

async function sendEmail(deps: AuthDeps, alertId: string): Promise<void> {
  const alert = await deps.db.selectFrom('alerts').select(['rule', 'severity', 'summary', 'created_at', 'actor_kind', 'actor_id']).where('id', '=', alertId).executeTakeFirst();
  if (!alert) return;
  const handlers = await alertHandlers(deps, { except: alert.actor_kind === 'cli' || alert.actor_kind === 'system' ? null : alert.actor_id });
  const details = { alertId, rule: alert.rule, severity: alert.severity, summary: alert.summary, at: alert.created_at, link: alertLink(deps.config, alertId) };
  for (const handler of handlers) {
    const { title, body } = describeNotice('security.alert', details, handler.locale);
    const greeting = handler.locale === 'zh-CN' ? `${handler.name}，您好：` : `Hello ${handler.name},`;
    try {
      await deps.mailer.send({ to: handler.email, subject: `Rampart: ${title}`, text: [greeting, '', body, ''].join('\n') });
    } catch {
      throw new DeliveryFailure('mail');
    }
  }
}

/**
 * Sends the deliveries that are due, oldest first. Each is claimed before it is sent (its next
 * attempt pushed past the claim timeout), so two server processes never send the same one at
 * once; one left by a process that stopped mid-send is taken up again after the timeout. A mail
 * delivery that fails half way is sent again whole. Answers how many were sent.
 */
export async function deliverAlerts(deps: AuthDeps, options: { limit?: number; going?: () => boolean } = {}): Promise<number> {
  const now = deps.clock.now();
  const due = await deps.db
    .selectFrom('alert_deliveries')
    .selectAll()
    .where('state', '=', 'pending')
    .where('next_at', '<=', now.toISOString())
    .orderBy('next_at')
    .orderBy('id')
    .limit(options.limit ?? 50)
    .execute();
  let sent = 0;
  for (const delivery of due) {
    if (options.going && !options.going()) break;
    const attempt = delivery.attempts + 1;
    const claimUntil = new Date(deps.clock.now().getTime() + CLAIM_TIMEOUT_MS).toISOString();
    const claim = await deps.db
      .updateTable('alert_deliveries')
      .set({ attempts: attempt, next_at: claimUntil })
      .where('id', '=', delivery.id)
      .where('state', '=', 'pending')
      .where('attempts', '=', delivery.attempts)
      .where('next_at', '=', delivery.next_at)
      .executeTakeFirst();
    if (Number(claim.numUpdatedRows) !== 1) continue;
    let failure: string | null = null;
    try {
      const payload = await payloadOf(deps, delivery.alert_id);
      if (payload) {
        if (delivery.channel === 'webhook') await sendWebhook(deps, payload);
        else if (delivery.channel === 'syslog') await sendSyslog(deps, payload);
        else await sendEmail(deps, delivery.alert_id);
      }
      sent += 1;
    } catch (error) {
      failure = error instanceof DeliveryFailure ? error.code : 'internal';
    }
    const at = deps.clock.now();
    const wait = RETRY_MINUTES[attempt - 1];
    const outcome: Pick<AlertDeliveriesTable, 'state' | 'next_at' | 'last_error'> =
      failure === null
        ? { state: 'sent', next_at: at.toISOString(), last_error: null }
        : wait === undefined
          ? { state: 'failed', next_at: at.toISOString(), last_error: failure }
          : { state: 'pending', next_at: new Date(at.getTime() + wait * 60_000).toISOString(), last_error: failure };
    // Only while the claim is still this one's: one that expired belongs to whoever took it over.
    await deps.db.updateTable('alert_deliveries').set(outcome).where('id', '=', delivery.id).where('attempts', '=', attempt).where('next_at', '=', claimUntil).execute();
  }
  return sent;
}

/** Sends due alert deliveries every couple of seconds while the server runs; one round at a time. */
export class AlertCourier {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | null = null;
  private stopping = false;

  constructor(
    private readonly deps: AuthDeps,
    private readonly log: { warn(message: string): void },
    private readonly everyMs = 2_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      this.round ??= this.deliver().finally(() => (this.round = null));
    }, this.everyMs);
    this.timer.unref();
  }

  /** Stops after the delivery being sent now, if any. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.round;
  }

  private async deliver(): Promise<void> {
    try {
      await deliverAlerts(this.deps, { going: () => !this.stopping });
    } catch (error) {
      this.log.warn(`alert delivery failed (${(error as { code?: unknown }).code ?? (error as Error).name})`);
    }
  }
}
