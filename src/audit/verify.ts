import { canonicalTail, canonicalText, chainHash, GENESIS_HASH, type AuditEntry } from './entry.js';
import { leafHash, MerkleAccumulator } from './merkle.js';
import { NoteError, openNote, parseCheckpoint } from './checkpoint.js';

/**
 * Verification of an audit log, whatever holds it: the database (`rampart audit verify`), or an
 * exported bundle checked offline by the standalone verifier, which is built from this file.
 * No database, no server: rows in, findings out.
 *
 * Each stored row is checked on its own (does its hash cover its fields and the previous hash it
 * names?) and against its neighbours (does it follow the entry before it?). Together they tell
 * apart what was done to the log:
 * - modified: an entry's fields changed (its hash no longer covers them, or it was recomputed and
 *   the next entry still names the old one);
 * - deleted: entries are missing (a gap, even one closed by renumbering what followed);
 * - inserted: an entry the chain skips, or more entries than the head records;
 * - reordered: an entry stands before the one it follows;
 * - truncated: the log ends before its head or a signed checkpoint says it did;
 * - rewritten: the log no longer gives a signed tree head (every hash recomputed);
 * - bad_signature: a checkpoint is not signed by the audit key.
 */
export type DamageKind = 'modified' | 'deleted' | 'inserted' | 'reordered' | 'truncated' | 'rewritten' | 'bad_signature';

export interface Damage {
  kind: DamageKind;
  /** The entry it was found at, or null for the log as a whole. */
  seq: number | null;
  detail: string;
}

/** A row as stored: its sequence number, the entry's fields, and its two hashes (hex). */
export interface StoredRow {
  readonly seq: number;
  /** The fields under the stored sequence number (read only when the tail does not give the hash). */
  readonly entry: AuditEntry;
  readonly prevHash: string;
  readonly entryHash: string;
  /** The canonical text after the sequence number, when the stored text gives it directly. */
  readonly tail?: string;
}

export interface CheckpointHead {
  size: number;
  /** Hex. */
  root: string;
}

/**
 * How far from its stored place an entry's own hash is looked for: renumbering after entries were
 * inserted or deleted. Looked for first at the shift the entry before it had, so a renumbered run
 * costs one hash an entry; only damaged entries pay for the search.
 */
const MAX_SHIFT = 32;
const MAX_PROBLEMS = 100;

interface Judged {
  row: StoredRow;
  /** The sequence number the entry's hash was made with, or null when its hash does not cover it. */
  origin: number | null;
}

interface Tip {
  seq: number;
  origin: number;
  hash: string;
}

export class ChainVerifier {
  readonly tree: MerkleAccumulator;
  readonly problems: Damage[] = [];
  private pending: Judged | null = null;
  private tip: Tip;
  private tipBefore: Tip | null = null;
  /** An entry found standing before the one it follows; the chain goes on from it once its partner is seen. */
  private reorderedAhead: Judged | null = null;
  private nextCheckpoint = 0;
  /** The size the head records, known at `finish`. */
  private headSize: number | null = null;
  private lastSeq = 0;
  private readonly checkpoints: CheckpointHead[];

  /**
   * `start`: where the rows begin (after entries archived elsewhere): the last entry before them,
   * its hash and the tree's frontier there. By default the genesis of the log.
   */
  constructor(checkpoints: readonly CheckpointHead[] = [], start: { seq: number; hash: string; frontier: readonly string[] } = { seq: 0, hash: GENESIS_HASH.toString('hex'), frontier: [] }) {
    this.checkpoints = [...checkpoints].sort((a, b) => a.size - b.size);
    this.tip = { seq: start.seq, origin: start.seq, hash: start.hash };
    this.lastSeq = start.seq;
    this.tree = MerkleAccumulator.fromFrontier(start.seq, start.frontier.map((node) => Buffer.from(node, 'hex')));
    // Checkpoints before the start cannot be checked here; one at the start must give its tree head.
    while (this.nextCheckpoint < this.checkpoints.length && this.checkpoints[this.nextCheckpoint]!.size <= start.seq) {
      const c = this.checkpoints[this.nextCheckpoint]!;
      if (c.size === start.seq && start.seq > 0 && this.tree.root().toString('hex') !== c.root) this.report('rewritten', start.seq, `the archived part no longer gives the tree head signed at size ${c.size}`);
      this.nextCheckpoint += 1;
    }
  }

  /**
   * An entry whose fields went into an archive file, known here by its hash alone: it extends the
   * tree and the chain, and its fields are checked where they are, in the file.
   */
  pushArchived(seq: number, entryHash: string): void {
    if (this.pending) this.judge(this.pending, null);
    this.pending = null;
    if (seq !== this.lastSeq + 1) this.report('deleted', this.lastSeq + 1, `archived entry ${this.lastSeq + 1} is missing its hash`);
    this.tipBefore = this.tip;
    this.tip = { seq, origin: seq, hash: entryHash };
    this.lastSeq = seq;
    this.tree.push(leafHash(Buffer.from(entryHash, 'hex')));
    this.passCheckpoints(seq);
  }

  private passCheckpoints(seq: number): void {
    while (this.nextCheckpoint < this.checkpoints.length && this.checkpoints[this.nextCheckpoint]!.size <= this.tree.size) {
      const c = this.checkpoints[this.nextCheckpoint]!;
      if (c.size === this.tree.size && this.tree.root().toString('hex') !== c.root) this.report('rewritten', seq, `the log no longer gives the tree head signed at size ${c.size}`);
      this.nextCheckpoint += 1;
    }
  }

  get size(): number {
    return this.tree.size;
  }

  /** The hash of the last row, hex. */
  get lastHash(): string {
    return this.pending?.row.entryHash ?? this.tip.hash;
  }

  /**
   * Whether the last row pushed holds up on its own and follows the chain. It is judged in full
   * only once the row after it arrives (or at `finish`); a signer asks this before signing.
   */
  get lastRowHolds(): boolean {
    const last = this.pending;
    return !last || (last.origin === last.row.seq && last.row.prevHash === this.tip.hash);
  }

  report(kind: DamageKind, seq: number | null, detail: string): void {
    if (seq !== null && this.problems.some((p) => p.kind === kind && p.seq === seq)) return;
    if (this.problems.length < MAX_PROBLEMS) this.problems.push({ kind, seq, detail });
  }

  push(row: StoredRow): void {
    const before = this.pending ?? null;
    const shift = before && before.origin !== null ? before.origin - before.row.seq : this.tip.origin - this.tip.seq;
    const stored = Buffer.from(row.entryHash, 'hex');
    const judged: Judged = { row, origin: originOf(row, stored, shift) };
    if (this.pending) this.judge(this.pending, judged);
    this.pending = judged;
    this.lastSeq = row.seq;
    this.tree.push(leafHash(stored));
    this.passCheckpoints(row.seq);
  }

  /**
   * Ends the walk: the last row is judged, and the log's length is compared with its head (the row
   * every append updates) and with every checkpoint.
   */
  finish(head?: { size: number; hash: string }): void {
    this.headSize = head?.size ?? null;
    if (this.pending) this.judge(this.pending, null);
    this.pending = null;
    if (head) {
      if (head.size > this.lastSeq) this.report('truncated', this.lastSeq + 1, `the head records ${head.size} entries; the log ends at ${this.lastSeq}`);
      else if (head.size < this.lastSeq) this.report('inserted', head.size + 1, `the head records ${head.size} entries; the log holds entries up to ${this.lastSeq}`);
      else if (head.size > 0 && head.hash !== this.tip.hash) this.report('modified', head.size, 'the last entry is not the one the head records');
    }
    for (const c of this.checkpoints.slice(this.nextCheckpoint)) {
      if (c.size > this.tree.size) this.report('truncated', null, `a checkpoint was signed at size ${c.size}, but the log holds ${this.tree.size} entries`);
    }
  }

  /**
   * Checks each checkpoint note: signed by the audit key, saying the size and root stored with it.
   * Answers the largest tree size a good signature covers (0 for none): how much of the log the
   * key vouches for, beyond the chain holding together.
   */
  checkSignatures(notes: readonly { size: number; root: string; note: string }[], verifierKey: string): number {
    let signedUpTo = 0;
    for (const c of notes) {
      try {
        const signed = parseCheckpoint(openNote(c.note, verifierKey));
        if (signed.size !== c.size || signed.rootHash.toString('hex') !== c.root) this.report('bad_signature', null, `the checkpoint at size ${c.size} does not say what its note says`);
        else if (c.size <= this.tree.size) signedUpTo = Math.max(signedUpTo, c.size);
      } catch (error) {
        if (!(error instanceof NoteError)) throw error;
        this.report('bad_signature', null, `${c.size > 0 ? `the checkpoint at size ${c.size}` : 'a checkpoint given'} is not signed by the audit key`);
      }
    }
    return signedUpTo;
  }

  /** Judges one row once the row after it is known (null at the end). */
  private judge(item: Judged, after: Judged | null): void {
    const seq = item.row.seq;
    const tip = this.tip;
    const advance = (): void => {
      this.tipBefore = this.tip;
      this.tip = { seq, origin: item.origin ?? seq, hash: item.row.entryHash };
    };
    if (this.reorderedAhead) {
      // The partner of an entry found out of order: it should follow the chain's tip.
      const ahead = this.reorderedAhead;
      this.reorderedAhead = null;
      if (item.row.prevHash === tip.hash) {
        this.tipBefore = tip;
        this.tip = { seq: ahead.row.seq, origin: ahead.origin!, hash: ahead.row.entryHash };
        return;
      }
    }
    if (item.origin === null) {
      if (seq > tip.seq + 1) this.report('deleted', tip.seq + 1, seq - 1 === tip.seq + 1 ? `entry ${tip.seq + 1} is missing` : `entries ${tip.seq + 1} to ${seq - 1} are missing`);
      if (after && after.row.prevHash === item.row.entryHash) {
        this.report('modified', seq, 'its fields were changed after it was written');
        advance();
      } else if (after && after.row.prevHash === tip.hash) {
        this.report('inserted', seq, 'it is not part of the chain: the entry after it follows the one before it');
      } else if (!after && this.headSize !== null && seq > this.headSize) {
        this.report('inserted', seq, `it was added after the last entry the head records (${this.headSize})`);
      } else {
        this.report('modified', seq, 'its fields were changed after it was written');
        advance();
      }
      return;
    }
    if (item.row.prevHash === tip.hash && item.origin === tip.origin + 1) {
      advance();
      return;
    }
    if (after && after.origin !== null && item.row.prevHash === after.row.entryHash) {
      this.report('reordered', seq, `it was written as entry ${item.origin} and stands before entry ${after.origin}, which it follows`);
      this.reorderedAhead = item;
      return;
    }
    if (item.origin > tip.origin + 1) {
      const from = tip.origin + 1;
      const to = item.origin - 1;
      this.report('deleted', from, from === to ? `entry ${from} is missing` : `entries ${from} to ${to} are missing`);
      advance();
      return;
    }
    if (this.tipBefore && item.row.prevHash === this.tipBefore.hash && item.origin === this.tipBefore.origin + 1) {
      this.report('inserted', tip.seq, 'it is not part of the chain: the entry after it follows the one before it');
      this.tip = this.tipBefore;
      advance();
      return;
    }
    // Follows nothing in the log: the entry before it was rewritten, its hash recomputed.
    this.report('modified', tip.seq > 0 && tip.seq !== seq ? tip.seq : seq, 'it was rewritten after it was written: the entry after it names another hash');
    advance();
  }
}

/**
 * The sequence number under which the row's hash covers its fields: its own, the one the shift of
 * the entry before it gives, or a near one after renumbering.
 */
function originOf(row: StoredRow, stored: Buffer, shift: number): number | null {
  const previous = Buffer.from(row.prevHash, 'hex');
  if (previous.length !== 32 || stored.length !== 32) return null;
  const seq = row.seq;
  // The stored text first (one hash, no parsing); the parsed entry when it is not canonical.
  if (row.tail !== undefined && chainHash(previous, canonicalText(seq + shift, row.tail)).equals(stored)) return seq + shift;
  const tail = canonicalTail(row.entry);
  const tried = new Set<number>();
  const covers = (candidate: number): boolean => {
    if (candidate < 1 || tried.has(candidate)) return false;
    tried.add(candidate);
    return chainHash(previous, canonicalText(candidate, tail)).equals(stored);
  };
  if (covers(seq + shift)) return seq + shift;
  if (covers(seq)) return seq;
  for (let d = 1; d <= MAX_SHIFT; d++) {
    if (covers(seq + shift + d)) return seq + shift + d;
    if (covers(seq + shift - d)) return seq + shift - d;
  }
  return null;
}
