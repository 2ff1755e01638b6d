import crypto, { createHash } from 'node:crypto';
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
 * sorted, so the same entry always gives the same bytes whoever computes them. It is the
 * canonical JSON of [1, seq, time, actorKind, actorId, sessionId, sourceAddress, userAgent,
 * channel, action, recordType, recordIds, fields, outcome, requestId, details], written out as
 * the text before the sequence number, the number, and the rest (the tail): the log stores the
 * lists and `details` in canonical JSON, so a verifier can put the tail together from the stored
 * text without parsing it.
 */
export function canonicalEntry(entry: AuditEntry): Buffer {
  return Buffer.from(canonicalText(entry.seq, canonicalTail(entry)), 'utf8');
}

export function canonicalText(seq: number, tail: string): string {
  return `[${FORMAT},${seq}${tail}`;
}

/** Everything of the canonical text after the sequence number. */
export function canonicalTail(entry: Omit<AuditEntry, 'seq'>): string {
  return tailOfStored({
    time: entry.time,
    actorKind: entry.actorKind,
    actorId: entry.actorId,
    sessionId: entry.sessionId,
    sourceAddress: entry.sourceAddress,
    userAgent: entry.userAgent,
    channel: entry.channel,
    action: entry.action,
    recordType: entry.recordType,
    recordIds: canonicalJson(entry.recordIds),
    fields: canonicalJson(entry.fields),
    outcome: entry.outcome,
    requestId: entry.requestId,
    details: canonicalJson(entry.details),
  });
}

/** The tail from an entry's text fields and the canonical JSON text of its lists and details. */
export function tailOfStored(e: {
  time: string;
  actorKind: string;
  actorId: string | null;
  sessionId: string | null;
  sourceAddress: string | null;
  userAgent: string | null;
  channel: string;
  action: string;
  recordType: string | null;
  recordIds: string;
  fields: string;
  outcome: string;
  requestId: string | null;
  details: string;
}): string {
  const q = (value: string | null): string => (value === null ? 'null' : JSON.stringify(value));
  return `,${q(e.time)},${q(e.actorKind)},${q(e.actorId)},${q(e.sessionId)},${q(e.sourceAddress)},${q(e.userAgent)},${q(e.channel)},${q(e.action)},${q(e.recordType)},${e.recordIds},${e.fields},${q(e.outcome)},${q(e.requestId)},${e.details}]`;
}

/** SHA-256(previous hash ‖ canonical bytes). */
export function entryHash(previous: Buffer, entry: AuditEntry): Buffer {
  return chainHash(previous, canonicalText(entry.seq, canonicalTail(entry)));
}

const hashOnce = (crypto as { hash?: (algorithm: string, data: Buffer, encoding: 'buffer') => Buffer }).hash;

/** SHA-256(previous hash ‖ UTF-8 of the canonical text), one-shot where Node has it (20.12+). */
export function chainHash(previous: Buffer, text: string): Buffer {
  if (previous.length !== HASH_BYTES) throw new Error('a previous hash is 32 bytes');
  if (!hashOnce) return createHash('sha256').update(previous).update(text, 'utf8').digest();
  const bytes = Buffer.allocUnsafe(HASH_BYTES + Buffer.byteLength(text, 'utf8'));
  previous.copy(bytes, 0);
  bytes.write(text, HASH_BYTES, 'utf8');
  return hashOnce('sha256', bytes, 'buffer');
}
