import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import type { AlertResponsesTable, ResponseKind } from '../../db/schema.js';
import { recordAudit } from '../../data/audit-trail.js';
import { requirePermission } from '../../data/access.js';
import { requireStepUp } from '../../data/step-up.js';
import { inTransaction, type DataDeps } from '../../data/record-store.js';
import type { KeyDeps } from '../../data/keys.js';
import { AppError } from '../../shared/errors.js';
import { isId, newId } from '../../shared/ids.js';
import type { ActorContext } from '../../shared/principal.js';
import type { AuthDeps } from '../auth/auth.service.js';
import { signInAccountKey, unlockSignIn } from '../auth/sign-in-throttle.js';
import { hasSecondFactor } from '../mfa/mfa.service.js';
import { networkOf as signInNetworkOf } from '../notices/notices.service.js';
import { findUserByEmail, lockUser } from '../users/users.service.js';
import { alertHandlers, handlerRoleIds, queueAlertNotifications, rolesHandleAlerts } from './notify.js';

/**
 * Containment: what detection (or a person handling alerts) puts in force against an attack, and
 * how it is lifted. Address blocks, the organisation-wide lockdown and locked accounts live in the
 * database so every server process enforces them; each process reads blocks and lockdown at most
 * once a second (`containmentOf`), so enforcing them costs no query per request.
 */

/** The principal automatic responses act as in the audit log. */
export const DETECTION_ACTOR: ActorContext = { principal: { kind: 'system', job: 'detection' }, channel: 'job', requestId: null, sourceAddress: null, userAgent: null };

/** How long an automatic address block lasts. */
export const DEFAULT_BLOCK_MINUTES = 60;
const MAX_BLOCK_MINUTES = 366 * 24 * 60;
const CACHE_MS = 1000;

export interface BlockView {
  id: string;
  address: string;
  reason: string;
  alertId: string | null;
  createdBy: string;
  createdAt: string;
  until: string;
  liftedAt: string | null;
  liftedBy: string | null;
}

export interface LockdownView {
  id: string;
  reason: string;
  alertId: string | null;
  startedBy: string;
  startedAt: string;
}

export interface LockedAccountView {
  userId: string;
  email: string;
  name: string;
  lockedAt: string;
  lockedReason: string | null;
}

export interface ResponseView {
  id: string;
  alertId: string;
  kind: ResponseKind;
  target: string | null;
  state: AlertResponsesTable['state'];
  details: Record<string, unknown>;
  createdAt: string;
  executedAt: string | null;
  reversedAt: string | null;
  reversedBy: string | null;
}

export interface BreakGlassResult {
  userId: string;
  /** Whether the account was locked by detection or an administrator, and is no longer. */
  unlocked: boolean;
  /** Whether a sign-in lock or failures (too many wrong passwords) were cleared. */
  signInUnlocked: boolean;
  lockdownsLifted: number;
  blocksLifted: number;
  /** Whether the user may handle alerts (and so undo what detection did) once signed in. */
  handlesAlerts: boolean;
  /** Whether the account itself is active; break-glass does not enable a disabled one. */
  active: boolean;
}

// ---------------------------------------------------------------------------------------------
// Addresses

/**
 * An address as Rampart compares it: IPv4 in dotted form (also when it came wrapped in IPv6, in any
 * of the ways that can be written), IPv6 in its RFC 5952 form (lower case, zero runs shortened),
 * without brackets or a zone id. Null when it is not an IP address.
 */
export function canonicalAddress(text: string): string | null {
  let bare = text.trim();
  if (bare.startsWith('[') && bare.endsWith(']')) bare = bare.slice(1, -1);
  const zone = bare.indexOf('%');
  if (zone !== -1) bare = bare.slice(0, zone);
  const version = isIP(bare);
  if (version === 4) return bare;
  if (version !== 6) return null;
  const v6 = ipv6Text(bare);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
  if (!mapped) return v6;
  const high = parseInt(mapped[1]!, 16);
  const low = parseInt(mapped[2]!, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/** The RFC 5952 text of a valid IPv6 address: the URL standard writes IPv6 hosts exactly so. */
function ipv6Text(bare: string): string {
  return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
}

/** A network: an address (IPv4 as 32 bits, IPv6 as 128) and how many leading bits count. */
interface Network {
  readonly v6: boolean;
  readonly bits: bigint;
  readonly prefix: number;
}

function bitsOf(canonical: string): { v6: boolean; bits: bigint } {
  if (isIP(canonical) === 4) return { v6: false, bits: canonical.split('.').reduce((n, octet) => (n << 8n) | BigInt(Number(octet)), 0n) };
  const [head = '', tail = ''] = canonical.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = canonical.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const hextets = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return { v6: true, bits: hextets.reduce((n, h) => (n << 16n) | BigInt(parseInt(h, 16)), 0n) };
}

/** `address` or `address/prefix` as a network; an IPv4-mapped IPv6 range of /96 or narrower is the IPv4 range it maps. */
function networkOf(text: string): Network | null {
  const [address = '', prefixText, extra] = text.trim().split('/');
  if (extra !== undefined) return null;
  const canonical = canonicalAddress(address);
  if (canonical === null) return null;
  const { v6, bits } = bitsOf(canonical);
  const mappedFrom = !v6 && isIP(address.trim().replace(/%.*$/, '')) === 6;
  const width = v6 ? 128 : 32;
  if (prefixText === undefined) return { v6, bits, prefix: width };
  if (!/^\d{1,3}$/.test(prefixText)) return null;
  let prefix = Number(prefixText);
  if (mappedFrom) {
    // Wider than the mapped range itself: compare as the IPv6 range it is written as.
    if (prefix < 96) return prefix <= 128 ? { v6: true, bits: bitsOf(ipv6Text(address.trim().replace(/%.*$/, ''))).bits, prefix } : null;
    prefix -= 96;
  }
  return prefix <= width ? { v6, bits, prefix } : null;
}

/** Whether two networks share any address. */
function overlaps(a: Network, b: Network): boolean {
  if (a.v6 !== b.v6) return false;
  const shift = BigInt((a.v6 ? 128 : 32) - Math.min(a.prefix, b.prefix));
  return a.bits >> shift === b.bits >> shift;
}

/** How wide one block is: one IPv4 address, or the /64 an IPv6 address is in (one subscriber's or one machine's share). */
const IPV6_BLOCK_PREFIX = 64;

function blockNetworkOf(address: string): Network | null {
  const net = networkOf(address);
  if (!net) return null;
  if (!net.v6) return { ...net, prefix: 32 };
  const shift = BigInt(128 - IPV6_BLOCK_PREFIX);
  return { v6: true, bits: (net.bits >> shift) << shift, prefix: IPV6_BLOCK_PREFIX };
}

function networkText(net: Network): string {
  if (!net.v6) return [24n, 16n, 8n, 0n].map((shift) => String((net.bits >> shift) & 255n)).join('.');
  const hextets = Array.from({ length: 8 }, (_, i) => ((net.bits >> BigInt(112 - i * 16)) & 0xffffn).toString(16));
  return `${ipv6Text(hextets.join(':'))}/${net.prefix}`;
}

/**
 * What a block on `address` covers, as blocks are stored and looked up: the IPv4 address itself,
 * or the IPv6 /64 it is in (`2001:db8::/64`): an IPv6 host picks new addresses in its /64 at will.
 * Null when it is not an IP address.
 */
export function blockKeyOf(address: string): string | null {
  const net = blockNetworkOf(address);
  return net ? networkText(net) : null;
}

/** Never blocked automatically: this machine, the unspecified address, link-local neighbours. */
const NEVER_BLOCKED = ['127.0.0.0/8', '0.0.0.0/8', '169.254.0.0/16', '::1/128', '::/128', 'fe80::/10'].map((range) => networkOf(range)!);

// ---------------------------------------------------------------------------------------------
// The per-process view of blocks and lockdown

export interface Containment {
  /** Block key (`blockKeyOf`) → until (ms since the epoch, by the app's clock). */
  readonly blocks: ReadonlyMap<string, number>;
  /** The ids of the blocks in force. */
  readonly blockIds: ReadonlySet<string>;
  readonly lockdown: LockdownView | null;
}

interface CacheEntry {
  readonly loadedAt: number;
  readonly epoch: number;
  readonly value: Promise<Containment>;
}

const cache = new WeakMap<object, CacheEntry>();
/** Bumped by every change made in this process, so the process sees its own changes at once. */
let epoch = 0;

/**
 * Changes made inside a transaction that has not committed yet. Until a read shows each of them
 * (or it is given up, the transaction having rolled back), what is read is used but not kept: a
 * read made before the commit would otherwise keep the old state for a second.
 */
const awaited: { readonly shows: (c: Containment) => boolean; readonly until: number }[] = [];
const AWAIT_MS = 10_000;

/** Makes this process read blocks and lockdown afresh at the next request. Call it once a change has committed. */
export function forgetContainment(): void {
  epoch += 1;
}

/**
 * Tells the cache of a change to blocks or lockdown: at once when it has committed, and in a
 * transaction as a change to wait for, so that no read before the commit is kept.
 */
function containmentChanged(deps: Pick<DataDeps, 'db'>, shows: (c: Containment) => boolean): void {
  if (deps.db.isTransaction) awaited.push({ shows, until: performance.now() + AWAIT_MS });
  forgetContainment();
}

/** Whether a read may be kept: it shows every change awaited (those it shows, or that waited too long, are done with). */
function settled(value: Containment): boolean {
  const now = performance.now();
  for (let i = awaited.length - 1; i >= 0; i--) {
    const change = awaited[i]!;
    if (change.until <= now || change.shows(value)) awaited.splice(i, 1);
  }
  return awaited.length === 0;
}

/**
 * Blocks and lockdown as this process last read them: from the database at most once a second per
 * database, so a change made by another process is enforced here within about a second.
 */
export function containmentOf(deps: Pick<DataDeps, 'db' | 'clock'>): Promise<Containment> {
  // Inside a transaction it sees its own uncommitted changes: never cached, never settling a wait.
  if (deps.db.isTransaction) return loadContainment(deps);
  const now = performance.now();
  const entry = cache.get(deps.db);
  if (entry && entry.epoch === epoch && now - entry.loadedAt < CACHE_MS) return entry.value;
  const value = loadContainment(deps);
  const fresh: CacheEntry = { loadedAt: now, epoch, value };
  cache.set(deps.db, fresh);
  // A failed read is not kept, nor one from before a change this process is waiting to see committed.
  value.then(
    (loaded) => {
      if (!settled(loaded) && cache.get(deps.db) === fresh) cache.delete(deps.db);
    },
    () => {
      if (cache.get(deps.db) === fresh) cache.delete(deps.db);
    },
  );
  return value;
}

async function loadContainment(deps: Pick<DataDeps, 'db' | 'clock'>): Promise<Containment> {
  const now = deps.clock.now().toISOString();
  const rows = await deps.db.selectFrom('address_blocks').select(['id', 'address', 'until']).where('lifted_at', 'is', null).where('until', '>', now).execute();
  const blocks = new Map<string, number>();
  const blockIds = new Set<string>();
  for (const row of rows) {
    blockIds.add(row.id);
    const key = blockKeyOf(row.address);
    if (key === null) continue;
    const until = new Date(row.until).getTime();
    if (until > (blocks.get(key) ?? 0)) blocks.set(key, until);
  }
  return { blocks, blockIds, lockdown: await readLockdown(deps) };
}

async function readLockdown(deps: Pick<DataDeps, 'db'>): Promise<LockdownView | null> {
  const row = await deps.db.selectFrom('lockdowns').selectAll().where('lifted_at', 'is', null).orderBy('started_at', 'desc').executeTakeFirst();
  return row ? { id: row.id, reason: row.reason, alertId: row.alert_id, startedBy: row.started_by, startedAt: row.started_at } : null;
}

/** Whether requests from this address are blocked now (cached view). */
export async function isAddressBlocked(deps: Pick<DataDeps, 'db' | 'clock'>, address: string | null | undefined): Promise<boolean> {
  if (!address) return false;
  const { blocks } = await containmentOf(deps);
  if (blocks.size === 0) return false;
  const key = blockKeyOf(address);
  const until = key === null ? undefined : blocks.get(key);
  return until !== undefined && until > deps.clock.now().getTime();
}

/** The lockdown in force, or null (cached view: what every request and the access route use). */
export async function currentLockdown(deps: Pick<DataDeps, 'db' | 'clock'>): Promise<LockdownView | null> {
  return (await containmentOf(deps)).lockdown;
}

/**
 * Refuses a write during lockdown unless `may` allows it (authenticate.ts: those who handle alerts,
 * on the few routes they need to end it). Reads go on. `may` is asked only while a lockdown is in force.
 */
export async function refuseWriteInLockdown(deps: Pick<DataDeps, 'db' | 'clock'>, may: () => Promise<boolean>): Promise<void> {
  if ((await currentLockdown(deps)) === null) return;
  if (await may()) return;
  throw new AppError('system.lockdown', 'Rampart is in lockdown: it is read-only until those who handle alerts lift it');
}

/**
 * Refuses every export during lockdown, whoever asks: a bulk copy of customer data is exactly what
 * a lockdown is for stopping. Read from the database, not the cache: exports are rare and large.
 */
export async function refuseExportInLockdown(deps: Pick<DataDeps, 'db'>): Promise<void> {
  if ((await readLockdown(deps)) !== null) throw new AppError('system.lockdown', 'Exports are off while Rampart is in lockdown');
}

// ---------------------------------------------------------------------------------------------
// Acting on one response

/** What one response did, kept in its row's details; `suggested` when it was held back for a person to confirm. */
type Outcome = { target: string | null; details: Record<string, unknown>; suggested?: true };

function actorLabel(ctx: ActorContext): string {
  const p = ctx.principal;
  if (p.kind === 'system') return `system:${p.job}`;
  if (p.kind === 'cli') return p.userId && p.actingAs ? p.userId : `cli:${p.operator}`;
  return p.userId;
}

/** The user account a principal acts as, if any. */
function userIdOf(ctx: ActorContext): string | null {
  const p = ctx.principal;
  if (p.kind === 'user' || p.kind === 'token') return p.userId;
  if (p.kind === 'cli') return p.userId;
  return null;
}

function isDetection(ctx: ActorContext): boolean {
  return ctx.principal.kind === 'system' && ctx.principal.job === 'detection';
}

interface AlertFacts {
  id: string;
  rule: string;
  severity: string;
  summary: string;
  actorKind: string | null;
  actorId: string | null;
  /** The session (or token) the evidence came through, when known. */
  sessionId: string | null;
  sourceAddress: string | null;
  raisedAt: string;
}

function protectedTarget(message: string): AppError {
  return new AppError('detection.protected_target', message);
}

/** The user a response acts on: the alert's actor, when it names an existing user account. */
async function targetUser(deps: DataDeps, alert: AlertFacts): Promise<string> {
  const id = alert.actorId;
  const row = id && isId(id) && alert.actorKind !== 'cli' && alert.actorKind !== 'system' ? await deps.db.selectFrom('users').select('id').where('id', '=', id).executeTakeFirst() : undefined;
  if (!row) throw new AppError('user.not_found', 'The alert names no user account to act on');
  return row.id;
}

/**
 * Detection never shuts out the last person who could undo what it did: a response against someone
 * who handles alerts is refused when nobody else active and unlocked does.
 */
async function refuseLastHandler(deps: AuthDeps, userId: string): Promise<void> {
  const user = await deps.db.selectFrom('user_roles').select('role_id').where('user_id', '=', userId).execute();
  if (!(await rolesHandleAlerts(deps, user.map((r) => r.role_id)))) return;
  if ((await alertHandlers(deps, { except: userId })).length > 0) return;
  throw protectedTarget('Nobody else who handles alerts could undo this: it is left to a person');
}

/**
 * Why detection may not block this address on its own, or null: this machine or its link, an
 * address the operator listed (RAMPART_DETECTION_NEVER_BLOCK), or one that someone handling
 * alerts is signed in from (a request forged from their browsers must not lock them out).
 */
async function refusedBlock(deps: AuthDeps, key: string, block: Network): Promise<string | null> {
  if (NEVER_BLOCKED.some((net) => overlaps(net, block))) return 'Loopback, unspecified and link-local addresses are never blocked automatically';
  const listed = deps.config.detectionNeverBlock.map((range) => networkOf(range)).filter((net): net is Network => net !== null);
  if (listed.some((net) => overlaps(net, block))) return 'The address is in RAMPART_DETECTION_NEVER_BLOCK';
  const roles = await handlerRoleIds(deps);
  if (roles.length === 0) return null;
  const now = deps.clock.now();
  const sessions = await deps.db
    .selectFrom('sessions')
    .innerJoin('user_roles', 'user_roles.user_id', 'sessions.user_id')
    .select(['sessions.source_address', 'sessions.last_seen_at', 'sessions.idle_minutes'])
    .where('user_roles.role_id', 'in', roles)
    .where('sessions.revoked_at', 'is', null)
    .where('sessions.stage', '=', 'active')
    .where('sessions.expires_at', '>', now.toISOString())
    .execute();
  const live = sessions.filter((s) => s.source_address !== null && new Date(s.last_seen_at).getTime() + (s.idle_minutes ?? deps.config.session.idleMinutes) * 60_000 > now.getTime());
  if (live.some((s) => blockKeyOf(s.source_address!) === key)) return 'Someone who handles alerts is signed in from this address';
  return null;
}

/** How far back a successful sign-in from an address makes detection ask a person before blocking it. */
const RECENT_SIGN_IN_MS = 24 * 3_600_000;

/**
 * Whether anyone signed in successfully from the blocked address (or /64) in the last day. The
 * networks people sign in from (`known_sign_ins`, kept per /24 and /48) narrow it down to a few
 * accounts, whose sign-ins in the audit log settle it.
 */
async function signedInFromRecently(deps: AuthDeps, key: string): Promise<boolean> {
  const cutoff = new Date(deps.clock.now().getTime() - RECENT_SIGN_IN_MS).toISOString();
  const network = signInNetworkOf(key.replace(/\/\d+$/, ''));
  if (network === null) return false;
  const users = await deps.db.selectFrom('known_sign_ins').select('user_id').distinct().where('kind', '=', 'network').where('value', '=', network).where('last_seen_at', '>=', cutoff).limit(501).execute();
  if (users.length === 0) return false;
  // A network that many people use (an office) is asked about rather than searched.
  if (users.length > 500) return true;
  const entries = await deps.db
    .selectFrom('audit_entries')
    .select('source_address')
    .where('actor_id', 'in', users.map((u) => u.user_id))
    .where('action', '=', 'auth.login')
    .where('outcome', '=', 'success')
    .where('occurred_at', '>=', cutoff)
    .execute();
  return entries.some((e) => e.source_address !== null && blockKeyOf(e.source_address) === key);
}

/** Ends the user's sessions that have not ended yet (only `only`, when given); answers how many. */
async function endSessionsOf(deps: DataDeps, userId: string, only?: string): Promise<number> {
  let update = deps.db.updateTable('sessions').set({ revoked_at: deps.clock.now().toISOString() }).where('user_id', '=', userId).where('revoked_at', 'is', null);
  if (only !== undefined) update = update.where('id_hash', '=', only);
  return Number((await update.executeTakeFirst()).numUpdatedRows);
}

/** The session an alert came through, when it is one of the user's (an alert about a token names no session). */
async function alertSession(deps: DataDeps, userId: string, alert: AlertFacts): Promise<string | undefined> {
  if (!alert.sessionId) return undefined;
  const row = await deps.db.selectFrom('sessions').select('id_hash').where('id_hash', '=', alert.sessionId).where('user_id', '=', userId).executeTakeFirst();
  return row?.id_hash;
}

async function execute(deps: AuthDeps, alert: AlertFacts, kind: ResponseKind, by: ActorContext): Promise<Outcome> {
  const now = deps.clock.now();
  const automatic = isDetection(by);
  switch (kind) {
    case 'notify':
      return { target: null, details: await queueAlertNotifications(deps, { ...alert, subjectId: alert.actorKind === 'cli' || alert.actorKind === 'system' ? null : alert.actorId }) };
    case 'step_up': {
      const userId = await targetUser(deps, alert);
      await lockUser(deps, userId);
      if (automatic) await refuseLastHandler(deps, userId);
      // The session the alert came through when it is known; every session of the user otherwise.
      const only = await alertSession(deps, userId, alert);
      const scope = only === undefined ? 'all' : 'alert_session';
      if (!(await hasSecondFactor(deps, userId))) return { target: userId, details: { mode: 'ended', scope, sessions: await endSessionsOf(deps, userId, only) } };
      let live = deps.db.selectFrom('sessions').select('id_hash').where('user_id', '=', userId).where('revoked_at', 'is', null).where('stage', '=', 'active').where('expires_at', '>', now.toISOString());
      if (only !== undefined) live = live.where('id_hash', '=', only);
      const ids = (await live.execute()).map((s) => s.id_hash);
      // Back to the second step of signing in: the web app asks for the factor and carries on.
      if (ids.length > 0) await deps.db.updateTable('sessions').set({ stage: 'mfa', mfa_at: null, mfa_attempts: 0 }).where('id_hash', 'in', ids).execute();
      return { target: userId, details: { mode: 'second_factor', scope, sessions: ids.length, sessionIds: ids } };
    }
    case 'end_sessions': {
      const userId = await targetUser(deps, alert);
      await lockUser(deps, userId);
      if (automatic) await refuseLastHandler(deps, userId);
      const stamp = now.toISOString();
      const tokens = await deps.db.selectFrom('api_tokens').select('id').where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
      if (tokens.length > 0) await deps.db.updateTable('api_tokens').set({ revoked_at: stamp }).where('id', 'in', tokens.map((t) => t.id)).execute();
      return { target: userId, details: { sessions: await endSessionsOf(deps, userId), tokens: tokens.length, tokenIds: tokens.map((t) => t.id), revokedAt: stamp } };
    }
    case 'lock_account': {
      const userId = await targetUser(deps, alert);
      await lockUser(deps, userId);
      if (automatic) await refuseLastHandler(deps, userId);
      const current = await deps.db.selectFrom('users').select('locked_at').where('id', '=', userId).executeTakeFirstOrThrow();
      if (current.locked_at === null) {
        await deps.db.updateTable('users').set({ locked_at: now.toISOString(), locked_reason: `alert ${alert.id} (${alert.rule})`.slice(0, 200) }).where('id', '=', userId).execute();
      }
      return { target: userId, details: { alreadyLocked: current.locked_at !== null, sessions: await endSessionsOf(deps, userId) } };
    }
    case 'block_address': {
      const block = alert.sourceAddress ? blockNetworkOf(alert.sourceAddress) : null;
      if (!block) throw new AppError('request.invalid', 'The alert names no address to block');
      const key = networkText(block);
      if (automatic) {
        const refusal = await refusedBlock(deps, key, block);
        if (refusal) throw protectedTarget(refusal);
        if (await signedInFromRecently(deps, key)) return { target: key, details: { reason: 'recent_sign_in' }, suggested: true };
      }
      const until = new Date(now.getTime() + DEFAULT_BLOCK_MINUTES * 60_000).toISOString();
      const id = newId();
      await deps.db
        .insertInto('address_blocks')
        .values({ id, address: key, reason: `alert ${alert.id} (${alert.rule})`.slice(0, 200), alert_id: alert.id, created_by: actorLabel(by), created_at: now.toISOString(), until, lifted_at: null, lifted_by: null })
        .execute();
      return { target: key, details: { blockId: id, until } };
    }
    case 'lockdown': {
      const existing = await readLockdown(deps);
      if (existing) return { target: null, details: { lockdownId: existing.id, alreadyInForce: true } };
      const id = newId();
      await deps.db.insertInto('lockdowns').values({ id, reason: `alert ${alert.id} (${alert.rule})`.slice(0, 200), alert_id: alert.id, started_by: actorLabel(by), started_at: now.toISOString(), lifted_at: null, lifted_by: null }).execute();
      return { target: null, details: { lockdownId: id } };
    }
  }
}

/** Tells the cache what a response put in force, or lifted. */
function noteContainment(deps: Pick<DataDeps, 'db'>, kind: ResponseKind, details: Record<string, unknown>, lifted: boolean): void {
  if (kind === 'block_address' && typeof details.blockId === 'string') {
    const id = details.blockId;
    containmentChanged(deps, (c) => c.blockIds.has(id) !== lifted);
  } else if (kind === 'lockdown' && typeof details.lockdownId === 'string' && details.alreadyInForce !== true) {
    const id = details.lockdownId;
    containmentChanged(deps, (c) => (c.lockdown?.id === id) !== lifted);
  }
}

/**
 * Runs `work` so that its failure undoes only its own writes: in a savepoint inside the caller's
 * transaction (PostgreSQL aborts a whole transaction on a failed statement otherwise), or in a
 * transaction of its own.
 */
async function isolated<T>(deps: AuthDeps, work: (tx: AuthDeps) => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  if (!deps.db.isTransaction) {
    try {
      return { ok: true, value: await inTransaction(deps, work) };
    } catch (error) {
      return { ok: false, error };
    }
  }
  const name = sql.raw(`response_${newId().replace(/-/g, '')}`);
  // Audit entries of the transaction wait in a list until it commits; those of an undone response go.
  const pending = (deps as AuthDeps & KeyDeps).pendingAudit;
  const mark = pending?.length ?? 0;
  await sql`savepoint ${name}`.execute(deps.db);
  try {
    const value = await work(deps);
    await sql`release savepoint ${name}`.execute(deps.db);
    return { ok: true, value };
  } catch (error) {
    await sql`rollback to savepoint ${name}`.execute(deps.db);
    pending?.splice(mark);
    return { ok: false, error };
  }
}

function errorCode(error: unknown): string {
  return error instanceof AppError ? error.code : 'internal.error';
}

/** Containment first, then the word about it, so a notice never races ahead of the block it reports. */
const ORDER: readonly ResponseKind[] = ['block_address', 'lock_account', 'end_sessions', 'step_up', 'lockdown', 'notify'];

function auditOf(kind: ResponseKind, alert: AlertFacts, responseId: string, outcome: Outcome | null, extra: Record<string, unknown>) {
  return {
    action: `response.${kind}`,
    // Held back for a person to confirm: not done, and not an error either.
    outcome: outcome ? (outcome.suggested ? ('denied' as const) : ('success' as const)) : ('failure' as const),
    recordType: 'alerts',
    recordIds: [alert.id],
    details: { responseId, rule: alert.rule, ...(outcome?.target ? { target: outcome.target } : {}), ...summariseDetails(outcome?.details ?? {}), ...(outcome?.suggested ? { suggested: true } : {}), ...extra },
  };
}

/** What the audit entry keeps of a response's details: figures and ids, not lists of session hashes. */
function summariseDetails(details: Record<string, unknown>): Record<string, unknown> {
  const { sessionIds: _sessions, tokenIds: _tokens, sessionId: _session, ...rest } = details;
  return rest;
}

/**
 * Records and takes a rule's responses to a newly raised alert: each automatic one at once (state
 * `done`, or `failed` with the error code; a block on an address someone signed in from lately is
 * recorded `suggested` instead), each suggested one as `suggested` for a person to execute. Runs
 * in the caller's transaction when there is one; a failed response is undone alone and never
 * throws, so it cannot take the alert down with it.
 */
export async function takeResponses(deps: AuthDeps, alert: AlertFacts, plan: { automatic: readonly ResponseKind[]; suggested: readonly ResponseKind[] }): Promise<void> {
  const automatic = ORDER.filter((kind) => plan.automatic.includes(kind));
  const suggested = ORDER.filter((kind) => plan.suggested.includes(kind) && !automatic.includes(kind));
  const at = deps.clock.now().toISOString();
  // A person executing a suggested step-up later acts on the same session.
  const suggestion = (kind: ResponseKind) => (kind === 'step_up' && alert.sessionId ? { sessionId: alert.sessionId } : {});
  for (const kind of automatic) {
    const id = newId();
    const result = await isolated(deps, async (tx) => {
      const outcome = await execute(tx, alert, kind, DETECTION_ACTOR);
      const row = outcome.suggested
        ? { state: 'suggested' as const, details: JSON.stringify({ ...outcome.details, ...suggestion(kind) }), executed_at: null }
        : { state: 'done' as const, details: JSON.stringify(outcome.details), executed_at: tx.clock.now().toISOString() };
      await tx.db.insertInto('alert_responses').values({ id, alert_id: alert.id, kind, target: outcome.target, ...row, created_at: at, reversed_at: null, reversed_by: null }).execute();
      await recordAudit(tx, DETECTION_ACTOR, auditOf(kind, alert, id, outcome, { automatic: true }));
      return outcome;
    });
    if (result.ok) {
      if (!result.value.suggested) noteContainment(deps, kind, result.value.details, false);
      continue;
    }
    await isolated(deps, async (tx) => {
      await tx.db.insertInto('alert_responses').values({ id, alert_id: alert.id, kind, target: null, state: 'failed', details: JSON.stringify({ error: errorCode(result.error) }), created_at: at, executed_at: null, reversed_at: null, reversed_by: null }).execute();
      await recordAudit(tx, DETECTION_ACTOR, auditOf(kind, alert, id, null, { automatic: true, error: errorCode(result.error) }));
    });
  }
  if (suggested.length > 0) {
    await isolated(deps, async (tx) => {
      await tx.db
        .insertInto('alert_responses')
        .values(suggested.map((kind) => ({ id: newId(), alert_id: alert.id, kind, target: null, state: 'suggested' as const, details: JSON.stringify(suggestion(kind)), created_at: at, executed_at: null, reversed_at: null, reversed_by: null })))
        .execute();
    });
  }
}

function presentResponse(row: AlertResponsesTable): ResponseView {
  return {
    id: row.id,
    alertId: row.alert_id,
    kind: row.kind,
    target: row.target,
    state: row.state,
    details: JSON.parse(row.details) as Record<string, unknown>,
    createdAt: row.created_at,
    executedAt: row.executed_at,
    reversedAt: row.reversed_at,
    reversedBy: row.reversed_by,
  };
}

/** The responses of one alert, oldest first. */
export async function responsesOf(deps: Pick<DataDeps, 'db'>, alertId: string): Promise<ResponseView[]> {
  if (!isId(alertId)) return [];
  const rows = await deps.db.selectFrom('alert_responses').selectAll().where('alert_id', '=', alertId).orderBy('created_at').orderBy('id').execute();
  return rows.map(presentResponse);
}

async function alertFacts(deps: DataDeps, alertId: string): Promise<AlertFacts> {
  const row = isId(alertId) ? await deps.db.selectFrom('alerts').select(['id', 'rule', 'severity', 'summary', 'actor_kind', 'actor_id', 'source_address', 'created_at']).where('id', '=', alertId).executeTakeFirst() : undefined;
  if (!row) throw new AppError('alert.not_found', 'No such alert');
  return { id: row.id, rule: row.rule, severity: row.severity, summary: row.summary, actorKind: row.actor_kind, actorId: row.actor_id, sessionId: null, sourceAddress: row.source_address, raisedAt: row.created_at };
}

async function responseRow(deps: DataDeps, alertId: string, responseId: string): Promise<AlertResponsesTable> {
  const row = isId(responseId) ? await deps.db.selectFrom('alert_responses').selectAll().where('id', '=', responseId).where('alert_id', '=', alertId).executeTakeFirst() : undefined;
  if (!row) throw new AppError('detection.response_not_found', 'No such response to this alert');
  return row;
}

/** Nobody decides on the responses to an alert about themselves: neither to lift them nor to take them. */
function refuseOwnAlert(ctx: ActorContext, alert: AlertFacts): void {
  const self = userIdOf(ctx);
  if (self !== null && alert.actorId === self && alert.actorKind !== 'cli' && alert.actorKind !== 'system') {
    throw new AppError('auth.forbidden', 'This alert is about you: someone else who handles alerts decides on its responses');
  }
}

/**
 * Executes a suggested response (or retries a failed one) on a person's say: needs `alerts.handle`,
 * and not on an alert about themselves. Audited as `response.<kind>` with the person as actor.
 */
export async function executeResponse(deps: AuthDeps, ctx: ActorContext, alertId: string, responseId: string): Promise<ResponseView> {
  await requireHandler(deps, ctx);
  const alert = await alertFacts(deps, alertId);
  refuseOwnAlert(ctx, alert);
  const result = await inTransaction(deps, async (tx) => {
    const row = await responseRow(tx, alert.id, responseId);
    if (row.state !== 'suggested' && row.state !== 'failed') throw new AppError('alert.invalid_transition', 'Only a suggested or failed response can be executed');
    const offered = JSON.parse(row.details) as Record<string, unknown>;
    const facts = typeof offered.sessionId === 'string' ? { ...alert, sessionId: offered.sessionId } : alert;
    const outcome = await execute(tx, facts, row.kind, ctx);
    const claimed = await tx.db
      .updateTable('alert_responses')
      .set({ state: 'done', target: outcome.target, details: JSON.stringify(outcome.details), executed_at: tx.clock.now().toISOString() })
      .where('id', '=', row.id)
      .where('state', '=', row.state)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) throw new AppError('alert.invalid_transition', 'The response changed meanwhile; reload it');
    await recordAudit(tx, ctx, auditOf(row.kind, alert, row.id, outcome, { automatic: false }));
    return { row: await responseRow(tx, alert.id, row.id), outcome };
  });
  noteContainment(deps, result.row.kind, result.outcome.details, false);
  return presentResponse(result.row);
}

/**
 * Undoes a response that was done, on a person's say (`alerts.handle`, a second factor proved in
 * the last minutes, and not on an alert about themselves): unlocks the account, lifts the block or
 * the lockdown, gives back the tokens it revoked, or returns the sessions it sent back to the
 * second step. A response that found its containment already in force (a lockdown someone else
 * started, an account locked before) undoes nothing, and an account stays locked while another
 * response still locks it. Ended sessions stay ended (their holders sign in again); a notification
 * cannot be taken back (`detection.not_reversible`). Audited as `response.reversed`.
 */
export async function reverseResponse(deps: AuthDeps, ctx: ActorContext, alertId: string, responseId: string): Promise<ResponseView> {
  await requireHandler(deps, ctx);
  await requireStepUp(deps, ctx);
  const alert = await alertFacts(deps, alertId);
  refuseOwnAlert(ctx, alert);
  const result = await inTransaction(deps, async (tx) => {
    const row = await responseRow(tx, alert.id, responseId);
    if (row.state !== 'done' || row.kind === 'notify') throw new AppError('detection.not_reversible', row.kind === 'notify' ? 'A notification cannot be taken back' : 'Only a response that was done can be reversed');
    const details = JSON.parse(row.details) as Record<string, unknown>;
    const undone = await undo(tx, row, details, ctx);
    const now = tx.clock.now().toISOString();
    const claimed = await tx.db
      .updateTable('alert_responses')
      .set({ state: 'reversed', reversed_at: now, reversed_by: actorLabel(ctx), details: JSON.stringify({ ...details, reversal: undone }) })
      .where('id', '=', row.id)
      .where('state', '=', 'done')
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) throw new AppError('detection.not_reversible', 'The response changed meanwhile; reload it');
    await recordAudit(tx, ctx, { action: 'response.reversed', recordType: 'alerts', recordIds: [alert.id], details: { responseId: row.id, kind: row.kind, ...(row.target ? { target: row.target } : {}), ...undone } });
    return { row: await responseRow(tx, alert.id, row.id), details };
  });
  noteContainment(deps, result.row.kind, result.details, true);
  return presentResponse(result.row);
}

async function undo(tx: AuthDeps, row: AlertResponsesTable, details: Record<string, unknown>, by: ActorContext): Promise<Record<string, unknown>> {
  const now = tx.clock.now().toISOString();
  switch (row.kind) {
    case 'step_up': {
      const ids = Array.isArray(details.sessionIds) ? details.sessionIds.filter((id): id is string => typeof id === 'string') : [];
      if (ids.length === 0) return { sessionsRestored: 0 };
      // Only sessions still waiting at the second step go back; one that completed it was replaced.
      const restored = await tx.db.updateTable('sessions').set({ stage: 'active', mfa_attempts: 0 }).where('id_hash', 'in', ids).where('stage', '=', 'mfa').where('revoked_at', 'is', null).executeTakeFirst();
      return { sessionsRestored: Number(restored.numUpdatedRows) };
    }
    case 'end_sessions': {
      const ids = Array.isArray(details.tokenIds) ? details.tokenIds.filter((id): id is string => typeof id === 'string') : [];
      if (ids.length === 0 || typeof details.revokedAt !== 'string') return { tokensRestored: 0 };
      // Tokens revoked since, by someone else, stay revoked.
      const restored = await tx.db.updateTable('api_tokens').set({ revoked_at: null }).where('id', 'in', ids).where('revoked_at', '=', details.revokedAt).executeTakeFirst();
      return { tokensRestored: Number(restored.numUpdatedRows) };
    }
    case 'lock_account': {
      // The lock was someone else's (a person's, or an earlier alert's): it is not this one's to lift.
      if (!row.target || details.alreadyLocked === true) return { unlocked: false };
      await lockUser(tx, row.target);
      const other = await tx.db.selectFrom('alert_responses').select('alert_id').where('kind', '=', 'lock_account').where('state', '=', 'done').where('target', '=', row.target).where('id', '!=', row.id).executeTakeFirst();
      if (other) return { unlocked: false, stillLockedBy: other.alert_id };
      return { unlocked: await clearLock(tx, row.target) };
    }
    case 'block_address': {
      const lifted = typeof details.blockId === 'string' ? await tx.db.updateTable('address_blocks').set({ lifted_at: now, lifted_by: actorLabel(by) }).where('id', '=', details.blockId).where('lifted_at', 'is', null).executeTakeFirst() : null;
      return { blockLifted: Number(lifted?.numUpdatedRows ?? 0) > 0 };
    }
    case 'lockdown': {
      // A lockdown that was already in force when this response came belongs to whoever started it.
      if (details.alreadyInForce === true) return { lockdownLifted: false };
      const lifted = typeof details.lockdownId === 'string' ? await tx.db.updateTable('lockdowns').set({ lifted_at: now, lifted_by: actorLabel(by) }).where('id', '=', details.lockdownId).where('lifted_at', 'is', null).executeTakeFirst() : null;
      return { lockdownLifted: Number(lifted?.numUpdatedRows ?? 0) > 0 };
    }
    case 'notify':
      throw new AppError('detection.not_reversible', 'A notification cannot be taken back');
  }
}

async function clearLock(tx: DataDeps, userId: string): Promise<boolean> {
  const cleared = await tx.db.updateTable('users').set({ locked_at: null, locked_reason: null }).where('id', '=', userId).where('locked_at', 'is not', null).executeTakeFirst();
  return Number(cleared.numUpdatedRows) > 0;
}

/** Marks the done responses that a containment lifted by other means (a person, break-glass) as reversed. */
async function markReversed(tx: DataDeps, kind: ResponseKind, match: { alertId?: string | null; target?: string | null }, by: ActorContext): Promise<void> {
  let update = tx.db.updateTable('alert_responses').set({ state: 'reversed', reversed_at: tx.clock.now().toISOString(), reversed_by: actorLabel(by) }).where('kind', '=', kind).where('state', '=', 'done');
  if (match.alertId) update = update.where('alert_id', '=', match.alertId);
  if (match.target) update = update.where('target', '=', match.target);
  await update.execute();
}

// ---------------------------------------------------------------------------------------------
// Containment by hand

function requireHandler(deps: DataDeps, ctx: ActorContext) {
  return requirePermission(deps, ctx, 'alerts.handle', 'Your roles do not allow you to handle alerts');
}

/**
 * Lifting or weakening containment needs `alerts.handle` and, in a browser, a second factor proved
 * in the last minutes: a stolen session of someone who handles alerts must not undo what stops it.
 */
async function requireHandlerStepUp(deps: DataDeps, ctx: ActorContext): Promise<void> {
  await requireHandler(deps, ctx);
  await requireStepUp(deps, ctx);
}

function reasonOf(reason: unknown): string {
  const text = typeof reason === 'string' ? reason.trim() : '';
  if (text.length < 1 || text.length > 500) throw new AppError('request.invalid', 'Give a reason of 1 to 500 characters', [{ field: 'reason', message: 'must be 1 to 500 characters' }]);
  return text;
}

function presentBlock(row: { id: string; address: string; reason: string; alert_id: string | null; created_by: string; created_at: string; until: string; lifted_at: string | null; lifted_by: string | null }): BlockView {
  return { id: row.id, address: row.address, reason: row.reason, alertId: row.alert_id, createdBy: row.created_by, createdAt: row.created_at, until: row.until, liftedAt: row.lifted_at, liftedBy: row.lifted_by };
}

/** The address blocks in force (or, with `all`, the latest 500 of any state), newest first. */
export async function listBlocks(deps: DataDeps, ctx: ActorContext, options: { all?: boolean } = {}): Promise<BlockView[]> {
  await requireHandler(deps, ctx);
  let query = deps.db.selectFrom('address_blocks').selectAll();
  if (!options.all) query = query.where('lifted_at', 'is', null).where('until', '>', deps.clock.now().toISOString());
  const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(500).execute();
  return rows.map(presentBlock);
}

function addressProblem(): AppError {
  return new AppError('request.invalid', 'The address is not an IPv4 or IPv6 address', [{ field: 'address', message: 'must be an IPv4 or IPv6 address' }]);
}

/**
 * Blocks an address for `minutes` (1 to a year; an hour by default): an IPv4 address, or the
 * IPv6 /64 an IPv6 address is in.
 */
export async function blockAddress(deps: DataDeps, ctx: ActorContext, input: { address: unknown; minutes?: unknown; reason: unknown }): Promise<BlockView> {
  await requireHandler(deps, ctx);
  const address = typeof input.address === 'string' && input.address.length <= 60 && canonicalAddress(input.address) !== null ? blockKeyOf(input.address) : null;
  if (address === null) throw addressProblem();
  const minutes = input.minutes ?? DEFAULT_BLOCK_MINUTES;
  if (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < 1 || minutes > MAX_BLOCK_MINUTES) throw new AppError('request.invalid', `Block for 1 to ${MAX_BLOCK_MINUTES} minutes`, [{ field: 'minutes', message: `must be a whole number from 1 to ${MAX_BLOCK_MINUTES}` }]);
  const reason = reasonOf(input.reason);
  const view = await inTransaction(deps, async (tx) => {
    const now = tx.clock.now();
    const row = { id: newId(), address, reason, alert_id: null, created_by: actorLabel(ctx), created_at: now.toISOString(), until: new Date(now.getTime() + minutes * 60_000).toISOString(), lifted_at: null, lifted_by: null };
    await tx.db.insertInto('address_blocks').values(row).execute();
    await recordAudit(tx, ctx, { action: 'detection.block_added', recordType: 'address_blocks', recordIds: [row.id], details: { address, minutes } });
    return presentBlock(row);
  });
  containmentChanged(deps, (c) => c.blockIds.has(view.id));
  return view;
}

/** Lifts an address block (and marks the response that made it, if any, as reversed). */
export async function liftBlock(deps: DataDeps, ctx: ActorContext, blockId: string): Promise<BlockView> {
  await requireHandlerStepUp(deps, ctx);
  const view = await inTransaction(deps, async (tx) => {
    const row = isId(blockId) ? await tx.db.selectFrom('address_blocks').selectAll().where('id', '=', blockId).executeTakeFirst() : undefined;
    if (!row) throw new AppError('detection.block_not_found', 'No such address block');
    if (row.lifted_at !== null) return presentBlock(row);
    const now = tx.clock.now().toISOString();
    await tx.db.updateTable('address_blocks').set({ lifted_at: now, lifted_by: actorLabel(ctx) }).where('id', '=', row.id).execute();
    if (row.alert_id) await markReversed(tx, 'block_address', { alertId: row.alert_id, target: row.address }, ctx);
    await recordAudit(tx, ctx, { action: 'detection.block_lifted', recordType: 'address_blocks', recordIds: [row.id], details: { address: row.address } });
    return presentBlock({ ...row, lifted_at: now, lifted_by: actorLabel(ctx) });
  });
  containmentChanged(deps, (c) => !c.blockIds.has(view.id));
  return view;
}

/** Lifts every block in force on an address (for IPv6, on its /64); answers how many there were. */
export async function liftBlocksOn(deps: DataDeps, ctx: ActorContext, address: string): Promise<{ lifted: number }> {
  await requireHandlerStepUp(deps, ctx);
  const key = canonicalAddress(address) === null ? null : blockKeyOf(address);
  if (key === null) throw addressProblem();
  const ids = await deps.db.selectFrom('address_blocks').select('id').where('address', '=', key).where('lifted_at', 'is', null).where('until', '>', deps.clock.now().toISOString()).execute();
  for (const { id } of ids) await liftBlock(deps, ctx, id);
  return { lifted: ids.length };
}

/** The lockdown in force, read afresh (for those who handle alerts). */
export async function lockdownStatus(deps: DataDeps, ctx: ActorContext): Promise<LockdownView | null> {
  await requireHandler(deps, ctx);
  return readLockdown(deps);
}

/**
 * Puts the organisation in lockdown: every write refused but those that end it and contain the
 * attack, every export refused. Starting it while one is in force answers that one.
 */
export async function startLockdown(deps: DataDeps, ctx: ActorContext, input: { reason: unknown }): Promise<LockdownView> {
  await requireHandler(deps, ctx);
  const reason = reasonOf(input.reason);
  const view = await inTransaction(deps, async (tx) => {
    const existing = await readLockdown(tx);
    if (existing) return existing;
    const row = { id: newId(), reason, alert_id: null, started_by: actorLabel(ctx), started_at: tx.clock.now().toISOString(), lifted_at: null, lifted_by: null };
    await tx.db.insertInto('lockdowns').values(row).execute();
    await recordAudit(tx, ctx, { action: 'detection.lockdown_started', recordType: 'lockdowns', recordIds: [row.id], details: {} });
    return { id: row.id, reason, alertId: null, startedBy: row.started_by, startedAt: row.started_at };
  });
  containmentChanged(deps, (c) => c.lockdown?.id === view.id);
  return view;
}

/** Lifts the lockdown in force; answers whether there was one. */
export async function liftLockdown(deps: DataDeps, ctx: ActorContext): Promise<{ lifted: boolean }> {
  await requireHandlerStepUp(deps, ctx);
  const lifted = await inTransaction(deps, async (tx) => (await liftLockdowns(tx, ctx)) > 0);
  containmentChanged(deps, (c) => c.lockdown === null);
  return { lifted };
}

async function liftLockdowns(tx: DataDeps, ctx: ActorContext): Promise<number> {
  const rows = await tx.db.selectFrom('lockdowns').select(['id', 'alert_id']).where('lifted_at', 'is', null).execute();
  if (rows.length === 0) return 0;
  await tx.db.updateTable('lockdowns').set({ lifted_at: tx.clock.now().toISOString(), lifted_by: actorLabel(ctx) }).where('id', 'in', rows.map((r) => r.id)).execute();
  for (const row of rows) if (row.alert_id) await markReversed(tx, 'lockdown', { alertId: row.alert_id }, ctx);
  await recordAudit(tx, ctx, { action: 'detection.lockdown_lifted', recordType: 'lockdowns', recordIds: rows.map((r) => r.id), details: {} });
  return rows.length;
}

/** Accounts locked now, most recently locked first. */
export async function listLockedAccounts(deps: DataDeps, ctx: ActorContext): Promise<LockedAccountView[]> {
  await requireHandler(deps, ctx);
  const rows = await deps.db.selectFrom('users').select(['id', 'email', 'name', 'locked_at', 'locked_reason']).where('locked_at', 'is not', null).orderBy('locked_at', 'desc').limit(1000).execute();
  return rows.map((r) => ({ userId: r.id, email: r.email, name: r.name, lockedAt: r.locked_at!, lockedReason: r.locked_reason }));
}

/** Locks an account by hand: sign-in and every request refused, its sessions ended; tokens kept but refused. */
export async function lockAccount(deps: DataDeps, ctx: ActorContext, userId: string, input: { reason: unknown }): Promise<LockedAccountView> {
  await requireHandler(deps, ctx);
  const reason = reasonOf(input.reason);
  return inTransaction(deps, async (tx) => {
    const row = isId(userId) ? await tx.db.selectFrom('users').select(['id', 'email', 'name', 'locked_at', 'locked_reason']).where('id', '=', userId).executeTakeFirst() : undefined;
    if (!row) throw new AppError('user.not_found', 'No such user');
    await lockUser(tx, row.id);
    if (row.locked_at !== null) return { userId: row.id, email: row.email, name: row.name, lockedAt: row.locked_at, lockedReason: row.locked_reason };
    const now = tx.clock.now().toISOString();
    await tx.db.updateTable('users').set({ locked_at: now, locked_reason: reason }).where('id', '=', row.id).execute();
    const sessions = await endSessionsOf(tx, row.id);
    await recordAudit(tx, ctx, { action: 'detection.account_locked', recordType: 'users', recordIds: [row.id], details: { sessions } });
    return { userId: row.id, email: row.email, name: row.name, lockedAt: now, lockedReason: reason };
  });
}

/** Unlocks an account: it signs in again (its ended sessions stay ended; its tokens work again). */
export async function unlockAccount(deps: DataDeps, ctx: ActorContext, userId: string): Promise<{ unlocked: boolean }> {
  await requireHandlerStepUp(deps, ctx);
  return inTransaction(deps, async (tx) => {
    const row = isId(userId) ? await tx.db.selectFrom('users').select(['id']).where('id', '=', userId).executeTakeFirst() : undefined;
    if (!row) throw new AppError('user.not_found', 'No such user');
    // Nobody lifts the lock on their own account.
    if (userIdOf(ctx) === row.id) throw new AppError('auth.forbidden', 'Someone else who handles alerts unlocks your account');
    const unlocked = await clearLock(tx, row.id);
    if (unlocked) {
      await markReversed(tx, 'lock_account', { target: row.id }, ctx);
      await recordAudit(tx, ctx, { action: 'detection.account_unlocked', recordType: 'users', recordIds: [row.id], details: {} });
    }
    return { unlocked };
  });
}

/**
 * The way back in when detection (or a mistaken administrator) has shut everyone out: lifts the
 * lockdown, every address block in force, the account's lock and its sign-in lock. Only the
 * operator at the server's command line may use it; it talks to the database directly, so no rule,
 * block or lockdown stands in its way. Audited as `detection.break_glass`.
 */
export async function breakGlass(deps: AuthDeps, ctx: ActorContext, email: string): Promise<BreakGlassResult> {
  if (ctx.principal.kind !== 'cli' || ctx.principal.actingAs) throw new AppError('auth.forbidden', 'Break-glass is for the operator at the server itself');
  const user = await findUserByEmail(deps, email);
  if (!user) throw new AppError('user.not_found', 'No user has that email');
  const result = await inTransaction(deps, async (tx) => {
    await lockUser(tx, user.id);
    const lockdownsLifted = await liftLockdowns(tx, ctx);
    const blocks = await tx.db.selectFrom('address_blocks').select(['id', 'address', 'alert_id']).where('lifted_at', 'is', null).where('until', '>', tx.clock.now().toISOString()).execute();
    if (blocks.length > 0) {
      await tx.db.updateTable('address_blocks').set({ lifted_at: tx.clock.now().toISOString(), lifted_by: actorLabel(ctx) }).where('id', 'in', blocks.map((b) => b.id)).execute();
      for (const block of blocks) if (block.alert_id) await markReversed(tx, 'block_address', { alertId: block.alert_id, target: block.address }, ctx);
    }
    const unlocked = await clearLock(tx, user.id);
    if (unlocked) await markReversed(tx, 'lock_account', { target: user.id }, ctx);
    const signInUnlocked = await unlockSignIn(tx, signInAccountKey(user.email));
    const handlesAlerts = await rolesHandleAlerts(tx, user.roles);
    const outcome = { userId: user.id, unlocked, signInUnlocked, lockdownsLifted, blocksLifted: blocks.length, handlesAlerts, active: user.status === 'active', liftedBlockIds: blocks.map((b) => b.id) };
    await recordAudit(tx, ctx, { action: 'detection.break_glass', recordType: 'users', recordIds: [user.id], details: { unlocked, signInUnlocked, lockdownsLifted, blocksLifted: blocks.length } });
    return outcome;
  });
  const { liftedBlockIds, ...view } = result;
  containmentChanged(deps, (c) => c.lockdown === null && liftedBlockIds.every((id) => !c.blockIds.has(id)));
  return view;
}
