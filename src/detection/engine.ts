import type { AlertSeverity, ResponseKind } from './model.js';
import { describeDevice } from '../modules/sessions/device.js';
import { networkOf, type DetectionEvent } from './events.js';
import { defaultRules, ruleDefinition, type ActiveRule, type RuleKey, type RuleSettings } from './rules.js';
import { IntSet, keyHash, SlidingCount, SlidingDistinct } from './windows.js';
import { emptyProfile, observe, rememberPlace, shareNear, typicalHigh, upperQuartile, type UserProfile } from './profile.js';
import { OrganisationCalendar } from './calendar.js';

/**
 * The detection engine: a pure, in-memory evaluator. It is fed events in order, keeps sliding
 * windows per account, address and user, learns each user's ordinary work (profile.ts), and
 * answers findings: a rule that fired, on what, with the figures and evidence behind it. It reads
 * no database and no clock; the runner (modules/detection) feeds it and stores what it finds.
 *
 * A finding is answered every time a rule's condition holds on an event, not once: the runner
 * folds repeats into the open alert of the same subject, so an attack that goes on shows as one
 * alert whose count grows, and a new alert once the old one is closed.
 */

/** What the engine knows of the organisation besides events: who holds which roles, what they grant, the decoys. */
export interface Directory {
  readonly users: ReadonlyMap<string, DirectoryUser>;
  readonly roles: ReadonlyMap<string, DirectoryRole>;
  /** Record ids of the planted decoys. */
  readonly honeytokens: ReadonlySet<string>;
}

export interface DirectoryUser {
  readonly roles: readonly string[];
  /** When the account was disabled (or last changed while disabled); null while active. */
  readonly disabledAt: number | null;
}

export interface DirectoryRole {
  /** Manages users or roles: whoever holds it can make anyone anything. */
  readonly admin: boolean;
  readonly exports: boolean;
  readonly reveals: boolean;
  readonly permissions: readonly string[];
}

export const EMPTY_DIRECTORY: Directory = { users: new Map(), roles: new Map(), honeytokens: new Set() };

export interface Finding {
  readonly rule: RuleKey;
  readonly severity: AlertSeverity;
  /** `<rule>:<subject>`, e.g. `auth.brute_force:user:<id>`: repeats of one subject fold into one alert. */
  readonly subjectKey: string;
  readonly summary: string;
  readonly actorKind: string | null;
  readonly actorId: string | null;
  readonly sessionId: string | null;
  readonly sourceAddress: string | null;
  readonly at: number;
  readonly auditSeqs: readonly number[];
  readonly requestEventIds: readonly string[];
  readonly figures: Readonly<Record<string, unknown>>;
  readonly automatic: readonly ResponseKind[];
  readonly suggested: readonly ResponseKind[];
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const EVIDENCE_CAP = 20;
/** Actions the engine's own work and its responses write: never evidence, or it would feed on itself. */
const OWN_PREFIXES = ['alert.', 'detection.', 'response.'];
const HUMAN = new Set(['user', 'token']);
const ADMIN_PERMISSIONS = new Set(['users.manage', 'roles.manage']);

/** The newest references to what a subject did: a ring of audit sequence numbers and request event ids. */
class Evidence {
  private readonly seqRing: number[] = [];
  private seqNext = 0;
  private readonly requestRing: string[] = [];
  private requestNext = 0;

  add(e: DetectionEvent): void {
    if (e.seq > 0) {
      this.seqRing[this.seqNext] = e.seq;
      this.seqNext = (this.seqNext + 1) % EVIDENCE_CAP;
    }
    if (e.requestEventId) {
      this.requestRing[this.requestNext] = e.requestEventId;
      this.requestNext = (this.requestNext + 1) % EVIDENCE_CAP;
    }
  }

  get seqs(): number[] {
    return [...this.seqRing.slice(this.seqNext), ...this.seqRing.slice(0, this.seqNext)];
  }

  get requests(): string[] {
    return [...this.requestRing.slice(this.requestNext), ...this.requestRing.slice(0, this.requestNext)];
  }
}

/** Sign-in failures against one account. */
class AccountState {
  readonly evidence = new Evidence();
  constructor(
    readonly bruteFailures: SlidingCount,
    readonly successFailures: SlidingCount,
    readonly addresses: SlidingDistinct,
  ) {}
  get last(): number {
    return Math.max(this.bruteFailures.last, this.successFailures.last, this.addresses.last);
  }
}

/** What came from one address: failures, accounts tried, probes, refusals. */
class AddressState {
  readonly evidence = new Evidence();
  constructor(
    readonly failures: SlidingCount,
    readonly accounts: SlidingDistinct,
    readonly successFailures: SlidingCount,
    readonly probes: SlidingCount,
    readonly refusals: SlidingCount,
  ) {}
  get last(): number {
    return Math.max(this.failures.last, this.successFailures.last, this.probes.last, this.refusals.last);
  }
}

/** One user's windows and the learning in progress; `profile` is what persists. */
class UserState {
  readonly evidence = new Evidence();
  subject = '';
  hour = -1;
  peakReads = 0;
  peakReveals = 0;
  spikedThisHour = false;
  day = -1;
  /** Hashes of the records read today (keyHash). */
  dayRecords = new IntSet();
  /** Today went above the bar of an established baseline: it is kept out of the baseline. */
  dayAbove = false;
  /** Completed days: distinct records read, newest last. */
  recentDays: { day: number; count: number }[] = [];
  exportDay = -1;
  exportDayRows = 0;
  disabledAt: number | null = null;
  constructor(
    readonly profile: UserProfile,
    readonly reads: SlidingDistinct,
    readonly bulkReads: SlidingCount,
    readonly decoys: SlidingCount,
    readonly reveals: SlidingCount,
    readonly exportRows: SlidingCount,
    readonly exportsDone: SlidingCount,
    readonly offHours: SlidingCount,
    readonly deletes: SlidingCount,
  ) {}
}

export interface EngineOptions {
  rules?: readonly ActiveRule[];
  directory?: Directory;
}

export interface PeerBaseline {
  hourlyReads: number;
  dailyReads: number;
  hourlyReveals: number;
  members: number;
}

/** The settings the per-read path consults, as plain numbers, compiled when rules are configured. */
interface ReadThresholds {
  readFloor: number;
  readFactor: number;
  readMinHours: number;
  revealFloor: number;
  revealFactor: number;
  revealMinHours: number;
  dailyFloor: number;
  exfilFactor: number;
  exfilDays: number;
  exfilMinDays: number;
  offStart: number;
  offEnd: number;
  offWorkDays: boolean[];
  offMinRecords: number;
  offMinDays: number;
  offShare: number;
  bulkRecords: number;
  dormantDays: number;
}

export class DetectionEngine {
  private rules = new Map<RuleKey, ActiveRule>();
  private limits!: ReadThresholds;
  /** keyHash of each decoy's id, to test a page's ids without hashing their strings twice. */
  private decoyHashes = new Set<number>();
  /** Scratch space for the hashes of one event's record ids. */
  private readonly hashes: number[] = [];
  private directory: Directory = EMPTY_DIRECTORY;
  private tolerances = new Map<string, number>();
  private readonly accounts = new Map<string, AccountState>();
  private readonly addresses = new Map<string, AddressState>();
  private readonly users = new Map<string, UserState>();
  private readonly dirty = new Set<string>();
  private readonly revokedTokens = new Map<string, number>();
  private calendar = new OrganisationCalendar('UTC');
  private peers = new Map<string, PeerBaseline>();
  private peersHour = -1;
  private silent = false;
  private out: Finding[] = [];
  private clock = 0;
  private sincePrune = 0;
  /** Events seen, for status and benchmarks. */
  events = 0;

  constructor(options: EngineOptions = {}) {
    this.configure(options.rules ?? defaultRules());
    if (options.directory) this.setDirectory(options.directory);
  }

  /** The newest event time seen: the engine's notion of now. */
  get now(): number {
    return this.clock;
  }

  /**
   * Applies rules as configured. Windows whose length changed start empty (they are minutes
   * long); what was learned of users stays.
   */
  configure(rules: readonly ActiveRule[]): void {
    const before = this.spans();
    this.rules = new Map(rules.map((r) => [r.key, r]));
    const after = this.spans();
    if (before !== after) {
      this.accounts.clear();
      this.addresses.clear();
      for (const [id, state] of this.users) this.users.set(id, this.newUserState(state.profile, state, id));
    }
    const zone = String(this.setting('data.off_hours', 'timeZone'));
    if (zone !== this.calendar.timeZone) this.calendar = new OrganisationCalendar(zone);
    const n = (rule: RuleKey, name: string) => Number(this.setting(rule, name));
    const workDays = this.setting('data.off_hours', 'workDays') as number[];
    this.limits = {
      readFloor: n('data.read_spike', 'floor'),
      readFactor: n('data.read_spike', 'factor'),
      readMinHours: n('data.read_spike', 'minHistoryHours'),
      revealFloor: n('data.reveal_spike', 'floor'),
      revealFactor: n('data.reveal_spike', 'factor'),
      revealMinHours: n('data.reveal_spike', 'minHistoryHours'),
      dailyFloor: n('data.slow_exfiltration', 'dailyFloor'),
      exfilFactor: n('data.slow_exfiltration', 'factor'),
      exfilDays: n('data.slow_exfiltration', 'days'),
      exfilMinDays: n('data.slow_exfiltration', 'minHistoryDays'),
      offStart: n('data.off_hours', 'startHour'),
      offEnd: n('data.off_hours', 'endHour'),
      offWorkDays: Array.from({ length: 7 }, (_, d) => workDays.includes(d)),
      offMinRecords: n('data.off_hours', 'minRecords'),
      offMinDays: n('data.off_hours', 'minHistoryDays'),
      offShare: n('data.off_hours', 'usualShare'),
      bulkRecords: n('honeytoken.touched', 'bulkRecords'),
      dormantDays: n('account.dormant_active', 'dormantDays'),
    };
    this.peersHour = -1;
  }

  setDirectory(directory: Directory): void {
    this.directory = directory;
    this.decoyHashes = new Set([...directory.honeytokens].map(keyHash));
    for (const [id, user] of directory.users) {
      const state = this.users.get(id);
      if (state && user.disabledAt !== null && state.disabledAt === null) state.disabledAt = user.disabledAt;
      if (state && user.disabledAt === null) state.disabledAt = null;
    }
    this.peersHour = -1;
  }

  /** Tolerance factors from false-positive markings, by subject key; a factor multiplies the rule's bar for that subject. */
  setTolerances(tolerances: ReadonlyMap<string, number>): void {
    this.tolerances = new Map(tolerances);
  }

  /** Profiles read back from storage; a user the engine already follows keeps what it learned since. */
  loadProfiles(profiles: Iterable<[string, UserProfile]>): void {
    for (const [id, profile] of profiles) {
      if (!this.users.has(id)) this.users.set(id, this.newUserState(profile, undefined, id));
    }
    this.peersHour = -1;
  }

  /** Tells the engine when a user was last active, for one it has not seen act (from the users table). */
  seedLastActive(userId: string, at: number): void {
    const state = this.user(userId);
    if (state.profile.lastActiveAt === null || state.profile.lastActiveAt < at) {
      state.profile.lastActiveAt = at;
      this.dirty.add(userId);
    }
  }

  /** Profiles changed since the last call, for the runner to store. */
  takeDirtyProfiles(): [string, UserProfile][] {
    const list: [string, UserProfile][] = [];
    for (const id of this.dirty) {
      const state = this.users.get(id);
      if (!state) continue;
      if (state.profile.asOf < this.clock) state.profile.asOf = this.clock;
      list.push([id, state.profile]);
    }
    this.dirty.clear();
    return list;
  }

  profileOf(userId: string): UserProfile | undefined {
    return this.users.get(userId)?.profile;
  }

  /** Each role's peer baselines, for storing and for the status report. */
  peerBaselines(): ReadonlyMap<string, PeerBaseline> {
    this.refreshPeers(true);
    return this.peers;
  }

  /**
   * Feeds events in order and answers the findings. `silent` learns from them without answering
   * findings: warming up on history that was evaluated before, or that predates the engine.
   */
  observeAll(events: Iterable<DetectionEvent>, options: { silent?: boolean } = {}): Finding[] {
    this.silent = options.silent ?? false;
    this.out = [];
    try {
      for (const e of events) this.observeOne(e);
      return this.out;
    } finally {
      this.silent = false;
      this.out = [];
    }
  }

  private observeOne(e: DetectionEvent): void {
    if (!Number.isFinite(e.at)) return;
    for (const prefix of OWN_PREFIXES) if (e.action.startsWith(prefix)) return;
    if (e.actorKind === 'system' && e.actorId === 'detection') return;
    this.events += 1;
    if (e.at > this.clock) this.clock = e.at;
    if (++this.sincePrune >= 20_000) this.prune();

    if (e.source === 'request') {
      this.requestEvent(e);
      return;
    }
    if (e.actorId !== null && HUMAN.has(e.actorKind ?? '')) this.activity(e);
    switch (e.action) {
      case 'record.read':
        this.reads(e, 'read');
        break;
      case 'record.export':
        this.reads(e, 'export');
        break;
      case 'record.reveal':
        this.reads(e, 'reveal');
        break;
      case 'export.completed':
        this.exportCompleted(e);
        break;
      case 'record.delete':
      case 'record.erase':
        this.deleted(e);
        break;
      case 'auth.login_failed':
        this.signInFailed(e, e.actorId);
        break;
      case 'auth.mfa_failed':
        this.signInFailed(e, e.actorId ?? e.recordIds[0] ?? null);
        break;
      case 'auth.step_up':
        if (e.outcome === 'failure') this.signInFailed(e, e.actorId);
        break;
      case 'auth.login':
        this.signedIn(e, true);
        break;
      case 'auth.password_accepted':
      case 'auth.sso_accepted':
        this.signedIn(e, false);
        break;
      case 'auth.session_ended':
        if (e.details.reason === 'browser changed') this.sessionHijack(e);
        break;
      case 'auth.token_refused':
        this.tokenRefused(e);
        break;
      case 'token.new_address':
        this.tokenNewAddress(e);
        break;
      case 'token.revoke':
        for (const id of e.recordIds) this.revokedTokens.set(id, e.at);
        break;
      case 'user.disable':
        for (const id of e.recordIds) this.user(id).disabledAt = e.at;
        break;
      case 'user.create':
        this.userCreated(e);
        break;
      case 'user.change_access':
        this.accessChanged(e);
        break;
      case 'role.update':
        this.roleUpdated(e);
        break;
      case 'audit.verify':
        if (e.outcome === 'failure') this.auditDamage(e, 'audit log verification failed');
        break;
      case 'integrity.failure':
        this.auditDamage(e, 'an encrypted value failed its integrity check');
        break;
      default:
        break;
    }
  }

  // ---- Sign-in ---------------------------------------------------------------------------------

  private signInFailed(e: DetectionEvent, accountId: string | null): void {
    const now = e.at;
    if (e.action === 'auth.login_failed' && e.details.reason === 'account disabled' && accountId) {
      this.raise('account.disabled_activity', `user:${accountId}`, e, 'A sign-in with the right password was tried on a disabled account', { reason: 'disabled account sign-in' }, undefined, accountId);
    }
    if (e.address && e.action === 'auth.login_failed') {
      const address = this.address(e.address);
      address.evidence.add(e);
      address.failures.add(now);
      address.successFailures.add(now);
      // An account nobody has still counts as one more account tried.
      address.accounts.add(now, keyHash(accountId ?? `#${e.seq || now}`));
      this.checkStuffing(e, address);
    }
    if (!accountId) return;
    const account = this.account(accountId);
    account.evidence.add(e);
    account.bruteFailures.add(now);
    account.successFailures.add(now);
    const failures = account.bruteFailures.count(now);
    const bar = this.bar('auth.brute_force', `user:${accountId}`, Number(this.setting('auth.brute_force', 'failures')));
    if (failures >= bar) {
      this.raise('auth.brute_force', `user:${accountId}`, e, `${failures} failed sign-ins or codes against one account within ${this.setting('auth.brute_force', 'windowMinutes')} minutes`, { observed: failures, threshold: bar }, account.evidence, accountId);
    }
    if (e.address && e.action === 'auth.login_failed') {
      account.addresses.add(now, keyHash(e.address));
      const addresses = account.addresses.count(now);
      const needed = this.bar('auth.password_spraying', `user:${accountId}`, Number(this.setting('auth.password_spraying', 'addresses')));
      if (addresses >= needed) {
        this.raise('auth.password_spraying', `user:${accountId}`, e, `Failed sign-ins against one account from ${addresses} addresses within ${this.setting('auth.password_spraying', 'windowMinutes')} minutes`, { observed: addresses, threshold: needed }, account.evidence, accountId);
      }
    }
  }

  private checkStuffing(e: DetectionEvent, address: AddressState): void {
    const subject = `address:${e.address}`;
    const failures = address.failures.count(e.at);
    const accounts = address.accounts.count(e.at);
    const tolerance = this.tolerance('auth.credential_stuffing', subject);
    const needFailures = Number(this.setting('auth.credential_stuffing', 'failures')) * tolerance;
    const needAccounts = Number(this.setting('auth.credential_stuffing', 'accounts')) * tolerance;
    if (failures >= needFailures && accounts >= needAccounts) {
      this.raise(
        'auth.credential_stuffing',
        subject,
        e,
        `${failures} failed sign-ins against ${accounts} accounts from one address within ${this.setting('auth.credential_stuffing', 'windowMinutes')} minutes`,
        { observed: failures, threshold: needFailures, accounts, accountsThreshold: needAccounts },
        address.evidence,
        null,
      );
    }
  }

  private signedIn(e: DetectionEvent, complete: boolean): void {
    const userId = e.actorId;
    if (!userId) return;
    const now = e.at;
    const account = this.accounts.get(userId);
    const accountFailures = account ? account.successFailures.count(now) : 0;
    const address = e.address ? this.addresses.get(e.address) : undefined;
    // An address counts when it failed against many accounts (stuffing that found one), not when
    // a few people behind one office address mistyped their passwords.
    const addressFailures = address && address.accounts.count(now) >= Number(this.setting('auth.credential_stuffing', 'accounts')) ? address.successFailures.count(now) : 0;
    const subject = `user:${userId}`;
    const tolerance = this.tolerance('auth.success_after_failures', subject);
    const needAccount = Number(this.setting('auth.success_after_failures', 'accountFailures')) * tolerance;
    const needAddress = Number(this.setting('auth.success_after_failures', 'addressFailures')) * tolerance;
    if (accountFailures >= needAccount || addressFailures >= needAddress) {
      const evidence = account?.evidence ?? address?.evidence;
      this.raise(
        'auth.success_after_failures',
        subject,
        e,
        accountFailures >= needAccount ? `A sign-in succeeded after ${accountFailures} failures on the account` : `A sign-in succeeded from an address with ${addressFailures} recent failures`,
        { observed: Math.max(accountFailures, addressFailures), threshold: accountFailures >= needAccount ? needAccount : needAddress, accountFailures, addressFailures },
        evidence,
      );
    }
    if (!complete) return;
    // A complete sign-in starts the account's count again, as the sign-in throttle does.
    if (account) {
      account.bruteFailures.clear();
      account.successFailures.clear();
    }
    this.newDevice(e, userId);
  }

  private newDevice(e: DetectionEvent, userId: string): void {
    const state = this.user(userId);
    const profile = state.profile;
    const device = describeDevice(e.userAgent);
    const network = networkOf(e.address);
    const firstEver = profile.devices.length === 0 && profile.networks.length === 0;
    const newDevice = rememberPlace(profile.devices, device);
    const newNetwork = network !== null && rememberPlace(profile.networks, network);
    if (newDevice || newNetwork) this.dirty.add(userId);
    if (firstEver) return;
    const require = String(this.setting('auth.new_device', 'require'));
    const fires = require === 'both' ? newDevice && newNetwork : require === 'either' ? newDevice || newNetwork : require === 'device' ? newDevice : newNetwork;
    if (fires) {
      const what = newDevice && newNetwork ? 'a new device and network' : newDevice ? 'a new device' : 'a new network';
      this.raise('auth.new_device', `user:${userId}`, e, `A sign-in from ${what}`, { newDevice, newNetwork, knownDevices: profile.devices.length - (newDevice ? 1 : 0), knownNetworks: profile.networks.length - (newNetwork ? 1 : 0) });
    }
  }

  private sessionHijack(e: DetectionEvent): void {
    const userId = e.actorId ?? e.recordIds[0];
    if (!userId) return;
    this.raise('session.hijack', `user:${userId}`, e, 'A session cookie turned up in another browser than it was issued to; the session was ended', {
      from: typeof e.details.from === 'string' ? e.details.from : null,
      to: typeof e.details.to === 'string' ? e.details.to : null,
    });
  }

  /**
   * A known token refused names its user (`actorId`) and why (`details.reason`): a revoked token,
   * or the token of a disabled or locked account, still in use is someone using what was taken
   * away. An expired token is a forgotten script, not an alarm; an unknown one names nobody.
   */
  private tokenRefused(e: DetectionEvent): void {
    if (!e.actorId) return;
    const reason = typeof e.details.reason === 'string' ? e.details.reason : '';
    const summary = /revoked/.test(reason) ? 'A revoked token was used' : /disabled/.test(reason) ? 'The token of a disabled account was used' : /locked/.test(reason) ? 'The token of a locked account was used' : null;
    if (summary === null) return;
    const tokenId = typeof e.details.tokenId === 'string' ? e.details.tokenId : (e.recordIds[0] ?? null);
    this.raise('account.disabled_activity', `user:${e.actorId}`, e, summary, { reason, tokenId }, undefined, e.actorId);
  }

  private tokenNewAddress(e: DetectionEvent): void {
    const tokenId = e.recordIds[0] ?? e.sessionId;
    if (!tokenId) return;
    const known = Number(e.details.knownAddresses);
    this.raise('token.new_address', `token:${tokenId}`, e, 'An API token was used from an address it had not been seen at', Number.isFinite(known) ? { knownAddresses: known, tokenId } : { tokenId });
  }

  // ---- Activity of an account ------------------------------------------------------------------

  private activity(e: DetectionEvent): void {
    const userId = e.actorId!;
    const state = this.user(userId);
    const profile = state.profile;
    const last = profile.lastActiveAt;
    const dormantDays = this.limits.dormantDays * this.tolerance('account.dormant_active', state.subject);
    if (last !== null && e.at - last >= dormantDays * 24 * HOUR) {
      const idle = Math.floor((e.at - last) / (24 * HOUR));
      this.raise('account.dormant_active', `user:${userId}`, e, `An account unused for ${idle} days is active again`, { observed: idle, threshold: dormantDays, lastActiveAt: new Date(last).toISOString() });
    }
    if (last === null || e.at - last >= MINUTE) {
      profile.lastActiveAt = e.at;
      this.dirty.add(userId);
    }
    const revokedAt = e.actorKind === 'token' && e.sessionId ? this.revokedTokens.get(e.sessionId) : undefined;
    if (state.disabledAt !== null && e.at > state.disabledAt) {
      this.raise('account.disabled_activity', `user:${userId}`, e, 'A disabled account acted', { reason: 'disabled account', action: e.action });
    } else if (revokedAt !== undefined && e.at > revokedAt) {
      this.raise('account.disabled_activity', `user:${userId}`, e, 'A revoked token was used', { reason: 'revoked token', tokenId: e.sessionId });
    }
  }

  private userCreated(e: DetectionEvent): void {
    const created = e.recordIds[0];
    if (created) {
      const profile = this.user(created).profile;
      if (profile.lastActiveAt === null) {
        profile.lastActiveAt = e.at;
        this.dirty.add(created);
      }
    }
    if (!HUMAN.has(e.actorKind ?? '') || !e.actorId || !this.setting('access.privilege_escalation', 'newAdmin')) return;
    const roles = Array.isArray(e.details.roles) ? (e.details.roles as unknown[]).filter((r): r is string => typeof r === 'string') : [];
    if (roles.some((r) => this.directory.roles.get(r)?.admin)) {
      this.raise('access.privilege_escalation', `user:${e.actorId}`, e, 'A new user was created with an administrator role', { kind: 'new admin', targetUserId: created ?? null, roles });
    }
  }

  private accessChanged(e: DetectionEvent): void {
    if (!HUMAN.has(e.actorKind ?? '') || !e.actorId) return;
    const pair = e.details.roles;
    if (!Array.isArray(pair) || pair.length !== 2 || !Array.isArray(pair[0]) || !Array.isArray(pair[1])) return;
    const before = (pair[0] as unknown[]).filter((r): r is string => typeof r === 'string');
    const after = (pair[1] as unknown[]).filter((r): r is string => typeof r === 'string');
    const added = after.filter((r) => !before.includes(r));
    if (added.length === 0) return;
    const role = (id: string) => this.directory.roles.get(id);
    const had = (flag: 'admin' | 'exports' | 'reveals') => before.some((r) => role(r)?.[flag]);
    const gets = (flag: 'admin' | 'exports' | 'reveals') => added.some((r) => role(r)?.[flag]);
    const target = e.recordIds[0] ?? null;
    let kind: string | null = null;
    if (this.setting('access.privilege_escalation', 'newAdmin') && gets('admin') && !had('admin')) kind = 'new admin';
    else if (this.setting('access.privilege_escalation', 'exportOrReveal') && ((gets('exports') && !had('exports')) || (gets('reveals') && !had('reveals')))) kind = 'export or reveal granted';
    if (!kind) return;
    this.raise('access.privilege_escalation', `user:${e.actorId}`, e, kind === 'new admin' ? 'A user was given an administrator role' : 'A user was given a role that grants export or reveal', { kind, targetUserId: target, added });
  }

  private roleUpdated(e: DetectionEvent): void {
    if (!HUMAN.has(e.actorKind ?? '') || !e.actorId) return;
    const roleId = e.recordIds[0];
    const before = grantsOf(e.details.before);
    const after = grantsOf(e.details.after);
    if (!roleId || !before || !after) return;
    const newPermissions = after.permissions.filter((p) => !before.permissions.includes(p));
    const newActions = after.actions.filter((a) => !before.actions.includes(a));
    if (newPermissions.length === 0 && newActions.length === 0) return;
    const holds = this.directory.users.get(e.actorId)?.roles.includes(roleId) ?? false;
    const grantsExportOrReveal = newActions.some((a) => a.endsWith(':export') || a.endsWith(':reveal'));
    const grantsAdmin = newPermissions.some((p) => ADMIN_PERMISSIONS.has(p));
    let kind: string | null = null;
    if (holds && this.setting('access.privilege_escalation', 'selfGrant')) kind = 'self grant';
    else if (grantsAdmin && this.setting('access.privilege_escalation', 'newAdmin')) kind = 'admin rights granted';
    else if (grantsExportOrReveal && this.setting('access.privilege_escalation', 'exportOrReveal')) kind = 'export or reveal granted';
    if (!kind) return;
    const summary = kind === 'self grant' ? 'A user widened a role they hold' : kind === 'admin rights granted' ? 'A role was given the right to manage users or roles' : 'A role was given export or reveal';
    this.raise('access.privilege_escalation', `user:${e.actorId}`, e, summary, { kind, roleId, permissionsAdded: newPermissions, actionsAdded: newActions });
  }

  private auditDamage(e: DetectionEvent, what: string): void {
    const problems = Number(e.details.problems);
    this.raise('audit.verification_failed', 'audit', e, `Integrity damage: ${what}`, Number.isFinite(problems) ? { problems, action: e.action } : { action: e.action }, undefined, null);
  }

  // ---- Data ------------------------------------------------------------------------------------

  private reads(e: DetectionEvent, kind: 'read' | 'export' | 'reveal'): void {
    const userId = e.actorId;
    if (!userId || !HUMAN.has(e.actorKind ?? '')) return;
    const state = this.user(userId);
    const now = e.at;
    const subject = state.subject;
    const limits = this.limits;
    state.evidence.add(e);
    const local = this.calendar.at(now);
    const learns = now > state.profile.asOf;
    this.rollDay(state, local.day, learns);
    this.rollHour(state, now, learns);
    if (learns) {
      state.profile.hours[local.hour] = (state.profile.hours[local.hour] ?? 0) + 1;
      this.dirty.add(userId);
    }
    // Each id is hashed once, straight from the stored text, and the number serves every window below.
    const hashes = this.hashes;
    const count = e.hashRecords(hashes);

    if (this.decoyHashes.size > 0) this.honeytokens(e, state, kind, subject, hashes, count);

    if (kind === 'reveal') {
      state.reveals.add(now);
      const reveals = state.reveals.count(now);
      if (reveals > state.peakReveals) state.peakReveals = reveals;
      const floor = limits.revealFloor * this.tolerance('data.reveal_spike', subject);
      if (reveals >= floor) {
        const own = typicalHigh(state.profile.hourlyReveals, limits.revealMinHours);
        const peer = this.peerOf(userId, 'hourlyReveals');
        const bar = Math.max(floor, limits.revealFactor * Math.max(own, peer) * this.tolerance('data.reveal_spike', subject));
        if (reveals >= bar) {
          this.raise('data.reveal_spike', subject, e, `${reveals} values revealed within ${this.setting('data.reveal_spike', 'windowMinutes')} minutes`, { observed: reveals, threshold: Math.ceil(bar), ownBaseline: round(own), peerBaseline: round(peer) }, state.evidence);
        }
      }
    } else {
      const day = state.dayRecords;
      for (let i = 0; i < count; i += 1) day.add(hashes[i]!);
      if (day.size >= limits.dailyFloor) this.checkSlowExfiltration(e, state, subject);
    }

    if (kind === 'read') {
      state.reads.addAll(now, hashes, count);
      const distinct = state.reads.count(now);
      if (distinct > state.peakReads) state.peakReads = distinct;
      const floor = limits.readFloor * this.tolerance('data.read_spike', subject);
      if (distinct >= floor) {
        const own = typicalHigh(state.profile.hourlyReads, limits.readMinHours);
        const peer = this.peerOf(userId, 'hourlyReads');
        const bar = Math.max(floor, limits.readFactor * Math.max(own, peer) * this.tolerance('data.read_spike', subject));
        if (distinct >= bar) {
          state.spikedThisHour = true;
          this.raise('data.read_spike', subject, e, `${distinct} records read within ${this.setting('data.read_spike', 'windowMinutes')} minutes`, { observed: distinct, threshold: Math.ceil(bar), ownBaseline: round(own), peerBaseline: round(peer) }, state.evidence);
        }
      }
    }

    if (kind === 'export') this.exported(e, state, subject, local.day, count);
    if (local.hour < limits.offStart || local.hour >= limits.offEnd || !limits.offWorkDays[local.weekday]) this.offHours(e, state, subject, local, count);
  }

  /**
   * Decoys on this read: opened, revealed or exported at once, or read among many within the
   * window. A read says how it reached its records (`mode`): a record opened by its id is a
   * deliberate look; one that came up on a list page, in a search or a duplicate check merely
   * passed by, however few records the page held. Entries from before reads said so count a read
   * of one record alone as opened.
   */
  private honeytokens(e: DetectionEvent, state: UserState, kind: 'read' | 'export' | 'reveal', subject: string, hashes: readonly number[], count: number): void {
    const decoys = this.directory.honeytokens;
    let touched = 0;
    let first: string | null = null;
    for (let i = 0; i < count; i += 1) {
      // The ids are only split out of their text when a hash says a decoy may be among them.
      if (this.decoyHashes.has(hashes[i]!) && decoys.has(e.recordIds[i]!)) {
        touched += 1;
        first ??= e.recordIds[i]!;
      }
    }
    if (kind === 'read') state.bulkReads.add(e.at, count);
    if (touched > 0) state.decoys.add(e.at, touched);
    const deliberate = kind !== 'read' || (e.mode === null ? count === 1 : e.mode === 'open');
    if (touched > 0 && deliberate) {
      const how = kind === 'reveal' ? 'revealed' : kind === 'export' ? 'exported' : 'opened';
      this.raise('honeytoken.touched', subject, e, `A decoy record was ${how}`, { how, recordId: first, decoys: touched }, state.evidence);
      return;
    }
    // A decoy on an ordinary list page is no alarm; one among many records read at once is a dump.
    if (kind === 'read' && state.decoys.count(e.at) > 0) {
      const bar = this.limits.bulkRecords * this.tolerance('honeytoken.touched', subject);
      const read = state.bulkReads.count(e.at);
      if (read >= bar) {
        this.raise('honeytoken.touched', subject, e, `A decoy record was read among ${read} records within ${this.setting('honeytoken.touched', 'windowMinutes')} minutes`, { how: 'bulk read', observed: read, threshold: bar, decoys: state.decoys.count(e.at), recordId: first }, state.evidence);
      }
    }
  }

  private checkSlowExfiltration(e: DetectionEvent, state: UserState, subject: string): void {
    const limits = this.limits;
    const today = state.dayRecords.size;
    const tolerance = this.tolerance('data.slow_exfiltration', subject);
    const floor = limits.dailyFloor * tolerance;
    if (today < floor) return;
    const own = typicalHigh(state.profile.dailyReads, limits.exfilMinDays);
    const peer = this.peerOf(e.actorId!, 'dailyReads');
    const bar = Math.max(floor, limits.exfilFactor * Math.max(own, peer) * tolerance);
    if (today < bar) return;
    // A day far above an established baseline is not learned: a slow theft must not teach the baseline to accept it.
    if (own > 0) state.dayAbove = true;
    const days = limits.exfilDays;
    const counts = [today];
    for (let back = 1; back < days; back += 1) {
      const day = state.recentDays.find((d) => d.day === state.day - back);
      if (!day || day.count < bar) return;
      counts.push(day.count);
    }
    this.raise('data.slow_exfiltration', subject, e, `${days} days in a row with more than ${Math.ceil(bar)} records read a day (today ${today})`, { observed: today, threshold: Math.ceil(bar), days, dailyCounts: counts.reverse(), ownBaseline: round(own), peerBaseline: round(peer) }, state.evidence);
  }

  private exported(e: DetectionEvent, state: UserState, subject: string, day: number, rows: number): void {
    state.exportRows.add(e.at, rows);
    if (state.exportDay !== day) {
      state.exportDay = day;
      state.exportDayRows = 0;
    }
    state.exportDayRows += rows;
    const tolerance = this.tolerance('data.bulk_export', subject);
    const inHour = state.exportRows.count(e.at);
    const bulk = Number(this.setting('data.bulk_export', 'exportRows')) * tolerance;
    if (inHour >= bulk) {
      this.raise('data.bulk_export', subject, e, `${inHour} rows exported within an hour`, { kind: 'bulk', observed: inHour, threshold: bulk }, state.evidence);
      return;
    }
    const cap = this.dailyExportCap(e.actorId!) * tolerance;
    if (state.exportDayRows > cap) {
      this.raise('data.bulk_export', subject, e, `${state.exportDayRows} rows exported today, above the daily cap of ${cap}`, { kind: 'daily cap', observed: state.exportDayRows, threshold: cap }, state.evidence);
    }
  }

  private exportCompleted(e: DetectionEvent): void {
    const userId = e.actorId;
    if (!userId || !HUMAN.has(e.actorKind ?? '')) return;
    const state = this.user(userId);
    state.evidence.add(e);
    state.exportsDone.add(e.at);
    const subject = `user:${userId}`;
    const done = state.exportsDone.count(e.at);
    const bar = Number(this.setting('data.bulk_export', 'exportsPerHour')) * this.tolerance('data.bulk_export', subject);
    if (done >= bar) this.raise('data.bulk_export', subject, e, `${done} exports within an hour`, { kind: 'repeated', observed: done, threshold: bar }, state.evidence);
  }

  private dailyExportCap(userId: string): number {
    const caps = this.setting('data.bulk_export', 'roleDailyCaps') as Record<string, number>;
    const roles = this.directory.users.get(userId)?.roles ?? [];
    let cap = -1;
    for (const role of roles) if (caps[role] !== undefined && caps[role]! > cap) cap = caps[role]!;
    return cap >= 0 ? cap : Number(this.setting('data.bulk_export', 'dailyCap'));
  }

  /** A read outside the organisation's hours (the caller checked): counted, and compared with the user's own hours. */
  private offHours(e: DetectionEvent, state: UserState, subject: string, local: { hour: number; weekday: number }, records: number): void {
    const limits = this.limits;
    state.offHours.add(e.at, Math.max(1, records));
    const read = state.offHours.count(e.at);
    const bar = limits.offMinRecords * this.tolerance('data.off_hours', subject);
    if (read < bar) return;
    const profile = state.profile;
    const usual = profile.activeDays >= limits.offMinDays && shareNear(profile, local.hour) >= limits.offShare;
    if (usual) return;
    this.raise('data.off_hours', subject, e, `${read} records read outside working hours (hour ${local.hour}, day ${local.weekday})`, { observed: read, threshold: bar, hour: local.hour, weekday: local.weekday }, state.evidence);
  }

  private deleted(e: DetectionEvent): void {
    const userId = e.actorId;
    if (!userId || !HUMAN.has(e.actorKind ?? '')) return;
    const state = this.user(userId);
    state.evidence.add(e);
    state.deletes.add(e.at, Math.max(1, e.recordCount));
    const subject = `user:${userId}`;
    const deleted = state.deletes.count(e.at);
    const bar = Number(this.setting('data.mass_delete', 'deletes')) * this.tolerance('data.mass_delete', subject);
    if (deleted >= bar) this.raise('data.mass_delete', subject, e, `${deleted} records deleted within ${this.setting('data.mass_delete', 'windowMinutes')} minutes`, { observed: deleted, threshold: bar }, state.evidence);
  }

  /**
   * Closes the user's hour: its busiest sliding hour joins the baseline, unless it was the spike.
   * `learns` is false while replaying events the stored profile already learned from.
   */
  private rollHour(state: UserState, now: number, learns: boolean): void {
    const hour = Math.floor(now / HOUR);
    if (hour === state.hour) return;
    if (state.hour >= 0 && learns) {
      if (state.peakReads > 0 && !state.spikedThisHour) observe(state.profile.hourlyReads, state.peakReads);
      if (state.peakReveals > 0) observe(state.profile.hourlyReveals, state.peakReveals);
    }
    state.hour = hour;
    state.peakReads = 0;
    state.peakReveals = 0;
    state.spikedThisHour = false;
  }

  private rollDay(state: UserState, day: number, learns: boolean): void {
    if (day === state.day) return;
    if (state.day >= 0 && state.dayRecords.size > 0) {
      if (!state.dayAbove && learns) observe(state.profile.dailyReads, state.dayRecords.size);
      state.recentDays.push({ day: state.day, count: state.dayRecords.size });
      if (state.recentDays.length > 30) state.recentDays.shift();
    }
    state.day = day;
    state.dayRecords.clear();
    state.dayAbove = false;
    const profile = state.profile;
    if (profile.lastDay < day && learns) {
      profile.lastDay = day;
      profile.activeDays += 1;
      for (let h = 0; h < 24; h += 1) profile.hours[h] = (profile.hours[h] ?? 0) * 0.98;
    }
  }

  private peerOf(userId: string, metric: 'hourlyReads' | 'dailyReads' | 'hourlyReveals'): number {
    this.refreshPeers(false);
    let best = 0;
    for (const role of this.directory.users.get(userId)?.roles ?? []) {
      const peer = this.peers.get(role);
      if (peer && peer[metric] > best) best = peer[metric];
    }
    return best;
  }

  /** Peer baselines follow the profiles, recomputed at most once an hour of event time. */
  private refreshPeers(force: boolean): void {
    const hour = Math.floor(this.clock / HOUR);
    if (!force && hour === this.peersHour) return;
    this.peersHour = hour;
    const minHours = Number(this.setting('data.read_spike', 'minHistoryHours'));
    const minDays = Number(this.setting('data.slow_exfiltration', 'minHistoryDays'));
    const minRevealHours = Number(this.setting('data.reveal_spike', 'minHistoryHours'));
    const byRole = new Map<string, { hourly: number[]; daily: number[]; reveals: number[] }>();
    for (const [id, user] of this.directory.users) {
      const profile = this.users.get(id)?.profile;
      if (!profile) continue;
      for (const role of user.roles) {
        let lists = byRole.get(role);
        if (!lists) byRole.set(role, (lists = { hourly: [], daily: [], reveals: [] }));
        const hourly = typicalHigh(profile.hourlyReads, minHours);
        const daily = typicalHigh(profile.dailyReads, minDays);
        const reveals = typicalHigh(profile.hourlyReveals, minRevealHours);
        if (hourly > 0) lists.hourly.push(hourly);
        if (daily > 0) lists.daily.push(daily);
        if (reveals > 0) lists.reveals.push(reveals);
      }
    }
    const peers = new Map<string, PeerBaseline>();
    // A role with fewer than three members who have a baseline has no peers to speak of.
    const of = (values: number[]) => (values.length >= 3 ? upperQuartile(values) : 0);
    for (const [role, lists] of byRole) {
      peers.set(role, { hourlyReads: of(lists.hourly), dailyReads: of(lists.daily), hourlyReveals: of(lists.reveals), members: Math.max(lists.hourly.length, lists.daily.length) });
    }
    this.peers = peers;
  }

  // ---- Requests --------------------------------------------------------------------------------

  private requestEvent(e: DetectionEvent): void {
    if (e.actorId && HUMAN.has(e.actorKind ?? '') && e.action !== 'request.blocked') this.activity(e);
    if (!e.address) return;
    const weight = 1 + e.repeats;
    switch (e.action) {
      case 'request.probe': {
        const address = this.address(e.address);
        address.evidence.add(e);
        address.probes.add(e.at, weight);
        this.checkProbes(e, address);
        break;
      }
      case 'request.refused':
      case 'request.not_found': {
        // Only requests nobody signed in made: the refusals and missing pages of people at work
        // behind one office address are theirs, not a scan of it.
        if (e.actorKind !== null && e.actorKind !== 'anonymous') break;
        const address = this.address(e.address);
        address.evidence.add(e);
        address.refusals.add(e.at, weight);
        this.checkProbes(e, address);
        break;
      }
      case 'request.rate_limited': {
        // Sign-ins held back by the rate limit are failures the audit log never saw.
        if (!e.path.includes('/auth/')) break;
        const address = this.address(e.address);
        address.evidence.add(e);
        address.failures.add(e.at, weight);
        this.checkStuffing(e, address);
        break;
      }
      default:
        break;
    }
  }

  private checkProbes(e: DetectionEvent, address: AddressState): void {
    const subject = `address:${e.address}`;
    const tolerance = this.tolerance('request.probe', subject);
    const probes = address.probes.count(e.at);
    const refusals = address.refusals.count(e.at);
    const needProbes = Number(this.setting('request.probe', 'probes')) * tolerance;
    const needRefusals = Number(this.setting('request.probe', 'refusals')) * tolerance;
    const minutes = this.setting('request.probe', 'windowMinutes');
    if (probes >= needProbes) {
      this.raise('request.probe', subject, e, `${probes} probe requests from one address within ${minutes} minutes`, { kind: 'probes', observed: probes, threshold: needProbes, refusals, probe: e.probe }, address.evidence, null);
    } else if (refusals >= needRefusals) {
      this.raise('request.probe', subject, e, `${refusals} refused or missing pages for one address within ${minutes} minutes`, { kind: 'refusals', observed: refusals, threshold: needRefusals, probes }, address.evidence, null);
    }
  }

  // ---- State -----------------------------------------------------------------------------------

  private setting(rule: RuleKey, name: string): RuleSettings[string] {
    return this.rules.get(rule)?.settings[name] ?? defaultSetting(rule, name);
  }

  private tolerance(rule: RuleKey, subject: string): number {
    if (this.tolerances.size === 0) return 1;
    return this.tolerances.get(`${rule}:${subject}`) ?? 1;
  }

  private bar(rule: RuleKey, subject: string, base: number): number {
    return base * this.tolerance(rule, subject);
  }

  /** Window lengths, as one string: a change to any of them restarts the windows. */
  private spans(): string {
    const keys: [RuleKey, string][] = [
      ['auth.brute_force', 'windowMinutes'],
      ['auth.credential_stuffing', 'windowMinutes'],
      ['auth.password_spraying', 'windowMinutes'],
      ['auth.success_after_failures', 'windowMinutes'],
      ['data.read_spike', 'windowMinutes'],
      ['data.reveal_spike', 'windowMinutes'],
      ['data.off_hours', 'windowMinutes'],
      ['honeytoken.touched', 'windowMinutes'],
      ['request.probe', 'windowMinutes'],
      ['data.mass_delete', 'windowMinutes'],
    ];
    return keys.map(([rule, name]) => String(this.rules.get(rule)?.settings[name] ?? '')).join(',');
  }

  private minutes(rule: RuleKey): number {
    return Number(this.setting(rule, 'windowMinutes')) * MINUTE;
  }

  private account(id: string): AccountState {
    let state = this.accounts.get(id);
    if (!state) {
      state = new AccountState(new SlidingCount(this.minutes('auth.brute_force')), new SlidingCount(this.minutes('auth.success_after_failures')), new SlidingDistinct(this.minutes('auth.password_spraying')));
      this.accounts.set(id, state);
    }
    return state;
  }

  private address(address: string): AddressState {
    let state = this.addresses.get(address);
    if (!state) {
      const stuffing = this.minutes('auth.credential_stuffing');
      const probes = this.minutes('request.probe');
      state = new AddressState(new SlidingCount(stuffing), new SlidingDistinct(stuffing), new SlidingCount(this.minutes('auth.success_after_failures')), new SlidingCount(probes), new SlidingCount(probes));
      this.addresses.set(address, state);
    }
    return state;
  }

  private user(id: string): UserState {
    let state = this.users.get(id);
    if (!state) {
      state = this.newUserState(emptyProfile(), undefined, id);
      const listed = this.directory.users.get(id);
      if (listed?.disabledAt != null) state.disabledAt = listed.disabledAt;
      this.users.set(id, state);
    }
    return state;
  }

  private newUserState(profile: UserProfile, previous?: UserState, id?: string): UserState {
    const state = new UserState(
      profile,
      new SlidingDistinct(this.minutes('data.read_spike')),
      new SlidingCount(this.minutes('honeytoken.touched')),
      new SlidingCount(this.minutes('honeytoken.touched')),
      new SlidingCount(this.minutes('data.reveal_spike')),
      new SlidingCount(HOUR),
      new SlidingCount(HOUR),
      new SlidingCount(this.minutes('data.off_hours')),
      new SlidingCount(this.minutes('data.mass_delete')),
    );
    if (id !== undefined) state.subject = `user:${id}`;
    if (previous) {
      state.disabledAt = previous.disabledAt;
      state.day = previous.day;
      state.dayRecords = previous.dayRecords;
      state.recentDays = previous.recentDays;
      state.exportDay = previous.exportDay;
      state.exportDayRows = previous.exportDayRows;
    }
    return state;
  }

  /** Forgets accounts and addresses quiet for longer than any window can reach back. */
  private prune(): void {
    this.sincePrune = 0;
    const horizon = this.clock - 2 * Math.max(...['auth.brute_force', 'auth.credential_stuffing', 'auth.password_spraying', 'auth.success_after_failures', 'request.probe'].map((r) => this.minutes(r as RuleKey)));
    for (const [key, state] of this.accounts) if (state.last < horizon) this.accounts.delete(key);
    for (const [key, state] of this.addresses) if (state.last < horizon) this.addresses.delete(key);
  }

  private raise(rule: RuleKey, subject: string, e: DetectionEvent, summary: string, figures: Record<string, unknown>, evidence?: Evidence, actorId?: string | null): void {
    const active = this.rules.get(rule);
    if (this.silent || !active || !active.enabled) return;
    const seqs = evidence ? [...evidence.seqs] : [];
    const requests = evidence ? [...evidence.requests] : [];
    if (e.seq > 0 && !seqs.includes(e.seq)) seqs.push(e.seq);
    if (e.requestEventId && !requests.includes(e.requestEventId)) requests.push(e.requestEventId);
    this.out.push({
      rule,
      severity: active.severity,
      subjectKey: `${rule}:${subject}`,
      summary,
      actorKind: actorId === undefined ? e.actorKind : actorId === null ? null : (e.actorKind ?? 'anonymous'),
      actorId: actorId === undefined ? e.actorId : actorId,
      sessionId: e.sessionId,
      sourceAddress: e.address,
      at: e.at,
      auditSeqs: seqs,
      requestEventIds: requests,
      figures,
      automatic: active.automatic,
      suggested: active.suggested,
    });
  }
}

function defaultSetting(rule: RuleKey, name: string): RuleSettings[string] {
  return ruleDefinition(rule)!.settings[name]!;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** A role definition's grants as flat lists: permissions, and `type:action` pairs. */
function grantsOf(definition: unknown): { permissions: string[]; actions: string[] } | null {
  if (typeof definition !== 'object' || definition === null) return null;
  const d = definition as { permissions?: unknown; records?: unknown };
  const permissions = Array.isArray(d.permissions) ? d.permissions.filter((p): p is string => typeof p === 'string') : [];
  const actions: string[] = [];
  if (typeof d.records === 'object' && d.records !== null) {
    for (const [type, grant] of Object.entries(d.records as Record<string, { actions?: Record<string, unknown> }>)) {
      for (const action of Object.keys(grant?.actions ?? {})) actions.push(`${type}:${action}`);
    }
  }
  return { permissions, actions };
}
