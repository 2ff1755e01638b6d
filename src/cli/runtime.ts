import os from 'node:os';
import type { Command } from 'commander';
import { ensureDataDir, loadConfig, type Config, type LoadConfigOptions } from '../config/config.js';
import type { Database } from '../db/database.js';
import { withPassphrase } from './passphrase.js';
import type { AuthDeps } from '../modules/auth/auth.service.js';
import { systemClock } from '../shared/clock.js';
import { BackgroundWork } from '../shared/background.js';
import { cliContext, type ActorContext } from '../shared/principal.js';

/**
 * What every command needs: the configuration (with `--data-dir` applied), the database and the
 * acting principal. The CLI is an operator's tool on the server itself, so it acts as the
 * operating-system user who runs it.
 */
export interface CliEnv {
  readonly config: Config;
  readonly database: Database;
  readonly deps: AuthDeps;
  readonly ctx: ActorContext;
  /** The migrations this command applied before it ran. */
  readonly applied: string[];
}

/** A mistake in how a command was called; printed as one line, exit status 1. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

type Overrides = NonNullable<LoadConfigOptions['overrides']>;

/** The configuration for a command: environment, config file, then `--data-dir` and other flags. */
export function configFor(command: Command, overrides: Overrides = {}): Config {
  const { dataDir } = command.optsWithGlobals<{ dataDir?: string }>();
  const defined = Object.fromEntries(Object.entries({ ...overrides, DATA_DIR: dataDir }).filter(([, v]) => v !== undefined)) as Overrides;
  return loadConfig({ overrides: defined });
}

/** Opens (and migrates) the database for one command, runs it, and always closes the database. */
export async function withDatabase<T>(command: Command, work: (env: CliEnv) => Promise<T>): Promise<T> {
  const config = await withPassphrase(configFor(command));
  ensureDataDir(config);
  // Loaded on use, so `--help` and argument mistakes answer without loading the database stack.
  const { openDatabase } = await import('../db/database.js');
  const { migrateToLatest } = await import('../db/migrator.js');
  const database = openDatabase(config.database);
  try {
    // Commands work on a fresh data directory too; migrating is idempotent and cheap when current.
    const applied = await migrateToLatest(database);
    const { loadKeyring } = await import('../data/keys.js');
    const keyring = await loadKeyring(database.db, config);
    const { createMailer } = await import('../modules/mail/mailer.js');
    const background = new BackgroundWork((message) => process.stderr.write(`${message}\n`));
    const deps: AuthDeps = { db: database.db, dialect: database.dialect, clock: systemClock, config, keyring, mailer: createMailer(config.mail), background };
    await sealOldRecords(deps, command);
    try {
      return await work({ config, database, deps, ctx: await actorFor(deps, command), applied });
    } finally {
      await background.drain();
    }
  } finally {
    await database.close();
  }
}

/** Seals what an earlier version stored in plaintext, with a progress bar per table; instant when there is none. */
async function sealOldRecords(deps: AuthDeps, command: Command): Promise<void> {
  const { sealExistingRecords } = await import('../data/sealing-job.js');
  const { progressBar } = await import('./output.js');
  const json = Boolean(command.opts<{ json?: boolean }>().json);
  const bars = new Map<string, ReturnType<typeof progressBar>>();
  await sealExistingRecords(deps, ({ table, done, total }) => {
    let bar = bars.get(table);
    if (!bar) {
      for (const other of bars.values()) other.stop();
      bar = progressBar(`sealing ${table}`, json);
      bars.set(table, bar);
    }
    if (total > 0) bar.update(done, total);
  });
  for (const bar of bars.values()) bar.stop();
}

/**
 * The operator, with every right; or, given `--as EMAIL`, the operator acting as that user with
 * exactly the user's roles and team, for work that should see no more than the user would (an
 * export of what a seller may take away).
 */
async function actorFor(deps: AuthDeps, command: Command): Promise<ActorContext> {
  const ctx = cliContext(operatorName());
  const { as } = command.optsWithGlobals<{ as?: string }>();
  if (as === undefined) return ctx;
  const { findUserByEmail } = await import('../modules/users/users.service.js');
  const user = await findUserByEmail(deps, as);
  if (!user || user.status !== 'active') throw new UsageError('--as names no active user');
  if (ctx.principal.kind !== 'cli') return ctx;
  return { ...ctx, principal: { ...ctx.principal, userId: user.id, actingAs: { roles: user.roles, teamId: user.teamId } } };
}

function operatorName(): string {
  try {
    return os.userInfo().username;
  } catch {
    // Containers may run as a uid with no passwd entry.
    return `uid:${process.getuid?.() ?? 'unknown'}`;
  }
}

/** Reads all of standard input as UTF-8; used for secrets, which never belong in arguments. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}
