import fs from 'node:fs';
import path from 'node:path';
import { isNetworkRange, type NetworkRule } from '../policy/networks.js';
import { parseBackupSchedule, SCHEDULE_FORMAT, type BackupSchedule, type DrillFrequency } from '../modules/backup/backup-schedule.js';
import { parseOffsiteUrl, type OffsiteStore } from '../modules/backup/offsite-s3.js';

/** The validated, frozen configuration. Nothing else in Rampart reads `process.env`. */
export interface Config {
  readonly dataDir: string;
  /** `sqlite:<file>` for the embedded default, `postgres://…` for PostgreSQL. */
  readonly databaseUrl: string;
  readonly database: { readonly dialect: 'sqlite'; readonly file: string } | { readonly dialect: 'postgres'; readonly url: string };
  readonly host: string;
  readonly port: number;
  /** The address users reach the app at; used in setup links. */
  readonly publicUrl: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly bodyLimitBytes: number;
  readonly session: { readonly idleMinutes: number; readonly absoluteHours: number };
  readonly authRateLimitPerMinute: number;
  /**
   * Which proxies in front of Rampart may name the client address (X-Forwarded-For): none (false),
   * every hop (true: any client can then choose its own address), the nearest N hops, or the
   * proxies' own addresses and ranges.
   */
  readonly trustProxy: boolean | number | string[];
  /** Address ranges every request must come from (allow, when set) and must not (deny). */
  readonly network: NetworkRule;
  /** HTTPS: a configured certificate, one generated for a first run, or none (loopback or behind a proxy). */
  readonly tls: { readonly mode: 'off' } | { readonly mode: 'files'; readonly cert: string; readonly key: string } | { readonly mode: 'self-signed'; readonly dir: string };
  readonly audit: {
    /** The audit log's checkpoint signing key (Ed25519), kept apart from every data key. */
    readonly keyFile: string;
    /** A checkpoint is signed once this many entries are not yet covered by one… */
    readonly checkpointEntries: number;
    /** …or once the newest uncovered entry has waited this long. */
    readonly checkpointSeconds: number;
    /** Where each checkpoint goes besides the database: appended to a file, POSTed to a URL, a line on standard output. */
    readonly checkpointFile: string | undefined;
    readonly checkpointUrl: string | undefined;
    readonly checkpointStdout: boolean;
    /** `rampart audit archive` moves entries older than this many days into an archive file; unset, it asks. */
    readonly archiveDays: number | undefined;
  };
  readonly keys: {
    /** The local key file holding the key-encryption key. */
    readonly file: string;
    /** Unlocks a passphrase-protected key file. A secret: never print or log it. */
    readonly passphrase: string | undefined;
    /** How many data subjects' keys stay unwrapped in memory. */
    readonly cacheSize: number;
    /** How many people the database is expected to hold; sizes new blind indexes. */
    readonly expectedPeople: number;
    /** The country calling code given to phone numbers written without one. */
    readonly phoneCountryCode: string;
  };
  /** How Rampart sends mail (password links, notices): SMTP, files in a directory, or standard output. */
  readonly mail: {
    readonly transport: { readonly kind: 'smtp'; readonly url: string } | { readonly kind: 'file'; readonly dir: string } | { readonly kind: 'console' };
    readonly from: string;
  };
  /** OpenID Connect single sign-on; undefined when not configured. */
  readonly oidc: OidcSettings | undefined;
  /** Where security alerts go besides the app and mail to the people who handle them. */
  readonly alerts: {
    /** A webhook that receives each new alert as signed JSON. */
    readonly webhookUrl: string | undefined;
    /** Signs the webhook's bodies (HMAC-SHA256). A secret: never print or log it. */
    readonly webhookSecret: string | undefined;
    /** A syslog collector that receives each new alert as an RFC 5424 message over UDP. */
    readonly syslog: { readonly host: string; readonly port: number } | undefined;
  };
  /**
   * Rehearsal instances only: the clock runs ahead of real time by an offset an administrator can
   * grow through the API, so attack scenarios can span days. Never on a production server.
   */
  readonly simulatedClock: boolean;
  /** Addresses and ranges automatic responses never block (offices, the proxies, monitoring). */
  readonly detectionNeverBlock: readonly string[];
  /** Whether this server runs the breach detection engine (one process among several evaluates at a time). */
  readonly detection: boolean;
  /** Export caps for roles that set none of their own (a role's `exports` part overrides each). */
  readonly exports: {
    /** Exports of more rows than this need a second person's approval. */
    readonly approvalRows: number;
    /** The most rows one export may hold. */
    readonly maxRows: number;
    /** Rows a user may export a day; list pages read count too. */
    readonly dailyRows: number;
  };
  /** How many days a record stays in the trash, restorable, before it is purged for good. */
  readonly trashRetentionDays: number;
  /** Deleting or changing more records than this at once needs a second person's approval. */
  readonly bulkApprovalRecords: number;
  /** Scheduled backups into a folder, with grandfather-father-son retention and restore drills. */
  readonly backup: {
    /** The folder scheduled backups go to; undefined: no schedule. */
    readonly dir: string | undefined;
    /** When they run (UTC): a daily time or an interval. */
    readonly schedule: BackupSchedule;
    /** How many daily, weekly and monthly backups retention keeps. */
    readonly keep: { readonly daily: number; readonly weekly: number; readonly monthly: number };
    /** How often a scheduled backup is followed by a restore drill. */
    readonly drill: DrillFrequency;
    /** An S3-compatible store each backup in the folder is copied to, with the same retention; undefined: none. */
    readonly offsite: OffsiteStore | undefined;
  };
}

export interface OidcSettings {
  readonly issuer: string;
  readonly clientId: string;
  /** A secret: never print or log it. */
  readonly clientSecret: string;
  readonly scopes: string;
  /** The button text on the sign-in page. */
  readonly displayName: string;
  /** The ID token or userinfo claim that lists the user's groups. */
  readonly groupsClaim: string;
  /** Provider group → Rampart role name. When set, roles follow the groups at every sign-in. */
  readonly roleMap: ReadonlyArray<{ readonly group: string; readonly role: string }>;
  /** Whether a provider user with no Rampart account gets one at first sign-in (just in time). */
  readonly createUsers: boolean;
  /** `rampart`: Rampart asks for its own second factor; `provider`: a second factor at the provider (amr) counts. */
  readonly mfa: 'rampart' | 'provider';
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Source = Record<string, string | undefined>;

const KNOWN_KEYS = [
  'DATA_DIR',
  'DATABASE_URL',
  'HOST',
  'PORT',
  'PUBLIC_URL',
  'LOG_LEVEL',
  'BODY_LIMIT_BYTES',
  'SESSION_IDLE_MINUTES',
  'SESSION_ABSOLUTE_HOURS',
  'AUTH_RATE_LIMIT_PER_MINUTE',
  'TRUST_PROXY',
  'TLS_CERT',
  'TLS_KEY',
  'TLS_SELF_SIGNED',
  'KEY_FILE',
  'AUDIT_KEY_FILE',
  'AUDIT_CHECKPOINT_ENTRIES',
  'AUDIT_CHECKPOINT_SECONDS',
  'AUDIT_CHECKPOINT_FILE',
  'AUDIT_CHECKPOINT_URL',
  'AUDIT_CHECKPOINT_STDOUT',
  'AUDIT_ARCHIVE_DAYS',
  'KEY_PASSPHRASE',
  'KEY_PASSPHRASE_FILE',
  'KEY_CACHE_SIZE',
  'EXPECTED_PEOPLE',
  'PHONE_COUNTRY_CODE',
  'NETWORK_ALLOW',
  'NETWORK_DENY',
  'MAIL_TRANSPORT',
  'MAIL_DIR',
  'MAIL_FROM',
  'ALERT_WEBHOOK_URL',
  'ALERT_WEBHOOK_SECRET',
  'ALERT_SYSLOG',
  'OIDC_ISSUER',
  'OIDC_CLIENT_ID',
  'OIDC_CLIENT_SECRET',
  'OIDC_SCOPES',
  'OIDC_DISPLAY_NAME',
  'OIDC_GROUPS_CLAIM',
  'OIDC_ROLE_MAP',
  'OIDC_CREATE_USERS',
  'OIDC_MFA',
  'CONFIG_FILE',
  'SIMULATED_CLOCK',
  'DETECTION',
  'DETECTION_NEVER_BLOCK',
  'EXPORT_APPROVAL_ROWS',
  'EXPORT_MAX_ROWS',
  'EXPORT_DAILY_ROWS',
  'TRASH_RETENTION_DAYS',
  'BULK_APPROVAL_RECORDS',
  'BACKUP_DIR',
  'BACKUP_SCHEDULE',
  'BACKUP_KEEP_DAILY',
  'BACKUP_KEEP_WEEKLY',
  'BACKUP_KEEP_MONTHLY',
  'BACKUP_DRILL',
  'BACKUP_S3_URL',
  'BACKUP_S3_REGION',
  'BACKUP_S3_ACCESS_KEY_ID',
  'BACKUP_S3_SECRET_ACCESS_KEY',
] as const;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export interface LoadConfigOptions {
  /** Environment variables; defaults to `process.env`. */
  env?: Source;
  /** Working directory that relative paths resolve against. */
  cwd?: string;
  /** Values that win over both the environment and the config file (CLI flags). */
  overrides?: Partial<Record<(typeof KNOWN_KEYS)[number], string>>;
}

/**
 * Builds the configuration from `RAMPART_*` variables and an optional JSON config file
 * (`RAMPART_CONFIG_FILE`, or `rampart.config.json` in the data directory). Collects every problem
 * before failing, so an operator fixes them in one pass.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const problems: string[] = [];

  for (const name of Object.keys(env)) {
    if (name.startsWith('RAMPART_') && !name.startsWith('RAMPART_TEST_')) {
      const key = name.slice('RAMPART_'.length);
      if (!(KNOWN_KEYS as readonly string[]).includes(key)) problems.push(`${name} is not a known setting`);
    }
  }

  const fromEnv: Source = {};
  for (const key of KNOWN_KEYS) fromEnv[key] = env[`RAMPART_${key}`];

  const dataDirRaw = options.overrides?.DATA_DIR ?? fromEnv.DATA_DIR ?? './data';
  const dataDir = path.resolve(cwd, dataDirRaw);

  const fileValues = readConfigFile(options.overrides?.CONFIG_FILE ?? fromEnv.CONFIG_FILE, dataDir, cwd, problems);
  const value = (key: (typeof KNOWN_KEYS)[number]): string | undefined =>
    options.overrides?.[key] ?? fromEnv[key] ?? fileValues[key];

  const databaseUrl = value('DATABASE_URL') ?? `sqlite:${path.join(dataDir, 'rampart.db')}`;
  let database: Config['database'] = { dialect: 'sqlite', file: path.join(dataDir, 'rampart.db') };
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
    try {
      new URL(databaseUrl);
      database = { dialect: 'postgres', url: databaseUrl };
    } catch {
      problems.push('RAMPART_DATABASE_URL is not a valid postgres:// URL');
    }
  } else if (databaseUrl.startsWith('sqlite:')) {
    const file = databaseUrl.slice('sqlite:'.length);
    if (file.length === 0) problems.push('RAMPART_DATABASE_URL sqlite: needs a file path');
    else database = { dialect: 'sqlite', file: file === ':memory:' ? file : path.resolve(cwd, file) };
  } else {
    problems.push('RAMPART_DATABASE_URL must start with postgres:// or sqlite:');
  }

  const host = value('HOST') ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.:\-[\]]+$/.test(host)) problems.push('RAMPART_HOST is not a host name or address');
  const port = integer(value('PORT'), 8080, 'RAMPART_PORT', 0, 65535, problems);
  const tls = tlsSettings(value('TLS_CERT'), value('TLS_KEY'), value('TLS_SELF_SIGNED'), cwd, dataDir, problems);
  const trustProxy = trustProxySetting(value('TRUST_PROXY'), problems);
  // Plain HTTP beyond this machine would carry passwords, sessions and customer data in the clear.
  if (tls.mode === 'off' && trustProxy === false && !isLoopback(host)) {
    problems.push(
      `RAMPART_HOST ${host} is reachable from other machines, so Rampart will not serve it over plain HTTP: give a certificate (RAMPART_TLS_CERT and RAMPART_TLS_KEY), ask for a generated one (RAMPART_TLS_SELF_SIGNED=true), or, behind a reverse proxy that terminates TLS, set RAMPART_TRUST_PROXY to the proxy's address`,
    );
  }
  const publicUrl = value('PUBLIC_URL') ?? `${tls.mode === 'off' ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  try {
    const url = new URL(publicUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.push('RAMPART_PUBLIC_URL must be http(s)');
  } catch {
    problems.push('RAMPART_PUBLIC_URL is not a valid URL');
  }
  const logLevel = (value('LOG_LEVEL') ?? 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`RAMPART_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);

  const config: Config = {
    dataDir,
    databaseUrl: database.dialect === 'postgres' ? redactUrl(database.url) : databaseUrl,
    database,
    host,
    port,
    publicUrl: publicUrl.replace(/\/+$/, ''),
    logLevel,
    bodyLimitBytes: integer(value('BODY_LIMIT_BYTES'), 1_048_576, 'RAMPART_BODY_LIMIT_BYTES', 1024, 100 * 1_048_576, problems),
    session: {
      idleMinutes: integer(value('SESSION_IDLE_MINUTES'), 30, 'RAMPART_SESSION_IDLE_MINUTES', 1, 24 * 60, problems),
      absoluteHours: integer(value('SESSION_ABSOLUTE_HOURS'), 12, 'RAMPART_SESSION_ABSOLUTE_HOURS', 1, 24 * 30, problems),
    },
    authRateLimitPerMinute: integer(value('AUTH_RATE_LIMIT_PER_MINUTE'), 20, 'RAMPART_AUTH_RATE_LIMIT_PER_MINUTE', 1, 100_000, problems),
    trustProxy,
    network: { allow: networkList(value('NETWORK_ALLOW'), 'RAMPART_NETWORK_ALLOW', problems), deny: networkList(value('NETWORK_DENY'), 'RAMPART_NETWORK_DENY', problems) },
    tls,
    audit: {
      keyFile: path.resolve(cwd, value('AUDIT_KEY_FILE') ?? path.join(dataDir, 'audit-signing.key')),
      checkpointEntries: integer(value('AUDIT_CHECKPOINT_ENTRIES'), 1000, 'RAMPART_AUDIT_CHECKPOINT_ENTRIES', 1, 10_000_000, problems),
      checkpointSeconds: integer(value('AUDIT_CHECKPOINT_SECONDS'), 60, 'RAMPART_AUDIT_CHECKPOINT_SECONDS', 1, 86_400, problems),
      checkpointFile: value('AUDIT_CHECKPOINT_FILE') === undefined ? undefined : path.resolve(cwd, value('AUDIT_CHECKPOINT_FILE')!),
      checkpointUrl: checkpointUrl(value('AUDIT_CHECKPOINT_URL'), problems),
      checkpointStdout: boolean(value('AUDIT_CHECKPOINT_STDOUT'), false, 'RAMPART_AUDIT_CHECKPOINT_STDOUT', problems),
      archiveDays: value('AUDIT_ARCHIVE_DAYS') === undefined ? undefined : integer(value('AUDIT_ARCHIVE_DAYS'), 0, 'RAMPART_AUDIT_ARCHIVE_DAYS', 1, 36_500, problems),
    },
    keys: {
      file: path.resolve(cwd, value('KEY_FILE') ?? path.join(dataDir, 'rampart.key')),
      passphrase: passphrase(value('KEY_PASSPHRASE'), value('KEY_PASSPHRASE_FILE'), cwd, problems),
      cacheSize: integer(value('KEY_CACHE_SIZE'), 10_000, 'RAMPART_KEY_CACHE_SIZE', 1, 10_000_000, problems),
      expectedPeople: integer(value('EXPECTED_PEOPLE'), 1_000_000, 'RAMPART_EXPECTED_PEOPLE', 100, 10_000_000_000, problems),
      phoneCountryCode: countryCode(value('PHONE_COUNTRY_CODE'), problems),
    },
    mail: {
      transport: mailTransport(value('MAIL_TRANSPORT'), value('MAIL_DIR'), cwd, dataDir, problems),
      from: mailFrom(value('MAIL_FROM'), publicUrl, problems),
    },
    oidc: oidcSettings(value, problems),
    alerts: alertSettings(value('ALERT_WEBHOOK_URL'), value('ALERT_WEBHOOK_SECRET'), value('ALERT_SYSLOG'), problems),
    simulatedClock: boolean(value('SIMULATED_CLOCK'), false, 'RAMPART_SIMULATED_CLOCK', problems),
    detection: onOff(value('DETECTION'), true, 'RAMPART_DETECTION', problems),
    detectionNeverBlock: networkList(value('DETECTION_NEVER_BLOCK'), 'RAMPART_DETECTION_NEVER_BLOCK', problems),
    exports: {
      approvalRows: integer(value('EXPORT_APPROVAL_ROWS'), 1000, 'RAMPART_EXPORT_APPROVAL_ROWS', 0, 100_000_000, problems),
      maxRows: integer(value('EXPORT_MAX_ROWS'), 100_000, 'RAMPART_EXPORT_MAX_ROWS', 1, 100_000_000, problems),
      dailyRows: integer(value('EXPORT_DAILY_ROWS'), 100_000, 'RAMPART_EXPORT_DAILY_ROWS', 1, 1_000_000_000, problems),
    },
    trashRetentionDays: integer(value('TRASH_RETENTION_DAYS'), 30, 'RAMPART_TRASH_RETENTION_DAYS', 1, 36_500, problems),
    bulkApprovalRecords: integer(value('BULK_APPROVAL_RECORDS'), 50, 'RAMPART_BULK_APPROVAL_RECORDS', 0, 10_000, problems),
    backup: {
      dir: value('BACKUP_DIR') === undefined || value('BACKUP_DIR') === '' ? undefined : path.resolve(cwd, value('BACKUP_DIR')!),
      schedule: backupSchedule(value('BACKUP_SCHEDULE'), problems),
      keep: {
        daily: integer(value('BACKUP_KEEP_DAILY'), 7, 'RAMPART_BACKUP_KEEP_DAILY', 1, 3650, problems),
        weekly: integer(value('BACKUP_KEEP_WEEKLY'), 4, 'RAMPART_BACKUP_KEEP_WEEKLY', 0, 520, problems),
        monthly: integer(value('BACKUP_KEEP_MONTHLY'), 12, 'RAMPART_BACKUP_KEEP_MONTHLY', 0, 1200, problems),
      },
      drill: drillFrequency(value('BACKUP_DRILL'), problems),
      offsite: offsiteStore(value, problems),
    },
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
}

function backupSchedule(raw: string | undefined, problems: string[]): BackupSchedule {
  const schedule = parseBackupSchedule(raw ?? '02:00');
  if (schedule) return schedule;
  problems.push(`RAMPART_BACKUP_SCHEDULE must be ${SCHEDULE_FORMAT}`);
  return parseBackupSchedule('02:00')!;
}

function drillFrequency(raw: string | undefined, problems: string[]): DrillFrequency {
  const value = raw ?? 'weekly';
  if (value === 'daily' || value === 'weekly' || value === 'off') return value;
  problems.push('RAMPART_BACKUP_DRILL must be daily, weekly or off');
  return 'weekly';
}

/**
 * The S3-compatible store backups are copied to: RAMPART_BACKUP_S3_URL with its key pair. Copies
 * are made of the backups in the folder, so the folder must be set too. Messages never repeat the
 * URL or the keys. The secret key is kept out of the object's enumerable properties, so printing
 * or serialising the configuration never shows it.
 */
function offsiteStore(value: (key: (typeof KNOWN_KEYS)[number]) => string | undefined, problems: string[]): OffsiteStore | undefined {
  const raw = value('BACKUP_S3_URL')?.trim();
  const others = ['BACKUP_S3_REGION', 'BACKUP_S3_ACCESS_KEY_ID', 'BACKUP_S3_SECRET_ACCESS_KEY'] as const;
  if (!raw) {
    const stray = others.filter((key) => value(key) !== undefined && value(key) !== '');
    if (stray.length > 0) problems.push(`${stray.map((k) => `RAMPART_${k}`).join(', ')} need RAMPART_BACKUP_S3_URL`);
    return undefined;
  }
  const before = problems.length;
  const location = parseOffsiteUrl(raw);
  if ('problem' in location) problems.push(location.problem);
  if (!value('BACKUP_DIR')) problems.push('RAMPART_BACKUP_S3_URL needs RAMPART_BACKUP_DIR: the store gets a copy of each backup taken into the folder');
  const region = value('BACKUP_S3_REGION')?.trim() || 'us-east-1';
  if (!/^[a-z0-9-]{1,40}$/.test(region)) problems.push('RAMPART_BACKUP_S3_REGION must be a region name such as us-east-1 (lower-case letters, digits and hyphens)');
  const accessKeyId = value('BACKUP_S3_ACCESS_KEY_ID')?.trim() ?? '';
  if (accessKeyId === '') problems.push('RAMPART_BACKUP_S3_ACCESS_KEY_ID is required with RAMPART_BACKUP_S3_URL');
  else if (!/^[A-Za-z0-9._~+=-]{1,128}$/.test(accessKeyId)) problems.push('RAMPART_BACKUP_S3_ACCESS_KEY_ID may hold only letters, digits and . _ ~ + = -');
  const secret = value('BACKUP_S3_SECRET_ACCESS_KEY') ?? '';
  // The messages never repeat the secret.
  if (secret === '') problems.push('RAMPART_BACKUP_S3_SECRET_ACCESS_KEY is required with RAMPART_BACKUP_S3_URL');
  else if (!/^[\x21-\x7e]{1,256}$/.test(secret)) problems.push('RAMPART_BACKUP_S3_SECRET_ACCESS_KEY must be 1 to 256 printable characters without spaces');
  if (problems.length > before || 'problem' in location) return undefined;
  const store = { endpoint: location.endpoint, bucket: location.bucket, prefix: location.prefix, region, accessKeyId } as OffsiteStore;
  Object.defineProperty(store, 'secretAccessKey', { value: secret, enumerable: false });
  return store;
}

function onOff(raw: string | undefined, fallback: boolean, name: string, problems: string[]): boolean {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = raw.trim().toLowerCase();
  if (value === 'on') return true;
  if (value === 'off') return false;
  problems.push(`${name} must be on or off`);
  return fallback;
}

/** Checkpoints leave the server over HTTPS; plain HTTP only to this machine (a local log shipper). */
function checkpointUrl(raw: string | undefined, problems: string[]): string | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  try {
    const url = new URL(raw);
    if (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname.replace(/^\[|\]$/g, '')))) return url.toString();
  } catch {
    // reported below
  }
  problems.push('RAMPART_AUDIT_CHECKPOINT_URL must be an https:// URL (or http:// to this machine)');
  return undefined;
}

/**
 * Alert channels. The webhook goes over HTTPS (plain HTTP only to this machine) and needs a secret
 * to sign with, so the receiver can tell Rampart's alerts from forged ones; syslog is UDP.
 */
function alertSettings(webhook: string | undefined, secret: string | undefined, syslog: string | undefined, problems: string[]): Config['alerts'] {
  let webhookUrl: string | undefined;
  if (webhook !== undefined && webhook.trim() !== '') {
    try {
      const url = new URL(webhook.trim());
      if (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname))) webhookUrl = url.toString();
    } catch {
      // reported below; the URL may carry a credential, so it is not repeated
    }
    if (webhookUrl === undefined) problems.push('RAMPART_ALERT_WEBHOOK_URL must be an https:// URL (or http:// to this machine)');
  }
  const webhookSecret = secret === undefined || secret === '' ? undefined : secret;
  // The message never repeats the secret.
  if (webhookSecret !== undefined && [...webhookSecret].length < 16) problems.push('RAMPART_ALERT_WEBHOOK_SECRET must be at least 16 characters');
  if (webhookUrl !== undefined && webhookSecret === undefined) problems.push('RAMPART_ALERT_WEBHOOK_URL needs RAMPART_ALERT_WEBHOOK_SECRET to sign with');
  if (webhookUrl === undefined && webhookSecret !== undefined && !problems.some((p) => p.startsWith('RAMPART_ALERT_WEBHOOK_URL'))) problems.push('RAMPART_ALERT_WEBHOOK_SECRET needs RAMPART_ALERT_WEBHOOK_URL');
  let collector: Config['alerts']['syslog'];
  if (syslog !== undefined && syslog.trim() !== '') {
    const match = /^udp:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/.exec(syslog.trim());
    const port = match?.[2] === undefined ? 514 : Number(match[2]);
    if (!match || port < 1 || port > 65535) problems.push('RAMPART_ALERT_SYSLOG must be udp://host:port (the port defaults to 514)');
    else collector = { host: match[1]!.replace(/^\[|\]$/g, ''), port };
  }
  return { webhookUrl, webhookSecret, syslog: collector };
}

/**
 * `file` (the default: one .eml file per message under the data directory), `console` (standard
 * output, for development) or an `smtp://` / `smtps://` URL. Plain SMTP beyond this machine must
 * upgrade with STARTTLS, which the mailer enforces.
 */
function mailTransport(raw: string | undefined, dir: string | undefined, cwd: string, dataDir: string, problems: string[]): Config['mail']['transport'] {
  const choice = raw?.trim() || 'file';
  if (choice === 'file') return { kind: 'file', dir: path.resolve(cwd, dir ?? path.join(dataDir, 'mail')) };
  if (choice === 'console') return { kind: 'console' };
  try {
    const url = new URL(choice);
    if ((url.protocol === 'smtp:' || url.protocol === 'smtps:') && url.hostname !== '') return { kind: 'smtp', url: url.toString() };
  } catch {
    // reported below; the URL may hold a password, so it is not repeated
  }
  problems.push('RAMPART_MAIL_TRANSPORT must be file, console, or an smtp:// or smtps:// URL');
  return { kind: 'file', dir: path.join(dataDir, 'mail') };
}

function mailFrom(raw: string | undefined, publicUrl: string, problems: string[]): string {
  if (raw !== undefined && raw.trim() !== '') {
    if (!/^[^\r\n<>]*<[^\s@<>]+@[^\s@<>]+>$|^[^\s@<>]+@[^\s@<>]+$/.test(raw.trim())) problems.push('RAMPART_MAIL_FROM must be an address, optionally with a name: Rampart <crm@example.com>');
    return raw.trim();
  }
  let host = 'localhost';
  try {
    host = new URL(publicUrl).hostname.replace(/^\[|\]$/g, '') || host;
  } catch {
    // the public URL's own problem is reported elsewhere
  }
  return `Rampart <rampart@${host.includes('.') && !/^[\d.]+$/.test(host) ? host : 'localhost'}>`;
}

/** Single sign-on is on when an issuer is given; the client id and secret must come with it. */
function oidcSettings(value: (key: (typeof KNOWN_KEYS)[number]) => string | undefined, problems: string[]): OidcSettings | undefined {
  const issuer = value('OIDC_ISSUER')?.trim();
  const others = ['OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'OIDC_SCOPES', 'OIDC_DISPLAY_NAME', 'OIDC_GROUPS_CLAIM', 'OIDC_ROLE_MAP', 'OIDC_CREATE_USERS', 'OIDC_MFA'] as const;
  if (!issuer) {
    const stray = others.filter((key) => value(key) !== undefined);
    if (stray.length > 0) problems.push(`${stray.map((k) => `RAMPART_${k}`).join(', ')} need RAMPART_OIDC_ISSUER`);
    return undefined;
  }
  try {
    const url = new URL(issuer);
    // The provider's answers decide who signs in: they must come over HTTPS, or from this machine.
    if (!(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname)))) problems.push('RAMPART_OIDC_ISSUER must be an https:// URL (or http:// to this machine)');
  } catch {
    problems.push('RAMPART_OIDC_ISSUER is not a valid URL');
  }
  const clientId = value('OIDC_CLIENT_ID')?.trim() ?? '';
  const clientSecret = value('OIDC_CLIENT_SECRET') ?? '';
  if (clientId === '') problems.push('RAMPART_OIDC_CLIENT_ID is required with RAMPART_OIDC_ISSUER');
  if (clientSecret === '') problems.push('RAMPART_OIDC_CLIENT_SECRET is required with RAMPART_OIDC_ISSUER');
  const scopes = value('OIDC_SCOPES')?.trim() || 'openid email profile';
  if (!scopes.split(/\s+/).includes('openid')) problems.push('RAMPART_OIDC_SCOPES must include openid');
  const roleMap: { group: string; role: string }[] = [];
  for (const pair of (value('OIDC_ROLE_MAP') ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const at = pair.lastIndexOf('=');
    const group = pair.slice(0, at).trim();
    const role = pair.slice(at + 1).trim();
    if (at <= 0 || group === '' || role === '') problems.push('RAMPART_OIDC_ROLE_MAP must be a comma-separated list of group=role');
    else roleMap.push({ group, role });
  }
  const mfa = value('OIDC_MFA')?.trim() || 'rampart';
  if (mfa !== 'rampart' && mfa !== 'provider') problems.push('RAMPART_OIDC_MFA must be rampart or provider');
  return {
    // Kept exactly as given: the provider's discovery document must name the same issuer.
    issuer,
    clientId,
    clientSecret,
    scopes,
    displayName: value('OIDC_DISPLAY_NAME')?.trim() || 'SSO',
    groupsClaim: value('OIDC_GROUPS_CLAIM')?.trim() || 'groups',
    roleMap,
    createUsers: boolean(value('OIDC_CREATE_USERS'), false, 'RAMPART_OIDC_CREATE_USERS', problems),
    mfa: mfa === 'provider' ? 'provider' : 'rampart',
  };
}

/** Names proxy-addr knows for whole ranges: 127.0.0.0/8 and ::1, link-local, unique-local and private. */
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * `true` or `false`, a hop count (1 to 10: trust that many proxies nearest to Rampart, whoever
 * they are), or a comma-separated list of the proxies' addresses and ranges (and `loopback`,
 * `linklocal`, `uniquelocal`). A list is the safe choice: only a request that really came through
 * one of those proxies may name its client.
 */
function trustProxySetting(raw: string | undefined, problems: string[]): Config['trustProxy'] {
  const text = raw?.trim() ?? '';
  if (text === '') return false;
  const lower = text.toLowerCase();
  if (['true', 'yes', 'on'].includes(lower)) return true;
  if (['false', 'no', 'off', '0'].includes(lower)) return false;
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops >= 1 && hops <= 10) return hops;
    problems.push('RAMPART_TRUST_PROXY as a hop count must be 1 to 10');
    return false;
  }
  const entries = text.split(',').map((e) => e.trim()).filter((e) => e !== '');
  const bad = entries.filter((e) => !PROXY_RANGE_NAMES.includes(e.toLowerCase()) && !isNetworkRange(e));
  if (entries.length === 0 || bad.length > 0) {
    problems.push('RAMPART_TRUST_PROXY must be true, false, a hop count, or a comma-separated list of the proxies\' addresses and CIDR ranges (10.0.0.5, 10.1.0.0/16, loopback)');
    return false;
  }
  return entries.map((e) => (PROXY_RANGE_NAMES.includes(e.toLowerCase()) ? e.toLowerCase() : e));
}

/** A comma-separated list of addresses and CIDR ranges. */
function networkList(raw: string | undefined, name: string, problems: string[]): string[] {
  if (raw === undefined || raw.trim() === '') return [];
  const ranges = raw.split(',').map((r) => r.trim()).filter((r) => r !== '');
  const bad = ranges.filter((r) => !isNetworkRange(r));
  if (bad.length > 0) problems.push(`${name} holds ${bad.length} entr${bad.length === 1 ? 'y' : 'ies'} that are not an address or a CIDR range (10.0.0.0/8, 2001:db8::/32)`);
  return ranges;
}

/** The data directory holds the database, keys and certificates: only the owner may enter it. */
export function ensureDataDir(config: Config): void {
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(config.dataDir, 0o700);
}

function readConfigFile(explicit: string | undefined, dataDir: string, cwd: string, problems: string[]): Source {
  const file = explicit ? path.resolve(cwd, explicit) : path.join(dataDir, 'rampart.config.json');
  if (!fs.existsSync(file)) {
    if (explicit) problems.push(`RAMPART_CONFIG_FILE ${explicit} does not exist`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    problems.push(`config file ${file} is not valid JSON`);
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push(`config file ${file} must hold a JSON object`);
    return {};
  }
  const values: Source = {};
  for (const [name, raw] of Object.entries(parsed)) {
    const key = name.replace(/^RAMPART_/, '').replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
    if (!(KNOWN_KEYS as readonly string[]).includes(key) || key === 'CONFIG_FILE') {
      problems.push(`config file ${file}: "${name}" is not a known setting`);
      continue;
    }
    if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
      problems.push(`config file ${file}: "${name}" must be a string, number or boolean`);
      continue;
    }
    values[key] = String(raw);
  }
  return values;
}

function integer(raw: string | undefined, fallback: number, name: string, min: number, max: number, problems: string[]): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) {
    problems.push(`${name} must be a whole number (got "${raw.slice(0, 40)}")`);
    return fallback;
  }
  const n = Number(raw);
  if (n < min || n > max) problems.push(`${name} must be between ${min} and ${max}`);
  return n;
}

function boolean(raw: string | undefined, fallback: boolean, name: string, problems: string[]): boolean {
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
  problems.push(`${name} must be true or false`);
  return fallback;
}

function tlsSettings(cert: string | undefined, key: string | undefined, selfSigned: string | undefined, cwd: string, dataDir: string, problems: string[]): Config['tls'] {
  const generate = boolean(selfSigned, false, 'RAMPART_TLS_SELF_SIGNED', problems);
  if (cert || key) {
    if (!cert || !key) problems.push('RAMPART_TLS_CERT and RAMPART_TLS_KEY go together: give both files or neither');
    if (generate) problems.push('RAMPART_TLS_SELF_SIGNED cannot be combined with a configured certificate');
    for (const [name, file] of [['RAMPART_TLS_CERT', cert], ['RAMPART_TLS_KEY', key]] as const) {
      if (file && !fs.existsSync(path.resolve(cwd, file))) problems.push(`${name} ${file} does not exist`);
    }
    return cert && key ? { mode: 'files', cert: path.resolve(cwd, cert), key: path.resolve(cwd, key) } : { mode: 'off' };
  }
  return generate ? { mode: 'self-signed', dir: path.join(dataDir, 'tls') } : { mode: 'off' };
}

/** Whether an address only this machine can reach. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

/**
 * The key file's passphrase, from the variable or from a file (a systemd credential, a container
 * secret), whose one trailing newline is dropped. A file keeps it out of the process environment.
 */
function passphrase(direct: string | undefined, file: string | undefined, cwd: string, problems: string[]): string | undefined {
  let raw = direct;
  if (file) {
    if (direct) problems.push('RAMPART_KEY_PASSPHRASE and RAMPART_KEY_PASSPHRASE_FILE cannot both be set');
    try {
      raw = fs.readFileSync(path.resolve(cwd, file), 'utf8').replace(/\r?\n$/, '');
    } catch {
      problems.push(`RAMPART_KEY_PASSPHRASE_FILE ${file} cannot be read`);
      return undefined;
    }
  }
  if (raw === undefined || raw === '') return undefined;
  // The message never repeats the passphrase.
  if ([...raw].length < 12) problems.push('RAMPART_KEY_PASSPHRASE must be at least 12 characters');
  return raw;
}

function countryCode(raw: string | undefined, problems: string[]): string {
  if (raw === undefined || raw === '') return '86';
  const code = raw.replace(/^\+/, '');
  if (!/^[1-9]\d{0,2}$/.test(code)) problems.push('RAMPART_PHONE_COUNTRY_CODE must be a country calling code such as 86 or 1');
  return code;
}

/** Database URLs carry passwords; only the redacted form may be shown or logged. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(unparseable)';
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
