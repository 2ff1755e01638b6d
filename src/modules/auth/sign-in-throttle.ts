import { createHash } from 'node:crypto';
import type { DataDeps } from '../../data/record-store.js';
import { AppError } from '../../shared/errors.js';
import { newId } from '../../shared/ids.js';

/**
 * How failed sign-ins slow an attacker down (NIST SP 800-63B 5.2.2, OWASP ASVS V2.2), counted in
 * the database so every server process sees the same failures:
 *
 * - per account, by failures in a row (within 30 days): the first five are free; then each attempt waits 1, 2, 4,
 *   8, 16 seconds after the last failure; from the tenth the account is locked for 15 minutes
 *   after each failure; at the hundredth it is locked until an administrator unlocks it. A wrong
 *   second factor counts like a wrong password; only a complete sign-in starts the count again.
 * - per source address: 50 failures within 15 minutes, or failures against 20 different accounts
 *   within an hour (credential stuffing), and sign-ins from it wait until the window has passed.
 *
 * Many addresses against one account are caught by the account's own count. Accounts are keyed by
 * a hash of the email as typed, so an address nobody has is throttled exactly like a real one, and
 * no answer, or its timing, tells them apart. A refused attempt checks no password and adds no
 * failure.
 */
export const SIGN_IN_LIMITS = {
  freeFailures: 5,
  lockAfter: 10,
  lockMinutes: 15,
  lockForGoodAfter: 100,
  addressFailures: 50,
  addressWindowMinutes: 15,
  addressAccounts: 20,
  addressAccountsWindowMinutes: 60,
} as const;

const FAILURES_KEPT_DAYS = 30;

/** The key an email is counted under: SHA-256 of the address as typed, trimmed and lower-cased. */
export function signInAccountKey(email: string): string {
  return createHash('sha256').update(`rampart|sign-in|${email.normalize('NFC').trim().toLowerCase()}`).digest('hex');
}

function throttled(waitMs: number): AppError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  const error = new AppError('auth.throttled', `Too many failed sign-ins; try again in ${seconds} seconds`);
  error.retryAfterSeconds = seconds;
  return error;
}

/** Refuses, before any password is checked, an attempt the limits above hold back. */
export async function checkSignInAllowed(deps: DataDeps, accountKey: string, address: string | null): Promise<void> {
  const now = deps.clock.now().getTime();
  const locked = await deps.db.selectFrom('sign_in_locks').select('account_key').where('account_key', '=', accountKey).executeTakeFirst();
  if (locked) throw new AppError('auth.locked', 'Sign-in to this account is locked after too many failed attempts; an administrator can unlock it');
  const account = await deps.db
    .selectFrom('sign_in_failures')
    .select((eb) => [eb.fn.countAll().as('n'), eb.fn.max('occurred_at').as('last')])
    .where('account_key', '=', accountKey)
    .executeTakeFirstOrThrow();
  const failures = Number(account.n);
  if (failures >= SIGN_IN_LIMITS.freeFailures && account.last) {
    const wait = failures >= SIGN_IN_LIMITS.lockAfter ? SIGN_IN_LIMITS.lockMinutes * 60_000 : 1000 * 2 ** (failures - SIGN_IN_LIMITS.freeFailures);
    const until = new Date(String(account.last)).getTime() + wait;
    if (now < until) throw throttled(until - now);
  }
  if (address === null) return;
  const windowStart = new Date(now - SIGN_IN_LIMITS.addressWindowMinutes * 60_000).toISOString();
  const recent = await deps.db
    .selectFrom('sign_in_failures')
    .select((eb) => [eb.fn.countAll().as('n'), eb.fn.min('occurred_at').as('first')])
    .where('source_address', '=', address)
    .where('occurred_at', '>', windowStart)
    .executeTakeFirstOrThrow();
  if (Number(recent.n) >= SIGN_IN_LIMITS.addressFailures && recent.first) {
    throw throttled(new Date(String(recent.first)).getTime() + SIGN_IN_LIMITS.addressWindowMinutes * 60_000 - now);
  }
  const accountsStart = new Date(now - SIGN_IN_LIMITS.addressAccountsWindowMinutes * 60_000).toISOString();
  const spread = await deps.db
    .selectFrom('sign_in_failures')
    .select((eb) => [eb.fn.count('account_key').distinct().as('n'), eb.fn.min('occurred_at').as('first')])
    .where('source_address', '=', address)
    .where('occurred_at', '>', accountsStart)
    .executeTakeFirstOrThrow();
  if (Number(spread.n) >= SIGN_IN_LIMITS.addressAccounts && spread.first) {
    throw throttled(new Date(String(spread.first)).getTime() + SIGN_IN_LIMITS.addressAccountsWindowMinutes * 60_000 - now);
  }
}

/** Counts a failed attempt; answers whether it locked the account for good. */
export async function recordSignInFailure(deps: DataDeps, accountKey: string, address: string | null): Promise<boolean> {
  const now = deps.clock.now().toISOString();
  await deps.db.insertInto('sign_in_failures').values({ id: newId(), account_key: accountKey, source_address: address, occurred_at: now }).execute();
  // Failures count for 30 days; older ones from the same place are forgotten as new ones come.
  const cutoff = new Date(deps.clock.now().getTime() - FAILURES_KEPT_DAYS * 86_400_000).toISOString();
  await deps.db.deleteFrom('sign_in_failures').where('account_key', '=', accountKey).where('occurred_at', '<', cutoff).execute();
  if (address !== null) await deps.db.deleteFrom('sign_in_failures').where('source_address', '=', address).where('occurred_at', '<', cutoff).execute();
  const row = await deps.db.selectFrom('sign_in_failures').select((eb) => eb.fn.countAll().as('n')).where('account_key', '=', accountKey).executeTakeFirstOrThrow();
  const failures = Number(row.n);
  if (failures < SIGN_IN_LIMITS.lockForGoodAfter) return false;
  const inserted = await deps.db
    .insertInto('sign_in_locks')
    .values({ account_key: accountKey, locked_at: now, failures })
    .onConflict((oc) => oc.column('account_key').doNothing())
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** A complete sign-in starts the account's count again. */
export async function clearSignInFailures(deps: DataDeps, accountKey: string): Promise<void> {
  await deps.db.deleteFrom('sign_in_failures').where('account_key', '=', accountKey).execute();
}

/** Lifts a lock and forgets the account's failures; answers whether there was anything to lift. */
export async function unlockSignIn(deps: DataDeps, accountKey: string): Promise<boolean> {
  const lock = await deps.db.deleteFrom('sign_in_locks').where('account_key', '=', accountKey).executeTakeFirst();
  const failures = await deps.db.deleteFrom('sign_in_failures').where('account_key', '=', accountKey).executeTakeFirst();
  return Number(lock.numDeletedRows) > 0 || Number(failures.numDeletedRows) > 0;
}
