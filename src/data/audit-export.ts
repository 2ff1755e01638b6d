import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { BUNDLE_FORMAT, BUNDLE_VERSION, bundleLine, type BundleLine } from '../audit/bundle.js';
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

/**
 * Writes the audit bundle (src/audit/bundle.ts): the log as it stood when the export began (the
 * head read first, entries up to it, the checkpoints that do not go past it), with the verifier
 * key and origin of the audit signing key. Ends `output`.
 */
export async function writeAuditBundle(deps: KeyDeps, output: Writable, signer: { origin: string; verifierKey: string | null }): Promise<BundleWritten> {
  const head = await deps.db.selectFrom('audit_head').select(['seq', 'entry_hash']).where('id', '=', 1).executeTakeFirstOrThrow();
  const size = Number(head.seq);
  const fingerprint = createHash('sha256');
  const write = async (line: BundleLine): Promise<void> => {
    const text = bundleLine(line);
    fingerprint.update(text);
    if (!output.write(text)) await drained(output);
  };
  await write({ bundle: { format: BUNDLE_FORMAT, version: BUNDLE_VERSION, origin: signer.origin, verifierKey: signer.verifierKey, exportedAt: deps.clock.now().toISOString(), head: { size, hash: head.entry_hash } } });
  const checkpoints = (await storedCheckpoints(deps)).filter((c) => c.size <= size);
  for (const c of checkpoints) await write({ checkpoint: c });
  let after = 0;
  while (after < size) {
    const rows = await deps.db.selectFrom('audit_entries').selectAll().where('seq', '>', after).where('seq', '<=', size).orderBy('seq').limit(BATCH).execute();
    if (rows.length === 0) break;
    for (const row of rows) await write({ row: { entry: storedEntry(row), prevHash: row.prev_hash, entryHash: row.entry_hash } });
    after = Number(rows.at(-1)!.seq);
  }
  output.end();
  if (!output.writableFinished) await once(output, 'finish');
  return { entries: size, checkpoints: checkpoints.length, sha256: fingerprint.digest('hex') };
}
