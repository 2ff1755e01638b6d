import { CompiledQuery, type Selectable } from 'kysely';
import { insertMany } from '../db/insert-many.js';
import type { AuditEntriesTable } from '../db/schema.js';
import { AppError } from '../shared/errors.js';
import { canonicalText, chainHash, GENESIS_HASH, tailOfStored, type AuditEntry } from '../audit/entry.js';
import { canonicalJson } from '../shared/canonical-json.js';
import { checkpointText, signNote } from '../audit/checkpoint.js';
import { ChainVerifier, type Damage, type StoredRow } from '../audit/verify.js';
import type { AuditSigningKey } from '../audit/signing-key-file.js';
import { inTransaction, type KeyDeps } from './keys.js';

/**
 * The audit log as stored: appending entries to the chain inside the caller's transaction (so no
 * change exists without its entry, and a rolled-back change leaves no entry), and verifying the
 * whole chain and its Merkle tree head. Only the data layer writes here.
 */
export type NewAuditEntry = Omit<AuditEntry, 'seq' | 'time'>;

const HEAD = 'select seq, entry_hash from audit_head where id = 1';
const HEAD_FOR_UPDATE = `${HEAD} for update`;
const MOVE_HEAD = 'update audit_head set seq = ?, entry_hash = ? where id = 1';
const MOVE_HEAD_PG = 'update audit_head set seq = $1, entry_hash = $2 where id = 1';

/**
 * Appends entries after the chain's head, in the caller's transaction or a new one. The head row is
 * locked for the rest of the transaction (on PostgreSQL with FOR UPDATE; SQLite takes its write
 * lock), so appends from several server processes queue up and form one chain without gaps.
 */
export async function appendAudit(deps: KeyDeps, entries: readonly NewAuditEntry[]): Promise<AuditEntry[]> {
  if (entries.length === 0) return [];
  return inTransaction(deps, async (tx) => {
    // Every audited request appends, so these three statements go as fixed SQL texts, without
    // building and compiling a query tree each time (see insert-many.ts).
    const head = (await tx.db.executeQuery<{ seq: number | string; entry_hash: string }>(CompiledQuery.raw(tx.dialect === 'postgres' ? HEAD_FOR_UPDATE : HEAD, []))).rows[0];
    if (!head) throw new AppError('data.integrity_failed', 'The audit log has no head row');
    let seq = Number(head.seq);
    let previous: Buffer = seq === 0 ? GENESIS_HASH : Buffer.from(head.entry_hash, 'hex');
    const time = tx.clock.now().toISOString();
    const written: AuditEntry[] = [];
    const rows = [];
    for (const fresh of entries) {
      seq += 1;
      const entry: AuditEntry = { ...fresh, seq, time };
      // Stored in canonical JSON, so the stored text is the hashed text (see canonicalTail).
      const recordIds = canonicalJson(entry.recordIds);
      const fields = canonicalJson(entry.fields);
      const details = canonicalJson(entry.details);
      const tail = tailOfStored({ ...entry, recordIds, fields, details });
      const hash = chainHash(previous, canonicalText(seq, tail));
      rows.push({
        seq,
        occurred_at: time,
        actor_kind: entry.actorKind,
        actor_id: entry.actorId,
        session_id: entry.sessionId,
        source_address: entry.sourceAddress,
        user_agent: entry.userAgent,
        channel: entry.channel,
        action: entry.action,
        record_type: entry.recordType,
        record_ids: recordIds,
        fields,
        outcome: entry.outcome,
        request_id: entry.requestId,
        details,
        prev_hash: previous.toString('hex'),
        entry_hash: hash.toString('hex'),
      });
      written.push(entry);
      previous = hash;
    }
    await insertMany(tx.db, tx.dialect, 'audit_entries', rows);
    await tx.db.executeQuery(CompiledQuery.raw(tx.dialect === 'postgres' ? MOVE_HEAD_PG : MOVE_HEAD, [seq, previous.toString('hex')]));
    return written;
  });
}

/** What a verification found: the tree head it computed, and every kind of damage, first first. */
export interface AuditVerification {
  entries: number;
  /** The Merkle tree head over every entry, hex. */
  rootHash: string;
  /** The hash of the last entry, hex (zeros for an empty log). */
  lastHash: string;
  problems: Damage[];
  /** The largest tree size a checkpoint signed by the verifier key covers (0 without the key, or none). */
  signedUpTo: number;
}

const VERIFY_BATCH = 2000;

export interface StoredCheckpoint {
  size: number;
  root: string;
  note: string;
}

/**
 * Feeds the stored rows, in order, to a ChainVerifier (src/audit/verify.ts), from where it last
 * stopped. Verification walks from the start; the checkpointer keeps one walker and moves it on,
 * so signing never re-reads the whole log.
 */
export class ChainWalker {
  readonly verifier: ChainVerifier;
  /** The next sequence number to read. */
  private cursor = 1;
  /** Whether the hashes of archived entries have all been read. */
  private pastArchive = false;

  constructor(checkpoints: readonly StoredCheckpoint[] = []) {
    this.verifier = new ChainVerifier(checkpoints);
  }

  get size(): number {
    return this.verifier.size;
  }

  get problems(): Damage[] {
    return this.verifier.problems;
  }

  /** Walks on up to entry `until` (inclusive) or the end of the log. */
  async advance(deps: KeyDeps, until: number, onProgress?: (done: number) => void): Promise<void> {
    // Archived entries first, by their hashes (their fields are checked in the archive file).
    while (!this.pastArchive && this.cursor <= until) {
      const archived = await deps.db.selectFrom('audit_archived').selectAll().where('seq', '>=', this.cursor).where('seq', '<=', until).orderBy('seq').limit(VERIFY_BATCH * 5).execute();
      if (archived.length === 0) {
        this.pastArchive = true;
        break;
      }
      for (const row of archived) this.verifier.pushArchived(Number(row.seq), row.entry_hash);
      this.cursor = Number(archived.at(-1)!.seq) + 1;
      onProgress?.(this.verifier.size);
    }
    while (this.cursor <= until) {
      const rows = await deps.db.selectFrom('audit_entries').selectAll().where('seq', '>=', this.cursor).where('seq', '<=', until).orderBy('seq').limit(VERIFY_BATCH).execute();
      if (rows.length === 0) break;
      for (const row of rows) this.verifier.push(storedRow(row));
      this.cursor = Number(rows.at(-1)!.seq) + 1;
      onProgress?.(this.verifier.size);
    }
  }
}

/**
 * A row for the verifier: its canonical tail put together from the stored text, so an intact
 * entry is checked without parsing its JSON; the parsed entry only if that is needed.
 */
function storedRow(row: Selectable<AuditEntriesTable>): StoredRow {
  let entry: AuditEntry | undefined;
  return {
    seq: Number(row.seq),
    prevHash: row.prev_hash,
    entryHash: row.entry_hash,
    tail: tailOfStored({
      time: row.occurred_at,
      actorKind: row.actor_kind,
      actorId: row.actor_id,
      sessionId: row.session_id,
      sourceAddress: row.source_address,
      userAgent: row.user_agent,
      channel: row.channel,
      action: row.action,
      recordType: row.record_type,
      recordIds: row.record_ids,
      fields: row.fields,
      outcome: row.outcome,
      requestId: row.request_id,
      details: row.details,
    }),
    get entry() {
      entry ??= storedEntry(row);
      return entry;
    },
  };
}

/** An entry as stored, back in the shape that is hashed. */
export function storedEntry(row: Selectable<AuditEntriesTable>): AuditEntry {
  return {
    seq: Number(row.seq),
    time: row.occurred_at,
    actorKind: row.actor_kind as AuditEntry['actorKind'],
    actorId: row.actor_id,
    sessionId: row.session_id,
    sourceAddress: row.source_address,
    userAgent: row.user_agent,
    channel: row.channel as AuditEntry['channel'],
    action: row.action,
    recordType: row.record_type,
    recordIds: parseJson(row.record_ids, []),
    fields: parseJson(row.fields, []),
    outcome: row.outcome as AuditEntry['outcome'],
    requestId: row.request_id,
    details: parseJson(row.details, {}),
  };
}

export async function storedCheckpoints(deps: KeyDeps): Promise<StoredCheckpoint[]> {
  return (await deps.db.selectFrom('audit_checkpoints').selectAll().orderBy('tree_size').execute()).map((c) => ({ size: Number(c.tree_size), root: c.root_hash, note: c.note }));
}

/**
 * Reads the whole log in order and checks every entry against its neighbours, the head row and
 * every stored checkpoint (and, given the verifier key, their signatures), naming each kind of
 * damage found. The tree head it answers is what signed checkpoints are compared with.
 */
export async function verifyAuditLog(deps: KeyDeps, options: { verifierKey?: string; checkpoints?: readonly StoredCheckpoint[]; onProgress?: (done: number, total: number) => void } = {}): Promise<AuditVerification> {
  const { onProgress } = options;
  const head = await deps.db.selectFrom('audit_head').select(['seq', 'entry_hash']).where('id', '=', 1).executeTakeFirst();
  if (!head) throw new AppError('data.integrity_failed', 'The audit log has no head row');
  const total = Number(head.seq);
  // Every checkpoint, stored or kept elsewhere, is a tree head the log must still produce at that
  // size: a rewrite that recomputed every hash is caught here.
  const checkpoints = [...(await storedCheckpoints(deps)), ...(options.checkpoints ?? [])];
  const walker = new ChainWalker(checkpoints);
  await walker.advance(deps, Number.MAX_SAFE_INTEGER, onProgress ? (done) => onProgress(done, total) : undefined);
  walker.verifier.finish({ size: total, hash: head.entry_hash });
  const signedUpTo = options.verifierKey ? walker.verifier.checkSignatures(checkpoints, options.verifierKey) : 0;
  return { entries: walker.size, rootHash: walker.verifier.tree.root().toString('hex'), lastHash: walker.verifier.lastHash, problems: walker.problems, signedUpTo };
}

function parseJson<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** A signed tree head, as stored and as sent off the server. */
export interface SealedCheckpoint {
  size: number;
  rootHash: string;
  signedAt: string;
  note: string;
}

/**
 * Signs the log's current tree head, after verifying the whole chain: a broken log is never
 * signed. Stored once per tree size; the note is what goes to the file, webhook or standard output
 * that keeps it off the server.
 */
export async function sealCheckpoint(deps: KeyDeps, key: AuditSigningKey): Promise<SealedCheckpoint> {
  const verified = await verifyAuditLog(deps, { verifierKey: key.verifierKey });
  if (verified.problems.length > 0) throw new AppError('data.integrity_failed', `The audit log is broken (${verified.problems.length} problem(s)); it was not signed. Run rampart audit verify`);
  return storeCheckpoint(deps, key, verified.entries, verified.rootHash);
}

/**
 * Signs and stores the tree head of a verified walk. Once per tree size: when another process
 * signed the same size first, its checkpoint is the one answered.
 */
export async function storeCheckpoint(deps: KeyDeps, key: AuditSigningKey, size: number, rootHash: string): Promise<SealedCheckpoint> {
  const signedAt = deps.clock.now().toISOString();
  const note = signNote(checkpointText({ origin: key.origin, size, rootHash: Buffer.from(rootHash, 'hex'), time: signedAt }), key.signerKey);
  await deps.db
    .insertInto('audit_checkpoints')
    .values({ tree_size: size, root_hash: rootHash, signed_at: signedAt, note })
    .onConflict((oc) => oc.column('tree_size').doNothing())
    .execute();
  const stored = await deps.db.selectFrom('audit_checkpoints').selectAll().where('tree_size', '=', size).executeTakeFirstOrThrow();
  if (stored.root_hash !== rootHash) throw new AppError('data.integrity_failed', `A checkpoint at size ${size} is stored with another tree head than this log gives; run rampart audit verify`);
  return { size: Number(stored.tree_size), rootHash: stored.root_hash, signedAt: stored.signed_at, note: stored.note };
}
