import { isIPv4, isIPv6 } from 'node:net';
import type { DataDeps } from '../../data/record-store.js';
import type { NoticeKind, NoticesTable } from '../../db/schema.js';
import { AppError } from '../../shared/errors.js';
import { isId, newId } from '../../shared/ids.js';
import type { ActorContext } from '../../shared/principal.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { describeDevice } from '../sessions/device.js';
import { describeNotice, type Locale, type NoticeText } from './notice-texts.js';

export interface NoticeView extends NoticeText {
  id: string;
  kind: NoticeKind;
  createdAt: string;
  readAt: string | null;
}

/**
 * A mail that failed is tried again after these waits (about three hours in all), then left as
 * failed; the notice stays in the app either way.
 */
const RETRY_MINUTES = [1, 5, 30, 120];
/** A claim older than this belongs to a process that stopped mid-send; another may take it. */
const CLAIM_TIMEOUT_MS = 5 * 60_000;

/**
 * Tells a user about a security event on their account: written in the caller's transaction, so a
 * notice exists exactly when what it reports happened. The row is also the mail outbox: a server
 * process mails it afterwards (`deliverNotices`). Details never hold a secret. With `mail: false`
 * the notice stays in the app only (workflow notices, such as approvals): the courier is told
 * there is nothing to mail.
 */
export async function addNotice(deps: DataDeps, userId: string, kind: NoticeKind, details: Record<string, unknown>, options: { mail?: boolean } = {}): Promise<void> {
  const now = deps.clock.now().toISOString();
  await deps.db
    .insertInto('notices')
    .values({ id: newId(), user_id: userId, kind, details: JSON.stringify(details), created_at: now, read_at: null, mail_state: options.mail === false ? 'sent' : 'pending', mail_attempts: 0, mail_claimed_at: null, mail_next_at: now })
    .execute();
}

/**
 * The network an address belongs to, as coarse as a home or office connection: the /24 of an
 * IPv4 address, the /48 of an IPv6 one.
 */
export function networkOf(address: string | null): string | null {
  if (!address) return null;
  const bare = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  if (isIPv4(bare)) return `${bare.split('.').slice(0, 3).join('.')}.0/24`;
  if (!isIPv6(bare)) return null;
  const [head = '', tail = ''] = bare.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = bare.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 3).map((g) => parseInt(g, 16).toString(16)).join(':')}::/48`;
}

/**
 * Remembers the device and network of a completed sign-in and, when the user has signed in before
 * but never from this device or this network, tells them. The first sign-in of an account has
 * nothing to compare with and tells nothing.
 */
export async function noteSignInPlace(deps: DataDeps, userId: string, request: { sourceAddress: string | null; userAgent: string | null }): Promise<void> {
  const now = deps.clock.now().toISOString();
  const device = describeDevice(request.userAgent);
  const network = networkOf(request.sourceAddress);
  const known = await deps.db.selectFrom('known_sign_ins').select(['kind', 'value']).where('user_id', '=', userId).execute();
  const newDevice = !known.some((k) => k.kind === 'device' && k.value === device);
  const newNetwork = network !== null && !known.some((k) => k.kind === 'network' && k.value === network);
  const places = [{ kind: 'device' as const, value: device }, ...(network ? [{ kind: 'network' as const, value: network }] : [])];
  await deps.db
    .insertInto('known_sign_ins')
    .values(places.map((p) => ({ user_id: userId, ...p, first_seen_at: now, last_seen_at: now })))
    .onConflict((oc) => oc.columns(['user_id', 'kind', 'value']).doUpdateSet({ last_seen_at: now }))
    .execute();
  if (known.length > 0 && (newDevice || newNetwork)) {
    await addNotice(deps, userId, 'sign_in.new_device', { device, address: request.sourceAddress ?? '', newDevice, newNetwork, at: now });
  }
}

function ownUserId(ctx: ActorContext): string {
  if (ctx.principal.kind === 'user' || ctx.principal.kind === 'token') return ctx.principal.userId;
  throw new AppError('auth.forbidden', 'Notices belong to a user account');
}

async function localeOf(deps: DataDeps, userId: string): Promise<Locale> {
  const row = await deps.db.selectFrom('users').select('locale').where('id', '=', userId).executeTakeFirst();
  return row?.locale === 'zh-CN' ? 'zh-CN' : 'en';
}

function present(row: Pick<NoticesTable, 'id' | 'kind' | 'details' | 'created_at' | 'read_at'>, locale: Locale): NoticeView {
  return { id: row.id, kind: row.kind, ...describeNotice(row.kind, JSON.parse(row.details) as Record<string, unknown>, locale), createdAt: row.created_at, readAt: row.read_at };
}

/** The caller's own notices, newest first, with how many are unread. */
export async function listNotices(deps: DataDeps, ctx: ActorContext, options: { unreadOnly?: boolean; limit?: number } = {}): Promise<{ items: NoticeView[]; unread: number }> {
  const userId = ownUserId(ctx);
  let query = deps.db.selectFrom('notices').select(['id', 'kind', 'details', 'created_at', 'read_at']).where('user_id', '=', userId);
  if (options.unreadOnly) query = query.where('read_at', 'is', null);
  const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(options.limit ?? 50).execute();
  const unread = await deps.db.selectFrom('notices').select((eb) => eb.fn.countAll().as('n')).where('user_id', '=', userId).where('read_at', 'is', null).executeTakeFirstOrThrow();
  const locale = await localeOf(deps, userId);
  return { items: rows.map((row) => present(row, locale)), unread: Number(unread.n) };
}

/** Marks one of the caller's notices read, or all of them when `id` is null. */
export async function markNoticesRead(deps: DataDeps, ctx: ActorContext, id: string | null): Promise<{ marked: number }> {
  const userId = ownUserId(ctx);
  if (id !== null && !isId(id)) throw new AppError('notice.not_found', 'No such notice');
  let update = deps.db.updateTable('notices').set({ read_at: deps.clock.now().toISOString() }).where('user_id', '=', userId).where('read_at', 'is', null);
  if (id !== null) {
    const exists = await deps.db.selectFrom('notices').select('id').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
    if (!exists) throw new AppError('notice.not_found', 'No such notice');
    update = update.where('id', '=', id);
  }
  const result = await update.executeTakeFirst();
  return { marked: Number(result.numUpdatedRows) };
}

/**
 * Mails the notices that are due, oldest first. Each is claimed before it is sent, so two server
 * processes never send the same one; a claim left by a process that stopped mid-send expires, and
 * that one notice may then be mailed twice. Notices of a disabled user are not mailed. `going`
 * is asked between mails, so a server that is stopping does not wait for the whole batch.
 * Answers how many were sent.
 */
export async function deliverNotices(deps: AuthDeps, options: { limit?: number; going?: () => boolean } = {}): Promise<number> {
  const now = deps.clock.now();
  const stale = new Date(now.getTime() - CLAIM_TIMEOUT_MS).toISOString();
  const due = await deps.db
    .selectFrom('notices')
    .innerJoin('users', 'users.id', 'notices.user_id')
    .select(['notices.id', 'notices.kind', 'notices.details', 'notices.created_at', 'notices.read_at', 'notices.mail_state', 'notices.mail_attempts', 'users.email', 'users.name', 'users.locale'])
    .where('users.status', '=', 'active')
    .where((eb) =>
      eb.or([
        eb.and([eb('notices.mail_state', '=', 'pending'), eb('notices.mail_next_at', '<=', now.toISOString())]),
        eb.and([eb('notices.mail_state', '=', 'sending'), eb('notices.mail_claimed_at', '<', stale)]),
      ]),
    )
    .orderBy('notices.mail_next_at')
    .limit(options.limit ?? 50)
    .execute();
  let sent = 0;
  for (const notice of due) {
    if (options.going && !options.going()) break;
    const claimedAt = deps.clock.now().toISOString();
    const attempt = notice.mail_attempts + 1;
    const claim = await deps.db
      .updateTable('notices')
      .set({ mail_state: 'sending', mail_claimed_at: claimedAt, mail_attempts: attempt })
      .where('id', '=', notice.id)
      .where('mail_state', '=', notice.mail_state)
      .where('mail_attempts', '=', notice.mail_attempts)
      .executeTakeFirst();
    if (Number(claim.numUpdatedRows) !== 1) continue;
    const locale: Locale = notice.locale === 'zh-CN' ? 'zh-CN' : 'en';
    const { title, body } = present(notice, locale);
    const greeting = locale === 'zh-CN' ? `${notice.name}，您好：` : `Hello ${notice.name},`;
    const footer = locale === 'zh-CN' ? `此通知也显示在 Rampart 中：${deps.config.publicUrl}` : `This notice is also shown in Rampart: ${deps.config.publicUrl}`;
    let outcome: Pick<NoticesTable, 'mail_state' | 'mail_next_at'> = { mail_state: 'sent', mail_next_at: claimedAt };
    try {
      await deps.mailer.send({ to: notice.email, subject: `Rampart: ${title}`, text: [greeting, '', body, '', footer, ''].join('\n') });
      sent += 1;
    } catch {
      const wait = RETRY_MINUTES[attempt - 1];
      outcome = wait === undefined ? { mail_state: 'failed', mail_next_at: claimedAt } : { mail_state: 'pending', mail_next_at: new Date(deps.clock.now().getTime() + wait * 60_000).toISOString() };
    }
    // Only while the claim is still this one's: a claim that expired belongs to whoever took it over.
    await deps.db.updateTable('notices').set({ ...outcome, mail_claimed_at: null }).where('id', '=', notice.id).where('mail_claimed_at', '=', claimedAt).execute();
  }
  return sent;
}

/** Mails due notices every few seconds while the server runs; one round at a time. */
export class NoticeCourier {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | null = null;
  private stopping = false;

  constructor(
    private readonly deps: AuthDeps,
    private readonly log: { warn(message: string): void },
    private readonly everyMs = 5_000,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      // A round still sending (a slow mail server) is not joined by another.
      this.round ??= this.deliver().finally(() => (this.round = null));
    }, this.everyMs);
    this.timer.unref();
  }

  /** Stops after the mail being sent now, if any. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.round;
  }

  private async deliver(): Promise<void> {
    try {
      await deliverNotices(this.deps, { going: () => !this.stopping });
    } catch (error) {
      this.log.warn(`notice delivery failed (${(error as { code?: unknown }).code ?? (error as Error).name})`);
    }
  }
}
