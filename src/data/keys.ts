import fs from 'node:fs';
import type { Kysely } from 'kysely';
import type { Config } from '../config/config.js';
import { KeyFileError } from '../crypto/key-file.js';
import { openKeyring } from '../crypto/setup.js';
import { insertMany } from '../db/insert-many.js';
import type { Dialect, Executor } from '../db/database.js';
import { IntegrityError } from '../crypto/aead.js';
import { deriveKey, indexBits } from '../crypto/blind-index.js';
import { dataKeyAad, indexKeyAad, type Keyring, type SubjectKeys } from '../crypto/keyring.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import { appendAudit, type NewAuditEntry } from './audit-log.js';

/**
 * The key hierarchy as stored: data keys per subject (`data_keys`), blind-index root keys
 * (`index_keys`), the erasure ledger and integrity events. Only the data layer uses this module.
 */
export interface KeyDeps {
  readonly db: Executor;
  readonly dialect: Dialect;
  readonly clock: Clock;
  readonly keyring: Keyring;
  /**
   * The audit entries of the open transaction, appended to the log just before it commits
   * (audit-trail.ts). Taking the log's head lock last, after every row lock the work took, keeps
   * two transactions from ever waiting on each other through it.
   */
  readonly pendingAudit?: NewAuditEntry[];
}

/** The subject whose key seals personal values of records that belong to no person. */
export const ORGANISATION = 'organisation';

const CHUNK = 500;

function anyDb(deps: KeyDeps): Kysely<any> {
  return deps.db as unknown as Kysely<any>;
}

/** A subject's data key is gone because the person was erased: its values read as nothing. */
export const ERASED = 'erased' as const;
export type SubjectKeyState = SubjectKeys | typeof ERASED;

/** New random data keys, version 1, for new subjects; written in the caller's transaction. */
export async function createDataKeys(deps: KeyDeps, subjectIds: string[]): Promise<void> {
  const now = deps.clock.now().toISOString();
  const rows: { subject_id: string; version: number; kek_id: string; wrapped: string; created_at: string }[] = [];
  const fresh = new Map<string, SubjectKeys>();
  for (const subjectId of subjectIds) {
    const key = deps.keyring.newKey();
    const { kekId, wrapped } = await deps.keyring.kek.wrap(key, dataKeyAad(subjectId, 1));
    rows.push({ subject_id: subjectId, version: 1, kek_id: kekId, wrapped: wrapped.toString('base64'), created_at: now });
    fresh.set(subjectId, { current: 1, versions: new Map([[1, key]]) });
  }
  await insertMany(deps.db, deps.dialect, 'data_keys', rows);
  // Cached only once written: a rolled-back transaction leaves a key in the cache that nothing
  // in the database uses, which is harmless, and never a cached key missing from the database.
  for (const [subjectId, keys] of fresh) deps.keyring.remember(subjectId, keys);
}

/** The organisation's key, made on first use. */
export async function organisationKeys(deps: KeyDeps, options: { fresh?: boolean } = {}): Promise<SubjectKeys> {
  const cached = options.fresh ? undefined : deps.keyring.cached(ORGANISATION);
  const known = cached ?? (await loadSubjectKeys(deps, [ORGANISATION])).found.get(ORGANISATION);
  if (known) return known;
  const key = deps.keyring.newKey();
  const { kekId, wrapped } = await deps.keyring.kek.wrap(key, dataKeyAad(ORGANISATION, 1));
  await anyDb(deps)
    .insertInto('data_keys')
    .values({ subject_id: ORGANISATION, version: 1, kek_id: kekId, wrapped: wrapped.toString('base64'), created_at: deps.clock.now().toISOString() })
    .onConflict((oc: any) => oc.columns(['subject_id', 'version']).doNothing())
    .execute();
  const made = (await loadSubjectKeys(deps, [ORGANISATION])).found.get(ORGANISATION);
  if (!made) throw new Error('the organisation key could not be made');
  return made;
}

/**
 * The unwrapped keys of each subject: from the cache, else from `data_keys` in one query per 500
 * subjects. A subject with no key is either erased (in the ledger) or missing, which is an
 * integrity failure: something deleted a key without erasing its person.
 */
export async function subjectKeys(deps: KeyDeps, subjectIds: Iterable<string>, options: { fresh?: boolean } = {}): Promise<Map<string, SubjectKeyState>> {
  const result = new Map<string, SubjectKeyState>();
  const missing: string[] = [];
  const wanted = [...new Set(subjectIds)];
  // Writes must seal under the newest key version, which a rotation in another process may have
  // added since this one cached the subject: for them the cache is checked against the table.
  const newest = options.fresh ? await newestVersions(deps, wanted.filter((s) => deps.keyring.cached(s))) : null;
  for (const subjectId of wanted) {
    const cached = deps.keyring.cached(subjectId);
    if (cached && (!newest || newest.get(subjectId) === cached.current)) result.set(subjectId, cached);
    else missing.push(subjectId);
  }
  const { found, erased } = await loadSubjectKeys(deps, missing);
  for (const subjectId of missing) {
    const keys = found.get(subjectId);
    if (keys) result.set(subjectId, keys);
    else if (erased.has(subjectId)) result.set(subjectId, ERASED);
    else throw new IntegrityError(`no data key for subject ${subjectId}`);
  }
  return result;
}

async function newestVersions(deps: KeyDeps, subjectIds: string[]): Promise<Map<string, number>> {
  const newest = new Map<string, number>();
  for (let at = 0; at < subjectIds.length; at += CHUNK) {
    const rows = (await anyDb(deps)
      .selectFrom('data_keys')
      .select((eb: any) => ['subject_id', eb.fn.max('version').as('v')])
      .where('subject_id', 'in', subjectIds.slice(at, at + CHUNK))
      .groupBy('subject_id')
      .execute()) as { subject_id: string; v: number }[];
    for (const row of rows) newest.set(row.subject_id, Number(row.v));
  }
  return newest;
}

/** Reads and unwraps the keys of subjects from `data_keys`, and which of the others were erased. */
async function loadSubjectKeys(deps: KeyDeps, subjectIds: string[]): Promise<{ found: Map<string, SubjectKeys>; erased: Set<string> }> {
  const found = new Map<string, SubjectKeys>();
  const erased = new Set<string>();
  for (let at = 0; at < subjectIds.length; at += CHUNK) {
    const chunk = subjectIds.slice(at, at + CHUNK);
    const rows = (await anyDb(deps).selectFrom('data_keys').select(['subject_id', 'version', 'kek_id', 'wrapped']).where('subject_id', 'in', chunk).execute()) as {
      subject_id: string;
      version: number;
      kek_id: string;
      wrapped: string;
    }[];
    const versionsOf = new Map<string, Map<number, Buffer>>();
    for (const row of rows) {
      const version = Number(row.version);
      const key = await deps.keyring.kek.unwrap(row.kek_id, Buffer.from(row.wrapped, 'base64'), dataKeyAad(row.subject_id, version));
      const versions = versionsOf.get(row.subject_id) ?? new Map<number, Buffer>();
      versions.set(version, key);
      versionsOf.set(row.subject_id, versions);
    }
    for (const [subjectId, versions] of versionsOf) {
      const keys: SubjectKeys = { current: Math.max(...versions.keys()), versions };
      deps.keyring.remember(subjectId, keys);
      found.set(subjectId, keys);
    }
    const unkeyed = chunk.filter((s) => !versionsOf.has(s));
    if (unkeyed.length > 0) {
      const ledger = (await anyDb(deps).selectFrom('erasures').select('subject_id').where('subject_id', 'in', unkeyed).execute()) as { subject_id: string }[];
      for (const row of ledger) erased.add(row.subject_id);
    }
  }
  return { found, erased };
}

/** Derived blind-index and token keys of one index root key version. */
export interface IndexKeyVersion {
  readonly version: number;
  readonly bits: number;
  readonly state: 'active' | 'building';
  columnKey(table: string, column: string): Buffer;
  tokenKey(recordType: string): Buffer;
}

/** The root key versions that index writes and answer lookups: the active one, and one being built. */
export interface IndexKeys {
  readonly active: IndexKeyVersion;
  readonly building: IndexKeyVersion | null;
  /** The versions a lookup must try: the active one and, during a rotation, the new one. */
  readonly all: readonly IndexKeyVersion[];
  /** The version writes index with: the new one during a rotation. */
  readonly writing: IndexKeyVersion;
}

const rootCache = new WeakMap<Keyring, Map<number, Buffer>>();

/**
 * The blind-index keys now in force. Read on every call (a tiny table), so that a rotation begun
 * by another process is seen by the next write; the unwrapped roots are kept per keyring.
 */
export async function indexKeys(deps: KeyDeps): Promise<IndexKeys> {
  let rows = (await anyDb(deps).selectFrom('index_keys').select(['version', 'kek_id', 'wrapped', 'bits', 'state']).where('state', '!=', 'retired').orderBy('version').execute()) as {
    version: number;
    kek_id: string;
    wrapped: string;
    bits: number;
    state: 'active' | 'building';
  }[];
  if (!rows.some((r) => r.state === 'active')) {
    await createIndexKey(deps, 'active');
    rows = (await anyDb(deps).selectFrom('index_keys').selectAll().where('state', '!=', 'retired').orderBy('version').execute()) as typeof rows;
  }
  let roots = rootCache.get(deps.keyring);
  if (!roots) {
    roots = new Map();
    rootCache.set(deps.keyring, roots);
  }
  const versions: IndexKeyVersion[] = [];
  for (const row of rows) {
    const version = Number(row.version);
    let root = roots.get(version);
    if (!root) {
      root = await deps.keyring.kek.unwrap(row.kek_id, Buffer.from(row.wrapped, 'base64'), indexKeyAad(version));
      roots.set(version, root);
    }
    versions.push(indexKeyVersion(root, version, Number(row.bits), row.state));
  }
  // Two processes starting at once on an empty database may both add a first key; the older wins.
  const active = versions.find((v) => v.state === 'active')!;
  const building = versions.find((v) => v.state === 'building') ?? null;
  return { active, building, all: building ? [active, building] : [active], writing: building ?? active };
}

const derivedCache = new WeakMap<Buffer, Map<string, Buffer>>();

function indexKeyVersion(root: Buffer, version: number, bits: number, state: 'active' | 'building'): IndexKeyVersion {
  let derived = derivedCache.get(root);
  if (!derived) {
    derived = new Map();
    derivedCache.set(root, derived);
  }
  const cache = derived;
  const get = (label: string): Buffer => {
    let key = cache.get(label);
    if (!key) {
      key = deriveKey(root, label);
      cache.set(label, key);
    }
    return key;
  };
  return { version, bits, state, columnKey: (table, column) => get(`bidx|${table}|${column}`), tokenKey: (recordType) => get(`tokens|${recordType}`) };
}

/** Adds a blind-index root key; the first one is made on first use, later ones by rotation. */
export async function createIndexKey(deps: KeyDeps, state: 'active' | 'building'): Promise<number> {
  const row = (await anyDb(deps).selectFrom('index_keys').select((eb: any) => eb.fn.max('version').as('v')).executeTakeFirst()) as { v: number | null } | undefined;
  const version = Number(row?.v ?? 0) + 1;
  const root = deps.keyring.newKey();
  const { kekId, wrapped } = await deps.keyring.kek.wrap(root, indexKeyAad(version));
  await anyDb(deps)
    .insertInto('index_keys')
    .values({ version, kek_id: kekId, wrapped: wrapped.toString('base64'), bits: indexBits(deps.keyring.expectedPeople), state, created_at: deps.clock.now().toISOString() })
    .onConflict((oc: any) => oc.column('version').doNothing())
    .execute();
  return version;
}

/** Writes an integrity event: which value failed to open where. Never the value itself. */
export interface IntegrityEvent {
  readonly table: string;
  readonly column: string;
  readonly recordId: string;
  readonly reason: string;
}

/**
 * `data.integrity_failed` found inside a transaction: the event cannot be written there, since the
 * error rolls the transaction back, so it travels with the error and `inTransaction` records it
 * once the rollback is done.
 */
export class IntegrityFailure extends AppError {
  constructor(
    message: string,
    readonly event: IntegrityEvent,
    public recorded: boolean,
  ) {
    super('data.integrity_failed', message);
  }
}

/**
 * Runs `work` in a transaction, or inside the caller's transaction if one is open. Integrity
 * failures met inside are recorded after the rollback, so the event outlives the work it stopped.
 */
export async function inTransaction<D extends KeyDeps, T>(deps: D, work: (trxDeps: D) => Promise<T>): Promise<T> {
  if (deps.db.isTransaction) return work(deps);
  try {
    return await deps.db.transaction().execute(async (trx) => {
      const pendingAudit: NewAuditEntry[] = [];
      const inside = { ...deps, db: trx, pendingAudit };
      const result = await work(inside);
      if (pendingAudit.length > 0) await appendAudit(inside, pendingAudit.splice(0));
      return result;
    });
  } catch (error) {
    if (error instanceof IntegrityFailure && !error.recorded) {
      await recordIntegrityEvent(deps, error.event).catch(() => undefined);
      error.recorded = true;
    }
    throw error;
  }
}

/** Kept twice, in one transaction: for the key status report, and in the audit log. */
export async function recordIntegrityEvent(deps: KeyDeps, event: IntegrityEvent): Promise<void> {
  await inTransaction(deps, async (tx) => {
    const reason = event.reason.slice(0, 200);
    await anyDb(tx)
      .insertInto('integrity_events')
      .values({ id: newId(), occurred_at: tx.clock.now().toISOString(), table_name: event.table, column_name: event.column, record_id: event.recordId, reason })
      .execute();
    await appendAudit(tx, [
      {
        actorKind: 'system',
        actorId: 'integrity-check',
        sessionId: null,
        sourceAddress: null,
        userAgent: null,
        channel: 'job',
        action: 'integrity.failure',
        recordType: event.table,
        recordIds: [event.recordId],
        fields: [event.column],
        outcome: 'failure',
        requestId: null,
        details: { reason },
      },
    ]);
  });
}

/**
 * The keyring of a process. The key file is created only for a database that has no keys yet: a
 * database with keys and no key file means the file was lost or the wrong one is configured, and
 * making a new one would leave every sealed value unreadable. An existing key file is checked
 * against the database by unwrapping one stored key.
 */
export async function loadKeyring(db: Executor, config: Config): Promise<Keyring> {
  const anyKey = (await (db as unknown as Kysely<any>).selectFrom('index_keys').select(['version', 'kek_id', 'wrapped']).orderBy('version').limit(1).executeTakeFirst()) as
    | { version: number; kek_id: string; wrapped: string }
    | undefined;
  if (anyKey && !fs.existsSync(config.keys.file)) {
    throw new KeyFileError(`This database's keys were made with a key file that is not at ${config.keys.file}. Restore the key file (or set RAMPART_KEY_FILE to it); without it encrypted data cannot be read.`);
  }
  const keyring = openKeyring(config, { create: !anyKey });
  if (anyKey) {
    try {
      await keyring.kek.unwrap(anyKey.kek_id, Buffer.from(anyKey.wrapped, 'base64'), indexKeyAad(Number(anyKey.version)));
    } catch {
      throw new KeyFileError(`The key file ${config.keys.file} does not open this database's keys: it belongs to another installation, or the key version ${anyKey.kek_id} it needs was retired.`);
    }
  }
  return keyring;
}
