import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { Writable } from 'node:stream';
import { verifyBundle } from '../audit/bundle.js';
import type { Damage } from '../audit/verify.js';
import type { AuditSigningKey } from '../audit/signing-key-file.js';
import { AppError } from '../shared/errors.js';
import { ChainWalker, storedCheckpoints, storeCheckpoint, verifyAuditLog } from './audit-log.js';
import { archivedStart, writeBundleRange, type BundleWritten } from './audit-export.js';
import { inTransaction, type KeyDeps } from './keys.js';

/**
 * Archiving: entries written before a given time, up to the newest one a signed checkpoint
 * covers, leave the database for a signed archive file, a bundle the standalone verifier checks
 * on its own. The database keeps each archived entry's hash (so the tree, checkpoints and proofs
 * still span the whole log) and a record of the file. Nothing is archived from a log that does not
 * verify, and the file is on disk, synced, before a single entry is deleted.
 */
export interface ArchiveResult extends BundleWritten {
  fromSeq: number;
  throughSeq: number;
}

/** `writeFile` writes the archive durably (to a temporary file, synced, renamed) with the writer it is given. */
export async function archiveAudit(deps: KeyDeps, key: AuditSigningKey, options: { before: Date; writeFile: (write: (stream: Writable) => Promise<BundleWritten>) => Promise<BundleWritten> }): Promise<ArchiveResult | null> {
  const verified = await verifyAuditLog(deps, { verifierKey: key.verifierKey });
  if (verified.problems.length > 0) throw new AppError('data.integrity_failed', `The audit log is broken (${verified.problems.length} problem(s)); nothing was archived. Run rampart audit verify`);
  const start = await archivedStart(deps);
  // Only what a signed checkpoint already covers leaves the database: what a verifier may have
  // kept off the server can always be checked against the archive.
  const signed = Math.max(0, ...(await storedCheckpoints(deps)).map((c) => c.size));
  const oldEnough = await deps.db.selectFrom('audit_entries').select('seq').where('occurred_at', '<', options.before.toISOString()).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  const through = Math.min(signed, oldEnough ? Number(oldEnough.seq) : 0);
  if (through <= start.seq) return null;

  // A checkpoint at exactly the archive's end seals it, and vouches for where the rest begins.
  const walker = new ChainWalker();
  await walker.advance(deps, through);
  if (walker.size !== through) throw new AppError('data.integrity_failed', 'The audit log changed while it was being archived; try again');
  const sealed = await storeCheckpoint(deps, key, through, walker.verifier.tree.root().toString('hex'));
  const last = await deps.db.selectFrom('audit_entries').select('entry_hash').where('seq', '=', through).executeTakeFirstOrThrow();

  const written = await options.writeFile((stream) => writeBundleRange(deps, stream, { origin: key.origin, verifierKey: key.verifierKey }, start, { size: through, hash: last.entry_hash }));

  await inTransaction(deps, async (tx) => {
    await tx.db
      .insertInto('audit_archived')
      .columns(['seq', 'entry_hash'])
      .expression((eb) => eb.selectFrom('audit_entries').select(['seq', 'entry_hash']).where('seq', '>', start.seq).where('seq', '<=', through))
      .execute();
    await tx.db.insertInto('audit_archives').values({ through_seq: through, from_seq: start.seq + 1, archived_at: tx.clock.now().toISOString(), file_sha256: written.sha256, note: sealed.note }).execute();
    await tx.db.deleteFrom('audit_entries').where('seq', '<=', through).execute();
  });
  return { ...written, fromSeq: start.seq + 1, throughSeq: through };
}

export interface ArchiveCheck {
  file: string;
  fromSeq: number;
  throughSeq: number;
  problems: Damage[];
}

/**
 * Checks an archive file against the database: it verifies on its own (chain, tree, the checkpoint
 * at its end signed by the key), it is the very file recorded (SHA-256), and it ends with the hash
 * the database kept for its last entry.
 */
export async function checkArchiveFile(deps: KeyDeps, file: string, verifierKey: string): Promise<ArchiveCheck> {
  const bytes = await fs.promises.readFile(file);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const result = await verifyBundle(bytes.toString('utf8').split('\n'), { verifierKey });
  const problems = [...result.problems];
  const recorded = await deps.db.selectFrom('audit_archives').selectAll().where('file_sha256', '=', sha256).executeTakeFirst();
  const through = result.header.head.size;
  const fromSeq = (result.header.start?.seq ?? 0) + 1;
  if (!recorded) problems.push({ kind: 'modified', seq: null, detail: 'no archive with this SHA-256 is recorded: the file was changed, or belongs to another log' });
  else if (Number(recorded.through_seq) !== through || Number(recorded.from_seq) !== fromSeq) problems.push({ kind: 'modified', seq: null, detail: `the file holds entries ${fromSeq} to ${through}; the record says ${Number(recorded.from_seq)} to ${Number(recorded.through_seq)}` });
  const kept = await deps.db.selectFrom('audit_archived').select('entry_hash').where('seq', '=', through).executeTakeFirst();
  if (!kept || kept.entry_hash !== result.header.head.hash) problems.push({ kind: 'modified', seq: through, detail: 'the last entry of the file is not the one whose hash the database kept' });
  if (result.signedUpTo < through) problems.push({ kind: 'bad_signature', seq: null, detail: 'no checkpoint signed by the audit key covers the whole file' });
  return { file, fromSeq, throughSeq: through, problems };
}
