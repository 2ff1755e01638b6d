import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { BUNDLE_FORMAT, BUNDLE_VERSION, bundleLine, type BundleLine } from '../audit/bundle.js';
import { GENESIS_HASH } from '../audit/entry.js';
import { leafHash, MerkleAccumulator } from '../audit/merkle.js';
import { storedCheckpoints, storedEntry } from './audit-log.js';
import type { KeyDeps } from './keys.js';

const BATCH = 2000;

/** Waits for room in the output; a reader that went away (a download cut short) ends the export. */
function drained(output: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      output.off('drain', onDrain);
      output.off('close', onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('the reader of the audit bundle went away'));
    output.on('drain', onDrain);
    output.on('close', onClose);
  });
}

export interface BundleWritten {
  entries: number;
  checkpoints: number;
  /** SHA-256 of the bundle's bytes, hex. */
  sha256: string;
}

/** Where the entries still in the database begin: after the last archive, or at the genesis. */
export interface BundleStart {
  seq: number;
  hash: string;
  /** The Merkle tree's frontier after entry `seq`, hex. */
  frontier: string[];
}

/** The start after the entries archived up to `through` (all of them, by default). */
export async function archivedStart(deps: KeyDeps, through = Number.MAX_SAFE_INTEGER): Promise<BundleStart> {
  const tree = new MerkleAccumulator();
  let hash = GENESIS_HASH.toString('hex');
  let after = 0;
  for (;;) {
    const rows = await deps.db.selectFrom('audit_archived').selectAll().where('seq', '>', after).where('seq', '<=', through).orderBy('seq').limit(BATCH * 5).execute();
    if (rows.length === 0) break;
    for (const row of rows) {
      tree.push(leafHash(Buffer.from(row.entry_hash, 'hex')));
      hash = row.entry_hash;
    }
    after = Number(rows.at(-1)!.seq);
  }
  return { seq: tree.size, hash, frontier: tree.frontier().map((node) => node.toString('hex')) };
}

/**
 * Writes the audit bundle (src/audit/bundle.ts): the log as it stood when the export began (the
 * head read first, the entries still here up to it, the checkpoints from the first of them on),
 * with the verifier key and origin of the audit signing key. Ends `output`.
 */
export async function writeAuditBundle(deps: KeyDeps, output: Writable, signer: { origin: string; verifierKey: string | null }): Promise<BundleWritten> {
  const head = await deps.db.selectFrom('audit_head').select(['seq', 'entry_hash']).where('id', '=', 1).executeTakeFirstOrThrow();
  return writeBundleRange(deps, output, signer, await archivedStart(deps), { size: Number(head.seq), hash: head.entry_hash });
}

/** A bundle of the entries after `start` up to `end`, with the checkpoints from `start` to `end`. */
export async function writeBundleRange(deps: KeyDeps, output: Writable, signer: { origin: string; verifierKey: string | null }, start: BundleStart, end: { size: number; hash: string }): Promise<BundleWritten> {
  const fingerprint = createHash('sha256');
  const write = async (line: BundleLine): Promise<void> => {
    const text = bundleLine(line);
    fingerprint.update(text);
    if (!output.write(text)) await drained(output);
  };
  await write({ bundle: { format: BUNDLE_FORMAT, version: BUNDLE_VERSION, origin: signer.origin, verifierKey: signer.verifierKey, exportedAt: deps.clock.now().toISOString(), head: end, ...(start.seq > 0 ? { start } : {}) } });
  const checkpoints = (await storedCheckpoints(deps)).filter((c) => c.size >= start.seq && c.size <= end.size);
  for (const c of checkpoints) await write({ checkpoint: c });
  let after = start.seq;
  while (after < end.size) {
    const rows = await deps.db.selectFrom('audit_entries').selectAll().where('seq', '>', after).where('seq', '<=', end.size).orderBy('seq').limit(BATCH).execute();
    if (rows.length === 0) break;
    for (const row of rows) await write({ row: { entry: storedEntry(row), prevHash: row.prev_hash, entryHash: row.entry_hash } });
    after = Number(rows.at(-1)!.seq);
  }
  output.end();
  if (!output.writableFinished) await once(output, 'finish');
  return { entries: end.size - start.seq, checkpoints: checkpoints.length, sha256: fingerprint.digest('hex') };
}
