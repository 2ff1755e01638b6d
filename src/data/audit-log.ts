import { AppError } from '../shared/errors.js';
import { entryHash, GENESIS_HASH, type AuditEntry } from '../audit/entry.js';
import { leafHash, MerkleAccumulator } from '../audit/merkle.js';
import { checkpointText, NoteError, openNote, parseCheckpoint, signNote } from '../audit/checkpoint.js';
import type { AuditSigningKey } from '../audit/signing-key-file.js';
import { inTransaction, type KeyDeps } from './keys.js';

/**
 * The audit log as stored: appending entries to the chain inside the caller's transaction (so no
 * change exists without its entry, and a rolled-back change leaves no entry), and verifying the
 * whole chain and its Merkle tree head. Only the data layer writes here.
 */
export type NewAuditEntry = Omit<AuditEntry, 'seq' | 'time'>;

const INSERT_CHUNK = 200;

/**
 * Appends entries after the chain's head, in the caller's transaction or a new one. The head row is
 * locked for the rest of the transaction (on PostgreSQL with FOR UPDATE; SQLite takes its write
 * lock), so appends from several server processes queue up and form one chain without gaps.
 */
export async function appendAudit(deps: KeyDeps, entries: readonly NewAuditEntry[]): Promise<AuditEntry[]> {
  if (entries.length === 0) return [];
  return inTransaction(deps, async (tx) => {
    let headQuery = tx.db.selectFrom('audit_head').select(['seq', 'entry_hash']).where('id', '=', 1);
    if (tx.dialect === 'postgres') headQuery = headQuery.forUpdate();
    const head = await headQuery.executeTakeFirstOrThrow();
    let seq = Number(head.seq);
    let previous: Buffer = seq === 0 ? GENESIS_HASH : Buffer.from(head.entry_hash, 'hex');
    const time = tx.clock.now().toISOString();
    const written: AuditEntry[] = [];
    const rows = [];
    for (const fresh of entries) {
      seq += 1;
      const entry: AuditEntry = { ...fresh, seq, time };
      const hash = entryHash(previous, entry);
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
        record_ids: JSON.stringify(entry.recordIds),
        fields: JSON.stringify(entry.fields),
        outcome: entry.outcome,
        request_id: entry.requestId,
        details: JSON.stringify(entry.details),
        prev_hash: previous.toString('hex'),
        entry_hash: hash.toString('hex'),
      });
      written.push(entry);
      previous = hash;
    }
    for (let at = 0; at < rows.length; at += INSERT_CHUNK) await tx.db.insertInto('audit_entries').values(rows.slice(at, at + INSERT_CHUNK)).execute();
    await tx.db.updateTable('audit_head').set({ seq, entry_hash: previous.toString('hex') }).where('id', '=', 1).execute();
    return written;
  });
}

/** What a verification found: the tree head it computed, and every break in the chain. */
export interface AuditVerification {
  entries: number;
  /** The Merkle tree head over every entry, hex. */
  rootHash: string;
  /** The hash of the last entry, hex (zeros for an empty log). */
  lastHash: string;
  problems: { seq: number | null; problem: string }[];
}

const VERIFY_BATCH = 2000;
const MAX_PROBLEMS = 100;

/**
 * Reads the whole log in order and recomputes every entry's hash from its stored fields and the
 * previous hash: a changed field, a removed or inserted entry, a reordering or a cut-off end all
 * show as problems. The tree head it answers is what signed checkpoints are compared with.
 */
export async function verifyAuditLog(deps: KeyDeps, options: { verifierKey?: string; onProgress?: (done: number, total: number) => void } = {}): Promise<AuditVerification> {
  const { onProgress } = options;
  const head = await deps.db.selectFrom('audit_head').select(['seq', 'entry_hash']).where('id', '=', 1).executeTakeFirst();
  if (!head) throw new AppError('data.integrity_failed', 'The audit log has no head row');
  const total = Number(head.seq);
  // Every stored checkpoint is a tree head the log must still produce at that size, and its
  // signature must hold: a rewrite that recomputed every hash is caught here.
  const checkpoints = (await deps.db.selectFrom('audit_checkpoints').selectAll().orderBy('tree_size').execute()).map((c) => ({ size: Number(c.tree_size), root: c.root_hash, note: c.note }));
  let nextCheckpoint = 0;
  const tree = new MerkleAccumulator();
  const problems: AuditVerification['problems'] = [];
  const problem = (seq: number | null, text: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push({ seq, problem: text });
  };
  let previous: Buffer = GENESIS_HASH;
  let expected = 1;
  for (;;) {
    const rows = await deps.db.selectFrom('audit_entries').selectAll().where('seq', '>=', expected).orderBy('seq').limit(VERIFY_BATCH).execute();
    if (rows.length === 0) break;
    for (const row of rows) {
      const seq = Number(row.seq);
      if (seq !== expected) problem(expected, seq > expected ? `entries ${expected} to ${seq - 1} are missing` : `entry ${seq} appears twice`);
      const entry: AuditEntry = {
        seq,
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
      if (row.prev_hash !== previous.toString('hex')) problem(seq, 'does not follow the entry before it');
      const hash = entryHash(previous, entry);
      if (hash.toString('hex') !== row.entry_hash) problem(seq, 'was changed after it was written');
      // The chain goes on from what the entry should hash to, so one change is reported once.
      previous = hash;
      tree.push(leafHash(hash));
      expected = seq + 1;
      while (nextCheckpoint < checkpoints.length && checkpoints[nextCheckpoint]!.size === tree.size) {
        if (tree.root().toString('hex') !== checkpoints[nextCheckpoint]!.root) problem(seq, `the log no longer gives the tree head signed at size ${tree.size}`);
        nextCheckpoint += 1;
      }
    }
    onProgress?.(expected - 1, total);
  }
  for (const c of checkpoints.slice(nextCheckpoint)) if (c.size > tree.size) problem(null, `a checkpoint was signed at size ${c.size}, but the log holds ${tree.size} entries`);
  if (options.verifierKey) {
    for (const c of checkpoints) {
      try {
        const signed = parseCheckpoint(openNote(c.note, options.verifierKey));
        if (signed.size !== c.size || signed.rootHash.toString('hex') !== c.root) problem(null, `the checkpoint at size ${c.size} does not say what its note says`);
      } catch (error) {
        if (!(error instanceof NoteError)) throw error;
        problem(null, `the checkpoint at size ${c.size} is not signed by the audit key`);
      }
    }
  }
  if (expected - 1 !== total) problem(null, `the head says ${total} entries, the log holds ${expected - 1}`);
  else if (total > 0 && previous.toString('hex') !== head.entry_hash) problem(null, 'the head does not match the last entry');
  return { entries: tree.size, rootHash: tree.root().toString('hex'), lastHash: previous.toString('hex'), problems };
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
  const existing = await deps.db.selectFrom('audit_checkpoints').selectAll().where('tree_size', '=', verified.entries).executeTakeFirst();
  if (existing) return { size: Number(existing.tree_size), rootHash: existing.root_hash, signedAt: existing.signed_at, note: existing.note };
  const signedAt = deps.clock.now().toISOString();
  const note = signNote(checkpointText({ origin: key.origin, size: verified.entries, rootHash: Buffer.from(verified.rootHash, 'hex'), time: signedAt }), key.signerKey);
  await deps.db.insertInto('audit_checkpoints').values({ tree_size: verified.entries, root_hash: verified.rootHash, signed_at: signedAt, note }).execute();
  return { size: verified.entries, rootHash: verified.rootHash, signedAt, note };
}
