import type { AuditEntry } from './entry.js';
import { ChainVerifier, type CheckpointHead, type Damage, type StoredRow } from './verify.js';

/**
 * The audit bundle: the whole log as exported by `rampart audit export`, self-contained, for an
 * auditor to verify offline with the standalone verifier. JSON Lines, one object per line:
 *
 *   {"bundle": {"format": "rampart-audit-bundle", "version": 1, "origin", "verifierKey", "exportedAt", "head": {"size", "hash"}}}
 *   {"checkpoint": {"size", "root", "note"}}                                          every stored checkpoint, first
 *   {"row": {"entry": {seq, time, actorKind, …, details}, "prevHash", "entryHash"}}   one per entry, in order
 *
 * Checkpoints come before the rows, so a bundle of millions of entries is verified one line at a
 * time in constant memory.
 */
export const BUNDLE_FORMAT = 'rampart-audit-bundle';
export const BUNDLE_VERSION = 1;

export interface BundleHeader {
  format: typeof BUNDLE_FORMAT;
  version: number;
  origin: string;
  /** The verifier key as the server knew it; an auditor checks against the key they were given. */
  verifierKey: string | null;
  exportedAt: string;
  head: { size: number; hash: string };
  /** Where the rows begin when earlier entries are in an archive: the last entry before them and the tree's frontier there. */
  start?: { seq: number; hash: string; frontier: string[] };
}

/** An entry as a bundle carries it. */
export interface BundleRow {
  entry: AuditEntry;
  prevHash: string;
  entryHash: string;
}

export type BundleLine = { bundle: BundleHeader } | { row: BundleRow } | { checkpoint: CheckpointHead & { note: string } };

export function bundleLine(line: BundleLine): string {
  return `${JSON.stringify(line)}\n`;
}

export class BundleError extends Error {
  override readonly name = 'BundleError';
}

export interface BundleVerification {
  header: BundleHeader;
  entries: number;
  rootHash: string;
  checkpoints: number;
  /** The largest tree size a checkpoint signed by the verifier key covers; 0 when none does. */
  signedUpTo: number;
  problems: Damage[];
}

/**
 * Verifies a bundle read line by line. `kept` are checkpoints the auditor holds from elsewhere
 * (the server's file or webhook sink); `verifierKey` is the key they were given, which wins over
 * the bundle's own.
 */
export async function verifyBundle(lines: AsyncIterable<string> | Iterable<string>, options: { verifierKey?: string; kept?: readonly (CheckpointHead & { note: string })[] } = {}): Promise<BundleVerification> {
  let header: BundleHeader | null = null;
  const checkpoints: (CheckpointHead & { note: string })[] = [...(options.kept ?? [])];
  let verifier: ChainVerifier | null = null;
  let number = 0;
  for await (const text of lines) {
    number += 1;
    if (text.trim() === '') continue;
    let line: Partial<{ bundle: BundleHeader; row: BundleRow; checkpoint: CheckpointHead & { note: string } }>;
    try {
      line = JSON.parse(text) as typeof line;
    } catch {
      throw new BundleError(`line ${number} is not JSON`);
    }
    if (typeof line !== 'object' || line === null || Array.isArray(line)) throw new BundleError(`line ${number} is not an object`);
    if (line.bundle) {
      if (header || number !== 1) throw new BundleError(`line ${number}: the bundle header belongs on the first line, once`);
      if (line.bundle.format !== BUNDLE_FORMAT || line.bundle.version !== BUNDLE_VERSION) throw new BundleError('not a Rampart audit bundle of a version this verifier reads');
      header = line.bundle;
    } else if (!header) throw new BundleError('the bundle has no header line');
    else if (line.checkpoint) {
      if (verifier) throw new BundleError(`line ${number}: checkpoints come before the rows`);
      checkpoints.push(checkCheckpoint(line.checkpoint, number));
    } else if (line.row) {
      verifier ??= startVerifier(header, checkpoints);
      verifier.push(checkRow(line.row, number));
    } else throw new BundleError(`line ${number} is neither a header, a checkpoint nor a row`);
  }
  if (!header) throw new BundleError('the bundle has no header line');
  verifier ??= startVerifier(header, checkpoints);
  verifier.finish(header.head);
  const key = options.verifierKey ?? header.verifierKey;
  const signedUpTo = key ? verifier.checkSignatures(checkpoints, key) : 0;
  return { header, entries: verifier.size, rootHash: verifier.tree.root().toString('hex'), checkpoints: checkpoints.length, signedUpTo, problems: verifier.problems };
}

/**
 * A bundle that starts after archived entries starts from the tree's frontier there; a checkpoint
 * signed at exactly that size, in the bundle, vouches for it (the verifier compares its root).
 */
function startVerifier(header: BundleHeader, checkpoints: readonly (CheckpointHead & { note: string })[]): ChainVerifier {
  const start = header.start;
  if (!start) return new ChainVerifier(checkpoints);
  if (!Number.isSafeInteger(start.seq) || typeof start.hash !== 'string' || !Array.isArray(start.frontier)) throw new BundleError('the bundle header has a malformed start');
  let verifier: ChainVerifier;
  try {
    verifier = new ChainVerifier(checkpoints, start);
  } catch {
    throw new BundleError('the bundle header has a malformed start');
  }
  if (!checkpoints.some((c) => c.size === start.seq)) verifier.report('bad_signature', start.seq, 'no checkpoint in the bundle vouches for where it starts');
  return verifier;
}

function checkCheckpoint(checkpoint: CheckpointHead & { note: string }, number: number): CheckpointHead & { note: string } {
  if (typeof checkpoint?.size !== 'number' || typeof checkpoint.root !== 'string' || typeof checkpoint.note !== 'string') throw new BundleError(`line ${number}: a checkpoint needs size, root and note`);
  return checkpoint;
}

function checkRow(row: BundleRow, number: number): StoredRow {
  const entry = row?.entry as AuditEntry | undefined;
  if (!entry || typeof entry !== 'object' || typeof entry.seq !== 'number' || typeof row.prevHash !== 'string' || typeof row.entryHash !== 'string') throw new BundleError(`line ${number}: a row needs entry, prevHash and entryHash`);
  return { seq: entry.seq, entry, prevHash: row.prevHash, entryHash: row.entryHash };
}
