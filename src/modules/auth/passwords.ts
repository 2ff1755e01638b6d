import argon2 from 'argon2';
import type { FieldProblem } from '../../shared/errors.js';
import { isBreachedPassword } from './breached-passwords.js';

// OWASP's argon2id baseline: 19 MiB, two passes, one lane.
const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** NIST SP 800-63B: at least 15 characters for a password that is the only factor, 12 beside a second one. */
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_ONLY_MIN_LENGTH = 15;
export const PASSWORD_MAX_LENGTH = 256;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, ARGON2_OPTIONS);
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;

/** Spends the same time as a real check, so a login for an unknown email cannot be told apart. */
export async function verifyAgainstNothing(password: string): Promise<false> {
  dummyHash ??= hashPassword('rampart-timing-equaliser-not-a-password');
  await verifyPassword(await dummyHash, password);
  return false;
}

/**
 * NIST SP 800-63B: length, not composition rules; never a password attackers try first, nor the
 * user's own name or address. `withSecondFactor`: the account signs in with a second factor too
 * (or its role will make it set one up), which allows the shorter minimum.
 */
export function passwordProblems(password: unknown, identity: { email?: string; name?: string }, withSecondFactor: boolean): FieldProblem[] {
  if (typeof password !== 'string') return [{ field: 'password', message: 'must be a string' }];
  const length = [...password].length;
  const minimum = withSecondFactor ? PASSWORD_MIN_LENGTH : PASSWORD_ONLY_MIN_LENGTH;
  if (length < minimum) {
    return [{ field: 'password', message: `must be at least ${minimum} characters${withSecondFactor ? '' : ' for an account that signs in without a second factor'}` }];
  }
  if (length > PASSWORD_MAX_LENGTH) return [{ field: 'password', message: `must be at most ${PASSWORD_MAX_LENGTH} characters` }];
  if (!password.isWellFormed()) return [{ field: 'password', message: 'must be valid Unicode text' }];
  const lowered = password.toLowerCase();
  const local = identity.email?.split('@')[0]?.toLowerCase();
  if ((local && local.length >= 4 && lowered.includes(local)) || (identity.email && lowered.includes(identity.email.toLowerCase()))) {
    return [{ field: 'password', message: 'must not contain your email address' }];
  }
  const name = identity.name?.toLowerCase().replace(/\s+/g, '');
  if (name && name.length >= 4 && lowered.replace(/\s+/g, '').includes(name)) {
    return [{ field: 'password', message: 'must not contain your name' }];
  }
  if (new Set(password).size < 4) return [{ field: 'password', message: 'is too repetitive' }];
  if (isBreachedPassword(password, PASSWORD_MIN_LENGTH)) return [{ field: 'password', message: 'is on a list of passwords attackers try first; choose another' }];
  return [];
}
