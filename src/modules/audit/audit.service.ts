import { isIP } from 'node:net';
import type { AuditEntry } from '../../audit/entry.js';
import { consistencyProof, inclusionProof, leafHash, rootHash } from '../../audit/merkle.js';
import { requirePermission } from '../../data/access.js';
import { auditVisibility, blastRadius, findEntries, type AuditFilter, type BlastRadius, type EntryPage } from '../../data/audit-query.js';
import { recordAudit } from '../../data/audit-trail.js';
import { writeAuditBundle, type BundleWritten } from '../../data/audit-export.js';
import { ChainWalker, storedCheckpoints, type StoredCheckpoint } from '../../data/audit-log.js';
import { NoteError, openNote, parseCheckpoint } from '../../audit/checkpoint.js';
import type { Damage } from '../../audit/verify.js';
import type { Writable } from 'node:stream';
import { RECORD_TYPES } from '../../data/field-registry.js';
import type { DataDeps } from '../../data/record-store.js';
import { AppError, type FieldProblem } from '../../shared/errors.js';
import { isId } from '../../shared/ids.js';
import type { ActorContext } from '../../shared/principal.js';

/**
 * Reading the audit log: searching it, the blast radius of an actor, and proofs that an entry is
 * in a signed tree head or that one head extends another. All need `audit.read`, and every one of
 * them is itself recorded in the log: who looked at the audit trail is audit data too.
 */

/** The filter as it arrives from a query string or the CLI: every value a string or a list of strings. */
export interface RawAuditFilter {
  actor?: string | string[];
  token?: string | string[];
  session?: string | string[];
  address?: string | string[];
  record?: string;
  subject?: string;
  action?: string | string[];
  outcome?: string;
  recordType?: string;
  from?: string;
  to?: string;
}

const MAX_LIST = 50;
const ACTOR = /^[A-Za-z0-9._@:-]{1,200}$/;
const SESSION = /^[A-Za-z0-9-]{1,128}$/;
const ACTION = /^[a-z_]{1,40}\.([a-z_]{1,40}|\*)$/;
const OUTCOMES = ['success', 'denied', 'failure'] as const;

function list(raw: string | string[] | undefined): string[] {
  if (raw === undefined) return [];
  return (Array.isArray(raw) ? raw : [raw]).flatMap((v) => String(v).split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

/** Checks every value: only well-formed ids, addresses and times reach the query. */
export function parseAuditFilter(raw: RawAuditFilter): AuditFilter {
  const problems: FieldProblem[] = [];
  const checked = (field: string, values: string[], valid: (v: string) => boolean, what: string): string[] => {
    if (values.length > MAX_LIST) problems.push({ field, message: `names at most ${MAX_LIST} values` });
    else if (!values.every(valid)) problems.push({ field, message: `must be ${what}` });
    return values;
  };
  const filter: AuditFilter = {};
  const actors = checked('actor', list(raw.actor), (v) => ACTOR.test(v), 'user ids, operators or job names');
  const tokens = checked('token', list(raw.token), isId, 'token ids');
  const sessions = checked('session', list(raw.session), (v) => SESSION.test(v), 'session ids');
  const addresses = checked('address', list(raw.address), (v) => isIP(v) !== 0, 'IP addresses');
  const actions = checked('action', list(raw.action), (v) => ACTION.test(v), 'actions such as record.read or record.*');
  if (actors.length) filter.actors = actors;
  if (tokens.length) filter.tokens = tokens;
  if (sessions.length) filter.sessions = sessions;
  if (addresses.length) filter.addresses = addresses;
  if (actions.length) filter.actions = actions;
  for (const key of ['record', 'subject'] as const) {
    const value = raw[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' || !isId(value)) problems.push({ field: key, message: 'must be a record id' });
    else filter[key] = value;
  }
  if (raw.outcome !== undefined) {
    if (!(OUTCOMES as readonly unknown[]).includes(raw.outcome)) problems.push({ field: 'outcome', message: `must be one of ${OUTCOMES.join(', ')}` });
    else filter.outcome = raw.outcome as AuditEntry['outcome'];
  }
  if (raw.recordType !== undefined) {
    if (typeof raw.recordType !== 'string' || !/^[a-z_]{1,40}$/.test(raw.recordType)) problems.push({ field: 'recordType', message: `must be a record type such as ${RECORD_TYPES.join(', ')}` });
    else filter.recordType = raw.recordType;
  }
  for (const key of ['from', 'to'] as const) {
    const value = raw[key];
    if (value === undefined) continue;
    const time = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(value) ? new Date(value) : null;
    if (!time || Number.isNaN(time.getTime())) problems.push({ field: key, message: 'must be a date or an ISO-8601 time (2026-11-29 or 2026-11-29T08:00:00Z)' });
    else filter[key] = time.toISOString();
  }
  if (filter.from && filter.to && filter.from >= filter.to) problems.push({ field: 'to', message: 'must come after from' });
  if (problems.length > 0) throw new AppError('request.invalid', 'The audit query has invalid fields', problems);
  return filter;
}

export const MAX_AUDIT_PAGE = 500;

export async function searchAudit(deps: DataDeps, ctx: ActorContext, filter: AuditFilter, page: { limit?: number; before?: number } = {}): Promise<EntryPage> {
  await requireAuditReader(deps, ctx);
  const limit = page.limit ?? 100;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_AUDIT_PAGE) throw new AppError('request.invalid', `limit must be 1 to ${MAX_AUDIT_PAGE}`, [{ field: 'limit', message: `must be 1 to ${MAX_AUDIT_PAGE}` }]);
  if (page.before !== undefined && (!Number.isSafeInteger(page.before) || page.before < 1)) throw new AppError('request.invalid', 'before must be an entry number', [{ field: 'before', message: 'must be an entry number' }]);
  const found = await findEntries(deps, filter, { limit, ...(page.before !== undefined ? { before: page.before } : {}) }, await auditVisibility(deps, ctx));
  await recordAudit(deps, ctx, { action: 'audit.read', details: { filter, returned: found.items.length } });
  return found;
}

/**
 * The blast radius of actors, tokens, sessions or addresses over a time window. Without a
 * selector and a start it would be a report on everyone: it asks for both.
 */
export async function auditBlastRadius(deps: DataDeps, ctx: ActorContext, filter: AuditFilter): Promise<BlastRadius> {
  await requireAuditReader(deps, ctx);
  const problems: FieldProblem[] = [];
  if (!filter.actors && !filter.tokens && !filter.sessions && !filter.addresses) problems.push({ field: 'actor', message: 'name at least one actor, token, session or address' });
  if (!filter.from) problems.push({ field: 'from', message: 'is required: the start of the window' });
  if (problems.length > 0) throw new AppError('request.invalid', 'The blast radius needs whose actions and since when', problems);
  const radius = await blastRadius(deps, filter, await auditVisibility(deps, ctx));
  await recordAudit(deps, ctx, { action: 'audit.blast_radius', details: { filter, entries: radius.entries, subjects: radius.subjects.length } });
  return radius;
}

export interface InclusionProof {
  seq: number;
  treeSize: number;
  leafIndex: number;
  entryHash: string;
  rootHash: string;
  /** Sibling hashes from the leaf up, hex (RFC 9162 §2.1.3). */
  proof: string[];
  /** The signed checkpoint of this tree size, when there is one. */
  checkpoint: string | null;
}

export interface ConsistencyProof {
  from: number;
  to: number;
  fromRoot: string;
  toRoot: string;
  proof: string[];
  checkpoints: { from: string | null; to: string | null };
}

/**
 * Proves that entry `seq` is in the tree of `size` entries: by default the newest checkpoint that
 * covers it, so the proof ends at a signed head; else the whole log.
 */
export async function proveInclusion(deps: DataDeps, ctx: ActorContext, seq: number, size?: number): Promise<InclusionProof> {
  await requireAuditReader(deps, ctx);
  const total = await logSize(deps);
  if (!Number.isSafeInteger(seq) || seq < 1 || seq > total) throw new AppError('request.invalid', `The log holds entries 1 to ${total}`, [{ field: 'seq', message: 'is not an entry of the log' }]);
  const treeSize = size ?? (await checkpointSizes(deps)).find((s) => s >= seq) ?? total;
  if (!Number.isSafeInteger(treeSize) || treeSize < seq || treeSize > total) throw new AppError('request.invalid', `The tree size must be ${seq} to ${total}`, [{ field: 'size', message: `must be ${seq} to ${total}` }]);
  const hashes = await entryHashes(deps, treeSize);
  const leaves = hashes.map((h) => leafHash(h));
  const proof = {
    seq,
    treeSize,
    leafIndex: seq - 1,
    entryHash: hashes[seq - 1]!.toString('hex'),
    rootHash: rootHash(leaves).toString('hex'),
    proof: inclusionProof(leaves, seq - 1).map((h) => h.toString('hex')),
    checkpoint: await checkpointNote(deps, treeSize),
  };
  await recordAudit(deps, ctx, { action: 'audit.prove', details: { kind: 'inclusion', seq, treeSize } });
  return proof;
}

/** Proves that the tree of `to` entries extends the tree of `from`: nothing before `from` changed. */
export async function proveConsistency(deps: DataDeps, ctx: ActorContext, from: number, to?: number): Promise<ConsistencyProof> {
  await requireAuditReader(deps, ctx);
  const total = await logSize(deps);
  const size2 = to ?? total;
  if (!Number.isSafeInteger(from) || from < 1 || !Number.isSafeInteger(size2) || size2 < from || size2 > total) {
    throw new AppError('request.invalid', `Give two tree sizes, 1 ≤ from ≤ to ≤ ${total}`, [{ field: 'from', message: `must be 1 to ${total}, and at most to` }]);
  }
  const leaves = (await entryHashes(deps, size2)).map((h) => leafHash(h));
  const proof = {
    from,
    to: size2,
    fromRoot: rootHash(leaves.slice(0, from)).toString('hex'),
    toRoot: rootHash(leaves).toString('hex'),
    proof: consistencyProof(leaves, from).map((h) => h.toString('hex')),
    checkpoints: { from: await checkpointNote(deps, from), to: await checkpointNote(deps, size2) },
  };
  await recordAudit(deps, ctx, { action: 'audit.prove', details: { kind: 'consistency', from, to: size2 } });
  return proof;
}

/**
 * Writes the whole log as a self-contained bundle that the standalone verifier checks offline. The
 * export is recorded before the first byte leaves, so a download cut short is in the log too, and
 * once more with its fingerprint when complete.
 */
export async function exportAudit(deps: DataDeps, ctx: ActorContext, output: Writable, signer: { origin: string; verifierKey: string | null }): Promise<BundleWritten> {
  await requireAuditReader(deps, ctx);
  await recordAudit(deps, ctx, { action: 'audit.export', details: { entries: await logSize(deps) } });
  const written = await writeAuditBundle(deps, output, signer);
  await recordAudit(deps, ctx, { action: 'audit.export_completed', details: { ...written } });
  return written;
}

/** The newest signed tree head, as the status shows it. */
export interface CheckpointView {
  size: number;
  rootHash: string;
  signedAt: string;
  /** Whether its note is signed by the audit key: `unchecked` when this server has no key file. */
  signature: 'valid' | 'invalid' | 'unchecked';
}

/** How far the chain is verified, and what damage, if any, was found on the way. */
export interface AuditChainStatus {
  /** Entries in the log, as its head records them. */
  entries: number;
  /** Entries walked and checked; with no problems, the chain holds from entry 1 to this one. */
  verifiedUpTo: number;
  intact: boolean;
  problems: Damage[];
  checkpoint: CheckpointView | null;
  /** When this check ran. */
  checkedAt: string;
  /** When the walk this check continues last started at entry 1. */
  walkStartedAt: string;
}

/**
 * A walk over the chain kept between requests: each check reads only what was appended since the
 * last one. Entries already walked are read again from the start every FULL_WALK_MS, so damage
 * done behind the walk (say, a field changed by SQL in an old entry) is found within that time; a
 * new checkpoint stored for a size the walk already passed starts a full walk at once, since its
 * tree head can only be compared at that size.
 */
interface ChainWatch {
  walker: ChainWalker;
  /** The checkpoint sizes the walk holds the log to. */
  held: Set<number>;
  startedAt: Date;
}

const FULL_WALK_MS = 10 * 60_000;
/** Per database: the walk, and the check under way (checks wait for each other, one walker moves at a time). */
const watches = new WeakMap<object, ChainWatch>();
const checking = new WeakMap<object, Promise<unknown>>();

/**
 * The chain's status for the security screens: what `rampart audit verify` says, checked
 * incrementally in this process (see ChainWatch). Needs `audit.read`; the check itself is
 * recorded, with its outcome.
 */
export async function auditChainStatus(deps: DataDeps, ctx: ActorContext, verifierKey: string | null): Promise<AuditChainStatus> {
  await requireAuditReader(deps, ctx);
  const key = deps.db as object;
  const checked = (checking.get(key) ?? Promise.resolve()).catch(() => undefined).then(() => checkChain(deps, key, verifierKey));
  checking.set(key, checked);
  const status = await checked;
  await recordAudit(deps, ctx, { action: 'audit.verify', outcome: status.intact ? 'success' : 'failure', details: { entries: status.verifiedUpTo, incremental: true, problems: status.problems.length } });
  return status;
}

async function checkChain(deps: DataDeps, key: object, verifierKey: string | null): Promise<AuditChainStatus> {
  const now = deps.clock.now();
  const head = await deps.db.selectFrom('audit_head').select(['seq', 'entry_hash']).where('id', '=', 1).executeTakeFirst();
  if (!head) throw new AppError('data.integrity_failed', 'The audit log has no head row');
  const size = Number(head.seq);
  const checkpoints = await storedCheckpoints(deps);
  let watch = watches.get(key);
  const passedUnseen = (w: ChainWatch) => checkpoints.some((c) => !w.held.has(c.size) && c.size <= w.walker.size);
  if (!watch || now.getTime() - watch.startedAt.getTime() >= FULL_WALK_MS || passedUnseen(watch)) {
    watch = { walker: new ChainWalker(checkpoints), held: new Set(checkpoints.map((c) => c.size)), startedAt: now };
    watches.set(key, watch);
    if (verifierKey) watch.walker.verifier.checkSignatures(checkpoints, verifierKey);
  }
  const { walker } = watch;
  // Checkpoints signed since the walk began: the walk stops at each one's size to compare tree heads.
  // One beyond the end of the log waits until the log reaches it (meanwhile it is reported as truncation).
  for (const c of checkpoints.filter((c) => !watch.held.has(c.size) && c.size <= size)) {
    watch.held.add(c.size);
    if (verifierKey) walker.verifier.checkSignatures([c], verifierKey);
    await walker.advance(deps, c.size);
    if (walker.size === c.size && walker.verifier.tree.root().toString('hex') !== c.root) walker.verifier.report('rewritten', c.size, `the log no longer gives the tree head signed at size ${c.size}`);
  }
  await walker.advance(deps, size);
  const problems = [...walker.problems, ...endOfLogDamage(walker, size, head.entry_hash, checkpoints)];
  const newest = checkpoints.at(-1);
  return {
    entries: size,
    verifiedUpTo: walker.size,
    intact: problems.length === 0,
    problems,
    checkpoint: newest ? { size: newest.size, rootHash: newest.root, signedAt: await signedAt(deps, newest.size), signature: signatureOf(newest, verifierKey) } : null,
    checkedAt: now.toISOString(),
    walkStartedAt: watch.startedAt.toISOString(),
  };
}

/**
 * What the rows alone cannot show, as the checkpointer checks it before signing: an entry cut off
 * the end, the last one rewritten, or a checkpoint beyond the end of the log.
 */
function endOfLogDamage(walker: ChainWalker, size: number, headHash: string, checkpoints: readonly StoredCheckpoint[]): Damage[] {
  const found: Damage[] = [];
  if (walker.size < size) found.push({ kind: 'truncated', seq: walker.size + 1, detail: `the head records ${size} entries; the log ends at ${walker.size}` });
  else if (size > 0 && (walker.verifier.lastHash !== headHash || !walker.verifier.lastRowHolds)) found.push({ kind: 'modified', seq: size, detail: 'the last entry is not the one the head records' });
  const beyond = checkpoints.filter((c) => c.size > size).at(-1);
  if (beyond) found.push({ kind: 'truncated', seq: null, detail: `a checkpoint was signed at size ${beyond.size}, but the log holds ${size} entries` });
  return found;
}

function signatureOf(checkpoint: StoredCheckpoint, verifierKey: string | null): CheckpointView['signature'] {
  if (!verifierKey) return 'unchecked';
  try {
    const signed = parseCheckpoint(openNote(checkpoint.note, verifierKey));
    return signed.size === checkpoint.size && signed.rootHash.toString('hex') === checkpoint.root ? 'valid' : 'invalid';
  } catch (error) {
    if (!(error instanceof NoteError)) throw error;
    return 'invalid';
  }
}

async function signedAt(deps: DataDeps, size: number): Promise<string> {
  return (await deps.db.selectFrom('audit_checkpoints').select('signed_at').where('tree_size', '=', size).executeTakeFirstOrThrow()).signed_at;
}

async function requireAuditReader(deps: DataDeps, ctx: ActorContext): Promise<void> {
  await requirePermission(deps, ctx, 'audit.read', 'Your roles do not allow you to read the audit log');
}

async function logSize(deps: DataDeps): Promise<number> {
  return Number((await deps.db.selectFrom('audit_head').select('seq').where('id', '=', 1).executeTakeFirstOrThrow()).seq);
}

async function checkpointSizes(deps: DataDeps): Promise<number[]> {
  return (await deps.db.selectFrom('audit_checkpoints').select('tree_size').orderBy('tree_size').execute()).map((c) => Number(c.tree_size));
}

async function checkpointNote(deps: DataDeps, size: number): Promise<string | null> {
  return (await deps.db.selectFrom('audit_checkpoints').select('note').where('tree_size', '=', size).executeTakeFirst())?.note ?? null;
}

/** The stored entry hashes 1..size, in order: those of archived entries, then those still here. */
async function entryHashes(deps: DataDeps, size: number): Promise<Buffer[]> {
  const hashes: Buffer[] = [];
  let archived = true;
  while (hashes.length < size) {
    const from = archived ? 'audit_archived' : 'audit_entries';
    const rows = await deps.db.selectFrom(from).select(['seq', 'entry_hash']).where('seq', '>', hashes.length).where('seq', '<=', size).orderBy('seq').limit(10_000).execute();
    if (rows.length === 0) {
      if (!archived) break;
      archived = false;
      continue;
    }
    for (const row of rows) {
      if (Number(row.seq) !== hashes.length + 1) throw new AppError('data.integrity_failed', 'The audit log has a gap; run rampart audit verify');
      hashes.push(Buffer.from(row.entry_hash, 'hex'));
    }
  }
  if (hashes.length !== size) throw new AppError('data.integrity_failed', 'The audit log is shorter than its head says; run rampart audit verify');
  return hashes;
}
