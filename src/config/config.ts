import fs from 'node:fs';
import path from 'node:path';

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
  readonly trustProxy: boolean;
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
  'CONFIG_FILE',
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
  const publicUrl = value('PUBLIC_URL') ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
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
    trustProxy: boolean(value('TRUST_PROXY'), false, 'RAMPART_TRUST_PROXY', problems),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze(config);
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
