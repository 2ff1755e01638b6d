import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import { RELOAD_CHECK_MS } from '../crypto/key-file.js';
import { dataKeyAad, indexKeyAad, mfaSecretAad } from '../crypto/keyring.js';
import { AppError } from '../shared/errors.js';
import { RECORD_TYPES, isPersonal, type RecordType } from './field-registry.js';
import { loadCustomFieldDefs } from './custom-field-defs.js';
import { openValue, sealValue, sealedVersion } from './field-crypto.js';
import { createIndexKey, ERASED, indexKeys, inTransaction, ORGANISATION, organisationKeys, subjectKeys, type KeyDeps } from './keys.js';
import { blindOf, hasSubjectColumn, openRows, personalFields, searchTerms } from './record-sealing.js';
import { reindexDocument } from '../db/search-index.js';
import { RECORD_TYPE_DEFS } from './record-types.js';

/**
 * Key rotation while Rampart keeps serving. Every step is a short transaction over a batch, with
 * a pause between batches so that requests are not starved; every step finds its remaining work
 * from the data itself, so a crash or a kill is resumed simply by running the command again.
 *
 * - `rotateKek`: a new KEK version becomes current and every wrapped key is wrapped again with it.
 * - `rotateDataKeys`: every subject (and the organisation) gets a new data key version, every
 *   value is sealed again under it, and the old version is destroyed.
 * - `rotateIndexKey`: a new blind-index root key, and every blind index and search token made again.
 * - `retireKek`: an old KEK version stops unwrapping; refused while anything still uses it.
 */
export interface RotationProgress {
  step: 'rewrap' | 'reseal' | 'reindex';
  done: number;
  total: number;
}

export interface RotationOptions {
  onProgress?: (progress: RotationProgress) => void;
  /** Pause between batches, in milliseconds (throttling). */
  pauseMs?: number;
  batchSize?: number;
}

function anyDb(deps: KeyDeps): Kysely<any> {
  return deps.db as unknown as Kysely<any>;
}

async function countOf(deps: KeyDeps, table: string, where?: (qb: any) => any): Promise<number> {
  let qb = anyDb(deps).selectFrom(table).select((eb: any) => eb.fn.countAll().as('n'));
  if (where) qb = where(qb);
  return Number(((await qb.executeTakeFirst()) as { n: number | string }).n);
}

/** Makes a new KEK version current and wraps every data and index key again with it. */
export async function rotateKek(deps: KeyDeps, options: RotationOptions & { settleMs?: number } = {}): Promise<{ kekId: string; rewrapped: number }> {
  const kekId = await deps.keyring.kek.addVersion();
  // Other processes notice the new version within a second (the key file's reload check); keys
  // they wrap before that are caught by the rewrap that follows.
  await sleep(options.settleMs ?? 2 * RELOAD_CHECK_MS);
  const rewrapped = await rewrapAll(deps, options);
  return { kekId, rewrapped };
}

/** Wraps again, with the current KEK version, every key still wrapped with an older one. */
export async function rewrapAll(deps: KeyDeps, options: RotationOptions = {}): Promise<number> {
  const current = deps.keyring.kek.currentId();
  const batch = options.batchSize ?? 500;
  const total =
    (await countOf(deps, 'data_keys', (qb) => qb.where('kek_id', '!=', current))) +
    (await countOf(deps, 'index_keys', (qb) => qb.where('kek_id', '!=', current))) +
    (await countOf(deps, 'mfa_factors', (qb) => qb.where('kek_id', '!=', current)));
  let done = 0;
  options.onProgress?.({ step: 'rewrap', done, total });
  for (;;) {
    const moved = await anyDb(deps)
      .transaction()
      .execute(async (trx) => {
        const rows = (await trx.selectFrom('data_keys').select(['subject_id', 'version', 'kek_id', 'wrapped']).where('kek_id', '!=', current).limit(batch).execute()) as {
          subject_id: string;
          version: number;
          kek_id: string;
          wrapped: string;
        }[];
        for (const row of rows) {
          const aad = dataKeyAad(row.subject_id, Number(row.version));
          const key = await deps.keyring.kek.unwrap(row.kek_id, Buffer.from(row.wrapped, 'base64'), aad);
          const { kekId, wrapped } = await deps.keyring.kek.wrap(key, aad);
          await trx
            .updateTable('data_keys')
            .set({ kek_id: kekId, wrapped: wrapped.toString('base64') })
            .where('subject_id', '=', row.subject_id)
            .where('version', '=', row.version)
            .where('kek_id', '=', row.kek_id)
            .execute();
        }
        return rows.length;
      });
    done += moved;
    options.onProgress?.({ step: 'rewrap', done, total });
    if (moved < batch) break;
    if (options.pauseMs) await sleep(options.pauseMs);
  }
  const indexRows = (await anyDb(deps).selectFrom('index_keys').select(['version', 'kek_id', 'wrapped']).where('kek_id', '!=', current).execute()) as { version: number; kek_id: string; wrapped: string }[];
  for (const row of indexRows) {
    const aad = indexKeyAad(Number(row.version));
    const key = await deps.keyring.kek.unwrap(row.kek_id, Buffer.from(row.wrapped, 'base64'), aad);
    const { kekId, wrapped } = await deps.keyring.kek.wrap(key, aad);
    await anyDb(deps).updateTable('index_keys').set({ kek_id: kekId, wrapped: wrapped.toString('base64') }).where('version', '=', row.version).where('kek_id', '=', row.kek_id).execute();
    done += 1;
  }
  // Authenticator app secrets, which the server must read back to check codes.
  const factorRows = (await anyDb(deps).selectFrom('mfa_factors').select(['id', 'kek_id', 'secret_wrapped']).where('kek_id', '!=', current).execute()) as { id: string; kek_id: string; secret_wrapped: string }[];
  for (const row of factorRows) {
    const aad = mfaSecretAad(row.id);
    const secret = await deps.keyring.kek.unwrap(row.kek_id, Buffer.from(row.secret_wrapped, 'base64'), aad);
    const { kekId, wrapped } = await deps.keyring.kek.wrap(secret, aad);
    await anyDb(deps).updateTable('mfa_factors').set({ kek_id: kekId, secret_wrapped: wrapped.toString('base64') }).where('id', '=', row.id).where('kek_id', '=', row.kek_id).execute();
    done += 1;
  }
  options.onProgress?.({ step: 'rewrap', done, total });
  return done;
}

/** Retires a KEK version that nothing uses any more; it can never unwrap again. */
export async function retireKek(deps: KeyDeps, kekId: string): Promise<void> {
  const version = deps.keyring.kek.versions().find((v) => v.id === kekId);
  if (!version) throw new AppError('keys.not_found', `No key version ${kekId.slice(0, 40)}`);
  if (version.state === 'active') throw new AppError('keys.in_use', `${kekId} is the current version; rotate first`);
  const inUse =
    (await countOf(deps, 'data_keys', (qb) => qb.where('kek_id', '=', kekId))) +
    (await countOf(deps, 'index_keys', (qb) => qb.where('kek_id', '=', kekId))) +
    (await countOf(deps, 'mfa_factors', (qb) => qb.where('kek_id', '=', kekId)));
  if (inUse > 0) throw new AppError('keys.in_use', `${inUse.toLocaleString('en-US')} keys are still wrapped with ${kekId}; run \`rampart keys rotate\` to finish rewrapping them first`);
  await deps.keyring.kek.retire(kekId);
}

/**
 * Gives every subject (each person and the organisation) a new data key version, seals every value
 * again under it, and destroys the old versions once nothing uses them. Three phases, each in
 * batches of short transactions:
 *
 * 1. a new version per subject; from its commit on, every write seals under it;
 * 2. after a pause longer than any request, every row still under an older version (the row's
 *    `key_version` says) is sealed again, until a pass finds none;
 * 3. after another pause, for readers holding rows read before, the old versions are deleted.
 *
 * Running it again after a crash continues: subjects that already have a version made since the
 * rotation began keep it, and the sweep finds what is left from the data.
 */
export async function rotateDataKeys(deps: KeyDeps, options: RotationOptions & { settleMs?: number } = {}): Promise<number> {
  const batch = options.batchSize ?? 200;
  const settle = options.settleMs ?? 2_000;
  const job = (await anyDb(deps).selectFrom('key_jobs').select(['state', 'position']).where('name', '=', 'rotate:data').executeTakeFirst()) as { state: string; position: string | null } | undefined;
  const startedAt = job && job.state !== 'done' && job.position ? job.position : deps.clock.now().toISOString();
  await anyDb(deps).deleteFrom('key_jobs').where('name', '=', 'rotate:data').execute();
  await anyDb(deps).insertInto('key_jobs').values({ name: 'rotate:data', state: 'running', position: startedAt, done: 0, updated_at: startedAt }).execute();

  const total = Number(((await anyDb(deps).selectFrom('data_keys').select((eb: any) => eb.fn.count('subject_id').distinct().as('n')).executeTakeFirst()) as { n: number }).n);
  let done = 0;
  let position = '';
  options.onProgress?.({ step: 'reseal', done, total });
  for (;;) {
    const subjects = (await anyDb(deps).selectFrom('data_keys').select('subject_id').distinct().where('subject_id', '>', position).orderBy('subject_id').limit(batch).execute()) as { subject_id: string }[];
    if (subjects.length === 0) break;
    const ids = subjects.map((s) => s.subject_id);
    await anyDb(deps)
      .transaction()
      .execute(async (trx) => {
        const fresh = (await trx.selectFrom('data_keys').select('subject_id').where('subject_id', 'in', ids).where('created_at', '>=', startedAt).execute()) as { subject_id: string }[];
        const skip = new Set(fresh.map((r) => r.subject_id));
        await addVersions({ ...deps, db: trx }, ids.filter((id) => !skip.has(id)));
      });
    position = ids.at(-1)!;
    done += ids.length;
    options.onProgress?.({ step: 'reseal', done: Math.floor(done / 2), total });
    if (options.pauseMs) await sleep(options.pauseMs);
  }

  await sleep(settle);
  let resealed = 0;
  for (let pass = 0; pass < 10; pass++) {
    const found = await sweepStaleRows(deps, batch, options.pauseMs ?? 0);
    resealed += found;
    if (found === 0) break;
  }
  await sleep(settle);
  if ((await sweepStaleRows(deps, batch, 0)) > 0) throw new AppError('keys.in_use', 'Values are still being written under old key versions; run the rotation again to finish it');
  // Old versions of subjects that have a newer one; no row uses them any more.
  await anyDb(deps)
    .deleteFrom('data_keys')
    .where('created_at', '<', startedAt)
    .where((eb: any) => eb.exists(eb.selectFrom('data_keys as newer').select('newer.version').whereRef('newer.subject_id', '=', 'data_keys.subject_id').where('newer.created_at', '>=', startedAt)))
    .execute();
  deps.keyring.forgetAll();
  await anyDb(deps).updateTable('key_jobs').set({ state: 'done', done: resealed, updated_at: deps.clock.now().toISOString() }).where('name', '=', 'rotate:data').execute();
  options.onProgress?.({ step: 'reseal', done: total, total });
  return total;
}

/**
 * Finds rows whose sealed values (or custom values) use an older key version than their subject's
 * newest, and seals them again. Answers how many rows it sealed.
 */
async function sweepStaleRows(deps: KeyDeps, batch: number, pauseMs: number): Promise<number> {
  let count = 0;
  for (const type of RECORD_TYPES) {
    const def = RECORD_TYPE_DEFS[type];
    const withSubject = hasSubjectColumn({ def, fields: def.fields, custom: [] });
    const newest = (eb: any) =>
      eb
        .selectFrom('data_keys')
        .select(eb.fn.max('version').as('v'))
        .where('subject_id', '=', withSubject ? eb.fn.coalesce('r.subject_id', eb.val(ORGANISATION)) : eb.val(ORGANISATION));
    let position = '';
    for (;;) {
      const moved = await inTransaction(deps, async (tx) => {
        const trx = anyDb(tx);
        const stale = (await trx
          .selectFrom(`${type} as r`)
          .select('r.id')
          .where('r.id', '>', position)
          .where((eb: any) =>
            eb.or([
              eb('r.key_version', '<', newest(eb)),
              eb.exists(eb.selectFrom('custom_values as cv').select('cv.record_id').whereRef('cv.record_id', '=', 'r.id').where('cv.key_version', '<', newest(eb))),
            ]),
          )
          .orderBy('r.id')
          .limit(batch)
          .execute()) as { id: string }[];
        if (stale.length === 0) return { n: 0, last: position };
        let qb = trx.selectFrom(type).selectAll().where('id', 'in', stale.map((r) => r.id));
        if (deps.dialect === 'postgres') qb = qb.forUpdate();
        await resealRows(tx, type, (await qb.execute()) as Record<string, unknown>[]);
        return { n: stale.length, last: stale.at(-1)!.id };
      });
      count += moved.n;
      position = moved.last;
      if (moved.n < batch) break;
      if (pauseMs) await sleep(pauseMs);
    }
  }
  return count;
}

/** Adds a data key version above the newest for each subject. */
async function addVersions(deps: KeyDeps, subjects: string[]): Promise<void> {
  const keys = await subjectKeys(deps, subjects, { fresh: true });
  const now = deps.clock.now().toISOString();
  for (const subjectId of subjects) {
    const state = keys.get(subjectId);
    if (!state || state === ERASED) continue;
    const version = state.current + 1;
    const key = deps.keyring.newKey();
    const { kekId, wrapped } = await deps.keyring.kek.wrap(key, dataKeyAad(subjectId, version));
    await anyDb(deps).insertInto('data_keys').values({ subject_id: subjectId, version, kek_id: kekId, wrapped: wrapped.toString('base64'), created_at: now }).execute();
    deps.keyring.remember(subjectId, { current: version, versions: new Map([...state.versions, [version, key]]) });
  }
}


/** Seals again, under the subject's newest key, every personal value of these rows sealed under an older one. */
async function resealRows(deps: KeyDeps, type: RecordType, rows: Record<string, unknown>[]): Promise<void> {
  if (rows.length === 0) return;
  const def = RECORD_TYPE_DEFS[type];
  const schema = { def, fields: def.fields, custom: await loadCustomFieldDefs(deps.db, type) };
  const withSubject = hasSubjectColumn(schema);
  const subjectOf = (row: Record<string, unknown>): string => (withSubject ? ((row.subject_id as string | null) ?? ORGANISATION) : ORGANISATION);
  const subjects = new Set(rows.map(subjectOf));
  const keys = await subjectKeys(deps, [...subjects].filter((s) => s !== ORGANISATION), { fresh: true });
  if (subjects.has(ORGANISATION)) keys.set(ORGANISATION, await organisationKeys(deps, { fresh: true }));
  const personal = personalFields(schema);
  const personalCustom = new Set(schema.custom.filter(isPersonal).map((f) => f.customFieldId!));
  const ids = rows.map((r) => String(r.id));
  const customRows = personalCustom.size === 0 ? [] : ((await anyDb(deps).selectFrom('custom_values').select(['record_id', 'field_id', 'value']).where('record_id', 'in', ids).execute()) as { record_id: string; field_id: string; value: string }[]);
  for (const row of rows) {
    const subject = subjectOf(row);
    const state = keys.get(subject);
    if (!state || state === ERASED) continue;
    const changes: Record<string, string | number> = {};
    for (const f of personal) {
      const stored = row[f.column!];
      const version = sealedVersion(stored);
      if (version === null || version === state.current) continue;
      const place = { table: type, column: f.column!, recordId: String(row.id), subjectId: subject };
      changes[f.column!] = sealValue(state, place, openValue(state, place, String(stored)));
    }
    if (Object.keys(changes).length > 0 || Number(row.key_version ?? 0) !== state.current) {
      await anyDb(deps).updateTable(type).set({ ...changes, key_version: state.current }).where('id', '=', String(row.id)).execute();
    }
  }
  const subjectById = new Map(rows.map((r) => [String(r.id), subjectOf(r)]));
  for (const cv of customRows) {
    if (!personalCustom.has(cv.field_id)) continue;
    const subject = subjectById.get(cv.record_id)!;
    const state = keys.get(subject);
    const version = sealedVersion(cv.value);
    if (!state || state === ERASED || version === null || version === state.current) continue;
    const place = { table: 'custom_values', column: cv.field_id, recordId: cv.record_id, subjectId: subject };
    await anyDb(deps)
      .updateTable('custom_values')
      .set({ value: sealValue(state, place, openValue(state, place, cv.value)), key_version: state.current })
      .where('record_id', '=', cv.record_id)
      .where('field_id', '=', cv.field_id)
      .execute();
  }
}

export interface KeyStatus {
  kek: { id: string; state: string; createdAt: string; dataKeys: number; indexKeys: number; mfaSecrets: number }[];
  dataKeyVersions: { version: number; subjects: number; records: number; customValues: number }[];
  indexKeys: { version: number; state: string; bits: number; createdAt: string }[];
  erasedSubjects: number;
  integrityEvents: number;
  pendingSealing: string[];
}

/** How much sits under each key version: what `rampart keys status` shows. */
export async function keyStatus(deps: KeyDeps): Promise<KeyStatus> {
  const byKek = (await anyDb(deps).selectFrom('data_keys').select((eb: any) => ['kek_id', eb.fn.countAll().as('n')]).groupBy('kek_id').execute()) as { kek_id: string; n: number }[];
  const indexRows = (await anyDb(deps).selectFrom('index_keys').select(['version', 'kek_id', 'state', 'bits', 'created_at']).orderBy('version').execute()) as {
    version: number;
    kek_id: string;
    state: string;
    bits: number;
    created_at: string;
  }[];
  const byVersion = (await anyDb(deps).selectFrom('data_keys').select((eb: any) => ['version', eb.fn.countAll().as('n')]).groupBy('version').orderBy('version').execute()) as { version: number; n: number }[];
  const mfaByKek = (await anyDb(deps).selectFrom('mfa_factors').select((eb: any) => ['kek_id', eb.fn.countAll().as('n')]).where('kek_id', 'is not', null).groupBy('kek_id').execute()) as { kek_id: string; n: number }[];
  const pending = (await anyDb(deps).selectFrom('key_jobs').select('name').where('state', '!=', 'done').execute()) as { name: string }[];
  return {
    kek: deps.keyring.kek.versions().map((v) => ({
      id: v.id,
      state: v.state,
      createdAt: v.createdAt,
      dataKeys: Number(byKek.find((r) => r.kek_id === v.id)?.n ?? 0),
      indexKeys: indexRows.filter((r) => r.kek_id === v.id).length,
      mfaSecrets: Number(mfaByKek.find((r) => r.kek_id === v.id)?.n ?? 0),
    })),
    dataKeyVersions: await Promise.all(
      byVersion.map(async (r) => ({
        version: Number(r.version),
        subjects: Number(r.n),
        records: (await Promise.all(RECORD_TYPES.map((type) => countOf(deps, type, (qb) => qb.where('key_version', '=', r.version))))).reduce((a, b) => a + b, 0),
        customValues: await countOf(deps, 'custom_values', (qb) => qb.where('key_version', '=', r.version)),
      })),
    ),
    indexKeys: indexRows.map((r) => ({ version: Number(r.version), state: r.state, bits: Number(r.bits), createdAt: r.created_at })),
    erasedSubjects: await countOf(deps, 'erasures'),
    integrityEvents: await countOf(deps, 'integrity_events'),
    pendingSealing: pending.map((p) => p.name),
  };
}

/**
 * Replaces the blind-index root key: a new key starts in the `building` state, from which moment
 * writes index under it and lookups try both; every record's blind indexes, personal custom value
 * indexes and search tokens are then made again under it, a batch per transaction; finally the
 * new key becomes active and the old one is retired. A record changed while its batch was being
 * rebuilt keeps what its own write indexed (under the new key). Resumable: the building key and
 * the position are kept.
 */
export async function rotateIndexKey(deps: KeyDeps, options: RotationOptions = {}): Promise<number> {
  const batch = options.batchSize ?? 200;
  const existing = (await anyDb(deps).selectFrom('index_keys').select('version').where('state', '=', 'building').executeTakeFirst()) as { version: number } | undefined;
  if (!existing) {
    await indexKeys(deps);
    await createIndexKey(deps, 'building');
  }
  const total = (await Promise.all(RECORD_TYPES.map((type) => countOf(deps, type)))).reduce((a, b) => a + b, 0);
  let done = 0;
  options.onProgress?.({ step: 'reindex', done, total });
  for (const type of RECORD_TYPES) {
    const def = RECORD_TYPE_DEFS[type];
    let position = '';
    for (;;) {
      const count = await anyDb(deps)
        .transaction()
        .execute(async (trx) => {
          const tx: KeyDeps = { ...deps, db: trx };
          const schema = { def, fields: def.fields, custom: await loadCustomFieldDefs(trx, type) };
          const rows = (await trx.selectFrom(type).selectAll().where('id', '>', position).orderBy('id').limit(batch).execute()) as Record<string, unknown>[];
          if (rows.length === 0) return 0;
          const index = (await indexKeys(tx)).writing;
          const stored = (await trx.selectFrom('custom_values').select(['record_id', 'field_id', 'value']).where('record_id', 'in', rows.map((r) => String(r.id))).execute()) as { record_id: string; field_id: string; value: string }[];
          const opened = rows.map((r) => ({ ...r }));
          const customRows = await openRows(tx, schema, opened, stored);
          for (const row of opened) {
            const set: Record<string, unknown> = {};
            for (const f of schema.fields) {
              if (!f.blindIndex || !f.column) continue;
              const value = row[f.column];
              set[`${f.column}_bidx`] = value === null || value === undefined ? null : blindOf(index, type, f.column, f.blindIndex, String(value), deps.keyring.callingCode);
            }
            // Only if nobody changed the record since it was read; a writer indexes under the new key itself.
            const updated = await trx
              .updateTable(type)
              .set(Object.keys(set).length > 0 ? set : { version: row.version })
              .where('id', '=', String(row.id))
              .where('version', '=', Number(row.version))
              .executeTakeFirst();
            if (Number(updated.numUpdatedRows) !== 1) continue;
            for (const cv of customRows.filter((c) => c.record_id === String(row.id))) {
              const f = schema.custom.find((c) => c.customFieldId === cv.field_id);
              if (!f || !isPersonal(f)) continue;
              await trx
                .updateTable('custom_values')
                .set({ blind: blindOf(index, 'custom_values', cv.field_id, f.blindIndex ?? 'text', cv.value, deps.keyring.callingCode) })
                .where('record_id', '=', cv.record_id)
                .where('field_id', '=', cv.field_id)
                .execute();
            }
            await reindexDocument(trx, deps.dialect, type, { recordId: String(row.id), terms: searchTerms(schema, row, index) });
          }
          position = String(rows.at(-1)!.id);
          return rows.length;
        });
      done += count;
      options.onProgress?.({ step: 'reindex', done, total });
      if (count < batch) break;
      if (options.pauseMs) await sleep(options.pauseMs);
    }
  }
  const building = (await anyDb(deps).selectFrom('index_keys').select('version').where('state', '=', 'building').executeTakeFirst()) as { version: number };
  await anyDb(deps)
    .transaction()
    .execute(async (trx) => {
      await trx.updateTable('index_keys').set({ state: 'retired' }).where('state', '=', 'active').execute();
      await trx.updateTable('index_keys').set({ state: 'active' }).where('version', '=', building.version).execute();
    });
  return done;
}
