import { createHash } from 'node:crypto';
import { canonicalJson } from '../shared/canonical-json.js';
import { HASH_BYTES } from './merkle.js';

/**
 * One entry of the audit log and how it is hashed. Entries form a chain: each entry's hash covers
 * the previous entry's hash and the entry's own canonical bytes, so changing, removing or
 * reordering any entry changes every hash after it. The entry hashes are also the leaves of the
 * log's Merkle tree (merkle.ts), whose signed heads anyone can keep and check later.
 */
export interface AuditEntry {
  /** 1, 2, 3, … without gaps, in the order entries were committed. */
  readonly seq: number;
  /** ISO-8601 UTC. */
  readonly time: string;
  readonly actorKind: 'user' | 'token' | 'cli' | 'system' | 'anonymous';
  /** The user, token, operator or job; null for an anonymous request (a failed sign-in). */
  readonly actorId: string | null;
  readonly sessionId: string | null;
  readonly sourceAddress: string | null;
  readonly userAgent: string | null;
  readonly channel: 'web' | 'api' | 'cli' | 'job';
  /** What happened, e.g. `record.update`, `auth.login_failed`, `record.read`. */
  readonly action: string;
  readonly recordType: string | null;
  readonly recordIds: readonly string[];
  /** Field names only; values never enter the log in plain. */
  readonly fields: readonly string[];
  readonly outcome: 'success' | 'denied' | 'failure';
  readonly requestId: string | null;
  /** Anything else the action records: counts, fingerprints, keyed hashes of old and new values. */
  readonly details: Readonly<Record<string, unknown>>;
}

/** The hash before the first entry. */
export const GENESIS_HASH = Buffer.alloc(HASH_BYTES);

/** The format version inside every entry's canonical bytes, so the format can change without ambiguity. */
const FORMAT = 1;

/**
 * The canonical bytes of an entry: a JSON array in a fixed order, with the keys of `details`
 * sorted, so the same entry always gives the same bytes whoever computes them.
 */
export function canonicalEntry(entry: AuditEntry): Buffer {
  return Buffer.from(
    canonicalJson([
      FORMAT,
      entry.seq,
      entry.time,
      entry.actorKind,
      entry.actorId,
      entry.sessionId,
      entry.sourceAddress,
      entry.userAgent,
      entry.channel,
      entry.action,
      entry.recordType,
      entry.recordIds,
      entry.fields,
      entry.outcome,
      entry.requestId,
      entry.details,
    ]),
    'utf8',
  );
}

/** SHA-256(previous hash ‖ canonical bytes). */
export function entryHash(previous: Buffer, entry: AuditEntry): Buffer {
  if (previous.length !== HASH_BYTES) throw new Error('a previous hash is 32 bytes');
  return createHash('sha256').update(previous).update(canonicalEntry(entry)).digest();
}
